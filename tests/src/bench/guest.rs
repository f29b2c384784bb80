//! What the benchmark reads on a guest's console: its own clock
//! (`/proc/uptime`), its CPU counters (`/proc/stat`) and one process's
//! memory and CPU time (`/proc/PID/status`, `/proc/PID/stat`). Guest time
//! is what the transfer rates are computed from: the host's clock would add
//! the console's round trips.

use anyhow::{bail, Context, Result};
use outpost_qemu::Machine;

use crate::CMD_TIMEOUT;

/// Clock ticks per second of `/proc/PID/stat` (Linux's USER_HZ on x86).
pub const USER_HZ: f64 = 100.0;

/// The shell snippet that prints the PID of the running outpostd daemon:
/// the one init started (parent 1), not a hook's short-lived client.
pub const OUTPOSTD_PID: &str = "for p in $(pidof outpostd); do \
     [ \"$(awk '/^PPid:/{print $2}' /proc/$p/status)\" = 1 ] && echo $p; done | head -n 1";

/// One reading of a guest and of one of its processes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Guest uptime, seconds.
    pub uptime: f64,
    /// The process's user + system time, ticks.
    pub ticks: u64,
    /// Its resident set, kB.
    pub rss_kb: u64,
    /// Its resident set's high-water mark since it started, kB.
    pub hwm_kb: u64,
    /// The guest's busy CPU time (all but idle and iowait), ticks.
    pub busy: u64,
    /// The guest's total CPU time, ticks.
    pub total: u64,
}

impl Sample {
    /// Reads `m` and the process whose PID the shell snippet `pid` prints.
    pub fn read(m: &Machine, pid: &str) -> Result<Sample> {
        let out = m.run_ok(
            &format!(
                "p=$({pid}); cut -d' ' -f1 /proc/uptime; \
                 cut -d')' -f2- /proc/$p/stat; \
                 grep -E '^(VmRSS|VmHWM):' /proc/$p/status; head -n 1 /proc/stat"
            ),
            CMD_TIMEOUT,
        )?;
        Sample::parse(&out).with_context(|| format!("{}: reading /proc:\n{out}", m.name()))
    }

    /// Parses what [`Sample::read`] prints.
    pub fn parse(text: &str) -> Result<Sample> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let uptime: f64 = lines.next().context("no uptime")?.parse()?;
        // After the `)` that ends the command name: state is field 3 of
        // stat(5), so utime (14) and stime (15) are the 12th and 13th here.
        let stat: Vec<&str> = lines
            .next()
            .context("no stat")?
            .split_whitespace()
            .collect();
        let field =
            |i: usize| -> Result<u64> { Ok(stat.get(i).context("short stat line")?.parse()?) };
        let ticks = field(11)? + field(12)?;
        let (mut rss_kb, mut hwm_kb, mut cpu) = (None, None, None);
        for l in lines {
            let kb =
                || -> Result<u64> { Ok(l.split_whitespace().nth(1).context("no value")?.parse()?) };
            if l.starts_with("VmRSS:") {
                rss_kb = Some(kb()?);
            } else if l.starts_with("VmHWM:") {
                hwm_kb = Some(kb()?);
            } else if l.starts_with("cpu ") {
                cpu = Some(cpu_line(l)?);
            }
        }
        let (busy, total) = cpu.context("no cpu line")?;
        Ok(Sample {
            uptime,
            ticks,
            rss_kb: rss_kb.context("no VmRSS")?,
            hwm_kb: hwm_kb.context("no VmHWM")?,
            busy,
            total,
        })
    }
}

/// The busy and total ticks of `/proc/stat`'s `cpu` line (idle is its 4th
/// number, iowait its 5th).
fn cpu_line(line: &str) -> Result<(u64, u64)> {
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    if v.len() < 4 {
        bail!("short cpu line {line:?}");
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// What happened on a guest between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Guest seconds between the samples.
    pub seconds: f64,
    /// The process's CPU time in that interval, ms.
    pub cpu_ms: f64,
    /// The process's resident set at the end, kB.
    pub rss_kb: u64,
    /// Its high-water mark at the end, kB.
    pub hwm_kb: u64,
    /// The share of the guest's CPU that was busy, %.
    pub guest_busy_pct: f64,
}

impl Interval {
    /// From `a` to `b` (of the same process).
    pub fn between(a: &Sample, b: &Sample) -> Interval {
        let total = b.total.saturating_sub(a.total);
        Interval {
            seconds: b.uptime - a.uptime,
            cpu_ms: b.ticks.saturating_sub(a.ticks) as f64 * 1000.0 / USER_HZ,
            rss_kb: b.rss_kb,
            hwm_kb: b.hwm_kb,
            guest_busy_pct: if total == 0 {
                0.0
            } else {
                b.busy.saturating_sub(a.busy) as f64 * 100.0 / total as f64
            },
        }
    }

    /// The process's CPU time as a share of the interval, %.
    pub fn cpu_pct(&self) -> f64 {
        if self.seconds <= 0.0 {
            return 0.0;
        }
        self.cpu_ms / (self.seconds * 10.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: &str = "123.45\n\
        S 1 32 32 0 -1 4194560 310 0 0 0 17 9 0 0 20 0 1 0 180 1638400 370 4294967295\n\
        VmHWM:\t    1520 kB\n\
        VmRSS:\t    1480 kB\n\
        cpu  100 0 50 800 10 0 5 0 0 0\n";

    #[test]
    fn parses_uptime_ticks_memory_and_cpu() {
        let s = Sample::parse(READ).unwrap();
        assert_eq!(s.uptime, 123.45);
        assert_eq!(s.ticks, 17 + 9);
        assert_eq!((s.rss_kb, s.hwm_kb), (1480, 1520));
        assert_eq!((s.busy, s.total), (155, 965));
    }

    #[test]
    fn interval_gives_cpu_time_and_shares() {
        let a = Sample::parse(READ).unwrap();
        let b = Sample {
            uptime: a.uptime + 10.0,
            ticks: a.ticks + 50,
            busy: a.busy + 250,
            total: a.total + 1000,
            ..a
        };
        let i = Interval::between(&a, &b);
        assert!((i.seconds - 10.0).abs() < 1e-9);
        assert_eq!(i.cpu_ms, 500.0);
        assert!((i.cpu_pct() - 5.0).abs() < 1e-9);
        assert!((i.guest_busy_pct - 25.0).abs() < 1e-9);
    }

    #[test]
    fn missing_lines_are_errors() {
        assert!(Sample::parse("1.0\n").is_err());
        assert!(Sample::parse("x\n").is_err());
    }
}
