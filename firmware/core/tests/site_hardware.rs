//! A site file's hardware keys (issue 16): a router's `console`,
//! `serial_speed` and `ide_dma`, an interface's `mac`, `io` and `irq` reach
//! the derived `outpost.toml` and its boot plan and rehearsal; bad values are
//! refused at their place in the site file with the router config's words.

use outpost_core::config::{Console, IsaCard};
use outpost_core::keys::PublicKey;
use outpost_core::plan::boot;
use outpost_core::site::{PublicKeys, Site};
use outpost_core::validate::check;
use outpost_core::Config;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3";

const SITE: &str = r#"[site]
tunnel_pool = "10.254.0.0/24"

[head]
name = "head"
wan = { address = "172.16.0.1/24", mac = "00:a0:24:00:00:01" }
console = "vga"
serial_speed = 9600

[[head.network]]
name = "private"
address = "10.0.0.1/24"
mac = "00:a0:24:00:00:02"

[[office]]
name = "office1"
lan = { address = "192.168.1.1/24", io = 0x300, irq = 9 }
wan = { address = "172.16.0.2/24", device = "eth1", io = 0x320 }
ide_dma = true
"#;

fn derived(site: &Site) -> Vec<(String, Config)> {
    let keys: PublicKeys = site
        .key_needs()
        .into_iter()
        .map(|n| {
            let k = PublicKey::parse(&format!("{KEY} {}", n.owner)).unwrap();
            (n.owner, k)
        })
        .collect();
    site.render(&keys)
        .unwrap()
        .routers
        .into_iter()
        .map(|r| {
            let c = check(&format!("{}/outpost.toml", r.name), &r.text)
                .unwrap_or_else(|ds| panic!("{}\n{}", r.text, ds[0]));
            (r.name, c)
        })
        .collect()
}

#[test]
fn hardware_keys_reach_each_routers_config_boot_and_rehearsal() {
    let site = Site::from_str_named("s.toml", SITE).unwrap_or_else(|e| panic!("{e}"));
    let routers = derived(&site);
    let head = &routers.iter().find(|(n, _)| n == "head").unwrap().1;
    assert_eq!(
        (head.system.console, head.system.serial_speed),
        (Console::Vga, 9600)
    );
    assert_eq!(head.interfaces[0].mac, Some([0, 0xa0, 0x24, 0, 0, 1]));
    assert_eq!(head.interfaces[1].mac, Some([0, 0xa0, 0x24, 0, 0, 2]));
    assert!(boot::cmdline(head).starts_with("console=ttyS0,9600 console=tty0 "));
    let office = &routers.iter().find(|(n, _)| n == "office1").unwrap().1;
    assert!(office.system.ide_dma);
    assert_eq!(
        office.interfaces[0].isa,
        Some(IsaCard {
            io: 0x300,
            irq: Some(9)
        })
    );
    assert_eq!(
        office.interfaces[1].isa,
        Some(IsaCard {
            io: 0x320,
            irq: None
        })
    );
    assert!(
        boot::cmdline(office).ends_with("panic=5 netdev=9,0x300,0,0,eth0 netdev=0,0x320,0,0,eth1"),
        "{}",
        boot::cmdline(office)
    );

    // The rehearsal plugs the cards the site file names: by MAC, ISA at its io.
    let key = PublicKey::parse(KEY).unwrap();
    let plan = site.rehearsal(&key).unwrap();
    let nics = |g: &str| {
        plan.guests
            .iter()
            .find(|x| x.name == g)
            .unwrap()
            .nics
            .clone()
    };
    let h = nics("head");
    assert_eq!(h[0].mac.as_deref(), Some("00:a0:24:00:00:01"));
    assert_eq!(h[1].mac.as_deref(), Some("00:a0:24:00:00:02"));
    let o = nics("office1");
    assert_eq!(
        o[0].isa,
        Some(IsaCard {
            io: 0x300,
            irq: Some(9)
        })
    );
    assert_eq!(
        o[1].isa,
        Some(IsaCard {
            io: 0x320,
            irq: None
        })
    );
}

#[test]
fn bad_hardware_values_are_refused_where_they_are_written() {
    let bad = SITE
        .replace("console = \"vga\"", "console = \"ttyUSB0\"")
        .replace("mac = \"00:a0:24:00:00:02\"", "mac = \"00:a0:24:00:00:01\"")
        .replace("io = 0x320", "io = 0x321")
        .replace("irq = 9", "irq = 99");
    let errs: Vec<String> = match Site::from_str_named("s.toml", &bad) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
    };
    let has = |at: &str, what: &str| {
        assert!(
            errs.iter().any(|e| e.starts_with(at) && e.contains(what)),
            "no `{at}…{what}` in:\n{}",
            errs.join("\n")
        )
    };
    has("s.toml:7:11: error:", "`ttyUSB0` is not a console");
    has(
        "s.toml:13:7: error:",
        "MAC 00:a0:24:00:00:01 is already the card of interface `wan`",
    );
    has("s.toml:17:", "irq 99 is out of range");
    has(
        "s.toml:18:",
        "io 0x321 is not where an ISA network card sits",
    );
}
