//! The rendered rulesets against the real thing: every example's nft text
//! passes `nft -c -f`, loads with `nft -f` into a throwaway network
//! namespace, and `nft list ruleset` there matches a golden file. Needs
//! root and the host's `nft`; skipped, saying why, when not root.

mod common;

use std::path::Path;
use std::process::Command;

use outpost_core::plan::plan;

/// A network namespace that is deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Self {
        let name = format!("outpost-test-{}-{tag}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name} failed");
        Netns(name)
    }

    fn nft(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, "nft"])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn rulesets_load_into_the_kernel_and_list_back_as_golden() {
    if !is_root() {
        eprintln!(
            "SKIPPED: not root; creating a network namespace and loading nf_tables needs root"
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("outpost-nft-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (name, config)) in common::examples().into_iter().enumerate() {
        let text = plan(&config, Path::new("/boot/outpost"))
            .unwrap()
            .ruleset
            .render_nft();
        let file = dir.join(format!("{name}.nft"));
        std::fs::write(&file, &text).unwrap();
        let file = file.display().to_string();
        let ns = Netns::new(&i.to_string());
        let (ok, out) = ns.nft(&["-c", "-f", &file]);
        assert!(ok, "{name}: nft -c rejected the ruleset:\n{out}\n{text}");
        // a table of someone else's must survive our load untouched
        let (ok, out) = ns.nft(&["add", "table", "inet", "other"]);
        assert!(ok, "{out}");
        for round in 0..2 {
            let (ok, out) = ns.nft(&["-f", &file]);
            assert!(ok, "{name}: nft -f failed (round {round}):\n{out}");
        }
        let (ok, listed) = ns.nft(&["list", "ruleset"]);
        assert!(ok, "{listed}");
        assert!(
            listed.contains("table inet other"),
            "{name}: another table was touched:\n{listed}"
        );
        common::golden(&format!("{name}.nft-list.txt"), &listed);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
