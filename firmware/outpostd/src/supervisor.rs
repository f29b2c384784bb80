//! The supervisor's edge: runs one child (the office's pppd, or the
//! concentrator's dropbear) in a process group of its own, feeds what
//! happens to it (exit, pppd's link hooks, timers, reset, stop) into the
//! pure [`machine::Machine`], and carries out what the machine decides:
//! spawn, kill the whole group (pppd and its dbclient), install or remove
//! the tunnel routes, and print the console lines
//! `outpostd: tunnel up (vpn0 L -> R) after N.N s` and
//! `outpostd: tunnel down: REASON; retry in N.N s`. A server counts as
//! serving once its process is seen listening (`listening.rs`).

pub mod listening;
pub mod machine;
pub mod output;
pub mod roles;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{error, info, warn};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use outpost_core::plan::RoutePlan;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::apply::route_of;
use crate::netlink::Netlink;
use machine::{Action, Event, Exit, LinkInfo, Machine, Millis, Policy, Program, State};
pub use output::Output;

/// How long a killed child may take to go before its group gets SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// A started server is first looked at for a listening socket after this;
/// the gap doubles up to [`PROBE_MAX`] until it listens.
const PROBE_FIRST: Duration = Duration::from_millis(20);
/// The longest gap between two looks at a server that does not listen yet.
const PROBE_MAX: Duration = Duration::from_secs(1);

/// What the child is, which decides the console lines and the routes.
#[derive(Debug, Clone)]
pub enum Kind {
    /// The office's pppd: routes through the link while it is up.
    Tunnel {
        /// The plan's link routes.
        routes: Vec<RoutePlan>,
    },
    /// A server (the concentrator's dropbear, udhcpd) or a client
    /// (udhcpc): only kept running.
    Daemon {
        /// Its name on the console.
        name: String,
        /// Whether it serves on a TCP socket, which tells when it is
        /// `serving` (dropbear); udhcpc and udhcpd do not (UDP, raw).
        listens: bool,
    },
}

/// Work done before each start, off the event loop (it may block: a DNS
/// lookup): the argv to run, or why not to start now.
pub type Prepare = Arc<dyn Fn() -> Result<Vec<String>, String> + Send + Sync>;

/// What to supervise.
#[derive(Clone)]
pub struct Spec {
    /// The child's argv (`argv[0]` looked up in `PATH`).
    pub argv: Vec<String>,
    /// If set, run before each start; its argv replaces `argv`.
    pub prepare: Option<Prepare>,
    /// What it is.
    pub kind: Kind,
    /// Restart pacing.
    pub policy: Policy,
    /// Where the child's stdout and stderr go.
    pub output: Output,
}

/// A snapshot for `outpostd status`.
#[derive(Debug, Clone)]
pub struct Status {
    /// `idle`, `starting`, `running` (a program that does not listen on
    /// TCP, once spawned), `up` (a tunnel), `serving` (a listening server)
    /// or `backoff`.
    pub state: &'static str,
    /// When it entered that state.
    pub since: Instant,
    /// The link's addresses while up.
    pub link: Option<LinkInfo>,
    /// How it last went down, naming the program
    /// ([`machine::Program::down_words`]), or `reset`.
    pub last_down: Option<String>,
    /// How many times the child was started.
    pub starts: u64,
    /// The running child's pid.
    pub pid: Option<u32>,
}

impl Status {
    /// One line as of now, see [`Status::line_at`].
    pub fn line(&self) -> String {
        self.line_at(Instant::now(), None)
    }

