//! The router's root file system as an initramfs: the shared rootfs overlay
//! (`buildroot-overlay/board/outpost/rootfs-overlay`, the same files a
//! Buildroot build uses), busybox and its applet links, outpostd, the role's
//! tunnel programs and the config — assembled into a reproducible cpio and
//! compressed with the xz settings a 16 MB box can decompress.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cpio::{Archive, Entry, Node};
use crate::error::{BuildError, Result};

/// The overlay shared with the Buildroot tree.
pub fn overlay_dir() -> PathBuf {
    crate::agent::source_tree().join("buildroot-overlay/board/outpost/rootfs-overlay")
}

/// Files whose mode must not follow the checkout's (git keeps only +x).
const PRIVATE_FILES: &[&str] = &["etc/shadow"];

/// Directories every image has, beyond those its files imply.
const SKELETON_DIRS: &[&str] = &[
    "dev",
    "proc",
    "sys",
    "tmp",
    "run",
    "root",
    "mnt",
    "var",
    "etc/outpost",
    "etc/ppp",
    "usr/bin",
    "usr/sbin",
];

/// A regular file entry.
pub fn file(data: Vec<u8>, mode: u32) -> Entry {
    Entry {
        node: Node::File(data),
        mode,
    }
}

/// Starts an archive with the skeleton and the device nodes the kernel
/// needs before devtmpfs is mounted (it opens `/dev/console` for init).
pub fn skeleton() -> Result<Archive> {
    let mut a = Archive::new();
    for d in SKELETON_DIRS {
        add(
            &mut a,
            d,
            Entry {
                node: Node::Dir,
                mode: 0o755,
            },
        )?;
    }
    add(
        &mut a,
        "tmp",
        Entry {
            node: Node::Dir,
            mode: 0o1777,
        },
    )?;
    add(
        &mut a,
        "root",
        Entry {
            node: Node::Dir,
            mode: 0o700,
        },
    )?;
    add(
        &mut a,
        "dev/console",
        Entry {
            node: Node::CharDev(5, 1),
            mode: 0o600,
        },
    )?;
    add(
        &mut a,
        "dev/null",
        Entry {
            node: Node::CharDev(1, 3),
            mode: 0o666,
        },
    )?;
    Ok(a)
}

/// Adds an entry, turning an archive error into a build error.
pub fn add(a: &mut Archive, path: &str, entry: Entry) -> Result<()> {
    a.add(path, entry)
        .map_err(|e| BuildError::Check(e.to_string()))
}

/// Adds or overrides an entry.
pub fn replace(a: &mut Archive, path: &str, entry: Entry) -> Result<()> {
    a.replace(path, entry)
        .map_err(|e| BuildError::Check(e.to_string()))
}

/// Adds every file, directory and link below `dir` at the archive's root.
/// Modes: directories 0755, files 0755 if executable in the checkout else
/// 0644, and `PRIVATE_FILES` 0600.
pub fn add_tree(a: &mut Archive, dir: &Path) -> Result<()> {
    fn walk(a: &mut Archive, root: &Path, dir: &Path) -> Result<()> {
        let mut items: Vec<_> = fs::read_dir(dir)
            .map_err(|e| BuildError::io(format!("reading {}", dir.display()), e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| BuildError::io(format!("reading {}", dir.display()), e))?;
        items.sort_by_key(|e| e.file_name());
        for item in items {
            let path = item.path();
            let rel = path
                .strip_prefix(root)
                .map_err(|_| {
                    BuildError::Check(format!("{} is outside {}", path.display(), root.display()))
                })?
                .to_string_lossy()
                .into_owned();
            let meta = fs::symlink_metadata(&path)
                .map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path)
                    .map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
                replace(
                    a,
                    &rel,
                    Entry {
                        node: Node::Symlink(target.to_string_lossy().into_owned()),
                        mode: 0o777,
                    },
                )?;
            } else if meta.is_dir() {
                add(
                    a,
                    &rel,
                    Entry {
                        node: Node::Dir,
                        mode: 0o755,
                    },
                )?;
                walk(a, root, &path)?;
            } else {
                let data = fs::read(&path)
                    .map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
                let mode = if PRIVATE_FILES.contains(&rel.as_str()) {
                    0o600
                } else if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                };
                replace(a, &rel, file(data, mode))?;
            }
        }
        Ok(())
    }
    walk(a, dir, dir)
}

