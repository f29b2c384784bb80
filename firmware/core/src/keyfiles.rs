//! The I/O half of validation: key files named by the config. Reads
//! `host_key_file` / `public_key_file` (relative to the config's directory)
//! into inline keys, and checks the office's identity file exists and is
//! not readable by group or others (ssh private keys must be private).
//! Kept apart so [`crate::validate`] stays pure.

use std::path::Path;

use crate::config::{Config, KeySource};
use crate::keys::PublicKey;

/// A problem with a file the config names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The file cannot be read.
    #[error("{path}: cannot read {what}: {reason}")]
    Unreadable {
        /// Which key.
        what: String,
        /// The path tried.
        path: String,
        /// The OS's reason.
        reason: String,
    },
    /// The file holds no valid key.
    #[error(
        "{path}: {what}: {reason}\n  hint: the file must hold one line `ssh-ed25519 AAAA… comment`"
    )]
    Malformed {
        /// Which key.
        what: String,
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The private key is readable by group or others.
    #[error(
        "{path}: the identity file is readable by others (mode {mode:o})\n  hint: chmod 600 {path}"
    )]
    TooOpen {
        /// The path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

fn load(src: &mut KeySource, what: &str, base: &Path, errs: &mut Vec<KeyFileError>) {
    let KeySource::File(rel) = src else { return };
    let path = base.join(rel.as_str());
    let shown = path.display().to_string();
    match std::fs::read_to_string(&path) {
        Err(e) => errs.push(KeyFileError::Unreadable {
            what: what.into(),
            path: shown,
            reason: e.to_string(),
        }),
        Ok(text) => {
            let line = text
                .trim_start_matches('\u{feff}')
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            match PublicKey::parse(line) {
                Ok(k) => *src = KeySource::Inline(k),
                Err(e) => errs.push(KeyFileError::Malformed {
                    what: what.into(),
                    path: shown,
                    reason: e.to_string(),
                }),
            }
        }
    }
}

/// Reads every key file `config` names (relative to `base_dir`) into the
/// config, and checks the identity file; returns every problem found.
pub fn load_key_files(config: &mut Config, base_dir: &Path) -> Result<(), Vec<KeyFileError>> {
    let mut errs = Vec::new();
    if let Some(t) = &mut config.tunnel {
        load(
            &mut t.host_key,
            "the concentrator's host key",
            base_dir,
            &mut errs,
        );
        if let Err(e) = check_identity(&base_dir.join(&t.identity)) {
            errs.push(e);
        }
    }
    for p in &mut config.peers {
        let what = format!("peer {}'s public key", p.name);
        load(&mut p.public_key, &what, base_dir, &mut errs);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// Checks a private key file exists and only its owner can read it.
pub fn check_identity(path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| KeyFileError::Unreadable {
        what: "the identity file".into(),
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::TooOpen { path: shown, mode });
    }
    Ok(())
}
