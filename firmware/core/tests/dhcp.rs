//! DHCP in the config: a WAN client and a LAN server validate, plan into
//! udhcpc/udhcpd command lines, udhcpd's config and the filter openings
//! they need; every mistake is reported at its place with a hint.

use std::path::Path;

use outpost_core::plan::plan;
use outpost_core::validate::check;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB test";

/// An office whose WAN takes its address by DHCP and whose LAN serves it;
/// `extra` is appended.
fn office(extra: &str) -> String {
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
dhcp = true

[[dhcp_server]]
interface = "lan"
range = "192.168.1.100-192.168.1.199"
lease = 600

[[dhcp_server.static]]
mac = "52:54:00:12:34:56"
address = "192.168.1.20"

[firewall]
masquerade = ["wan"]

[tunnel]
concentrator = "172.16.0.1"
account = "office1"
identity = "keys/office1.ed25519"
host_key = "{KEY}"
networks = ["10.0.0.0/24"]
via = "wan"
{extra}"#
    )
}

fn errors(text: &str) -> Vec<String> {
    check("o.toml", text)
        .map(|_| Vec::new())
        .unwrap_or_else(|ds| ds.iter().map(ToString::to_string).collect())
}

#[test]
fn a_dhcp_office_plans_udhcpc_udhcpd_and_their_openings() {
    let c = check("o.toml", &office("")).unwrap();
    assert_eq!(c.dhcp_servers.len(), 1);
    let p = plan(&c, Path::new("/etc")).unwrap();
    let client = p.dhcp.client.as_ref().unwrap();
    assert_eq!(client.device, "eth1");
    assert_eq!(
        client.argv.join(" "),
        "udhcpc -f -n -i eth1 -s /etc/outpost/udhcpc-script -t 3 -T 3 -x hostname:office1"
    );
    let guard: Vec<String> = client.guard.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(guard, ["10.0.0.0/24", "192.168.1.0/24"]);
    let server = &p.dhcp.servers[0];
    assert_eq!(
        server.argv.join(" "),
        "udhcpd -f /run/outpost/udhcpd/eth0.conf"
    );
    assert!(server.follows_wan_dns());
    let conf = server.conf(&["172.31.0.1".parse().unwrap()]);
    for line in [
        "interface eth0",
        "start 192.168.1.100",
        "end 192.168.1.199",
        "max_leases 100",
        "lease_file /run/outpost/udhcpd/eth0.leases",
        "option subnet 255.255.255.0",
        "option router 192.168.1.1",
        "option dns 172.31.0.1",
        "option lease 600",
        "static_lease 52:54:00:12:34:56 192.168.1.20",
    ] {
        assert!(
            conf.lines().any(|l| l == line),
            "{line} missing from\n{conf}"
        );
    }
    // No WAN lease yet: no DNS line rather than an empty one, and short
    // leases, so PCs that asked early come back for the DNS servers soon.
    let early = server.conf(&[]);
    assert!(!early.contains("option dns"), "{early}");
    assert!(early.contains("option lease 120\n"), "{early}");
    let nft = p.ruleset.render_nft();
    assert!(
        nft.contains(r#"iifname "eth1" udp dport 68 accept comment "dhcp client""#),
        "{nft}"
    );
    assert!(
        nft.contains(r#"iifname "eth0" udp dport 67 accept comment "dhcp server""#),
        "{nft}"
    );
    let text = outpost_core::plan::render::render_text(&p);
    assert!(text.contains("[dhcp client wan dev eth1]"), "{text}");
    assert!(text.contains("[dhcp server lan dev eth0]"), "{text}");
    assert!(text.contains("dns handed out: the WAN lease's; leases of at most 120 s until there is one (as above), then 600 s"), "{text}");
}

#[test]
fn configured_dns_servers_are_handed_out_instead_of_the_wans() {
    let text = office("").replace("lease = 600", "lease = 600\ndns = [\"10.0.0.53\"]");
    let c = check("o.toml", &text).unwrap();
    let p = plan(&c, Path::new("/etc")).unwrap();
    let s = &p.dhcp.servers[0];
    assert!(!s.follows_wan_dns());
    assert!(s
        .conf(&["172.31.0.1".parse().unwrap()])
        .contains("option dns 10.0.0.53\n"));
}

#[test]
fn a_range_outside_the_lan_or_over_the_router_is_refused_at_its_place() {
    let e =
        errors(&office("").replace("192.168.1.100-192.168.1.199", "192.168.2.100-192.168.2.199"));
    // The first problem of a range is said; the fix covers both ends.
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("o.toml:17:9: error: the range's first address 192.168.2.100 is outside the network 192.168.1.0/24"), "{e:?}");
    assert!(
        e[0].contains("hint: hand out addresses of 192.168.1.0/24"),
        "{e:?}"
    );
    let e = errors(&office("").replace("192.168.1.100-192.168.1.199", "192.168.1.1-192.168.1.50"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("contains the router's own address 192.168.1.1"),
        "{e:?}"
    );
    let e =
        errors(&office("").replace("192.168.1.100-192.168.1.199", "192.168.1.199-192.168.1.100"));
    assert!(e[0].contains("runs backwards"), "{e:?}");
    let e =
        errors(&office("").replace("192.168.1.100-192.168.1.199", "192.168.1.100-192.168.1.255"));
    assert!(e[0].contains("network or broadcast address"), "{e:?}");
    let e = errors(&office("").replace("192.168.1.100-192.168.1.199", "lots"));
    assert!(e[0].contains("`lots` is not an address range"), "{e:?}");
    assert!(
        e[0].contains(
            "hint: write FIRST-LAST inside 192.168.1.0/24, e.g. \"192.168.1.128-192.168.1.254\""
        ),
        "{e:?}"
    );
}

#[test]
fn a_client_and_a_static_address_are_not_both_allowed() {
    let e = errors(&office("").replace("dhcp = true", "dhcp = true\naddress = \"172.16.0.2/24\""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("both `address` and `dhcp = true` are set"),
        "{e:?}"
    );
}

#[test]
fn a_dhcp_server_needs_a_static_address_on_its_interface() {
    let e = errors(&office("").replace("interface = \"lan\"\nrange", "interface = \"wan\"\nrange"));
    assert!(
        e[0].contains("interface `wan` gets its own address by DHCP"),
        "{e:?}"
    );
    assert!(
        e[0].contains("hint: give the interface a static address"),
        "{e:?}"
    );
    let e = errors(&office("").replace("interface = \"lan\"\nrange", "interface = \"dmz\"\nrange"));
    assert!(
        e[0].contains("dhcp_server refers to interface `dmz`, which does not exist"),
        "{e:?}"
    );
}

#[test]
fn one_dhcp_client_and_no_static_default_route_beside_it() {
    let e = errors(&office("").replace(
        "[[dhcp_server]]",
        "[[route]]\nto = \"default\"\nvia = \"172.16.0.254\"\n\n[[dhcp_server]]",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("a static default route and DHCP on `wan` are both set"),
        "{e:?}"
    );
    assert!(e[0].contains("hint: remove this [[route]]"), "{e:?}");
    let e = errors(&office("").replace(
        "[[dhcp_server]]",
        "[[interface]]\nname = \"wan2\"\ndevice = \"eth2\"\ndhcp = true\n\n[[dhcp_server]]",
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("interface `wan2` is a second DHCP client"),
        "{e:?}"
    );
}

#[test]
fn static_leases_must_make_sense() {
    let e = errors(&office("").replace("52:54:00:12:34:56", "52:54:00:12:34"));
    assert!(e[0].contains("is not a MAC address"), "{e:?}");
    let e = errors(&office("").replace("address = \"192.168.1.20\"", "address = \"192.168.1.1\""));
    assert!(
        e[0].contains("static lease 192.168.1.1 is the router's own address"),
        "{e:?}"
    );
    let e = errors(&office("").replace("address = \"192.168.1.20\"", "address = \"10.9.9.9\""));
    assert!(
        e[0].contains("is not a host address of `lan`'s network"),
        "{e:?}"
    );
    let twice = office("").replace(
        "[firewall]",
        "[[dhcp_server.static]]\nmac = \"52:54:00:12:34:56\"\naddress = \"192.168.1.21\"\n\n[firewall]",
    );
    let e = errors(&twice);
    assert!(
        e[0].contains("MAC 52:54:00:12:34:56 has two static leases"),
        "{e:?}"
    );
}

#[test]
fn a_lease_time_below_what_udhcpc_renews_is_refused() {
    let e = errors(&office("").replace("lease = 600", "lease = 10"));
    assert!(
        e[0].contains("dhcp_server lease (seconds) 10 is out of range"),
        "{e:?}"
    );
}
