//! The walking skeleton end to end: an example config built into an image
//! for each CPU, booted under that CPU with 32 MB, and checked on the guest
//! itself: outpostd says it is ready, and the host name and every interface
//! address are the ones the config asks for.

use mkoutpost::cpu::Cpu;
use outpost_tests::{
    boot, build_image, example, guest_hostname, office_and_concentrator, workdir, BOOT_TIMEOUT,
    CMD_TIMEOUT,
};

fn boots_with_its_config(cpu: Cpu) {
    let report = build_image(&example("site/office.toml"), cpu).expect("image builds");
    let work = workdir(&format!("boot-{cpu}")).unwrap();
    let booted = boot(&report, &format!("office-{cpu}"), 32, &work).expect("QEMU starts");
    let m = &booted.machine;
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("outpostd reports ready");
    // The console shell starts beside outpostd (its prompt may come before
    // the ready line): make sure it answers.
    m.run_ok("true", CMD_TIMEOUT)
        .expect("console shell answers");

    assert_eq!(
        guest_hostname(m).unwrap(),
        report.config.system.hostname,
        "the config in force"
    );

    for iface in &report.config.interfaces {
        let want = iface
            .address
            .expect("office interfaces are static")
            .to_string();
        let out = m
            .run_ok(
                &format!("ip -4 -o addr show dev {}", iface.device),
                CMD_TIMEOUT,
            )
            .unwrap();
        assert!(
            out.contains(&format!("inet {want}")),
            "{}: want {want}, guest says:\n{out}",
            iface.device
        );
        let link = m
            .run_ok(
                &format!("ip -o link show dev {}", iface.device),
                CMD_TIMEOUT,
            )
            .unwrap();
        assert!(
            link.contains(",UP") || link.contains("<UP"),
            "{} is not up:\n{link}",
            iface.device
        );
    }
    // The CPU QEMU emulates is the one the image claims.
    let cpuinfo = m
        .run_ok(
            "grep -m1 -E '^(cpu family|model name)' /proc/cpuinfo",
            CMD_TIMEOUT,
        )
        .unwrap();
    match cpu {
        Cpu::I486 => assert!(cpuinfo.contains(": 4"), "not a 486: {cpuinfo}"),
        Cpu::I586 => assert!(cpuinfo.contains(": 5"), "not a Pentium: {cpuinfo}"),
    }
    booted
        .machine
        .shutdown(CMD_TIMEOUT)
        .expect("clean shutdown");
}

#[test]
fn i486_image_boots_under_486_with_32mb() {
    boots_with_its_config(Cpu::I486);
}

#[test]
fn i586_image_boots_under_pentium_with_32mb() {
    boots_with_its_config(Cpu::I586);
}

/// Issue 21: a concentrator whose config omits `host_key_file`
/// (`examples/site/concentrator.toml`) gets its key beside the config, in
/// its image, and serves the hand-written office that pins that key; its
/// status names dropbear serving one peer.
#[test]
fn a_concentrator_without_host_key_file_serves_an_office() {
    let head = example("site/concentrator.toml");
    let text = std::fs::read_to_string(&head).unwrap();
    assert!(!text.contains("\nhost_key_file"), "the example omits it");
    let office = build_image(&example("site/office.toml"), Cpu::I486).expect("office builds");
    let concentrator = build_image(&head, Cpu::I486).expect("concentrator builds");
    let work = workdir("boot-default-key").unwrap();
    let t = office_and_concentrator(&office, &concentrator, "", &work).unwrap();
    let (o, h) = (t.machine("office").unwrap(), t.machine("head").unwrap());
    o.wait_for("outpostd: tunnel up (", BOOT_TIMEOUT)
        .expect("the office's tunnel comes up");
    h.wait_for("outpostd: peer office1 up", BOOT_TIMEOUT)
        .expect("the concentrator serves office1");
    let key = h
        .run_ok(
            "ls /etc/keys/concentrator.ed25519 /boot/keys/concentrator.ed25519 2>/dev/null; true",
            CMD_TIMEOUT,
        )
        .unwrap();
    assert!(
        key.contains("keys/concentrator.ed25519"),
        "the key is in the image: {key}"
    );
    let status = h.run_ok("outpostd status", CMD_TIMEOUT).unwrap();
    assert!(status.contains("dropbear: serving 1 peer,"), "{status}");
}
