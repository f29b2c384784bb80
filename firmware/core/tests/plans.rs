//! Golden-file tests of the plans computed from every example config:
//! the nft text of the ruleset, and the rest of the plan.

mod common;

use std::path::Path;

use outpost_core::plan::plan;

#[test]
fn every_example_matches_its_golden_plan() {
    let examples = common::examples();
    assert_eq!(examples.len(), 9);
    for (name, config) in examples {
        let p = plan(&config, Path::new("/boot/outpost")).unwrap();
        common::golden(&format!("{name}.nft"), &p.ruleset.render_nft());
        common::golden(
            &format!("{name}.plan.txt"),
            &outpost_core::plan::render::render_text(&p),
        );
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

/// Issue 18: `pty = true` (a stock server whose account's shell is pppd)
/// makes dbclient ask for a pty (`-t`); without it the office asks for
/// none (`-T`), as an Outpost concentrator's forced pppd wants.
#[test]
fn tunnel_pty_asks_the_server_for_a_pty() {
    let (_, mut c) = common::examples()
        .into_iter()
        .find(|(n, _)| n == "site-office")
        .unwrap();
    let dbclient = |c: &outpost_core::config::Config| {
        plan(c, Path::new("/boot/outpost"))
            .unwrap()
            .office
            .unwrap()
            .pppd_argv[2]
            .clone()
    };
    assert!(
        dbclient(&c).contains("exec dbclient -T -i "),
        "{}",
        dbclient(&c)
    );
    c.tunnel.as_mut().unwrap().pty = true;
    assert!(
        dbclient(&c).contains("exec dbclient -t -i "),
        "{}",
        dbclient(&c)
    );
}
