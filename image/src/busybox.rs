//! The router's busybox: Debian's busybox 1.35 sources (with Debian's
//! patches, which carry the ash/awk CVE fixes), configured by the trimmed
//! `buildroot-overlay/board/outpost/busybox.config` (shared with the
//! Buildroot path), compiled static with zig + musl for one CPU.
//!
//! What the config keeps, and why: `init` with inittab (the agent is
//! respawned from it) and `cttyhack` (job control on the console shell);
//! `ash` with line editing, history and Ctrl-R; the coreutils an admin types
//! (ls cat cp mv rm ln mkdir chmod chown date df du dd find grep sed awk sort
//! uniq cut tr tee head tail wc xargs vi less sha256sum stat timeout watch
//! ...); process tools (ps top kill killall pidof pgrep pkill free uptime
//! dmesg sysctl); mount/umount, halt/reboot/poweroff, hwclock (no NTP on the
//! box); networking: `ip` (addr link route rule neigh), ifconfig/route/arp
//! for admins used to them, ping, traceroute, nc, netstat, nslookup, udhcpc
//! (a WAN on DHCP), udhcpd (a LAN's DHCP server), dnsd (the rehearsal's
//! DNS server); syslogd with a 16 KB in-RAM ring, logread, logger.
//! Left out: mdev (devtmpfs), wget/telnet (nc covers port checks), tar and
//! the compressors, login/passwd/getty (accounts are the agent's), crond
//! (routes are event-driven), IPv6, `DESKTOP` extras, `tc` (does not build
//! against current kernel headers).
//!
//! The cache entry holds `busybox` (stripped), `applets.txt` (busybox's own
//! `busybox.links`: one install path per applet, such as `/bin/sh`, so the
//! initramfs builder makes links without running a target binary) and the
//! `.config` actually used.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{Cache, KeyBuilder};
use crate::cpu::Cpu;
use crate::error::{BuildError, Result};
use crate::exec::run_logged;
use crate::files::{copy, read, write};
use crate::sources::SourcePackage;
use crate::zig;

/// The trimmed configuration, compiled in so the cache key follows it.
pub const CONFIG: &str = include_str!("../../buildroot-overlay/board/outpost/busybox.config");

/// Bumped whenever the recipe below changes in a way the other inputs miss.
const RECIPE_VERSION: &str = "busybox-recipe-1";

/// Debian's patches are applied: they are CVE fixes (ash, awk, wget) and
/// small build fixes, and all apply cleanly to 1.35.0.
const DEBIAN_PATCHES: bool = true;

/// The file in a cache entry that lists the applets' install paths.
pub const APPLETS_FILE: &str = "applets.txt";

