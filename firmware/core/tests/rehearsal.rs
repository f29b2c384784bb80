//! The rehearsal's plan (`Site::rehearsal`): the example sites become the
//! emulated networks and the checks a person would wire by hand — a
//! segment per LAN, head network and WAN subnet, a test host on each, the
//! internet at the routers' gateways, home users' PCs — and the checks are
//! the policy's matrix plus the explicit tests.

mod common;

use std::net::Ipv4Addr;

use outpost_core::keys::PublicKey;
use outpost_core::site::rehearsal::{GuestKind, Origin, Plan, INTERNET_HOST};
use outpost_core::site::Site;
use outpost_core::validate::check;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3 head";

fn plan(name: &str) -> Plan {
    let text = std::fs::read_to_string(common::examples_dir().join(name)).unwrap();
    let site = Site::from_str_named(name, &text).unwrap_or_else(|e| panic!("{e}"));
    site.rehearsal(&PublicKey::parse(KEY).unwrap()).unwrap()
}

fn segments(p: &Plan) -> Vec<(String, usize)> {
    p.segments
        .iter()
        .map(|s| (s.name.clone(), s.ports))
        .collect()
}

fn wiring(p: &Plan, guest: &str) -> Vec<(String, String, usize)> {
    p.guests
        .iter()
        .find(|g| g.name == guest)
        .unwrap_or_else(|| panic!("no guest {guest}"))
        .nics
        .iter()
        .map(|w| (w.device.clone(), w.segment.clone(), w.port))
        .collect()
}

fn address(p: &Plan, guest: &str) -> Ipv4Addr {
    match &p.guests.iter().find(|g| g.name == guest).unwrap().kind {
        GuestKind::Host { address, .. } | GuestKind::Home { address, .. } => *address,
        GuestKind::Router => panic!("{guest} is a router"),
    }
}

fn checks(p: &Plan) -> Vec<String> {
    p.checks
        .iter()
        .map(|c| {
            format!(
                "{} {}->{}:{} {}{}",
                c.label,
                c.from,
                c.to,
                c.to_ip,
                if c.accept { "accept" } else { "deny" },
                match c.origin {
                    Origin::Policy => String::new(),
                    Origin::Test(l) => format!(" (line {l})"),
                }
            )
        })
        .collect()
}

/// Every test host's and home PC's config is one the router's own check accepts.
fn configs_check(p: &Plan) {
    for g in &p.guests {
        if let GuestKind::Host { config, .. } | GuestKind::Home { config, .. } = &g.kind {
            check(&g.name, config).unwrap_or_else(|e| panic!("{}: {e:?}\n{config}", g.name));
        }
    }
}

#[test]
fn the_demo_site_is_the_hand_wired_five_guests() {
    let p = plan("sites/demo.toml");
    assert_eq!(
        segments(&p),
        [
            ("wan0".to_string(), 3),
            ("net-private".to_string(), 2),
            ("lan-office1".to_string(), 2),
        ]
    );
    assert_eq!(
        wiring(&p, "office1"),
        [
            ("eth0".to_string(), "lan-office1".to_string(), 0),
            ("eth1".to_string(), "wan0".to_string(), 1)
        ]
    );
    let ram = |n: &str| p.guests.iter().find(|g| g.name == n).unwrap().memory_mib;
    assert_eq!(
        (ram("office1"), ram("head")),
        (16, 32),
        "the site's memory, else 32"
    );
    assert_eq!(address(&p, "host-private"), Ipv4Addr::new(10, 0, 0, 10));
    assert_eq!(address(&p, "host-office1"), Ipv4Addr::new(192, 168, 1, 10));
    assert_eq!(address(&p, INTERNET_HOST), Ipv4Addr::new(172, 16, 0, 100));
    assert_eq!(
        checks(&p),
        [
            "private → office1 host-private->host-office1:192.168.1.10 accept",
            "office1 → private host-office1->host-private:10.0.0.10 accept",
            "office1 → internet host-office1->internet:172.16.0.100 accept",
            "office1 → private host-office1->host-private:10.0.0.10 accept (line 36)",
            "office1 → 10.0.0.10 host-office1->host-private:10.0.0.10 accept (line 36)",
            "office1 → internet host-office1->internet:172.16.0.100 accept (line 36)",
            "private → office1 host-private->host-office1:192.168.1.10 accept (line 40)",
        ]
    );
    let inet = p.checks.iter().find(|c| c.to == INTERNET_HOST).unwrap();
    assert_eq!(
        inet.seen_as,
        Some(Ipv4Addr::new(172, 16, 0, 2)),
        "masqueraded as the leased WAN address"
    );
    // office1's WAN is DHCP: on the head's WAN, leased .2 by MAC by the
    // internet host (renumbered to .3 by the lease-change fault); its LAN
    // host asks the office's DHCP server and gets the range's first.
    assert_eq!(p.leases.len(), 1);
    let l = &p.leases[0];
    assert_eq!(
        (l.office.as_str(), l.address, l.renumbered),
        (
            "office1",
            Ipv4Addr::new(172, 16, 0, 2),
            Ipv4Addr::new(172, 16, 0, 3)
        )
    );
    let office = p.guests.iter().find(|g| g.name == "office1").unwrap();
    assert_eq!(office.nics[1].mac.as_deref(), Some(l.mac.as_str()));
    let inet = p.guests.iter().find(|g| g.name == INTERNET_HOST).unwrap();
    let GuestKind::Host { config, .. } = &inet.kind else {
        panic!()
    };
    assert!(
        config.contains(&format!(
            "[[dhcp_server]]\ninterface = \"eth0\"\nrange = \"172.16.0.2-172.16.0.2\"\nlease = 60\ndns = [\"172.16.0.100\"]\n\n[[dhcp_server.static]]\nmac = \"{}\"\naddress = \"172.16.0.2\"\n",
            l.mac
        )),
        "{config}"
    );
    let host = p.guests.iter().find(|g| g.name == "host-office1").unwrap();
    let GuestKind::Host { config, dhcp, .. } = &host.kind else {
        panic!()
    };
    assert!(*dhcp && config.contains("dhcp = true"), "{config}");
    // The concentrator's name: the internet host answers for it and hands
    // itself out as the DNS server.
    let inet = p.guests.iter().find(|g| g.name == INTERNET_HOST).unwrap();
    let GuestKind::Host {
        config,
        dns_records,
        ..
    } = &inet.kind
    else {
        panic!()
    };
    assert_eq!(
        dns_records,
        &[("vpn.example.com".to_string(), Ipv4Addr::new(172, 16, 0, 1))]
    );
    assert!(config.contains("dns = [\"172.16.0.100\"]"), "{config}");
    configs_check(&p);
}

