//! The smallest RAM (`-m`) with which the office router still passes the
//! tunnel check: boots, brings its tunnel up (both ends say so), carries a
//! ping from its tunnel address to private-host and answers
//! `outpostd status`, with no OOM kill or panic on its console. Only the
//! office, the concentrator and private-host are booted; the search starts
//! at 32 MB, halves until a failure, then bisects to a 1 MB step, and
//! tries the smallest pass and the failure 1 MB below it once more.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::site::{
    Site, SiteSpec, CONCENTRATOR, OFFICE, PEER_UP, PRIVATE_HOST, PRIVATE_IP, TUNNEL_UP,
};
use crate::watch::{find_line_after, watch, Needle};
use crate::CMD_TIMEOUT;

/// Where the search starts, MiB (must pass).
pub const START_MIB: u32 = 32;
/// Below this nothing is tried, MiB.
pub const FLOOR_MIB: u32 = 2;
/// How long each stage of a trial (boot, tunnel) may take before it
/// counts as a failure. Short, because a kernel without enough RAM to
/// unpack itself hangs without a word; a good boot takes seconds.
pub const STAGE_TIMEOUT: Duration = Duration::from_secs(60);

/// Console words that fail a trial at once.
pub const FATAL: [&str; 4] = [
    "invoked oom-killer",
    "Out of memory",
    "Kernel panic",
    "Unable to mount root",
];

/// One boot at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The office's RAM, MiB.
    pub mib: u32,
    /// Whether it passed.
    pub passed: bool,
    /// Why not (or what it noticed).
    pub note: String,
    /// How long the trial took, s.
    pub seconds: f64,
}

/// The search's outcome.
#[derive(Debug, Clone)]
pub struct Search {
    /// Every trial, in order.
    pub trials: Vec<Trial>,
    /// The smallest size that passed (with a failure 1 MB below, unless at the floor).
    pub smallest: u32,
    /// Whether the smallest passed again when tried a second time.
    pub confirmed: bool,
    /// Whether 1 MB less, which failed in the search, passed when tried a
    /// second time (`None` at the floor): the edge may be noisy.
    pub below_passed_again: Option<bool>,
}

/// Runs the search; each trial's guests live in their own directory under
/// `work`; `spec` gives the CPU and configs (its machines and RAM are set here).
pub fn search(work: &Path, spec: &SiteSpec, say: &mut dyn FnMut(&str)) -> Result<Search> {
    let mut trials = Vec::new();
    let mut try_mib = |mib: u32, trials: &mut Vec<Trial>| -> Result<bool> {
        let t = trial(work, spec, mib, trials.len())?;
        say(&format!(
            "-m {mib}: {} {} ({:.0} s)",
            if t.passed { "pass" } else { "FAIL" },
            t.note,
            t.seconds
        ));
        let passed = t.passed;
        trials.push(t);
        Ok(passed)
    };
    if !try_mib(START_MIB, &mut trials)? {
        bail!(
            "the office fails the tunnel check with {START_MIB} MB: {}",
            trials[0].note
        );
    }
    let found = bisect(START_MIB, FLOOR_MIB, |mib| try_mib(mib, &mut trials))?;
    // The edge is tried again on both sides: one boot may be luckier than another.
    let confirmed = try_mib(found, &mut trials)?;
    let below_passed_again = if found > FLOOR_MIB {
        Some(try_mib(found - 1, &mut trials)?)
    } else {
        None
    };
    Ok(Search {
        trials,
        smallest: found,
        confirmed,
        below_passed_again,
    })
}

/// The smallest passing size between `floor` and `pass` (known to pass):
/// halves until a failure, then bisects to 1 MB.
pub fn bisect(pass: u32, floor: u32, mut passes: impl FnMut(u32) -> Result<bool>) -> Result<u32> {
    let mut pass = pass;
    let mut fail = None;
    while fail.is_none() && pass / 2 >= floor {
        let m = pass / 2;
        if passes(m)? {
            pass = m;
        } else {
            fail = Some(m);
        }
    }
    let Some(mut fail) = fail else {
        return Ok(pass);
    };
    while pass - fail > 1 {
        let m = (pass + fail) / 2;
        if passes(m)? {
            pass = m;
        } else {
            fail = m;
        }
    }
    Ok(pass)
}

