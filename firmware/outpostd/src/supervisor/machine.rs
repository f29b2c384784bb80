//! The supervisor's decisions, as a pure state machine: which state the
//! tunnel (or the server) is in (Idle, Starting, Up, Serving, Backoff), what
//! each event (child spawned or exited, link up or down from pppd's hooks,
//! the server seen listening, a timer, reset, stop) changes, what the edge
//! must do about it, and how the child's exits are worded. Time is passed in as
//! milliseconds and randomness as a number, so tests drive it with a fake
//! clock; the edge (`supervisor.rs`) only spawns, kills, installs routes
//! and prints.

use std::net::Ipv4Addr;

/// Milliseconds on some monotonic clock.
pub type Millis = u64;

/// How restarts are paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The delay before the first retry after a failure.
    pub initial: Millis,
    /// The delay never exceeds this.
    pub max: Millis,
    /// A link that stayed up at least this long counts as healthy: the
    /// next retry starts from `initial` again.
    pub stable: Millis,
    /// The delay is drawn from `[base * (100 - jitter_percent) / 100, base]`
    /// so that many offices cut off together do not return in lockstep.
    pub jitter_percent: u8,
}

impl Policy {
    /// What a router uses: retry after about 1 s, doubling up to a minute;
    /// 30 s up resets the count.
    pub const DEFAULT: Policy = Policy {
        initial: 1_000,
        max: 60_000,
        stable: 30_000,
        jitter_percent: 25,
    };

    /// The un-jittered delay after `failures` consecutive failures
    /// (`failures` >= 1): `initial * 2^(failures-1)`, capped at `max`.
    pub fn base_delay(&self, failures: u32) -> Millis {
        let shift = failures.saturating_sub(1).min(32);
        self.initial
            .checked_shl(shift)
            .map_or(self.max, |d| d.min(self.max))
            .max(self.initial.min(self.max))
    }

    /// The delay after `failures` failures, with jitter drawn from `random`.
    pub fn delay(&self, failures: u32, random: u32) -> Millis {
        let base = self.base_delay(failures);
        let spread = base * u64::from(self.jitter_percent.min(100)) / 100;
        base - spread + u64::from(random) % (spread + 1)
    }
}

/// What pppd reported when the link came up (from its ip-up hook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The ppp interface, e.g. `vpn0`.
    pub ifname: String,
    /// Our address on the link.
    pub local: Ipv4Addr,
    /// The peer's address.
    pub remote: Ipv4Addr,
}

/// How the child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// It could not be started at all.
    SpawnFailed,
}

impl Exit {
    /// How any program ended, in words: `exited with status 1`, `killed by
    /// signal 9 (SIGKILL)`, `could not be started`.
    pub fn describe(self) -> String {
        match self {
            Exit::Code(c) => format!("exited with status {c}"),
            Exit::Signal(s) => match nix::sys::signal::Signal::try_from(s) {
                Ok(sig) => format!("killed by signal {s} ({})", sig.as_str()),
                Err(_) => format!("killed by signal {s}"),
            },
            Exit::SpawnFailed => "could not be started".to_string(),
        }
    }
}

/// What pppd's exit status means (pppd(8), EXIT STATUS), in the tunnel's
/// terms: its pty command is ssh, so "the modem hung up" is ssh's
/// connection closing. The flag: a problem of pppd itself (said as
/// `pppd: …`), not of the link.
pub fn pppd_meaning(code: i32) -> Option<(&'static str, bool)> {
    Some(match code {
        0 => ("link ended at the peer's request", true),
        1 => ("fatal error", true),
        2 => ("bad options", true),
        3 => ("not setuid root", true),
        4 => ("no PPP support in the kernel", true),
        5 => ("stopped by a signal", true),
        6 => ("serial port could not be locked", true),
        7 => ("serial port could not be opened", true),
        8 | 9 => ("ssh (pty command) failed", false),
        10 => ("PPP negotiation failed", false),
        11 => ("the peer failed PPP authentication", false),
        12 => ("link idle too long", false),
        13 => ("connect time limit reached", false),
        14 => ("callback negotiated", false),
        15 => ("peer not responding (LCP echo)", false),
        16 => ("ssh connection closed", false),
        17 => ("loopback detected", false),
        18 => ("init script failed", true),
        19 => ("PPP authentication to the peer failed", false),
        _ => return None,
    })
}

