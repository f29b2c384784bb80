//! `mkoutpost`: builds Outpost router firmware from one TOML file and boots
//! it in QEMU. The edge of the pipeline: argument parsing and reporting;
//! the work is in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use mkoutpost::build::{self, BuildOptions};
use mkoutpost::cpu::Cpu;
use mkoutpost::media::{self, Format, Seed};

/// Build Outpost router firmware from one outpost.toml, and try it in QEMU.
///
/// A typical session:
///
///   mkoutpost check examples/site/office.toml
///   mkoutpost build examples/site/office.toml -o out/office
///   mkoutpost run out/office
///
/// A whole company from one site file: `mkoutpost site --help`.
///
/// Components (kernel, busybox, dropbear, pppd) are built from Debian's
/// source packages and cached in $OUTPOST_CACHE (default ~/.cache/outpost):
/// the first build takes minutes, later ones seconds. `make deps` installs
/// everything the build needs.
#[derive(Parser, Debug)]
#[command(name = "mkoutpost", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Check config files and report every mistake with file, line and column.
    ///
    /// Exits 0 when every file is valid, 1 otherwise. Nothing is built.
    Check {
        /// One or more outpost.toml files.
        #[arg(required = true)]
        configs: Vec<PathBuf>,
    },
    /// Print what a config means on the router: addresses, routes, sysctls,
    /// the tunnel's command lines and the firewall in nft syntax.
    Plan {
        /// The outpost.toml to explain.
        config: PathBuf,
    },
    /// Build a bootable image: OUT/bzImage and OUT/initramfs (cpio, xz).
    ///
    /// Missing key files the config names are generated next to it (ed25519,
    /// private keys mode 0600) and their public halves printed.
    Build {
        /// The router's outpost.toml.
        config: PathBuf,
        /// Output directory (created if needed).
        #[arg(short, long, default_value = "out")]
        out: PathBuf,
        /// Oldest CPU the image must run on: i486 or i586 (Pentium).
        #[arg(long, default_value = "i486")]
        cpu: Cpu,
        /// Also write a boot medium: floppy1440, floppy2880, cf (raw
        /// CompactFlash/IDE disk), or kernel (bzImage + initramfs only).
        #[arg(long, default_value = "kernel")]
        format: Format,
        /// The medium's 512-byte entropy seed (default: fresh random bytes).
        /// For reproducible builds only; never give two routers one seed.
        #[arg(long)]
        seed: Option<PathBuf>,
    },
    /// Work on a whole company at once: one site file describing the head
    /// office, every office, home users, the tunnel pool and the policy.
    ///
    /// A typical session:
    ///
    ///   mkoutpost site check examples/sites/demo.toml
    ///   mkoutpost site build examples/sites/demo.toml -o out/site
    ///
    /// The site file's format is described in docs/site.md.
    #[command(verbatim_doc_comment)]
    Site {
        #[command(subcommand)]
        command: SiteCmd,
    },
    /// Boot a built image in QEMU (software emulation, the image's CPU) with
    /// its serial console on this terminal. Ctrl-C ends it.
    ///
    /// Each network interface of the config gets an emulated NE2000 PCI card
    /// on a link of its own that leads nowhere (no traffic leaves QEMU).
    Run {
        /// A directory written by `mkoutpost build`.
        dir: PathBuf,
        /// Guest RAM in MiB (the seed's Pentium 75 had 16).
        #[arg(short, long, default_value_t = 32)]
        memory: u32,
    },
}

