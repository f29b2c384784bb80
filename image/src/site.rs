//! `mkoutpost site`: one site file in, every router's directory out. The
//! work is split in steps a test can run without components:
//!
//! 1. [`load`]: parse and validate the site (every mistake, nothing written);
//! 2. [`ensure_keys`]: the key pairs the site needs, generated once into
//!    `SITE_DIR/keys/` (never regenerated), each claimed by its owner with
//!    the same owner records `mkoutpost build` keeps ([`keys::judge`]), so
//!    one key never serves two routers;
//! 3. [`write_configs`]: `OUT/ROUTER/outpost.toml` and `OUT/ROUTER/keys/`,
//!    each file written atomically and only when its bytes change, then
//!    checked as `mkoutpost check` would; `OUT/home-NAME/` for home users;
//! 4. [`build_images`]: each router's image through [`build::build`] and
//!    [`media::for_build`], in its own format and CPU.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use outpost_core::diagnostic::{Diagnostic, Diagnostics};
use outpost_core::keys::PublicKey;
use outpost_core::site::{openssh, PublicKeys, Site, SiteCpu, SiteFormat};

/// Where a home user's Debian PC keeps the files of `OUT/home-NAME/`
/// (the systemd unit names it).
pub const OPENSSH_HOME_DIR: &str = "/etc/outpost-vpn";

use crate::build::{self, BuildOptions};
use crate::cpu::Cpu;
use crate::error::{BuildError, Result};
use crate::keys;
use crate::media::{self, Format, Seed};

/// Reads and validates a site file; the error lists every problem,
/// explicit `[[test]]`s the policy fails among them.
pub fn load(path: &Path) -> Result<Site> {
    let (site, failures) = load_with_test_failures(path)?;
    if failures.is_empty() {
        Ok(site)
    } else {
        Err(BuildError::Config(Diagnostics(failures).to_string()))
    }
}

/// Like [`load`], but failing `[[test]]`s come back beside the site
/// instead of as an error: a rehearsal runs them as packets anyway.
pub fn load_with_test_failures(path: &Path) -> Result<(Site, Vec<Diagnostic>)> {
    let (name, text) = build::read_text(path)?;
    Site::with_test_failures(&name, &text).map_err(|e| BuildError::Config(e.to_string()))
}

/// The directory key files are taken relative to: the site file's.
pub fn site_dir(site_file: &Path) -> PathBuf {
    site_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Makes a key pair: `(private key path, owner)`; [`keys::generate`] in
/// real builds, a stand-in in tests.
pub type KeyGen<'a> = dyn FnMut(&Path, &str) -> Result<()> + 'a;

/// Every key pair the site needs, under `dir`: missing ones are made by
/// `generate` (an existing private key is never replaced), each is claimed
/// for its owner, and the public lines are returned. Also returns what was
/// generated.
pub fn ensure_keys(
    site: &Site,
    dir: &Path,
    generate: &mut KeyGen<'_>,
) -> Result<(PublicKeys, Vec<PathBuf>)> {
    let mut out = PublicKeys::new();
    let mut made = Vec::new();
    for need in site.key_needs() {
        let private = dir.join(&need.key);
        let public = keys::pub_path(&private);
        if !private.exists() || !public.exists() {
            generate(&private, &need.owner)?;
            made.push(private.clone());
        }
        claim(&private, &need.owner)?;
        let text = fs::read_to_string(&public)
            .map_err(|e| BuildError::io(format!("reading {}", public.display()), e))?;
        let line = text
            .trim_start_matches('\u{feff}')
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let key = PublicKey::parse(line).map_err(|e| {
            BuildError::Config(format!(
                "{}: {e}\n  hint: the file must hold one line `ssh-ed25519 AAAA… {}`; delete it and its private key to have a new pair generated",
                public.display(),
                need.owner
            ))
        })?;
        out.insert(need.owner, key);
    }
    Ok((out, made))
}

/// The owner record rules of `mkoutpost build` for one key.
fn claim(private: &Path, owner: &str) -> Result<()> {
    let record = keys::owner_path(private);
    let recorded = match fs::read_to_string(&record) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(BuildError::io(format!("reading {}", record.display()), e)),
    };
    match keys::judge(recorded.as_deref(), owner) {
        keys::Claim::Own => Ok(()),
        keys::Claim::New => fs::write(&record, format!("{owner}\n"))
            .map_err(|e| BuildError::io(format!("writing {}", record.display()), e)),
        keys::Claim::Other(first) => Err(BuildError::KeyShared {
            key: private.to_path_buf(),
            owner: first,
            hostname: owner.to_string(),
            record,
        }),
    }
}