/// The supervised program, which decides how its exits are worded: pppd's
/// exit statuses have meanings, any other program's is said as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// The office's pppd (the tunnel).
    Pppd,
    /// A server kept running (the concentrator's dropbear), by name.
    Server(String),
}

impl Program {
    /// Its name on the console and in `outpostd status`.
    pub fn name(&self) -> &str {
        match self {
            Program::Pppd => "pppd",
            Program::Server(name) => name,
        }
    }

    /// Why it ended, for the console's `tunnel down: REASON` (pppd) or
    /// `REASON; restart in …` (a server).
    pub fn exit_reason(&self, exit: Exit) -> String {
        match (self, exit) {
            (Program::Pppd, Exit::Code(c)) => match pppd_meaning(c) {
                Some((m, true)) => format!("pppd: {m}"),
                Some((m, false)) => m.to_string(),
                None => format!("pppd {}", exit.describe()),
            },
            _ => format!("{} {}", self.name(), exit.describe()),
        }
    }

    /// How it last went down, for `outpostd status`: the program named,
    /// its exit status said, and for pppd what the status means.
    pub fn down_words(&self, exit: Exit) -> String {
        match (self, exit) {
            (Program::Pppd, Exit::Code(c)) => match pppd_meaning(c) {
                Some((m, _)) => format!("pppd {} ({m})", exit.describe()),
                None => format!("pppd {}", exit.describe()),
            },
            _ => format!("{} {}", self.name(), exit.describe()),
        }
    }
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Begin supervising.
    Start,
    /// pppd's ip-up hook: the link is up with these addresses.
    LinkUp(LinkInfo),
    /// pppd's ip-down hook: the link went down (pppd may still run).
    LinkDown,
    /// A server's process listens (the edge saw its listening socket).
    Listening,
    /// The child is gone (already reaped by the edge).
    Exited(Exit),
    /// The deadline from [`Machine::deadline`] passed.
    Timer,
    /// Restart the tunnel now (SIGHUP, `outpostd reset`).
    Reset,
    /// The child's work was refused (a DHCP lease that makes no sense, no
    /// server answering): kill it and retry after the backoff, as after a
    /// failure, saying this reason instead of how it exited.
    Refuse(String),
    /// The child could not be started for this reason (the concentrator's
    /// name did not resolve, or resolved onto a tunnel network): retried
    /// after the backoff like a failed start, saying why.
    SpawnRefused(String),
    /// Stop supervising: kill, remove routes, stay idle.
    Stop,
}

/// Where the tunnel stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not supervising (before start, after stop).
    Idle,
    /// pppd is running, the link is not up (yet, or any more).
    Starting {
        /// When this pppd was started.
        since: Millis,
    },
    /// The link is up and its routes are installed.
    Up {
        /// When it came up.
        since: Millis,
        /// The addresses pppd reported.
        link: LinkInfo,
    },
    /// A server is listening (its process holds a listening socket).
    Serving {
        /// Since when.
        since: Millis,
    },
    /// Waiting before the next attempt.
    Backoff {
        /// When to try again.
        until: Millis,
    },
}

/// What the edge must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start pppd (in a process group of its own).
    Spawn,
    /// Signal pppd's process group; an [`Event::Exited`] follows.
    Kill,
    /// Install the link routes.
    InstallRoutes,
    /// Remove the link routes.
    RemoveRoutes,
    /// Tell the console the tunnel is up; `after` ms since the supervisor
    /// began trying (boot, or the moment the tunnel went down).
    AnnounceUp {
        /// The link's addresses.
        link: LinkInfo,
        /// How long it took.
        after: Millis,
    },
    /// Tell the console the child is down and when it is retried.
    AnnounceDown {
        /// Why, in the program's terms ([`Program::exit_reason`]).
        reason: String,
        /// In how many ms the next attempt starts.
        retry_in: Millis,
    },
}

/// What to do once the running child has exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterExit {
    /// Count a failure and back off.
    Backoff,
    /// Spawn again at once (reset).
    Restart,
    /// Stay idle (stop).
    Idle,
}

