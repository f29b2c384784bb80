//! The benchmark's report: what was measured, on what, when, rendered as
//! the Markdown that `make bench` prints and writes to `docs/benchmarks.md`.
//! Rendering is pure (numbers in, text out); only [`Context::here`] asks the
//! machine and git.

use std::path::Path;
use std::process::Command;

use super::memory::Search;
use super::run::RunResult;
use super::sizes::{Fit, Sizes};
use super::stats::Summary;
use super::table::Table;
use super::FIGURES;
use crate::faults::Fault;
use crate::site::OFFICE_MEMORY_MIB;

/// Where and when the benchmark ran.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `uname -a`.
    pub uname: String,
    /// Cores the host offers.
    pub nproc: usize,
    /// The host CPU's model name.
    pub cpu: String,
    /// UTC date and time of the start.
    pub date: String,
    /// The commit the tree was at, with a note when it had changes.
    pub commit: String,
}

impl Context {
    /// Asks this machine and the repository at `repo`.
    pub fn here(repo: &Path) -> Context {
        let cmd = |prog: &str, args: &[&str]| {
            Command::new(prog)
                .args(args)
                .current_dir(repo)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "unknown".into())
        };
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let changed = cmd("git", &["status", "--porcelain", "--untracked-files=no"])
            .lines()
            .count();
        let mut commit = cmd("git", &["log", "-1", "--format=%h (%cs)"]);
        if changed > 0 {
            commit.push_str(&format!(
                " (the work tree had uncommitted changes in {changed} tracked file(s))"
            ));
        }
        Context {
            uname: cmd("uname", &["-a"]),
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            date: cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            commit,
        }
    }
}

/// Everything a benchmark produced.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Where and when.
    pub context: Context,
    /// Runs asked for.
    pub runs_asked: usize,
    /// MiB per transfer.
    pub transfer_mib: u32,
    /// Seconds outpostd was watched idle.
    pub idle_secs: u64,
    /// Each whole-site run.
    pub runs: Vec<RunResult>,
    /// The office RAM search (unless skipped).
    pub memory: Option<Search>,
    /// Image sizes (unless skipped).
    pub sizes: Option<Sizes>,
    /// The scale rehearsals (empty when skipped).
    pub scale: Vec<super::scale::ScaleRow>,
    /// How long the whole benchmark took, s.
    pub seconds: f64,
}

/// The seed's (`vpnd`, seed/vpn-howto.txt ch. 5) figure beside ours.
const SEED_UP: &str = "≥ 30 (`sleep 15` twice, l. 499–504)";
const SEED_DETECT: &str = "up to 600 (one check per 600 s, l. 574)";
const SEED_RECOVER: &str = "≥ 35 after detecting (`sleep 5`, l. 518, + 30)";

fn seconds(samples: impl IntoIterator<Item = std::time::Duration>) -> Option<Summary> {
    Summary::of(
        &samples
            .into_iter()
            .map(|d| d.as_secs_f64())
            .collect::<Vec<_>>(),
    )
}

/// Adds a row `label | min | median | max | extra…` (dashes when no samples).
fn stat_row(t: &mut Table, label: &str, s: Option<Summary>, decimals: usize, extra: &[&str]) {
    let mut cells = vec![label.to_string()];
    match s {
        Some(s) => cells.extend(s.cells(decimals)),
        None => cells.extend(["-".to_string(), "-".into(), "-".into()]),
    }
    cells.extend(extra.iter().map(|e| e.to_string()));
    t.row(cells);
}

