//! One run of the benchmark on the whole site: power-on to tunnel and to
//! the first packet through it, outpostd's footprint idle, the throughput
//! through the tunnel and through a plain route (with outpostd's footprint
//! during the tunnel transfer), then the four faults.

use std::path::Path as FsPath;
use std::time::Duration;

use anyhow::{Context, Result};

use super::guest::{Interval, Sample, OUTPOSTD_PID};
use super::throughput::{self, Path, Transfer};
use crate::faults::{self, Fault, Recovery};
use crate::site::{
    all_faults, ping_until, Site, SiteSpec, CONCENTRATOR, LAN_HOST, OFFICE, PEER_UP, PRIVATE_IP,
    TUNNEL_UP,
};
use crate::watch::{watch, Needle};
use crate::BOOT_TIMEOUT;

/// How a run is done.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// MiB per transfer.
    pub transfer_mib: u32,
    /// How long outpostd is watched while nothing happens.
    pub idle: Duration,
    /// Measure the plain path before the tunnel (alternated between runs,
    /// so that neither always goes first).
    pub plain_first: bool,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// Power-on (every QEMU started at once) to every guest's `outpostd: ready`.
    pub ready: Duration,
    /// Power-on to the tunnel up on both ends.
    pub tunnel_up: Duration,
    /// Power-on to host-office1's first ping answered by host-private.
    pub first_packet: Duration,
    /// outpostd on the office, tunnel up, nothing else happening.
    pub idle: Interval,
    /// Through the tunnel.
    pub tunnel: Transfer,
    /// Over the plain route.
    pub plain: Transfer,
    /// outpostd on the office during the tunnel transfer.
    pub during_tunnel: Interval,
    /// outpostd on the office during the plain transfer.
    pub during_plain: Interval,
    /// The concentrator (its outpostd, and its CPU) during the tunnel transfer.
    pub head_tunnel: Interval,
    /// The concentrator during the plain transfer.
    pub head_plain: Interval,
    /// Each fault and what followed.
    pub faults: Vec<(Fault, Recovery)>,
}

/// Boots the site of `spec` in `work` and measures everything of one run;
/// `say` hears about progress.
pub fn run(
    work: &FsPath,
    spec: &SiteSpec,
    opts: &RunOptions,
    say: &mut dyn FnMut(&str),
) -> Result<RunResult> {
    let mut site = Site::start(work, spec)?;
    // Every line is watched from power-on, so each is timed when it appears
    // even while another guest is still booting.
    let needles: Vec<Needle<'_>> = site
        .machines
        .iter()
        .map(|name| Ok(Needle::new(site.machine(name)?, 0, "outpostd: ready")))
        .chain([
            Ok(Needle::new(site.machine(OFFICE)?, 0, TUNNEL_UP)),
            Ok(Needle::new(site.machine(CONCENTRATOR)?, 0, PEER_UP)),
        ])
        .collect::<Result<_>>()?;
    let seen = watch(&needles, &[], site.started, BOOT_TIMEOUT).context("power-on")?;
    let n = site.machines.len();
    let ready = seen[..n].iter().map(|s| s.at).max().unwrap_or_default();
    let tunnel_up = seen[n].at.max(seen[n + 1].at);
    site.wait_all_ready()?;
    ping_until(site.machine(LAN_HOST)?, PRIVATE_IP, 30).context("first packet")?;
    let first_packet = site.started.elapsed();
    say(&format!(
        "tunnel up {:.1} s, first packet {:.1} s after power-on",
        tunnel_up.as_secs_f64(),
        first_packet.as_secs_f64()
    ));

    let office = site.machine(OFFICE)?;
    let head = site.machine(CONCENTRATOR)?;
    let a = Sample::read(office, OUTPOSTD_PID)?;
    std::thread::sleep(opts.idle);
    let b = Sample::read(office, OUTPOSTD_PID)?;
    let idle = Interval::between(&a, &b);

    let bytes = throughput::prepare(&site, opts.transfer_mib)?;
    let order = if opts.plain_first {
        [Path::Plain, Path::Tunnel]
    } else {
        [Path::Tunnel, Path::Plain]
    };
    let mut measured = Vec::new();
    for (i, path) in order.into_iter().enumerate() {
        throughput::select(&site, path)?;
        let (t, a, b) = throughput::send(&site, 5100 + i as u16, bytes, || {
            Ok((
                Sample::read(office, OUTPOSTD_PID)?,
                Sample::read(head, OUTPOSTD_PID)?,
            ))
        })
        .with_context(|| format!("{path:?} transfer"))?;
        say(&format!(
            "{path:?}: {} KiB in {:.2} s, {:.0} KiB/s",
            (t.bytes + 1) / 1024,
            t.seconds,
            t.kib_per_s()
        ));
        measured.push((
            path,
            t,
            Interval::between(&a.0, &b.0),
            Interval::between(&a.1, &b.1),
        ));
    }
    throughput::select(&site, Path::Tunnel)?;
    let pick = |p: Path| {
        measured
            .iter()
            .find(|(q, ..)| *q == p)
            .map(|(_, t, o, h)| (*t, *o, *h))
            .context("a path was not measured")
    };
    let (tunnel, during_tunnel, head_tunnel) = pick(Path::Tunnel)?;
    let (plain, during_plain, head_plain) = pick(Path::Plain)?;

    let mut fault_results = Vec::new();
    for fault in all_faults() {
        let r = faults::inject(&mut site.running, &fault)?;
        say(&format!(
            "{}: noticed {:.1} s, both ways again {:.1} s after it ended",
            fault.describe(),
            r.detected.as_secs_f64(),
            r.after_fault().as_secs_f64()
        ));
        fault_results.push((fault, r));
    }
    // The guests are killed with the topology: a clean shutdown measures nothing.
    drop(site);
    Ok(RunResult {
        ready,
        tunnel_up,
        first_packet,
        idle,
        tunnel,
        plain,
        during_tunnel,
        during_plain,
        head_tunnel,
        head_plain,
        faults: fault_results,
    })
}