/// The supervisor's memory.
#[derive(Debug, Clone)]
pub struct Machine {
    policy: Policy,
    program: Program,
    state: State,
    child: bool,
    after_exit: AfterExit,
    failures: u32,
    trying_since: Millis,
    last_down: Option<String>,
    restarts: u64,
    /// Why the running child is being killed ([`Event::Refuse`]).
    refused: Option<String>,
}

impl Machine {
    /// An idle machine supervising `program` with `policy`.
    pub fn new(policy: Policy, program: Program) -> Machine {
        Machine {
            policy,
            program,
            state: State::Idle,
            child: false,
            after_exit: AfterExit::Backoff,
            failures: 0,
            trying_since: 0,
            last_down: None,
            restarts: 0,
            refused: None,
        }
    }

    /// What it supervises.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The current state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Whether a child is running (spawned and not yet seen to exit).
    pub fn child_running(&self) -> bool {
        self.child
    }

    /// Consecutive failures since the link was last up for long enough.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// How many times the child was started.
    pub fn starts(&self) -> u64 {
        self.restarts
    }

    /// How the child last went down ([`Program::down_words`], or `reset`).
    pub fn last_down(&self) -> Option<&str> {
        self.last_down.as_deref()
    }

    /// When the edge must deliver [`Event::Timer`], if at all.
    pub fn deadline(&self) -> Option<Millis> {
        match self.state {
            State::Backoff { until } => Some(until),
            _ => None,
        }
    }

    fn spawn(&mut self, now: Millis, out: &mut Vec<Action>) {
        self.child = true;
        self.after_exit = AfterExit::Backoff;
        self.refused = None;
        self.restarts += 1;
        self.state = State::Starting { since: now };
        out.push(Action::Spawn);
    }

