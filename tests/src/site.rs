//! The example site (`examples/sites/demo.toml`) rehearsed by the
//! product's own code (`mkoutpost::rehearse`), shared by the whole-site
//! test, `outpost-demo` and the benchmark: the site's images built as
//! `mkoutpost site build` builds them, wired as the rehearsal wires them
//!
//! ```text
//! host-office1 ─[lan-office1]─ office1 ══[wan0]══ head ─[net-private]─ host-private
//!                                          │
//!                                       internet
//! ```
//!
//! and booted together under `-cpu 486`. What this module adds is only what
//! the benchmark varies: a subset of the guests, the office's RAM, and a
//! router config edited after the build (as an admin would on its medium).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mkoutpost::build::{self, BuildOptions};
use mkoutpost::media::Seed;
use mkoutpost::rehearse::boot::Running;
use mkoutpost::rehearse::{self, faults, Built};
use outpost_qemu::Machine;

pub use mkoutpost::rehearse::faults::ping_until;
pub use mkoutpost::rehearse::watch::{find_line_after, mark, wait_after};
pub use mkoutpost::rehearse::{TUNNEL_DOWN, TUNNEL_TIMEOUT, TUNNEL_UP};

use crate::example;

/// The site file, under `examples/`.
pub const SITE_FILE: &str = "sites/demo.toml";

/// The office router (the site's only office).
pub const OFFICE: &str = "office1";
/// The head office's concentrator.
pub const CONCENTRATOR: &str = "head";
/// The rehearsal's test host on the office LAN (192.168.1.10).
pub const LAN_HOST: &str = "host-office1";
/// The rehearsal's test host on the head office's private network (10.0.0.10).
pub const PRIVATE_HOST: &str = "host-private";
/// The rehearsal's host on the WAN standing for the internet (172.16.0.100).
pub const INTERNET_HOST: &str = "internet";

/// host-office1's address on the office LAN.
pub const LAN_IP: &str = "192.168.1.10";
/// host-private's address on the head office's private network.
pub const PRIVATE_IP: &str = "10.0.0.10";
/// the internet host's address on the WAN.
pub const INTERNET_IP: &str = "172.16.0.100";
/// The office router's WAN address.
pub const OFFICE_WAN_IP: &str = "172.16.0.2";
/// The concentrator's WAN address.
pub const CONCENTRATOR_WAN_IP: &str = "172.16.0.1";

/// The concentrator's line when office1's link comes up.
pub const PEER_UP: &str = "outpostd: peer office1 up (vpn-office1)";
/// The concentrator's line when office1's link goes down.
pub const PEER_DOWN: &str = "outpostd: peer office1 down";

/// RAM of the office router, MiB, as the site file says: the seed's
/// Pentium 75 had 16 MB, and the office image must bring its tunnel up in
/// that (issue 11's RAM claim).
pub const OFFICE_MEMORY_MIB: u32 = 16;

/// The four faults of the office, in the order the site test and the bench
/// inject them, the WAN cut for [`faults::WAN_CUT`].
pub fn all_faults() -> [faults::Fault; 4] {
    faults::Fault::all(OFFICE, faults::WAN_CUT)
}

/// What of the site to boot, and how. The site test and the demo take
/// [`SiteSpec::new`]; the benchmark varies the office's RAM, boots a subset
/// and swaps in its own concentrator config.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    /// Which guests to start (names from this module); every hub is made,
    /// a missing guest's port stays unplugged.
    pub machines: Vec<&'static str>,
    /// RAM of the office router, MiB.
    pub office_memory_mib: u32,
    /// Configs put in place of the derived ones after the build (and the
    /// router's image rebuilt), by router name.
    pub configs: Vec<(&'static str, PathBuf)>,
}

impl SiteSpec {
    /// The whole example site: every guest, the office with the site
    /// file's RAM, every config as derived.
    pub fn new() -> Self {
        SiteSpec {
            machines: vec![OFFICE, CONCENTRATOR, LAN_HOST, PRIVATE_HOST, INTERNET_HOST],
            office_memory_mib: OFFICE_MEMORY_MIB,
            configs: Vec::new(),
        }
    }
}

impl Default for SiteSpec {
    fn default() -> Self {
        Self::new()
    }
}

