//! `mkoutpost site rehearse`: the site's exact images (the bytes that will
//! be flashed) booted in QEMU on the network the site describes, beside
//! generated test hosts, and the policy's whole accept/deny matrix sent as
//! real packets before anything is flashed; then faults per office with
//! recovery timed, and one table of what was expected and what happened.
//!
//! The plan is pure (`outpost_core::site::rehearsal`); this module is its
//! edge: [`build`] makes every image, [`boot::Running`] boots and wires
//! them, [`probe`] sends the packets, [`faults`] injects the faults,
//! [`report`] prints the table. The site test, `make demo` and `make bench`
//! run on the same code.

pub mod boot;
pub mod faults;
pub mod probe;
pub mod report;
pub mod transfer;
pub mod watch;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use outpost_core::diagnostic::Diagnostic;
use outpost_core::site::rehearsal::{GuestKind, Plan};
use outpost_core::site::Site;

use crate::build::{self as image_build, BuildOptions};
use crate::cache::Cache;
use crate::media::Seed;
use crate::site::{self, Boot, Row};

/// How long a guest may take to boot to `outpostd: ready` under TCG on a
/// loaded 2-core machine (a bound on failure, not a performance claim).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

/// How long one console command may take.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// How long every tunnel may take to come up once the routers are ready,
/// or to come back after a fault is over (a bound on failure, not a claim).
pub const TUNNEL_TIMEOUT: Duration = Duration::from_secs(180);

/// An office's console line when its tunnel is up (the rest names
/// addresses and time).
pub const TUNNEL_UP: &str = "outpostd: tunnel up (";

/// An office's console line when its tunnel went down.
pub const TUNNEL_DOWN: &str = "outpostd: tunnel down";

/// The concentrator's line when peer `name`'s link is up.
pub fn peer_up(name: &str) -> String {
    format!("outpostd: peer {name} up (vpn-{name})")
}

/// Where the rehearsal keeps what it builds for itself (test hosts, home
/// users' stand-ins) inside the output directory.
pub const OWN_DIR: &str = ".rehearsal";

/// Everything the rehearsal boots, built.
#[derive(Debug)]
pub struct Built {
    /// The site.
    pub site: Site,
    /// Explicit tests the policy fails (the rehearsal runs them anyway).
    pub failures: Vec<Diagnostic>,
    /// The plan.
    pub plan: Plan,
    /// Each guest's image, by guest name.
    pub boots: Vec<(String, Boot)>,
    /// The routers' size table rows.
    pub rows: Vec<Row>,
}

impl Built {
    /// The image of guest `name`.
    pub fn boot(&self, name: &str) -> Result<&Boot> {
        self.boots
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b)
            .with_context(|| format!("no image for {name}"))
    }
}

/// Builds the site's routers into `out` exactly as `mkoutpost site build`
/// does, then the rehearsal's own test hosts and home stand-ins under
/// `out/.rehearsal/`. A router image that does not fit its medium is an
/// error here, before any guest boots.
pub fn build(site_file: &Path, out: &Path, progress: &mut dyn FnMut(&str)) -> Result<Built> {
    let (site, failures) = site::load_with_test_failures(site_file)?;
    let dir = site::site_dir(site_file);
    let cache = Cache::open_default()?;
    let mut generate = |private: &Path, owner: &str| crate::keys::generate(&cache, private, owner);
    let (keys, _) = site::ensure_keys(&site, &dir, &mut generate)?;
    let written = site::write_configs(&site, &dir, &keys, out, None)?;
    progress(&format!(
        "building {} router images",
        written.iter().filter(|w| w.image.is_some()).count()
    ));
    let rows = site::build_images(&written, &mut |_| {})?;
    let unfit: Vec<String> = rows
        .iter()
        .filter_map(|r| r.problem.as_ref().map(|p| format!("{}: {p}", r.name)))
        .collect();
    if !unfit.is_empty() {
        bail!(
            "{}\nno guest was booted: make the images fit (a larger format in the site file, e.g. format = \"cf\")",
            unfit.join("\n")
        );
    }
    let head_key = keys
        .get(&site.head.name)
        .context("the concentrator's public key")?;
    let plan = site.rehearsal(head_key)?;
    let mut boots: Vec<(String, Boot)> = rows
        .iter()
        .filter_map(|r| r.boot.clone().map(|b| (r.name.clone(), b)))
        .collect();
    let cpu = site::cpu(site.head.build.cpu);
    let own: Vec<_> = plan
        .guests
        .iter()
        .filter(|g| !matches!(g.kind, GuestKind::Router))
        .collect();
    progress(&format!("building {} test host images", own.len()));
    for g in own {
        let gdir = out.join(OWN_DIR).join(&g.name);
        let config = match &g.kind {
            GuestKind::Host { config, .. } => config,
            GuestKind::Home {
                config, site_key, ..
            } => {
                // The stand-in dials in with the home user's own key.
                let src = dir.join(site_key);
                let user = site_key_owner(&site, site_key);
                let dst = gdir.join(outpost_core::site::derive::own_key(&user));
                copy_key(&src, &dst)?;
                config
            }
            GuestKind::Router => unreachable!("filtered above"),
        };
        site::write_if_changed(&gdir.join("outpost.toml"), config.as_bytes(), 0o644)?;
        let opts = BuildOptions {
            config: gdir.join("outpost.toml"),
            out_dir: gdir.clone(),
            cpu,
            seed: Seed::Random,
        };
        let report = image_build::build(&opts, &mut |_| {})
            .with_context(|| format!("building the rehearsal's {}", g.name))?;
        boots.push((
            g.name.clone(),
            Boot {
                cpu,
                kernel: report.kernel,
                initramfs: report.initramfs,
                medium: None,
                cmdline: report.cmdline,
            },
        ));
    }
    Ok(Built {
        site,
        failures,
        plan,
        boots,
        rows,
    })
}

