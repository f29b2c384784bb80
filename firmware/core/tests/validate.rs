//! Validation tests: every problem is reported with file, line, column and
//! a hint; valid configs parse to the documented defaults.

use outpost_core::config::{ConfigError, Console, KeySource, Location, Role};
use outpost_core::validate::check;
use outpost_core::Config;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB test";

fn office() -> String {
    format!(
        r#"[system]
hostname = "office1"
role = "office"

[[interface]]
name = "lan"
device = "eth0"
address = "192.168.1.1/24"

[[interface]]
name = "wan"
device = "eth1"
address = "172.16.0.2/24"

[tunnel]
concentrator = "172.16.0.1"
account = "office1"
identity = "keys/office1.ed25519"
host_key = "{KEY}"
networks = ["10.0.0.0/24"]
"#
    )
}

#[test]
fn minimal_office_has_defaults() {
    let c = check("o.toml", &office()).unwrap();
    assert_eq!(c.system.role, Role::Office);
    assert_eq!(
        (c.system.console, c.system.serial_speed, c.system.ide_dma),
        (Console::Serial, 115_200, false)
    );
    let t = c.tunnel.unwrap();
    assert_eq!(
        (t.port, t.lcp_echo_interval, t.lcp_echo_failure),
        (22, 5, 3)
    );
    assert!(matches!(t.host_key, KeySource::Inline(_)));
    assert_eq!(
        c.interfaces[1].address.unwrap().to_string(),
        "172.16.0.2/24"
    );
}

#[test]
fn accepts_notepad_files() {
    let crlf = format!("\u{feff}{}", office().replace('\n', "\r\n"));
    assert_eq!(
        Config::from_str_named("t.toml", &crlf)
            .unwrap()
            .system
            .hostname,
        "office1"
    );
}

#[test]
fn old_style_interface_without_name_still_works() {
    let t = "[system]\nhostname = \"h\"\nrole = \"host\"\n\n[[interface]]\ndevice = \"eth0\"\naddress = \"192.168.1.10/24\"\nmtu = 1400\n";
    let c = Config::from_str_named("h.toml", t).unwrap();
    assert_eq!(c.interfaces[0].name, "eth0");
    assert_eq!(c.interfaces[0].mtu, Some(1400));
}

