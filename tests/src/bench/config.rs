//! The benchmark's concentrator config: the example site's derived
//! `head` config (as `mkoutpost site build` writes it) with
//! `plain-path.toml` appended (one forward rule admitting the office's WAN
//! address to the private network). The site's keys are the ones the
//! rehearsal's build uses, so the office's pinned host key still matches.
//! Derived at run time rather than kept as a copy, so it cannot drift from
//! the site file.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mkoutpost::build::load_config;
use mkoutpost::cache::Cache;

use crate::example;
use crate::site::{CONCENTRATOR, SITE_FILE};

/// What the benchmark appends to the example concentrator's config.
pub const PLAIN_PATH: &str = include_str!("plain-path.toml");

/// The derived config's file name (its stem names the image's build directory).
pub const FILE: &str = "concentrator-bench.toml";

/// Writes the bench concentrator's config into `dir` and returns its path.
/// The site's keys are generated first if missing (as building its images
/// would).
pub fn write(dir: &Path) -> Result<PathBuf> {
    let site_file = example(SITE_FILE);
    let site = mkoutpost::site::load(&site_file)?;
    let cache = Cache::open_default()?;
    let mut generate =
        |private: &Path, owner: &str| mkoutpost::keys::generate(&cache, private, owner);
    let (keys, _) =
        mkoutpost::site::ensure_keys(&site, &mkoutpost::site::site_dir(&site_file), &mut generate)?;
    let derived = site.render(&keys)?;
    let head = derived
        .routers
        .iter()
        .find(|r| r.name == CONCENTRATOR)
        .context("the site has no concentrator `head`")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = dir.join(FILE);
    fs::write(&out, format!("{}{PLAIN_PATH}", head.text))
        .with_context(|| format!("writing {}", out.display()))?;
    load_config(&out).with_context(|| format!("checking {}", out.display()))?;
    Ok(out)
}
