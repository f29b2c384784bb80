//! `mkoutpost site rehearse` on the site files a user starts from: the
//! seed's chapter-5 company (two offices on their own ISPs' networks, two
//! home users whose tunnel addresses lie inside the head office's network)
//! rehearses green, a head-office host answering a home user among the
//! checks; and a policy changed so that one office may no longer reach the
//! private network is rehearsed as exactly those pairs refused, with the
//! explicit test that still expects it reported as the one mismatch.
//! The faults run in the whole-site test (`site.rs`); these run the matrix.

use std::path::{Path, PathBuf};

use mkoutpost::rehearse::{self, report, Options};
use outpost_tests::{example, repo};

fn out(name: &str) -> PathBuf {
    repo().join("target/e2e/rehearse").join(name)
}

fn rehearse(site: &Path, name: &str) -> Vec<report::Line> {
    let opts = Options {
        site: site.to_path_buf(),
        out: out(name),
        faults: false,
        wan_cut: rehearse::faults::WAN_CUT,
    };
    let (outcome, running) = rehearse::rehearse(&opts, &mut |l| eprintln!("{name}: {l}"))
        .unwrap_or_else(|e| panic!("{name}: the rehearsal could not run: {e:#}"));
    eprint!("{}", report::table(&outcome.lines));
    running.shutdown().unwrap();
    outcome.lines
}

fn line<'a>(lines: &'a [report::Line], what: &str, origin: &str) -> &'a report::Line {
    lines
        .iter()
        .find(|l| l.what == what && l.origin == origin)
        .unwrap_or_else(|| panic!("no {origin} line `{what}` in\n{}", report::table(lines)))
}

#[test]
fn the_seeds_company_rehearses_green_home_users_answered() {
    let lines = rehearse(&example("sites/seed-ch5.toml"), "seed-ch5");
    let table = report::table(&lines);
    assert!(lines.iter().all(|l| l.ok), "{table}");
    // The seed's proxy-ARP promise: the head office answers a home user
    // whose tunnel address lies inside its own network.
    let home = line(&lines, "home1 → internal", "policy");
    assert_eq!(home.observed.split(',').next(), Some("accepted"), "{table}");
    // One way: the head office may not open connections to a home user.
    let back = line(&lines, "internal → home1", "policy");
    assert!(back.observed.starts_with("refused"), "{table}");
    // Offices on different ISPs reach each other through the concentrator,
    // and the internet through their own WAN.
    assert!(line(&lines, "office10 → office11", "policy").ok, "{table}");
    let inet = line(&lines, "office10 → internet", "policy");
    assert!(inet.observed.contains("seen as 172.16.10.2"), "{table}");
}

/// The demo site with a second office whose policy no longer reaches the
/// private network (it may reach office1 only), and a stale test that
/// still says it does.
const CHANGED: &str = r#"
[[office]]
name = "office2"
lan = { address = "192.168.2.1/24" }
wan = { address = "172.16.0.3/24" }

[[policy]]
from = ["office1"]
to = ["private"]
both_ways = true

[[policy]]
from = ["office2"]
to = ["office1"]

[[test]]
src = "office2"
accept = ["private"]
"#;

#[test]
fn a_changed_policy_is_rehearsed_as_exactly_its_refused_pairs() {
    let dir = out("changed-site");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(example("sites/demo.toml")).unwrap();
    let site = dir.join("site.toml");
    std::fs::write(&site, format!("{text}{CHANGED}")).unwrap();
    let lines = rehearse(&site, "changed");
    let table = report::table(&lines);
    // office2 can no longer reach the private network, nor it office2...
    for what in [
        "office2 → private",
        "private → office2",
        "office1 → office2",
    ] {
        let l = line(&lines, what, "policy");
        assert!(l.ok && l.expected == "refuse", "{what}:\n{table}");
        assert!(l.observed.starts_with("refused"), "{what}:\n{table}");
    }
    // ...office2 still opens connections to office1, office1 to private.
    for what in [
        "office2 → office1",
        "office1 → private",
        "private → office1",
    ] {
        let l = line(&lines, what, "policy");
        assert!(l.ok && l.expected == "accept", "{what}:\n{table}");
    }
    // The stale explicit test is the one mismatch.
    let bad: Vec<&report::Line> = lines.iter().filter(|l| !l.ok).collect();
    assert_eq!(bad.len(), 1, "{table}");
    assert_eq!(
        (bad[0].what.as_str(), bad[0].expected.as_str()),
        ("office2 → private", "accept"),
        "{table}"
    );
    assert!(bad[0].origin.starts_with("test:"), "{table}");
    assert!(
        !bad[0].detail.is_empty(),
        "consoles shown for a mismatch:\n{table}"
    );
}
