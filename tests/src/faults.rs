//! The four faults the site test checks recovery from and the benchmark
//! times: dbclient killed on the office, pppd killed on the concentrator, the
//! office's WAN cable pulled for a while, the concentrator power-cycled.
//! One place injects them and times what follows, so the test and the
//! benchmark measure the same thing.
//!
//! Every time is read from console lines (within [`crate::watch::POLL`]) or
//! from a ping's answer, counted from the moment the fault was injected:
//! the office's `tunnel down` line (the office is the side that acts), the
//! tunnel up again on both ends, and lan-host ↔ private-host answering
//! both ways.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use outpost_qemu::Machine;

use crate::site::{Site, CONCENTRATOR, OFFICE, PEER_UP, TUNNEL_DOWN, TUNNEL_UP};
use crate::watch::{mark, watch, watch_until, Needle, Seen};
use crate::CMD_TIMEOUT;

/// How long the office may take to notice a fault (LCP echoes every 2 s,
/// three missed: well under this; a bound on failure, not a claim).
pub const DETECT_TIMEOUT: Duration = Duration::from_secs(60);

/// pppd's line when its LCP echoes went unanswered.
pub const LCP_ECHO_FAILED: &str = "No response to ";
/// The office's line when pppd's ip-down took the tunnel's route away.
pub const TUNNEL_ROUTE_REMOVED: &str = "outpostd: route 10.0.0.0/24 removed";

/// How long the WAN stays cut by default (the site test's and the bench's).
pub const WAN_CUT: Duration = Duration::from_secs(30);

/// A fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `killall dbclient` on the office: its ssh connection dies.
    DbclientKilled,
    /// `killall pppd` on the concentrator: the far end of the PPP link dies.
    PppdKilled,
    /// The office's WAN NIC loses its link (QEMU `set_link`) for this long.
    WanCut(Duration),
    /// The concentrator's QEMU killed and started again on the same links.
    ConcentratorRebooted,
}

impl Fault {
    /// The four faults, in the order the site test and the bench inject them.
    pub const ALL: [Fault; 4] = [
        Fault::DbclientKilled,
        Fault::PppdKilled,
        Fault::WanCut(WAN_CUT),
        Fault::ConcentratorRebooted,
    ];

    /// What a person calls it.
    pub fn describe(self) -> String {
        match self {
            Fault::DbclientKilled => "dbclient killed on the office".into(),
            Fault::PppdKilled => "pppd killed on the concentrator".into(),
            Fault::WanCut(d) => format!("WAN cut {} s", d.as_secs()),
            Fault::ConcentratorRebooted => "concentrator rebooted".into(),
        }
    }
}

/// What followed a fault, each time counted from its injection.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// The office printed `tunnel down`.
    pub detected: Duration,
    /// The fault was over: the WAN link restored, the concentrator's QEMU
    /// started again (zero for the kills, which are over at once).
    pub over: Duration,
    /// The concentrator said `outpostd: ready` again (reboot only).
    pub concentrator_ready: Option<Duration>,
    /// The office printed `tunnel up` and the concentrator `peer office1 up`.
    pub tunnel_up: Duration,
    /// lan-host and private-host answered each other's ping through the tunnel.
    pub reachable: Duration,
    /// The office's `tunnel up` line.
    pub up_line: String,
}

impl Recovery {
    /// From the end of the fault to both ways reachable again: for a kill
    /// the whole recovery, for the WAN cut what follows the restored link,
    /// for the reboot what follows the power-on (the concentrator's own boot
    /// included).
    pub fn after_fault(&self) -> Duration {
        self.reachable.saturating_sub(self.over)
    }
}

