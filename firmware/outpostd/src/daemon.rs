//! The agent's life as busybox init runs it: boot mounts, loopback, the
//! config applied (or a safe console-only state when it is bad), exactly one
//! ready line, then serving the control socket and waiting for signals —
//! SIGHUP (or `outpostd reset`) re-reads and re-applies, SIGTERM/SIGINT
//! stop. Nothing here exits because of bad input: init would respawn it in a
//! loop and flood the console.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use log::{error, info, warn};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::apply::apply_plan;
use crate::check::{self, Loaded};
use crate::control::{Reply, Request};
use crate::hooks::HookMessage;
use crate::netlink::Netlink;
use crate::supervisor::roles::Roles;
use crate::{logger, mounts, system};

/// How long a control client may take to send its request line; a client
/// that says nothing must not hold the agent.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Where the agent stands after an attempt to apply the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No good config was ever applied: lo up, forwarding off.
    Safe,
    /// A config was applied and the ready line printed.
    Running,
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }
}

struct Agent {
    nl: Option<Netlink>,
    roles: Roles,
    socket: PathBuf,
    config: PathBuf,
    state: State,
    loaded: Option<Loaded>,
    /// The ruleset outpostd last loaded into the kernel (still in force
    /// when a later load was refused).
    firewall: Option<outpost_core::ruleset::Ruleset>,
    /// The bytes of the config in force, for `outpostd save`.
    in_force: Option<Vec<u8>>,
}

/// Runs the agent until SIGTERM; the exit code is for init's benefit only.
pub fn run(config: &Path, socket: &Path) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match rt {
        Ok(rt) => rt.block_on(daemon(config, socket)),
        Err(e) => {
            error!("cannot start the event loop: {e}");
            idle_forever()
        }
    }
}

/// Stays alive without doing anything, so init does not respawn us into a
/// loop; SIGTERM's default action still ends the process.
fn idle_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Binds the control socket, readable and writable by root only.
fn bind_control(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn daemon(config: &Path, socket: &Path) -> ExitCode {
    // First, so a SIGHUP during boot is queued rather than killing us.
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            error!("cannot install signal handlers: {e}");
            idle_forever()
        }
    };
    info!("starting (version {})", env!("CARGO_PKG_VERSION"));
    for spec in mounts::BOOT_MOUNTS {
        match mounts::mount_if_absent(spec) {
            Ok(true) => info!("mounted {} on {}", spec.fstype, spec.target),
            Ok(false) => {}
            Err(e) => warn!("{e}"),
        }
    }
    // Now that /sys and /dev are there: the VGA screen as well as the serial.
    logger::mirror_consoles();
    // The boot medium (if any) first: it holds the config in force and the
    // entropy seed.
    let selected = crate::medium::select_config(config);
    let config = selected.as_path();
    // Before anything that needs randomness (dbclient, dropbear).
    crate::entropy::at_boot(&crate::entropy::default_spots());
    let nl = match Netlink::connect() {
        Ok(nl) => Some(nl),
        Err(e) => {
            error!("{e}; no interface can be configured");
            None
        }
    };
    if let Some(nl) = &nl {
        match nl.set_link_up("lo").await {
            Ok(changed) => info!("lo: up{}", if changed { "" } else { " (already)" }),
            Err(e) => error!("lo: {e}"),
        }
    }
    let control = match bind_control(socket) {
        Ok(l) => Some(l),
        Err(e) => {
            warn!(
                "control socket {}: {e}; `outpostd status` will not work",
                socket.display()
            );
            None
        }
    };
    let mut agent = Agent {
        nl,
        config: config.to_path_buf(),
        state: State::Safe,
        loaded: None,
        roles: Roles::default(),
        socket: socket.to_path_buf(),
        firewall: None,
        in_force: None,
    };
    // The outcome is on the console already; the socket's `reset` needs it returned.
    let _ = agent.apply().await;
    loop {
        tokio::select! {
            _ = signals.term.recv() => {
                info!("stopping (SIGTERM)");
                break;
            }
            _ = signals.int.recv() => {
                info!("stopping (SIGINT)");
                break;
            }
            _ = signals.hup.recv() => {
                info!("SIGHUP: re-reading {}", config.display());
                let _ = agent.apply().await;
            }
            conn = accept(control.as_ref()) => match conn {
                Ok(stream) => agent.serve(stream).await,
                Err(e) => warn!("control socket: {e}"),
            },
        }
    }
    agent.roles.stop().await;
    if control.is_some() {
        let _ = std::fs::remove_file(socket);
    }
    ExitCode::SUCCESS
}

