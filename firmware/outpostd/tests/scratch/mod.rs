//! Fresh directories for the tests' files (configs, control sockets, fake
//! programs, a copy of outpostd another user runs), wherever the checkout
//! lives and whatever the machine's /tmp is: each candidate place is
//! checked, not assumed, and the directory is removed when the guard drops,
//! a panicking test's too.

#![allow(dead_code)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A unix socket's path is at most 107 bytes (`sun_path` and its NUL).
const SOCKET_PATH_MAX: usize = 107;
/// The longest file name the tests put in a scratch directory.
const NAME_MAX: usize = 16;

/// A fresh directory, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A fresh directory of mode 0755 that every user can reach and in
    /// which programs can be run: every directory above it lets others
    /// through (`o+x`), its file system is not mounted `noexec`, and a
    /// socket in it has a short enough path. The first fit among the
    /// checkout's target tmp dir, `$TMPDIR` (or /tmp), /var/tmp and /run;
    /// panics with every candidate's flaw if none fits.
    pub fn new(tag: &str) -> Scratch {
        let name = format!("outpostd-{tag}-{}", std::process::id());
        let mut rejected = Vec::new();
        for base in candidates() {
            match usable(&base, &name).and_then(|base| Scratch::create(&base.join(&name))) {
                Ok(scratch) => return scratch,
                Err(why) => rejected.push(format!("{}: {why}", base.display())),
            }
        }
        panic!(
            "no place for a scratch directory every user can reach:\n  {}",
            rejected.join("\n  ")
        );
    }

    fn create(path: &Path) -> Result<Scratch, String> {
        let fail = |what: &str, e: std::io::Error| format!("{what} {}: {e}", path.display());
        // A leftover of a process that had our pid: not ours to reuse.
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => {
                std::fs::remove_dir_all(path).map_err(|e| fail("removing", e))?
            }
            Ok(_) => std::fs::remove_file(path).map_err(|e| fail("removing", e))?,
            Err(_) => {}
        }
        std::fs::create_dir(path).map_err(|e| fail("creating", e))?;
        // From here on, dropping the guard removes it.
        let scratch = Scratch {
            path: path.to_path_buf(),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| fail("chmod", e))?;
        let meta = std::fs::symlink_metadata(path).map_err(|e| fail("examining", e))?;
        let ours = meta.uid() == nix::unistd::geteuid().as_raw();
        if !(meta.is_dir() && ours && meta.mode() & 0o7777 == 0o755) {
            return Err(format!("not our fresh 0755 directory: {meta:?}"));
        }
        reachable(path)?;
        Ok(scratch)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name` in it.
    pub fn join(&self, name: &str) -> PathBuf {
        assert!(name.len() <= NAME_MAX, "scratch names are short: {name}");
        self.path.join(name)
    }

    /// A copy of the program `from` as `name`, mode 0755: runnable by any
    /// user (the original may sit under a directory only its owner can
    /// enter, such as a checkout in a 0700 home).
    pub fn copy_program(&self, from: &Path, name: &str) -> PathBuf {
        let to = self.join(name);
        std::fs::copy(from, &to)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        to
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn candidates() -> Vec<PathBuf> {
    vec![
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        std::env::temp_dir(),
        PathBuf::from("/var/tmp"),
        PathBuf::from("/run"),
    ]
}

/// `base` resolved, if a scratch directory `name` under it would do.
fn usable(base: &Path, name: &str) -> Result<PathBuf, String> {
    let base = base
        .canonicalize()
        .map_err(|e| format!("cannot resolve it: {e}"))?;
    let longest = base.as_os_str().len() + 1 + name.len() + 1 + NAME_MAX;
    if longest > SOCKET_PATH_MAX {
        return Err(format!(
            "a socket under it would have a {longest}-byte path (at most {SOCKET_PATH_MAX})"
        ));
    }
    reachable(&base)?;
    let fs = nix::sys::statvfs::statvfs(&base).map_err(|e| format!("statvfs: {e}"))?;
    if fs.flags().contains(nix::sys::statvfs::FsFlags::ST_NOEXEC) {
        return Err("mounted noexec".into());
    }
    if fs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err("mounted read-only".into());
    }
    Ok(base)
}

/// Whether every directory from `/` down to `dir` (resolved) lets others
/// through.
fn reachable(dir: &Path) -> Result<(), String> {
    for d in dir.ancestors() {
        let meta = std::fs::metadata(d).map_err(|e| format!("{}: {e}", d.display()))?;
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", d.display()));
        }
        if meta.mode() & 0o001 == 0 {
            return Err(format!(
                "{} is mode {:o}: others cannot pass",
                d.display(),
                meta.mode() & 0o7777
            ));
        }
    }
    Ok(())
}
