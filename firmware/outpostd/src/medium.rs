//! The boot medium on the router: finding the FAT volume labelled `OUTPOST`
//! wherever it sits (floppy `fd*`, IDE/CF `sd*`/`hd*`, whole disk or
//! partition), mounting it read-only at [`MOUNT_POINT`], and choosing the
//! config in force: the medium's `outpost.toml`, else its `outpost.toml.bak`
//! (the last one saved before it), else the one baked into the initramfs.
//! Every rejected candidate's diagnostics (file, line, column) are kept so
//! the console says why the box is not running the file the user edited.
//!
//! The label is read from the FAT boot sector itself (no blkid on the box):
//! mkoutpost writes it there (`mformat -v OUTPOST`), and so does any DOS or
//! Windows tool that relabels the medium.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};

/// Where the medium is mounted.
pub const MOUNT_POINT: &str = "/boot";
/// The label mkoutpost gives the FAT volume.
pub const LABEL: &str = "OUTPOST";
/// The config's name on the medium.
pub const CONFIG_NAME: &str = "outpost.toml";
/// The previous config's name on the medium.
pub const BACKUP_NAME: &str = "outpost.toml.bak";
/// The config baked into the initramfs.
pub const BAKED_CONFIG: &str = "/etc/outpost.toml";
/// Mount options: private keys live on the medium, so nothing on it is
/// readable by anyone but root once mounted.
pub const MOUNT_DATA: &str = "fmask=0177,dmask=0077,shortname=mixed";

/// Kernel block device name prefixes that can hold a boot medium.
const DEVICE_PREFIXES: &[&str] = &["fd", "sd", "hd"];

/// Why the medium could not be mounted.
#[derive(Debug, thiserror::Error)]
pub enum MediumError {
    /// No block device carries a FAT volume labelled `OUTPOST`.
    #[error(
        "no FAT volume labelled {LABEL} on {searched} (booted over the network or from -kernel?)"
    )]
    NotFound {
        /// The devices looked at, for the console.
        searched: String,
    },
    /// The mount point could not be made.
    #[error("creating {MOUNT_POINT}: {0}")]
    MountPoint(#[source] std::io::Error),
    /// The kernel refused the mount.
    #[error("mounting {device} on {MOUNT_POINT}: {source} (is VFAT_FS in the kernel?)")]
    Mount {
        /// The device.
        device: String,
        /// The kernel's reason.
        #[source]
        source: nix::Error,
    },
}

/// The volume label of a FAT12/16 boot sector, if `sector` is one.
pub fn fat_label(sector: &[u8]) -> Option<String> {
    if sector.len() < 512 || sector[510..512] != [0x55, 0xaa] {
        return None;
    }
    // The extended BPB (signature 0x29) holds label and FS type here.
    if sector[38] != 0x29
        || !sector[54..59].eq_ignore_ascii_case(b"FAT12")
            && !sector[54..59].eq_ignore_ascii_case(b"FAT16")
    {
        return None;
    }
    let label = String::from_utf8_lossy(&sector[43..54]);
    Some(label.trim_end().to_string())
}

/// Block devices that may hold the medium, from `/sys/block`: each disk
/// whose name starts with `fd`, `sd` or `hd`, and its partitions, partitions
/// first (a CF card's FAT is on its first partition; a floppy has none).
pub fn candidates(sys_block: &Path) -> Vec<String> {
    let mut disks: Vec<String> = std::fs::read_dir(sys_block)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| DEVICE_PREFIXES.iter().any(|p| n.starts_with(p)))
                .collect()
        })
        .unwrap_or_default();
    disks.sort();
    let mut out = Vec::new();
    for d in disks {
        let mut parts: Vec<String> = std::fs::read_dir(sys_block.join(&d))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(d.as_str()) && n.len() > d.len())
                    .collect()
            })
            .unwrap_or_default();
        parts.sort();
        out.extend(parts);
        out.push(d);
    }
    out
}

/// The first candidate in `/dev` whose boot sector is a FAT labelled `OUTPOST`.
pub fn find(dev: &Path, names: &[String]) -> Option<PathBuf> {
    names.iter().map(|n| dev.join(n)).find(|p| {
        let mut sector = [0u8; 512];
        File::open(p)
            .and_then(|mut f| f.read_exact(&mut sector))
            .is_ok()
            && fat_label(&sector).is_some_and(|l| l.eq_ignore_ascii_case(LABEL))
    })
}