async fn accept(listener: Option<&UnixListener>) -> std::io::Result<UnixStream> {
    match listener {
        Some(l) => l.accept().await.map(|(s, _)| s),
        None => std::future::pending().await,
    }
}

impl Agent {
    /// Loads and applies the config; prints the ready line the first time
    /// one is applied. A bad config leaves a running box as it is (the last
    /// good config stays in force) and puts a box that never had one in
    /// safe state. Returns the summary or the diagnostics.
    async fn apply(&mut self) -> Result<String, Vec<String>> {
        let loaded = match check::load(&self.config) {
            Ok(l) => l,
            Err(diagnostics) => {
                for line in diagnostics.iter().flat_map(|d| d.lines()) {
                    error!("{line}");
                }
                match self.state {
                    State::Running => {
                        warn!("config not applied; the last good config stays in force");
                    }
                    State::Safe => {
                        if let Err(e) = system::write_sysctl("net.ipv4.ip_forward", "0") {
                            warn!("{e}");
                        }
                        warn!(
                            "safe mode: console only (lo up, forwarding off); fix {} and run `kill -HUP $(pidof outpostd)`",
                            self.config.display()
                        );
                    }
                }
                return Err(diagnostics);
            }
        };
        self.in_force = std::fs::read(&self.config).ok();
        info!(
            "config {}: {} `{}`",
            self.config.display(),
            loaded.config.system.role,
            loaded.config.system.hostname
        );
        let Some(nl) = &self.nl else {
            error!("no netlink: interfaces left as they are");
            return Err(vec!["no netlink socket: interfaces left as they are".into()]);
        };
        let applied = apply_plan(nl, &loaded.plan).await;
        // Forwarding goes on only inside this, once the rules are in force.
        if crate::nftables::apply_firewall(&loaded.plan).is_ok() {
            self.firewall = Some(loaded.plan.ruleset.clone());
        }
        let summary = applied.summary();
        match self.state {
            State::Safe => {
                logger::announce(&format!("outpostd: ready: {summary}"));
            }
            State::Running if applied.changed_anything() => info!("re-applied: {summary}"),
            State::Running => info!("re-applied, nothing changed: {summary}"),
        }
        self.state = State::Running;
        self.roles.apply(&loaded.plan, &self.socket).await;
        self.loaded = Some(loaded);
        Ok(summary)
    }

    /// Answers one control connection.
    async fn serve(&mut self, stream: UnixStream) {
        let root = stream.peer_cred().map(|c| c.uid() == 0).unwrap_or(false);
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let got =
            tokio::time::timeout(REQUEST_DEADLINE, BufReader::new(read).read_line(&mut line)).await;
        let reply = match (root, got) {
            (false, _) => Reply::error(vec!["outpostd answers root only".into()]),
            (true, Ok(Ok(_))) if HookMessage::parse(&line).is_some() => {
                let Some(m) = HookMessage::parse(&line) else {
                    return;
                };
                self.roles.hook(m).await
            }
            (true, Ok(Ok(_))) if crate::dhcp_hook::DhcpMessage::parse(&line).is_some() => {
                let Some(m) = crate::dhcp_hook::DhcpMessage::parse(&line) else {
                    return;
                };
                self.roles.dhcp_hook(m).await
            }
            (true, Ok(Ok(_))) if crate::control::parse_save(&line).is_some() => {
                self.save(crate::control::parse_save(&line).flatten()).await
            }
            (true, Ok(Ok(_))) => match Request::from_word(&line) {
                Some(r) => self.answer(r).await,
                None => Reply::error(vec![format!("unknown request `{}`", line.trim())]),
            },
            (true, _) => return,
        };
        // A client that went away needs no answer.
        let _ = write.write_all(reply.encode().as_bytes()).await;
    }