#[derive(Subcommand, Debug)]
enum SiteCmd {
    /// Check a site file and report every mistake with file, line and
    /// column, including those no single router's check can see
    /// (overlapping LANs, a full tunnel pool, shared keys, a policy naming
    /// nothing, failing [[test]]s). Exits 0 when valid, 1 otherwise; nothing
    /// is written.
    Check {
        /// The site file (site.toml).
        site: PathBuf,
    },
    /// Derive every router's outpost.toml, exchange keys and build images.
    ///
    /// Missing key pairs are generated once into SITE_DIR/keys/ (the site
    /// file's directory) and never regenerated; each belongs to one router.
    /// Each router gets OUT/ROUTER/: outpost.toml (pinning the other end's
    /// public key inline), keys/ROUTER.ed25519 (0600) and its .pub, and its
    /// image in the site's format and CPU. A file is rewritten only if its
    /// bytes change, and a router whose config, keys, CPU, format and
    /// mkoutpost are all as at its last build keeps its image (and its
    /// entropy seed): after an edit only the affected routers change.
    /// Home users get OUT/home-NAME/: their key, known_hosts pinning the
    /// concentrator, and connect.sh (pppd over dbclient, no image).
    ///
    /// An image that does not fit its medium does not stop the others: the
    /// table at the end says by how much, and the exit status is 1.
    #[command(verbatim_doc_comment)]
    Build {
        /// The site file (site.toml).
        site: PathBuf,
        /// Output directory (one directory per router inside).
        #[arg(short, long, default_value = "out/site")]
        out: PathBuf,
        /// Only this router (or home user, NAME or home-NAME).
        #[arg(long, value_name = "ROUTER")]
        only: Option<String>,
        /// Write configs and keys only, build no images (no components needed).
        #[arg(long)]
        no_images: bool,
    },
    /// Rehearse the whole site in QEMU before anything is flashed.
    ///
    /// Builds every router exactly as `site build` does (into OUT), then
    /// boots those exact images (from their medium when the site flashes
    /// one; the files are not changed) on the network the site describes:
    /// a segment per office LAN, head-office network and WAN subnet, one
    /// test host on each LAN and network, one host standing for the
    /// internet on the WANs (at the gateways the routers name), one
    /// stand-in PC per home user. Once every tunnel is up it sends, as real
    /// packets (ping and a TCP connection), the policy's whole accept/deny
    /// matrix, each office's internet traffic (masqueraded, never through
    /// the tunnel) and the [[test]]s, then injects the faults (per office:
    /// ssh killed, its pppd killed, WAN cut; the concentrator rebooted)
    /// and times recovery. One table at the end: pair or fault, expected,
    /// observed, time.
    ///
    /// Exits 0 when everything is as expected, 1 on any mismatch (the
    /// consoles' last lines printed for each), 2 when it cannot run.
    /// Ctrl-C or a failure leaves no guest running. Guests run under
    /// software emulation: a site of N offices needs about 32 MB of host
    /// RAM per guest and minutes on two cores.
    #[command(verbatim_doc_comment)]
    Rehearse {
        /// The site file (site.toml).
        site: PathBuf,
        /// Output directory, as for `site build`.
        #[arg(short, long, default_value = "out/site")]
        out: PathBuf,
        /// Skip the faults (matrix only).
        #[arg(long)]
        no_faults: bool,
        /// Seconds each office's WAN stays cut.
        #[arg(long, default_value_t = 30)]
        wan_cut: u64,
        /// Keep the site running afterwards: type `GUEST COMMAND` to run a
        /// command on a guest's console (`list` names them), end with Ctrl-D.
        #[arg(long)]
        keep: bool,
    },
}

/// `mkoutpost site rehearse`: the edge around [`mkoutpost::rehearse`].
fn rehearse(
    file: PathBuf,
    out: PathBuf,
    faults: bool,
    wan_cut: u64,
    keep: bool,
) -> Result<ExitCode> {
    use mkoutpost::rehearse::{self, report, Options};
    outpost_qemu::kill_groups_on_interrupt();
    let opts = Options {
        site: file,
        out,
        faults,
        wan_cut: std::time::Duration::from_secs(wan_cut),
    };
    let (outcome, running) = rehearse::rehearse(&opts, &mut |line| eprintln!("rehearse: {line}"))
        .context("the rehearsal could not run")?;
    print!("{}", report::table(&outcome.lines));
    if keep {
        keep_running(&running)?;
    }
    running.shutdown().context("shutting the guests down")?;
    Ok(if outcome.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `--keep`: every guest's console through stdin lines `GUEST COMMAND`.
fn keep_running(running: &mkoutpost::rehearse::boot::Running) -> Result<()> {
    use std::io::BufRead;
    let names: Vec<String> = running.plan.guests.iter().map(|g| g.name.clone()).collect();
    eprintln!(
        "the site keeps running; type `GUEST COMMAND` (guests: {}), `list`, or Ctrl-D to end",
        names.join(", ")
    );
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading stdin")?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "list" {
            for n in &names {
                let m = running.machine(n)?;
                eprintln!("{n}: console log {}", m.console().log_path().display());
            }
            continue;
        }
        let (guest, cmd) = line.split_once(' ').unwrap_or((line, ""));
        match running.machine(guest) {
            Ok(m) if !cmd.trim().is_empty() => match m.run(cmd, mkoutpost::rehearse::CMD_TIMEOUT) {
                Ok(o) => println!(
                    "{}
[{guest}: exit {}]",
                    o.stdout, o.status
                ),
                Err(e) => eprintln!("{guest}: {e}"),
            },
            Ok(_) => eprintln!("give a command after the guest's name"),
            Err(_) => eprintln!("no guest `{guest}` (guests: {})", names.join(", ")),
        }
    }
    Ok(())
}

