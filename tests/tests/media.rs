//! Boot media end to end: the office example built into each format
//! (`-kernel`/`-initrd`, 2.88 MB floppy, CF disk; the 1.44 MB floppy is
//! refused with the shortfall), booted under `-cpu 486 -m 32` from the
//! medium through SYSLINUX to `outpostd: ready`, the guest reading the
//! medium back; and two builds with the same inputs, `SOURCE_DATE_EPOCH`
//! and seed compared byte for byte (initramfs and every medium).

use std::path::{Path, PathBuf};

use mkoutpost::build::{self, BuildOptions, BuildReport};
use mkoutpost::cpu::Cpu;
use mkoutpost::media::{self, Format, Seed};
use outpost_qemu::{Drive, Hub, Machine, MachineSpec, Nic};
use outpost_tests::{example, repo, workdir, BOOT_TIMEOUT, CMD_TIMEOUT};

/// Every build in this file uses the same date, so tests running in
/// parallel agree on the environment they share.
const EPOCH: &str = "1700000000";

/// Builds in this binary one at a time: on a bare machine the first one
/// generates the example's keys, and two at once would race on them.
static BUILD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn build_into(out: &str) -> (BuildOptions, BuildReport) {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY of the shared environment: every test sets the same value.
    std::env::set_var("SOURCE_DATE_EPOCH", EPOCH);
    let out_dir = repo().join("target/e2e").join(out);
    std::fs::create_dir_all(&out_dir).unwrap();
    // A fixed seed for the initramfs too, so two builds compare whole.
    let opts = BuildOptions {
        config: example("site/office.toml"),
        seed: Seed::File(fixed_seed(&out_dir)),
        out_dir,
        cpu: Cpu::I486,
    };
    let report = build::build(&opts, &mut |s| eprintln!("build {out}: {s}")).expect("image builds");
    (opts, report)
}

