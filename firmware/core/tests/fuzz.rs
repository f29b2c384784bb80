//! Fuzzing with proptest: no input — arbitrary text, arbitrary bytes, or a
//! valid config with random edits — makes parsing, validation or planning
//! panic. Inputs that once broke something are kept in
//! `tests/corpus/*.toml` and replayed first; proptest's own failure seeds
//! land in `proptest-regressions/` (committed). The site parser
//! (`outpost_core::site`) gets the same treatment from the example site
//! files in `examples/sites/`.

mod common;

use std::path::Path;

use outpost_core::plan::plan;
use outpost_core::validate::check;
use proptest::prelude::*;

fn exercise(text: &str) {
    match check("fuzz.toml", text) {
        Ok(mut c) => {
            common::fill_test_keys(&mut c);
            let p = plan(&c, Path::new("/boot")).unwrap();
            let _ = p.ruleset.render_nft();
        }
        Err(ds) => {
            assert!(!ds.is_empty());
            for d in ds {
                assert!(d.at.line >= 1 && d.at.column >= 1);
                assert!(d.to_string().starts_with("fuzz.toml:"));
            }
        }
    }
}

/// A site file: parsed, validated, and when valid rendered (with
/// placeholder keys) and its matrix computed; never a panic.
fn exercise_site(text: &str) {
    match outpost_core::site::Site::from_str_named("fuzz.toml", text) {
        Ok(s) => {
            let keys = outpost_core::site::derive::placeholder_keys(&s);
            let d = s.render(&keys).unwrap();
            for r in d.routers {
                check("derived.toml", &r.text).unwrap();
            }
            let _ = s.reachability();
        }
        Err(e) => {
            assert!(!e.diagnostics().is_empty());
            for d in e.diagnostics() {
                assert!(d.at.line >= 1 && d.at.column >= 1);
                assert!(d.to_string().starts_with("fuzz.toml:"));
            }
        }
    }
}

fn site_seeds() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(common::examples_dir().join("sites"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    v.sort();
    v
}

fn seeds() -> Vec<String> {
    let mut v = Vec::new();
    for dir in ["seed-ch5", "site"] {
        for e in std::fs::read_dir(common::examples_dir().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                v.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    v.sort();
    v
}

#[test]
fn corpus_replays_without_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        exercise(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        n += 1;
    }
    assert!(n >= 5, "corpus too small: {n}");
    for s in site_seeds() {
        exercise_site(&s);
    }
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Duplicate(usize, usize),
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b: Vec<char> = text.chars().collect();
    for e in edits {
        let len = b.len().max(1);
        match e {
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(b.len());
                if at < end {
                    b.drain(at..end);
                }
            }
            Edit::Insert(at, s) => {
                let at = (at % len).min(b.len());
                b.splice(at..at, s.chars());
            }
            Edit::Duplicate(at, n) => {
                let at = (at % len).min(b.len());
                let end = (at + n).min(b.len());
                let piece: Vec<char> = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
        }
    }
    b.into_iter().collect()
}

fn edit() -> impl Strategy<Value = Edit> {
    let snippet = prop_oneof![
        Just("\"".to_string()),
        Just("]".to_string()),
        Just("[[peer]]\n".to_string()),
        Just("[[office]]\n".to_string()),
        Just("[[policy]]\nfrom=[\"home\"]\nto=[\"offices\"]\n".to_string()),
        Just("tunnel_address = \"10.254.0.2\"\n".to_string()),
        Just("0.0.0.0/0".to_string()),
        Just("/33".to_string()),
        Just("\n".to_string()),
        Just("=".to_string()),
        Just("\u{feff}".to_string()),
        Just("é".to_string()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), snippet).prop_map(|(a, s)| Edit::Insert(a, s)),
        (any::<usize>(), 0usize..200).prop_map(|(a, n)| Edit::Duplicate(a, n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
        exercise(&s);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
        exercise(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn arbitrary_site_text_never_panics(s in "\\PC{0,400}") {
        exercise_site(&s);
    }

    #[test]
    fn mutated_site_files_never_panic(i in 0usize..2, edits in proptest::collection::vec(edit(), 1..6)) {
        let seeds = site_seeds();
        exercise_site(&apply(&seeds[i % seeds.len()], &edits));
    }

    #[test]
    fn mutated_valid_configs_never_panic(i in 0usize..8, edits in proptest::collection::vec(edit(), 1..6)) {
        let seeds = seeds();
        exercise(&apply(&seeds[i % seeds.len()], &edits));
    }
}
