//! The router's pppd: upstream ppp 2.4.9 from Debian's source package,
//! extracted *without* Debian's patches (they switch MD5 to OpenSSL and add
//! systemd; none fixes anything a router's pppd uses), built static with
//! zig + musl for one CPU.
//!
//! Features are switched off with empty make variables (the Makefile tests
//! them with `ifdef`): no MS-CHAP/MPPE, no packet filter (libpcap), no
//! multilink/TDB, no PAM/shadow/crypt, no plugin loading, no CBCP, no
//! EAP-TLS. The PPPoE plugin is linked in instead of loaded
//! (`pppd/pppoe_static.c`, ARCHITECTURE.md): its four sources compiled
//! beside a shim that registers its options, the objects handed to the
//! link through `LIBS`. What stays is pppd proper: the `pty` option, LCP echo, PAP/CHAP-MD5,
//! ip-up/ip-down hooks, IPCP and IPv6CP (2.4.9 calls `sif6down`
//! unconditionally, so `HAVE_INET6` must stay). `COMPILE_FLAGS` is
//! overridden to drop `-DIPX_CHANGE`, which needs the long-gone
//! `linux/ipx.h`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use crate::busybox::check_static_i386;
use crate::cache::{Cache, KeyBuilder};
use crate::cpu::Cpu;
use crate::error::{BuildError, Result};
use crate::exec::run_logged;
use crate::sources::SourcePackage;
use crate::zig;

/// Bumped whenever the recipe below changes in a way the other inputs miss.
const RECIPE_VERSION: &str = "pppd-recipe-2";

/// The shim that links the PPPoE plugin into the static pppd.
const PPPOE_SHIM: &str = include_str!("pppd/pppoe_static.c");
/// The plugin's sources compiled (in `pppd/plugins/pppoe/`), the shim's
/// name first; `plugin.c` comes in through the shim.
const PPPOE_OBJECTS: &[&str] = &["static", "discovery", "if", "common"];

/// The make variables that select pppd's features (see the module docs).
const MAKE_SWITCHES: &[&str] = &[
    "COMPILE_FLAGS=-DHAVE_PATHS_H -DHAVE_MMAP",
    "CHAPMS=",
    "MPPE=",
    "NEEDDES=",
    "FILTER=",
    "HAVE_MULTILINK=",
    "USE_TDB=",
    "HAS_SHADOW=",
    "USE_PAM=",
    "PLUGIN=",
    "CBCP=",
    "USE_EAPTLS=",
    "USE_LIBUTIL=",
    "USE_CRYPT=",
    "LDFLAGS=-static",
];

/// Builds (or reuses) the static, stripped `pppd` for `cpu`; returns its path.
pub fn build(cache: &Cache, cpu: Cpu) -> Result<PathBuf> {
    let src = SourcePackage::locate(cache, "ppp", "PPP_DEB_VERSION")?;
    let tools = zig::tools(cache, cpu)?;
    let key = KeyBuilder::new(&format!("pppd-{}", cpu.name()))
        .input("debian-version", &src.version)
        .input("debian-patches", "no")
        .input("make-switches", MAKE_SWITCHES.join("\n"))
        .input("pppoe-shim", PPPOE_SHIM)
        .input("pppoe-objects", PPPOE_OBJECTS.join(" "))
        .input("cpu", cpu.name())
        .input("zig", zig::version(&tools)?)
        .input("recipe", RECIPE_VERSION)
        .finish();
    let log = cache.log_path(&key);
    let entry = cache.get_or_build(&key, |out, scratch| {
        let dir = scratch.join("ppp");
        src.unpack(&dir, false, &log)?;
        run_logged(
            Command::new("./configure")
                .current_dir(&dir)
                .arg("--prefix=/usr")
                .arg(format!("--cc={}", tools.cc.display()))
                .arg("--cflags=-Os"),
            &log,
        )?;
        let pppoe = dir.join("pppd/plugins/pppoe");
        fs::write(pppoe.join("static.c"), PPPOE_SHIM)
            .map_err(|e| BuildError::io("writing the PPPoE shim".to_string(), e))?;
        let mut objects = Vec::new();
        for name in PPPOE_OBJECTS {
            let object = pppoe.join(format!("{name}.o"));
            run_logged(
                Command::new(&tools.cc)
                    .current_dir(&pppoe)
                    .args(["-Os", "-I../../../include", "-I../../..", "-c", "-o"])
                    .arg(&object)
                    .arg(format!("{name}.c")),
                &log,
            )?;
            objects.push(object.display().to_string());
        }
        run_logged(
            Command::new("make")
                .current_dir(&dir)
                .args(["-j2", "-C", "pppd"])
                .args(MAKE_SWITCHES)
                // pppd's link line ends with $(LIBS): the plugin goes in there.
                .arg(format!("LIBS={}", objects.join(" ")))
                .arg("pppd"),
            &log,
        )?;
        let binary = out.join("pppd");
        fs::copy(dir.join("pppd/pppd"), &binary)
            .map_err(|e| BuildError::io(format!("copying pppd to {}", binary.display()), e))?;
        run_logged(
            Command::new("/usr/bin/strip")
                .arg("--strip-all")
                .arg(&binary),
            &log,
        )?;
        check_static_i386(&binary)
    })?;
    Ok(entry.join("pppd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_features_are_switched_off() {
        for v in ["CHAPMS=", "FILTER=", "USE_PAM=", "PLUGIN=", "USE_EAPTLS="] {
            assert!(MAKE_SWITCHES.contains(&v), "{v} must be passed");
        }
        let flags = MAKE_SWITCHES
            .iter()
            .find(|s| s.starts_with("COMPILE_FLAGS="))
            .unwrap();
        assert!(!flags.contains("IPX"), "linux/ipx.h no longer exists");
        assert!(
            !MAKE_SWITCHES.iter().any(|s| s.starts_with("HAVE_INET6")),
            "2.4.9 needs HAVE_INET6"
        );
    }
}
