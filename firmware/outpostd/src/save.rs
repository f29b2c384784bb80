//! Writing a file on the boot medium so that a power cut at any instant
//! leaves either the old or the new version readable: `outpostd save` (the
//! config, keeping the previous one as `outpost.toml.bak`) and the entropy
//! seed refresh use it. The medium is read-write only while it writes.
//!
//! FAT has no journal, and Linux's vfat writes a file's directory entry
//! (which holds its size and first cluster) and the allocation table at
//! different moments. Three traps follow, each seen in
//! `tests/media_powercut.rs`:
//! - `rename` does not carry size and cluster to the new name: it writes
//!   an empty entry (or leaves the replaced target's entry as it was), and
//!   the real values reach the disk only when *that file's* inode is
//!   written, which a directory fsync does not do. Renaming `NAME` →
//!   `NAME.bak`, then `NAME.new` → `NAME`, with directory fsyncs only, left
//!   both names empty on disk: a cut there booted the baked-in config.
//! - a file's fsync writes its entry *before* the table: a cut between
//!   leaves the entry naming clusters the table still calls free (and the
//!   ones it had, lost); freeing that chain later is a FAT error.
//! - freeing clusters (truncate, unlink, a replaced file's last close) must
//!   not reach the disk while an entry there still names them.
//!
//! So every replacement (`replace`) goes: write `NAME.new`; fsync the
//! directory (the table takes its clusters; its entry still names none);
//! fsync `NAME.new` (its entry names them); rename it over `NAME` *while
//! holding the old `NAME` open* (its clusters stay allocated); fsync the
//! directory (on disk `NAME` is still the old file, `NAME.new` gone); fsync
//! `NAME` (one sector write points its entry at the new clusters); only
//! then close the old file, freeing clusters no entry names any more. A
//! stale `NAME.new` is removed the same way: unlinked while open,
//! directory synced, then closed.
//!
//! A save with a backup first replaces `NAME.bak` with a copy of `NAME` —
//! only when `NAME` is worth keeping, so a broken edit never overwrites the
//! last good backup — then `NAME` itself. A cut at any point leaves each
//! name old or new, and at worst a few clusters allocated to no name (what
//! `fsck.fat` calls lost clusters: a few KiB, reclaimed by any PC's disk
//! check). Remounting read-only at the end flushes what the kernel holds.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

