//! The rehearsal's network, running: a hub per segment of the plan, every
//! guest started at once on its hubs (routers from their medium when the
//! site flashes one, snapshot so the image files stay as built), then
//! waited for: `outpostd: ready` and an answering shell on each, the test
//! hosts' extra addresses and forwarding, every tunnel up.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use outpost_core::site::rehearsal::{GuestKind, Plan};
use outpost_qemu::{Drive, Machine, MachineSpec, Nic, Topology};

use super::watch::{watch, Needle};
use super::{peer_up, Built, BOOT_TIMEOUT, CMD_TIMEOUT, TUNNEL_TIMEOUT, TUNNEL_UP};
use crate::media::Format;
use crate::site::Boot;

/// Writes busybox dnsd's table of `records` and starts it (daemonized):
/// the rehearsal's DNS server for the concentrator's name.
pub fn dnsd_command(records: &[(String, std::net::Ipv4Addr)]) -> String {
    let table: String = records.iter().map(|(n, a)| format!("{n} {a}\\n")).collect();
    format!("printf '{table}' > /etc/dnsd.conf && dnsd -d -c /etc/dnsd.conf")
}

/// What a guest's outpostd prints once a DHCP lease is applied.
pub const DHCP_LEASE: &str = "DHCP lease";

/// The NIC model every guest gets: the one every image's kernel drives.
pub const NIC_MODEL: &str = "ne2k_pci";
/// The IRQ an ISA card without `irq` is given in the rehearsal (its
/// driver probes for it): QEMU's `ne2k_isa` default, free on `pc`.
const ISA_DEFAULT_IRQ: u8 = 9;

/// A rehearsal's guests and hubs, owned together: dropping it kills every
/// guest (each prints its console tail if the thread is panicking).
pub struct Running {
    /// The plan it runs.
    pub plan: Plan,
    /// Guests and hubs.
    pub topology: Topology,
    /// When the guests were started.
    pub started: Instant,
    /// From start until every guest was ready.
    pub ready_time: Duration,
    /// From start until every tunnel was up.
    pub tunnels_time: Duration,
}

/// `spec` with `boot`'s image: from its medium (CF as the IDE disk, a
/// floppy as drive A; `snapshot` keeps the guest's writes out of the file)
/// or straight from the kernel and initramfs.
pub fn with_image(spec: MachineSpec, boot: &Boot, snapshot: bool) -> MachineSpec {
    let spec = spec.cpu(boot.cpu.qemu_cpu());
    match &boot.medium {
        Some((Format::Cf, disk)) => spec.drive(Drive::ide(disk).snapshot(snapshot)).boot("c"),
        Some((_, disk)) => spec.drive(Drive::floppy(disk).snapshot(snapshot)).boot("a"),
        None => spec
            .kernel(&boot.kernel)
            .initrd(&boot.initramfs)
            // The medium's command line; a panic stops the guest (-no-reboot).
            .append(format!("{} panic=-1", boot.cmdline)),
    }
}

impl Running {
    /// Wires the plan in `work` and starts every guest at once; returns
    /// while they boot.
    pub fn start(built: &Built, work: &Path) -> Result<Running> {
        let plan = built.plan.clone();
        let mut topology = Topology::new(work);
        for s in &plan.segments {
            topology.add_hub(&s.name, s.ports)?;
        }
        let started = Instant::now();
        for g in &plan.guests {
            let boot = built.boot(&g.name)?;
            let mut spec = with_image(
                MachineSpec::new(&g.name)
                    .memory_mib(g.memory_mib)
                    .no_reboot(true),
                boot,
                true,
            );
            for w in &g.nics {
                let endpoint = topology.hub(&w.segment)?.endpoint(w.port)?;
                // An ISA card where the site file places one (QEMU's pc
                // has ISA slots too), so its io/irq entries are rehearsed.
                let mut nic = match w.isa {
                    Some(isa) => Nic::new(&w.device, "ne2k_isa", endpoint).props(format!(
                        "iobase={:#x},irq={}",
                        isa.io,
                        isa.irq.unwrap_or(ISA_DEFAULT_IRQ)
                    )),
                    None => Nic::new(&w.device, NIC_MODEL, endpoint),
                };
                if let Some(mac) = &w.mac {
                    nic = nic.mac(mac);
                }
                spec = spec.nic(nic);
            }
            topology
                .start(spec)
                .with_context(|| format!("starting {}", g.name))?;
        }
        Ok(Running {
            plan,
            topology,
            started,
            ready_time: Duration::ZERO,
            tunnels_time: Duration::ZERO,
        })
    }

