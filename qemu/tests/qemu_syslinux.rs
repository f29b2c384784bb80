//! The harness against a real `qemu-system-i386` (TCG, `-cpu 486`) without
//! a guest kernel: a SYSLINUX floppy whose boot prompt is on the serial
//! port. It proves spawning, the console both ways, the monitor, links,
//! reset, shutdown through the guest (`reboot -f` under `-no-reboot`) and
//! killing on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use outpost_qemu::{Drive, HarnessError, Hub, Machine, MachineSpec, Nic, Topology};

const T: Duration = Duration::from_secs(60);

/// A 1.44 MB SYSLINUX floppy: prompt on COM1, label `reboot` resets the machine.
fn syslinux_floppy(dir: &Path) -> PathBuf {
    let img = dir.join("syslinux.img");
    let cfg = dir.join("syslinux.cfg");
    std::fs::write(
        &cfg,
        "SERIAL 0 115200\nPROMPT 1\nTIMEOUT 0\nDEFAULT nothing\nLABEL reboot\n  COM32 reboot.c32\n",
    )
    .unwrap();
    let modules = Path::new("/usr/lib/syslinux/modules/bios");
    let run = |cmd: &mut Command| {
        let st = cmd
            .status()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (run scripts/bootstrap.sh)"));
        assert!(st.success(), "{cmd:?}: {st}");
    };
    run(Command::new("mformat")
        .args(["-C", "-f", "1440", "-v", "TEST", "-i"])
        .arg(&img)
        .arg("::"));
    run(Command::new("syslinux").arg("--install").arg(&img));
    run(Command::new("mcopy")
        .arg("-i")
        .arg(&img)
        .arg(&cfg)
        .arg(modules.join("reboot.c32"))
        .arg(modules.join("libcom32.c32"))
        .arg("::"));
    img
}

fn spec(name: &str, floppy: &Path) -> MachineSpec {
    MachineSpec::new(name)
        .cpu("486")
        .memory_mib(16)
        .drive(Drive::floppy(floppy).snapshot(true))
        .boot("a")
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn boots_talks_resets_and_shuts_down_through_the_guest() {
    let dir = tempfile::tempdir().unwrap();
    let floppy = syslinux_floppy(dir.path());
    let hub = Hub::point_to_point(dir.path(), "wan").unwrap();
    let m = Machine::start(
        spec("box", &floppy).nic(Nic::new("wan", "ne2k_pci", hub.endpoint(0).unwrap())),
        dir.path(),
    )
    .unwrap();
    m.wait_for("SYSLINUX 6", T).unwrap();
    m.wait_for("boot: ", T).unwrap();

    // Input reaches the guest and its answer comes back.
    m.send_line("xyzzy").unwrap();
    m.wait_for("Loading xyzzy... failed", T).unwrap();
    m.wait_for("boot: ", T).unwrap();

    assert!(m.monitor("info status").unwrap().contains("running"));
    let net = m.monitor("info network").unwrap();
    assert!(net.contains("wan") && net.contains("ne2k_pci"), "{net}");
    // QEMU 7.2's `info network` does not show link state: what is checked
    // here is that QEMU accepts the netdev id (and refuses an unknown one).
    m.set_link("wan", false).unwrap();
    m.set_link("wan", true).unwrap();
    let err = m.monitor("no_such_command").unwrap_err();
    assert!(matches!(err, HarnessError::Monitor { .. }), "{err}");
    assert!(m.set_link("no_such_netdev", false).is_err());

    // `reboot -f` at the prompt runs reboot.c32; under -no-reboot QEMU exits
    // by itself, which is the path `shutdown` takes first.
    let mut m = m;
    let pid = m.pid();
    m.send_line("reboot -f").unwrap();
    assert!(m.wait_exit(T).unwrap().success());
    assert!(!m.is_running().unwrap());
    m.shutdown(T).unwrap();
    assert!(!alive(pid));
}

#[test]
fn reset_and_quit_through_the_monitor_when_reboots_are_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let floppy = syslinux_floppy(dir.path());
    let mut m = Machine::start(spec("q", &floppy).no_reboot(false), dir.path()).unwrap();
    m.wait_for("SYSLINUX 6", T).unwrap();
    m.wait_for("boot: ", T).unwrap();

    // After a reset the banner is printed again (new text: the cursor is past the old one).
    m.system_reset().unwrap();
    m.wait_for("SYSLINUX 6", T).unwrap();
    m.wait_for("boot: ", T).unwrap();
    let log = std::fs::read_to_string(dir.path().join("q.console.log")).unwrap();
    assert_eq!(log.matches("SYSLINUX 6").count(), 2, "{log}");

    assert!(m.is_running().unwrap());
    m.quit().unwrap();
    assert!(m.wait_exit(T).unwrap().success());
    let err = m.monitor("info status").unwrap_err();
    assert!(matches!(err, HarnessError::Monitor { .. }), "{err}");
}

