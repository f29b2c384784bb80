//! The nf_tables encoder against the real kernel and the host's real `nft`,
//! in throwaway network namespaces: every example's ruleset, loaded by
//! outpostd's encoder, lists back (`nft list ruleset`) exactly as the core's
//! golden listing says; loading twice changes nothing; a foreign table
//! survives; a batch the kernel refuses leaves the previous rules in force;
//! and every match and verdict the core can express lists the same whether
//! `nft -f` loaded the core's text or outpostd loaded the ruleset.

// The core's example loader and golden paths, one copy for both crates.
#[path = "../../core/tests/common/mod.rs"]
mod common;
mod netns;

use std::path::Path;
use std::process::Command;

use netns::{in_netns, root_or_skip};
use outpost_core::plan::plan;
use outpost_core::ruleset::{
    Chain, ChainType, CtState, Family, Hook, IcmpType, L4Proto, Match, Policy, Rule, Ruleset,
    Table, Verdict,
};
use outpostd::nftables::{NfTables, NftError};

/// Every example's ruleset as (`dir-stem`, ruleset), as the core's golden
/// files name them; key files are replaced by a test key (the ruleset does
/// not depend on keys).
fn example_rulesets() -> Vec<(String, Ruleset)> {
    let out: Vec<(String, Ruleset)> = common::examples()
        .into_iter()
        .map(|(name, c)| (name, plan(&c, Path::new("/boot/outpost")).unwrap().ruleset))
        .collect();
    assert!(out.len() >= 7, "examples missing: {}", out.len());
    out
}

