//! The router's ssh keys at build time. A config names its key files
//! relative to its own directory; whichever are missing are generated here
//! with a host build of dropbear's own `dropbearkey` (ed25519), so every
//! image gets keys of its own and a whole site built from one directory
//! shares the public halves it needs (the office pins `concentrator.pub`,
//! the concentrator trusts `office1.pub`). Private keys are mode 0600.

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
/// the image (relative to `/etc`), and whether it is private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// Path relative to the config's directory (and to `/etc` on the router).
    pub rel: String,
    /// Whether it is a private key (mode 0600).
    pub private: bool,
}

/// Every key file `config` names, private ones first.
pub fn referenced(config: &Config) -> Vec<KeyFile> {
    let mut out = Vec::new();
    let mut public = |src: &KeySource| {
        if let KeySource::File(p) = src {
            out.push(KeyFile {
                rel: p.clone(),
                private: false,
            });
        }
    };
    if let Some(t) = &config.tunnel {
        public(&t.host_key);
    }
    for p in &config.peers {
        public(&p.public_key);
    }
    let mut private = Vec::new();
    if let Some(t) = &config.tunnel {
        private.push(KeyFile {
            rel: t.identity.clone(),
            private: true,
        });
    }
    if let Some(c) = &config.concentrator {
        private.push(KeyFile {
            rel: c.host_key_file.clone(),
            private: true,
        });
    }
    private.extend(out);
    private
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
        generate(cache, &private)?;
        made.push(private.clone());
        made.push(pub_path(&private));
    }
    Ok(made)
}

/// `K` → `K.pub`.
pub fn pub_path(private: &Path) -> PathBuf {
    let mut s = private.as_os_str().to_owned();
    s.push(".pub");
    PathBuf::from(s)
}

/// Makes an ed25519 pair at `private` and `private.pub` (an existing private
/// key is kept and only its public half is written).
pub fn generate(cache: &Cache, private: &Path) -> Result<()> {
    let tool = crate::dropbear::host_dropbearkey(cache)?;
    if let Some(dir) = private.parent() {
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
    let line = out.lines().find(|l| l.starts_with("ssh-")).ok_or_else(|| {
        BuildError::Check(format!(
            "dropbearkey -y printed no public key for {}",
            private.display()
        ))
    })?;
    let pubfile = pub_path(private);
    fs::write(&pubfile, format!("{line}\n"))
        .map_err(|e| BuildError::io(format!("writing {}", pubfile.display()), e))
}
