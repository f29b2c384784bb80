//! Shared by the integration tests: loading the repo's example configs
//! (with fixed test keys standing in for the key files mkoutpost
//! generates), and golden-file comparison (`OUTPOST_BLESS=1` rewrites).
//! outpostd's nf_tables tests include this file too (`#[path]`), so paths
//! here hold from either crate's manifest directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use outpost_core::config::KeySource;
use outpost_core::keys::PublicKey;
use outpost_core::validate::check;
use outpost_core::Config;

/// The workspace's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every example config as (`dir-name`, config), sorted.
pub fn examples() -> Vec<(String, Config)> {
    let mut out = Vec::new();
    for dir in ["seed-ch5", "site"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let mut c = check(&f.display().to_string(), &text).unwrap_or_else(|ds| {
                panic!(
                    "{}",
                    ds.iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            });
            fill_test_keys(&mut c);
            let stem = f.file_stem().unwrap().to_string_lossy().to_string();
            out.push((format!("{dir}-{stem}"), c));
        }
    }
    out
}

/// Replaces key-file references with a fixed, valid test key.
pub fn fill_test_keys(c: &mut Config) {
    let k = PublicKey::parse(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3 test-key",
    )
    .unwrap();
    if let Some(t) = &mut c.tunnel {
        if let KeySource::File(_) = t.host_key {
            t.host_key = KeySource::Inline(k.clone());
        }
    }
    for p in &mut c.peers {
        if let KeySource::File(_) = p.public_key {
            p.public_key = KeySource::Inline(k.clone());
        }
    }
}

/// The core's golden file `name` (from this crate or a sibling crate).
pub fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/golden")
        .join(name)
}

/// Compares `actual` with golden file `name`; with `OUTPOST_BLESS=1` writes it.
pub fn golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("OUTPOST_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with OUTPOST_BLESS=1 to create it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the golden file (OUTPOST_BLESS=1 regenerates it after review)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