    /// Feeds one event at time `now`; `random` is fresh randomness for
    /// jitter. Returns what the edge must do, in order.
    pub fn on(&mut self, now: Millis, event: Event, random: u32) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => {
                if self.state == State::Idle && !self.child {
                    self.trying_since = now;
                    self.spawn(now, &mut out);
                }
            }
            Event::LinkUp(link) => {
                if let State::Starting { .. } = self.state {
                    out.push(Action::InstallRoutes);
                    out.push(Action::AnnounceUp {
                        link: link.clone(),
                        after: now.saturating_sub(self.trying_since),
                    });
                    self.state = State::Up { since: now, link };
                }
            }
            Event::LinkDown => {
                if let State::Up { since, .. } = self.state {
                    out.push(Action::RemoveRoutes);
                    self.note_up_period(now, since);
                    self.trying_since = now;
                    self.state = State::Starting { since: now };
                }
            }
            Event::Listening => {
                let server = matches!(self.program, Program::Server(_));
                if server && self.child && matches!(self.state, State::Starting { .. }) {
                    self.state = State::Serving { since: now };
                }
            }
            Event::Exited(exit) => {
                if !self.child {
                    return out;
                }
                self.child = false;
                match self.state {
                    State::Up { since, .. } => {
                        out.push(Action::RemoveRoutes);
                        self.note_up_period(now, since);
                        self.trying_since = now;
                    }
                    State::Serving { since } => {
                        self.note_up_period(now, since);
                        self.trying_since = now;
                    }
                    _ => {}
                }
                match self.after_exit {
                    AfterExit::Idle => self.state = State::Idle,
                    AfterExit::Restart => self.spawn(now, &mut out),
                    AfterExit::Backoff => {
                        self.failures = self.failures.saturating_add(1);
                        let retry_in = self.policy.delay(self.failures, random);
                        let (words, reason) = match self.refused.take() {
                            Some(r) => (r.clone(), r),
                            None => (
                                self.program.down_words(exit),
                                self.program.exit_reason(exit),
                            ),
                        };
                        self.last_down = Some(words);
                        out.push(Action::AnnounceDown { reason, retry_in });
                        self.state = State::Backoff {
                            until: now.saturating_add(retry_in),
                        };
                    }
                }
            }
            Event::Timer => {
                if let State::Backoff { until } = self.state {
                    if now >= until && !self.child {
                        self.spawn(now, &mut out);
                    }
                }
            }
            Event::Reset => {
                self.failures = 0;
                self.last_down = Some("reset".into());
                if self.child {
                    match self.state {
                        State::Up { since, .. } => {
                            out.push(Action::RemoveRoutes);
                            self.note_up_period(now, since);
                            self.state = State::Starting { since: now };
                        }
                        State::Serving { since } => {
                            self.note_up_period(now, since);
                            self.state = State::Starting { since: now };
                        }
                        _ => {}
                    }
                    self.trying_since = now;
                    self.after_exit = AfterExit::Restart;
                    out.push(Action::Kill);
                } else {
                    self.trying_since = now;
                    self.spawn(now, &mut out);
                }
            }
            Event::Refuse(reason) => {
                if self.child && self.after_exit == AfterExit::Backoff {
                    if self.refused.is_none() {
                        out.push(Action::Kill);
                    }
                    self.refused = Some(reason);
                }
            }
            Event::SpawnRefused(reason) => {
                if self.child {
                    self.refused = Some(reason);
                    return self.on(now, Event::Exited(Exit::SpawnFailed), random);
                }
            }
            Event::Stop => {
                if let State::Up { .. } = self.state {
                    out.push(Action::RemoveRoutes);
                }
                if self.child {
                    self.after_exit = AfterExit::Idle;
                    out.push(Action::Kill);
                    self.state = State::Starting { since: now };
                } else {
                    self.state = State::Idle;
                }
            }
        }
        out
    }

    /// A link that stayed up (or a server that served) long enough wipes
    /// the failure count.
    fn note_up_period(&mut self, now: Millis, since: Millis) {
        if now.saturating_sub(since) >= self.policy.stable {
            self.failures = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> LinkInfo {
        LinkInfo {
            ifname: "vpn0".into(),
            local: Ipv4Addr::new(10, 254, 0, 2),
            remote: Ipv4Addr::new(10, 254, 0, 1),
        }
    }

    const P: Policy = Policy::DEFAULT;

    #[test]
    fn a_refusal_kills_the_child_and_backs_off_with_its_reason() {
        let mut m = Machine::new(P, Program::Server("udhcpc".into()));
        m.on(0, Event::Start, 0);
        assert_eq!(
            m.on(100, Event::Refuse("lease refused: a zero lease".into()), 0),
            [Action::Kill]
        );
        // A second refusal before the exit kills nothing more.
        assert_eq!(
            m.on(110, Event::Refuse("lease refused: a zero lease".into()), 0),
            []
        );
        let acts = m.on(150, Event::Exited(Exit::Signal(15)), 0);
        assert_eq!(
            acts,
            [Action::AnnounceDown {
                reason: "lease refused: a zero lease".into(),
                retry_in: 750
            }]
        );
        assert_eq!(m.last_down(), Some("lease refused: a zero lease"));
        assert_eq!(m.failures(), 1);
        assert_eq!(m.on(900, Event::Timer, 0), [Action::Spawn]);
        // The next exit is worded as itself again.
        let acts = m.on(1_000, Event::Exited(Exit::Code(1)), 0);
        assert!(
            matches!(&acts[..], [Action::AnnounceDown { reason, .. }] if reason == "udhcpc exited with status 1"),
            "{acts:?}"
        );
        // Nothing to refuse while no child runs.
        assert_eq!(m.on(1_100, Event::Refuse("x".into()), 0), []);
    }

    #[test]
    fn a_start_refused_backs_off_saying_why() {
        let mut m = Machine::new(P, Program::Pppd);
        m.on(0, Event::Start, 0);
        let acts = m.on(
            5,
            Event::SpawnRefused("vpn.example.com does not resolve".into()),
            0,
        );
        assert_eq!(
            acts,
            [Action::AnnounceDown {
                reason: "vpn.example.com does not resolve".into(),
                retry_in: 750
            }]
        );
        assert!(matches!(m.state(), State::Backoff { .. }));
        assert_eq!(m.last_down(), Some("vpn.example.com does not resolve"));
        assert_eq!(m.on(800, Event::Timer, 0), [Action::Spawn]);
    }

    #[test]
    fn base_delay_doubles_and_caps() {
        let got: Vec<Millis> = (1..=9).map(|f| P.base_delay(f)).collect();
        assert_eq!(
            got,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        assert_eq!(P.base_delay(u32::MAX), 60_000);
        assert_eq!(P.base_delay(64), 60_000);
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_varies() {
        for failures in 1..40 {
            let base = P.base_delay(failures);
            let mut seen = std::collections::BTreeSet::new();
            for r in (0..10_000u32).map(|i| i.wrapping_mul(2_654_435_761)) {
                let d = P.delay(failures, r);
                assert!(d <= base && d >= base * 3 / 4, "{failures}: {d} vs {base}");
                seen.insert(d);
            }
            assert!(seen.len() > 10, "jitter does not vary: {seen:?}");
        }
        let exact = Policy {
            jitter_percent: 0,
            ..P
        };
        assert_eq!(exact.delay(3, 12345), 4_000);
    }

    #[test]
    fn a_good_run_starts_comes_up_and_installs_routes() {
        let mut m = Machine::new(P, Program::Pppd);
        assert_eq!(m.on(0, Event::Start, 0), [Action::Spawn]);
        assert_eq!(m.state(), &State::Starting { since: 0 });
        assert_eq!(
            m.on(4_200, Event::LinkUp(link()), 0),
            [
                Action::InstallRoutes,
                Action::AnnounceUp {
                    link: link(),
                    after: 4_200
                }
            ]
        );
        assert!(matches!(m.state(), State::Up { since: 4_200, .. }));
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn exits_back_off_exponentially_until_the_cap() {
        let exact = Policy {
            jitter_percent: 0,
            ..P
        };
        let mut m = Machine::new(exact, Program::Pppd);
        let mut now = 0;
        m.on(now, Event::Start, 0);
        let mut delays = Vec::new();
        for _ in 0..9 {
            now += 100;
            let acts = m.on(now, Event::Exited(Exit::Code(16)), 7);
            let Some(Action::AnnounceDown {
                retry_in, reason, ..
            }) = acts.first()
            else {
                panic!("{acts:?}")
            };
            assert_eq!(reason, "ssh connection closed");
            delays.push(*retry_in);
            assert_eq!(m.deadline(), Some(now + retry_in));
            // Early timers do nothing.
            assert_eq!(m.on(now + retry_in - 1, Event::Timer, 0), []);
            now += retry_in;
            assert_eq!(m.on(now, Event::Timer, 0), [Action::Spawn]);
        }
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        assert_eq!(m.starts(), 10);
    }

    #[test]
    fn a_stable_period_resets_the_backoff_but_a_short_one_does_not() {
        let exact = Policy {
            jitter_percent: 0,
            ..P
        };
        let mut m = Machine::new(exact, Program::Pppd);
        m.on(0, Event::Start, 0);
        for i in 0..4 {
            m.on(10 + i, Event::Exited(Exit::Code(15)), 0);
            let until = m.deadline().unwrap();
            m.on(until, Event::Timer, 0);
        }
        assert_eq!(m.failures(), 4);
        let t = 200_000;
        m.on(t, Event::LinkUp(link()), 0);
        // Up briefly: still counts as failing.
        let acts = m.on(t + 5_000, Event::Exited(Exit::Code(15)), 0);
        assert_eq!(acts[0], Action::RemoveRoutes);
        assert_eq!(
            acts[1],
            Action::AnnounceDown {
                reason: "peer not responding (LCP echo)".into(),
                retry_in: 16_000
            }
        );
        let until = m.deadline().unwrap();
        m.on(until, Event::Timer, 0);
        m.on(until + 10, Event::LinkUp(link()), 0);
        // Up for the stable period: the next retry is quick again.
        let later = until + 10 + P.stable;
        assert_eq!(m.on(later, Event::LinkDown, 0), [Action::RemoveRoutes]);
        let acts = m.on(later + 50, Event::Exited(Exit::Code(15)), 0);
        assert_eq!(
            acts,
            [Action::AnnounceDown {
                reason: "peer not responding (LCP echo)".into(),
                retry_in: 1_000
            }]
        );
    }

    #[test]
    fn up_after_is_measured_from_when_the_tunnel_went_down() {
        let mut m = Machine::new(P, Program::Pppd);
        m.on(1_000, Event::Start, 0);
        m.on(2_000, Event::LinkUp(link()), 0);
        m.on(50_000, Event::Exited(Exit::Code(16)), 0);
        let until = m.deadline().unwrap();
        m.on(until, Event::Timer, 0);
        let acts = m.on(until + 700, Event::LinkUp(link()), 0);
        assert_eq!(
            acts[1],
            Action::AnnounceUp {
                link: link(),
                after: until + 700 - 50_000
            }
        );
    }

    #[test]
    fn reset_kills_and_restarts_at_once_without_backoff() {
        let mut m = Machine::new(P, Program::Pppd);
        m.on(0, Event::Start, 0);
        m.on(10, Event::LinkUp(link()), 0);
        assert_eq!(
            m.on(20, Event::Reset, 0),
            [Action::RemoveRoutes, Action::Kill]
        );
        assert_eq!(
            m.on(30, Event::Exited(Exit::Signal(15)), 0),
            [Action::Spawn]
        );
        assert_eq!(m.failures(), 0);
        // Reset while backing off spawns at once.
        m.on(40, Event::Exited(Exit::Code(16)), 0);
        assert!(m.deadline().is_some());
        assert_eq!(m.on(50, Event::Reset, 0), [Action::Spawn]);
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn stop_kills_removes_routes_and_stays_idle() {
        let mut m = Machine::new(P, Program::Pppd);
        m.on(0, Event::Start, 0);
        m.on(10, Event::LinkUp(link()), 0);
        assert_eq!(
            m.on(20, Event::Stop, 0),
            [Action::RemoveRoutes, Action::Kill]
        );
        assert!(m.child_running());
        assert_eq!(m.on(30, Event::Exited(Exit::Signal(15)), 0), []);
        assert_eq!(m.state(), &State::Idle);
        assert!(!m.child_running());
        assert_eq!(m.on(40, Event::Timer, 0), []);
        // Stop while backing off: nothing to kill.
        let mut m = Machine::new(P, Program::Pppd);
        m.on(0, Event::Start, 0);
        m.on(1, Event::Exited(Exit::SpawnFailed), 0);
        assert_eq!(m.on(2, Event::Stop, 0), []);
        assert_eq!(m.state(), &State::Idle);
        assert_eq!(m.deadline(), None);
    }

    #[test]
    fn stray_events_change_nothing() {
        let mut m = Machine::new(P, Program::Pppd);
        assert_eq!(m.on(0, Event::LinkUp(link()), 0), []);
        assert_eq!(m.on(0, Event::LinkDown, 0), []);
        assert_eq!(m.on(0, Event::Exited(Exit::Code(1)), 0), []);
        assert_eq!(m.on(0, Event::Timer, 0), []);
        assert_eq!(m.state(), &State::Idle);
        m.on(0, Event::Start, 0);
        assert_eq!(
            m.on(1, Event::Start, 0),
            [],
            "a second start spawns nothing"
        );
        assert_eq!(m.on(2, Event::LinkDown, 0), []);
    }

    #[test]
    fn link_down_then_exit_removes_routes_once_and_backs_off() {
        let mut m = Machine::new(P, Program::Pppd);
        m.on(0, Event::Start, 0);
        m.on(10, Event::LinkUp(link()), 0);
        assert_eq!(m.on(20, Event::LinkDown, 0), [Action::RemoveRoutes]);
        let acts = m.on(30, Event::Exited(Exit::Code(15)), 0);
        assert!(
            matches!(acts.as_slice(), [Action::AnnounceDown { .. }]),
            "{acts:?}"
        );
    }

    fn dropbear() -> Program {
        Program::Server("dropbear".into())
    }

    /// What an exit makes the machine say: the console reason and the
    /// status's `last down`.
    fn down(program: Program, exit: Exit) -> (String, String) {
        let mut m = Machine::new(P, program);
        m.on(0, Event::Start, 0);
        let acts = m.on(10, Event::Exited(exit), 0);
        let [Action::AnnounceDown { reason, .. }] = acts.as_slice() else {
            panic!("{acts:?}")
        };
        (reason.clone(), m.last_down().unwrap().to_string())
    }

    #[test]
    fn an_offices_pppd_exit_is_said_in_pppds_terms() {
        let said = |exit| down(Program::Pppd, exit);
        assert_eq!(
            said(Exit::Code(16)),
            (
                "ssh connection closed".into(),
                "pppd exited with status 16 (ssh connection closed)".into()
            )
        );
        assert_eq!(
            said(Exit::Code(1)),
            (
                "pppd: fatal error".into(),
                "pppd exited with status 1 (fatal error)".into()
            )
        );
        assert_eq!(
            said(Exit::Code(15)).1,
            "pppd exited with status 15 (peer not responding (LCP echo))"
        );
        assert_eq!(
            said(Exit::Code(42)),
            (
                "pppd exited with status 42".into(),
                "pppd exited with status 42".into()
            )
        );
        assert_eq!(said(Exit::Signal(9)).1, "pppd killed by signal 9 (SIGKILL)");
        assert_eq!(said(Exit::SpawnFailed).1, "pppd could not be started");
        // Every status pppd(8) documents has its meaning.
        for code in 0..=19 {
            assert!(pppd_meaning(code).is_some(), "pppd exit {code}");
        }
        assert_eq!(pppd_meaning(20), None);
    }

    #[test]
    fn a_concentrators_dropbear_exit_is_said_as_dropbears() {
        for (exit, words) in [
            (Exit::Code(1), "dropbear exited with status 1"),
            (Exit::Code(16), "dropbear exited with status 16"),
            (Exit::Signal(11), "dropbear killed by signal 11 (SIGSEGV)"),
            (Exit::SpawnFailed, "dropbear could not be started"),
        ] {
            let (reason, last) = down(dropbear(), exit);
            assert_eq!(reason, words);
            assert_eq!(last, words);
            assert!(!last.contains("pppd") && !last.contains("ssh"), "{last}");
        }
    }

    #[test]
    fn a_listening_server_is_serving_until_it_exits() {
        let mut m = Machine::new(P, dropbear());
        m.on(0, Event::Start, 0);
        assert_eq!(m.state(), &State::Starting { since: 0 });
        assert_eq!(m.on(40, Event::Listening, 0), []);
        assert_eq!(m.state(), &State::Serving { since: 40 });
        // Seen again: still serving since then.
        m.on(90, Event::Listening, 0);
        assert_eq!(m.state(), &State::Serving { since: 40 });
        // Exits soon after listening count as failures.
        for i in 0..3 {
            m.on(100 + i, Event::Exited(Exit::Code(1)), 0);
            let until = m.deadline().unwrap();
            m.on(until, Event::Timer, 0);
        }
        assert_eq!(m.failures(), 3);
        let t = 500_000;
        m.on(t, Event::Listening, 0);
        // Serving for the stable period: a fast retry (and no routes to remove).
        let acts = m.on(t + P.stable, Event::Exited(Exit::Code(1)), 0);
        assert!(
            matches!(acts.as_slice(), [Action::AnnounceDown { .. }]),
            "{acts:?}"
        );
        assert_eq!(m.failures(), 1);
        // Reset while serving: killed and restarted, starting again.
        let until = m.deadline().unwrap();
        m.on(until, Event::Timer, 0);
        m.on(until + 5, Event::Listening, 0);
        assert_eq!(m.on(until + 10, Event::Reset, 0), [Action::Kill]);
        assert_eq!(m.state(), &State::Starting { since: until + 10 });
        assert_eq!(
            m.on(until + 20, Event::Exited(Exit::Signal(15)), 0),
            [Action::Spawn]
        );
    }

    #[test]
    fn only_a_running_server_can_be_listening() {
        // pppd is up by its hooks, never by a socket.
        let mut m = Machine::new(P, Program::Pppd);
        m.on(0, Event::Start, 0);
        m.on(10, Event::Listening, 0);
        assert_eq!(m.state(), &State::Starting { since: 0 });
        // No child: nothing listens.
        let mut m = Machine::new(P, dropbear());
        assert_eq!(m.on(0, Event::Listening, 0), []);
        assert_eq!(m.state(), &State::Idle);
        m.on(1, Event::Start, 0);
        m.on(2, Event::Exited(Exit::Code(1)), 0);
        m.on(3, Event::Listening, 0);
        assert!(matches!(m.state(), State::Backoff { .. }));
    }
}
