//! `[tunnel] concentrator` by name: accepted when the router knows a DNS
//! server (`[system] dns` or a DHCP lease), refused otherwise or when it is
//! no DNS name; the plan dials the name's address and pins the key for it,
//! and refuses an address on a tunnel network as validation refuses one
//! written in the config.

use std::net::Ipv4Addr;
use std::path::Path;

use outpost_core::plan::plan;
use outpost_core::validate::check;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB test";

fn office(wan: &str, system: &str, concentrator: &str) -> String {
    format!(
        r#"[system]
hostname = "office1"
role = "office"
{system}
[[interface]]
name = "wan"
device = "eth1"
{wan}

[tunnel]
concentrator = "{concentrator}"
account = "office1"
identity = "keys/office1.ed25519"
host_key = "{KEY}"
networks = ["10.0.0.0/24"]
"#
    )
}

fn errors(text: &str) -> Vec<String> {
    check("o.toml", text)
        .map(|_| Vec::new())
        .unwrap_or_else(|ds| ds.iter().map(ToString::to_string).collect())
}

#[test]
fn a_name_with_dns_from_dhcp_or_the_config_plans_a_lookup_at_each_connect() {
    for (wan, system) in [
        ("dhcp = true", ""),
        ("address = \"172.16.0.2/24\"", "dns = [\"172.16.0.100\"]"),
    ] {
        let c = check("o.toml", &office(wan, system, "VPN.example.com")).unwrap();
        let p = plan(&c, Path::new("/etc")).unwrap();
        let o = p.office.unwrap();
        assert_eq!(o.concentrator_name.as_deref(), Some("vpn.example.com"));
        assert!(
            o.pppd_argv[2].ends_with("office1@vpn.example.com"),
            "{:?}",
            o.pppd_argv
        );
        let at = o.at_address(Ipv4Addr::new(172, 16, 0, 1));
        assert!(
            at.pppd_argv[2].ends_with(" -p 22 office1@172.16.0.1"),
            "{:?}",
            at.pppd_argv
        );
        assert!(
            at.known_hosts.starts_with("172.16.0.1 ssh-ed25519 AAAA"),
            "{}",
            at.known_hosts
        );
        assert_eq!(
            o.judge_concentrator("vpn.example.com", Ipv4Addr::new(172, 16, 0, 1)),
            Ok(())
        );
        let e = o
            .judge_concentrator("vpn.example.com", Ipv4Addr::new(10, 0, 0, 5))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "vpn.example.com resolves to 10.0.0.5, inside the tunnel network 10.0.0.0/24: the ssh connection that carries the tunnel would be routed into the tunnel itself (seed ch. 6, 1.4); fix the name's DNS record or narrow the tunnel's networks"
        );
    }
    let c = check(
        "o.toml",
        &office("dhcp = true", "dns = [\"10.0.0.53\"]", "vpn.example.com"),
    )
    .unwrap();
    assert_eq!(
        plan(&c, Path::new("/etc")).unwrap().dns,
        [Ipv4Addr::new(10, 0, 0, 53)]
    );
    let p = plan(&c, Path::new("/etc")).unwrap();
    assert!(
        !p.dhcp.client.unwrap().dns_from_lease,
        "configured DNS servers win over the lease's"
    );
}

#[test]
fn a_name_without_any_dns_server_or_not_a_name_is_refused_at_its_place() {
    let e = errors(&office(
        "address = \"172.16.0.2/24\"",
        "",
        "vpn.example.com",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("o.toml:11:16: error: the concentrator is given by name (`vpn.example.com`), but the router knows no DNS server"), "{e:?}");
    assert!(e[0].contains("hint: add [system] dns"), "{e:?}");
    let e = errors(&office("dhcp = true", "", "vpn_example!"));
    assert!(
        e[0].contains("`vpn_example!` is neither an IPv4 address nor a host name"),
        "{e:?}"
    );
    let e = errors(&office("dhcp = true", "", "172.16.0.300"));
    assert!(
        e[0].contains("neither an IPv4 address nor a host name"),
        "{e:?}"
    );
    let e = errors(&office(
        "dhcp = true",
        "dns = [\"nine\"]",
        "vpn.example.com",
    ));
    assert!(e[0].contains("system.dns"), "{e:?}");
    // An address is still checked against the tunnel's networks at once.
    let e = errors(&office("dhcp = true", "", "10.0.0.1"));
    assert!(
        e[0].contains("contains the concentrator's own address 10.0.0.1"),
        "{e:?}"
    );
}