fn golden(name: &str) -> String {
    let p = common::golden_path(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Runs the host's `nft ARGS` in the calling thread's namespace.
fn nft(args: &[&str]) -> String {
    nft_stdin(args, None)
}

fn nft_stdin(args: &[&str], input: Option<&str>) -> String {
    use std::io::Write;
    let mut cmd = Command::new("nft");
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("run nft (Debian package nftables)");
    {
        let mut stdin = child.stdin.take().unwrap();
        if let Some(text) = input {
            stdin.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_example_lists_back_as_the_cores_golden_listing() {
    if !root_or_skip("every_example_lists_back_as_the_cores_golden_listing") {
        return;
    }
    for (name, rs) in example_rulesets() {
        in_netns(move || async move {
            // someone else's table, there first, must survive our loads
            nft(&["add", "table", "inet", "other"]);
            let mut nf = NfTables::open().unwrap();
            nf.load(&rs).unwrap_or_else(|e| panic!("{name}: {e}"));
            let first = nft(&["list", "ruleset"]);
            nf.load(&rs)
                .unwrap_or_else(|e| panic!("{name} (again): {e}"));
            let second = nft(&["list", "ruleset"]);
            assert_eq!(first, second, "{name}: loading twice changed the listing");
            let want = golden(&format!("{name}.nft-list.txt"));
            assert_eq!(
                second, want,
                "{name}: nft lists outpostd's load differently from the core's golden listing"
            );
            let v = nf.verify(&rs).unwrap();
            assert!(v.matches(), "{name}: {}", v.summary());
        });
    }
}

/// A ruleset using every match and verdict the core has, in both families.
fn everything() -> Ruleset {
    let rule = |matches: Vec<Match>, verdict, comment: Option<&str>| Rule {
        matches,
        verdict,
        comment: comment.map(str::to_string),
    };
    let net = |s: &str| s.parse().unwrap();
    let filter_rules = vec![
        rule(vec![Match::IifName("lo".into())], Verdict::Accept, None),
        rule(
            vec![Match::IifName("ppp*".into()), Match::OifName("eth1".into())],
            Verdict::Accept,
            Some("tunnel \"in\""),
        ),
        rule(
            vec![Match::CtState(vec![CtState::Established, CtState::Related])],
            Verdict::Accept,
            None,
        ),
        rule(
            vec![Match::CtState(vec![CtState::Invalid])],
            Verdict::Drop,
            None,
        ),
        rule(
            vec![
                Match::CtState(vec![CtState::New]),
                Match::L4Proto(L4Proto::Udp),
            ],
            Verdict::Reject,
            None,
        ),
        rule(vec![Match::L4Proto(L4Proto::Tcp)], Verdict::Drop, None),
        rule(vec![Match::L4Proto(L4Proto::Icmp)], Verdict::Accept, None),
        rule(vec![Match::Dport(L4Proto::Udp, 53)], Verdict::Accept, None),
        rule(vec![Match::Dport(L4Proto::Tcp, 23)], Verdict::Reject, None),
        rule(
            vec![
                Match::SAddr(net("10.0.0.0/8")),
                Match::Dport(L4Proto::Tcp, 25),
            ],
            Verdict::Reject,
            None,
        ),
        rule(
            vec![
                Match::SAddr(net("10.1.2.3/32")),
                Match::DAddr(net("172.16.0.0/12")),
                Match::Dport(L4Proto::Tcp, 22),
            ],
            Verdict::Accept,
            Some("ssh"),
        ),
        rule(
            vec![
                Match::DAddr(net("192.168.7.0/25")),
                Match::Icmp(IcmpType::EchoRequest),
            ],
            Verdict::Reject,
            None,
        ),
        rule(vec![], Verdict::Drop, Some("last")),
    ];
    let chain = |name: &str, kind, hook, priority, policy, rules| Chain {
        name: name.into(),
        kind,
        hook,
        priority,
        policy,
        rules,
    };
    Ruleset {
        filter: Table {
            family: Family::Inet,
            name: "outpost".into(),
            chains: vec![
                chain(
                    "input",
                    ChainType::Filter,
                    Hook::Input,
                    0,
                    Policy::Drop,
                    filter_rules.clone(),
                ),
                chain(
                    "forward",
                    ChainType::Filter,
                    Hook::Forward,
                    0,
                    Policy::Drop,
                    filter_rules,
                ),
                chain(
                    "output",
                    ChainType::Filter,
                    Hook::Output,
                    0,
                    Policy::Accept,
                    vec![],
                ),
            ],
        },
        nat: Table {
            family: Family::Ip,
            name: "outpost_nat".into(),
            chains: vec![chain(
                "postrouting",
                ChainType::Nat,
                Hook::Postrouting,
                100,
                Policy::Accept,
                vec![
                    rule(
                        vec![
                            Match::OifName("eth1".into()),
                            Match::SAddr(net("192.168.1.0/24")),
                        ],
                        Verdict::Masquerade,
                        Some("lan out"),
                    ),
                    rule(
                        vec![
                            Match::Dport(L4Proto::Tcp, 80),
                            Match::OifName("ppp*".into()),
                        ],
                        Verdict::Masquerade,
                        None,
                    ),
                ],
            )],
        },
    }
}

#[test]
fn every_match_and_verdict_lists_the_same_as_nft_loading_the_cores_text() {
    if !root_or_skip("every_match_and_verdict_lists_the_same_as_nft_loading_the_cores_text") {
        return;
    }
    let rs = everything();
    let text = rs.render_nft();
    let by_nft = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let out = by_nft.clone();
    in_netns(move || async move {
        nft_stdin(&["-f", "-"], Some(&text));
        *out.lock().unwrap() = nft(&["list", "ruleset"]);
    });
    let want = by_nft.lock().unwrap().clone();
    assert!(want.contains("masquerade"), "{want}");
    in_netns(move || async move {
        let mut nf = NfTables::open().unwrap();
        nf.load(&rs).unwrap();
        let have = nft(&["list", "ruleset"]);
        assert_eq!(
            have, want,
            "outpostd's load lists differently from nft loading the core's text"
        );
        assert!(nf.verify(&rs).unwrap().matches());
    });
}

#[test]
fn a_refused_batch_leaves_the_previous_rules_in_force() {
    if !root_or_skip("a_refused_batch_leaves_the_previous_rules_in_force") {
        return;
    }
    let (name, good) = example_rulesets()
        .into_iter()
        .find(|(n, _)| n == "site-office")
        .unwrap();
    in_netns(move || async move {
        nft(&["add", "table", "inet", "other"]);
        let mut nf = NfTables::open().unwrap();
        nf.load(&good).unwrap();
        let before = nft(&["list", "ruleset"]);
        // A nat-type chain on the forward hook: the kernel refuses it
        // after the batch has already deleted the old tables.
        let mut bad = good.clone();
        bad.filter.chains[1].kind = ChainType::Nat;
        bad.filter.chains[0].rules.clear();
        match nf.load(&bad) {
            Err(NftError::Rejected { what, .. }) => {
                assert!(what.contains("chain forward"), "{what}")
            }
            other => panic!("{name}: the kernel took a nat chain on forward: {other:?}"),
        }
        assert_eq!(
            nft(&["list", "ruleset"]),
            before,
            "a refused batch changed the rules"
        );
        assert!(nf.verify(&good).unwrap().matches());
        // the verification tells when the kernel's tables drift
        nft(&["insert", "rule", "ip", "outpost", "input", "accept"]);
        let v = nf.verify(&good).unwrap();
        assert!(!v.matches(), "an added rule went unnoticed");
        assert!(v.summary().contains("chain input"), "{}", v.summary());
        nf.load(&good).unwrap();
        assert!(nf.verify(&good).unwrap().matches());
        nft(&["delete", "table", "ip", "outpost_nat"]);
        assert!(
            !nf.verify(&good).unwrap().matches(),
            "a deleted table went unnoticed"
        );
    });
}
