//! The boxes users really have (issue 16), in QEMU: the VGA screen and AT
//! keyboard as a console beside the serial port; an ISA-only 486 with its
//! CF card on the ISA IDE port and two ISA NE2000s at the io/irq the config
//! gives; the period's PCI cards, each carrying routed traffic, with cards
//! named by MAC whatever the probe order; and a 486SX (the kernel's FPU
//! emulator, `no387`) bringing a tunnel up.

use std::fs;
use std::path::{Path, PathBuf};

use mkoutpost::build::{BuildOptions, BuildReport};
use mkoutpost::cpu::Cpu;
use mkoutpost::media::{self, Format, Seed};
use outpost_qemu::{Drive, Machine, MachineSpec, Nic, Topology};
use outpost_tests::{
    build_with, example, guest_hostname, repo, workdir, BOOT_TIMEOUT, CMD_TIMEOUT,
};

/// A copy of the example site's configs to edit: `target/e2e/hw-<test>/`.
/// Its keys are generated there by the first build (the office's first:
/// it pins the concentrator's key, which the concentrator then uses).
fn site_copy(test: &str) -> PathBuf {
    let dir = repo().join("target/e2e").join(format!("hw-{test}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for f in [
        "office.toml",
        "concentrator.toml",
        "lan-host.toml",
        "internet-host.toml",
    ] {
        fs::copy(example(&format!("site/{f}")), dir.join(f)).unwrap();
    }
    dir
}

/// Builds `dir/<name>.toml` for `cpu` into `dir/out-<name>/`.
fn build(dir: &Path, name: &str, cpu: Cpu) -> (BuildOptions, BuildReport) {
    let opts = BuildOptions {
        config: dir.join(format!("{name}.toml")),
        out_dir: dir.join(format!("out-{name}")),
        cpu,
        seed: Seed::Random,
    };
    let report = build_with(&opts, &format!("hw {name} {cpu}")).expect("image builds");
    (opts, report)
}

/// Its CF card image, copied into `work` so the guest writes to the copy.
fn cf_card(opts: &BuildOptions, report: &BuildReport, work: &Path) -> PathBuf {
    let medium = media::for_build(opts, report, Format::Cf, Seed::Random)
        .expect("medium written")
        .expect("a CF image");
    let disk = work.join(format!("{}.img", report.config.system.hostname));
    fs::copy(&medium.path, &disk).unwrap();
    disk
}

/// Replaces `old` (which must be there) by `new` in `file`.
fn edit(file: &Path, old: &str, new: &str) {
    let text = fs::read_to_string(file).unwrap();
    assert!(text.contains(old), "{} has no {old:?}", file.display());
    fs::write(file, text.replacen(old, new, 1)).unwrap();
}

/// A PPM screenshot's size, and whether it shows more than one colour.
fn ppm_has_picture(file: &Path) -> (String, bool) {
    let b = fs::read(file).unwrap();
    let header: String = String::from_utf8_lossy(&b[..15.min(b.len())]).into();
    let pixels = &b[15.min(b.len())..];
    let varied = pixels.chunks(3).any(|p| p != &pixels[..3]);
    (header.lines().take(2).collect::<Vec<_>>().join(" "), varied)
}

/// `console = "vga"`: the screen is /dev/console. SYSLINUX and the kernel
/// talk on both; outpostd's lines reach the serial port too (mirrored);
/// keys typed on the emulated keyboard run a command at tty1's shell.
#[test]
fn the_vga_screen_and_keyboard_are_a_console_beside_the_serial_port() {
    let dir = site_copy("vga");
    edit(
        &dir.join("lan-host.toml"),
        "role = \"host\"",
        "role = \"host\"\nconsole = \"vga\"",
    );
    let (opts, report) = build(&dir, "lan-host", Cpu::I486);
    assert!(
        report
            .cmdline
            .starts_with("console=ttyS0,115200 console=tty0 "),
        "{}",
        report.cmdline
    );
    let work = workdir("hw-vga").unwrap();
    let disk = cf_card(&opts, &report, &work);
    let spec = MachineSpec::new("vga")
        .cpu("486")
        .memory_mib(16)
        .vga("std")
        .drive(Drive::ide(&disk))
        .boot("c")
        .no_reboot(true);
    let hub = outpost_qemu::Hub::new(&work, "vga-lan", 1).unwrap();
    let m = Machine::start(
        spec.nic(Nic::new("eth0", "ne2k_pci", hub.endpoint(0).unwrap())),
        &work,
    )
    .expect("QEMU starts");
    // The serial port sees outpostd's lines although /dev/console is tty0.
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("ready line on the serial port too");
    m.run_ok("true", CMD_TIMEOUT).expect("serial shell answers");
    // `ide_dma` is off by default: the CF card on the PIIX runs PIO.
    let mode = m
        .run_ok("cat /sys/class/ata_device/*/xfer_mode", CMD_TIMEOUT)
        .unwrap();
    assert!(
        mode.lines().all(|l| l.trim().starts_with("XFER_PIO")),
        "DMA off for the boot medium: {mode}"
    );
    let active = m
        .run_ok("cat /sys/class/tty/console/active", CMD_TIMEOUT)
        .unwrap();
    assert!(
        active.trim().ends_with("tty0"),
        "tty0 is /dev/console: {active}"
    );

    let screen = m.vga_text().unwrap();
    for want in [
        "SYSLINUX",
        "Linux version",
        "outpostd: ready: hostname lan-host",
    ] {
        assert!(
            screen.contains(want),
            "the screen shows {want:?}:\n{screen}"
        );
    }
    let shot = work.join("vga.ppm");
    m.screendump(&shot).unwrap();
    let (size, varied) = ppm_has_picture(&shot);
    eprintln!("screenshot {} ({size})", shot.display());
    assert!(
        size.starts_with("P6 720 400"),
        "a 720x400 text-mode picture: {size}"
    );
    assert!(varied, "the picture shows something");

    // Typed on the keyboard, run by tty1's shell, seen from the serial one.
    m.type_text("\necho typed on the vga console > /tmp/typed\n")
        .unwrap();
    let mut seen = String::new();
    for _ in 0..50 {
        seen = m
            .run_ok("cat /tmp/typed 2>/dev/null; true", CMD_TIMEOUT)
            .unwrap();
        if seen.contains("typed on the vga console") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        seen.contains("typed on the vga console"),
        "the typed command ran: {seen:?}"
    );
}

/// An ISA-only 486 (`-M isapc -cpu 486 -m 16`): the CF card on the ISA IDE
/// port (pata_legacy), two ISA NE2000s at the io/irq the config gives
/// (`netdev=` from mkoutpost), a lan host answering through the ISA card,
/// `outpostd save` writing the medium, and the cards in `outpostd status`.
#[test]
fn an_isa_only_486_boots_from_cf_on_isa_ide_with_isa_cards() {
    let dir = site_copy("isa");
    let office = dir.join("office.toml");
    edit(
        &office,
        "device = \"eth0\"",
        "device = \"eth0\"\nio = 0x300\nirq = 9",
    );
    edit(
        &office,
        "device = \"eth1\"",
        "device = \"eth1\"\nio = 0x320\nirq = 10",
    );
    let (opts, report) = build(&dir, "office", Cpu::I486);
    assert!(
        report
            .cmdline
            .ends_with("netdev=9,0x300,0,0,eth0 netdev=10,0x320,0,0,eth1"),
        "{}",
        report.cmdline
    );
    let (_, lan_host) = build(&dir, "lan-host", Cpu::I486);
    let work = workdir("hw-isa").unwrap();
    let disk = cf_card(&opts, &report, &work);
    let mut t = Topology::new(&work);
    t.add_hub("lan", 2).unwrap();
    t.add_hub("wan", 1).unwrap();
    let isa = |id: &str, hub: &str, props: &str| {
        Nic::new(id, "ne2k_isa", t.hub(hub).unwrap().endpoint(0).unwrap()).props(props)
    };
    let office_spec = MachineSpec::new("isa486")
        .machine("isapc")
        .cpu("486")
        .memory_mib(16)
        .vga("std")
        .drive(Drive::ide(&disk))
        .boot("c")
        .no_reboot(true)
        .nic(isa("eth0", "lan", "iobase=0x300,irq=9"))
        .nic(isa("eth1", "wan", "iobase=0x320,irq=10"));
    let host_spec = MachineSpec::new("lanhost")
        .cpu("486")
        .memory_mib(16)
        .kernel(&lan_host.kernel)
        .initrd(&lan_host.initramfs)
        .append(format!("{} panic=-1", lan_host.cmdline))
        .no_reboot(true)
        .nic(Nic::new(
            "eth0",
            "ne2k_pci",
            t.hub("lan").unwrap().endpoint(1).unwrap(),
        ));
    t.start(office_spec).unwrap();
    t.start(host_spec).unwrap();
    let (m, h) = (t.machine("isa486").unwrap(), t.machine("lanhost").unwrap());
    m.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("outpostd ready on an ISA-only 486");
    let t0 = m.console().transcript();
    for want in [
        "pata_legacy",
        "NE2000 found at 0x300, using IRQ 9",
        "NE2000 found at 0x320, using IRQ 10",
    ] {
        assert!(t0.contains(want), "the kernel log has {want:?}");
    }
    assert!(
        t0.contains("config in force: /boot/outpost.toml (the boot medium's config)"),
        "the medium on the ISA IDE port is found and its config is in force"
    );
    m.run_ok("true", CMD_TIMEOUT).unwrap();
    let screen = m.vga_text().unwrap();
    fs::write(work.join("isa486.screen.txt"), &screen).unwrap();
    assert!(
        screen.contains("outpostd: ready: hostname office1"),
        "mirrored on the screen ({}):\n{screen}",
        work.join("isa486.screen.txt").display()
    );

    h.wait_for("outpostd: ready", BOOT_TIMEOUT)
        .expect("lan host ready");
    let ping = h.run("ping -c 3 -W 5 192.168.1.1", CMD_TIMEOUT).unwrap();
    assert_eq!(
        ping.status, 0,
        "the office answers through its ISA card: {ping:?}"
    );

    let status = m.run_ok("outpostd status", CMD_TIMEOUT).unwrap();
    eprintln!("{status}");
    for (dev, iface) in [("eth0", "lan"), ("eth1", "wan")] {
        let line = status
            .lines()
            .find(|l| l.starts_with(&format!("card {dev}: ")))
            .unwrap_or_else(|| panic!("status lists {dev}:\n{status}"));
        assert!(
            line.contains("ne,") && line.contains(&format!("interface {iface}")),
            "{line}"
        );
    }

    m.run_ok(
        "sed 's/^hostname = .*/hostname = \"isa9\"/' /boot/outpost.toml > /tmp/new.toml",
        CMD_TIMEOUT,
    )
    .unwrap();
    let out = m
        .run_ok("outpostd save /tmp/new.toml", CMD_TIMEOUT)
        .unwrap();
    assert!(
        out.contains("saved ") && out.contains("/boot/outpost.toml"),
        "{out}"
    );
    assert_eq!(guest_hostname(m).unwrap(), "isa9");
    let on_disk = m
        .run_ok("grep '^hostname' /boot/outpost.toml", CMD_TIMEOUT)
        .unwrap();
    assert!(on_disk.contains("isa9"), "{on_disk}");
}

/// The PCI cards of the period QEMU emulates, each pair of one model in the
/// office (`-M pc -cpu pentium`), carrying the lan host's pings to the
/// internet host through it. The config names the cards by MAC, the other
/// way round from the probe order, so traffic only flows if outpostd
/// renamed them.
#[test]
fn the_period_s_pci_cards_carry_routed_traffic_and_are_named_by_mac() {
    let dir = site_copy("nics");
    let office = dir.join("office.toml");
    // The first card probed (MAC ...:01) is on the wan segment.
    edit(
        &office,
        "device = \"eth0\"",
        "device = \"eth0\"\nmac = \"52:54:00:16:00:02\"",
    );
    edit(
        &office,
        "device = \"eth1\"",
        "device = \"eth1\"\nmac = \"52:54:00:16:00:01\"",
    );
    let (_, router) = build(&dir, "office", Cpu::I586);
    let (_, lan_host) = build(&dir, "lan-host", Cpu::I586);
    let (_, internet) = build(&dir, "internet-host", Cpu::I586);
    let work = workdir("hw-nics").unwrap();
    let mut t = Topology::new(&work);
    t.add_hub("lan", 2).unwrap();
    t.add_hub("wan", 2).unwrap();
    let direct = |name: &str, r: &BuildReport| {
        MachineSpec::new(name)
            .cpu("pentium")
            .memory_mib(24)
            .kernel(&r.kernel)
            .initrd(&r.initramfs)
            .append(format!("{} panic=-1", r.cmdline))
            .no_reboot(true)
    };
    let lan = t.hub("lan").unwrap().endpoint(1).unwrap();
    let wan = t.hub("wan").unwrap().endpoint(1).unwrap();
    t.start(direct("lanhost", &lan_host).nic(Nic::new("eth0", "ne2k_pci", lan)))
        .unwrap();
    t.start(direct("inet", &internet).nic(Nic::new("eth0", "ne2k_pci", wan)))
        .unwrap();
    for n in ["lanhost", "inet"] {
        t.machine(n)
            .unwrap()
            .wait_for("outpostd: ready", BOOT_TIMEOUT)
            .expect("host ready");
    }
    let mut table = vec![format!("{:<10} {:<10} {}", "model", "driver", "traffic")];
    for (model, driver) in [
        ("ne2k_pci", "ne2k-pci"),
        ("rtl8139", "8139cp"),
        ("pcnet", "pcnet32"),
        ("i82557b", "e100"),
        ("tulip", "tulip"),
    ] {
        let name = format!("r-{model}");
        let spec = direct(&name, &router)
            .nic(
                Nic::new("c1", model, t.hub("wan").unwrap().endpoint(0).unwrap())
                    .mac("52:54:00:16:00:01"),
            )
            .nic(
                Nic::new("c2", model, t.hub("lan").unwrap().endpoint(0).unwrap())
                    .mac("52:54:00:16:00:02"),
            );
        let r = Machine::start(spec, &work).expect("QEMU starts");
        r.wait_for("outpostd: ready", BOOT_TIMEOUT)
            .expect("router ready");
        r.run_ok("true", CMD_TIMEOUT).unwrap();
        let status = r.run_ok("outpostd status", CMD_TIMEOUT).unwrap();
        for (dev, mac, iface) in [
            ("eth0", "52:54:00:16:00:02", "lan"),
            ("eth1", "52:54:00:16:00:01", "wan"),
        ] {
            let line = status
                .lines()
                .find(|l| l.starts_with(&format!("card {dev}: ")))
                .unwrap_or_else(|| panic!("{model}: status lists {dev}:\n{status}"));
            assert!(
                line.contains(&format!("{driver},"))
                    && line.contains(mac)
                    && line.contains(&format!("interface {iface}")),
                "{model}: {line}"
            );
        }
        let h = t.machine("lanhost").unwrap();
        let ping = h.run("ping -c 3 -W 5 172.16.0.100", CMD_TIMEOUT).unwrap();
        assert_eq!(
            ping.status, 0,
            "{model}: the lan host reaches the internet host through the office: {ping:?}"
        );
        let got = ping
            .stdout
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .unwrap_or("")
            .to_string();
        table.push(format!("{model:<10} {driver:<10} {got}"));
        r.shutdown(CMD_TIMEOUT).expect("clean shutdown");
    }
    table.push("3c509 (el3), 3c59x (vortex): built in, no QEMU model, untested".into());
    eprintln!("{}", table.join("\n"));
}

/// A 486SX has no FPU: with `no387` the i486 kernel emulates it (math
/// emulation), and the office still brings its tunnel up.
#[test]
fn a_486sx_brings_the_tunnel_up_on_the_fpu_emulator() {
    let dir = site_copy("486sx");
    let (_, office) = build(&dir, "office", Cpu::I486);
    let (_, head) = build(&dir, "concentrator", Cpu::I486);
    let work = workdir("hw-486sx").unwrap();
    let t = outpost_tests::office_and_concentrator(&office, &head, "no387", &work).unwrap();
    let (o, h) = (t.machine("office").unwrap(), t.machine("head").unwrap());
    o.wait_for("outpostd: tunnel up (", BOOT_TIMEOUT)
        .expect("the 486SX office's tunnel comes up");
    h.wait_for("outpostd: peer office1 up", BOOT_TIMEOUT)
        .expect("the concentrator serves it");
    let fpu = o
        .run_ok(
            "grep -E '^(fpu|hard_math)' /proc/cpuinfo; true",
            CMD_TIMEOUT,
        )
        .unwrap();
    assert!(
        fpu.contains("fpu\t\t: no") || fpu.contains("fpu : no") || fpu.contains("fpu\t: no"),
        "no FPU in use: {fpu:?}"
    );
}
