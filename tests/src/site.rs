//! The example site (`examples/site/`) as one running topology, shared by the
//! site test, `outpost-demo` and the benchmark: five images built for i486
//! (office router, concentrator and three end hosts), wired as
//!
//! ```text
//! lan-host ─[lan]─ office ══[wan]══ concentrator ─[private]─ private-host
//!                              │
//!                        internet-host
//! ```
//!
//! booted together under `-cpu 486`, and helpers that read the consoles from
//! a given point on (so a line printed while another command ran is not lost).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mkoutpost::build::BuildReport;
use mkoutpost::cpu::Cpu;
use outpost_qemu::{Machine, MachineSpec, Nic, Topology};

pub use crate::watch::{find_line_after, mark, wait_after};
use crate::{build_image, example, BOOT_TIMEOUT, CMD_TIMEOUT};

/// Machine names (also the example config stems).
pub const OFFICE: &str = "office";
/// The head office's concentrator.
pub const CONCENTRATOR: &str = "concentrator";
/// The host on the office LAN (192.168.1.10).
pub const LAN_HOST: &str = "lan-host";
/// The host on the head office's private network (10.0.0.10).
pub const PRIVATE_HOST: &str = "private-host";
/// The host on the WAN standing for the internet (172.16.0.100).
pub const INTERNET_HOST: &str = "internet-host";

/// lan-host's address on the office LAN.
pub const LAN_IP: &str = "192.168.1.10";
/// private-host's address on the head office's private network.
pub const PRIVATE_IP: &str = "10.0.0.10";
/// internet-host's address on the WAN.
pub const INTERNET_IP: &str = "172.16.0.100";
/// The office router's WAN address.
pub const OFFICE_WAN_IP: &str = "172.16.0.2";
/// The concentrator's WAN address.
pub const CONCENTRATOR_WAN_IP: &str = "172.16.0.1";

/// The office's tunnel-up console line (its prefix: the rest names addresses and time).
pub const TUNNEL_UP: &str = "outpostd: tunnel up (";
/// The office's tunnel-down console line prefix.
pub const TUNNEL_DOWN: &str = "outpostd: tunnel down";
/// The concentrator's line when office1's link comes up.
pub const PEER_UP: &str = "outpostd: peer office1 up (vpn-office1)";
/// The concentrator's line when office1's link goes down.
pub const PEER_DOWN: &str = "outpostd: peer office1 down";

/// RAM of every guest but the office router, MiB.
pub const MEMORY_MIB: u32 = 32;

/// RAM of the office router, MiB: the seed's Pentium 75 had 16 MB, and the
/// office image must bring its tunnel up in that (issue 11's RAM claim).
pub const OFFICE_MEMORY_MIB: u32 = 16;

/// How long the tunnel may take to come up after the routers are ready,
/// or to come back after a fault is over (a bound on failure, not a claim).
pub const TUNNEL_TIMEOUT: Duration = Duration::from_secs(180);

/// A NIC: its device (and netdev id), the hub it plugs into, the hub's port.
type Wire = (&'static str, &'static str, usize);

/// Each machine (named as its config's stem) and its NICs.
const WIRING: [(&str, &[Wire]); 5] = [
    (LAN_HOST, &[("eth0", "lan", 0)]),
    (OFFICE, &[("eth0", "lan", 1), ("eth1", "wan", 0)]),
    (CONCENTRATOR, &[("eth0", "wan", 1), ("eth1", "private", 0)]),
    (INTERNET_HOST, &[("eth0", "wan", 2)]),
    (PRIVATE_HOST, &[("eth0", "private", 1)]),
];

/// What of the site to boot, and how. The site test and the demo take
/// [`SiteSpec::new`]; the benchmark varies the office's RAM, boots a subset
/// and swaps in its own concentrator config.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    /// The CPU the images are built for (and QEMU emulates).
    pub cpu: Cpu,
    /// Which machines to start (names from this module); the hubs are
    /// always all three, a missing machine's port stays unplugged.
    pub machines: Vec<&'static str>,
    /// RAM of the office router, MiB.
    pub office_memory_mib: u32,
    /// Configs used instead of `examples/site/<name>.toml`, by machine name.
    pub configs: Vec<(&'static str, PathBuf)>,
}

impl SiteSpec {
    /// The whole example site: five machines, the office with
    /// [`OFFICE_MEMORY_MIB`], every config from `examples/site/`.
    pub fn new(cpu: Cpu) -> Self {
        SiteSpec {
            cpu,
            machines: WIRING.iter().map(|(name, _)| *name).collect(),
            office_memory_mib: OFFICE_MEMORY_MIB,
            configs: Vec::new(),
        }
    }

    /// The config `name` boots with.
    pub fn config(&self, name: &str) -> PathBuf {
        self.configs
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| example(&format!("site/{name}.toml")), |(_, p)| p.clone())
    }

    /// RAM of machine `name`, MiB.
    pub fn memory_mib(&self, name: &str) -> u32 {
        if name == OFFICE {
            self.office_memory_mib
        } else {
            MEMORY_MIB
        }
    }
}

