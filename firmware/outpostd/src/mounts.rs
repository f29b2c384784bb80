//! The early-boot mounts outpostd makes when busybox init has not: proc, sys,
//! devtmpfs on /dev, devpts, and a tmpfs on /tmp. Each is mounted only if
//! nothing is mounted on its target yet, so a respawned agent (or one run on
//! a full system) leaves existing mounts alone.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::mount::{mount, MsFlags};

/// One file system to mount at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MountSpec {
    /// The source shown in the mount table.
    pub source: &'static str,
    /// Where it goes.
    pub target: &'static str,
    /// The file system type.
    pub fstype: &'static str,
    /// Mount options passed as data.
    pub data: Option<&'static str>,
    /// Whether to forbid executables, device nodes and setuid on it.
    pub locked_down: bool,
}

/// The boot mounts, parents before children (`/dev` before `/dev/pts`).
pub const BOOT_MOUNTS: &[MountSpec] = &[
    MountSpec {
        source: "proc",
        target: "/proc",
        fstype: "proc",
        data: None,
        locked_down: true,
    },
    MountSpec {
        source: "sysfs",
        target: "/sys",
        fstype: "sysfs",
        data: None,
        locked_down: true,
    },
    MountSpec {
        source: "devtmpfs",
        target: "/dev",
        fstype: "devtmpfs",
        data: Some("mode=0755"),
        locked_down: false,
    },
    MountSpec {
        source: "devpts",
        target: "/dev/pts",
        fstype: "devpts",
        data: Some("gid=5,mode=0620,ptmxmode=0666"),
        locked_down: false,
    },
    MountSpec {
        source: "tmpfs",
        target: "/tmp",
        fstype: "tmpfs",
        data: Some("mode=1777,size=2m"),
        locked_down: false,
    },
];

/// Why a boot mount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The mount point could not be created or examined.
    #[error("prepare mount point {target}: {source}")]
    Target {
        /// The mount point.
        target: &'static str,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The kernel refused the mount.
    #[error("mount {fstype} on {target}: {source} (is {fstype} enabled in the kernel?)")]
    Mount {
        /// The file system type.
        fstype: &'static str,
        /// The mount point.
        target: &'static str,
        /// The kernel's reason.
        #[source]
        source: nix::Error,
    },
}

/// Whether something is mounted on `dir`: it lives on another device than
/// its parent (busybox `mountpoint`'s test), it is the root itself, or the
/// kernel's mount table names it — a bind mount within one file system
/// (a container's or systemd's private /tmp) has its parent's device, and
/// only the table tells. Before /proc is mounted, only the device test
/// answers (as at boot, where nothing is bound).
pub fn is_mount_point(dir: &Path) -> std::io::Result<bool> {
    let here = std::fs::metadata(dir)?;
    let parent = std::fs::metadata(dir.join(".."))?;
    if here.dev() != parent.dev() || here.ino() == parent.ino() {
        return Ok(true);
    }
    // This thread's namespace (a thread may have one of its own), else the
    // process's (kernels before 3.17).
    let table = std::fs::read_to_string("/proc/thread-self/mountinfo")
        .or_else(|_| std::fs::read_to_string("/proc/self/mountinfo"));
    match table {
        Ok(table) => Ok(mountinfo_names(&table, &dir.canonicalize()?)),
        Err(_) => Ok(false),
    }
}

/// Whether a `/proc/PID/mountinfo` table has a mount on `dir`: its fifth
/// field, where the kernel writes space, tab, newline and backslash as
/// `\040`, `\011`, `\012` and `\134`.
pub fn mountinfo_names(table: &str, dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let want = dir.as_os_str().as_bytes();
    table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|p| unescape_octal(p) == want)
}

fn unescape_octal(field: &str) -> Vec<u8> {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Mounts `spec` unless something is mounted on its target already.
pub fn mount_if_absent(spec: &MountSpec) -> Result<bool, MountError> {
    let target = Path::new(spec.target);
    let prep = |source| MountError::Target {
        target: spec.target,
        source,
    };
    match std::fs::create_dir(target) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(prep(e)),
    }
    if is_mount_point(target).map_err(prep)? {
        return Ok(false);
    }
    let flags = if spec.locked_down {
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
    } else {
        MsFlags::MS_NOSUID
    };
    mount(
        Some(spec.source),
        target,
        Some(spec.fstype),
        flags,
        spec.data,
    )
    .map_err(|source| MountError::Mount {
        fstype: spec.fstype,
        target: spec.target,
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_mounted_before_children() {
        for (i, child) in BOOT_MOUNTS.iter().enumerate() {
            for parent in &BOOT_MOUNTS[i + 1..] {
                assert!(
                    !child.target.starts_with(&format!("{}/", parent.target)),
                    "{} comes before its parent {}",
                    child.target,
                    parent.target
                );
            }
        }
    }

    #[test]
    fn the_mount_table_names_mount_points_with_the_kernels_escapes() {
        let table = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
25 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=8k
31 22 254:1 /tmp /tmp rw,relatime shared:9 - ext4 /dev/vda rw
32 22 254:1 /srv/my\\040dir /srv/my\\040dir rw - ext4 /dev/vda rw
";
        let has = |p: &str| mountinfo_names(table, Path::new(p));
        assert!(has("/") && has("/dev") && has("/tmp"));
        assert!(has("/srv/my dir"), "\\040 is a space");
        assert!(!has("/srv/my\\040dir") && !has("/srv") && !has("/tm"));
        assert_eq!(unescape_octal("a\\134b\\011"), b"a\\b\t");
        assert_eq!(unescape_octal("trailing\\04"), b"trailing\\04");
    }

    #[test]
    fn mount_point_test_tells_mounts_from_plain_dirs() {
        // /proc is mounted on every host that runs tests; a fresh temp dir is not.
        assert!(is_mount_point(Path::new("/proc")).unwrap());
        assert!(is_mount_point(Path::new("/")).unwrap());
        let dir = std::env::temp_dir().join(format!("outpostd-mp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = is_mount_point(&dir).unwrap();
        std::fs::remove_dir(&dir).unwrap();
        assert!(!plain);
    }
}