/// A fixed seed file, so two builds can be compared whole.
fn fixed_seed(dir: &Path) -> PathBuf {
    let p = dir.join("test.seed");
    std::fs::write(
        &p,
        (0..media::SEED_BYTES)
            .map(|i| (i * 7) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    p
}

/// The office guest with one NIC per interface on single-port hubs.
fn start(report: &BuildReport, name: &str, work: &Path, spec: MachineSpec) -> (Machine, Vec<Hub>) {
    let mut spec = spec
        .cpu(report.cpu.qemu_cpu())
        .memory_mib(32)
        .no_reboot(true);
    let mut hubs = Vec::new();
    for (i, iface) in report.config.interfaces.iter().enumerate() {
        let hub = Hub::new(work, &format!("{name}{i}"), 1).unwrap();
        spec = spec.nic(Nic::new(
            iface.device.clone(),
            "ne2k_pci",
            hub.endpoint(0).unwrap(),
        ));
        hubs.push(hub);
    }
    (Machine::start(spec, work).expect("QEMU starts"), hubs)
}

/// Boots `format` from its medium and checks what can be checked on the guest.
fn boots_from(format: Format, device: &str) {
    let (opts, report) = build_into(&format!("media-{format}"));
    let work = workdir(&format!("media-{format}")).unwrap();
    let medium = media::for_build(&opts, &report, format, Seed::Random)
        .expect("medium written")
        .expect("a medium format");
    eprintln!("{}", medium.report_line());
    let spec = MachineSpec::new(format.name());
    let spec = match format {
        Format::Cf => spec
            .drive(Drive::ide(&medium.path).snapshot(true))
            .boot("c"),
        _ => spec
            .drive(Drive::floppy(&medium.path).snapshot(true))
            .boot("a"),
    };
    let (m, _hubs) = start(&report, format.name(), &work, spec);
    m.wait_for("SYSLINUX 6", BOOT_TIMEOUT)
        .expect("SYSLINUX starts from the medium");
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("outpostd reports ready");
    m.wait_for("# ", CMD_TIMEOUT).expect("console shell prompt");

    // The kernel is the medium's (SYSLINUX names the file it loaded).
    let cmdline = m.run_ok("cat /proc/cmdline", CMD_TIMEOUT).unwrap();
    assert!(cmdline.contains("BOOT_IMAGE=/bzImage"), "{cmdline}");
    // The guest's kernel reads the medium: the config on it is the user's
    // file byte for byte, and the entropy seed is there.
    m.run_ok(
        &format!("mkdir -p /mnt/m && mount -t vfat -o ro {device} /mnt/m"),
        CMD_TIMEOUT,
    )
    .unwrap_or_else(|e| panic!("mounting {device}: {e}"));
    let sum = m
        .run_ok("sha256sum /mnt/m/outpost.toml /mnt/m/bzImage", CMD_TIMEOUT)
        .unwrap();
    let host = std::process::Command::new("sha256sum")
        .arg(&opts.config)
        .arg(&report.kernel)
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&host.stdout);
    for (g, h) in sum.lines().zip(host.lines()) {
        assert_eq!(
            g.split_whitespace().next(),
            h.split_whitespace().next(),
            "{g} vs {h}"
        );
    }
    let seed = m
        .run_ok(&format!("wc -c < /mnt/m/{}", media::SEED_FILE), CMD_TIMEOUT)
        .unwrap();
    assert_eq!(seed.trim(), media::SEED_BYTES.to_string());
    let hostname = m.run_ok("hostname", CMD_TIMEOUT).unwrap();
    assert_eq!(hostname.trim(), report.config.system.hostname);
    m.shutdown(CMD_TIMEOUT).expect("clean shutdown");
}

#[test]
fn floppy2880_boots_under_486_from_the_floppy() {
    boots_from(Format::Floppy2880, "/dev/fd0");
}

#[test]
fn cf_disk_boots_under_486_from_ide() {
    boots_from(Format::Cf, "/dev/sda1");
}

#[test]
fn kernel_pair_boots_under_486() {
    let (opts, report) = build_into("media-kernel");
    assert!(
        media::for_build(&opts, &report, Format::Kernel, Seed::Random)
            .unwrap()
            .is_none()
    );
    let work = workdir("media-kernel").unwrap();
    let spec = MachineSpec::new("pair")
        .kernel(&report.kernel)
        .initrd(&report.initramfs)
        .append("console=ttyS0 panic=5");
    let (m, _hubs) = start(&report, "pair", &work, spec);
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("outpostd reports ready");
    m.wait_for("# ", CMD_TIMEOUT).expect("console shell prompt");
    let hostname = m.run_ok("hostname", CMD_TIMEOUT).unwrap();
    assert_eq!(hostname.trim(), report.config.system.hostname);
    m.shutdown(CMD_TIMEOUT).expect("clean shutdown");
}

#[test]
fn the_office_image_is_refused_on_a_1440_floppy_with_the_shortfall() {
    let (opts, report) = build_into("media-floppy1440");
    let e = media::for_build(&opts, &report, Format::Floppy1440, Seed::Random)
        .unwrap_err()
        .to_string();
    assert!(e.contains("office1 does not fit a 1.44 MB floppy"), "{e}");
    assert!(
        e.contains("too many") && e.contains("--format floppy2880 or cf"),
        "{e}"
    );
    assert!(!opts.out_dir.join("floppy1440.img").exists());
}

#[test]
fn same_inputs_same_epoch_same_seed_give_identical_bytes() {
    let (opts_a, a) = build_into("media-repro-a");
    let (opts_b, b) = build_into("media-repro-b");
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(
        read(&a.initramfs) == read(&b.initramfs),
        "initramfs differs"
    );
    assert!(read(&a.kernel) == read(&b.kernel), "kernel differs");
    let seed = fixed_seed(&opts_a.out_dir);
    for format in [Format::Floppy2880, Format::Cf] {
        let ma = media::for_build(&opts_a, &a, format, Seed::File(seed.clone()))
            .unwrap()
            .unwrap();
        // FAT dates have a 2-second grain: let the clock move past one.
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let mb = media::for_build(&opts_b, &b, format, Seed::File(seed.clone()))
            .unwrap()
            .unwrap();
        assert!(read(&ma.path) == read(&mb.path), "{format} images differ");
    }
    // Without a seed file every image gets its own seed.
    let ma = media::for_build(&opts_a, &a, Format::Cf, Seed::Random)
        .unwrap()
        .unwrap();
    let mb = media::for_build(&opts_b, &b, Format::Cf, Seed::Random)
        .unwrap()
        .unwrap();
    assert!(
        read(&ma.path) != read(&mb.path),
        "two random seeds are the same"
    );
}