#[test]
fn shutdown_through_the_guest_or_the_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let floppy = syslinux_floppy(dir.path());
    // With -no-reboot, `reboot -f` typed at the prompt ends QEMU.
    let m = Machine::start(spec("s1", &floppy), dir.path()).unwrap();
    m.wait_for("boot: ", T).unwrap();
    let pid = m.pid();
    m.shutdown(T).unwrap();
    assert!(!alive(pid));
    // Without -no-reboot, a reboot would not end QEMU: `quit` on the monitor does.
    let m = Machine::start(spec("s2", &floppy).no_reboot(false), dir.path()).unwrap();
    let pid = m.pid();
    m.shutdown(T).unwrap();
    assert!(!alive(pid));
}

#[test]
fn a_topology_dropped_in_a_panic_kills_its_guests() {
    let dir = tempfile::tempdir().unwrap();
    let floppy = syslinux_floppy(dir.path());
    let workdir = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let mut topo = Topology::new(&workdir);
        let ep = |t: &Topology, p| t.hub("lan").unwrap().endpoint(p).unwrap();
        topo.add_hub("lan", 3).unwrap();
        let a = spec("a", &floppy).nic(Nic::new("lan", "ne2k_pci", ep(&topo, 0)));
        let b = spec("b", &floppy).nic(Nic::new("lan", "ne2k_pci", ep(&topo, 1)));
        let pids = [topo.start(a).unwrap().pid(), topo.start(b).unwrap().pid()];
        assert!(topo.start(spec("a", &floppy)).is_err(), "names are unique");
        for m in topo.machines() {
            m.wait_for("boot: ", T).unwrap();
        }
        // A power cycle: same name, same link, new QEMU, both boots in the log.
        let old_b = pids[1];
        let new_b = topo.restart("b").unwrap().pid();
        assert_ne!(new_b, old_b);
        assert!(!alive(old_b));
        topo.machine("b").unwrap().wait_for("boot: ", T).unwrap();
        let log = std::fs::read_to_string(workdir.join("b.console.log")).unwrap();
        assert_eq!(log.matches("SYSLINUX 6").count(), 2, "{log}");
        let pids = vec![pids[0], new_b];
        tx.send(pids).unwrap();
        panic!("a failing multi-guest test");
    })
    .join();
    assert!(result.is_err());
    let pids = rx.recv().unwrap();
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(!alive(pid), "QEMU {pid} survived the panic");
    }
}

#[test]
fn a_bad_command_line_is_reported_with_qemu_s_words() {
    let dir = tempfile::tempdir().unwrap();
    let floppy = syslinux_floppy(dir.path());
    let err = Machine::start(spec("bad", &floppy).cpu("no-such-cpu"), dir.path()).unwrap_err();
    match err {
        HarnessError::Start { tail, .. } => assert!(tail.contains("no-such-cpu"), "{tail}"),
        other => panic!("expected Start, got {other}"),
    }
}