/// Builds (or reuses) the static busybox for `cpu`; returns the binary's path.
/// Its applet list is [`APPLETS_FILE`] beside it (see [`applet_links`]).
pub fn build(cache: &Cache, cpu: Cpu) -> Result<PathBuf> {
    let src = SourcePackage::locate(cache, "busybox", "BUSYBOX_DEB_VERSION")?;
    let tools = zig::tools(cache, cpu)?;
    let key = KeyBuilder::new(&format!("busybox-{}", cpu.name()))
        .input("debian-version", &src.version)
        .input("debian-patches", if DEBIAN_PATCHES { "yes" } else { "no" })
        .input("config", CONFIG)
        .input("cpu", cpu.name())
        .input("zig", zig::version(&tools)?)
        .input("recipe", RECIPE_VERSION)
        .finish();
    let log = cache.log_path(&key);
    let entry = cache.get_or_build(&key, |out, scratch| {
        let dir = scratch.join("busybox");
        src.unpack(&dir, DEBIAN_PATCHES, &log)?;
        let config = dir.join(".config");
        write(&config, CONFIG)?;
        // A complete config passes through oldconfig unchanged; anything
        // else means the committed file is stale for these sources.
        run_logged(
            Command::new("sh")
                .args(["-c", "yes '' | make oldconfig"])
                .current_dir(&dir)
                .env("KCONFIG_NOTIMESTAMP", "1"),
            &log,
        )?;
        let used = read(&config)?;
        let diff = config_difference(CONFIG, &used);
        if !diff.is_empty() {
            return Err(BuildError::Check(format!(
                "busybox.config is not complete for busybox {}: `make oldconfig` changed {}",
                src.version,
                diff.join(", ")
            )));
        }
        let mut make = Command::new("make");
        make.current_dir(&dir)
            .env("KCONFIG_NOTIMESTAMP", "1")
            .arg("-j2")
            .arg(format!("CC={}", tools.cc.display()))
            .arg(format!("AR={}", tools.ar.display()))
            .arg("HOSTCC=gcc")
            .arg("STRIP=/usr/bin/strip")
            .arg(format!("BB_EXTRA_VERSION=Debian {} outpost", src.version))
            .args(["busybox", "busybox.links"]);
        run_logged(&mut make, &log)?;
        let binary = out.join("busybox");
        copy(&dir.join("busybox"), &binary)?;
        check_static_i386(&binary)?;
        let links = read(&dir.join("busybox.links"))?;
        parse_links(&links)?;
        write(&out.join(APPLETS_FILE), &links)?;
        copy(&config, &out.join("busybox.config"))
    })?;
    Ok(entry.join("busybox"))
}

/// The applets' install paths (`/bin/sh`, `/usr/bin/awk`, ...) of the
/// busybox at `binary` (as returned by [`build`]).
pub fn applet_links(binary: &Path) -> Result<Vec<String>> {
    let list = binary.with_file_name(APPLETS_FILE);
    parse_links(&read(&list)?)
}

/// Parses a `busybox.links` file: one absolute path per line.
pub fn parse_links(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        // Paths become names inside the image: refuse anything that could
        // escape its root or is not a plain file name under a directory.
        let sane = line.starts_with('/')
            && !line.ends_with('/')
            && line
                .split('/')
                .skip(1)
                .all(|c| !c.is_empty() && c != "." && c != "..")
            && line
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-[+".contains(c));
        if !sane {
            return Err(BuildError::Check(format!(
                "busybox.links line {}: `{line}` is not an absolute applet path",
                n + 1
            )));
        }
        out.push(line.to_string());
    }
    if out.is_empty() {
        return Err(BuildError::Check("busybox.links lists no applets".into()));
    }
    Ok(out)
}

/// The `CONFIG_` settings that differ between two `.config` texts, by
/// symbol name (comments other than "is not set" are ignored).
fn config_difference(a: &str, b: &str) -> Vec<String> {
    let (a, b) = (config_settings(a), config_settings(b));
    let mut diff: Vec<String> = a.symmetric_difference(&b).map(|(k, _)| k.clone()).collect();
    diff.sort();
    diff.dedup();
    diff
}

fn config_settings(text: &str) -> std::collections::BTreeSet<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if let Some(rest) = l.strip_prefix("# ") {
                let sym = rest.strip_suffix(" is not set")?;
                sym.starts_with("CONFIG_")
                    .then(|| (sym.to_string(), "n".to_string()))
            } else if l.starts_with("CONFIG_") {
                let (k, v) = l.split_once('=')?;
                Some((k.to_string(), v.to_string()))
            } else {
                None
            }
        })
        .collect()
}

