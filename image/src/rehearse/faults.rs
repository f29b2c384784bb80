//! The faults a rehearsal injects and times, the whole-site test checks
//! recovery from and the benchmark measures: an office's ssh client
//! killed, the concentrator's pppd of an office killed, an office's WAN
//! cable pulled for a while, the concentrator power-cycled; and for an
//! office whose WAN is DHCP, its ISP renumbering it (the internet host's
//! udhcpd leases it another address).
//!
//! Every time is read from console lines (within [`super::watch::POLL`]) or
//! from a ping's answer, counted from the moment the fault was injected:
//! the office's first sign that it took the tunnel for dead (the office is
//! the side that acts), the tunnel up again on both ends, and the office's
//! test host and the head office's first network's answering each other.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use outpost_qemu::Machine;

use super::boot::Running;
use super::watch::{mark, watch, watch_until, Needle, Seen};
use super::{peer_up, BOOT_TIMEOUT, CMD_TIMEOUT, TUNNEL_DOWN, TUNNEL_TIMEOUT, TUNNEL_UP};
use outpost_core::site::rehearsal::{host_name, RehearsedLease, INTERNET_HOST, REHEARSAL_LEASE_S};

/// How long the office may take to notice a fault (a bound on failure,
/// not a claim).
pub const DETECT_TIMEOUT: Duration = Duration::from_secs(60);

/// pppd's line when its LCP echoes went unanswered.
pub const LCP_ECHO_FAILED: &str = "No response to ";

/// How long a WAN stays cut by default.
pub const WAN_CUT: Duration = Duration::from_secs(30);

/// How long a renumbered office may take to lose its old lease: two
/// leases and some (renewals unanswered, rebinding, then expiry).
pub const LEASE_TIMEOUT: Duration = Duration::from_secs(2 * REHEARSAL_LEASE_S as u64 + 30);

/// outpostd's line when a DHCP lease ended.
pub const LEASE_ENDED: &str = "DHCP lease ended";
/// outpostd's line when a renewal brought another address.
pub const ADDRESS_CHANGED: &str = "the WAN address changed";

/// A fault, on the office it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `killall dbclient` on the office: its ssh connection dies.
    DbclientKilled(String),
    /// The concentrator's pppd serving the office killed: the far end of
    /// the PPP link dies.
    PppdKilled(String),
    /// The office's WAN NIC loses its link (QEMU `set_link`) for this long.
    WanCut(String, Duration),
    /// The concentrator's QEMU killed and started again on the same links;
    /// recovery is timed on this office.
    ConcentratorRebooted(String),
    /// A DHCP office's ISP leases it another address: the internet host's
    /// fixed lease for its MAC moves to the plan's `renumbered` address
    /// (its config edited, `outpostd reset`), so the office's renewals go
    /// unanswered, its lease ends, and it is leased the new one. Recovery
    /// includes its LAN's internet traffic arriving masqueraded as the new
    /// address.
    LeaseChanged(String),
}

impl Fault {
    /// The four faults of one office, in the order they are injected.
    pub fn all(office: &str, wan_cut: Duration) -> [Fault; 4] {
        [
            Fault::DbclientKilled(office.into()),
            Fault::PppdKilled(office.into()),
            Fault::WanCut(office.into(), wan_cut),
            Fault::ConcentratorRebooted(office.into()),
        ]
    }

    /// The office it is timed on.
    pub fn office(&self) -> &str {
        match self {
            Fault::DbclientKilled(o)
            | Fault::PppdKilled(o)
            | Fault::WanCut(o, _)
            | Fault::ConcentratorRebooted(o)
            | Fault::LeaseChanged(o) => o,
        }
    }

    /// What a person calls it.
    pub fn describe(&self) -> String {
        match self {
            Fault::DbclientKilled(o) => format!("{o}: ssh (dbclient) killed"),
            Fault::PppdKilled(o) => format!("{o}: its pppd killed on the concentrator"),
            Fault::WanCut(o, d) => format!("{o}: WAN cut {} s", d.as_secs()),
            Fault::ConcentratorRebooted(_) => "concentrator rebooted".into(),
            Fault::LeaseChanged(o) => format!("{o}: its ISP leases it another WAN address"),
        }
    }
}

/// What followed a fault, each time counted from its injection.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// The office showed it took the tunnel for dead.
    pub detected: Duration,
    /// The fault was over: the WAN link restored, the concentrator's QEMU
    /// started again (zero for the kills, which are over at once).
    pub over: Duration,
    /// The concentrator said `outpostd: ready` again (reboot only).
    pub concentrator_ready: Option<Duration>,
    /// The office printed `tunnel up` and the concentrator `peer … up`.
    pub tunnel_up: Duration,
    /// The office's test host and the head network's answered each other.
    pub reachable: Duration,
    /// The office's `tunnel up` line.
    pub up_line: String,
}