    /// One line as of `now`: `up since 12.3 s ago (vpn0 10.254.0.2 ->
    /// 10.254.0.1), 1 start, pid 812`; a listening server, with the number
    /// of peers whose tunnel is up when that is known: `serving 3 peers,
    /// listening since 39.0 s ago, 1 start, pid 77`; then `, last down: …`
    /// once it went down.
    pub fn line_at(&self, now: Instant, peers_up: Option<usize>) -> String {
        let ago = now.saturating_duration_since(self.since).as_secs_f64();
        let mut s = match (self.state, peers_up) {
            ("serving", Some(n)) => format!(
                "serving {n} peer{}, listening since {ago:.1} s ago",
                if n == 1 { "" } else { "s" }
            ),
            ("serving", None) => format!("listening since {ago:.1} s ago"),
            (state, _) => format!("{state} since {ago:.1} s ago"),
        };
        if let Some(l) = &self.link {
            s.push_str(&format!(" ({} {} -> {})", l.ifname, l.local, l.remote));
        }
        s.push_str(&format!(
            ", {} start{}",
            self.starts,
            if self.starts == 1 { "" } else { "s" }
        ));
        if let Some(pid) = self.pid {
            s.push_str(&format!(", pid {pid}"));
        }
        if let Some(r) = &self.last_down {
            s.push_str(&format!(", last down: {r}"));
        }
        s
    }
}

/// A running supervisor: send it events, read its status, stop it.
pub struct Supervisor {
    tx: mpsc::UnboundedSender<Event>,
    status: Arc<Mutex<Status>>,
    task: JoinHandle<()>,
}

impl Supervisor {
    /// Starts supervising `spec` on the current tokio runtime; `nl` installs
    /// the tunnel's routes (without it, routes are only logged as missing).
    pub fn start(spec: Spec, nl: Option<Netlink>) -> Supervisor {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(Mutex::new(Status {
            state: "idle",
            since: Instant::now(),
            link: None,
            last_down: None,
            starts: 0,
            pid: None,
        }));
        let program = match &spec.kind {
            Kind::Tunnel { .. } => Program::Pppd,
            Kind::Daemon { name, .. } => Program::Server(name.clone()),
        };
        let edge = Edge {
            machine: Machine::new(spec.policy, program),
            spec,
            nl,
            epoch: Instant::now(),
            child: None,
            kill_deadline: None,
            probe: None,
            status: status.clone(),
            random: RandomState::new(),
            counter: 0,
        };
        let task = tokio::spawn(edge.run(rx));
        // The channel is fresh and its receiver alive in the task.
        let _ = tx.send(Event::Start);
        Supervisor { tx, status, task }
    }

    /// Feeds an event (pppd's hooks, [`Event::Reset`]).
    pub fn send(&self, event: Event) {
        if self.tx.send(event).is_err() {
            warn!("supervisor already stopped");
        }
    }

    /// A sender for events, for a hook listener that outlives a borrow.
    pub fn events(&self) -> mpsc::UnboundedSender<Event> {
        self.tx.clone()
    }

    /// The current status.
    pub fn status(&self) -> Option<Status> {
        self.status.lock().ok().map(|s| s.clone())
    }

    /// Stops: kills the child's group, reaps it, removes the routes.
    pub async fn stop(self) {
        let _ = self.tx.send(Event::Stop);
        if let Err(e) = self.task.await {
            error!("supervisor task: {e}");
        }
    }
}

struct Edge {
    machine: Machine,
    spec: Spec,
    nl: Option<Netlink>,
    epoch: Instant,
    child: Option<Child>,
    kill_deadline: Option<tokio::time::Instant>,
    /// When to look next whether the server listens, and the gap used.
    probe: Option<(tokio::time::Instant, Duration)>,
    status: Arc<Mutex<Status>>,
    random: RandomState,
    counter: u64,
}

async fn wait(child: &mut Option<Child>) -> std::io::Result<std::process::ExitStatus> {
    match child {
        Some(c) => c.wait().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn exit_of(status: std::io::Result<std::process::ExitStatus>) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Code(-1),
        },
        Err(_) => Exit::Code(-1),
    }
}