/// Boots office (`mib` MiB), concentrator and private-host and checks the tunnel.
fn trial(work: &Path, spec: &SiteSpec, mib: u32, n: usize) -> Result<Trial> {
    let spec = SiteSpec {
        machines: vec![OFFICE, CONCENTRATOR, PRIVATE_HOST],
        office_memory_mib: mib,
        ..spec.clone()
    };
    // Building is not part of the trial's failure: an error there is the bench's.
    let site = Site::start(&work.join(format!("m{n}-{mib}")), &spec)?;
    let started = site.started;
    let outcome = check(&site);
    let office = site.machine(OFFICE)?.console().transcript();
    drop(site);
    let (passed, mut note) = match outcome {
        Ok(note) => (true, note),
        Err(e) => (false, summary(&format!("{e:#}"))),
    };
    // A kill the checks did not trip over still counts.
    let fatal = FATAL.iter().find_map(|f| find_line_after(&office, 0, f));
    if let (true, Some(line)) = (passed, &fatal) {
        note = format!("checks passed, but: {}", summary(line));
    }
    Ok(Trial {
        mib,
        passed: passed && fatal.is_none(),
        note,
        // From power-on: building (or the cache) is not the trial's time.
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The checks of one trial; the office's free memory on success.
fn check(site: &Site) -> Result<String> {
    let office = site.machine(OFFICE)?;
    let head = site.machine(CONCENTRATOR)?;
    let private = site.machine(PRIVATE_HOST)?;
    watch(
        &[
            Needle::new(office, 0, "outpostd: ready"),
            Needle::new(head, 0, "outpostd: ready"),
            Needle::new(private, 0, "outpostd: ready"),
        ],
        &FATAL,
        site.started,
        STAGE_TIMEOUT,
    )?;
    watch(
        &[
            Needle::new(office, 0, TUNNEL_UP),
            Needle::new(head, 0, PEER_UP),
        ],
        &FATAL,
        Instant::now(),
        STAGE_TIMEOUT,
    )?;
    site.wait_ready(OFFICE, 0)?;
    office.run_ok(&format!("ping -c 3 -W 3 -I vpn0 {PRIVATE_IP}"), CMD_TIMEOUT)?;
    office.run_ok("outpostd status", CMD_TIMEOUT)?;
    let free = office.run_ok(
        "free | awk '/^Mem:/{print \"total \" $2 \" kB, available \" $7 \" kB\"}'",
        CMD_TIMEOUT,
    )?;
    Ok(free.trim().to_string())
}

/// A failure in a few words: the OOM killer, the kernel's panic reason,
/// or the first line of the error.
fn summary(error: &str) -> String {
    let first = error.lines().next().unwrap_or_default();
    if first.contains("invoked oom-killer") {
        return "the OOM killer ran during boot".into();
    }
    if let Some((_, why)) = first.split_once("Kernel panic - not syncing: ") {
        return format!(
            "kernel panic: {}",
            why.split('"').next().unwrap_or(why).trim()
        );
    }
    first.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search_with(threshold: u32) -> (u32, Vec<u32>) {
        let mut tried = Vec::new();
        let found = bisect(32, FLOOR_MIB, |m| {
            tried.push(m);
            Ok(m >= threshold)
        })
        .unwrap();
        (found, tried)
    }

    #[test]
    fn halves_then_bisects_to_one_mb() {
        assert_eq!(search_with(11), (11, vec![16, 8, 12, 10, 11]));
        assert_eq!(search_with(13), (13, vec![16, 8, 12, 14, 13]));
        assert_eq!(search_with(17), (17, vec![16, 24, 20, 18, 17]));
    }

    #[test]
    fn failures_in_a_few_words() {
        assert_eq!(
            summary("office: \"[    1.5] kworker/u2:0 invoked oom-killer: gfp_mask=0x140cca\" while waiting"),
            "the OOM killer ran during boot"
        );
        assert_eq!(
            summary("office: \"[    0.88] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\" while waiting for \"x\""),
            "kernel panic: VFS: Unable to mount root fs on unknown-block(0,0)"
        );
        assert_eq!(
            summary("no office: \"outpostd: ready\" within 60 s\ntail"),
            "no office: \"outpostd: ready\" within 60 s"
        );
    }

    #[test]
    fn stops_at_the_floor() {
        assert_eq!(search_with(1).0, 2);
        assert_eq!(search_with(32), (32, vec![16, 24, 28, 30, 31]));
    }
}