impl Recovery {
    /// From the end of the fault to both ways reachable again.
    pub fn after_fault(&self) -> Duration {
        self.reachable.saturating_sub(self.over)
    }
}

/// The office's WAN device (its second NIC in the plan: LAN, WAN).
fn wan_device(site: &Running, office: &str) -> Result<String> {
    let g = site
        .plan
        .guests
        .iter()
        .find(|g| g.name == office)
        .with_context(|| format!("no office {office}"))?;
    g.nics
        .iter()
        .find(|w| w.segment.starts_with("wan"))
        .map(|w| w.device.clone())
        .with_context(|| format!("{office} has no WAN NIC"))
}

/// Injects `fault` into a site whose tunnels are up, waits until the office
/// notices and until its tunnel is back and carries pings both ways.
pub fn inject(site: &mut Running, fault: &Fault) -> Result<Recovery> {
    let office = fault.office().to_string();
    let head = site.concentrator().to_string();
    let (o, h) = (mark(site.machine(&office)?), mark(site.machine(&head)?));
    let t = Instant::now();
    let mut over = Duration::ZERO;
    let mut concentrator_ready = None;
    let mut head_from = h;
    let route = route_removed(site);
    let detected = match fault {
        Fault::DbclientKilled(_) => {
            site.machine(&office)?
                .run_ok("killall dbclient", CMD_TIMEOUT)?;
            detect(site.machine(&office)?, o, &route, t)?
        }
        Fault::PppdKilled(_) => {
            // The forced command is `pppd call OFFICE`: its session only.
            site.machine(&head)?
                .run_ok(&format!("pkill -f 'pppd call {office}'"), CMD_TIMEOUT)?;
            detect(site.machine(&office)?, o, &route, t)?
        }
        Fault::WanCut(_, cut) => {
            let dev = wan_device(site, &office)?;
            let m = site.machine(&office)?;
            m.set_link(&dev, false)?;
            let detected = detect(m, o, &route, t);
            // Restore the link whatever happened, so the site stays usable.
            std::thread::sleep(cut.saturating_sub(t.elapsed()));
            m.set_link(&dev, true)?;
            over = t.elapsed();
            detected?
        }
        Fault::LeaseChanged(_) => {
            let lease = lease_of(site, &office)?;
            site.machine(INTERNET_HOST)?
                .run_ok(
                    &format!(
                        "sed -i 's/^address = \"{}\"$/address = \"{}\"/' /etc/outpost.toml && outpostd reset",
                        lease.address, lease.renumbered
                    ),
                    CMD_TIMEOUT,
                )
                .context("renumbering the office on the internet host")?;
            let m = site.machine(&office)?;
            let seen = watch_until(
                &[
                    Needle::new(m, o, LEASE_ENDED),
                    Needle::new(m, o, ADDRESS_CHANGED),
                ],
                &[],
                t,
                LEASE_TIMEOUT,
                |s| s.iter().any(Option::is_some),
            )
            .context("the office's old lease never ended")?;
            earliest(&seen)?
        }
        Fault::ConcentratorRebooted(_) => {
            // A restarted machine's console starts empty: offset 0 is its new boot.
            site.topology.restart(&head)?;
            over = t.elapsed();
            head_from = 0;
            // The office may notice before or after the concentrator is up
            // again: both are watched from the power-cut on.
            let hm = site.machine(&head)?;
            let mut needles = vec![Needle::new(hm, 0, "outpostd: ready")];
            needles.extend(detect_needles(site.machine(&office)?, o, &route));
            let seen = watch_until(&needles, &[], t, BOOT_TIMEOUT, |s| {
                s[0].is_some() && s[1..].iter().any(Option::is_some)
            })
            .context("concentrator rebooted")?;
            concentrator_ready = seen[0].as_ref().map(|s| s.at);
            site.wait_ready(&head, 0)?;
            earliest(&seen[1..])?
        }
    };
    let peer = peer_up(&office);
    let seen = watch(
        &[
            Needle::new(site.machine(&office)?, o, TUNNEL_UP),
            Needle::new(site.machine(&head)?, head_from, &peer),
        ],
        &[],
        t,
        TUNNEL_TIMEOUT,
    )
    .with_context(|| format!("{}: tunnel back", fault.describe()))?;
    let tunnel_up = seen[0].at.max(seen[1].at);
    both_ways(site, &office)
        .with_context(|| format!("{}: both ways after recovery", fault.describe()))?;
    if let Fault::LeaseChanged(_) = fault {
        masqueraded_as(site, &office, lease_of(site, &office)?.renumbered)
            .context("the LAN's internet traffic after renumbering")?;
    }
    Ok(Recovery {
        detected,
        over,
        concentrator_ready,
        tunnel_up,
        reachable: t.elapsed(),
        up_line: seen[0].line.clone(),
    })
}