/// What [`write_configs`] did for one router or home user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Router or home user name.
    pub name: String,
    /// `office`, `concentrator` or `home`.
    pub role: String,
    /// Its output directory.
    pub dir: PathBuf,
    /// The files whose bytes changed (or were new), in write order.
    pub changed: Vec<PathBuf>,
    /// CPU and format, for routers.
    pub image: Option<(SiteCpu, SiteFormat)>,
}

/// Writes `data` to `path` (mode `mode`) through a temporary file and a
/// rename, unless the file already holds exactly these bytes with this
/// mode; returns whether it wrote. A rebuild after an edit thus touches
/// only what the edit changed.
pub fn write_if_changed(path: &Path, data: &[u8], mode: u32) -> Result<bool> {
    if let (Ok(old), Ok(meta)) = (fs::read(path), fs::metadata(path)) {
        if old == data && meta.permissions().mode() & 0o777 == mode {
            return Ok(false);
        }
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    // Created with its final mode: a private key is never readable by
    // others, not even for the moment before a chmod.
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| BuildError::io(format!("writing {}", tmp.display()), e))?;
        f.write_all(data)
            .and_then(|_| f.sync_all())
            .map_err(|e| BuildError::io(format!("writing {}", tmp.display()), e))?;
    }
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))
        .map_err(|e| BuildError::io(format!("chmod {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| BuildError::io(format!("writing {}", path.display()), e))?;
    Ok(true)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| BuildError::io(format!("reading {}", path.display()), e))
}

fn private_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)
        .map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| BuildError::io(format!("chmod {}", dir.display()), e))
}

/// Whether `only` selects `name` (a home user also as `home-NAME`).
fn selected(only: Option<&str>, name: &str, home: bool) -> bool {
    only.is_none_or(|o| o == name || (home && o == format!("home-{name}")))
}

/// Writes every router's directory (and every home user's) under `out`,
/// or only `only`'s, from the site and its keys in `dir`; checks each
/// router's directory as `mkoutpost check` and `mkoutpost plan` would.
pub fn write_configs(
    site: &Site,
    dir: &Path,
    keys: &PublicKeys,
    out: &Path,
    only: Option<&str>,
) -> Result<Vec<Written>> {
    if let Some(o) = only {
        let known: Vec<String> = site.key_needs().into_iter().map(|k| k.owner).collect();
        if !known.iter().any(|k| selected(Some(o), k, true)) {
            return Err(BuildError::Config(format!(
                "{}: there is no router or home user `{o}`\n  hint: use one of: {}",
                site.file,
                known.join(", ")
            )));
        }
    }
    let derived = site
        .render(keys)
        .map_err(|e| BuildError::Check(e.to_string()))?;
    let mut done = Vec::new();
    for r in derived
        .routers
        .iter()
        .filter(|r| selected(only, &r.name, false))
    {
        let rdir = out.join(&r.name);
        let mut changed = Vec::new();
        let config = rdir.join("outpost.toml");
        if write_if_changed(&config, r.text.as_bytes(), 0o644)? {
            changed.push(config.clone());
        }
        let src = dir.join(&r.site_key);
        let dst = rdir.join(&r.key);
        if let Some(kdir) = dst.parent() {
            private_dir(kdir)?;
        }
        if write_if_changed(&dst, &read(&src)?, 0o600)? {
            changed.push(dst.clone());
        }
        let (src, dst) = (keys::pub_path(&src), keys::pub_path(&dst));
        if write_if_changed(&dst, &read(&src)?, 0o644)? {
            changed.push(dst);
        }
        check_dir(&config, &rdir)?;
        done.push(Written {
            name: r.name.clone(),
            role: r.role.to_string(),
            dir: rdir,
            changed,
            image: Some((r.build.cpu, r.build.format)),
        });
    }
    for h in derived
        .homes
        .iter()
        .filter(|h| selected(only, &h.name, true))
    {
        let hdir = out.join(format!("home-{}", h.name));
        private_dir(&hdir)?;
        let mut changed = Vec::new();
        let src = dir.join(&h.site_key);
        let private = read(&src)?;
        let o = &h.openssh;
        // Issue 18: the same tunnel for a Debian PC's stock pppd and ssh,
        // installed by copying this directory to OPENSSH_HOME_DIR.
        let openssh_key = outpost_core::openssh_key::from_dropbear(&private, &h.name)
            .map_err(|e| BuildError::Check(format!("{}: {e}", src.display())))?;
        let mut files: Vec<(PathBuf, Vec<u8>, u32)> = vec![
            (hdir.join(&o.key), openssh_key.into_bytes(), 0o600),
            (
                hdir.join("connect-openssh.sh"),
                openssh::connect_script(o).into_bytes(),
                0o755,
            ),
            (hdir.join("ip-up"), openssh::ip_up(o).into_bytes(), 0o755),
            (
                hdir.join("outpost-vpn.service"),
                openssh::systemd_unit(o, OPENSSH_HOME_DIR).into_bytes(),
                0o644,
            ),
        ];
        files.extend([
            (hdir.join(&h.key), private, 0o600),
            (
                keys::pub_path(&hdir.join(&h.key)),
                read(&keys::pub_path(&src))?,
                0o644,
            ),
            (
                hdir.join("known_hosts"),
                h.known_hosts.clone().into_bytes(),
                0o644,
            ),
            // dbclient reads only $HOME/.ssh/known_hosts; connect.sh sets
            // HOME to this directory.
            (
                hdir.join(".ssh/known_hosts"),
                h.known_hosts.clone().into_bytes(),
                0o644,
            ),
            (
                hdir.join("connect.sh"),
                h.connect.clone().into_bytes(),
                0o755,
            ),
        ]);
        for (path, data, mode) in files {
            if write_if_changed(&path, &data, mode)? {
                changed.push(path);
            }
        }
        done.push(Written {
            name: h.name.clone(),
            role: "home".into(),
            dir: hdir,
            changed,
            image: None,
        });
    }
    Ok(done)
}

