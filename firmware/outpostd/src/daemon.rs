//! The agent's life as busybox init runs it: boot mounts, loopback, the
//! config applied (or a safe console-only state when it is bad), exactly one
//! ready line, then waiting for signals — SIGHUP re-reads and re-applies,
//! SIGTERM/SIGINT stop. Nothing here exits because of bad input: init would
//! respawn it in a loop and flood the console.

use std::path::Path;
use std::process::ExitCode;

use log::{error, info, warn};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::apply::apply_plan;
use crate::netlink::Netlink;
use crate::{check, logger, mounts, system};

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

/// Runs the agent until SIGTERM; the exit code is for init's benefit only.
pub fn run(config: &Path) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match rt {
        Ok(rt) => rt.block_on(daemon(config)),
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
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

async fn daemon(config: &Path) -> ExitCode {
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
    let mut state = State::Safe;
    state = apply(nl.as_ref(), config, state).await;
    loop {
        tokio::select! {
            _ = signals.term.recv() => {
                info!("stopping (SIGTERM)");
                return ExitCode::SUCCESS;
            }
            _ = signals.int.recv() => {
                info!("stopping (SIGINT)");
                return ExitCode::SUCCESS;
            }
            _ = signals.hup.recv() => {
                info!("SIGHUP: re-reading {}", config.display());
                state = apply(nl.as_ref(), config, state).await;
            }
        }
    }
}

/// Loads and applies the config; prints the ready line the first time one
/// is applied. A bad config leaves a running box as it is (the last good
/// config stays in force) and puts a box that never had one in safe state.
async fn apply(nl: Option<&Netlink>, config: &Path, state: State) -> State {
    let loaded = match check::load(config) {
        Ok(l) => l,
        Err(diagnostics) => {
            for line in diagnostics.iter().flat_map(|d| d.lines()) {
                error!("{line}");
            }
            match state {
                State::Running => {
                    warn!("config not applied; the last good config stays in force");
                }
                State::Safe => {
                    if let Err(e) = system::write_sysctl("net.ipv4.ip_forward", "0") {
                        warn!("{e}");
                    }
                    warn!(
                        "safe mode: console only (lo up, forwarding off); fix {} and run `kill -HUP $(pidof outpostd)`",
                        config.display()
                    );
                }
            }
            return state;
        }
    };
    info!(
        "config {}: {} `{}`",
        config.display(),
        loaded.config.system.role,
        loaded.config.system.hostname
    );
    let Some(nl) = nl else {
        error!("no netlink: interfaces left as they are");
        return state;
    };
    let applied = apply_plan(nl, &loaded.plan).await;
    let summary = applied.summary();
    match state {
        State::Safe => {
            let line = format!("outpostd: ready: {summary}");
            println!("{line}");
            logger::remember(&line);
        }
        State::Running if applied.changed_anything() => info!("re-applied: {summary}"),
        State::Running => info!("re-applied, nothing changed: {summary}"),
    }
    State::Running
}
