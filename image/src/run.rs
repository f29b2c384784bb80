//! `mkoutpost run`: boots a built image in QEMU with the serial console on
//! the user's terminal. Uses the harness's machine description so the QEMU
//! command line is the one the tests use; each interface gets a NIC on a
//! one-port hub, so the guest sees its cards but no frame leaves QEMU.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use outpost_qemu::{Hub, MachineSpec, Nic};

use crate::build::IMAGE_INFO;
use crate::cpu::Cpu;

/// What `mkoutpost build` recorded about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The CPU it was built for.
    pub cpu: Cpu,
    /// The router's host name.
    pub hostname: String,
    /// How many network interfaces its config has.
    pub interfaces: usize,
    /// The kernel command line its medium boots with.
    pub cmdline: String,
}

impl ImageInfo {
    /// Parses `outpost-image.txt` (`key=value` lines).
    pub fn parse(text: &str) -> Result<Self> {
        let get = |k: &str| {
            text.lines()
                .filter_map(|l| l.split_once('='))
                .find(|(key, _)| key.trim() == k)
                .map(|(_, v)| v.trim().to_string())
        };
        let cpu = get("cpu").context("no cpu= line")?;
        Ok(ImageInfo {
            cpu: cpu.parse().map_err(anyhow::Error::msg)?,
            hostname: get("hostname").unwrap_or_default(),
            interfaces: get("interfaces").and_then(|v| v.parse().ok()).unwrap_or(0),
            cmdline: get("cmdline")
                .context("no cmdline= line: built by an older mkoutpost; build it again")?,
        })
    }

    /// Reads it from a build directory.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(IMAGE_INFO);
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is not a mkoutpost build directory (no {IMAGE_INFO})",
                dir.display()
            )
        })?;
        Self::parse(&text).with_context(|| format!("reading {}", path.display()))
    }
}

/// The machine that boots `dir`'s kernel and initramfs; NICs are added by the caller.
pub fn machine_spec(dir: &Path, info: &ImageInfo, memory_mib: u32) -> MachineSpec {
    MachineSpec::new(if info.hostname.is_empty() {
        "outpost"
    } else {
        &info.hostname
    })
    .cpu(info.cpu.qemu_cpu())
    .memory_mib(memory_mib)
    .kernel(dir.join("bzImage"))
    .initrd(dir.join("initramfs"))
    .append(&info.cmdline)
    .no_reboot(true)
}

/// Boots `dir` interactively until QEMU exits.
pub fn run(dir: &Path, memory_mib: u32) -> Result<()> {
    let info = ImageInfo::load(dir)?;
    let work = tempfile_dir()?;
    let mut spec = machine_spec(dir, &info, memory_mib);
    let mut hubs = Vec::new();
    for i in 0..info.interfaces {
        let hub = Hub::new(work.as_ref(), &format!("eth{i}"), 1)?;
        spec = spec.nic(Nic::new(format!("eth{i}"), "ne2k_pci", hub.endpoint(0)?));
        hubs.push(hub);
    }
    let args = spec.qemu_args(work.as_ref())?;
    eprintln!(
        "mkoutpost: booting {} ({} CPU, {} MiB); Ctrl-C ends QEMU",
        dir.display(),
        info.cpu.qemu_cpu(),
        memory_mib
    );
    let status = Command::new(outpost_qemu::spec::DEFAULT_QEMU)
        .args(&args)
        .status()
        .context("starting qemu-system-i386 (run `make deps`)")?;
    drop(hubs);
    let _ = fs::remove_dir_all(&work);
    if !status.success() && status.code() != Some(0) {
        bail!("QEMU ended with {status}");
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    // Short path: unix socket names are limited to 108 bytes.
    let dir = std::env::temp_dir().join(format!("mkoutpost-run-{}", std::process::id()));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_image_info() {
        let i = ImageInfo::parse(
            "# x\ncpu=i586\nrole=office\nhostname=office1\ninterfaces=2\ncmdline=console=ttyS0,9600 panic=5\n",
        )
        .unwrap();
        assert_eq!(
            i,
            ImageInfo {
                cpu: Cpu::I586,
                hostname: "office1".into(),
                interfaces: 2,
                cmdline: "console=ttyS0,9600 panic=5".into(),
            }
        );
        assert!(ImageInfo::parse("role=office\n").is_err());
        assert!(
            ImageInfo::parse("cpu=i486\n").is_err(),
            "an older build: no cmdline"
        );
        assert!(ImageInfo::parse("cpu=z80\n").is_err());
    }
}
