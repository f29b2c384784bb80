//! The benchmark's concentrator config: `examples/site/concentrator.toml`
//! with `plain-path.toml` appended (one forward rule admitting the office's
//! WAN address to the private network), written next to copies of the
//! example site's keys so that the office's pinned host key still matches.
//! Derived at run time rather than kept as a copy, so it cannot drift from
//! the example.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mkoutpost::build::load_config;
use mkoutpost::cache::Cache;

use crate::example;
use crate::site::{CONCENTRATOR, OFFICE};

/// What the benchmark appends to the example concentrator's config.
pub const PLAIN_PATH: &str = include_str!("plain-path.toml");

/// The derived config's file name (its stem names the image's build directory).
pub const FILE: &str = "concentrator-bench.toml";

/// Writes the bench concentrator's config into `dir` and returns its path.
/// The example site's keys are generated first if missing (as building
/// its images would), then copied beside it.
pub fn write(dir: &Path) -> Result<PathBuf> {
    let site = example("site");
    let cache = Cache::open_default()?;
    for name in [OFFICE, CONCENTRATOR] {
        let path = site.join(format!("{name}.toml"));
        let config = load_config(&path)?;
        mkoutpost::keys::ensure(&cache, &config, &site)
            .with_context(|| format!("keys of {}", path.display()))?;
    }
    let keys = dir.join("keys");
    fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
    for entry in fs::read_dir(site.join("keys")).context("reading examples/site/keys")? {
        let entry = entry?;
        let to = keys.join(entry.file_name());
        fs::copy(entry.path(), &to).with_context(|| format!("copying to {}", to.display()))?;
    }
    let base = site.join(format!("{CONCENTRATOR}.toml"));
    let text = fs::read_to_string(&base).with_context(|| format!("reading {}", base.display()))?;
    let out = dir.join(FILE);
    fs::write(&out, format!("{text}{PLAIN_PATH}"))
        .with_context(|| format!("writing {}", out.display()))?;
    load_config(&out).with_context(|| format!("checking {}", out.display()))?;
    Ok(out)
}