/// Checks that `path` is a statically linked 32-bit x86 ELF executable:
/// what every userland binary of the image must be.
pub fn check_static_i386(path: &Path) -> Result<()> {
    let data =
        fs::read(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
    elf_static_i386(&data).map_err(|why| {
        BuildError::Check(format!(
            "{} is not a static 32-bit x86 executable: {why}",
            path.display()
        ))
    })
}

/// The pure part of [`check_static_i386`].
fn elf_static_i386(d: &[u8]) -> std::result::Result<(), String> {
    const PT_INTERP: u32 = 3;
    const PT_DYNAMIC: u32 = 2;
    if d.len() < 52 || &d[..4] != b"\x7fELF" {
        return Err("not ELF".into());
    }
    if d[4] != 1 {
        return Err("not 32-bit".into());
    }
    if d[5] != 1 {
        return Err("not little-endian".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([d[o], d[o + 1]]);
    let u32_at = |o: usize| -> std::result::Result<u32, String> {
        d.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "truncated".to_string())
    };
    if u16_at(18) != 3 {
        return Err(format!("machine {} is not i386", u16_at(18)));
    }
    if u16_at(16) != 2 {
        return Err("not an executable (ET_EXEC)".into());
    }
    let phoff = u32_at(28)? as usize;
    let phentsize = u16_at(42) as usize;
    let phnum = u16_at(44) as usize;
    for i in 0..phnum {
        let p_type = u32_at(phoff + i * phentsize)?;
        if p_type == PT_INTERP || p_type == PT_DYNAMIC {
            return Err("dynamically linked".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_busybox_links() {
        let links = "/bin/sh\n/usr/bin/[\n/usr/bin/[[\n/sbin/init\n\n/usr/bin/sha256sum\n";
        assert_eq!(
            parse_links(links).unwrap(),
            vec![
                "/bin/sh",
                "/usr/bin/[",
                "/usr/bin/[[",
                "/sbin/init",
                "/usr/bin/sha256sum"
            ]
        );
    }

    #[test]
    fn refuses_paths_that_escape_the_root() {
        for bad in [
            "bin/sh",
            "/bin/../etc/passwd",
            "/bin/",
            "/bin//sh",
            "/bin/a b",
        ] {
            assert!(parse_links(bad).is_err(), "{bad} must be refused");
        }
        assert!(parse_links("\n\n").is_err(), "an empty list is an error");
    }

    #[test]
    fn committed_config_is_static_and_trimmed() {
        let s = config_settings(CONFIG);
        let has = |k: &str, v: &str| s.contains(&(k.to_string(), v.to_string()));
        assert!(has("CONFIG_STATIC", "y"));
        assert!(
            has("CONFIG_TC", "n"),
            "tc does not build against current headers"
        );
        for applet in [
            "INIT", "ASH", "IP", "PING", "SYSLOGD", "LOGREAD", "VI", "AWK",
        ] {
            assert!(has(&format!("CONFIG_{applet}"), "y"), "{applet} is kept");
        }
        assert!(has("CONFIG_FEATURE_USE_INITTAB", "y"));
        assert!(has("CONFIG_MDEV", "n"), "devtmpfs makes mdev unnecessary");
    }

    #[test]
    fn config_difference_names_changed_symbols() {
        let a = "# c\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x\"\n";
        let b = "CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=\"x\"\n";
        assert_eq!(config_difference(a, b), vec!["CONFIG_B"]);
        assert!(config_difference(a, a).is_empty());
    }

    #[test]
    fn recognises_static_i386_elf() {
        let mut elf = vec![0u8; 52 + 32];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 1;
        elf[5] = 1;
        elf[16] = 2; // ET_EXEC
        elf[18] = 3; // EM_386
        elf[28] = 52; // e_phoff
        elf[42] = 32; // e_phentsize
        elf[44] = 1; // e_phnum
        elf[52] = 1; // PT_LOAD
        assert_eq!(elf_static_i386(&elf), Ok(()));
        let mut dynamic = elf.clone();
        dynamic[52] = 3; // PT_INTERP
        assert!(elf_static_i386(&dynamic).is_err());
        let mut x86_64 = elf.clone();
        x86_64[18] = 62;
        assert!(elf_static_i386(&x86_64).is_err());
        assert!(elf_static_i386(b"#!/bin/sh\n").is_err());
    }
}