fn bytes(n: u64) -> String {
    // Thousands separated by a thin space would not survive every terminal;
    // plain digits, as `mkoutpost build` prints them.
    n.to_string()
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let c = &r.context;
    let mut out = String::new();
    out.push_str("# Benchmarks\n\n");
    out.push_str(
        "Written by `make bench` (`tests/src/bin/outpost-bench.rs`); run it again rather than edit this file.\n\n",
    );
    out.push_str(&format!(
        "- date: {}\n- commit: {}\n- machine: `{}`\n- host CPU: {} × {}\n- runs: {} of {} asked (whole site each time: 5 guests under `-cpu 486`, TCG), {} MiB per transfer, outpostd watched idle for {} s\n- the whole benchmark took {:.0} s\n\n",
        c.date,
        c.commit,
        c.uname,
        c.nproc,
        c.cpu,
        r.runs.len(),
        r.runs_asked,
        r.transfer_mib,
        r.idle_secs,
        r.seconds
    ));
    out.push_str(
        "**Read with care.** Every guest is an emulated 486 (QEMU TCG, no KVM), five of them on this \
         machine's cores, while other QEMU tests may run beside them: absolute times and rates are \
         far from real hardware and noisy between runs. Compare within a run (the tunnel/plain \
         ratio), and read medians. Times read from console lines have a resolution of 0.1 s.\n\n",
    );

    if !r.runs.is_empty() {
        out.push_str("## Time (s)\n\n");
        let mut t = Table::new(&[
            "figure",
            "min",
            "median",
            "max",
            "the seed's vpnd (seed/vpn-howto.txt)",
        ])
        .right(&[1, 2, 3]);
        stat_row(
            &mut t,
            "power-on → every guest ready",
            seconds(r.runs.iter().map(|x| x.ready)),
            1,
            &[""],
        );
        stat_row(
            &mut t,
            "power-on → tunnel up",
            seconds(r.runs.iter().map(|x| x.tunnel_up)),
            1,
            &[SEED_UP],
        );
        stat_row(
            &mut t,
            "power-on → first packet through it",
            seconds(r.runs.iter().map(|x| x.first_packet)),
            1,
            &[SEED_UP],
        );
        for (i, fault) in crate::site::all_faults().iter().enumerate() {
            let of = |f: &dyn Fn(&crate::faults::Recovery) -> std::time::Duration| {
                seconds(
                    r.runs
                        .iter()
                        .filter_map(|x| x.faults.get(i))
                        .map(|(_, rec)| f(rec)),
                )
            };
            let name = fault.describe();
            stat_row(
                &mut t,
                &format!("{name}: detect"),
                of(&|rec| rec.detected),
                1,
                &[SEED_DETECT],
            );
            let after = match fault {
                Fault::WanCut(..) => "recover (from the link's return)",
                Fault::ConcentratorRebooted(_) => "recover (from power-on, its boot included)",
                _ => "recover",
            };
            stat_row(
                &mut t,
                &format!("{name}: {after}"),
                of(&|rec| rec.after_fault()),
                1,
                &[SEED_RECOVER],
            );
        }
        out.push_str(&t.render());
        out.push('\n');

        type Figure = (String, fn(&RunResult) -> f64, usize);
        let throughput: [Figure; 7] = [
            (
                "through the tunnel (ssh + PPP)".into(),
                |x| x.tunnel.kib_per_s(),
                0,
            ),
            (
                "plain routed path, same hosts".into(),
                |x| x.plain.kib_per_s(),
                0,
            ),
            (
                "**tunnel / plain, %** (per run)".into(),
                |x| 100.0 * x.tunnel.kib_per_s() / x.plain.kib_per_s(),
                0,
            ),
            (
                "office CPU busy, tunnel transfer, %".into(),
                |x| x.during_tunnel.guest_busy_pct,
                0,
            ),
            (
                "office CPU busy, plain transfer, %".into(),
                |x| x.during_plain.guest_busy_pct,
                0,
            ),
            (
                "concentrator CPU busy, tunnel transfer, %".into(),
                |x| x.head_tunnel.guest_busy_pct,
                0,
            ),
            (
                "concentrator CPU busy, plain transfer, %".into(),
                |x| x.head_plain.guest_busy_pct,
                0,
            ),
        ];
        let outpostd: [Figure; 8] = [
            ("VmRSS idle, kB".into(), |x| x.idle.rss_kb as f64, 0),
            ("VmHWM idle, kB".into(), |x| x.idle.hwm_kb as f64, 0),
            (
                "VmRSS after the tunnel transfer, kB".into(),
                |x| x.during_tunnel.rss_kb as f64,
                0,
            ),
            (
                "VmHWM after the tunnel transfer, kB".into(),
                |x| x.during_tunnel.hwm_kb as f64,
                0,
            ),
            (
                format!("CPU idle, ms per {} s", r.idle_secs),
                |x| x.idle.cpu_ms,
                0,
            ),
            ("CPU idle, % of the time".into(), |x| x.idle.cpu_pct(), 2),
            (
                "CPU during the tunnel transfer, ms".into(),
                |x| x.during_tunnel.cpu_ms,
                0,
            ),
            (
                "CPU during the tunnel transfer, % of its time".into(),
                |x| x.during_tunnel.cpu_pct(),
                2,
            ),
        ];
        let sections = [
            (
                format!(
                    "Throughput, host-office1 → host-private ({} MiB, KiB/s)",
                    r.transfer_mib
                ),
                &throughput[..],
            ),
            (
                format!("outpostd on the office router ({OFFICE_MEMORY_MIB} MB)"),
                &outpostd[..],
            ),
        ];
        for (title, figures) in sections {
            out.push_str(&format!("## {title}\n\n"));
            let mut t = Table::new(&["figure", "min", "median", "max"]).right(&[1, 2, 3]);
            for (label, f, decimals) in figures {
                let samples: Vec<f64> = r.runs.iter().map(f).collect();
                stat_row(&mut t, label, Summary::of(&samples), *decimals, &[]);
            }
            out.push_str(&t.render());
            out.push('\n');
        }
    }

    if let Some(m) = &r.memory {
        out.push_str("## Smallest RAM for the office router\n\n");
        out.push_str(&format!(
            "**{} MB** is the smallest `-m` with which the office passed the tunnel check{}{}.\n\n",
            m.smallest,
            if m.confirmed {
                " (passed again when tried a second time)"
            } else {
                "; tried a second time it FAILED, so it sits on the edge"
            },
            match m.below_passed_again {
                Some(true) => format!(
                    "; {} MB, which failed, passed when tried again: it sometimes suffices",
                    m.smallest - 1
                ),
                Some(false) => format!("; {} MB failed twice", m.smallest - 1),
                None => String::new(),
            }
        ));
        let mut t = Table::new(&["-m (MB)", "result", "note", "s"]).right(&[0, 3]);
        for tr in &m.trials {
            t.row([
                tr.mib.to_string(),
                if tr.passed { "pass" } else { "fail" }.to_string(),
                tr.note.clone(),
                format!("{:.0}", tr.seconds),
            ]);
        }
        out.push_str(&t.render());
        out.push('\n');
    }

    if !r.scale.is_empty() {
        out.push_str(&super::scale::markdown(&r.scale));
    }
    if let Some(s) = &r.sizes {
        out.push_str("## Image sizes (i486, bytes)\n\n");
        let mut t = Table::new(&[
            "component",
            "office",
            "office xz",
            "concentrator",
            "concentrator xz",
        ])
        .right(&[1, 2, 3, 4]);
        let cell = |v: Option<(u64, Option<u64>)>| match v {
            Some((raw, xz)) => [bytes(raw), xz.map_or("-".into(), bytes)],
            None => ["-".into(), "-".into()],
        };
        for c in &s.components {
            let [o, ox] = cell(c.office);
            let [k, kx] = cell(c.concentrator);
            t.row([c.name.clone(), o, ox, k, kx]);
        }
        out.push_str(&t.render());
        out.push('\n');
        let mut t =
            Table::new(&["office image on", "image bytes", "free on the medium"]).right(&[1]);
        for (format, fit) in &s.media {
            let (image, free) = match fit {
                Fit::Fits { image, free } => (
                    bytes(*image),
                    free.map_or("- (no medium: PXE / `-kernel`)".into(), |f| {
                        format!("{} ({} KiB)", bytes(f), f / 1024)
                    }),
                ),
                Fit::TooBig(over) => (
                    "-".into(),
                    format!(
                        "does not fit by {} bytes ({} KiB)",
                        bytes(*over),
                        over.div_ceil(1024)
                    ),
                ),
            };
            t.row([format!("{} (`{format}`)", format.describe()), image, free]);
        }
        out.push_str(&t.render());
        out.push('\n');
    }

    out.push_str("## What each figure is\n\n");
    out.push_str(FIGURES);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::guest::Interval;
    use crate::bench::memory::Trial;
    use crate::bench::sizes::ComponentRow;
    use crate::bench::throughput::Transfer;
    use crate::faults::Recovery;
    use mkoutpost::media::Format;
    use std::time::Duration;

    fn interval(cpu_ms: f64) -> Interval {
        Interval {
            seconds: 10.0,
            cpu_ms,
            rss_kb: 1480,
            hwm_kb: 1520,
            guest_busy_pct: 50.0,
        }
    }

    fn run(k: f64) -> RunResult {
        let s = Duration::from_secs_f64;
        RunResult {
            ready: s(7.0 * k),
            tunnel_up: s(8.0 * k),
            first_packet: s(8.5 * k),
            idle: interval(0.0),
            tunnel: Transfer {
                bytes: 1024 * 100,
                seconds: 1.0 * k,
            },
            plain: Transfer {
                bytes: 1024 * 400,
                seconds: 1.0,
            },
            during_tunnel: interval(30.0),
            during_plain: interval(0.0),
            head_tunnel: interval(0.0),
            head_plain: interval(0.0),
            faults: crate::site::all_faults()
                .iter()
                .map(|f| {
                    (
                        f.clone(),
                        Recovery {
                            detected: s(1.0),
                            over: s(if matches!(f, Fault::WanCut(..)) {
                                30.0
                            } else {
                                0.0
                            }),
                            concentrator_ready: None,
                            tunnel_up: s(32.0),
                            reachable: s(33.0),
                            up_line: String::new(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn renders_every_section_with_min_median_max() {
        let r = Report {
            context: Context {
                uname: "Linux x".into(),
                nproc: 2,
                cpu: "CPU".into(),
                date: "2026-01-01 00:00 UTC".into(),
                commit: "abc subject".into(),
            },
            runs_asked: 3,
            transfer_mib: 4,
            idle_secs: 10,
            runs: vec![run(1.0), run(2.0), run(1.5)],
            memory: Some(Search {
                trials: vec![Trial {
                    mib: 32,
                    passed: true,
                    note: "ok".into(),
                    seconds: 20.0,
                }],
                smallest: 12,
                confirmed: true,
                below_passed_again: Some(false),
            }),
            sizes: Some(Sizes {
                components: vec![ComponentRow {
                    name: "kernel".into(),
                    office: Some((1000, None)),
                    concentrator: Some((1000, None)),
                }],
                media: vec![
                    (Format::Floppy1440, Fit::TooBig(2048)),
                    (
                        Format::Cf,
                        Fit::Fits {
                            image: 10,
                            free: Some(4096),
                        },
                    ),
                ],
            }),
            scale: Vec::new(),
            seconds: 600.0,
        };
        let text = render(&r);
        assert!(text.contains("| power-on → tunnel up "), "{text}");
        // 8, 16, 12 s: min 8.0, median 12.0, max 16.0.
        assert!(text.contains("|  8.0 |   12.0 | 16.0 |"), "{text}");
        // Ratios 25 %, 12.5 %, 16.7 %.
        assert!(text.contains("| **tunnel / plain, %** (per run)"), "{text}");
        assert!(
            text.contains("does not fit by 2048 bytes (2 KiB)"),
            "{text}"
        );
        assert!(text.contains("4096 (4 KiB)"), "{text}");
        assert!(text.contains("**12 MB**"), "{text}");
        assert!(text.contains("; 11 MB failed twice."), "{text}");
        assert!(
            text.contains("WAN cut 30 s: recover (from the link's return)"),
            "{text}"
        );
        assert!(text.contains("## What each figure is"), "{text}");
    }

    #[test]
    fn sections_without_data_are_left_out() {
        let text = render(&Report::default());
        assert!(!text.contains("## Time"));
        assert!(!text.contains("## Image sizes"));
    }
}
