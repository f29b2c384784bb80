//! A stock Debian machine for interoperability tests: Debian 12's own i386
//! binary packages, unmodified — its 686 kernel, OpenSSH's server and
//! client, pppd, kmod, busybox as the shell, iptables and the libraries
//! they link — fetched by name through apt ([`apt`]), unpacked with
//! `dpkg-deb -x`, and packed with mkoutpost's reproducible cpio writer
//! beside a small init of ours (`debian/init.sh`).
//!
//! The artefact is cached under a key holding every package's name and
//! exact version, the modules and the init: a new Debian point release is
//! a new machine. Per-machine files (addresses, accounts, keys) are a
//! second, small cpio archive appended to the cached one ([`with_files`]):
//! the kernel unpacks concatenated archives in order, later files win.
//!
//! Debian's 686 kernel needs a 686-class CPU: QEMU `-cpu pentium3`
//! ([`QEMU_CPU`]); `-cpu pentium` stops it before the console starts.

pub mod apt;
pub mod modules;
pub mod server;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{Cache, KeyBuilder};
use crate::cpio::{Archive, Entry, Node};
use crate::error::{BuildError, Result};
use crate::exec::output;
use crate::initramfs::{file, replace, to_cpio};

/// Bumped whenever the recipe changes in a way the other inputs miss.
const RECIPE_VERSION: &str = "debian-recipe-2";

/// The metapackage whose target is the kernel (the version apt offers).
pub const KERNEL_METAPACKAGE: &str = "linux-image-686";

/// The QEMU CPU the 686 kernel boots on.
pub const QEMU_CPU: &str = "pentium3";

/// The packages besides the kernel: the programs and every library they
/// link (sshd, ssh, pppd, kmod, iptables-nft, busybox), by name.
pub const PACKAGES: &[&str] = &[
    "openssh-server",
    "openssh-client",
    "openssh-sftp-server",
    "ppp",
    "kmod",
    "busybox",
    "iptables",
    // pkill, ps: busybox as Debian builds it has neither.
    "procps",
    "libproc2-0",
    "libncursesw6",
    "libc6",
    "libssl3",
    "zlib1g",
    "libcrypt1",
    "libselinux1",
    "libpcre2-8-0",
    "libaudit1",
    "libcap-ng0",
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libk5crypto3",
    "libkrb5support0",
    "libkeyutils1",
    "libcom-err2",
    "libwrap0",
    "libnsl2",
    "libtirpc3",
    "libpam0g",
    "libsystemd0",
    "libzstd1",
    "liblzma5",
    "liblz4-1",
    "libgcrypt20",
    "libgpg-error0",
    "libcap2",
    "libkmod2",
    "libpcap0.8",
    "libdbus-1-3",
    "libxtables12",
    "libnftnl11",
    "libmnl0",
    "libip4tc2",
    "libip6tc2",
    "libnetfilter-conntrack3",
    "libnfnetlink0",
    "libgcc-s1",
    "libfido2-1",
    "libcbor0.8",
    "libedit2",
    "libbsd0",
    "libmd0",
    "libtinfo6",
    "libudev1",
];

/// The modules init loads (their dependencies come along): the PCI NICs
/// QEMU offers, PPP over a pty, and what iptables-nft's filter rules need.
pub const MODULES: &[&str] = &[
    // First: libcrc32c's `softdep pre: crc32c` is no `depends=`, and
    // without it nf_tables' init fails.
    "crc32c_generic",
    "ne2k-pci",
    "e1000",
    "ppp_async",
    "ppp_generic",
    "slhc",
    "nf_tables",
    "nft_compat",
    "x_tables",
    "xt_tcpudp",
    "iptable_filter",
    "nf_conntrack",
    "xt_conntrack",
    "nft_ct",
];

/// The init of ours the machine runs as `/init`.
pub const INIT: &str = include_str!("debian/init.sh");

/// The assembled machine: Debian's kernel and the initramfs of its packages.
#[derive(Debug, Clone)]
pub struct DebianMachine {
    /// Debian's `vmlinuz`.
    pub kernel: PathBuf,
    /// The packages' files, uncompressed cpio.
    pub initramfs: PathBuf,
    /// Each package as `name version`, one a line (also in the cache entry).
    pub packages: String,
}

/// What goes into the root from a package's files: everything but the
/// documentation (`usr/share`), the kernel's modules (a chosen few are
/// added) and `boot/` (the kernel is booted directly).
pub fn keep(path: &str) -> bool {
    !(path.starts_with("usr/share/")
        || path.starts_with("lib/modules/")
        || path.starts_with("boot/"))
}

