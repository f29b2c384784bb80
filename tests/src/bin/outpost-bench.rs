//! `make bench`: measures the whole example site in QEMU (see
//! `outpost_tests::bench`), prints the report and writes it to
//! `docs/benchmarks.md`. This file is only the front: arguments, run, print, write.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use outpost_tests::bench::{self, Options, FIGURES};

const USAGE: &str = "\
outpost-bench: time to tunnel, recovery, throughput against a plain route,
size and memory of the Outpost example site, measured in QEMU

usage: outpost-bench [--runs N] [--mib N] [--idle SECONDS]
                     [--skip-memory] [--skip-sizes] [--scale N,N,… | --skip-scale]
                     [--out FILE | --no-write]

  --runs N        whole-site runs (default 3, or $BENCH_RUNS); each figure
                  is reported as min / median / max over them (0: none,
                  only the RAM search and the sizes)
  --mib N         MiB per throughput transfer (default 4)
  --idle SECONDS  how long outpostd is watched idle (default 20)
  --skip-memory   leave out the office's smallest-RAM search
  --skip-sizes    leave out the image sizes
  --scale N,N,…   offices per scale rehearsal (default 1,3,6)
  --skip-scale    leave out the scale rehearsals
  --out FILE      where the report goes (default docs/benchmarks.md)
  --no-write      print the report only

The exit status is 1 when a measurement could not be made (e.g. the
tunnel never came up); times are reported, never judged. With the
defaults it takes about 17 minutes on 2 cores (the scale rehearsals 9 of them).

What each figure is:
";

fn main() {
    let opts = match parse(std::env::args().skip(1), std::env::var("BENCH_RUNS").ok()) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}\n{FIGURES}");
            return;
        }
        Err(e) => {
            eprintln!("outpost-bench: {e:#}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("outpost-bench: failed: {e:#}");
        std::process::exit(1);
    }
}

/// The command line, parsed.
struct Args {
    bench: Options,
    out: Option<PathBuf>,
}

/// `None` for `--help`.
fn parse(args: impl Iterator<Item = String>, env_runs: Option<String>) -> Result<Option<Args>> {
    let mut bench = Options::default();
    if let Some(r) = env_runs.filter(|r| !r.trim().is_empty()) {
        bench.runs = whole(&r).context("BENCH_RUNS")?;
    }
    let mut out = Some(bench::doc_path());
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "-h" | "--help" => return Ok(None),
            "--runs" => bench.runs = whole(&value("--runs")?).context("--runs")?,
            "--mib" => bench.transfer_mib = positive(&value("--mib")?).context("--mib")?,
            "--idle" => {
                bench.idle = Duration::from_secs(positive(&value("--idle")?).context("--idle")?)
            }
            "--skip-memory" => bench.memory = false,
            "--skip-sizes" => bench.sizes = false,
            "--skip-scale" => bench.scale.clear(),
            "--scale" => {
                bench.scale = value("--scale")?
                    .split(',')
                    .map(positive)
                    .collect::<Result<_>>()
                    .context("--scale")?
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--no-write" => out = None,
            other => bail!("unknown argument {other:?}"),
        }
    }
    Ok(Some(Args { bench, out }))
}

/// A whole number, 0 included.
fn whole(s: &str) -> Result<usize> {
    s.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a whole number"))
}

/// A whole number above 0.
fn positive<T: std::str::FromStr + PartialOrd + Default>(s: &str) -> Result<T> {
    match s.trim().parse::<T>() {
        Ok(v) if v > T::default() => Ok(v),
        _ => bail!("{s:?} is not a positive whole number"),
    }
}

fn run(args: &Args) -> Result<()> {
    let t0 = Instant::now();
    let report = bench::bench(&args.bench, &mut |s| {
        eprintln!("[{:6.1} s] {s}", t0.elapsed().as_secs_f64())
    })?;
    let text = bench::report::render(&report);
    println!("{text}");
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("outpost-bench: written to {}", out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str], env: Option<&str>) -> Result<Option<Args>> {
        parse(args.iter().map(|s| s.to_string()), env.map(str::to_string))
    }

    #[test]
    fn defaults_env_and_flags() {
        let a = p(&[], None).unwrap().unwrap();
        assert_eq!(a.bench.runs, 3);
        assert_eq!(a.out, Some(bench::doc_path()));
        assert_eq!(p(&[], Some("5")).unwrap().unwrap().bench.runs, 5);
        let a = p(
            &["--runs", "2", "--mib", "8", "--no-write", "--skip-memory"],
            Some("5"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (a.bench.runs, a.bench.transfer_mib, a.bench.memory),
            (2, 8, false)
        );
        assert_eq!(a.out, None);
    }

    #[test]
    fn help_and_mistakes() {
        assert!(p(&["--help"], None).unwrap().is_none());
        assert_eq!(p(&["--runs", "0"], None).unwrap().unwrap().bench.runs, 0);
        assert!(p(&["--mib", "0"], None).is_err());
        assert!(p(&["--runs"], None).is_err());
        assert!(p(&["--bogus"], None).is_err());
        assert!(p(&[], Some("x")).is_err());
    }
}