/// Adds a program at `path` and symlinks to it at each of `links`.
pub fn add_program(a: &mut Archive, path: &str, binary: &Path, links: &[String]) -> Result<()> {
    let data =
        fs::read(binary).map_err(|e| BuildError::io(format!("reading {}", binary.display()), e))?;
    replace(a, path, file(data, 0o755))?;
    let target = format!("/{}", path.trim_start_matches('/'));
    for l in links {
        if l.trim_start_matches('/') != path.trim_start_matches('/') {
            replace(
                a,
                l,
                Entry {
                    node: Node::Symlink(target.clone()),
                    mode: 0o777,
                },
            )?;
        }
    }
    Ok(())
}

/// The archive as cpio bytes, every time set to `mtime`.
pub fn to_cpio(a: &Archive, mtime: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    a.write(&mut out, mtime)
        .map_err(|e| BuildError::io("writing the cpio archive", e))?;
    Ok(out)
}

/// xz settings the kernel's decoder can handle in a few MB of RAM: with the
/// default 8 MiB dictionary of `-9e` a 16 MB box panics while unpacking.
pub const XZ_ARGS: &[&str] = &[
    "--check=crc32",
    "--lzma2=preset=9e,dict=1MiB",
    "--threads=1",
    "-c",
];

/// Compresses `data` with `xz` and [`XZ_ARGS`] (deterministic output).
pub fn xz(data: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new("xz")
        .args(XZ_ARGS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BuildError::io("starting xz (run `make deps`)", e))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| BuildError::Check("xz has no stdin".into()))?;
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child
        .wait_with_output()
        .map_err(|e| BuildError::io("running xz", e))?;
    let wrote = writer
        .join()
        .map_err(|_| BuildError::Check("xz writer thread panicked".into()))?;
    if !out.status.success() {
        return Err(BuildError::Command {
            command: format!("xz {}", XZ_ARGS.join(" ")),
            status: out.status.to_string(),
            log: "(not logged)".into(),
            tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    wrote.map_err(|e| BuildError::io("feeding xz", e))?;
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_files_land_with_their_modes() {
        let mut a = skeleton().unwrap();
        add_tree(&mut a, &overlay_dir()).unwrap();
        let inittab = a.get("etc/inittab").expect("overlay has an inittab");
        assert_eq!(inittab.mode, 0o644);
        assert_eq!(a.get("etc/shadow").unwrap().mode, 0o600);
        assert_eq!(a.get("dev/console").unwrap().node, Node::CharDev(5, 1));
    }

    #[test]
    fn programs_get_their_links() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("busybox");
        fs::write(&bin, b"\x7fELF").unwrap();
        let mut a = Archive::new();
        add_program(
            &mut a,
            "bin/busybox",
            &bin,
            &["/bin/sh".into(), "/sbin/init".into(), "/bin/busybox".into()],
        )
        .unwrap();
        assert_eq!(
            a.get("bin/sh").unwrap().node,
            Node::Symlink("/bin/busybox".into())
        );
        assert_eq!(
            a.get("sbin/init").unwrap().node,
            Node::Symlink("/bin/busybox".into())
        );
        assert!(matches!(a.get("bin/busybox").unwrap().node, Node::File(_)));
    }

    #[test]
    fn xz_round_trips() {
        let data = b"outpost ".repeat(1000);
        let packed = xz(&data).unwrap();
        assert!(packed.len() < data.len());
        let out = Command::new("sh")
            .arg("-c")
            .arg("xz -dc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(&packed)?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(out.stdout, data);
    }
}
