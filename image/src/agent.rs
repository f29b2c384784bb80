//! Cross-builds `outpostd` for the router: static musl, i486 or i586, with
//! Debian's Rust toolchain (it ships the std sources `-Zbuild-std` needs;
//! the rustup toolchain here has none) and zig as linker.
//!
//! i586 is a built-in Rust target. i486 is not: its spec is derived at build
//! time from the same compiler's i586 spec (CPU `i486`, no 64-bit atomics,
//! since a 486 lacks CMPXCHG8B), so it can never drift from the compiler.
//!
//! Cargo's own incremental build stands in for the artefact cache here: the
//! separate target directory keeps the two toolchains from fighting over one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::Cache;
use crate::cpu::Cpu;
use crate::error::{BuildError, Result};
use crate::exec;
use crate::zig;

/// Debian's toolchain, which has the std sources.
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";

/// The workspace `outpostd` is built from: `$OUTPOST_SRC`, else the tree this
/// `mkoutpost` was compiled from.
pub fn source_tree() -> PathBuf {
    std::env::var_os("OUTPOST_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// Turns the compiler's i586 spec (JSON) into the i486 one.
pub fn derive_i486_spec(i586_spec: &str) -> Result<String> {
    let mut v: serde_json::Value = serde_json::from_str(i586_spec).map_err(|e| {
        BuildError::Check(format!("rustc printed an unreadable i586 target spec: {e}"))
    })?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| BuildError::Check("rustc's i586 target spec is not a JSON object".into()))?;
    for key in ["cpu", "llvm-target", "max-atomic-width"] {
        if !obj.contains_key(key) {
            return Err(BuildError::Check(format!(
                "rustc's i586 target spec has no `{key}`: cannot derive i486"
            )));
        }
    }
    obj.insert("cpu".into(), "i486".into());
    obj.insert("llvm-target".into(), "i486-unknown-linux-musl".into());
    obj.insert("max-atomic-width".into(), 32.into());
    // The printed spec carries the compiler's own metadata; a custom target is
    // tier-less and must not claim otherwise.
    obj.remove("metadata");
    serde_json::to_string_pretty(&v)
        .map_err(|e| BuildError::Check(format!("writing the i486 spec: {e}")))
}

/// What `--target` is for `cpu`: a built-in name or the path of a spec file.
fn target_arg(cache: &Cache, cpu: Cpu) -> Result<String> {
    match cpu {
        Cpu::I586 => Ok(cpu.rust_target().to_string()),
        Cpu::I486 => {
            if !Path::new(DEBIAN_RUSTC).is_file() {
                return Err(missing_toolchain());
            }
            let spec = exec::output(Command::new(DEBIAN_RUSTC).env("RUSTC_BOOTSTRAP", "1").args(
                [
                    "-Z",
                    "unstable-options",
                    "--print",
                    "target-spec-json",
                    "--target",
                    "i586-unknown-linux-musl",
                ],
            ))?;
            let text = derive_i486_spec(&spec)?;
            let path = cache
                .tools_dir()
                .join(format!("{}.json", cpu.rust_target()));
            if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                fs::write(&path, text)
                    .map_err(|e| BuildError::io(format!("writing {}", path.display()), e))?;
            }
            Ok(path.display().to_string())
        }
    }
}

fn missing_toolchain() -> BuildError {
    BuildError::Missing {
        what: "Debian's Rust toolchain (/usr/bin/cargo, /usr/bin/rustc with std sources)".into(),
        hint: "run `make deps` (it installs rustc-web, cargo-web and rust-web-src)".into(),
    }
}

/// Builds `outpostd` for `cpu` and returns the path of the stripped static binary.
pub fn build_outpostd(cache: &Cache, cpu: Cpu) -> Result<PathBuf> {
    if !Path::new(DEBIAN_CARGO).is_file() {
        return Err(missing_toolchain());
    }
    let tools = zig::tools(cache, cpu)?;
    let target = target_arg(cache, cpu)?;
    let src = source_tree();
    let target_dir = src.join("target-cross");
    let log = cache
        .root()
        .join("logs")
        .join(format!("outpostd-{cpu}.log"));
    let _ = fs::remove_file(&log);
    let mut cmd = Command::new(DEBIAN_CARGO);
    cmd.current_dir(&src)
        .env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET")
        .env(
            "RUSTFLAGS",
            format!("-C link-self-contained=no -C linker={}", tools.cc.display()),
        )
        // bindgen (for the nf_tables bindings) must find the x86 asm headers.
        .env(
            "BINDGEN_EXTRA_CLANG_ARGS",
            "-I/usr/include/x86_64-linux-gnu",
        )
        .args([
            "build",
            "--locked",
            "-p",
            "outpostd",
            "--profile",
            "firmware",
        ])
        .args(["--target", &target])
        .args(["-Zbuild-std=std,panic_abort"])
        .arg("--target-dir")
        .arg(&target_dir);
    if cpu == Cpu::I486 {
        cmd.arg("-Zjson-target-spec");
    }
    exec::run_logged(&mut cmd, &log)?;
    let bin = target_dir
        .join(cpu.rust_target())
        .join("firmware")
        .join("outpostd");
    if !bin.is_file() {
        return Err(BuildError::Check(format!(
            "cargo finished but {} is not there (see {})",
            bin.display(),
            log.display()
        )));
    }
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i486_spec_from_i586() {
        let i586 = r#"{"arch":"x86","cpu":"pentium","llvm-target":"i586-unknown-linux-musl","max-atomic-width":64,"metadata":{"tier":2}}"#;
        let v: serde_json::Value = serde_json::from_str(&derive_i486_spec(i586).unwrap()).unwrap();
        assert_eq!(v["cpu"], "i486");
        assert_eq!(v["llvm-target"], "i486-unknown-linux-musl");
        assert_eq!(v["max-atomic-width"], 32);
        assert_eq!(v["arch"], "x86");
        assert!(v.get("metadata").is_none());
    }

    #[test]
    fn refuses_a_spec_it_does_not_understand() {
        assert!(derive_i486_spec(r#"{"arch":"x86"}"#).is_err());
        assert!(derive_i486_spec("not json").is_err());
    }
}