/// Why a save failed (the medium is back read-only whenever possible).
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Remounting read-write or read-only failed.
    #[error("remounting {target} {mode}: {source}")]
    Remount {
        /// The mount point.
        target: String,
        /// `rw` or `ro`.
        mode: &'static str,
        /// The kernel's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// Switching a mounted file system between read-only and read-write.
pub trait Remount {
    /// Makes it writable.
    fn rw(&mut self) -> Result<(), SaveError>;
    /// Makes it read-only again (flushing it).
    fn ro(&mut self) -> Result<(), SaveError>;
}

/// The real remount of a mount point (`mount -o remount,rw|ro`).
#[derive(Debug, Clone)]
pub struct MountPoint {
    /// The mount point, e.g. `/boot`.
    pub target: PathBuf,
    /// The mount options to keep (`fmask=…`).
    pub data: &'static str,
}

impl MountPoint {
    fn remount(&self, flags: MsFlags, mode: &'static str) -> Result<(), SaveError> {
        mount(
            None::<&str>,
            &self.target,
            None::<&str>,
            MsFlags::MS_REMOUNT
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC
                | flags,
            Some(self.data),
        )
        .map_err(|e| SaveError::Remount {
            target: self.target.display().to_string(),
            mode,
            source: std::io::Error::from(e),
        })
    }
}

impl Remount for MountPoint {
    fn rw(&mut self) -> Result<(), SaveError> {
        self.remount(MsFlags::empty(), "rw")
    }
    fn ro(&mut self) -> Result<(), SaveError> {
        self.remount(MsFlags::MS_RDONLY, "ro")
    }
}

/// `name` + `suffix`, beside it.
fn sibling(dir: &Path, name: &str, suffix: &str) -> PathBuf {
    dir.join(format!("{name}{suffix}"))
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SaveError {
    let path = path.to_path_buf();
    move |source| SaveError::Io { what, path, source }
}

fn sync_dir(dir: &Path) -> Result<(), SaveError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing directory", dir))
}

/// What [`save_file`] keeps of the file it replaces.
#[derive(Clone, Copy)]
pub enum Keep<'a> {
    /// Nothing (the entropy seed: a used seed must not survive).
    Nothing,
    /// A copy as `NAME.bak`, if the predicate says the current file is
    /// worth keeping; otherwise the existing `.bak` (the last good one)
    /// stays as it is.
    Backup(&'a dyn Fn(&Path) -> bool),
}

/// Replaces `dir/name` with `data` as the module doc says; `remount` opens and
/// closes the read-write window (closed again even when writing fails).
/// Returns whether the previous version was copied to `name.bak`.
pub fn save_file(
    dir: &Path,
    name: &str,
    data: &[u8],
    keep: Keep,
    remount: &mut dyn Remount,
) -> Result<bool, SaveError> {
    remount.rw()?;
    let written = write_steps(dir, name, data, keep);
    let closed = remount.ro();
    let backed_up = written?;
    closed.map(|()| backed_up)
}

fn write_steps(dir: &Path, name: &str, data: &[u8], keep: Keep) -> Result<bool, SaveError> {
    let target = dir.join(name);
    let tmp = sibling(dir, name, ".new");
    let backed_up = match keep {
        Keep::Backup(worth_keeping) if target.exists() && worth_keeping(&target) => {
            let old = fs::read(&target).map_err(io("reading", &target))?;
            replace(dir, &sibling(dir, name, ".bak"), &old, &tmp)?;
            true
        }
        _ => false,
    };
    replace(dir, &target, data, &tmp)?;
    Ok(backed_up)
}

/// Replaces `target` in `dir` with `data` through the temporary `tmp`, in
/// the order of the module doc.
fn replace(dir: &Path, target: &Path, data: &[u8], tmp: &Path) -> Result<(), SaveError> {
    // A `tmp` left by an interrupted save is stale by definition.
    remove(dir, tmp)?;
    let mut f = File::create(tmp).map_err(io("creating", tmp))?;
    f.write_all(data).map_err(io("writing", tmp))?;
    // The directory's fsync first: it writes the allocation table (the new
    // clusters taken) while `tmp`'s entry still names none; the file's own
    // fsync would write the entry first and the table after.
    sync_dir(dir)?;
    f.sync_all().map_err(io("syncing", tmp))?;
    drop(f);
    // Held open across the rename: the old clusters stay allocated until
    // `target`'s entry on disk names the new ones.
    let old = File::open(target).ok();
    fs::rename(tmp, target).map_err(io("renaming into place", tmp))?;
    sync_dir(dir)?;
    File::open(target)
        .and_then(|f| f.sync_all())
        .map_err(io("syncing", target))?;
    drop(old);
    Ok(())
}

/// Removes `path` (if there) so that its clusters are freed only once no
/// directory entry on disk names them: unlinked while held open, the
/// directory synced, then closed.
fn remove(dir: &Path, path: &Path) -> Result<(), SaveError> {
    let held = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("opening", path)(e)),
    };
    fs::remove_file(path).map_err(io("removing", path))?;
    sync_dir(dir)?;
    drop(held);
    Ok(())
}

