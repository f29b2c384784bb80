//! The ISA proof: every binary an image ships runs under `qemu-i386` with
//! the CPU it claims (`-cpu 486` for the i486 build, `-cpu pentium` for
//! i586), and `file` sees a static 32-bit ELF. qemu-user raises SIGILL on
//! any instruction that CPU lacks, so a Pentium-only instruction fails here.

use std::path::Path;
use std::process::Command;

use mkoutpost::cache::Cache;
use mkoutpost::cpu::Cpu;
use mkoutpost::{agent, busybox, dropbear, pppd};

/// Runs `bin` (as `argv0`) under qemu-i386 for `cpu`; returns stdout+stderr.
fn run(cpu: Cpu, bin: &Path, argv0: &str, args: &[&str]) -> String {
    let out = Command::new("qemu-i386")
        .args(["-cpu", cpu.qemu_cpu(), "-0", argv0])
        .arg(bin)
        .args(args)
        .output()
        .expect("qemu-i386 is installed by make deps");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{argv0} {args:?} under qemu-i386 -cpu {} failed ({}):\n{text}",
        cpu.qemu_cpu(),
        out.status
    );
    text
}

fn assert_static_elf32(bin: &Path) {
    let out = Command::new("file")
        .arg("-L")
        .arg(bin)
        .output()
        .expect("file is installed");
    let desc = String::from_utf8_lossy(&out.stdout);
    assert!(desc.contains("ELF 32-bit LSB"), "{desc}");
    assert!(
        desc.contains("Intel 80386") || desc.contains("Intel i386"),
        "{desc}"
    );
    assert!(
        desc.contains("statically linked") || desc.contains("static-pie linked"),
        "{desc}"
    );
}

fn every_binary_runs_on(cpu: Cpu) {
    let cache = Cache::open_default().unwrap();

    let bb = busybox::build(&cache, cpu).unwrap();
    assert_static_elf32(&bb);
    assert_eq!(run(cpu, &bb, "echo", &["ok"]).trim(), "ok");
    let sh = run(
        cpu,
        &bb,
        "sh",
        &["-c", "x=$((6*7)); echo $x; sleep 1; echo slept"],
    );
    assert_eq!(sh.lines().collect::<Vec<_>>(), ["42", "slept"]);
    assert!(run(cpu, &bb, "awk", &["BEGIN { printf \"%d\\n\", 2^10 }"]).contains("1024"));

    let od = agent::build_outpostd(&cache, cpu).unwrap();
    assert_static_elf32(&od);
    assert!(run(cpu, &od, "outpostd", &["--version"]).contains("outpostd"));
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/site/lan-host.toml");
    let check = run(
        cpu,
        &od,
        "outpostd",
        &["check-config", cfg.to_str().unwrap()],
    );
    assert!(check.contains("ok"), "{check}");

    let ppp = pppd::build(&cache, cpu).unwrap();
    assert_static_elf32(&ppp);
    assert!(run(cpu, &ppp, "pppd", &["--version"]).contains("2.4.9"));
    // The PPPoE plugin is linked in: its options parse (pppd then stops
    // for want of a device), where a pppd without it says `unrecognized
    // option 'rp_pppoe_service'`. (Its device names, `nic-eth1`, are
    // recognised only for a NIC the machine has.)
    let out = Command::new("qemu-i386")
        .args(["-cpu", cpu.qemu_cpu(), "-0", "pppd"])
        .arg(&ppp)
        .args(["dryrun", "rp_pppoe_service", "isp"])
        .output()
        .unwrap();
    let pppoe = String::from_utf8_lossy(&out.stderr);
    assert!(
        !pppoe.contains("unrecognized option") && pppoe.contains("no device specified"),
        "pppd without its PPPoE plugin:\n{pppoe}"
    );

    for programs in [
        &["dbclient", "dropbearkey"][..],
        &["dropbear", "dbclient", "dropbearkey"][..],
    ] {
        let db = dropbear::build(&cache, cpu, programs).unwrap();
        assert_static_elf32(&db);
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let made = run(
            cpu,
            &db,
            "dropbearkey",
            &["-t", "ed25519", "-f", key.to_str().unwrap()],
        );
        assert!(made.contains("ssh-ed25519 "), "{made}");
        let help = Command::new("qemu-i386")
            .args(["-cpu", cpu.qemu_cpu(), "-0", "dbclient"])
            .arg(&db)
            .arg("-h")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&help.stderr);
        assert!(
            text.contains("Dropbear SSH client"),
            "dbclient -h said: {text}"
        );
    }
}

#[test]
fn i486_binaries_run_on_a_486() {
    every_binary_runs_on(Cpu::I486);
}

#[test]
fn i586_binaries_run_on_a_pentium() {
    every_binary_runs_on(Cpu::I586);
}