/// The images of the machines `spec` names, in wiring order.
pub fn build_images(spec: &SiteSpec) -> Result<Vec<(&'static str, BuildReport)>> {
    WIRING
        .iter()
        .filter(|(name, _)| spec.machines.contains(name))
        .map(|(name, _)| Ok((*name, build_image(&spec.config(name), spec.cpu)?)))
        .collect()
}

/// The running site.
pub struct Site {
    /// Every guest and hub (hubs `lan`, `wan`, `private`).
    pub topology: Topology,
    /// When the guests were started.
    pub started: Instant,
    /// How long building (or fetching from the cache) the images took.
    pub build_time: Duration,
    /// From start until every guest said `outpostd: ready` (zero until
    /// [`Site::boot`] or [`Site::wait_all_ready`] waited for it).
    pub ready_time: Duration,
    /// The machines started, in wiring order.
    pub machines: Vec<&'static str>,
}

impl Site {
    /// Builds the images for `cpu`, wires the topology in `work`, starts all
    /// five guests at once and waits until each says `outpostd: ready` and
    /// its shell answers.
    pub fn boot(work: &Path, cpu: Cpu) -> Result<Site> {
        let mut site = Site::start(work, &SiteSpec::new(cpu))?;
        site.wait_all_ready()?;
        Ok(site)
    }

    /// Builds the images `spec` asks for, wires the topology in `work` and
    /// starts those guests at once; returns while they boot.
    pub fn start(work: &Path, spec: &SiteSpec) -> Result<Site> {
        let t0 = Instant::now();
        let images = build_images(spec)?;
        let build_time = t0.elapsed();
        let mut topology = Topology::new(work);
        topology.add_hub("lan", 2)?;
        topology.add_hub("wan", 3)?;
        topology.add_hub("private", 2)?;
        let started = Instant::now();
        let mut machines = Vec::new();
        for (name, report) in &images {
            let nics = WIRING
                .iter()
                .find(|(n, _)| n == name)
                .map_or(&[][..], |(_, nics)| *nics);
            let mut spec = MachineSpec::new(*name)
                .cpu(report.cpu.qemu_cpu())
                .memory_mib(spec.memory_mib(name))
                .kernel(&report.kernel)
                .initrd(&report.initramfs)
                .append("console=ttyS0 panic=-1")
                .no_reboot(true);
            for (dev, hub, port) in nics.iter() {
                let endpoint = topology.hub(hub)?.endpoint(*port)?;
                spec = spec.nic(Nic::new(*dev, "ne2k_pci", endpoint));
            }
            topology
                .start(spec)
                .with_context(|| format!("starting {name}"))?;
            machines.push(*name);
        }
        Ok(Site {
            topology,
            started,
            build_time,
            ready_time: Duration::ZERO,
            machines,
        })
    }

    /// Waits until every started guest is ready (see [`Site::wait_ready`])
    /// and records how long that took since start.
    pub fn wait_all_ready(&mut self) -> Result<()> {
        for name in &self.machines {
            self.wait_ready(name, 0)?;
        }
        self.ready_time = self.started.elapsed();
        Ok(())
    }

    /// The guest called `name`.
    pub fn machine(&self, name: &str) -> Result<&Machine> {
        Ok(self.topology.machine(name)?)
    }

    /// Waits for `name`'s `outpostd: ready` line printed after console
    /// offset `from`, then for its shell to answer.
    pub fn wait_ready(&self, name: &str, from: usize) -> Result<()> {
        let m = self.machine(name)?;
        wait_after(m, from, "outpostd: ready", BOOT_TIMEOUT)?;
        // The console shell starts beside outpostd: answered once it runs a command.
        let deadline = Instant::now() + CMD_TIMEOUT;
        loop {
            match m.run("true", Duration::from_secs(5)) {
                Ok(o) if o.status == 0 => return Ok(()),
                _ if Instant::now() >= deadline => {
                    bail!("{name}: the console shell never answered")
                }
                _ => {}
            }
        }
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

    /// Both ways through the tunnel: lan-host reaches private-host and
    /// back, retried while routes settle (30 pings each at most).
    pub fn both_ways(&self) -> Result<()> {
        ping_until(self.machine(LAN_HOST)?, PRIVATE_IP, 30)?;
        ping_until(self.machine(PRIVATE_HOST)?, LAN_IP, 30)?;
        Ok(())
    }

    /// Power-cycles the concentrator (its QEMU killed and started again on
    /// the same links) and waits until it is ready.
    pub fn restart_concentrator(&mut self) -> Result<()> {
        // A restarted machine's console starts empty: offset 0 is its new boot.
        self.topology.restart(CONCENTRATOR)?;
        self.wait_ready(CONCENTRATOR, 0)
    }

    /// Shuts every guest down.
    pub fn shutdown(self) -> Result<()> {
        let mut topology = self.topology;
        let names: Vec<String> = topology
            .machines()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        for name in names {
            topology.take_machine(&name)?.shutdown(CMD_TIMEOUT)?;
        }
        Ok(())
    }
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
    bail!("{}: no answer from {dst} in {tries} pings", m.name())
}
