//! `make bench`: the whole example site measured, several runs, and the
//! figures reported with min/median/max beside the seed's own (issue 7).
//! `outpost-bench` is the thin front; the parts are here: [`run`] (one
//! whole-site run: boot, throughput, footprint, faults), [`memory`] (the
//! office's smallest RAM), [`sizes`], [`report`] (Markdown), with the pure
//! pieces [`stats`] and [`table`] unit-tested. Nothing here asserts a time:
//! a measurement that cannot be made (the tunnel never comes up) is an error.

pub mod config;
pub mod guest;
pub mod memory;
pub mod report;
pub mod run;
pub mod scale;
pub mod sizes;
pub mod stats;
pub mod table;
pub mod throughput;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use mkoutpost::cpu::Cpu;

use crate::site::{SiteSpec, CONCENTRATOR};

/// What each figure is: `outpost-bench --help` prints it and the report
/// ends with it, so the two never disagree.
pub const FIGURES: &str = "\
Each run boots the whole example site file as `mkoutpost site rehearse`
does (examples/sites/demo.toml: the office router office1 with 16 MB, the
concentrator head, and the rehearsal's test hosts host-office1,
host-private and internet; all i486 images under `-cpu 486`, linked over 127.0.0.1-only sockets) from power-on
and measures, in this order:

- power-on → every guest ready: all QEMUs are started at once; until the
  last guest's `outpostd: ready` line.
- power-on → tunnel up: until the office printed `tunnel up` and the
  concentrator `peer office1 up`.
- power-on → first packet through it: until host-office1's first ping to
  host-private is answered through the tunnel (host-office1 pings as soon as
  its shell answers, once every 2 s while nothing answers).
- outpostd idle: on the office, outpostd's VmRSS and VmHWM (/proc/PID/status)
  and its CPU time (utime + stime, /proc/PID/stat) over a quiet interval
  with the tunnel up, in ms and as a share of that interval (guest clock).
- throughput: N MiB of random data from host-office1 (office LAN) to
  host-private (head office) with busybox `nc`, once through the tunnel and
  once over a plain routed path between the same two hosts in the same
  run (the order alternates between runs). The plain path is a host route
  on the office to host-private via the concentrator's WAN address; the
  bench's concentrator config is the example's plus one rule admitting the
  office's WAN address (tests/src/bench/plain-path.toml), and the tunnel is
  measured with that same config. The rate is host-private's: bytes after
  the first divided by its /proc/uptime time from the first byte to the
  end. `tunnel / plain` is the ratio within each run: the figure that
  counts, since absolute rates under emulation mean little.
  `CPU busy` is a router's /proc/stat share of non-idle time during each
  transfer, for the office and the concentrator: near 100 % means that
  emulated 486 is the bottleneck.
- outpostd during the transfer: the same readings, framing the tunnel
  transfer.
- faults, in this order: dbclient killed on the office, pppd killed on the
  concentrator, the office's WAN link cut for 30 s (QEMU set_link) and
  restored, the concentrator's QEMU killed and started again.
  detect: from the fault to the office's first sign that it took the
  tunnel for dead (pppd's `No response to … echo-requests`, the tunnel
  route withdrawn by ip-down, or outpostd's `tunnel down`).
  recover: from the end of the fault (a kill is over at once; the WAN cut
  when the link returns; the reboot when the concentrator is powered on
  again, so its own boot counts) until host-office1 and host-private answer
  each other's pings through the tunnel again.
- the seed's vpnd (seed/vpn-howto.txt, ch. 5): its starttunnel sleeps 15 s
  after starting ssh and 15 s after pppd before adding routes, and its loop
  checks the tunnel once every 600 s (then resets it: `sleep 5` and
  starttunnel again). Those are the figures beside ours.

Once, after the runs:
- scale: one concentrator and 1, 3 and 6 offices, each with its test host,
  rehearsed as `mkoutpost site rehearse` does (matrix, no faults): guests,
  build, power-on to every tunnel, the matrix, the QEMUs' host RAM, the
  concentrator's CPU while every office sends at once, the whole wall time.
- smallest RAM: the office booted with less and less `-m` (32, then
  halving until a failure, then bisecting to 1 MB, the smallest pass tried
  again) beside the concentrator and host-private; it passes when it is
  ready, its tunnel is up on both ends, a ping from its tunnel address
  reaches host-private, `outpostd status` answers, and its console shows no
  OOM kill or panic. A boot that says nothing for 60 s fails.
- image sizes: each component of the office and concentrator images (bytes,
  and xz bytes inside the initramfs), and the office image on every medium
  `mkoutpost build --format` writes, with the FAT's free bytes, or by how
  many bytes it does not fit.";

/// How the benchmark is run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Whole-site runs.
    pub runs: usize,
    /// MiB per transfer.
    pub transfer_mib: u32,
    /// How long outpostd is watched idle.
    pub idle: Duration,
    /// Search the office's smallest RAM.
    pub memory: bool,
    /// Measure image sizes.
    pub sizes: bool,
    /// Site sizes (offices) to rehearse for the scale section.
    pub scale: Vec<u32>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs: 3,
            transfer_mib: 4,
            idle: Duration::from_secs(20),
            memory: true,
            sizes: true,
            scale: scale::OFFICES.to_vec(),
        }
    }
}

/// Runs the benchmark; `say` hears about progress.
pub fn bench(opts: &Options, say: &mut dyn FnMut(&str)) -> Result<report::Report> {
    let t0 = Instant::now();
    let repo = crate::repo();
    let context = report::Context::here(&repo);
    let target = repo.join("target/bench");
    let work = crate::workdir("bench")?;
    say(&format!("work directory (consoles): {}", work.display()));

    let concentrator = config::write(&target.join("config"))?;
    let mut spec = SiteSpec::new();
    spec.configs.push((CONCENTRATOR, concentrator));

    let sizes = if opts.sizes {
        say("sizes: building the office and concentrator images and every medium");
        Some(sizes::measure(&target.join("sizes"), Cpu::I486).context("image sizes")?)
    } else {
        None
    };

    let mut runs = Vec::new();
    for i in 0..opts.runs {
        say(&format!("run {}/{}: booting the site", i + 1, opts.runs));
        let run_opts = run::RunOptions {
            transfer_mib: opts.transfer_mib,
            idle: opts.idle,
            plain_first: i % 2 == 1,
        };
        let r = run::run(
            &work.join(format!("run{}", i + 1)),
            &spec,
            &run_opts,
            &mut |s| say(&format!("run {}/{}: {s}", i + 1, opts.runs)),
        )
        .with_context(|| format!("run {}", i + 1))?;
        runs.push(r);
    }

    let memory = if opts.memory {
        say("smallest RAM for the office: searching down from 32 MB");
        Some(memory::search(&work.join("mem"), &spec, &mut |s| {
            say(&format!("memory: {s}"))
        })?)
    } else {
        None
    };

    let mut scale = Vec::new();
    for &n in &opts.scale {
        say(&format!(
            "scale: rehearsing one concentrator and {n} offices"
        ));
        scale.push(
            scale::measure(&work.join(format!("scale{n}")), n, &mut |s| {
                say(&format!("scale: {s}"))
            })
            .with_context(|| format!("scale: {n} offices"))?,
        );
    }

    Ok(report::Report {
        context,
        runs_asked: opts.runs,
        transfer_mib: opts.transfer_mib,
        idle_secs: opts.idle.as_secs(),
        runs,
        memory,
        sizes,
        scale,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Where the report goes in the repository.
pub fn doc_path() -> PathBuf {
    crate::repo().join("docs/benchmarks.md")
}
