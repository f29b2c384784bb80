//! The router's ssh keys at build time. A config names its key files
//! relative to its own directory; whichever are missing are generated here
//! with a host build of dropbear's own `dropbearkey` (ed25519), so every
//! image gets keys of its own and a whole site built from one directory
//! shares the public halves it needs (the office pins `concentrator.pub`,
//! the concentrator trusts `office1.pub`). Private keys are mode 0600.
//!
//! A private key belongs to one router: the first build that puts it in an
//! image records that router's host name beside it (`KEY.owner`), and a
//! build of another router naming the same file is refused. Two offices
//! copied from one example would otherwise share an identity, and the
//! concentrator could not tell them apart.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use outpost_core::config::KeySource;
use outpost_core::Config;

use crate::cache::Cache;
use crate::error::{BuildError, Result};
use crate::exec;

/// A key file the image carries: where it is on the host, where it goes in
/// the image (relative to `/etc`), whether it is private, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// Path relative to the config's directory (and to `/etc` on the router);
    /// validation refuses absolute names and `..`, so it never leaves them.
    pub rel: String,
    /// Whether it is a private key (mode 0600).
    pub private: bool,
    /// The router the key identifies: the comment of a generated pair, in
    /// place of dropbearkey's `user@build-host`.
    pub owner: String,
}

/// Every key file `config` names, private ones first.
pub fn referenced(config: &Config) -> Vec<KeyFile> {
    let hostname = &config.system.hostname;
    let mut private = Vec::new();
    let mut public = Vec::new();
    if let Some(t) = &config.tunnel {
        private.push(KeyFile {
            rel: t.identity.clone(),
            private: true,
            owner: hostname.clone(),
        });
        if let KeySource::File(p) = &t.host_key {
            // The office's config does not name its concentrator: the
            // file's own name does (`keys/concentrator.ed25519.pub`).
            public.push(KeyFile {
                rel: p.clone(),
                private: false,
                owner: file_stem(p),
            });
        }
    }
    if let Some(c) = &config.concentrator {
        private.push(KeyFile {
            rel: c.host_key_file.clone(),
            private: true,
            owner: hostname.clone(),
        });
    }
    for peer in &config.peers {
        if let KeySource::File(p) = &peer.public_key {
            public.push(KeyFile {
                rel: p.clone(),
                private: false,
                owner: peer.name.clone(),
            });
        }
    }
    private.extend(public);
    private
}

/// `keys/concentrator.ed25519.pub` → `concentrator`.
fn file_stem(rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.split('.').next().unwrap_or(name).to_string()
}

/// Generates every missing key file of `config` under `base`: a missing
/// private key `K` is made with its public half `K.pub`; a missing public
/// key `K.pub` is made with its private half `K`. Returns what it made.
pub fn ensure(cache: &Cache, config: &Config, base: &Path) -> Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    for k in referenced(config) {
        let path = base.join(&k.rel);
        if path.exists() {
            continue;
        }
        let private = if k.private {
            path.clone()
        } else if let Some(stem) = k.rel.strip_suffix(".pub") {
            base.join(stem)
        } else {
            return Err(BuildError::Missing {
                what: format!("public key file {}", path.display()),
                hint: "put the peer's `ssh-ed25519 AAAA…` line there, or name a file ending in .pub next to the config and mkoutpost will generate the pair".into(),
            });
        };
        generate(cache, &private, &k.owner)?;
        made.push(private.clone());
        made.push(pub_path(&private));
    }
    Ok(made)
}

/// `K` → `K.pub`.
pub fn pub_path(private: &Path) -> PathBuf {
    suffixed(private, ".pub")
}

/// `K` → `K.owner`: the host name of the router whose image carries `K`.
pub fn owner_path(private: &Path) -> PathBuf {
    suffixed(private, ".owner")
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// What an owner record means for a router about to use the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// No router has used it yet: record this one.
    New,
    /// This router's own key.
    Own,
    /// Another router's key.
    Other(String),
}

/// Judges `recorded` (the owner file's text, if any) for `hostname`.
pub fn judge(recorded: Option<&str>, hostname: &str) -> Claim {
    match recorded.map(str::trim) {
        None | Some("") => Claim::New,
        Some(owner) if owner == hostname => Claim::Own,
        Some(owner) => Claim::Other(owner.to_string()),
    }
}

/// Records `config`'s host name as the owner of each private key it uses,
/// refusing a key another router owns ([`BuildError::KeyShared`]).
pub fn claim(config: &Config, base: &Path) -> Result<()> {
    let hostname = &config.system.hostname;
    for k in referenced(config).into_iter().filter(|k| k.private) {
        let key = base.join(&k.rel);
        let record = owner_path(&key);
        let recorded = match fs::read_to_string(&record) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(BuildError::io(format!("reading {}", record.display()), e)),
        };
        match judge(recorded.as_deref(), hostname) {
            Claim::Own => {}
            Claim::New => fs::write(&record, format!("{hostname}\n"))
                .map_err(|e| BuildError::io(format!("writing {}", record.display()), e))?,
            Claim::Other(owner) => {
                return Err(BuildError::KeyShared {
                    key,
                    owner,
                    hostname: hostname.clone(),
                    record,
                })
            }
        }
    }
    Ok(())
}

