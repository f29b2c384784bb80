//! A reproducible cpio "newc" archive writer, the initramfs format the kernel
//! unpacks. Entries are written sorted by path, owned by root, with one fixed
//! modification time and sequential inode numbers, so the same inputs always
//! give the same bytes (`SOURCE_DATE_EPOCH` decides the time).

use std::collections::BTreeMap;
use std::io::{self, Write};

/// What an archive entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file with its contents.
    File(Vec<u8>),
    /// A symbolic link to the given target.
    Symlink(String),
    /// A character device (major, minor).
    CharDev(u32, u32),
}

/// One entry: its node and permission bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The node.
    pub node: Node,
    /// Permission bits (e.g. 0o755); the file-type bits are added from `node`.
    pub mode: u32,
}

/// Why an entry cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpioError {
    /// Paths are absolute-free, `/`-separated and without `.`/`..` parts.
    #[error("archive path `{0}` must be relative, without `.` or `..` parts")]
    BadPath(String),
    /// Two different entries for one path.
    #[error("archive path `{0}` is added twice with different contents")]
    Conflict(String),
}

/// An archive being assembled; parents are created as directories on demand.
#[derive(Debug, Default, Clone)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `entry` at `path` (leading `/` allowed), creating missing parent
    /// directories (mode 0755). Adding the identical entry twice is fine.
    pub fn add(&mut self, path: &str, entry: Entry) -> Result<(), CpioError> {
        let path = path.trim_start_matches('/');
        if path.is_empty()
            || path
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(CpioError::BadPath(path.to_string()));
        }
        let mut parent = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(p);
            self.entries.entry(parent.clone()).or_insert(Entry {
                node: Node::Dir,
                mode: 0o755,
            });
        }
        match self.entries.get(path) {
            Some(old) if old == &entry => Ok(()),
            Some(old) if old.node == Node::Dir && entry.node == Node::Dir => {
                self.entries.insert(path.to_string(), entry);
                Ok(())
            }
            Some(_) => Err(CpioError::Conflict(path.to_string())),
            None => {
                self.entries.insert(path.to_string(), entry);
                Ok(())
            }
        }
    }

    /// Adds or replaces the entry at `path` (for files a later layer overrides).
    pub fn replace(&mut self, path: &str, entry: Entry) -> Result<(), CpioError> {
        let key = path.trim_start_matches('/').to_string();
        if matches!(self.entries.get(&key), Some(e) if e.node != Node::Dir) {
            self.entries.remove(&key);
        }
        self.add(path, entry)
    }

    /// The entries, sorted by path.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The entry at `path`, if any.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path.trim_start_matches('/'))
    }

    /// Writes the archive in newc format with every mtime set to `mtime`.
    pub fn write<W: Write>(&self, mut w: W, mtime: u32) -> io::Result<()> {
        let mut written = 0usize;
        for (ino, (path, e)) in self.entries.iter().enumerate() {
            let (kind, data, rdev): (u32, &[u8], (u32, u32)) = match &e.node {
                Node::Dir => (0o040000, &[], (0, 0)),
                Node::File(d) => (0o100000, d, (0, 0)),
                Node::Symlink(t) => (0o120000, t.as_bytes(), (0, 0)),
                Node::CharDev(ma, mi) => (0o020000, &[], (*ma, *mi)),
            };
            let nlink = if matches!(e.node, Node::Dir) { 2 } else { 1 };
            written += header(
                &mut w,
                ino as u32 + 1,
                kind | (e.mode & 0o7777),
                nlink,
                mtime,
                data.len(),
                rdev,
                path,
            )?;
            w.write_all(data)?;
            written += data.len();
            written += pad4(&mut w, written)?;
        }
        written += header(&mut w, 0, 0, 1, 0, 0, (0, 0), "TRAILER!!!")?;
        // The kernel reads the archive in 512-byte blocks, as cpio(1) pads it.
        let rem = written % 512;
        if rem != 0 {
            w.write_all(&vec![0u8; 512 - rem])?;
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn header<W: Write>(
    w: &mut W,
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    size: usize,
    rdev: (u32, u32),
    name: &str,
) -> io::Result<usize> {
    let namesize = name.len() + 1;
    let h = format!(
        "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{mtime:08x}{size:08x}{dmaj:08x}{dmin:08x}{rmaj:08x}{rmin:08x}{namesize:08x}{check:08x}",
        uid = 0,
        gid = 0,
        size = size as u32,
        dmaj = 0,
        dmin = 0,
        rmaj = rdev.0,
        rmin = rdev.1,
        check = 0
    );
    w.write_all(h.as_bytes())?;
    w.write_all(name.as_bytes())?;
    w.write_all(&[0])?;
    let n = h.len() + namesize;
    Ok(n + pad4(w, n)?)
}

/// Pads to a multiple of four bytes given `n` written so far; returns the padding.
fn pad4<W: Write>(w: &mut W, n: usize) -> io::Result<usize> {
    let pad = (4 - n % 4) % 4;
    w.write_all(&[0u8; 3][..pad])?;
    Ok(pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn file(d: &[u8], mode: u32) -> Entry {
        Entry {
            node: Node::File(d.to_vec()),
            mode,
        }
    }

    #[test]
    fn creates_parents_and_rejects_bad_paths() {
        let mut a = Archive::new();
        a.add("/etc/ppp/ip-up", file(b"#!/bin/sh\n", 0o755))
            .unwrap();
        let names: Vec<&str> = a.entries().map(|(p, _)| p).collect();
        assert_eq!(names, ["etc", "etc/ppp", "etc/ppp/ip-up"]);
        assert!(a.add("../x", file(b"", 0o644)).is_err());
        assert!(a.add("a//b", file(b"", 0o644)).is_err());
        assert_eq!(
            a.add("etc/ppp/ip-up", file(b"other", 0o755)),
            Err(CpioError::Conflict("etc/ppp/ip-up".into()))
        );
        a.replace("etc/ppp/ip-up", file(b"other", 0o755)).unwrap();
    }

    #[test]
    fn output_is_reproducible_and_readable_by_cpio() {
        let mut a = Archive::new();
        a.add("bin/busybox", file(b"\x7fELF...", 0o755)).unwrap();
        a.add(
            "bin/sh",
            Entry {
                node: Node::Symlink("busybox".into()),
                mode: 0o777,
            },
        )
        .unwrap();
        a.add(
            "dev/console",
            Entry {
                node: Node::CharDev(5, 1),
                mode: 0o600,
            },
        )
        .unwrap();
        a.add("etc/hostname", file(b"office1\n", 0o644)).unwrap();
        let mut one = Vec::new();
        a.write(&mut one, 1_700_000_000).unwrap();
        let mut two = Vec::new();
        a.clone().write(&mut two, 1_700_000_000).unwrap();
        assert_eq!(one, two);
        assert_eq!(one.len() % 512, 0);

        // The host's GNU cpio must list exactly what we put in.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.cpio");
        std::fs::write(&path, &one).unwrap();
        let out = Command::new("cpio")
            .args(["-t", "--quiet", "-F"])
            .arg(&path)
            .output()
            .expect("cpio is installed by make deps");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed = String::from_utf8_lossy(&out.stdout);
        let listed: Vec<&str> = listed.lines().collect();
        assert_eq!(
            listed,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "etc",
                "etc/hostname"
            ]
        );
        let out = Command::new("cpio")
            .args(["-i", "--quiet", "--to-stdout", "-F"])
            .arg(&path)
            .arg("etc/hostname")
            .output()
            .unwrap();
        assert_eq!(out.stdout, b"office1\n");
    }
}