    /// `outpostd save [FILE]` (crate::save::save_config); a saved FILE is
    /// applied from the medium at once, so the config in force is the one
    /// the next boot will load.
    async fn save(&mut self, file: Option<PathBuf>) -> Reply {
        let medium = Path::new(crate::medium::MOUNT_POINT);
        let mounted = mounts::is_mount_point(medium).unwrap_or(false);
        let mut remount = crate::save::MountPoint {
            target: medium.to_path_buf(),
            data: crate::medium::MOUNT_DATA,
        };
        let saved = crate::save::save_config(
            mounted.then_some(medium),
            file.as_deref(),
            self.in_force.as_deref(),
            &mut remount,
        );
        let mut lines = match saved {
            Ok(lines) => lines,
            Err(lines) => return Reply::error(lines),
        };
        for l in &lines {
            info!("{l}");
        }
        if file.is_some() {
            self.config = medium.join(crate::medium::CONFIG_NAME);
            match self.apply().await {
                Ok(summary) => lines.push(format!("applied: {summary}")),
                Err(d) => {
                    lines.extend(d);
                    return Reply::error(lines);
                }
            }
        }
        Reply::ok(lines)
    }

    async fn answer(&mut self, request: Request) -> Reply {
        match request {
            Request::Log => Reply::ok(logger::recent()),
            Request::Check => match check::load(&self.config) {
                Ok(l) => Reply::ok(vec![format!(
                    "{}: ok: {} `{}`",
                    self.config.display(),
                    l.config.system.role,
                    l.config.system.hostname
                )]),
                Err(d) => Reply::error(d),
            },
            Request::Reset => {
                info!("reset requested on the control socket");
                match self.apply().await {
                    Ok(summary) => Reply::ok(vec![format!("applied: {summary}")]),
                    Err(d) => Reply::error(d),
                }
            }
            Request::Status => Reply::ok(self.status().await),
            Request::Rules => match crate::nftables::rules_report(self.firewall.as_ref()) {
                Ok(lines) => Reply::ok(lines),
                Err(lines) => Reply::error(lines),
            },
        }
    }

    async fn status(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(format!(
            "state: {}",
            match self.state {
                State::Safe => "safe mode (no valid config applied)",
                State::Running => "running",
            }
        ));
        out.push(format!("config: {}", self.config.display()));
        if let Some(l) = &self.loaded {
            out.push(format!(
                "hostname: {} ({})",
                l.plan.hostname, l.config.system.role
            ));
            for i in &l.plan.interfaces {
                out.push(self.interface_line(&i.device).await);
            }
        }
        // Every card, used or not: in safe mode too, where it tells why.
        let interfaces = self.loaded.as_ref().map_or(&[][..], |l| &l.plan.interfaces);
        out.extend(crate::cards::status_lines(interfaces));
        out.extend(self.roles.status_lines());
        let errors: Vec<String> = logger::recent()
            .into_iter()
            .filter(|l| l.starts_with("outpostd: error:"))
            .collect();
        let skip = errors.len().saturating_sub(5);
        if errors.is_empty() {
            out.push("last errors: none".into());
        } else {
            out.push("last errors:".into());
            out.extend(errors.into_iter().skip(skip).map(|e| format!("  {e}")));
        }
        out
    }

    async fn interface_line(&self, device: &str) -> String {
        let Some(nl) = &self.nl else {
            return format!("{device}: unknown (no netlink)");
        };
        let link = match nl.link(device).await {
            Ok(l) => l,
            Err(e) => return format!("{device}: {e}"),
        };
        let addrs = nl
            .addresses(device)
            .await
            .map(|a| {
                a.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|e| e.to_string());
        format!(
            "{device}: {} mtu {} {}",
            if link.up { "up" } else { "DOWN" },
            link.mtu.map_or("?".into(), |m| m.to_string()),
            addrs
        )
    }
}