#[test]
fn unknown_key_names_line_and_column() {
    let bad = "[system]\nhostname = \"a\"\nrole = \"office\"\ncolour = \"blue\"\n";
    match Config::from_str_named("x.toml", bad).unwrap_err() {
        ConfigError::Invalid {
            file,
            at,
            message,
            hint,
        } => {
            assert_eq!(file, "x.toml");
            assert_eq!(at, Location { line: 4, column: 1 });
            assert!(message.contains("colour"), "{message}");
            assert!(hint.is_some());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bad_address_points_at_the_value() {
    let bad = office().replace("192.168.1.1/24", "192.168.1.300/24");
    let e = Config::from_str_named("x.toml", &bad)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("x.toml:8:11: error: address:"), "{e}");
    assert!(e.contains("not an IPv4 address"), "{e}");
    assert!(e.contains("\n  hint: "), "{e}");
}

#[test]
fn all_errors_are_collected_in_order() {
    let bad = office()
        .replace("office1\"\nrole", "-bad-\"\nrole")
        .replace("172.16.0.2/24", "192.168.1.2/24")
        .replace(
            "networks = [\"10.0.0.0/24\"]",
            "networks = [\"172.16.0.0/16\"]\nvia = \"dsl\"",
        );
    let ds = check("x.toml", &bad).unwrap_err();
    let text: Vec<String> = ds.iter().map(|d| d.to_string()).collect();
    assert_eq!(ds.len(), 4, "{text:#?}");
    assert!(
        text[0].starts_with("x.toml:2:12: error: `-bad-` is not a valid host name"),
        "{}",
        text[0]
    );
    assert!(
        text[1].contains("overlaps 192.168.1.1/24 of interface `lan`"),
        "{}",
        text[1]
    );
    assert!(
        text[2].contains("contains the concentrator's own address 172.16.0.1"),
        "{}",
        text[2]
    );
    assert!(text[2].contains("seed ch. 6, 1.4"), "{}", text[2]);
    assert!(
        text[3].contains("interface `dsl`, which does not exist"),
        "{}",
        text[3]
    );
    assert!(text[3].contains("defined: lan, wan"), "{}", text[3]);
}

#[test]
fn tunnel_network_may_contain_the_lan_but_not_lie_inside_it() {
    let ok = office().replace("10.0.0.0/24", "192.168.0.0/16");
    assert!(check("o.toml", &ok).is_ok());
    let bad = office().replace("10.0.0.0/24", "192.168.1.0/25");
    let ds = check("o.toml", &bad).unwrap_err();
    assert!(
        ds[0].message.contains("lies inside interface `lan`"),
        "{}",
        ds[0]
    );
}

#[test]
fn host_key_is_required_and_checked() {
    let none = office().replace(&format!("host_key = \"{KEY}\"\n"), "");
    let ds = check("o.toml", &none).unwrap_err();
    assert!(ds[0].message.contains("no trust on first use"), "{}", ds[0]);
    let broken = office().replace(
        "AAAAC3NzaC1lZDI1NTE5AAAAIAEB",
        "AAAAC3NzaC1lZDI1NTE5AAAAIAE",
    );
    let ds = check("o.toml", &broken).unwrap_err();
    assert!(
        ds[0].message.contains("not an ssh-ed25519 public key") || ds[0].message.contains("base64"),
        "{}",
        ds[0]
    );
    let file = office().replace(
        &format!("host_key = \"{KEY}\""),
        "host_key_file = \"keys/c.pub\"",
    );
    let c = check("o.toml", &file).unwrap();
    assert_eq!(
        c.tunnel.unwrap().host_key,
        KeySource::File("keys/c.pub".into())
    );
}

/// Key files are named relative to the config, inside its directory:
/// mkoutpost generates them there and the image carries them by that name.
#[test]
fn key_files_stay_inside_the_configs_directory() {
    let cases = [
        (
            "identity = \"keys/office1.ed25519\"",
            "identity = \"/etc/outpost/id\"",
            "absolute path",
        ),
        (
            "identity = \"keys/office1.ed25519\"",
            "identity = \"../keys/id\"",
            "leaves the config's directory",
        ),
        (
            &format!("host_key = \"{KEY}\"") as &str,
            "host_key_file = \"/root/c.pub\"",
            "absolute path",
        ),
    ];
    for (from, to, says) in cases {
        let text = office().replace(from, to);
        let ds = check("o.toml", &text).unwrap_err();
        assert_eq!(ds.len(), 1, "{ds:?}");
        assert!(ds[0].message.contains(says), "{}", ds[0]);
        assert!(
            ds[0]
                .hint
                .as_deref()
                .unwrap_or("")
                .contains("relative to this config"),
            "{}",
            ds[0]
        );
        let line = text.lines().position(|l| l == to).unwrap() + 1;
        assert_eq!(ds[0].at.line, line, "{}", ds[0]);
    }
}

#[test]
fn concentrator_host_key_defaults_next_to_the_config() {
    let c = check("c.toml", &concentrator("")).unwrap();
    assert_eq!(
        c.concentrator.unwrap().host_key_file,
        "keys/concentrator.ed25519"
    );
    let abs = concentrator("host_key_file = \"/etc/outpost/dropbear_ed25519_host_key\"\n");
    let ds = check("c.toml", &abs).unwrap_err();
    assert!(ds[0].message.contains("absolute path"), "{}", ds[0]);
}

fn concentrator(peers: &str) -> String {
    format!(
        r#"[system]
hostname = "head"
role = "concentrator"

[[interface]]
name = "wan"
device = "eth0"
address = "172.16.0.1/24"

[[interface]]
name = "private"
device = "eth1"
address = "10.0.0.1/24"

[concentrator]
interface = "wan"
address = "10.254.0.1"
{peers}"#
    )
}

fn peer(name: &str, addr: &str, net: &str) -> String {
    format!("\n[[peer]]\nname = \"{name}\"\npublic_key = \"{KEY}\"\ntunnel_address = \"{addr}\"\nnetworks = [\"{net}\"]\nreach = [\"10.0.0.0/24\"]\n")
}

#[test]
fn peers_must_not_share_addresses_or_networks() {
    let t = concentrator(
        &(peer("a", "10.254.0.2", "192.168.1.0/24")
            + &peer("b", "10.254.0.2", "192.168.1.128/25")
            + &peer("a", "10.254.0.1", "172.16.0.0/16")),
    );
    let ds = check("c.toml", &t).unwrap_err();
    let all = ds
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("tunnel address 10.254.0.2 is also peer `a`'s"),
        "{all}"
    );
    assert!(all.contains("overlaps 192.168.1.0/24 of peer `a`"), "{all}");
    assert!(all.contains("peer `a` is defined twice"), "{all}");
    assert!(all.contains("is the concentrator's own end"), "{all}");
    assert!(
        all.contains("contains the concentrator's WAN address 172.16.0.1"),
        "{all}"
    );
}

#[test]
fn sections_must_fit_the_role() {
    let t = concentrator("").replace("role = \"concentrator\"", "role = \"host\"")
        + &peer("a", "10.254.0.2", "192.168.1.0/24");
    let ds = check("c.toml", &t).unwrap_err();
    assert_eq!(ds.len(), 2, "{ds:#?}");
    assert!(ds[0].message.contains("[concentrator] is only for"));
    assert!(ds[1].message.contains("[[peer]] is only for"));
}

#[test]
fn routes_need_an_onlink_gateway() {
    let t = office() + "\n[[route]]\nto = \"default\"\nvia = \"10.9.9.9\"\n";
    let ds = check("o.toml", &t).unwrap_err();
    assert!(
        ds[0].message.contains("not on any connected network"),
        "{}",
        ds[0]
    );
    let ok = office() + "\n[[route]]\nto = \"default\"\nvia = \"172.16.0.254\"\n";
    assert!(check("o.toml", &ok).is_ok());
}