/// The home user whose key file is `site_key`.
fn site_key_owner(site: &Site, site_key: &str) -> String {
    site.homes
        .iter()
        .find(|h| h.key == site_key)
        .map_or_else(String::new, |h| h.name.clone())
}

/// Copies a private key (0600) and its public half next to a stand-in's config.
fn copy_key(src: &Path, dst: &Path) -> Result<()> {
    let read = |p: &Path| fs::read(p).with_context(|| format!("reading {}", p.display()));
    if let Some(d) = dst.parent() {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    site::write_if_changed(dst, &read(src)?, 0o600)?;
    site::write_if_changed(
        &crate::keys::pub_path(dst),
        &read(&crate::keys::pub_path(src))?,
        0o644,
    )?;
    Ok(())
}

/// What `mkoutpost site rehearse` does besides the matrix.
#[derive(Debug, Clone)]
pub struct Options {
    /// The site file.
    pub site: PathBuf,
    /// Where the images go (as `site build -o`).
    pub out: PathBuf,
    /// Inject the faults (per office: ssh killed, WAN cut; the concentrator rebooted).
    pub faults: bool,
    /// How long each office's WAN stays cut.
    pub wan_cut: Duration,
}

/// What a rehearsal found.
#[derive(Debug)]
pub struct Outcome {
    /// The table's lines.
    pub lines: Vec<report::Line>,
}

impl Outcome {
    /// Whether everything was as expected.
    pub fn ok(&self) -> bool {
        self.lines.iter().all(|l| l.ok)
    }
}

/// The consoles' last lines of the guests a check concerns (sender, its
/// router, the concentrator, the receiver), for a mismatch's detail.
fn consoles(site: &boot::Running, names: &[&str]) -> String {
    let mut s = String::new();
    for n in names {
        if let Ok(m) = site.machine(n) {
            s.push_str(&format!("[{n}]\n{}\n", m.console().tail(12)));
        }
    }
    s
}

/// The router a guest sits behind (a test host's segment's router).
fn router_of(site: &boot::Running, guest: &str) -> Option<String> {
    let g = site.plan.guests.iter().find(|g| g.name == guest)?;
    let seg = &g.nics.first()?.segment;
    site.plan
        .guests
        .iter()
        .find(|r| matches!(r.kind, GuestKind::Router) && r.nics.iter().any(|w| &w.segment == seg))
        .map(|r| r.name.clone())
}

/// Runs every check of the running site's plan, a line of progress each.
pub fn run_checks(
    site: &boot::Running,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<report::Line>> {
    use outpost_core::site::rehearsal::Origin;
    let n = site.plan.checks.len();
    let mut lines = Vec::new();
    for (i, c) in site.plan.checks.iter().enumerate() {
        let port = 5100 + u16::try_from(i).unwrap_or(0);
        let o = probe::run(site, c, port).with_context(|| format!("checking {}", c.label))?;
        let ok = o.as_expected(c);
        progress(&format!(
            "matrix {}/{n}: {} {}",
            i + 1,
            c.label,
            if ok { "ok" } else { "NOT as expected" }
        ));
        let detail = if ok {
            String::new()
        } else {
            let head = site.concentrator().to_string();
            let mut names = vec![c.from.clone()];
            names.extend(router_of(site, &c.from));
            names.push(head);
            names.extend(router_of(site, &c.to));
            names.push(c.to.clone());
            names.dedup();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            consoles(site, &refs)
        };
        lines.push(report::Line {
            what: c.label.clone(),
            origin: match c.origin {
                Origin::Policy => "policy".into(),
                Origin::Test(l) => format!("test:{l}"),
            },
            expected: match (c.accept, c.seen_as) {
                (true, Some(a)) => format!("accept, as {a}"),
                (true, None) => "accept".into(),
                (false, _) => "refuse".into(),
            },
            observed: o.describe(),
            time: o.time,
            ok,
            detail,
        });
    }
    Ok(lines)
}

/// Injects the faults of every office in turn (and the concentrator's
/// reboot once, timed on the first office), each followed by recovery.
pub fn run_faults(
    site: &mut boot::Running,
    wan_cut: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<report::Line>> {
    let offices: Vec<String> = site
        .plan
        .guests
        .iter()
        .skip(1)
        .filter(|g| matches!(g.kind, GuestKind::Router))
        .map(|g| g.name.clone())
        .collect();
    let mut list = Vec::new();
    for (i, o) in offices.iter().enumerate() {
        let [k1, k2, cut, reboot] = faults::Fault::all(o, wan_cut);
        list.extend([k1, k2, cut]);
        if i == 0 {
            list.push(reboot);
        }
    }
    // Renumbering last: the offices stay on their new addresses.
    for l in &site.plan.leases {
        list.push(faults::Fault::LeaseChanged(l.office.clone()));
    }
    let mut lines = Vec::new();
    for (i, f) in list.iter().enumerate() {
        progress(&format!("fault {}/{}: {}", i + 1, list.len(), f.describe()));
        let line = match faults::inject(site, f) {
            Ok(r) => report::Line {
                what: f.describe(),
                origin: "fault".into(),
                expected: "recovers".into(),
                observed: format!(
                    "noticed {:.1} s, back {:.1} s after it ended",
                    r.detected.as_secs_f64(),
                    r.after_fault().as_secs_f64()
                ),
                time: r.reachable,
                ok: true,
                detail: String::new(),
            },
            Err(e) => report::Line {
                what: f.describe(),
                origin: "fault".into(),
                expected: "recovers".into(),
                observed: "did not recover".into(),
                time: Duration::ZERO,
                ok: false,
                detail: format!(
                    "{e:#}\n{}",
                    consoles(site, &[f.office(), site.concentrator()])
                ),
            },
        };
        lines.push(line);
    }
    Ok(lines)
}

/// The whole rehearsal: build, boot, tunnels, matrix, faults; one table.
/// Returns the outcome and the running site (for `--keep`).
pub fn rehearse(
    opts: &Options,
    progress: &mut dyn FnMut(&str),
) -> Result<(Outcome, boot::Running)> {
    let built = build(&opts.site, &opts.out, progress)?;
    for f in &built.failures {
        progress(&format!(
            "warning: {f}\n  (the rehearsal runs this test as packets)"
        ));
    }
    let work = opts.out.join(OWN_DIR).join("run");
    if work.exists() {
        fs::remove_dir_all(&work).with_context(|| format!("clearing {}", work.display()))?;
    }
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    progress(&format!("booting {} guests", built.plan.guests.len()));
    let mut site = boot::Running::start(&built, &work)?;
    site.wait_all_ready()?;
    progress(&format!(
        "all {} guests ready after {:.1} s; waiting for {} tunnels",
        built.plan.guests.len(),
        site.ready_time.as_secs_f64(),
        site.dialling().len()
    ));
    site.wait_tunnels(&|_| 0)?;
    progress(&format!(
        "every tunnel up {:.1} s after power-on",
        site.tunnels_time.as_secs_f64()
    ));
    let mut lines = run_checks(&site, progress)?;
    if opts.faults {
        lines.extend(run_faults(&mut site, opts.wan_cut, progress)?);
    }
    Ok((Outcome { lines }, site))
}
