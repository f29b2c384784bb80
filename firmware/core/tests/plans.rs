//! Golden-file tests of the plans computed from every example config:
//! the nft text of the ruleset, and the rest of the plan.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use outpost_core::plan::{plan, Plan};

fn render(p: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "hostname {}", p.hostname);
    for i in &p.interfaces {
        let _ = writeln!(
            s,
            "interface {} dev {} address {:?} dhcp {} mtu {:?}",
            i.name,
            i.device,
            i.address.map(|a| a.to_string()),
            i.dhcp,
            i.mtu
        );
    }
    for r in &p.routes {
        let _ = writeln!(s, "route {} via {:?} dev {:?}", r.dst, r.via, r.dev);
    }
    for c in &p.sysctls {
        let _ = writeln!(s, "sysctl {} = {}", c.key, c.value);
    }
    if let Some(o) = &p.office {
        let _ = writeln!(s, "\n[office]\npppd argv:");
        for a in &o.pppd_argv {
            let _ = writeln!(s, "  {a:?}");
        }
        let _ = writeln!(
            s,
            "ifname {}\nssh_home {}\n{}:\n{}",
            o.ifname, o.ssh_home, o.known_hosts_path, o.known_hosts
        );
        for r in &o.link_routes {
            let _ = writeln!(s, "link route {} dev {:?}", r.dst, r.dev);
        }
    }
    if let Some(c) = &p.concentrator {
        let _ = writeln!(
            s,
            "\n[concentrator]\ndropbear argv: {:?}\nhost key {}\ngroup {}",
            c.dropbear_argv, c.host_key_path, c.group_line
        );
        for peer in &c.peers {
            let _ = writeln!(
                s,
                "\n[peer {}]\npasswd {}\nhome {}\n{}:\n{}{}:\n{}ifname {}",
                peer.name,
                peer.passwd_line,
                peer.home,
                peer.authorized_keys_path,
                peer.authorized_keys,
                peer.pppd_options_path,
                peer.pppd_options,
                peer.ifname
            );
            for r in &peer.link_routes {
                let _ = writeln!(s, "link route {} dev {:?}", r.dst, r.dev);
            }
        }
    }
    s
}

#[test]
fn every_example_matches_its_golden_plan() {
    let examples = common::examples();
    assert_eq!(examples.len(), 8);
    for (name, config) in examples {
        let p = plan(&config, Path::new("/boot/outpost")).unwrap();
        common::golden(&format!("{name}.nft"), &p.ruleset.render_nft());
        common::golden(&format!("{name}.plan.txt"), &render(&p));
    }
}

#[test]
fn office_tunnel_pins_the_host_key_and_never_trusts_on_first_use() {
    let (_, c) = common::examples()
        .into_iter()
        .find(|(n, _)| n == "site-office")
        .unwrap();
    let p = plan(&c, Path::new("/boot/outpost")).unwrap();
    let o = p.office.unwrap();
    let pty = &o.pppd_argv[2];
    assert!(pty.contains("dbclient") && !pty.contains(" -y"), "{pty}");
    assert!(
        pty.starts_with("HOME=/run/outpost/ssh exec dbclient"),
        "{pty}"
    );
    assert_eq!(o.known_hosts_path, "/run/outpost/ssh/.ssh/known_hosts");
    assert!(o.known_hosts.starts_with("172.16.0.1 ssh-ed25519 AAAA"));
    for opt in [
        "noauth",
        "nodetach",
        "nodefaultroute",
        "noipdefault",
        "lcp-echo-interval",
    ] {
        assert!(o.pppd_argv.iter().any(|a| a == opt), "{opt} missing");
    }
    assert!(!o.pppd_argv.iter().any(|a| a == "defaultroute"));
}

#[test]
fn plan_refuses_unloaded_key_files() {
    let text = std::fs::read_to_string(common::examples_dir().join("site/office.toml")).unwrap();
    let c = outpost_core::validate::check("office.toml", &text).unwrap();
    let e = plan(&c, Path::new("/")).unwrap_err();
    assert!(
        e.to_string().contains("keys/concentrator.ed25519.pub"),
        "{e}"
    );
}
