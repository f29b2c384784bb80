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

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mkoutpost::build::BuildReport;
use mkoutpost::cpu::Cpu;
use outpost_qemu::{Machine, MachineSpec, Nic, Topology};

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

/// The five images of the example site.
pub fn build_images(cpu: Cpu) -> Result<Vec<(&'static str, BuildReport)>> {
    WIRING
        .iter()
        .map(|(name, _)| {
            Ok((
                *name,
                build_image(&example(&format!("site/{name}.toml")), cpu)?,
            ))
        })
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
    /// From start until every guest said `outpostd: ready`.
    pub ready_time: Duration,
}

impl Site {
    /// Builds the images for `cpu`, wires the topology in `work`, starts all
    /// five guests at once and waits until each says `outpostd: ready` and
    /// its shell answers.
    pub fn boot(work: &Path, cpu: Cpu) -> Result<Site> {
        let t0 = Instant::now();
        let images = build_images(cpu)?;
        let build_time = t0.elapsed();
        let mut topology = Topology::new(work);
        topology.add_hub("lan", 2)?;
        topology.add_hub("wan", 3)?;
        topology.add_hub("private", 2)?;
        let started = Instant::now();
        for ((name, nics), (_, report)) in WIRING.iter().zip(&images) {
            let mut spec = MachineSpec::new(*name)
                .cpu(report.cpu.qemu_cpu())
                .memory_mib(if *name == OFFICE {
                    OFFICE_MEMORY_MIB
                } else {
                    MEMORY_MIB
                })
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
        }
        let site = Site {
            topology,
            started,
            build_time,
            ready_time: Duration::ZERO,
        };
        for (name, _) in WIRING.iter() {
            site.wait_ready(name, 0)?;
        }
        Ok(Site {
            ready_time: started.elapsed(),
            ..site
        })
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

/// Where `m`'s console transcript ends now: pass it to [`wait_after`] to
/// see only what is printed from here on.
pub fn mark(m: &Machine) -> usize {
    m.console().transcript().len()
}

/// Waits until a line containing `needle` appears in `m`'s console after
/// byte offset `from`, and returns that line. Reads the transcript rather
/// than the console's match cursor, so a line printed while a command ran
/// still counts.
pub fn wait_after(m: &Machine, from: usize, needle: &str, timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let text = m.console().transcript();
        if let Some(line) = find_line_after(&text, from, needle) {
            return Ok(line);
        }
        if m.console().is_closed() {
            bail!(
                "{}: console closed before {needle:?}\n{}",
                m.name(),
                m.console().tail(40)
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "{}: no {needle:?} within {} s\n{}",
                m.name(),
                timeout.as_secs(),
                m.console().tail(40)
            );
        }
        // The console offers no notification for arbitrary offsets; a
        // quarter second is far below anything measured here.
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The first line of `text` containing `needle` that starts at or after `from`
/// (a line that straddles `from` also counts when the needle lies after it).
pub fn find_line_after(text: &str, from: usize, needle: &str) -> Option<String> {
    let start = floor_char_boundary(text, from.min(text.len()));
    let at = text[start..].find(needle)? + start;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| i + at);
    Some(
        text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string(),
    )
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_lines_after_the_offset() {
        let t = "a tunnel up (x)\r\nb\nc tunnel up (y)\n";
        assert_eq!(
            find_line_after(t, 0, "tunnel up"),
            Some("a tunnel up (x)".into())
        );
        assert_eq!(
            find_line_after(t, 5, "tunnel up"),
            Some("c tunnel up (y)".into())
        );
        assert_eq!(find_line_after(t, 30, "tunnel up"), None);
        assert_eq!(find_line_after(t, 999, "b"), None);
    }
}
