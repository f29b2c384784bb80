//! `mkoutpost build`: one config in, a bootable kernel + initramfs out.
//! Validates the config first (nothing is built from a bad one), builds or
//! reuses each component through the cache, assembles the role's initramfs
//! and writes the artefacts and a size report.

use std::fs;
use std::path::{Path, PathBuf};

use outpost_core::config::Role;
use outpost_core::Config;

use crate::cache::Cache;
use crate::cpio::Archive;
use crate::cpu::Cpu;
use crate::error::{BuildError, Result};
use crate::initramfs::{self, file};
use crate::media::Seed;
use crate::{agent, busybox, dropbear, kernel, keys, pppd};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The router's `outpost.toml`.
    pub config: PathBuf,
    /// Where the artefacts go (created if needed).
    pub out_dir: PathBuf,
    /// The CPU baseline.
    pub cpu: Cpu,
    /// The entropy seed baked into the initramfs (`/etc/outpost/random-seed`).
    /// Boot media carry their own, refreshed at every boot; this one serves
    /// the kernel+initramfs pair (PXE, QEMU), which has no medium to write
    /// back to, so that image credits the same seed at each of its boots.
    pub seed: Seed,
}

/// One component's size, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// What it is (`kernel`, `busybox`, …).
    pub name: String,
    /// Size as shipped, bytes.
    pub raw: u64,
    /// Size xz-compressed alone, bytes (absent for the kernel, which is
    /// already compressed).
    pub compressed: Option<u64>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// The validated config.
    pub config: Config,
    /// The CPU baseline.
    pub cpu: Cpu,
    /// `OUT/bzImage`.
    pub kernel: PathBuf,
    /// `OUT/initramfs` (cpio, xz).
    pub initramfs: PathBuf,
    /// The kernel command line its medium boots with (direct boots use it too).
    pub cmdline: String,
    /// Its `syslinux.cfg`, as put on the medium.
    pub syslinux_cfg: PathBuf,
    /// Per component sizes, kernel first, initramfs total last.
    pub components: Vec<Component>,
}

/// Where the initramfs carries its entropy seed (outpostd's fallback when
/// no boot medium holds one).
pub const SEED_PATH: &str = "etc/outpost/random-seed";

/// Name of the file in the output directory that tells `mkoutpost run` how
/// to boot it.
pub const IMAGE_INFO: &str = "outpost-image.txt";

/// A config or site file's name (as given) and its text, which must be
/// UTF-8 (a Notepad file's BOM and CRLF are the parsers' business).
pub fn read_text(path: &Path) -> Result<(String, String)> {
    let name = path.display().to_string();
    let bytes = fs::read(path).map_err(|e| BuildError::io(format!("reading {name}"), e))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        BuildError::Config(format!(
            "{name}: the file is not UTF-8 text\n  hint: save it as UTF-8 (in Notepad: Save As, Encoding: UTF-8)"
        ))
    })?;
    Ok((name, text))
}