#[test]
fn the_seed_site_has_an_isp_between_its_wans_and_home_pcs() {
    let p = plan("sites/seed-ch5.toml");
    // Three WAN subnets: the internet host sits at each gateway and forwards.
    assert_eq!(
        wiring(&p, INTERNET_HOST),
        [
            ("eth0".to_string(), "wan0".to_string(), 1),
            ("eth1".to_string(), "wan1".to_string(), 1),
            ("eth2".to_string(), "wan2".to_string(), 1),
        ]
    );
    let inet = p.guests.iter().find(|g| g.name == INTERNET_HOST).unwrap();
    let GuestKind::Host {
        config, forwards, ..
    } = &inet.kind
    else {
        panic!()
    };
    assert!(forwards);
    for gw in ["172.16.0.254/24", "172.16.10.1/24", "172.16.11.1/24"] {
        assert!(config.contains(gw), "{config}");
    }
    assert!(
        config.contains("[[firewall.allow]]\nfrom = \"0.0.0.0/0\"\nto = \"0.0.0.0/0\""),
        "the ISPs' router forwards: {config}"
    );
    // The head network's host sits at the explicit tests' addresses, not
    // inside the offices' LANs nested in it.
    let host = p.guests.iter().find(|g| g.name == "host-internal").unwrap();
    let GuestKind::Host {
        address: primary,
        extra,
        ..
    } = &host.kind
    else {
        panic!()
    };
    assert_eq!(*primary, Ipv4Addr::new(192, 168, 254, 1));
    assert_eq!(
        extra.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        ["192.168.1.5/16"]
    );
    // Home users dial in from the head's WAN, with their tunnel address.
    assert_eq!(address(&p, "home-home1"), Ipv4Addr::new(192, 168, 40, 10));
    assert_eq!(wiring(&p, "home-home1")[0].1, "wan0");
    let c = checks(&p);
    for want in [
        "home1 → internal home-home1->host-internal:192.168.254.1 accept",
        "internal → home1 host-internal->home-home1:192.168.40.10 deny",
        "office10 → office11 host-office10->host-office11:192.168.11.10 accept",
        "home1 → office10 home-home1->host-office10:192.168.10.10 accept",
        "internal → home2 host-internal->home-home2:192.168.40.11 deny",
        "192.168.1.5 → home1 host-internal->home-home1:192.168.40.10 deny (line 58)",
    ] {
        assert!(
            c.iter().any(|l| l == want),
            "no `{want}` in\n{}",
            c.join("\n")
        );
    }
    let from_extra = p
        .checks
        .iter()
        .find(|c| c.label == "192.168.1.5 → home1")
        .unwrap();
    assert_eq!(from_extra.from_ip, Ipv4Addr::new(192, 168, 1, 5));
    configs_check(&p);
}