/// Finds the medium and mounts it read-only at [`MOUNT_POINT`]; returns the
/// device. An already mounted medium (a respawned agent) is left as it is.
pub fn mount_medium() -> Result<PathBuf, MediumError> {
    let names = candidates(Path::new("/sys/block"));
    let device = find(Path::new("/dev"), &names).ok_or_else(|| MediumError::NotFound {
        searched: if names.is_empty() {
            "no fd/sd/hd device".into()
        } else {
            names.join(", ")
        },
    })?;
    std::fs::create_dir_all(MOUNT_POINT).map_err(MediumError::MountPoint)?;
    if crate::mounts::is_mount_point(Path::new(MOUNT_POINT)).unwrap_or(false) {
        return Ok(device);
    }
    mount(
        Some(&device),
        MOUNT_POINT,
        Some("vfat"),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(MOUNT_DATA),
    )
    .map_err(|source| MediumError::Mount {
        device: device.display().to_string(),
        source,
    })?;
    Ok(device)
}

/// Where the config in force came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The medium's `outpost.toml`.
    Medium,
    /// The medium's `outpost.toml.bak` (the current one is broken or missing).
    Backup,
    /// `/etc/outpost.toml` in the initramfs.
    Baked,
}

/// The outcome of [`choose`].
#[derive(Debug)]
pub struct Choice<T> {
    /// The config file chosen and what loading it gave, if any loaded.
    pub chosen: Option<(Source, PathBuf, T)>,
    /// Each rejected file and its diagnostics, in the order tried.
    pub rejected: Vec<(PathBuf, Vec<String>)>,
}

/// Tries the medium's config, its backup, then the baked-in one, with
/// `load` (which validates and returns diagnostics); a file that does not
/// exist is skipped silently except the medium's own config, whose absence
/// is worth a line on the console.
pub fn choose<T>(
    medium_dir: Option<&Path>,
    baked: &Path,
    mut load: impl FnMut(&Path) -> Result<T, Vec<String>>,
) -> Choice<T> {
    let mut tries: Vec<(Source, PathBuf)> = Vec::new();
    if let Some(dir) = medium_dir {
        tries.push((Source::Medium, dir.join(CONFIG_NAME)));
        tries.push((Source::Backup, dir.join(BACKUP_NAME)));
    }
    tries.push((Source::Baked, baked.to_path_buf()));
    let mut rejected = Vec::new();
    for (source, path) in tries {
        if !path.exists() {
            if source == Source::Medium {
                rejected.push((path, vec!["no such file on the boot medium".to_string()]));
            }
            continue;
        }
        match load(&path) {
            Ok(v) => {
                return Choice {
                    chosen: Some((source, path, v)),
                    rejected,
                }
            }
            Err(diags) => rejected.push((path, diags)),
        }
    }
    Choice {
        chosen: None,
        rejected,
    }
}

