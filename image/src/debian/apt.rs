//! Debian's i386 archive through apt, kept apart from the build machine's
//! own apt state: a private directory (lists, cache, status) whose sources
//! are copied from the machine's apt configuration, with `APT::Architecture`
//! i386. Nothing is installed on the host and its architectures are left
//! as they are (`dpkg --add-architecture` would change what every other
//! `apt-get` on the machine resolves).
//!
//! The parsers below are pure; [`Apt`] is the edge that runs apt.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{BuildError, Result};
use crate::exec::output;

/// The value of `field` in the first stanza of deb822 `text` (`Version`).
pub fn field(text: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}:");
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().to_string())
}

/// Each stanza's `Package` and `Version`, in order.
pub fn stanza_versions(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter_map(|st| Some((field(st, "Package")?, field(st, "Version")?)))
        .collect()
}

/// The first `Depends:` of `apt-cache depends` output (a metapackage's
/// target, e.g. `linux-image-686` → `linux-image-6.1.0-57-686`).
pub fn first_depends(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Depends:"))
        .map(|v| v.trim().trim_matches(|c| c == '<' || c == '>').to_string())
}

/// A private apt for Debian's i386 packages.
pub struct Apt {
    dir: PathBuf,
}

impl Apt {
    /// The private apt in `dir`, its sources copied from the machine's
    /// (`/etc/apt/sources.list` and `sources.list.d`) and its lists fetched
    /// once (`apt-get update` again only when the lists are gone).
    pub fn open(dir: &Path) -> Result<Apt> {
        let apt = Apt {
            dir: dir.to_path_buf(),
        };
        for d in [
            "state/lists/partial",
            "cache/archives/partial",
            "etc/sources.list.d",
            "etc/apt.conf.d",
            "etc/preferences.d",
        ] {
            let p = dir.join(d);
            fs::create_dir_all(&p)
                .map_err(|e| BuildError::io(format!("creating {}", p.display()), e))?;
        }
        let status = dir.join("state/status");
        if !status.exists() {
            fs::write(&status, b"")
                .map_err(|e| BuildError::io(format!("writing {}", status.display()), e))?;
        }
        // Two tests assembling at once would run two `apt-get update`s on
        // one lists directory: apt refuses the second.
        let lock_path = dir.join("open.lock");
        let lock = fs::File::create(&lock_path)
            .map_err(|e| BuildError::io(format!("creating {}", lock_path.display()), e))?;
        lock.lock()
            .map_err(|e| BuildError::io(format!("locking {}", lock_path.display()), e))?;
        copy_sources(Path::new("/etc/apt"), &dir.join("etc"))?;
        // apt may keep the lists compressed (`…_Packages.lz4`).
        let has_lists = fs::read_dir(dir.join("state/lists"))
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
            })
            .unwrap_or(false);
        if !has_lists {
            output(apt.command("apt-get").arg("-q").arg("update"))?;
        }
        Ok(apt)
    }

    fn command(&self, program: &str) -> Command {
        let d = self.dir.display();
        let mut c = Command::new(program);
        for o in [
            "APT::Architecture=i386".to_string(),
            "APT::Architectures::=i386".to_string(),
            format!("Dir::State={d}/state"),
            format!("Dir::State::status={d}/state/status"),
            format!("Dir::Cache={d}/cache"),
            format!("Dir::Etc={d}/etc"),
            // The machine's archive keys: the packages are checked as usual.
            "Dir::Etc::trusted=/etc/apt/trusted.gpg".to_string(),
            "Dir::Etc::trustedparts=/etc/apt/trusted.gpg.d".to_string(),
            // The downloads go to a root-owned scratch directory.
            "APT::Sandbox::User=root".to_string(),
        ] {
            c.arg("-o").arg(o);
        }
        c
    }

    /// The version apt would download of each package, in order: one
    /// `apt-cache show` for all (each call reads every list: 52 calls took
    /// 35 s on a warm cache).
    pub fn versions(&self, packages: &[String]) -> Result<Vec<(String, String)>> {
        let text = output(
            self.command("apt-cache")
                .args(["show", "--no-all-versions"])
                .args(packages),
        )?;
        let found = stanza_versions(&text);
        packages
            .iter()
            .map(|p| {
                found
                    .iter()
                    .find(|(n, _)| n == p)
                    .cloned()
                    .ok_or_else(|| BuildError::Check(format!("apt shows no version of {p}")))
            })
            .collect()
    }

    /// The package a metapackage depends on first.
    pub fn resolve(&self, metapackage: &str) -> Result<String> {
        let text = output(self.command("apt-cache").args(["depends", metapackage]))?;
        first_depends(&text)
            .ok_or_else(|| BuildError::Check(format!("{metapackage} depends on nothing")))
    }

    /// Downloads `name=version` of each package into `dest`.
    pub fn download(&self, packages: &[(String, String)], dest: &Path) -> Result<()> {
        let mut c = self.command("apt-get");
        c.current_dir(dest).arg("-q").arg("download");
        for (n, v) in packages {
            c.arg(format!("{n}={v}"));
        }
        output(&mut c).map(|_| ())
    }
}

/// Copies the machine's `sources.list` and `sources.list.d/*` into `etc`:
/// the same archives (mirror, snapshot, keys) the machine already uses.
fn copy_sources(from: &Path, etc: &Path) -> Result<()> {
    let list = from.join("sources.list");
    if list.is_file() {
        fs::copy(&list, etc.join("sources.list"))
            .map_err(|e| BuildError::io(format!("copying {}", list.display()), e))?;
    }
    let d = from.join("sources.list.d");
    if let Ok(entries) = fs::read_dir(&d) {
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name();
            let s = name.to_string_lossy();
            if s.ends_with(".list") || s.ends_with(".sources") {
                let text = fs::read_to_string(e.path()).map_err(|err| {
                    BuildError::io(format!("reading {}", e.path().display()), err)
                })?;
                // Binary packages only: the deb-src stanzas are bootstrap's.
                let binary: Vec<&str> = text
                    .split("\n\n")
                    .filter(|stanza| {
                        !stanza.lines().any(|l| l.trim() == "Types: deb-src")
                            && !stanza.trim_start().starts_with("deb-src")
                    })
                    .collect();
                let out = etc.join("sources.list.d").join(&name);
                fs::write(&out, binary.join("\n\n"))
                    .map_err(|err| BuildError::io(format!("writing {}", out.display()), err))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_version_of_the_first_stanza() {
        let t = "Package: ppp\nVersion: 2.4.9-1+1.1+b1\nArchitecture: i386\n\nPackage: ppp\nVersion: 2.4.0\n";
        assert_eq!(field(t, "Version").as_deref(), Some("2.4.9-1+1.1+b1"));
        assert_eq!(field(t, "Missing"), None);
    }

    #[test]
    fn reads_each_stanza_s_package_and_version() {
        let t = "Package: ppp\nVersion: 2.4.9\n\nPackage: kmod\nDescription: x\nVersion: 30\n";
        assert_eq!(
            stanza_versions(t),
            [
                ("ppp".to_string(), "2.4.9".to_string()),
                ("kmod".into(), "30".into())
            ]
        );
    }

    #[test]
    fn a_metapackage_names_its_kernel() {
        let t = "linux-image-686\n  Depends: linux-image-6.1.0-57-686\n";
        assert_eq!(
            first_depends(t).as_deref(),
            Some("linux-image-6.1.0-57-686")
        );
    }
}