/// `outpostd save [FILE]`, as the agent runs it; `medium` is `None` when no
/// boot medium is mounted (it holds the config in
/// force). Without `file`, writes `in_force` — the bytes of the config the
/// agent loaded — to the medium's `outpost.toml`; with `file`, first checks
/// that file as if it sat on the medium (key paths relative to `medium`), so
/// nothing that would not load at the next boot is ever saved. The previous
/// `outpost.toml` is kept as `outpost.toml.bak`. Returns the lines to print;
/// the caller re-applies from the medium when a new file was saved.
pub fn save_config(
    medium: Option<&Path>,
    file: Option<&Path>,
    in_force: Option<&[u8]>,
    remount: &mut dyn Remount,
) -> Result<Vec<String>, Vec<String>> {
    use crate::medium::{BACKUP_NAME, CONFIG_NAME};
    let Some(medium) = medium else {
        return Err(vec![format!(
            "no boot medium mounted on {}: this box booted without one (kernel + initramfs over PXE or -kernel), so there is nothing to save to; its config is the one built into the image",
            crate::medium::MOUNT_POINT
        )]);
    };
    let data: Vec<u8> = match file {
        Some(f) => {
            let data = fs::read(f).map_err(|e| vec![format!("reading {}: {e}", f.display())])?;
            check_as_on_medium(f, &data, medium)?;
            data
        }
        None => match in_force {
            Some(d) => d.to_vec(),
            None => {
                return Err(vec![
                    "no valid config is in force, so there is nothing to save; give the file to save: outpostd save FILE".into(),
                ])
            }
        },
    };
    let target = medium.join(CONFIG_NAME);
    let bak = medium.join(BACKUP_NAME);
    let had_previous = target.exists();
    let loads = |p: &Path| crate::check::load(p).is_ok();
    let backed_up = save_file(medium, CONFIG_NAME, &data, Keep::Backup(&loads), remount)
        .map_err(|e| vec![e.to_string()])?;
    let kept = if backed_up {
        format!("the previous one kept as {}", bak.display())
    } else if !had_previous {
        "there was no previous one".to_string()
    } else if bak.exists() {
        format!(
            "the previous one did not load, so {} stays the last good one",
            bak.display()
        )
    } else {
        "the previous one did not load and was not kept".to_string()
    };
    Ok(vec![format!(
        "saved {} bytes to {} ({kept}); read-only again",
        data.len(),
        target.display(),
    )])
}

