//! Boot media end to end: the office example built into each format
//! (`-kernel`/`-initrd`, 2.88 MB floppy, CF disk; the 1.44 MB floppy is
//! refused with the shortfall), booted under `-cpu 486 -m 32` from the
//! medium through SYSLINUX to `outpostd: ready`, the guest reading the
//! medium back; and two builds with the same inputs, `SOURCE_DATE_EPOCH`
//! and seed compared byte for byte (initramfs and every medium). The config
//! on the medium is the one in force: one saved on the guest with
//! `outpostd save` is in force after a cold restart from the same disk
//! file, and a broken one falls back to `outpost.toml.bak` with
//! file:line:column on the console and a working shell.

use std::path::{Path, PathBuf};

use mkoutpost::build::{BuildOptions, BuildReport};
use mkoutpost::cpu::Cpu;
use mkoutpost::media::{self, Format, Seed};
use outpost_qemu::{Hub, Machine, MachineSpec};
use outpost_tests::{
    boot_medium, build_with, example, from_medium, guest_hostname, repo, workdir, BOOT_TIMEOUT,
    CMD_TIMEOUT,
};

/// Every build in this file uses the same date, so tests running in
/// parallel agree on the environment they share.
const EPOCH: &str = "1700000000";

fn build_into(out: &str) -> (BuildOptions, BuildReport) {
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
    let report = build_with(&opts, out).expect("image builds");
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

/// The office guest (32 MB, no reboot) with one NIC per interface on
/// single-port hubs.
fn start(report: &BuildReport, name: &str, work: &Path, spec: MachineSpec) -> (Machine, Vec<Hub>) {
    let booted = outpost_tests::start(report, name, work, spec.memory_mib(32).no_reboot(true))
        .expect("QEMU starts");
    (booted.machine, booted.hubs)
}

/// Boots `format` from its medium and checks what can be checked on the guest.
fn boots_from(format: Format, device: &str) {
    let (opts, report) = build_into(&format!("media-{format}"));
    let work = workdir(&format!("media-{format}")).unwrap();
    let medium = media::for_build(&opts, &report, format, Seed::Random)
        .expect("medium written")
        .expect("a medium format");
    eprintln!("{}", medium.report_line());
    let spec = from_medium(MachineSpec::new(format.name()), format, &medium.path, true);
    let (m, _hubs) = start(&report, format.name(), &work, spec);
    m.wait_for("SYSLINUX 6", BOOT_TIMEOUT)
        .expect("SYSLINUX starts from the medium");
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("outpostd reports ready");
    // The shell's prompt may come before the ready line: make sure it answers.
    m.run_ok("true", CMD_TIMEOUT)
        .expect("console shell answers");

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
    // Only the checksum lines: the office's tunnel retries (pppd's lines)
    // may interleave with the output.
    let guest_sums: Vec<&str> = sum
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect();
    assert_eq!(guest_sums.len(), 2, "guest printed:\n{sum}");
    for (g, h) in guest_sums.iter().zip(host.lines()) {
        assert_eq!(
            g.split_whitespace().next(),
            h.split_whitespace().next(),
            "{g} vs {h}"
        );
    }
    let seed = m
        .run_ok(
            &format!("echo \"seed=<$(wc -c < /mnt/m/{})>\"", media::SEED_FILE),
            CMD_TIMEOUT,
        )
        .unwrap();
    let want = format!("seed=<{}>", media::SEED_BYTES);
    assert!(seed.contains(&want), "want {want}, guest says:\n{seed}");
    assert_eq!(guest_hostname(&m).unwrap(), report.config.system.hostname);
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
        .append(&report.cmdline);
    let (m, _hubs) = start(&report, "pair", &work, spec);
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("outpostd reports ready");
    m.run_ok("true", CMD_TIMEOUT)
        .expect("console shell answers");
    assert_eq!(guest_hostname(&m).unwrap(), report.config.system.hostname);
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

/// A private copy of `format`'s medium, written to by the guest (no snapshot).
fn writable_medium(format: Format, test: &str) -> (BuildReport, PathBuf, PathBuf) {
    let (opts, report) = build_into(&format!("media-{format}"));
    let work = workdir(test).unwrap();
    let medium = media::for_build(&opts, &report, format, Seed::Random)
        .expect("medium written")
        .expect("a medium format");
    let disk = work.join(format!("{test}.img"));
    std::fs::copy(&medium.path, &disk).unwrap();
    (report, work, disk)
}

/// Boots the disk file itself (changes stay in it) to `outpostd: ready`.
fn boot_disk(
    report: &BuildReport,
    format: Format,
    disk: &Path,
    name: &str,
    work: &Path,
) -> (Machine, Vec<Hub>) {
    let booted = boot_medium(report, format, disk, name, work).expect("boots from the medium");
    (booted.machine, booted.hubs)
}

/// `outpostd save FILE` on the guest, then a cold restart from the same disk
/// file: the saved config (another host name) is the one in force, and the
/// previous one is the medium's `.bak`.
fn saved_config_is_in_force_after_restart(format: Format) {
    let test = format!("saved-{format}");
    let (report, work, disk) = writable_medium(format, &test);
    let (m, _hubs) = boot_disk(&report, format, &disk, &format!("{test}-1"), &work);
    assert!(
        m.console()
            .transcript()
            .contains("config in force: /boot/outpost.toml (the boot medium's config)"),
        "the medium's config is in force at the first boot"
    );
    assert_eq!(guest_hostname(&m).unwrap(), report.config.system.hostname);
    m.run_ok(
        "sed 's/^hostname = .*/hostname = \"branch9\"/' /boot/outpost.toml > /tmp/new.toml",
        CMD_TIMEOUT,
    )
    .unwrap();
    let out = m
        .run_ok("outpostd save /tmp/new.toml", CMD_TIMEOUT)
        .unwrap();
    eprintln!("outpostd save: {out}");
    assert!(
        out.contains("saved ") && out.contains("/boot/outpost.toml"),
        "{out}"
    );
    assert_eq!(guest_hostname(&m).unwrap(), "branch9", "applied at once");
    // Back read-only after the save.
    let mounts = m
        .run_ok("grep ' /boot ' /proc/mounts", CMD_TIMEOUT)
        .unwrap();
    assert!(mounts.contains(" ro,"), "{mounts}");
    // A broken file is refused, and the medium keeps the saved one.
    m.run_ok("echo '[system' > /tmp/bad.toml", CMD_TIMEOUT)
        .unwrap();
    let bad = m.run("outpostd save /tmp/bad.toml", CMD_TIMEOUT).unwrap();
    assert_ne!(bad.status, 0, "{bad:?}");
    assert!(bad.stdout.contains("/tmp/bad.toml:1:"), "{bad:?}");
    let mut m = m;
    m.send_line("reboot -f").unwrap();
    m.wait_exit(CMD_TIMEOUT)
        .expect("QEMU ends on the guest's reboot (-no-reboot)");
    drop(m);

    let (m, _hubs2) = boot_disk(&report, format, &disk, &format!("{test}-2"), &work);
    let t = m.console().transcript();
    assert!(
        t.contains("config in force: /boot/outpost.toml (the boot medium's config)"),
        "{t}"
    );
    assert_eq!(guest_hostname(&m).unwrap(), "branch9");
    let bak = m
        .run_ok("grep '^hostname' /boot/outpost.toml.bak", CMD_TIMEOUT)
        .unwrap();
    assert!(bak.contains(&report.config.system.hostname), "{bak}");
    m.shutdown(CMD_TIMEOUT).expect("clean shutdown");
}

#[test]
fn floppy2880_saved_config_is_in_force_after_restart() {
    saved_config_is_in_force_after_restart(Format::Floppy2880);
}

#[test]
fn cf_saved_config_is_in_force_after_restart() {
    saved_config_is_in_force_after_restart(Format::Cf);
}

/// A syntactically broken `outpost.toml` put on the medium from the host
/// (mtools): the box boots, says where the error is, runs the `.bak`.
#[test]
fn broken_config_on_the_medium_falls_back_to_the_bak() {
    let format = Format::Floppy2880;
    let (report, work, disk) = writable_medium(format, "broken");
    let good = std::fs::read_to_string(example("site/office.toml")).unwrap();
    let bak = good.replace("hostname = \"office1\"", "hostname = \"lastgood\"");
    assert_ne!(bak, good);
    let broken = good.replace("hostname = \"office1\"", "hostname = \"office1");
    std::fs::write(work.join("outpost.toml"), &broken).unwrap();
    std::fs::write(work.join("outpost.toml.bak"), &bak).unwrap();
    for f in ["outpost.toml", "outpost.toml.bak"] {
        let st = std::process::Command::new("mcopy")
            .arg("-o")
            .arg("-i")
            .arg(&disk)
            .arg(work.join(f))
            .arg(format!("::{f}"))
            .status()
            .unwrap();
        assert!(st.success(), "mcopy {f}");
    }
    let (m, _hubs) = boot_disk(&report, format, &disk, "broken", &work);
    let t = m.console().transcript();
    assert!(t.contains("/boot/outpost.toml not used:"), "{t}");
    assert!(
        t.contains("/boot/outpost.toml:5:"),
        "file:line:column on the console: {t}"
    );
    assert!(t.contains("config in force: /boot/outpost.toml.bak"), "{t}");
    assert_eq!(guest_hostname(&m).unwrap(), "lastgood");
    let status = m.run_ok("outpostd status", CMD_TIMEOUT).unwrap();
    assert!(
        status.contains("config: /boot/outpost.toml.bak"),
        "{status}"
    );
    m.shutdown(CMD_TIMEOUT).expect("clean shutdown");
}
