//! Waiting for console lines from a given point on, on one guest or on
//! several at once, and timing when each appeared. The site test, the demo
//! and the benchmark all wait this way: they read the transcript rather than
//! the console's match cursor, so a line printed while a command ran on the
//! same console still counts.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use outpost_qemu::Machine;

/// How often the transcripts are read. The console offers no notification
/// for arbitrary offsets; a tenth of a second is the resolution of every
/// time measured from console lines (the benchmark says so).
pub const POLL: Duration = Duration::from_millis(100);

/// Where `m`'s console transcript ends now: pass it to [`wait_after`] to
/// see only what is printed from here on.
pub fn mark(m: &Machine) -> usize {
    m.console().transcript().len()
}

/// One console line to wait for: on `machine`, containing `text`, starting
/// after byte offset `from` of its transcript.
#[derive(Debug, Clone, Copy)]
pub struct Needle<'a> {
    /// The guest.
    pub machine: &'a Machine,
    /// Transcript offset (from [`mark`]; 0 for everything since boot).
    pub from: usize,
    /// What the line contains.
    pub text: &'a str,
}

impl<'a> Needle<'a> {
    /// A line containing `text` on `machine` after offset `from`.
    pub fn new(machine: &'a Machine, from: usize, text: &'a str) -> Self {
        Needle {
            machine,
            from,
            text,
        }
    }
}

/// A line that was seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The whole line.
    pub line: String,
    /// When it was first seen, counted from the `since` given to [`watch`].
    pub at: Duration,
}

/// Waits until every needle's line has appeared, and returns them in the
/// needles' order, each with the time it was first seen (within [`POLL`]).
/// Fails when `timeout` passes, when the console of a machine still waited
/// for closes, or when a line containing one of `fatal` appears after a
/// needle's offset on its machine (e.g. the OOM killer's words).
pub fn watch(
    needles: &[Needle<'_>],
    fatal: &[&str],
    since: Instant,
    timeout: Duration,
) -> Result<Vec<Seen>> {
    let seen = watch_until(needles, fatal, since, timeout, |s| {
        s.iter().all(Option::is_some)
    })?;
    Ok(seen.into_iter().flatten().collect())
}

/// Polls the needles (as [`watch`] does) until `done` says that what has
/// been seen so far is enough; returns what was seen, in the needles' order.
pub fn watch_until(
    needles: &[Needle<'_>],
    fatal: &[&str],
    since: Instant,
    timeout: Duration,
    done: impl Fn(&[Option<Seen>]) -> bool,
) -> Result<Vec<Option<Seen>>> {
    let deadline = Instant::now() + timeout;
    let mut seen: Vec<Option<Seen>> = vec![None; needles.len()];
    loop {
        let at = since.elapsed();
        let mut closed = None;
        for (n, slot) in needles.iter().zip(seen.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let text = n.machine.console().transcript();
            if let Some(line) = find_line_after(&text, n.from, n.text) {
                *slot = Some(Seen { line, at });
                continue;
            }
            for f in fatal {
                if let Some(line) = find_line_after(&text, n.from, f) {
                    bail!(
                        "{}: {line:?} while waiting for {:?}",
                        n.machine.name(),
                        n.text
                    );
                }
            }
            if n.machine.console().is_closed() {
                closed = Some(n);
            }
        }
        if done(&seen) {
            return Ok(seen);
        }
        if let Some(n) = closed {
            bail!(
                "{}: console closed before {:?}\n{}",
                n.machine.name(),
                n.text,
                n.machine.console().tail(40)
            );
        }
        if Instant::now() >= deadline {
            let missing: Vec<String> = needles
                .iter()
                .zip(&seen)
                .filter(|(_, s)| s.is_none())
                .map(|(n, _)| format!("{}: {:?}", n.machine.name(), n.text))
                .collect();
            let first = needles
                .iter()
                .zip(&seen)
                .find(|(_, s)| s.is_none())
                .map(|(n, _)| n.machine.console().tail(40))
                .unwrap_or_default();
            bail!(
                "no {} within {} s\n{first}",
                missing.join(", "),
                timeout.as_secs()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until a line containing `needle` appears in `m`'s console after
/// byte offset `from`, and returns that line.
pub fn wait_after(m: &Machine, from: usize, needle: &str, timeout: Duration) -> Result<String> {
    let mut seen = watch(
        &[Needle::new(m, from, needle)],
        &[],
        Instant::now(),
        timeout,
    )?;
    Ok(seen.remove(0).line)
}

/// The first line of `text` containing `needle` that starts at or after `from`
/// (a line that straddles `from` also counts when the needle lies after it).
pub fn find_line_after(text: &str, from: usize, needle: &str) -> Option<String> {
    let start = floor_char_boundary(text, from.min(text.len()));
    let at = text[start..].find(needle)? + start;
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| i + at);
    Some(
        text[line_start..line_end]
            .trim_end_matches('\r')
            .to_string(),
    )
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_lines_after_the_offset() {
        let t = "a tunnel up (x)\r\nb\nc tunnel up (y)\n";
        assert_eq!(
            find_line_after(t, 0, "tunnel up"),
            Some("a tunnel up (x)".into())
        );
        assert_eq!(
            find_line_after(t, 5, "tunnel up"),
            Some("c tunnel up (y)".into())
        );
        assert_eq!(find_line_after(t, 30, "tunnel up"), None);
        assert_eq!(find_line_after(t, 999, "b"), None);
    }
}
