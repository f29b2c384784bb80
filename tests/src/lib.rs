//! Shared helpers for the end-to-end tests: build an image of an example
//! config (through mkoutpost's library and its cache) and boot it in QEMU
//! with one NIC per interface of its config.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};
use mkoutpost::build::{self, BuildOptions, BuildReport};
use mkoutpost::cpu::Cpu;
use mkoutpost::media::{Format, Seed};
use outpost_qemu::{Drive, Hub, Machine, MachineSpec, Nic};

pub mod bench;
pub use mkoutpost::rehearse::faults;
pub mod site;
// One implementation: the product's rehearsal waits and transfers so.
pub use mkoutpost::rehearse::{transfer, watch};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An example config by its path under `examples/`, e.g. `site/office.toml`.
pub fn example(rel: &str) -> PathBuf {
    repo().join("examples").join(rel)
}

/// Serialises image builds within one test binary: two builds writing the
/// same example's generated keys at once would race.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds `config` for `cpu` into `target/e2e/<name>-<cpu>/` and returns the report.
pub fn build_image(config: &Path, cpu: Cpu) -> Result<BuildReport> {
    let stem = config
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("image");
    let opts = BuildOptions {
        config: config.to_path_buf(),
        out_dir: repo().join("target/e2e").join(format!("{stem}-{cpu}")),
        cpu,
        seed: Seed::Random,
    };
    build_with(&opts, &format!("{stem} {cpu}"))
}

/// Builds with `opts`, one build at a time in this test binary; `tag`
/// prefixes the build's progress lines.
pub fn build_with(opts: &BuildOptions, tag: &str) -> Result<BuildReport> {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    std::fs::create_dir_all(&opts.out_dir)
        .with_context(|| format!("creating {}", opts.out_dir.display()))?;
    build::build(opts, &mut |step| eprintln!("build {tag}: {step}"))
        .with_context(|| format!("building {} for {}", opts.config.display(), opts.cpu))
}

/// A short work directory for a test's sockets (unix socket paths are
/// limited to 108 bytes, so not under the long target directory).
pub fn workdir(test: &str) -> Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("outpost-{test}-{}", std::process::id()));
    if d.exists() {
        std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
    }
    std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    Ok(d)
}

/// A booted single router: the machine and the hubs its NICs sit on.
pub struct Booted {
    /// The guest. Dropped first (field order), so QEMU dies before its links.
    pub machine: Machine,
    /// One single-port hub per interface (nothing else on them).
    pub hubs: Vec<Hub>,
}

/// Boots a built image directly (`-kernel`/`-initrd`) with `memory_mib` of
/// RAM and the image's CPU, one ne2k_pci per config interface.
pub fn boot(report: &BuildReport, name: &str, memory_mib: u32, work: &Path) -> Result<Booted> {
    let spec = MachineSpec::new(name)
        .memory_mib(memory_mib)
        .kernel(&report.kernel)
        .initrd(&report.initramfs)
        .append(format!("{} panic=-1", report.cmdline))
        .no_reboot(true);
    start(report, name, work, spec)
}

/// The example site's office and concentrator booted directly (32 MB
/// each), wired as `examples/site` says: office eth0 on `lan`, eth1 and the
/// concentrator's eth0 on `wan`, its eth1 on `private`. `office_args` are
/// added to the office's kernel command line (e.g. `no387`).
pub fn office_and_concentrator(
    office: &BuildReport,
    concentrator: &BuildReport,
    office_args: &str,
    work: &Path,
) -> Result<outpost_qemu::Topology> {
    let mut t = outpost_qemu::Topology::new(work);
    t.add_hub("lan", 1)?;
    t.add_hub("wan", 2)?;
    t.add_hub("private", 1)?;
    for (name, report, args, nics) in [
        (
            "office",
            office,
            office_args,
            [("eth0", "lan", 0), ("eth1", "wan", 0)],
        ),
        (
            "head",
            concentrator,
            "",
            [("eth0", "wan", 1), ("eth1", "private", 0)],
        ),
    ] {
        let mut spec = MachineSpec::new(name)
            .cpu(report.cpu.qemu_cpu())
            .memory_mib(32)
            .kernel(&report.kernel)
            .initrd(&report.initramfs)
            .append(
                format!("{} panic=-1 {args}", report.cmdline)
                    .trim_end()
                    .to_string(),
            )
            .no_reboot(true);
        for (dev, hub, port) in nics {
            spec = spec.nic(Nic::new(dev, "ne2k_pci", t.hub(hub)?.endpoint(port)?));
        }
        t.start(spec)?;
    }
    Ok(t)
}

