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
        Cmd::Run { dir, memory } => mkoutpost::run::run(&dir, memory).map(|_| ExitCode::SUCCESS),
    }
}
