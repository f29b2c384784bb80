//! The upstream sources the firmware is built from: Debian source packages at
//! the versions pinned in `scripts/versions.sh` (downloaded by
//! `scripts/bootstrap.sh` into the cache), checked against the checksums in
//! their `.dsc` before they are unpacked, and the kernel source tarball from
//! Debian's `linux-source-6.1` package.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::cache::Cache;
use crate::error::{BuildError, Result};

/// `scripts/versions.sh`, compiled in so that a changed pin changes every
/// cache key that depends on it.
pub const VERSIONS_SH: &str = include_str!("../../scripts/versions.sh");

/// The pinned value of `key` in `scripts/versions.sh`.
pub fn pinned(key: &str) -> Result<&'static str> {
    VERSIONS_SH
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .ok_or_else(|| BuildError::Check(format!("scripts/versions.sh has no {key}")))
}

/// A Debian source package, located and verified.
#[derive(Debug, Clone)]
pub struct SourcePackage {
    /// Source package name, e.g. `busybox`.
    pub name: String,
    /// Debian version without epoch, e.g. `1.35.0-4+deb12u1`.
    pub version: String,
    /// Path of the `.dsc`.
    pub dsc: PathBuf,
}

impl SourcePackage {
    /// Finds the pinned version of `name` (pin key `pin_key`) in the cache's
    /// source directory and checks every file against its `.dsc`.
    pub fn locate(cache: &Cache, name: &str, pin_key: &str) -> Result<Self> {
        let full = pinned(pin_key)?;
        let version = full.split_once(':').map_or(full, |(_, v)| v).to_string();
        let dsc = cache.sources_dir().join(format!("{name}_{version}.dsc"));
        if !dsc.is_file() {
            return Err(BuildError::Missing {
                what: format!("Debian source package {name} {full}"),
                hint: format!(
                    "run `make deps` (scripts/bootstrap.sh), which downloads it into {}",
                    cache.sources_dir().display()
                ),
            });
        }
        let pkg = SourcePackage {
            name: name.into(),
            version,
            dsc,
        };
        pkg.verify()?;
        Ok(pkg)
    }

    /// Checks each file listed in the `.dsc`'s `Checksums-Sha256` field.
    pub fn verify(&self) -> Result<()> {
        let text = fs::read_to_string(&self.dsc)
            .map_err(|e| BuildError::io(format!("reading {}", self.dsc.display()), e))?;
        let dir = self.dsc.parent().unwrap_or(Path::new("."));
        let files = dsc_sha256_entries(&text);
        if files.is_empty() {
            return Err(BuildError::Check(format!(
                "{} lists no Checksums-Sha256",
                self.dsc.display()
            )));
        }
        for (sum, file) in files {
            let path = dir.join(&file);
            let data = fs::read(&path)
                .map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
            let got: String = Sha256::digest(&data)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if got != sum {
                return Err(BuildError::Check(format!(
                    "{} does not match its .dsc (sha256 {got}, expected {sum}); delete it and run `make deps` again",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    /// Unpacks the sources into `dest` (which must not exist), with Debian's
    /// patches applied or not.
    pub fn unpack(&self, dest: &Path, debian_patches: bool, log: &Path) -> Result<()> {
        let mut cmd = Command::new("dpkg-source");
        cmd.arg("--no-check");
        if !debian_patches {
            cmd.arg("--skip-patches");
        }
        cmd.arg("-x").arg(&self.dsc).arg(dest);
        crate::exec::run_logged(&mut cmd, log)
    }
}

/// `(sha256, file name)` pairs of a `.dsc`'s `Checksums-Sha256` field.
fn dsc_sha256_entries(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Checksums-Sha256:") {
            inside = true;
            continue;
        }
        if inside {
            if !line.starts_with(' ') {
                break;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let [sum, _size, name] = parts[..] {
                out.push((sum.to_string(), name.to_string()));
            }
        }
    }
    out
}

/// Debian's packaged kernel sources.
pub const LINUX_SOURCE_TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";

/// The installed `linux-source-6.1` package's version (for cache keys).
pub fn linux_source_version() -> Result<String> {
    if !Path::new(LINUX_SOURCE_TARBALL).is_file() {
        return Err(BuildError::Missing {
            what: LINUX_SOURCE_TARBALL.into(),
            hint: "run `make deps` (it installs Debian's linux-source-6.1)".into(),
        });
    }
    crate::exec::output(Command::new("dpkg-query").args([
        "-W",
        "-f=${Version}",
        "linux-source-6.1",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_readable() {
        assert!(pinned("BUSYBOX_DEB_VERSION").unwrap().starts_with("1:1.35"));
        assert!(pinned("NOPE").is_err());
    }

    #[test]
    fn parses_dsc_checksums() {
        let dsc = "Format: 3.0\nChecksums-Sha256:\n abc 12 a.tar.xz\n def 34 b.debian.tar.xz\nFiles:\n x 1 y\n";
        assert_eq!(
            dsc_sha256_entries(dsc),
            vec![
                ("abc".into(), "a.tar.xz".into()),
                ("def".into(), "b.debian.tar.xz".into())
            ]
        );
    }
}
