//! The site model (`outpost_core::site`): the example site files derive
//! configs whose plans equal the hand-written examples'; every cross-router
//! mistake is reported with file, line and column; the policy's matrix is
//! what the derived filters do.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;

use outpost_core::config::KeySource;
use outpost_core::keys::PublicKey;
use outpost_core::plan::{plan, ruleset};
use outpost_core::ruleset::{CtState, Hook, L4Proto, Verdict};
use outpost_core::ruleset_eval::{evaluate, Packet};
use outpost_core::site::{PublicKeys, Site};
use outpost_core::validate::check;
use outpost_core::Config;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3";

fn example(name: &str) -> String {
    std::fs::read_to_string(common::examples_dir().join(name)).unwrap()
}

fn site(name: &str) -> Site {
    Site::from_str_named(name, &example(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// Everyone gets the same test key, commented with their name.
fn keys(site: &Site) -> PublicKeys {
    site.key_needs()
        .into_iter()
        .map(|n| {
            let k = PublicKey::parse(&format!("{KEY} {}", n.owner)).unwrap();
            (n.owner, k)
        })
        .collect()
}

/// Every key, inline or a file, replaced by the one test key: the plans
/// are compared apart from key sources.
fn same_keys(c: &mut Config) {
    let k = PublicKey::parse(KEY).unwrap();
    if let Some(t) = &mut c.tunnel {
        t.host_key = KeySource::Inline(k.clone());
    }
    for p in &mut c.peers {
        p.public_key = KeySource::Inline(k.clone());
    }
}

fn derived(site: &Site) -> Vec<(String, Config)> {
    site.render(&keys(site))
        .unwrap()
        .routers
        .into_iter()
        .map(|r| {
            let c = check(&format!("{}/outpost.toml", r.name), &r.text).unwrap_or_else(|ds| {
                panic!(
                    "{}\n{}",
                    r.text,
                    ds.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            (r.name, c)
        })
        .collect()
}

fn hand(name: &str) -> Config {
    check(name, &example(name)).unwrap()
}

fn assert_same_plan(mut derived: Config, mut hand: Config) {
    same_keys(&mut derived);
    same_keys(&mut hand);
    // Paths: a derived router's own key is keys/NAME.ed25519.
    if let (Some(d), Some(h)) = (&mut derived.concentrator, &hand.concentrator) {
        d.host_key_file = h.host_key_file.clone();
    }
    let dir = Path::new("/etc");
    assert_eq!(plan(&derived, dir).unwrap(), plan(&hand, dir).unwrap());
}

#[test]
fn the_demo_site_derives_the_hand_written_demo_routers() {
    let s = site("sites/demo.toml");
    let d = derived(&s);
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].0, "head");
    assert_eq!(d[1].0, "office1");
    assert_same_plan(d[0].1.clone(), hand("site/concentrator.toml"));
    assert_same_plan(d[1].1.clone(), hand("site/office-dhcp.toml"));
    // The same office with a static WAN and no LAN DHCP is office.toml.
    let text = example("sites/demo.toml")
        .replace(", dhcp = \"192.168.1.10-192.168.1.99\"", "")
        .replace(
            "wan = { dhcp = true }",
            "wan = { address = \"172.16.0.2/24\" }",
        );
    let s = Site::from_str_named("demo.toml", &text).unwrap();
    let d = derived(&s);
    assert_same_plan(d[1].1.clone(), hand("site/office.toml"));
}

#[test]
fn the_seed_site_derives_the_seed_routers_plus_the_heads_gateway() {
    let s = site("sites/seed-ch5.toml");
    let mut d = derived(&s);
    assert_eq!(
        d.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["vpn", "office10", "office11"]
    );
    // The one intended difference: offices on other networks (172.16.10.x)
    // need the concentrator to have a way back; the hand-written seed
    // config has no route, so its replies could not leave.
    let routes = std::mem::take(&mut d[0].1.routes);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].via, Some(Ipv4Addr::new(172, 16, 0, 254)));
    assert_same_plan(d[0].1.clone(), hand("seed-ch5/vpn-server.toml"));
    assert_same_plan(d[1].1.clone(), hand("seed-ch5/office10.toml"));
    assert_same_plan(d[2].1.clone(), hand("seed-ch5/office11.toml"));
}

#[test]
fn derived_configs_are_commented_and_pin_the_other_ends_key_inline() {
    let s = site("sites/demo.toml");
    let d = s.render(&keys(&s)).unwrap();
    let office = &d.routers[1].text;
    assert!(office.starts_with("# office1: an office router.\n# Generated from the site file demo.toml by `mkoutpost site build`."), "{office}");
    assert!(office.contains("You may edit this copy"));
    assert!(office.contains("identity = \"keys/office1.ed25519\""));
    assert!(office.contains(&format!("host_key = \"{KEY} head\"")));
    assert!(!office.contains("host_key_file"));
    let head = &d.routers[0].text;
    assert!(head.contains("host_key_file = \"keys/head.ed25519\""));
    assert!(head.contains(&format!("public_key = \"{KEY} office1\"")));
    assert!(!head.contains("public_key_file"));
    // a comment before every section
    for text in [office, head] {
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with('[') {
                assert!(
                    lines[i - 1].starts_with('#'),
                    "no comment before {l}:\n{text}"
                );
            }
        }
    }
    assert_eq!(d.routers[1].key, "keys/office1.ed25519");
    assert_eq!(d.routers[1].site_key, "keys/office1.ed25519");
}

#[test]
fn render_needs_every_listed_key() {
    let s = site("sites/demo.toml");
    let needs: Vec<(String, String)> = s
        .key_needs()
        .into_iter()
        .map(|k| (k.owner, k.key))
        .collect();
    assert_eq!(
        needs,
        [
            ("head".to_string(), "keys/head.ed25519".to_string()),
            ("office1".to_string(), "keys/office1.ed25519".to_string())
        ]
    );
    let mut k = keys(&s);
    k.remove("head");
    let e = s.render(&k).unwrap_err();
    assert!(e.to_string().contains("no public key for `head`"), "{e}");
}

#[test]
fn home_users_get_a_pinned_known_hosts_line_and_a_pppd_command() {
    let s = site("sites/seed-ch5.toml");
    let d = s.render(&keys(&s)).unwrap();
    assert_eq!(d.homes.len(), 2);
    let h = &d.homes[0];
    assert_eq!(h.name, "home1");
    assert_eq!(h.known_hosts, format!("172.16.0.1 {KEY}\n"));
    assert!(h.connect.starts_with("#!/bin/sh\n"));
    assert!(h.connect.contains("pppd updetach noauth"), "{}", h.connect);
    assert!(
        h.connect.contains(
            "pty \"HOME='$here' exec dbclient -T -i '$here'/home1.ed25519 -p 22 home1@172.16.0.1\""
        ),
        "{}",
        h.connect
    );
    assert!(h.connect.contains("ip route add 192.168.0.0/16 dev vpn0"));
    assert!(!h.connect.contains(" -y"), "never trust on first use");
}

fn errors(text: &str) -> Vec<String> {
    match Site::from_str_named("s.toml", text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.diagnostics().iter().map(|d| d.to_string()).collect(),
    }
}

fn has(errs: &[String], at: &str, what: &str) {
    assert!(
        errs.iter().any(|e| e.starts_with(at) && e.contains(what)),
        "no `{at}…{what}` in:\n{}",
        errs.join("\n")
    );
}

const BASE: &str = r#"[site]
tunnel_pool = "10.254.0.0/24"

[head]
name = "head"
wan = { address = "172.16.0.1/24" }

[[head.network]]
name = "private"
address = "10.0.0.1/24"

[[office]]
name = "office1"
lan = { address = "192.168.1.1/24" }
wan = { address = "172.16.0.2/24" }
"#;

fn ok(text: &str) -> Site {
    Site::from_str_named("s.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn overlapping_office_lans_are_refused_where_the_second_is() {
    let t = format!("{BASE}\n[[office]]\nname = \"office2\"\nlan = {{ address = \"192.168.1.129/25\" }}\nwan = {{ address = \"172.16.0.3/24\" }}\n");
    let e = errors(&t);
    has(
        &e,
        "s.toml:19:",
        "office `office2`'s LAN 192.168.1.128/25 overlaps office `office1`'s LAN 192.168.1.0/24",
    );
}

#[test]
fn an_office_lan_equal_to_or_containing_a_head_network_is_refused_but_inside_one_is_fine() {
    let t = BASE.replace("192.168.1.1/24", "10.0.0.2/24");
    has(
        &errors(&t),
        "s.toml:14:",
        "overlaps the head office's network `private` (10.0.0.0/24)",
    );
    let t = BASE.replace("192.168.1.1/24", "10.0.0.1/16");
    has(
        &errors(&t),
        "s.toml:14:",
        "overlaps the head office's network `private`",
    );
    // the seed's shape: the office's /24 inside the head's /16
    let t = BASE.replace("10.0.0.1/24", "192.168.40.254/16");
    ok(&t);
}

#[test]
fn a_policy_or_test_naming_an_unknown_network_is_refused() {
    let t = format!("{BASE}\n[[policy]]\nfrom = [\"offices\"]\nto = [\"privat\"]\n\n[[test]]\nsrc = \"ofice1\"\naccept = [\"private\"]\n");
    let e = errors(&t);
    has(
        &e,
        "s.toml:19:7:",
        "`privat` is not a network, office or home user of this site",
    );
    has(&e, "s.toml:22:7:", "`ofice1` is not a network");
    has(
        &e,
        "s.toml:19:7:",
        "hint: use one of: head, private, office1, offices, home",
    );
    assert_eq!(e.len(), 2, "no follow-up errors: {e:?}");
}

#[test]
fn a_tunnel_pool_too_small_for_everyone_is_refused() {
    let t = format!("{BASE}\n[[home]]\nname = \"home1\"\n\n[[home]]\nname = \"home2\"\n")
        .replace("10.254.0.0/24", "10.254.0.0/30");
    let e = errors(&t);
    has(&e, "s.toml:2:15:", "tunnel_pool 10.254.0.0/30 is too small: the site needs 4 tunnel addresses (the concentrator, 1 offices, 2 home users), the pool has 2");
}

#[test]
fn tunnel_addresses_come_from_the_pool_in_order_the_concentrator_first() {
    let t = format!("{BASE}\n[[home]]\nname = \"home1\"\ntunnel_address = \"10.254.0.2\"\n\n[[home]]\nname = \"home2\"\n");
    let s = ok(&t);
    assert_eq!(s.head.tunnel_address, Ipv4Addr::new(10, 254, 0, 1));
    // .2 is given to home1, so office1 takes .3 and home2 .4
    assert_eq!(s.offices[0].tunnel_address, Ipv4Addr::new(10, 254, 0, 3));
    assert_eq!(s.homes[0].tunnel_address, Ipv4Addr::new(10, 254, 0, 2));
    assert_eq!(s.homes[1].tunnel_address, Ipv4Addr::new(10, 254, 0, 4));
}

#[test]
fn a_home_users_address_colliding_or_outside_the_pool_is_refused() {
    let t = format!("{BASE}tunnel_address = \"10.254.0.7\"\n\n[[home]]\nname = \"home1\"\ntunnel_address = \"10.254.0.7\"\n");
    has(
        &errors(&t),
        "s.toml:20:18:",
        "tunnel address 10.254.0.7 of `home1` is also `office1`'s",
    );
    let t = format!("{BASE}\n[[home]]\nname = \"home1\"\ntunnel_address = \"192.168.1.20\"\n");
    has(&errors(&t), "s.toml:19:18:", "tunnel address 192.168.1.20 of `home1` is not a host address of the tunnel pool 10.254.0.0/24, inside office `office1`'s LAN 192.168.1.0/24");
    let t = format!("{BASE}\n[[home]]\nname = \"home1\"\ntunnel_address = \"10.254.0.255\"\n");
    has(
        &errors(&t),
        "s.toml:19:",
        "is not a host address of the tunnel pool",
    );
}

#[test]
fn duplicate_router_names_are_refused() {
    let t = format!("{BASE}\n[[office]]\nname = \"office1\"\nlan = {{ address = \"192.168.2.1/24\" }}\nwan = {{ address = \"172.16.0.3/24\" }}\n\n[[home]]\nname = \"head\"\n");
    let e = errors(&t);
    has(
        &e,
        "s.toml:18:8:",
        "router name `office1` is used twice: by office and by office `office1`",
    );
    has(
        &e,
        "s.toml:23:8:",
        "router name `head` is used twice: by the head office and by home user `head`",
    );
    let t = BASE.replace("name = \"private\"", "name = \"office1\"");
    has(&errors(&t), "s.toml:13:", "name `office1` is used twice");
    let t = BASE.replace("name = \"office1\"", "name = \"offices\"");
    has(&errors(&t), "s.toml:13:", "`offices` is a reserved name");
}

#[test]
fn a_key_file_named_by_two_routers_is_refused() {
    let t = format!("{BASE}key = \"keys/head.ed25519\"\n");
    has(
        &errors(&t),
        "s.toml:13:8:",
        "key file keys/head.ed25519 is named by `head` and by `office1`",
    );
    let t = format!("{BASE}key = \"../keys/x\"\n");
    has(
        &errors(&t),
        "s.toml:16:7:",
        "leaves the site file's directory",
    );
    let t = format!("{BASE}key = \"/etc/x\"\n");
    has(&errors(&t), "s.toml:16:7:", "is an absolute path");
}

#[test]
fn offices_and_the_head_need_gateways_to_reach_each_other_across_networks() {
    let t = BASE.replace("172.16.0.2/24", "172.16.5.2/24");
    let e = errors(&t);
    has(
        &e,
        "s.toml:15:7:",
        "office `office1` cannot reach the concentrator 172.16.0.1",
    );
    has(
        &e,
        "s.toml:6:7:",
        "the concentrator cannot answer office `office1` at 172.16.5.2",
    );
    let t = BASE
        .replace(
            "\"172.16.0.2/24\"",
            "\"172.16.5.2/24\", gateway = \"172.16.5.1\"",
        )
        .replace(
            "\"172.16.0.1/24\"",
            "\"172.16.0.1/24\", gateway = \"172.16.0.254\"",
        );
    ok(&t);
}

#[test]
fn failing_policy_tests_say_what_was_expected() {
    let t = format!("{BASE}\n[[home]]\nname = \"home1\"\n\n[[test]]\nsrc = \"private\"\naccept = [\"home1\"]\ndeny = [\"office1\"]\n");
    let e = errors(&t);
    has(
        &e,
        "s.toml:22:",
        "test failed: private → home1: expected accept, but the policy denies it",
    );
    has(
        &e,
        "s.toml:23:",
        "test failed: private → office1: expected deny, but the policy accepts it",
    );
    assert!(e[0].contains("the default applies"), "{}", e[0]);
}

#[test]
fn policy_rules_cannot_make_home_users_destinations_or_leave_a_peer_nothing() {
    let t = format!("{BASE}\n[[home]]\nname = \"home1\"\n\n[[policy]]\nfrom = [\"private\"]\nto = [\"home1\", \"office1\"]\n");
    has(
        &errors(&t),
        "s.toml:22:7:",
        "a home user cannot be a destination",
    );
    let t = t.replace("\"home1\", ", "");
    let e = errors(&t);
    has(
        &e,
        "s.toml:12:1:",
        "the policy lets `office1` open connections to nothing",
    );
    has(
        &e,
        "s.toml:17:1:",
        "the policy lets `home1` open connections to nothing",
    );
}

#[test]
fn a_bom_and_crlf_site_file_works_and_locations_stay_right() {
    let t = format!(
        "\u{feff}{}",
        example("sites/demo.toml").replace('\n', "\r\n")
    );
    let s = Site::from_str_named("demo.toml", &t).unwrap();
    assert_eq!(s.offices[0].name, "office1");
    let bad = format!(
        "\u{feff}{}",
        BASE.replace("10.0.0.1/24", "10.0.0.1/33")
            .replace('\n', "\r\n")
    );
    let e = errors(&bad);
    has(&e, "s.toml:10:11:", "prefix length `33`");
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_a_location() {
    has(
        &errors(&format!("{BASE}lna = 1\n")),
        "s.toml:16:1:",
        "unknown field `lna`",
    );
    has(
        &errors(&BASE.replace("[site]", "[site]\ncpu = \"i386\"")),
        "s.toml:2:",
        "unknown variant `i386`",
    );
}

#[test]
fn per_router_cpu_and_format_default_to_the_sites() {
    let t = BASE
        .replace("[site]", "[site]\ncpu = \"i586\"\nformat = \"cf\"")
        .replace(
            "name = \"office1\"",
            "name = \"office1\"\nformat = \"floppy1440\"\ncpu = \"i486\"\nmemory = 16",
        );
    let s = ok(&t);
    assert_eq!(s.head.build.cpu.to_string(), "i586");
    assert_eq!(s.head.build.format.to_string(), "cf");
    assert_eq!(s.offices[0].build.cpu.to_string(), "i486");
    assert_eq!(s.offices[0].build.format.to_string(), "floppy1440");
    assert_eq!(s.offices[0].build.memory_mib, Some(16));
    let d = ok(BASE);
    assert_eq!(d.head.build.format.to_string(), "kernel");
    assert_eq!(d.head.build.cpu.to_string(), "i486");
}

fn matrix(s: &Site) -> Vec<String> {
    s.reachability()
        .iter()
        .map(|r| {
            format!(
                "{} -> {} {}",
                r.src,
                r.dst,
                if r.accept { "accept" } else { "deny" }
            )
        })
        .collect()
}

#[test]
fn the_demo_sites_reachability() {
    assert_eq!(
        matrix(&site("sites/demo.toml")),
        [
            "private -> office1 accept",
            "office1 -> private accept",
            "office1 -> internet accept",
        ]
    );
}

#[test]
/// The seed's, but for one deliberate difference: nothing opens a
/// connection to a home user (the seed's offices' `0/16` rules covered the
/// home users' addresses by accident; its home users only open connections).
fn the_seed_sites_reachability_is_the_seeds() {
    let m = matrix(&site("sites/seed-ch5.toml"));
    assert_eq!(
        m,
        [
            "internal -> office10 accept",
            "internal -> office11 accept",
            "internal -> home1 deny",
            "internal -> home2 deny",
            "office10 -> internal accept",
            // inside 192.168.0.0/16: through the concentrator, as in the seed
            "office10 -> office11 accept",
            "office10 -> home1 deny",
            "office10 -> home2 deny",
            "office11 -> internal accept",
            "office11 -> office10 accept",
            "office11 -> home1 deny",
            "office11 -> home2 deny",
            "home1 -> internal accept",
            "home1 -> office10 accept",
            "home1 -> office11 accept",
            "home1 -> home2 deny",
            "home2 -> internal accept",
            "home2 -> office10 accept",
            "home2 -> office11 accept",
            "home2 -> home1 deny",
            "office10 -> internet accept",
            "office11 -> internet accept",
        ]
    );
}

#[test]
fn explicit_policies_one_way_and_office_to_office() {
    let t = format!("{BASE}\n[[office]]\nname = \"office2\"\nlan = {{ address = \"192.168.2.1/24\" }}\nwan = {{ address = \"172.16.0.3/24\" }}\ninternet = false\n\n[[policy]]\nfrom = [\"office1\"]\nto = [\"private\", \"office2\"]\n\n[[policy]]\nfrom = [\"office2\"]\nto = [\"head\"]\nboth_ways = true\n");
    let s = ok(&t);
    assert_eq!(
        matrix(&s),
        [
            "private -> office1 deny",
            "private -> office2 accept",
            "office1 -> private accept",
            "office1 -> office2 accept",
            "office2 -> private accept",
            "office2 -> office1 deny",
            "office1 -> internet accept",
            "office2 -> internet deny",
        ]
    );
    let d = derived(&s);
    let o2 = &d[2].1;
    assert!(o2.firewall.masquerade.is_empty());
    assert_eq!(
        o2.tunnel.as_ref().unwrap().networks.len(),
        2,
        "private and office1 (for replies)"
    );
    check_matrix_against_rulesets(&s);
}

/// A host address inside `n` (its first host, or the /32 itself).
fn host(n: outpost_core::net::Ipv4Net) -> Ipv4Addr {
    if n.prefix() >= 31 {
        n.addr()
    } else {
        Ipv4Addr::from(u32::from(n.addr()) + 5)
    }
}

fn forward(c: &Config, src: Ipv4Addr, dst: Ipv4Addr, oif: &str) -> Verdict {
    let rs = ruleset(c);
    let fwd = rs.chain(Hook::Forward).unwrap();
    evaluate(
        fwd,
        &Packet {
            iif: "any".into(),
            oif: oif.into(),
            src,
            dst,
            proto: L4Proto::Tcp,
            dport: 80,
            ct: CtState::New,
        },
    )
}

/// Every pair of the matrix against the derived routers' forward chains:
/// accepted exactly when every router on the way (source office, the
/// concentrator, destination office) accepts, and routed into the tunnel.
fn check_matrix_against_rulesets(s: &Site) {
    let d = derived(s);
    let office = |name: &str| d.iter().find(|(n, _)| n == name).map(|(_, c)| c);
    let head = &d[0].1;
    for r in s.reachability() {
        let (src, dst) = (host(r.src_net), host(r.dst_net));
        let mut ok = true;
        if r.dst == "internet" {
            let o = office(&r.src).unwrap();
            ok &= forward(o, src, Ipv4Addr::new(198, 51, 100, 7), "eth1") == Verdict::Accept;
            assert_eq!(ok, r.accept, "{r:?}");
            continue;
        }
        if let Some(o) = office(&r.src) {
            ok &= forward(o, src, dst, "vpn0") == Verdict::Accept;
            let routed = o
                .tunnel
                .as_ref()
                .unwrap()
                .networks
                .iter()
                .any(|n| n.contains(dst));
            ok &= routed;
        }
        ok &= forward(head, src, dst, "eth1") == Verdict::Accept;
        if let Some(o) = office(&r.dst) {
            ok &= forward(o, src, dst, "eth0") == Verdict::Accept;
            // replies go back through the tunnel
            let back = o
                .tunnel
                .as_ref()
                .unwrap()
                .networks
                .iter()
                .any(|n| n.contains(src));
            ok &= back;
        }
        assert_eq!(ok, r.accept, "{r:?}");
    }
}

#[test]
fn the_example_sites_matrices_are_what_their_derived_filters_do() {
    check_matrix_against_rulesets(&site("sites/demo.toml"));
    check_matrix_against_rulesets(&site("sites/seed-ch5.toml"));
}

#[test]
fn every_derived_config_passes_validation_for_the_default_policy_with_home_users() {
    let t = format!("{BASE}\n[[home]]\nname = \"home1\"\n\n[[home]]\nname = \"home2\"\ntunnel_address = \"10.254.0.200\"\n");
    let s = ok(&t);
    let d = derived(&s);
    assert_eq!(d[0].1.peers.len(), 3);
    assert_eq!(
        d[0].1.peers[2].tunnel_address,
        Ipv4Addr::new(10, 254, 0, 200)
    );
    assert!(!d[0].1.peers[1].both_ways);
    check_matrix_against_rulesets(&s);
}

#[test]
fn a_dhcp_wan_and_a_lan_range_derive_a_dhcp_office() {
    let t = BASE
        .replace(
            "wan = { address = \"172.16.0.2/24\" }",
            "wan = { dhcp = true }",
        )
        .replace(
            "lan = { address = \"192.168.1.1/24\" }",
            "lan = { address = \"192.168.1.1/24\", dhcp = \"192.168.1.100-192.168.1.200\" }",
        );
    let s = ok(&t);
    assert_eq!(
        s.offices[0].lan_dhcp,
        Some((
            Ipv4Addr::new(192, 168, 1, 100),
            Ipv4Addr::new(192, 168, 1, 200)
        ))
    );
    let d = derived(&s);
    let c = &d[1].1;
    assert!(c.interface("wan").unwrap().dhcp);
    assert!(
        c.routes.is_empty(),
        "the lease's router is the default route"
    );
    assert_eq!(c.dhcp_servers[0].first, Ipv4Addr::new(192, 168, 1, 100));
}

#[test]
fn dhcp_mistakes_in_a_site_are_refused_at_their_place() {
    let t = BASE.replace(
        "wan = { address = \"172.16.0.2/24\" }",
        "wan = { dhcp = true, address = \"172.16.0.2/24\" }",
    );
    has(
        &errors(&t),
        "s.toml:15:",
        "office1's WAN has `dhcp = true` and a static address",
    );
    let t = BASE.replace(
        "wan = { address = \"172.16.0.1/24\" }",
        "wan = { address = \"172.16.0.1/24\", dhcp = true }",
    );
    has(
        &errors(&t),
        "s.toml:6:",
        "head's WAN: the concentrator needs a static address",
    );
    let t = BASE.replace(
        "lan = { address = \"192.168.1.1/24\" }",
        "lan = { address = \"192.168.1.1/24\", dhcp = \"192.168.1.1-192.168.1.50\" }",
    );
    has(
        &errors(&t),
        "s.toml:14:",
        "LAN DHCP: the range 192.168.1.1-192.168.1.50 contains the router's own address 192.168.1.1",
    );
    let t = BASE.replace(
        "lan = { address = \"192.168.1.1/24\" }",
        "lan = { address = \"192.168.1.1/24\", dhcp = \"10.0.0.5-10.0.0.9\" }",
    );
    has(
        &errors(&t),
        "s.toml:14:",
        "is outside the network 192.168.1.0/24",
    );
}