impl Edge {
    fn now(&self) -> Millis {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn random(&mut self) -> u32 {
        self.counter += 1;
        // Truncation is the point: any 32 bits of a keyed hash will do.
        self.random.hash_one(self.counter) as u32
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Event>) {
        let mut stopping = false;
        loop {
            let deadline = self
                .machine
                .deadline()
                .map(|d| tokio::time::Instant::from_std(self.epoch + Duration::from_millis(d)));
            let event = tokio::select! {
                ev = rx.recv(), if !stopping => match ev {
                    Some(Event::Stop) | None => { stopping = true; Event::Stop }
                    Some(e) => e,
                },
                st = wait(&mut self.child) => {
                    let pid = self.child.take().and_then(|c| c.id());
                    self.kill_deadline = None;
                    self.probe = None;
                    self.sweep_group(pid);
                    Event::Exited(exit_of(st))
                }
                _ = sleep_until(deadline) => Event::Timer,
                _ = sleep_until(self.kill_deadline) => {
                    self.kill_deadline = None;
                    self.signal_group(Signal::SIGKILL);
                    continue;
                }
                _ = sleep_until(self.probe.map(|(at, _)| at)) => {
                    if !self.listening() {
                        continue;
                    }
                    Event::Listening
                }
            };
            self.feed(event).await;
            if stopping && self.child.is_none() && *self.machine.state() == State::Idle {
                break;
            }
        }
    }

    async fn feed(&mut self, event: Event) {
        let mut queue = vec![event];
        while let Some(event) = queue.pop() {
            let now = self.now();
            let random = self.random();
            for action in self.machine.on(now, event, random) {
                if let Some(follow) = self.act(action).await {
                    queue.push(follow);
                }
            }
        }
        self.publish();
    }

    fn publish(&self) {
        let Ok(mut s) = self.status.lock() else {
            return;
        };
        let (name, link) = match self.machine.state() {
            State::Idle => ("idle", None),
            // A client or a UDP server has no moment it starts serving:
            // once spawned, it runs.
            State::Starting { .. }
                if matches!(self.spec.kind, Kind::Daemon { listens: false, .. }) =>
            {
                ("running", None)
            }
            State::Starting { .. } => ("starting", None),
            State::Up { link, .. } => ("up", Some(link.clone())),
            State::Serving { .. } => ("serving", None),
            State::Backoff { .. } => ("backoff", None),
        };
        if s.state != name {
            s.since = Instant::now();
        }
        s.state = name;
        s.link = link;
        s.last_down = self.machine.last_down().map(str::to_string);
        s.starts = self.machine.starts();
        s.pid = self.child.as_ref().and_then(Child::id);
    }

    fn name(&self) -> &str {
        self.machine.program().name()
    }

    /// Looks whether the server listens yet; schedules the next look if not.
    fn listening(&mut self) -> bool {
        let Some((_, gap)) = self.probe else {
            return false;
        };
        let pid = self.child.as_ref().and_then(Child::id);
        if pid.is_some_and(listening::is_listening) {
            self.probe = None;
            return true;
        }
        let gap = (gap * 2).min(PROBE_MAX);
        self.probe = Some((tokio::time::Instant::now() + gap, gap));
        false
    }

    /// Carries out one action; a failed spawn comes back as the event it means.
    async fn act(&mut self, action: Action) -> Option<Event> {
        match action {
            Action::Spawn => match self.prepared().await {
                Err(reason) => {
                    error!("{}", reason);
                    Some(Event::SpawnRefused(reason))
                }
                Ok(argv) => match self.spawn(&argv) {
                    Ok(child) => {
                        self.child = Some(child);
                        if let Kind::Daemon { listens: true, .. } = self.spec.kind {
                            self.probe =
                                Some((tokio::time::Instant::now() + PROBE_FIRST, PROBE_FIRST));
                        }
                        None
                    }
                    Err(e) => {
                        error!("cannot start {}: {e}", self.name());
                        Some(Event::Exited(Exit::SpawnFailed))
                    }
                },
            },
            Action::Kill => {
                self.probe = None;
                self.signal_group(Signal::SIGTERM);
                self.kill_deadline = Some(tokio::time::Instant::now() + KILL_GRACE);
                None
            }
            Action::InstallRoutes => {
                self.routes(true).await;
                None
            }
            Action::RemoveRoutes => {
                self.routes(false).await;
                None
            }
            Action::AnnounceUp { link, after } => {
                info!("{}", up_line(&link, after));
                None
            }
            Action::AnnounceDown { reason, retry_in } => {
                match &self.spec.kind {
                    Kind::Tunnel { .. } => info!("{}", down_line(&reason, retry_in)),
                    Kind::Daemon { .. } => {
                        warn!("{reason}; restart in {:.1} s", retry_in as f64 / 1000.0)
                    }
                }
                None
            }
        }
    }

    /// The argv for this start: the spec's, or what its `prepare` makes
    /// of it (on a blocking thread: a DNS lookup must not stall the agent).
    async fn prepared(&self) -> Result<Vec<String>, String> {
        let Some(prepare) = self.spec.prepare.clone() else {
            return Ok(self.spec.argv.clone());
        };
        match tokio::task::spawn_blocking(move || prepare()).await {
            Ok(r) => r,
            Err(e) => Err(format!("preparing {}: {e}", self.name())),
        }
    }

    fn spawn(&self, argv: &[String]) -> std::io::Result<Child> {
        let Some((prog, args)) = argv.split_first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "empty command line",
            ));
        };
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .stdin(Stdio::null())
            // Its own group: one killpg reaches pppd, its sh and dbclient.
            .process_group(0)
            .kill_on_drop(false);
        let pipe_or_null = || match self.spec.output {
            Output::Log => Stdio::piped(),
            Output::Discard => Stdio::null(),
        };
        cmd.stdout(pipe_or_null()).stderr(pipe_or_null());
        let mut child = cmd.spawn()?;
        if let Some(out) = child.stdout.take() {
            output::forward(self.name().to_string(), out);
        }
        if let Some(err) = child.stderr.take() {
            output::forward(self.name().to_string(), err);
        }
        Ok(child)
    }

    fn signal_group(&self, sig: Signal) {
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            let _ = killpg(Pid::from_raw(pid as i32), sig);
        }
    }

    /// After the leader exited: nothing of its group may outlive it (a
    /// dbclient whose pppd died would otherwise hold the session open).
    fn sweep_group(&self, pid: Option<u32>) {
        if let Some(pid) = pid {
            // ESRCH (nothing left) is the usual, good outcome.
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }

    async fn routes(&self, install: bool) {
        let Kind::Tunnel { routes } = &self.spec.kind else {
            return;
        };
        install_routes(self.nl.as_ref(), routes, install).await;
    }
}