/// What `mkoutpost check` and `mkoutpost plan` require of a directory.
fn check_dir(config: &Path, dir: &Path) -> Result<()> {
    let mut cfg = build::load_config(config)?;
    build::load_keys(&mut cfg, dir)?;
    outpost_core::plan::plan(&cfg, Path::new("/etc"))
        .map(|_| ())
        .map_err(|e| BuildError::Check(format!("{}: {e}", config.display())))
}

/// mkoutpost's CPU for a site's.
pub fn cpu(c: SiteCpu) -> Cpu {
    match c {
        SiteCpu::I486 => Cpu::I486,
        SiteCpu::I586 => Cpu::I586,
    }
}

/// mkoutpost's format for a site's.
pub fn format(f: SiteFormat) -> Format {
    match f {
        SiteFormat::Kernel => Format::Kernel,
        SiteFormat::Floppy1440 => Format::Floppy1440,
        SiteFormat::Floppy2880 => Format::Floppy2880,
        SiteFormat::Cf => Format::Cf,
    }
}

/// One line of the final table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// Router or home user.
    pub name: String,
    /// Its role.
    pub role: String,
    /// CPU, for routers.
    pub cpu: Option<Cpu>,
    /// Format, for routers.
    pub format: Option<Format>,
    /// Image bytes (the medium's, or bzImage + initramfs for `kernel`).
    pub image_bytes: Option<u64>,
    /// Free bytes left on the medium.
    pub free_bytes: Option<u64>,
    /// Why it has no image, when it should have one.
    pub problem: Option<String>,
    /// What boots it, when it has an image.
    pub boot: Option<Boot>,
}

/// A built router as QEMU boots it: the exact files that are flashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boot {
    /// Its CPU.
    pub cpu: Cpu,
    /// `bzImage`.
    pub kernel: PathBuf,
    /// `initramfs`.
    pub initramfs: PathBuf,
    /// The medium image, unless the format is `kernel`.
    pub medium: Option<(Format, PathBuf)>,
    /// The kernel command line on its medium (direct boots use it too).
    pub cmdline: String,
}