/// The boot path's choice, for the daemon: with the default config path,
/// mounts the medium and returns the config to use (medium, backup or
/// baked-in), printing on the console every rejected file's diagnostics and
/// where the config in force comes from. Any other path (`--config FILE`)
/// is returned as it is. When nothing loads, the baked path is returned so
/// the daemon's own bad-config handling (safe mode) takes over.
pub fn select_config(config: &Path) -> PathBuf {
    if config != Path::new(BAKED_CONFIG) {
        return config.to_path_buf();
    }
    let dir = match mount_medium() {
        Ok(dev) => {
            log::info!(
                "boot medium {} mounted read-only on {MOUNT_POINT}",
                dev.display()
            );
            Some(Path::new(MOUNT_POINT))
        }
        Err(e) => {
            log::warn!("{e}; using {BAKED_CONFIG}");
            None
        }
    };
    let choice = choose(dir, config, crate::check::load);
    for (path, diags) in &choice.rejected {
        log::error!("{} not used:", path.display());
        for line in diags.iter().flat_map(|d| d.lines()) {
            log::error!("  {line}");
        }
    }
    match choice.chosen {
        Some((source, path, _)) => {
            let what = match source {
                Source::Medium => "the boot medium's config",
                Source::Backup => "the boot medium's previous config (outpost.toml.bak)",
                Source::Baked => "the config built into the image",
            };
            log::info!("config in force: {} ({what})", path.display());
            path
        }
        None => config.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sector(label: &str, fs: &[u8; 8]) -> Vec<u8> {
        let mut s = vec![0u8; 512];
        s[38] = 0x29;
        s[43..54].copy_from_slice(format!("{label:<11}").as_bytes());
        s[54..62].copy_from_slice(fs);
        s[510] = 0x55;
        s[511] = 0xaa;
        s
    }

    #[test]
    fn reads_the_label_of_fat12_and_fat16_only() {
        assert_eq!(
            fat_label(&sector("OUTPOST", b"FAT12   ")).as_deref(),
            Some("OUTPOST")
        );
        assert_eq!(
            fat_label(&sector("OUTPOST", b"FAT16   ")).as_deref(),
            Some("OUTPOST")
        );
        assert_eq!(
            fat_label(&sector("NO NAME", b"FAT16   ")).as_deref(),
            Some("NO NAME")
        );
        assert_eq!(fat_label(&sector("OUTPOST", b"EXT4    ")), None);
        let mut s = sector("OUTPOST", b"FAT12   ");
        s[511] = 0;
        assert_eq!(fat_label(&s), None);
        assert_eq!(fat_label(&[0u8; 100]), None);
    }

    #[test]
    fn candidates_are_partitions_before_their_disk() {
        let d = tempfile_dir("cand");
        for p in [
            "sda/sda1",
            "sda/queue",
            "fd0/queue",
            "loop0",
            "hda/hda2",
            "hda/hda1",
        ] {
            std::fs::create_dir_all(d.join(p)).unwrap();
        }
        assert_eq!(
            candidates(&d),
            vec!["fd0", "hda1", "hda2", "hda", "sda1", "sda"]
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn finds_the_labelled_device() {
        let d = tempfile_dir("find");
        std::fs::write(d.join("sda1"), sector("OTHER", b"FAT16   ")).unwrap();
        std::fs::write(d.join("sda"), vec![0u8; 512]).unwrap();
        std::fs::write(d.join("sdb1"), sector("outpost", b"FAT12   ")).unwrap();
        let names: Vec<String> = ["fd0", "sda1", "sda", "sdb1"].map(String::from).to_vec();
        assert_eq!(find(&d, &names), Some(d.join("sdb1")));
        assert_eq!(find(&d, &names[..3]), None);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn falls_back_from_medium_to_backup_to_baked() {
        let d = tempfile_dir("choose");
        let medium = d.join("boot");
        std::fs::create_dir_all(&medium).unwrap();
        let baked = d.join("baked.toml");
        std::fs::write(&baked, "good baked").unwrap();
        let load = |p: &Path| {
            let t = std::fs::read_to_string(p).unwrap();
            if t.starts_with("good") {
                Ok(t)
            } else {
                Err(vec![format!("{}:1:1: broken", p.display())])
            }
        };
        // Nothing on the medium: baked, and a line saying the file is missing.
        let c = choose(Some(&medium), &baked, load);
        assert_eq!(c.chosen.as_ref().unwrap().0, Source::Baked);
        assert_eq!(c.rejected.len(), 1);

        std::fs::write(medium.join(CONFIG_NAME), "good new").unwrap();
        let c = choose(Some(&medium), &baked, load);
        let (src, path, text) = c.chosen.unwrap();
        assert_eq!((src, text.as_str()), (Source::Medium, "good new"));
        assert_eq!(path, medium.join(CONFIG_NAME));
        assert!(c.rejected.is_empty());

        std::fs::write(medium.join(CONFIG_NAME), "bad").unwrap();
        std::fs::write(medium.join(BACKUP_NAME), "good old").unwrap();
        let c = choose(Some(&medium), &baked, load);
        assert_eq!(c.chosen.unwrap().0, Source::Backup);
        assert_eq!(c.rejected.len(), 1);
        assert!(c.rejected[0].1[0].contains(":1:1: broken"));

        std::fs::write(medium.join(BACKUP_NAME), "bad too").unwrap();
        let c = choose(Some(&medium), &baked, load);
        assert_eq!(c.chosen.unwrap().0, Source::Baked);
        assert_eq!(c.rejected.len(), 2);

        std::fs::write(&baked, "bad baked").unwrap();
        let c = choose(Some(&medium), &baked, load);
        assert!(c.chosen.is_none());
        assert_eq!(c.rejected.len(), 3);

        let c = choose(None, &baked, load);
        assert!(c.chosen.is_none() && c.rejected.len() == 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    fn tempfile_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("outpostd-medium-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