/// Assembles (or reuses) the Debian machine; `progress` hears each step.
pub fn assemble(cache: &Cache, progress: &mut dyn FnMut(&str)) -> Result<DebianMachine> {
    let apt = apt::Apt::open(&cache.tools_dir().join("debian-i386-apt"))?;
    let kernel_pkg = apt.resolve(KERNEL_METAPACKAGE)?;
    let names: Vec<String> = std::iter::once(kernel_pkg.clone())
        .chain(PACKAGES.iter().map(|p| p.to_string()))
        .collect();
    let packages = apt.versions(&names)?;
    let list: String = packages.iter().map(|(n, v)| format!("{n} {v}\n")).collect();
    let key = KeyBuilder::new("debian-i386")
        .input("packages", &list)
        .input("modules", MODULES.join(","))
        .input("init", INIT)
        .input("recipe", RECIPE_VERSION)
        .finish();
    let dir = cache.get_or_build(&key, |out, scratch| {
        progress(&format!(
            "downloading {} Debian i386 packages",
            packages.len()
        ));
        let debs = scratch.join("debs");
        let root = scratch.join("root");
        for d in [&debs, &root] {
            fs::create_dir_all(d)
                .map_err(|e| BuildError::io(format!("creating {}", d.display()), e))?;
        }
        apt.download(&packages, &debs)?;
        progress("unpacking them with dpkg-deb -x");
        let mut names: Vec<_> = fs::read_dir(&debs)
            .map_err(|e| BuildError::io(format!("reading {}", debs.display()), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        names.sort();
        for deb in &names {
            output(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root))?;
        }
        progress("packing the initramfs");
        let release = kernel_pkg.strip_prefix("linux-image-").ok_or_else(|| {
            BuildError::Check(format!("{kernel_pkg} is not a linux-image package"))
        })?;
        let archive = root_archive(&root, release)?;
        let cpio = to_cpio(&archive, crate::build::source_date_epoch())?;
        let write = |name: &str, data: &[u8]| {
            let p = out.join(name);
            fs::write(&p, data).map_err(|e| BuildError::io(format!("writing {}", p.display()), e))
        };
        write("initramfs.cpio", &cpio)?;
        let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
        let kernel = fs::read(&vmlinuz)
            .map_err(|e| BuildError::io(format!("reading {}", vmlinuz.display()), e))?;
        write("vmlinuz", &kernel)?;
        write("packages.txt", list.as_bytes())
    })?;
    Ok(DebianMachine {
        kernel: dir.join("vmlinuz"),
        initramfs: dir.join("initramfs.cpio"),
        packages: list,
    })
}

/// The unpacked `root` as an archive: the files [`keep`] keeps, the
/// modules of [`MODULES`] with their dependencies, `/init`, and `/bin/sh`
/// as busybox (Debian's essential shell, dash, is not among the packages).
fn root_archive(root: &Path, release: &str) -> Result<Archive> {
    let mut a = Archive::new();
    let mut files = Vec::new();
    walk(root, root, &mut files)?;
    let mut available = BTreeMap::new();
    let mods = format!("lib/modules/{release}/");
    for (rel, _) in &files {
        if let Some(name) = rel.strip_prefix(&mods).and_then(modules::name_of) {
            available.insert(name, rel.clone());
        }
    }
    let deps = |rel: &str| {
        fs::read(root.join(rel))
            .map(|b| modules::depends(&b))
            .unwrap_or_default()
    };
    let chosen = modules::closure(MODULES, &available, &deps)
        .map_err(|e| BuildError::Check(e.to_string()))?;
    for (rel, entry) in files {
        let module_meta = rel.starts_with(&mods)
            && rel
                .rsplit('/')
                .next()
                .is_some_and(|f| f.starts_with("modules.builtin"));
        if keep(&rel) || chosen.contains(&rel) || module_meta {
            replace(&mut a, &rel, entry)?;
        }
    }
    replace(&mut a, "init", file(INIT.as_bytes().to_vec(), 0o755))?;
    replace(
        &mut a,
        "bin/sh",
        Entry {
            node: Node::Symlink("busybox".into()),
            mode: 0o777,
        },
    )?;
    let names: Vec<String> = MODULES.iter().map(|m| m.to_string()).collect();
    replace(
        &mut a,
        "etc/interop-modules",
        file(format!("{}\n", names.join("\n")).into_bytes(), 0o644),
    )?;
    Ok(a)
}

/// Every file and link below `dir` with its entry (directories are made
/// by the archive as parents). Modes are the package's own permission
/// bits; owners are root (the init restores pppd's group).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Entry)>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut items: Vec<_> = fs::read_dir(dir)
        .map_err(|e| BuildError::io(format!("reading {}", dir.display()), e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    items.sort();
    for path in items {
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
            let t = fs::read_link(&path)
                .map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
            out.push((
                rel,
                Entry {
                    node: Node::Symlink(t.to_string_lossy().into_owned()),
                    mode: 0o777,
                },
            ));
        } else if meta.is_dir() {
            walk(root, &path, out)?;
        } else {
            let data = fs::read(&path)
                .map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
            out.push((rel, file(data, meta.permissions().mode() & 0o7777)));
        }
    }
    Ok(())
}

/// The cached initramfs with `files` (path, contents, mode) appended as a
/// second archive, written to `dest`: one machine's configuration.
pub fn with_files(
    machine: &DebianMachine,
    files: &[(String, Vec<u8>, u32)],
    dest: &Path,
) -> Result<()> {
    let mut a = Archive::new();
    for (path, data, mode) in files {
        replace(&mut a, path, file(data.clone(), *mode))?;
    }
    let mut bytes = fs::read(&machine.initramfs)
        .map_err(|e| BuildError::io(format!("reading {}", machine.initramfs.display()), e))?;
    bytes.extend(to_cpio(&a, crate::build::source_date_epoch())?);
    fs::write(dest, bytes).map_err(|e| BuildError::io(format!("writing {}", dest.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_programs_and_libraries_not_documentation() {
        assert!(keep("usr/sbin/sshd"));
        assert!(keep("lib/i386-linux-gnu/libc.so.6"));
        assert!(!keep("usr/share/doc/ppp/README"));
        assert!(!keep("lib/modules/6.1.0-57-686/kernel/fs/ext4/ext4.ko"));
        assert!(!keep("boot/vmlinuz-6.1.0-57-686"));
    }
}
