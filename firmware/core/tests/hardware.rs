//! The hardware keys of a config: `[system] console`, `serial_speed`,
//! `ide_dma`, and an interface's `mac`, `io` and `irq` — valid values and
//! what they mean, and every mistake reported at its position with a fix.

use outpost_core::config::{Console, IsaCard};
use outpost_core::validate::check;

fn host(system: &str, interfaces: &str) -> String {
    format!("[system]\nhostname = \"o\"\nrole = \"host\"\n{system}\n{interfaces}")
}

fn errors(text: &str) -> Vec<String> {
    check("h.toml", text)
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect()
}

const LAN: &str =
    "[[interface]]\nname = \"lan\"\ndevice = \"eth0\"\naddress = \"192.168.1.1/24\"\n";

#[test]
fn console_names_and_speeds() {
    for (v, c) in [
        ("serial", Console::Serial),
        ("ttyS0", Console::Serial),
        ("vga", Console::Vga),
        ("tty1", Console::Vga),
    ] {
        let cfg = check("h.toml", &host(&format!("console = \"{v}\""), LAN)).unwrap();
        assert_eq!(cfg.system.console, c, "{v}");
    }
    let e = errors(&host("console = \"ttyUSB0\"\nserial_speed = 115201", LAN));
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(
        e[0].starts_with("h.toml:4:11: error: `ttyUSB0` is not a console"),
        "{}",
        e[0]
    );
    assert!(e[0].contains("hint: use \"serial\""), "{}", e[0]);
    assert!(
        e[1].starts_with("h.toml:5:16: error: serial_speed 115201"),
        "{}",
        e[1]
    );
    assert!(
        e[1].contains("9600, 19200, 38400, 57600, 115200"),
        "{}",
        e[1]
    );
    let cfg = check("h.toml", &host("serial_speed = 9600\nide_dma = true", LAN)).unwrap();
    assert_eq!((cfg.system.serial_speed, cfg.system.ide_dma), (9600, true));
}

#[test]
fn a_card_named_by_mac() {
    let ifs = format!("{LAN}mac = \"00:A0:24:12:34:56\"\n[[interface]]\nname = \"wan\"\ndevice = \"eth1\"\naddress = \"172.16.0.2/24\"\nmac = \"00:a0:24:12:34:56\"\n");
    let e = errors(&host("", &ifs));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with(
            "h.toml:14:7: error: MAC 00:a0:24:12:34:56 is already the card of interface `lan`"
        ),
        "{}",
        e[0]
    );
    let e = errors(&host("", &format!("{LAN}mac = \"00:a0:24:12:34\"\n")));
    assert!(
        e[0].starts_with("h.toml:9:7: error: `00:a0:24:12:34` is not a card's MAC address"),
        "{}",
        e[0]
    );
    assert!(e[0].contains("hint: write six hex pairs"), "{}", e[0]);
    let cfg = check(
        "h.toml",
        &host("", &format!("{LAN}mac = \"00-a0-24-12-34-56\"\n")),
    )
    .unwrap();
    assert_eq!(
        cfg.interfaces[0].mac,
        Some([0x00, 0xa0, 0x24, 0x12, 0x34, 0x56])
    );
}

#[test]
fn isa_cards_take_io_and_irq_and_the_probe_order_name() {
    let two = "[[interface]]\nname = \"lan\"\ndevice = \"eth0\"\naddress = \"192.168.1.1/24\"\nio = 0x300\nirq = 9\n\
               [[interface]]\nname = \"wan\"\ndevice = \"eth1\"\naddress = \"172.16.0.2/24\"\nio = 0x320\n";
    let cfg = check("h.toml", &host("", two)).unwrap();
    assert_eq!(
        cfg.interfaces[0].isa,
        Some(IsaCard {
            io: 0x300,
            irq: Some(9)
        })
    );
    assert_eq!(
        cfg.interfaces[1].isa,
        Some(IsaCard {
            io: 0x320,
            irq: None
        })
    );

    // The second ISA card listed is eth1 to the kernel, whatever `device` says…
    let swapped = two.replace("\"eth1\"", "\"eth9\"");
    let e = errors(&host("", &swapped));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].contains("ISA card number 2 in this file, which the kernel names eth1, not eth9"),
        "{}",
        e[0]
    );
    assert!(e[0].contains("hint: set device = \"eth1\""), "{}", e[0]);
    // …unless its MAC renames it.
    let by_mac = swapped.replace("io = 0x320", "io = 0x320\nmac = \"52:54:00:00:00:02\"");
    assert!(check("h.toml", &host("", &by_mac)).is_ok());

    let e = errors(&host(
        "",
        &two.replace("0x320", "0x300").replace("irq = 9", "irq = 16"),
    ));
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].contains("irq 16 is out of range"), "{}", e[0]);
    assert!(
        e[1].contains("io 0x300 is already the card of interface `lan`"),
        "{}",
        e[1]
    );
    let e = errors(&host("", &format!("{LAN}irq = 5\n")));
    assert!(
        e[0].starts_with("h.toml:9:7: error: `irq` without `io`"),
        "{}",
        e[0]
    );
    let e = errors(&host("", &format!("{LAN}io = 0x301\n")));
    assert!(
        e[0].contains("io 0x301 is not where an ISA network card sits"),
        "{}",
        e[0]
    );
}