/// The rehearsal's lease of DHCP office `office`.
fn lease_of(site: &Running, office: &str) -> Result<RehearsedLease> {
    site.plan
        .leases
        .iter()
        .find(|l| l.office == office)
        .cloned()
        .with_context(|| format!("{office}'s WAN is not DHCP in this rehearsal"))
}

/// The office's LAN → internet check of the plan, sent as packets, must
/// arrive from `address` (masquerade follows the leased address).
fn masqueraded_as(site: &Running, office: &str, address: std::net::Ipv4Addr) -> Result<()> {
    let mut check = site
        .plan
        .checks
        .iter()
        .find(|c| c.from == host_name(office) && c.to == INTERNET_HOST && c.accept)
        .cloned()
        .with_context(|| format!("no internet check for {office}"))?;
    check.seen_as = Some(address);
    let seen = super::probe::run(site, &check, 7117)?;
    anyhow::ensure!(
        seen.as_expected(&check),
        "{}: {}",
        check.label,
        seen.describe()
    );
    Ok(())
}

/// Both ways through `office`'s tunnel: its test host and the test host of
/// the head office's first network answer each other, retried while routes
/// settle (30 pings each at most).
pub fn both_ways(site: &Running, office: &str) -> Result<()> {
    let (lan, private) = endpoints(site, office)?;
    ping_until(site.machine(&lan.0)?, &private.1, 30)?;
    ping_until(site.machine(&private.0)?, &lan.1, 30)?;
    Ok(())
}

/// `(guest, address)` of the office's test host and of the head office's
/// first network's.
pub fn endpoints(site: &Running, office: &str) -> Result<((String, String), (String, String))> {
    let host = |name: String| -> Result<(String, String)> {
        let ip = site
            .plan
            .guests
            .iter()
            .find_map(|g| match (&g.kind, g.name == name) {
                (outpost_core::site::rehearsal::GuestKind::Host { address, .. }, true) => {
                    Some(address.to_string())
                }
                _ => None,
            })
            .with_context(|| format!("no test host {name}"))?;
        Ok((name, ip))
    };
    let first_net = site
        .plan
        .segments
        .iter()
        .find_map(|s| s.name.strip_prefix("net-"))
        .context("the head office has no network")?
        .to_string();
    Ok((host(host_name(office))?, host(host_name(&first_net))?))
}

/// Pings `dst` from `m` once per try (2 s wait each) until one answer comes,
/// at most `tries` times; returns how many tries it took.
pub fn ping_until(m: &Machine, dst: &str, tries: u32) -> Result<u32> {
    for i in 1..=tries {
        let out = m.run(&format!("ping -c 1 -W 2 {dst}"), CMD_TIMEOUT)?;
        if out.status == 0 {
            return Ok(i);
        }
    }
    anyhow::bail!("{}: no answer from {dst} in {tries} pings", m.name())
}

/// When (since `t`) the office first showed, after offset `from`, that it
/// took the tunnel for dead: pppd's LCP echoes unanswered, a tunnel route
/// withdrawn (pppd's ip-down), or outpostd's `tunnel down` (pppd ended).
/// Which comes first depends on the fault.
fn detect(office: &Machine, from: usize, route: &str, t: Instant) -> Result<Duration> {
    let seen = watch_until(
        &detect_needles(office, from, route),
        &[],
        t,
        DETECT_TIMEOUT,
        |s| s.iter().any(Option::is_some),
    )?;
    earliest(&seen)
}

/// The office's lines that say it took the tunnel for dead (see
/// [`detect`]); `route_removed` is [`route_removed`]'s line.
pub fn detect_needles<'a>(
    office: &'a Machine,
    from: usize,
    route_removed: &'a str,
) -> [Needle<'a>; 3] {
    [
        Needle::new(office, from, LCP_ECHO_FAILED),
        Needle::new(office, from, route_removed),
        Needle::new(office, from, TUNNEL_DOWN),
    ]
}

/// The office's line when pppd's ip-down took the tunnel's route to the
/// head office's first network away.
pub fn route_removed(site: &Running) -> String {
    site.plan
        .segments
        .iter()
        .find(|s| s.name.starts_with("net-"))
        .map_or_else(String::new, |s| {
            format!("outpostd: route {} removed", s.net)
        })
}

/// The earliest of the lines seen.
fn earliest(seen: &[Option<Seen>]) -> Result<Duration> {
    seen.iter()
        .flatten()
        .map(|s| s.at)
        .min()
        .ok_or_else(|| anyhow::anyhow!("no line seen"))
}