/// Makes an ed25519 pair at `private` and `private.pub`, the public line's
/// comment `owner` (an existing private key is kept and only its public
/// half is written).
pub fn generate(cache: &Cache, private: &Path, owner: &str) -> Result<()> {
    let tool = crate::dropbear::host_dropbearkey(cache)?;
    // A key directory made here is private; an existing one (perhaps the
    // config's own directory) keeps the permissions its owner gave it.
    if let Some(dir) = private
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        fs::create_dir_all(dir)
            .map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| BuildError::io(format!("chmod {}", dir.display()), e))?;
    }
    if !private.exists() {
        exec::output(
            Command::new(&tool)
                .args(["-t", "ed25519", "-f"])
                .arg(private),
        )?;
    }
    fs::set_permissions(private, fs::Permissions::from_mode(0o600))
        .map_err(|e| BuildError::io(format!("chmod {}", private.display()), e))?;
    let out = exec::output(Command::new(&tool).arg("-y").arg("-f").arg(private))?;
    let line = out
        .lines()
        .find_map(|l| public_line(l, owner))
        .ok_or_else(|| {
            BuildError::Check(format!(
                "dropbearkey -y printed no public key for {}",
                private.display()
            ))
        })?;
    let pubfile = pub_path(private);
    fs::write(&pubfile, format!("{line}\n"))
        .map_err(|e| BuildError::io(format!("writing {}", pubfile.display()), e))
}

/// dropbearkey's `ssh-ed25519 AAAA… user@build-host` line with `owner` as
/// its comment (dropbearkey 2022.83 has no option to set one).
fn public_line(line: &str, owner: &str) -> Option<String> {
    let mut fields = line.split_whitespace();
    let kind = fields.next().filter(|k| k.starts_with("ssh-"))?;
    let blob = fields.next()?;
    Some(format!("{kind} {blob} {owner}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_commented_with_its_router() {
        assert_eq!(
            public_line("ssh-ed25519 AAAAC3Nz root@vm", "office1").as_deref(),
            Some("ssh-ed25519 AAAAC3Nz office1")
        );
        assert_eq!(public_line("Fingerprint: sha256:ab", "x"), None);
        let text = include_str!("../../examples/site/concentrator.toml");
        let head = outpost_core::Config::from_str_named("concentrator.toml", text).unwrap();
        let owners: Vec<(String, String)> = referenced(&head)
            .into_iter()
            .map(|k| (k.rel, k.owner))
            .collect();
        assert_eq!(
            owners,
            [
                ("keys/concentrator.ed25519".to_string(), "head".to_string()),
                (
                    "keys/office1.ed25519.pub".to_string(),
                    "office1".to_string()
                ),
            ]
        );
        let text = include_str!("../../examples/site/office.toml");
        let office = outpost_core::Config::from_str_named("office.toml", text).unwrap();
        assert_eq!(
            referenced(&office)[1].owner,
            "concentrator",
            "the pinned key's owner comes from its file name"
        );
    }

    #[test]
    fn a_key_belongs_to_the_first_router_that_used_it() {
        assert_eq!(judge(None, "office1"), Claim::New);
        assert_eq!(judge(Some(" \n"), "office1"), Claim::New);
        assert_eq!(judge(Some("office1\n"), "office1"), Claim::Own);
        assert_eq!(
            judge(Some("office1\r\n"), "office2"),
            Claim::Other("office1".into())
        );
    }

    #[test]
    fn a_second_router_naming_the_same_key_is_refused_with_a_fix() {
        let dir = std::env::temp_dir().join(format!("mkoutpost-claim-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("keys")).unwrap();
        let text = include_str!("../../examples/site/office.toml");
        let office1 = outpost_core::Config::from_str_named("office.toml", text).unwrap();
        claim(&office1, &dir).unwrap();
        let record = dir.join("keys/office1.ed25519.owner");
        assert_eq!(fs::read_to_string(&record).unwrap(), "office1\n");
        // The same router again: fine, nothing changes.
        claim(&office1, &dir).unwrap();
        // A copy of it under another name, same key file: refused.
        let office2 = outpost_core::Config::from_str_named(
            "office2.toml",
            &text.replace("hostname = \"office1\"", "hostname = \"office2\""),
        )
        .unwrap();
        let e = claim(&office2, &dir).unwrap_err().to_string();
        assert!(
            e.contains("keys/office1.ed25519 is the private key of `office1`"),
            "{e}"
        );
        assert!(e.contains("e.g. keys/office2.ed25519"), "{e}");
        assert!(e.contains("office1.ed25519.owner"), "{e}");
        assert_eq!(fs::read_to_string(&record).unwrap(), "office1\n");
        let _ = fs::remove_dir_all(&dir);
    }
}
