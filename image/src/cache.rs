//! A content-addressed build cache. Each artefact (a kernel, a busybox, ...)
//! lives under a directory named by the hash of everything that went into it
//! (source version, patches, config, CPU, recipe version), so a second build
//! with the same inputs reuses it and a changed input can never be mistaken
//! for the old one. Entries appear atomically: built in a scratch directory,
//! then renamed into place, so an interrupted build leaves no half entry.
//!
//! Location: `$OUTPOST_CACHE`, else `~/.cache/outpost`.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{BuildError, Result};

/// The cache root and its layout.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// The identity of one artefact: a component name and the hash of its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    component: String,
    hash: String,
}

impl Key {
    /// The directory name of the entry: `component-hash16`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.component, &self.hash[..16])
    }
}

/// Collects the inputs of an artefact, in order, into a [`Key`].
#[derive(Debug)]
pub struct KeyBuilder {
    component: String,
    hasher: Sha256,
}

impl KeyBuilder {
    /// Starts a key for `component` (e.g. `kernel-i486`).
    pub fn new(component: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(component.as_bytes());
        KeyBuilder {
            component: component.to_string(),
            hasher,
        }
    }
    /// Adds a named input.
    pub fn input(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        let v = value.as_ref();
        self.hasher.update((name.len() as u64).to_le_bytes());
        self.hasher.update(name.as_bytes());
        self.hasher.update((v.len() as u64).to_le_bytes());
        self.hasher.update(v);
        self
    }
    /// Adds the contents of a file as an input named by its path.
    pub fn file(self, path: &Path) -> Result<Self> {
        let data =
            fs::read(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
        Ok(self.input(&path.display().to_string(), data))
    }
    /// The finished key.
    pub fn finish(self) -> Key {
        let hash = self.hasher.finalize();
        Key {
            component: self.component,
            hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

impl Cache {
    /// The cache at `$OUTPOST_CACHE`, else `~/.cache/outpost`.
    pub fn open_default() -> Result<Self> {
        let root = match std::env::var_os("OUTPOST_CACHE") {
            Some(p) => PathBuf::from(p),
            None => {
                let home = std::env::var_os("HOME").ok_or_else(|| BuildError::Missing {
                    what: "a cache directory".into(),
                    hint: "set OUTPOST_CACHE or HOME".into(),
                })?;
                PathBuf::from(home).join(".cache/outpost")
            }
        };
        Self::open(root)
    }

    /// The cache rooted at `root` (created if needed).
    pub fn open(root: PathBuf) -> Result<Self> {
        for sub in ["artifacts", "work", "sources", "tools", "logs"] {
            let d = root.join(sub);
            fs::create_dir_all(&d)
                .map_err(|e| BuildError::io(format!("creating {}", d.display()), e))?;
        }
        Ok(Cache { root })
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Where `scripts/bootstrap.sh` downloads Debian source packages.
    pub fn sources_dir(&self) -> PathBuf {
        self.root.join("sources")
    }
    /// Where generated helper tools (compiler wrappers) live.
    pub fn tools_dir(&self) -> PathBuf {
        self.root.join("tools")
    }
    /// Where a build step's log for `key` goes.
    pub fn log_path(&self, key: &Key) -> PathBuf {
        self.root
            .join("logs")
            .join(format!("{}.log", key.dir_name()))
    }

    /// The entry for `key` if it was built before.
    pub fn lookup(&self, key: &Key) -> Option<PathBuf> {
        let p = self.root.join("artifacts").join(key.dir_name());
        p.is_dir().then_some(p)
    }

    /// The entry for `key`, building it first if it is not there.
    ///
    /// `build(out, scratch)` must put the artefact's files into `out`;
    /// `scratch` is an empty directory for sources and objects, removed
    /// after a successful build and kept after a failed one (for a person
    /// to look at; the next attempt starts afresh).
    pub fn get_or_build<F>(&self, key: &Key, build: F) -> Result<PathBuf>
    where
        F: FnOnce(&Path, &Path) -> Result<()>,
    {
        if let Some(p) = self.lookup(key) {
            return Ok(p);
        }
        let name = key.dir_name();
        // Two builds of one key at once (parallel tests, two shells) would
        // share a scratch directory: the second waits, then finds the entry.
        let lock_path = self.root.join("work").join(format!("{name}.lock"));
        let lock = fs::File::create(&lock_path)
            .map_err(|e| BuildError::io(format!("creating {}", lock_path.display()), e))?;
        lock.lock()
            .map_err(|e| BuildError::io(format!("locking {}", lock_path.display()), e))?;
        if let Some(p) = self.lookup(key) {
            return Ok(p);
        }
        let scratch = self.root.join("work").join(&name);
        let partial = self.root.join("work").join(format!("{name}.out"));
        for d in [&scratch, &partial] {
            if d.exists() {
                fs::remove_dir_all(d)
                    .map_err(|e| BuildError::io(format!("removing {}", d.display()), e))?;
            }
            fs::create_dir_all(d)
                .map_err(|e| BuildError::io(format!("creating {}", d.display()), e))?;
        }
        let _ = fs::remove_file(self.log_path(key));
        build(&partial, &scratch)?;
        let dest = self.root.join("artifacts").join(&name);
        fs::rename(&partial, &dest)
            .map_err(|e| BuildError::io(format!("moving {} into the cache", dest.display()), e))?;
        let _ = fs::remove_dir_all(&scratch);
        Ok(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_every_input() {
        let a = KeyBuilder::new("k").input("cpu", "i486").finish();
        let b = KeyBuilder::new("k").input("cpu", "i586").finish();
        let c = KeyBuilder::new("k").input("cpu", "i486").finish();
        let d = KeyBuilder::new("k").input("cp", "ui486").finish();
        assert_ne!(a, b);
        assert_eq!(a, c);
        assert_ne!(a, d, "input boundaries are part of the key");
    }

    #[test]
    fn builds_once_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_path_buf()).unwrap();
        let key = KeyBuilder::new("thing").input("v", "1").finish();
        let mut runs = 0;
        let p1 = cache
            .get_or_build(&key, |out, _| {
                runs += 1;
                fs::write(out.join("f"), b"x").map_err(|e| BuildError::io("w", e))
            })
            .unwrap();
        let p2 = cache
            .get_or_build(&key, |_, _| panic!("must not rebuild"))
            .unwrap();
        assert_eq!(runs, 1);
        assert_eq!(p1, p2);
        assert_eq!(fs::read(p1.join("f")).unwrap(), b"x");
    }

    #[test]
    fn failed_build_leaves_no_entry() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().to_path_buf()).unwrap();
        let key = KeyBuilder::new("thing").input("v", "2").finish();
        let r = cache.get_or_build(&key, |out, _| {
            fs::write(out.join("half"), b"x").unwrap();
            Err(BuildError::Check("boom".into()))
        });
        assert!(r.is_err());
        assert!(cache.lookup(&key).is_none());
    }
}