fn site(command: SiteCmd) -> Result<ExitCode> {
    use mkoutpost::site;
    match command {
        SiteCmd::Rehearse {
            site: file,
            out,
            no_faults,
            wan_cut,
            keep,
        } => rehearse(file, out, !no_faults, wan_cut, keep),
        SiteCmd::Check { site: file } => match site::load(&file) {
            Ok(s) => {
                println!(
                    "{}: ok (concentrator {}, {} offices, {} home users, {} policy rules{})",
                    file.display(),
                    s.head.name,
                    s.offices.len(),
                    s.homes.len(),
                    s.rules.len(),
                    if s.default_policy {
                        ", the default policy"
                    } else {
                        ""
                    }
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(1))
            }
        },
        SiteCmd::Build {
            site: file,
            out,
            only,
            no_images,
        } => {
            let s = match site::load(&file) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(1));
                }
            };
            let dir = site::site_dir(&file);
            let cache = mkoutpost::cache::Cache::open_default()?;
            let mut generate =
                |private: &Path, owner: &str| mkoutpost::keys::generate(&cache, private, owner);
            let (keys, made) = site::ensure_keys(&s, &dir, &mut generate)
                .with_context(|| format!("preparing the keys of {}", file.display()))?;
            for m in made {
                eprintln!("mkoutpost: generated key {}", m.display());
            }
            let written = site::write_configs(&s, &dir, &keys, &out, only.as_deref())
                .with_context(|| format!("writing the routers of {}", file.display()))?;
            for w in &written {
                for c in &w.changed {
                    eprintln!("mkoutpost: wrote {}", c.display());
                }
            }
            if no_images {
                println!(
                    "wrote configs and keys for {} routers and home users under {}",
                    written.len(),
                    out.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let rows = site::build_images(&written, &mut |step| eprintln!("mkoutpost: {step}"))?;
            print!("{}", site::table(&rows));
            Ok(if rows.iter().any(|r| r.problem.is_some()) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mkoutpost: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Check { configs } => {
            let mut bad = 0;
            for c in &configs {
                match build::load_config(c) {
                    Ok(cfg) => println!(
                        "{}: ok ({} {})",
                        c.display(),
                        cfg.system.role,
                        cfg.system.hostname
                    ),
                    Err(e) => {
                        bad += 1;
                        eprintln!("{e}");
                    }
                }
            }
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Plan { config } => {
            let mut cfg = build::load_config(&config)?;
            let base = config.parent().unwrap_or(Path::new("."));
            if let Err(errs) = outpost_core::keyfiles::load_key_files(&mut cfg, base) {
                for e in errs {
                    eprintln!("{e}");
                }
                bail!("key files are missing or unreadable (`mkoutpost build` generates missing ones)");
            }
            let plan = outpost_core::plan::plan(&cfg, Path::new("/etc"))
                .with_context(|| format!("planning {}", config.display()))?;
            print!("{}", outpost_core::plan::render::render_text(&plan));
            // How the medium boots: consoles, disk DMA, ISA cards' io/irq.
            println!(
                "\n[boot]\nkernel command line: {}",
                outpost_core::plan::boot::cmdline(&cfg)
            );
            println!("\n# firewall (nft syntax)");
            print!("{}", plan.ruleset.render_nft());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Build {
            config,
            out,
            cpu,
            format,
            seed,
        } => {
            let seed = seed.map_or(Seed::Random, Seed::File);
            let opts = BuildOptions {
                config,
                out_dir: out,
                cpu,
                seed: seed.clone(),
            };
            let report = build::build(&opts, &mut |step| eprintln!("mkoutpost: {step}"))?;
            print!("{}", build::size_table(&report));
            println!(
                "wrote {} and {} ({} image for {})",
                report.kernel.display(),
                report.initramfs.display(),
                report.cpu,
                report.config.system.hostname
            );
            if let Some(m) = media::for_build(&opts, &report, format, seed)? {
                println!("{}", m.report_line());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Site { command } => site(command),
        Cmd::Run { dir, memory } => mkoutpost::run::run(&dir, memory).map(|_| ExitCode::SUCCESS),
    }
}