/// Builds each router's image in its directory. An image that does not
/// fit its medium does not stop the others: its row says by how much, and
/// the caller fails at the end. Any other failure stops the build.
pub fn build_images(written: &[Written], progress: &mut dyn FnMut(&str)) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for w in written {
        let Some((c, f)) = w.image else {
            rows.push(Row {
                name: w.name.clone(),
                role: w.role.clone(),
                cpu: None,
                format: None,
                image_bytes: None,
                free_bytes: None,
                problem: None,
                boot: None,
            });
            continue;
        };
        let (c, f) = (cpu(c), format(f));
        let digest = inputs_digest(&w.dir, c, f)?;
        if w.changed.is_empty() {
            if let Some(row) = unchanged(w, c, f, &digest) {
                progress(&format!("{}: unchanged, image kept", w.name));
                rows.push(row);
                continue;
            }
        }
        progress(&format!("{}: {} image for {c}", w.name, f.describe()));
        let _ = fs::remove_file(w.dir.join(STAMP));
        let opts = BuildOptions {
            config: w.dir.join("outpost.toml"),
            out_dir: w.dir.clone(),
            cpu: c,
            seed: Seed::Random,
        };
        let report = build::build(&opts, progress)?;
        let mut row = Row {
            name: w.name.clone(),
            role: w.role.clone(),
            cpu: Some(c),
            format: Some(f),
            image_bytes: None,
            free_bytes: None,
            problem: None,
            boot: None,
        };
        let mut boot = Boot {
            cpu: c,
            kernel: report.kernel.clone(),
            initramfs: report.initramfs.clone(),
            medium: None,
            cmdline: report.cmdline.clone(),
        };
        match media::for_build(&opts, &report, f, Seed::Random) {
            Ok(Some(m)) => {
                row.image_bytes = Some(m.image_bytes);
                row.free_bytes = Some(m.free_bytes);
                boot.medium = Some((f, m.path));
                row.boot = Some(boot);
            }
            Ok(None) => {
                let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                row.image_bytes = Some(size(&report.kernel) + size(&report.initramfs));
                row.boot = Some(boot);
            }
            Err(BuildError::DoesNotFit { over, .. }) => {
                row.problem = Some(format!(
                    "does not fit the {}: {over} bytes ({} KiB) too many",
                    f.describe(),
                    over.div_ceil(1024)
                ));
            }
            Err(e) => return Err(e),
        }
        if let (Some(bytes), true) = (row.image_bytes, row.boot.is_some()) {
            let free = row.free_bytes.map_or_else(|| "-".into(), |b| b.to_string());
            write_if_changed(
                &w.dir.join(STAMP),
                format!("{digest}\n{bytes}\n{free}\n").as_bytes(),
                0o644,
            )?;
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Beside each router's image: what it was built from and its sizes, so a
/// rebuild after an edit leaves an unchanged router's image (and its
/// entropy seed) as it was.
pub const STAMP: &str = ".outpost-image-inputs";

/// What a router's image is made of: its directory's config and keys, the
/// CPU and format, and this mkoutpost itself (whose binary holds every
/// component's pins, recipes and configs) with the zig it compiles with.
fn inputs_digest(dir: &Path, c: Cpu, f: Format) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut feed = |name: &str, data: &[u8]| {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((data.len() as u64).to_le_bytes());
        h.update(data);
    };
    feed("cpu", c.to_string().as_bytes());
    feed("format", f.to_string().as_bytes());
    let exe =
        std::env::current_exe().map_err(|e| BuildError::io("finding mkoutpost's own binary", e))?;
    feed("mkoutpost", &read(&exe)?);
    let cache = crate::cache::Cache::open_default()?;
    let zig = crate::zig::version(&crate::zig::tools(&cache, c)?)?;
    feed("zig", zig.as_bytes());
    let mut files: Vec<PathBuf> = vec![dir.join("outpost.toml")];
    if let Ok(entries) = fs::read_dir(dir.join("keys")) {
        // The keys themselves; a build records their owner beside them.
        let mut keys: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_none_or(|x| x != "owner" && x != "partial"))
            .collect();
        keys.sort();
        files.extend(keys);
    }
    for p in files {
        feed(&p.display().to_string(), &read(&p)?);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The row of a router whose image is there and was built from exactly
/// `digest`, or `None` (then it is built again).
fn unchanged(w: &Written, c: Cpu, f: Format, digest: &str) -> Option<Row> {
    let stamp = fs::read_to_string(w.dir.join(STAMP)).ok()?;
    let mut lines = stamp.lines();
    if lines.next()? != digest {
        return None;
    }
    let image_bytes: u64 = lines.next()?.parse().ok()?;
    let free_bytes = lines.next()?.parse().ok();
    let (kernel, initramfs) = (w.dir.join("bzImage"), w.dir.join("initramfs"));
    let medium = f.image_name().map(|name| (f, w.dir.join(name)));
    let cmdline = crate::run::ImageInfo::load(&w.dir).ok()?.cmdline;
    let present = [&kernel, &initramfs]
        .into_iter()
        .chain(medium.as_ref().map(|(_, p)| p))
        .all(|p| p.is_file());
    present.then(|| Row {
        name: w.name.clone(),
        role: w.role.clone(),
        cpu: Some(c),
        format: Some(f),
        image_bytes: Some(image_bytes),
        free_bytes,
        problem: None,
        boot: Some(Boot {
            cpu: c,
            kernel,
            initramfs,
            medium,
            cmdline,
        }),
    })
}

/// The table `mkoutpost site build` prints at the end.
pub fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<12} {:<13} {:<5} {:<11} {:>12} {:>12}\n",
        "router", "role", "cpu", "format", "image bytes", "free bytes"
    );
    let dash = || "-".to_string();
    for r in rows {
        s.push_str(&format!(
            "{:<12} {:<13} {:<5} {:<11} {:>12} {:>12}{}\n",
            r.name,
            r.role,
            r.cpu.map_or_else(dash, |c| c.to_string()),
            r.format
                .map_or_else(|| "no image".into(), |f| f.to_string()),
            r.image_bytes.map_or_else(dash, |b| b.to_string()),
            r.free_bytes.map_or_else(dash, |b| b.to_string()),
            r.problem
                .as_ref()
                .map_or_else(String::new, |p| format!("  {p}"))
        ));
    }
    s
}

#[cfg(test)]
mod tests;