/// Reads every key file `config` names (relative to `base`) into it, as
/// the router will; the error lists every file that is missing or wrong.
pub fn load_keys(config: &mut Config, base: &Path) -> Result<()> {
    outpost_core::keyfiles::load_key_files(config, base).map_err(|errs| {
        BuildError::Config(
            errs.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// Reads and validates a config file; the error lists every problem.
pub fn load_config(path: &Path) -> Result<Config> {
    let (name, text) = read_text(path)?;
    outpost_core::validate::check(&name, &text).map_err(|diags| {
        BuildError::Config(
            diags
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// Builds the image described by `opts`. `progress` hears one line per step.
pub fn build(opts: &BuildOptions, progress: &mut dyn FnMut(&str)) -> Result<BuildReport> {
    let config = load_config(&opts.config)?;
    let base = opts.config.parent().unwrap_or(Path::new(".")).to_path_buf();
    let cache = Cache::open_default()?;
    let cpu = opts.cpu;
    let role = config.system.role;

    for made in keys::ensure(&cache, &config, &base)? {
        progress(&format!("generated key {}", made.display()));
        // The public half is what the other end's config needs: show it.
        if made.extension().is_some_and(|e| e == "pub") {
            if let Ok(line) = fs::read_to_string(&made) {
                progress(&format!("  {}", line.trim()));
            }
        }
    }
    keys::claim(&config, &base)?;
    load_keys(&mut config.clone(), &base)?;

    progress(&format!("kernel ({cpu})"));
    let k = kernel::build(&cache, cpu)?;
    progress(&format!("busybox ({cpu})"));
    let bb = busybox::build(&cache, cpu)?;
    progress(&format!("outpostd ({cpu})"));
    let agent_bin = agent::build_outpostd(&cache, cpu)?;

    let mut archive = initramfs::skeleton()?;
    initramfs::add_tree(&mut archive, &initramfs::overlay_dir())?;
    let links = busybox::applet_links(&bb)?;
    initramfs::add_program(&mut archive, "bin/busybox", &bb, &links)?;
    initramfs::replace(
        &mut archive,
        "init",
        crate::cpio::Entry {
            node: crate::cpio::Node::Symlink("/bin/busybox".into()),
            mode: 0o777,
        },
    )?;
    initramfs::add_program(&mut archive, "sbin/outpostd", &agent_bin, &[])?;
    let mut components = vec![
        sized("kernel", &k.bzimage, false)?,
        sized("busybox", &bb, true)?,
        sized("outpostd", &agent_bin, true)?,
    ];

    let programs: &[&str] = match role {
        Role::Office => &["dbclient", "dropbearkey"],
        Role::Concentrator => &["dropbear", "dbclient", "dropbearkey"],
        Role::Host => &[],
    };
    if !programs.is_empty() {
        progress(&format!("pppd ({cpu})"));
        let ppp = pppd::build(&cache, cpu)?;
        initramfs::add_program(&mut archive, "usr/sbin/pppd", &ppp, &[])?;
        if role == Role::Concentrator {
            // Setuid root: dropbear runs the forced `pppd call PEER` as the
            // peer's account, and pppd needs root for /dev/ppp and routes.
            let data = fs::read(&ppp)
                .map_err(|e| BuildError::io(format!("reading {}", ppp.display()), e))?;
            initramfs::replace(&mut archive, "usr/sbin/pppd", file(data, 0o4755))?;
        }
        components.push(sized("pppd", &ppp, true)?);
        progress(&format!("dropbear {} ({cpu})", programs.join(" ")));
        let db = dropbear::build(&cache, cpu, programs)?;
        let links: Vec<String> = programs.iter().map(|p| format!("usr/bin/{p}")).collect();
        initramfs::add_program(&mut archive, "usr/bin/dropbearmulti", &db, &links)?;
        components.push(sized("dropbearmulti", &db, true)?);
    }

    add_config(&mut archive, &opts.config, &config, &base)?;
    initramfs::replace(&mut archive, SEED_PATH, file(opts.seed.bytes()?, 0o600))?;

    fs::create_dir_all(&opts.out_dir)
        .map_err(|e| BuildError::io(format!("creating {}", opts.out_dir.display()), e))?;
    let kernel_out = opts.out_dir.join("bzImage");
    copy(&k.bzimage, &kernel_out)?;
    let cpio = initramfs::to_cpio(&archive, source_date_epoch())?;
    let packed = initramfs::xz(&cpio)?;
    let initramfs_out = opts.out_dir.join("initramfs");
    write_atomic(&initramfs_out, &packed)?;
    components.push(Component {
        name: "initramfs (total)".into(),
        raw: cpio.len() as u64,
        compressed: Some(packed.len() as u64),
    });
    // What the boot loader and the kernel are told: on the medium, and
    // recorded for direct (-kernel) boots so they boot the same way.
    let boot = outpost_core::plan::boot::plan(&config);
    let syslinux_cfg = opts.out_dir.join("syslinux.cfg");
    write_atomic(&syslinux_cfg, boot.syslinux_cfg.as_bytes())?;
    write_atomic(
        &opts.out_dir.join(IMAGE_INFO),
        format!(
            "# written by mkoutpost build; read by mkoutpost run\ncpu={}\nrole={}\nhostname={}\ninterfaces={}\ncmdline={}\n",
            cpu,
            role,
            config.system.hostname,
            config.interfaces.len(),
            boot.cmdline
        )
        .as_bytes(),
    )?;
    Ok(BuildReport {
        config,
        cpu,
        kernel: kernel_out,
        initramfs: initramfs_out,
        cmdline: boot.cmdline,
        syslinux_cfg,
        components,
    })
}

/// Puts the config (as `/etc/outpost.toml`) and the key files it names
/// (relative to `/etc`, private ones 0600) into the image.
fn add_config(archive: &mut Archive, path: &Path, config: &Config, base: &Path) -> Result<()> {
    let text =
        fs::read(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
    initramfs::replace(archive, "etc/outpost.toml", file(text, 0o644))?;
    for k in keys::referenced(config) {
        let src = base.join(&k.rel);
        let data =
            fs::read(&src).map_err(|e| BuildError::io(format!("reading {}", src.display()), e))?;
        initramfs::replace(
            archive,
            &format!("etc/{}", k.rel),
            file(data, if k.private { 0o600 } else { 0o644 }),
        )?;
    }
    Ok(())
}

/// `SOURCE_DATE_EPOCH` when set (reproducible builds), else 0.
pub fn source_date_epoch() -> u32 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn sized(name: &str, path: &Path, compress: bool) -> Result<Component> {
    let data =
        fs::read(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))?;
    Ok(Component {
        name: name.into(),
        raw: data.len() as u64,
        compressed: if compress {
            Some(initramfs::xz(&data)?.len() as u64)
        } else {
            None
        },
    })
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    let data =
        fs::read(from).map_err(|e| BuildError::io(format!("reading {}", from.display()), e))?;
    write_atomic(to, &data)
}

/// Writes `data` to `path` through a temporary file and a rename, so a
/// reader never sees half an artefact.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    fs::write(&tmp, data).map_err(|e| BuildError::io(format!("writing {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| BuildError::io(format!("writing {}", path.display()), e))
}

/// The size table `mkoutpost build` prints.
pub fn size_table(report: &BuildReport) -> String {
    let mut s = format!("{:<20} {:>12} {:>12}\n", "component", "bytes", "xz bytes");
    for c in &report.components {
        let xz = c.compressed.map_or("-".to_string(), |v| v.to_string());
        s.push_str(&format!("{:<20} {:>12} {:>12}\n", c.name, c.raw, xz));
    }
    s
}