/// Starts `spec` with the image's CPU and one ne2k_pci per interface of
/// the image's config, each alone on a single-port hub.
pub fn start(report: &BuildReport, name: &str, work: &Path, spec: MachineSpec) -> Result<Booted> {
    let mut spec = spec.cpu(report.cpu.qemu_cpu());
    let mut hubs = Vec::new();
    for (i, iface) in report.config.interfaces.iter().enumerate() {
        let hub = Hub::new(work, &format!("{name}{i}"), 1)?;
        spec = spec.nic(Nic::new(iface.device.clone(), "ne2k_pci", hub.endpoint(0)?));
        hubs.push(hub);
    }
    let machine = Machine::start(spec, work)?;
    Ok(Booted { machine, hubs })
}

/// `spec` booting from the medium image `disk`: a CF card as the IDE disk
/// (boot `c`), a floppy as drive A; `snapshot` throws the guest's writes away.
pub fn from_medium(spec: MachineSpec, format: Format, disk: &Path, snapshot: bool) -> MachineSpec {
    match format {
        Format::Cf => spec.drive(Drive::ide(disk).snapshot(snapshot)).boot("c"),
        _ => spec.drive(Drive::floppy(disk).snapshot(snapshot)).boot("a"),
    }
}

/// Boots the medium image `disk` itself (the guest's writes stay in it),
/// 32 MB, to `outpostd: ready` and a fresh shell prompt.
pub fn boot_medium(
    report: &BuildReport,
    format: Format,
    disk: &Path,
    name: &str,
    work: &Path,
) -> Result<Booted> {
    let spec = MachineSpec::new(name).memory_mib(32).no_reboot(true);
    let booted = start(report, name, work, from_medium(spec, format, disk, false))?;
    let m = &booted.machine;
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .context("outpostd reports ready")?;
    // The shell printed its prompt before outpostd's lines: ask for a new one.
    m.send_line("")?;
    m.wait_for("# ", CMD_TIMEOUT)
        .context("console shell prompt")?;
    Ok(booted)
}

pub use mkoutpost::rehearse::{BOOT_TIMEOUT, CMD_TIMEOUT};

/// The guest's host name, read through a tag: pppd's and the kernel's
/// console lines (`Connect: vpn0 <--> /dev/pts/0`, a tunnel retrying on an
/// unconnected NIC) can land in the middle of a command's output.
pub fn guest_hostname(m: &Machine) -> Result<String> {
    let out = m.run_ok("echo \"hostname=<$(hostname)>\"", CMD_TIMEOUT)?;
    tagged(&out, "hostname")
        .map(str::to_string)
        .with_context(|| format!("no hostname=<…> in the guest's answer: {out:?}"))
}

/// The value of the last `name=<value>` in `out`.
pub fn tagged<'a>(out: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("{name}=<");
    let start = out.rfind(&open)? + open.len();
    let len = out[start..].find('>')?;
    Some(&out[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::tagged;

    #[test]
    fn tagged_values_survive_interleaved_console_lines() {
        let out = "hostname=<office\nConnect: vpn0 <--> /dev/pts/0\n1>";
        assert_eq!(tagged(out, "hostname"), Some("office\nConnect: vpn0 <--"));
        assert_eq!(tagged("x\nhostname=<cuta>\n", "hostname"), Some("cuta"));
        assert_eq!(tagged("hostname=<cuta", "hostname"), None);
        assert_eq!(tagged("nothing", "hostname"), None);
    }
}