/// Injects `fault` into a site whose tunnel is up, waits until the office
/// notices and until the tunnel is back and carries pings both ways.
pub fn inject(site: &mut Site, fault: Fault) -> Result<Recovery> {
    let (o, h) = (
        mark(site.machine(OFFICE)?),
        mark(site.machine(CONCENTRATOR)?),
    );
    let t = Instant::now();
    let mut over = Duration::ZERO;
    let mut concentrator_ready = None;
    let mut head_from = h;
    let detected = match fault {
        Fault::DbclientKilled => {
            site.machine(OFFICE)?
                .run_ok("killall dbclient", CMD_TIMEOUT)?;
            detect(site, o, t, DETECT_TIMEOUT)?
        }
        Fault::PppdKilled => {
            site.machine(CONCENTRATOR)?
                .run_ok("killall pppd", CMD_TIMEOUT)?;
            detect(site, o, t, DETECT_TIMEOUT)?
        }
        Fault::WanCut(cut) => {
            let office = site.machine(OFFICE)?;
            office.set_link("eth1", false)?;
            let detected = detect(site, o, t, DETECT_TIMEOUT);
            // Restore the link whatever happened, so the site stays usable.
            std::thread::sleep(cut.saturating_sub(t.elapsed()));
            office.set_link("eth1", true)?;
            over = t.elapsed();
            detected?
        }
        Fault::ConcentratorRebooted => {
            // A restarted machine's console starts empty: offset 0 is its new boot.
            site.topology.restart(CONCENTRATOR)?;
            over = t.elapsed();
            head_from = 0;
            // The office may notice before or after the concentrator is
            // up again: both are watched from the power-cut on.
            let head = site.machine(CONCENTRATOR)?;
            let mut needles = vec![Needle::new(head, 0, "outpostd: ready")];
            needles.extend(detect_needles(site.machine(OFFICE)?, o));
            let seen = watch_until(&needles, &[], t, crate::BOOT_TIMEOUT, |s| {
                s[0].is_some() && s[1..].iter().any(Option::is_some)
            })
            .context("concentrator rebooted")?;
            concentrator_ready = seen[0].as_ref().map(|s| s.at);
            site.wait_ready(CONCENTRATOR, 0)?;
            earliest(&seen[1..])?
        }
    };
    let seen = watch(
        &[
            Needle::new(site.machine(OFFICE)?, o, TUNNEL_UP),
            Needle::new(site.machine(CONCENTRATOR)?, head_from, PEER_UP),
        ],
        &[],
        t,
        crate::site::TUNNEL_TIMEOUT,
    )
    .with_context(|| format!("{}: tunnel back", fault.describe()))?;
    let tunnel_up = seen[0].at.max(seen[1].at);
    site.both_ways()
        .with_context(|| format!("{}: both ways after recovery", fault.describe()))?;
    Ok(Recovery {
        detected,
        over,
        concentrator_ready,
        tunnel_up,
        reachable: t.elapsed(),
        up_line: seen[0].line.clone(),
    })
}

/// When (since `t`) the office first showed, after offset `from`, that it
/// took the tunnel for dead: pppd's LCP echoes unanswered, the tunnel's
/// route withdrawn (pppd's ip-down), or outpostd's `tunnel down` (pppd
/// ended). Which comes first depends on the fault.
fn detect(site: &Site, from: usize, t: Instant, timeout: Duration) -> Result<Duration> {
    let seen = watch_until(
        &detect_needles(site.machine(OFFICE)?, from),
        &[],
        t,
        timeout,
        |s| s.iter().any(Option::is_some),
    )?;
    earliest(&seen)
}

/// The office's lines that say it took the tunnel for dead (see [`detect`]).
fn detect_needles(office: &Machine, from: usize) -> [Needle<'_>; 3] {
    [
        Needle::new(office, from, LCP_ECHO_FAILED),
        Needle::new(office, from, TUNNEL_ROUTE_REMOVED),
        Needle::new(office, from, TUNNEL_DOWN),
    ]
}

/// The earliest of the lines seen.
fn earliest(seen: &[Option<Seen>]) -> Result<Duration> {
    seen.iter()
        .flatten()
        .map(|s| s.at)
        .min()
        .ok_or_else(|| anyhow::anyhow!("no line seen"))
}