/// The site's images, built into `out` as `mkoutpost site build` builds
/// them, then `spec`'s edits applied.
pub fn build_site(out: &Path, spec: &SiteSpec) -> Result<Built> {
    let mut built = rehearse::build(&example(SITE_FILE), out, &mut |_| {})?;
    for (name, config) in &spec.configs {
        let dir = out.join(name);
        let dest = dir.join("outpost.toml");
        std::fs::copy(config, &dest)
            .with_context(|| format!("{} over {}", config.display(), dest.display()))?;
        let boot = built
            .boots
            .iter_mut()
            .find(|(n, _)| n == name)
            .with_context(|| format!("no router {name}"))?;
        let report = build::build(
            &BuildOptions {
                config: dest,
                out_dir: dir,
                cpu: boot.1.cpu,
                seed: Seed::Random,
            },
            &mut |_| {},
        )?;
        boot.1.kernel = report.kernel;
        boot.1.initramfs = report.initramfs;
        boot.1.medium = None;
    }
    for g in &mut built.plan.guests {
        if g.name == OFFICE {
            g.memory_mib = spec.office_memory_mib;
        }
    }
    built
        .plan
        .guests
        .retain(|g| spec.machines.contains(&g.name.as_str()));
    Ok(built)
}

/// The running site.
pub struct Site {
    /// The rehearsal's guests and hubs.
    pub running: Running,
    /// When the guests were started.
    pub started: Instant,
    /// How long building (or fetching from the cache) the images took.
    pub build_time: Duration,
    /// From start until every guest said `outpostd: ready` (zero until
    /// [`Site::boot`] or [`Site::wait_all_ready`] waited for it).
    pub ready_time: Duration,
    /// The guests started.
    pub machines: Vec<String>,
}

impl Site {
    /// Builds the images, wires the site in `work`, starts every guest at
    /// once and waits until each says `outpostd: ready` and its shell answers.
    pub fn boot(work: &Path) -> Result<Site> {
        let mut site = Site::start(work, &SiteSpec::new())?;
        site.wait_all_ready()?;
        Ok(site)
    }

    /// Builds the images `spec` asks for, wires the site in `work` and
    /// starts those guests at once; returns while they boot.
    pub fn start(work: &Path, spec: &SiteSpec) -> Result<Site> {
        let t0 = Instant::now();
        let built = build_site(&work.join("out"), spec)?;
        let build_time = t0.elapsed();
        let running = Running::start(&built, work)?;
        let machines = built.plan.guests.iter().map(|g| g.name.clone()).collect();
        Ok(Site {
            started: running.started,
            running,
            build_time,
            ready_time: Duration::ZERO,
            machines,
        })
    }

    /// Waits until every started guest is ready and the test hosts are set up.
    pub fn wait_all_ready(&mut self) -> Result<()> {
        self.running.wait_all_ready()?;
        self.ready_time = self.running.ready_time;
        Ok(())
    }

    /// The guest called `name`.
    pub fn machine(&self, name: &str) -> Result<&Machine> {
        self.running.machine(name)
    }

    /// Waits for `name`'s `outpostd: ready` after console offset `from`,
    /// then for its shell to answer.
    pub fn wait_ready(&self, name: &str, from: usize) -> Result<()> {
        self.running.wait_ready(name, from)
    }

    /// Waits until, after the given console offsets, the office printed
    /// `tunnel up` and the concentrator `peer office1 up`; returns the
    /// office's line.
    pub fn wait_tunnel(&self, office_from: usize, concentrator_from: usize) -> Result<String> {
        let line = wait_after(
            self.machine(OFFICE)?,
            office_from,
            TUNNEL_UP,
            TUNNEL_TIMEOUT,
        )?;
        wait_after(
            self.machine(CONCENTRATOR)?,
            concentrator_from,
            PEER_UP,
            TUNNEL_TIMEOUT,
        )?;
        Ok(line)
    }

    /// Both ways through the tunnel (see [`faults::both_ways`]).
    pub fn both_ways(&self) -> Result<()> {
        faults::both_ways(&self.running, OFFICE)
    }

    /// Shuts every guest down.
    pub fn shutdown(self) -> Result<()> {
        self.running.shutdown()
    }
}