/// Installs (or removes) `routes`, logging each failure; used for the
/// office's tunnel and the concentrator's peers alike.
pub async fn install_routes(nl: Option<&Netlink>, routes: &[RoutePlan], install: bool) {
    let Some(nl) = nl else {
        if !routes.is_empty() {
            error!("no netlink: tunnel routes not changed");
        }
        return;
    };
    for r in routes {
        let route = route_of(r);
        let done = if install {
            nl.add_route(&route).await
        } else {
            nl.del_route(&route).await
        };
        match done {
            Ok(_) if install => info!(
                "route {} dev {} installed",
                r.dst,
                r.dev.as_deref().unwrap_or("-")
            ),
            Ok(_) => info!("route {} removed", r.dst),
            Err(e) => error!("{e}"),
        }
    }
}

/// The console line when the tunnel comes up (without the `outpostd: ` prefix).
pub fn up_line(link: &LinkInfo, after: Millis) -> String {
    format!(
        "tunnel up ({} {} -> {}) after {:.1} s",
        link.ifname,
        link.local,
        link.remote,
        after as f64 / 1000.0
    )
}

/// The console line when the tunnel goes down (without the prefix).
pub fn down_line(reason: &str, retry_in: Millis) -> String {
    format!(
        "tunnel down: {reason}; retry in {:.1} s",
        retry_in as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_childs_output_lines_reach_the_log_ring() {
        crate::logger::init(log::LevelFilter::Info);
        let spec = Spec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "echo Connect: vpn0; echo 'dbclient: refused' >&2; printf partial; sleep 1000"
                    .into(),
            ],
            prepare: None,
            kind: Kind::Daemon {
                name: "pppd".into(),
                listens: false,
            },
            policy: Policy::DEFAULT,
            output: Output::Log,
        };
        let sup = Supervisor::start(spec, None);
        let want = [
            "outpostd: pppd: Connect: vpn0",
            "outpostd: pppd: dbclient: refused",
        ];
        let deadline = Instant::now() + Duration::from_secs(10);
        while !want
            .iter()
            .all(|w| crate::logger::recent().iter().any(|l| l == w))
        {
            assert!(Instant::now() < deadline, "{:?}", crate::logger::recent());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sup.stop().await;
        // The unfinished line comes out once the pipe closes.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !crate::logger::recent()
            .iter()
            .any(|l| l == "outpostd: pppd: partial")
        {
            assert!(Instant::now() < deadline, "{:?}", crate::logger::recent());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[test]
    fn console_lines_are_exact() {
        let link = LinkInfo {
            ifname: "vpn0".into(),
            local: "10.254.0.2".parse().unwrap(),
            remote: "10.254.0.1".parse().unwrap(),
        };
        assert_eq!(
            format!("outpostd: {}", up_line(&link, 4_250)),
            "outpostd: tunnel up (vpn0 10.254.0.2 -> 10.254.0.1) after 4.2 s"
        );
        assert_eq!(
            format!(
                "outpostd: {}",
                down_line("peer not responding (LCP echo)", 1_830)
            ),
            "outpostd: tunnel down: peer not responding (LCP echo); retry in 1.8 s"
        );
    }

    fn status(state: &'static str, ago: Duration, last_down: Option<&str>) -> (Status, Instant) {
        let now = Instant::now();
        let s = Status {
            state,
            since: now.checked_sub(ago).unwrap_or(now),
            link: None,
            last_down: last_down.map(str::to_string),
            starts: 1,
            pid: Some(77),
        };
        (s, now)
    }

    #[test]
    fn a_listening_dropbear_is_serving_its_peers_not_starting() {
        let (s, now) = status("serving", Duration::from_secs(39), None);
        assert_eq!(
            s.line_at(now, Some(0)),
            "serving 0 peers, listening since 39.0 s ago, 1 start, pid 77"
        );
        assert_eq!(
            s.line_at(now, Some(1)),
            "serving 1 peer, listening since 39.0 s ago, 1 start, pid 77"
        );
        assert_eq!(
            s.line_at(now, Some(3)),
            "serving 3 peers, listening since 39.0 s ago, 1 start, pid 77"
        );
        assert_eq!(
            s.line_at(now, None),
            "listening since 39.0 s ago, 1 start, pid 77"
        );
        // Not listening yet: starting, whatever the peers.
        let (s, now) = status("starting", Duration::from_millis(200), None);
        assert_eq!(
            s.line_at(now, Some(0)),
            "starting since 0.2 s ago, 1 start, pid 77"
        );
    }

    #[test]
    fn status_names_the_program_that_went_down() {
        let dropbear = Program::Server("dropbear".into());
        let (s, now) = status(
            "serving",
            Duration::from_secs(5),
            Some(&dropbear.down_words(Exit::Code(1))),
        );
        assert_eq!(
            format!("dropbear: {}", s.line_at(now, Some(3))),
            "dropbear: serving 3 peers, listening since 5.0 s ago, 1 start, pid 77, \
             last down: dropbear exited with status 1"
        );
        let (s, now) = status(
            "backoff",
            Duration::from_millis(1_500),
            Some(&Program::Pppd.down_words(Exit::Code(16))),
        );
        assert_eq!(
            format!("tunnel: {}", s.line_at(now, None)),
            "tunnel: backoff since 1.5 s ago, 1 start, pid 77, \
             last down: pppd exited with status 16 (ssh connection closed)"
        );
    }
}