    /// The guest called `name`.
    pub fn machine(&self, name: &str) -> Result<&Machine> {
        Ok(self.topology.machine(name)?)
    }

    /// The concentrator's name (the plan's first guest).
    pub fn concentrator(&self) -> &str {
        &self.plan.guests[0].name
    }

    /// The guests that dial the concentrator: offices and home stand-ins.
    pub fn dialling(&self) -> Vec<String> {
        self.plan
            .guests
            .iter()
            .skip(1)
            .filter(|g| {
                matches!(g.kind, GuestKind::Home { .. }) || (matches!(g.kind, GuestKind::Router))
            })
            .map(|g| g.name.clone())
            .collect()
    }

    /// The account a dialling guest has on the concentrator.
    pub fn account(&self, guest: &str) -> String {
        guest.strip_prefix("home-").unwrap_or(guest).to_string()
    }

    /// Waits until every guest is ready, then sets up the test hosts.
    pub fn wait_all_ready(&mut self) -> Result<()> {
        let names: Vec<String> = self.plan.guests.iter().map(|g| g.name.clone()).collect();
        for name in &names {
            self.wait_ready(name, 0)?;
        }
        self.ready_time = self.started.elapsed();
        for g in self.plan.guests.clone() {
            if let GuestKind::Host {
                extra,
                forwards,
                dhcp,
                dns_records,
                ..
            } = &g.kind
            {
                let m = self.machine(&g.name)?;
                if !dns_records.is_empty() {
                    m.run_ok(&dnsd_command(dns_records), CMD_TIMEOUT)
                        .with_context(|| format!("{}: starting dnsd", g.name))?;
                }
                if *dhcp {
                    // Its router's DHCP server may start after it asked.
                    watch(
                        &[Needle::new(m, 0, DHCP_LEASE)],
                        &[],
                        Instant::now(),
                        TUNNEL_TIMEOUT,
                    )
                    .with_context(|| format!("{}: a DHCP lease", g.name))?;
                }
                for a in extra {
                    m.run_ok(&format!("ip addr add {a} dev eth0"), CMD_TIMEOUT)
                        .with_context(|| format!("{}: adding {a}", g.name))?;
                }
                if *forwards {
                    m.run_ok("echo 1 > /proc/sys/net/ipv4/ip_forward", CMD_TIMEOUT)
                        .with_context(|| format!("{}: forwarding on", g.name))?;
                }
            }
        }
        Ok(())
    }

    /// Waits for `name`'s `outpostd: ready` line printed after console
    /// offset `from`, then for its shell to answer.
    pub fn wait_ready(&self, name: &str, from: usize) -> Result<()> {
        let m = self.machine(name)?;
        watch(
            &[Needle::new(m, from, "outpostd: ready")],
            &[],
            Instant::now(),
            BOOT_TIMEOUT,
        )?;
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

    /// Waits until every dialling guest printed `tunnel up` and the
    /// concentrator `peer NAME up` for each, after the given offsets
    /// (`from(guest)`); records the time since start.
    pub fn wait_tunnels(&mut self, from: &dyn Fn(&str) -> usize) -> Result<()> {
        let head = self.machine(self.concentrator())?;
        let dialling = self.dialling();
        let peer_lines: Vec<String> = dialling.iter().map(|d| peer_up(&self.account(d))).collect();
        let mut needles = Vec::new();
        for (d, line) in dialling.iter().zip(&peer_lines) {
            needles.push(Needle::new(self.machine(d)?, from(d), TUNNEL_UP));
            needles.push(Needle::new(head, from(self.concentrator()), line));
        }
        watch(&needles, &[], Instant::now(), TUNNEL_TIMEOUT).context("every tunnel up")?;
        self.tunnels_time = self.started.elapsed();
        Ok(())
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