/// Validates `data` (read from `shown`) the way the boot will load it from
/// the medium: parsed, key files read relative to `medium`, planned.
fn check_as_on_medium(shown: &Path, data: &[u8], medium: &Path) -> Result<(), Vec<String>> {
    let name = shown.display().to_string();
    let text = std::str::from_utf8(data)
        .map_err(|_| vec![format!("{name}: the file is not valid UTF-8; not saved")])?;
    let mut config = outpost_core::Config::from_str_named(&name, text)
        .map_err(|e| vec![e.to_string(), "not saved".to_string()])?;
    outpost_core::keyfiles::load_key_files(&mut config, medium).map_err(|errs| {
        let mut v: Vec<String> = errs.iter().map(ToString::to_string).collect();
        v.push(format!(
            "not saved (key files are read from {})",
            medium.display()
        ));
        v
    })?;
    outpost_core::plan::plan(&config, medium)
        .map_err(|e| vec![format!("{name}: {e}"), "not saved".into()])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder {
        calls: Vec<&'static str>,
        fail_rw: bool,
    }

    impl Remount for Recorder {
        fn rw(&mut self) -> Result<(), SaveError> {
            self.calls.push("rw");
            if self.fail_rw {
                return Err(SaveError::Remount {
                    target: "/boot".into(),
                    mode: "rw",
                    source: std::io::Error::from_raw_os_error(30),
                });
            }
            Ok(())
        }
        fn ro(&mut self) -> Result<(), SaveError> {
            self.calls.push("ro");
            Ok(())
        }
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("outpostd-save-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replaces_keeps_the_previous_as_bak_and_closes_the_window() {
        let d = dir("bak");
        let mut r = Recorder::default();
        let any = |_: &Path| true;
        assert!(!save_file(&d, "outpost.toml", b"one", Keep::Backup(&any), &mut r).unwrap());
        assert_eq!(fs::read(d.join("outpost.toml")).unwrap(), b"one");
        assert!(
            !d.join("outpost.toml.bak").exists(),
            "nothing to back up yet"
        );
        assert!(save_file(&d, "outpost.toml", b"two", Keep::Backup(&any), &mut r).unwrap());
        assert!(save_file(&d, "outpost.toml", b"three", Keep::Backup(&any), &mut r).unwrap());
        assert_eq!(fs::read(d.join("outpost.toml")).unwrap(), b"three");
        assert_eq!(fs::read(d.join("outpost.toml.bak")).unwrap(), b"two");
        assert!(!d.join("outpost.toml.new").exists());
        assert_eq!(r.calls, ["rw", "ro", "rw", "ro", "rw", "ro"]);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_broken_current_file_never_replaces_the_last_good_backup() {
        let d = dir("keepgood");
        fs::write(d.join("outpost.toml"), b"broken edit").unwrap();
        fs::write(d.join("outpost.toml.bak"), b"last good").unwrap();
        let good = |p: &Path| fs::read(p).is_ok_and(|b| b.starts_with(b"good"));
        let mut r = Recorder::default();
        assert!(!save_file(&d, "outpost.toml", b"good new", Keep::Backup(&good), &mut r).unwrap());
        assert_eq!(fs::read(d.join("outpost.toml")).unwrap(), b"good new");
        assert_eq!(fs::read(d.join("outpost.toml.bak")).unwrap(), b"last good");
        assert!(save_file(
            &d,
            "outpost.toml",
            b"good newer",
            Keep::Backup(&good),
            &mut r
        )
        .unwrap());
        assert_eq!(fs::read(d.join("outpost.toml.bak")).unwrap(), b"good new");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn without_backup_and_over_a_stale_new() {
        let d = dir("seed");
        fs::write(d.join("random.seed"), b"old").unwrap();
        fs::write(d.join("random.seed.new"), b"half").unwrap();
        save_file(
            &d,
            "random.seed",
            b"fresh",
            Keep::Nothing,
            &mut Recorder::default(),
        )
        .unwrap();
        assert_eq!(fs::read(d.join("random.seed")).unwrap(), b"fresh");
        assert!(!d.join("random.seed.bak").exists());
        assert!(!d.join("random.seed.new").exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_failed_write_still_goes_back_read_only() {
        let d = dir("fail").join("missing");
        let mut r = Recorder::default();
        let e = save_file(&d, "outpost.toml", b"x", Keep::Nothing, &mut r).unwrap_err();
        assert!(
            matches!(
                e,
                SaveError::Io {
                    what: "creating",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(r.calls, ["rw", "ro"]);
        let mut r = Recorder {
            fail_rw: true,
            ..Default::default()
        };
        assert!(save_file(&d, "outpost.toml", b"x", Keep::Nothing, &mut r).is_err());
        assert_eq!(r.calls, ["rw"], "nothing written when rw failed");
        let _ = fs::remove_dir_all(d.parent().unwrap());
    }

    const CONFIG: &str = include_str!("../../../examples/site/office.toml");

    #[test]
    fn save_config_checks_the_file_as_on_the_medium_and_keeps_the_old() {
        let d = dir("cfg");
        fs::write(d.join("outpost.toml"), b"old").unwrap();
        let mut r = Recorder::default();
        // In force: written byte for byte; the old file does not load, so
        // it is not kept as the backup.
        let out = save_config(Some(&d), None, Some(b"in force"), &mut r).unwrap();
        assert!(out[0].starts_with("saved 8 bytes to"), "{out:?}");
        assert!(out[0].contains("did not load and was not kept"), "{out:?}");
        assert_eq!(fs::read(d.join("outpost.toml")).unwrap(), b"in force");
        assert!(!d.join("outpost.toml.bak").exists());
        // A broken file is refused with file:line:column, nothing touched.
        let bad = d.join("edited.toml");
        fs::write(&bad, "[system\nhostname = 1\n").unwrap();
        let e = save_config(Some(&d), Some(&bad), None, &mut r).unwrap_err();
        assert!(e[0].contains("edited.toml:1:"), "{e:?}");
        assert_eq!(fs::read(d.join("outpost.toml")).unwrap(), b"in force");
        assert_eq!(r.calls, ["rw", "ro"], "no window opened for a refused file");
        // Nothing in force and no file; no medium at all.
        assert!(save_config(Some(&d), None, None, &mut r).is_err());
        let e = save_config(None, None, Some(b"x"), &mut r).unwrap_err();
        assert!(e[0].contains("no boot medium"), "{e:?}");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn save_config_reads_key_files_from_the_medium() {
        let d = dir("keys");
        let f = d.join("candidate.toml");
        fs::write(&f, CONFIG).unwrap();
        // The example names key files (keys/…) that are not on this "medium".
        assert!(CONFIG.contains("keys/office1.ed25519"));
        let e = save_config(Some(&d), Some(&f), None, &mut Recorder::default()).unwrap_err();
        assert!(
            e.last().unwrap().contains("key files are read from"),
            "{e:?}"
        );
        assert!(!d.join("outpost.toml").exists());
        let _ = fs::remove_dir_all(&d);
    }
}
