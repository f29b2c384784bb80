//! The console logger: every record becomes one line `outpostd: …` on stderr
//! (/dev/console under busybox init), with no timestamp (the console
//! reader has the kernel's), and is kept in the in-RAM [`LogRing`].
//!
//! /dev/console is one console, the kernel's last `console=`; a box with a
//! VGA screen and a serial cable has two. Once [`mirror_consoles`] ran,
//! every line (and the ready line, [`announce`]) also goes to each other
//! active console, opened non-blocking: a stuck serial line loses lines
//! there rather than stalling the agent.

use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::log_ring::LogRing;

static RING: Mutex<LogRing> = Mutex::new(LogRing::new());

/// The other active consoles, opened once by [`mirror_consoles`].
static MIRRORS: OnceLock<Vec<File>> = OnceLock::new();

/// Where the kernel lists its active consoles, /dev/console's last.
const ACTIVE: &str = "/sys/class/tty/console/active";

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

/// The console line for a message at `level`.
pub fn format_line(level: Level, message: &str) -> String {
    match level {
        Level::Error => format!("outpostd: error: {message}"),
        Level::Warn => format!("outpostd: warning: {message}"),
        Level::Info => format!("outpostd: {message}"),
        Level::Debug | Level::Trace => format!("outpostd: debug: {message}"),
    }
}

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // Only our own lines: a dependency that logs (at debug/trace) is not shown.
        metadata.target().starts_with("outpostd") && metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_line(record.level(), &record.args().to_string());
        // A console that cannot be written to has nowhere to report that.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        mirror(&line);
        remember(&line);
    }

    fn flush(&self) {}
}

/// Keeps `line` in the ring without printing it (the ready line is printed
/// on stdout by its own code, and still belongs in `outpostd log`).
pub fn remember(line: &str) {
    if let Ok(mut ring) = RING.lock() {
        ring.push(line);
    }
}

/// Prints the ready line on stdout (where init and the tests read it),
/// on the other consoles, and keeps it in the ring.
pub fn announce(line: &str) {
    println!("{line}");
    mirror(line);
    remember(line);
}

/// The consoles of the kernel's active list (`tty0 ttyS0`) other than
/// /dev/console itself (the last one): only plain device names, each once.
pub fn other_consoles(active: &str) -> Vec<String> {
    let mut names: Vec<&str> = active.split_whitespace().collect();
    let Some(console) = names.pop() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for n in names {
        // A name is a device under /dev: nothing that could climb out.
        let plain = n.bytes().all(|b| b.is_ascii_alphanumeric());
        if plain && n != console && !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    out
}

/// Opens the other active consoles (once; later calls do nothing) and
/// writes the lines logged so far to them. Only when stderr is
/// /dev/console (5:1), i.e. under init: run by hand or by a test, the
/// lines go where stderr goes and the machine's consoles are left alone.
pub fn mirror_consoles() {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
    let on_console = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| {
            m.file_type().is_char_device()
                && libc::major(m.rdev()) == 5
                && libc::minor(m.rdev()) == 1
        });
    let active = std::fs::read_to_string(ACTIVE).unwrap_or_default();
    let files = if on_console {
        other_consoles(&active)
            .into_iter()
            .filter_map(|name| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
                    .open(format!("/dev/{name}"))
                    .ok()
            })
            .collect()
    } else {
        Vec::new()
    };
    if MIRRORS.set(files).is_ok() {
        for line in recent() {
            mirror(&line);
        }
    }
}

/// Writes `line` to the other consoles; a full or broken one drops it.
fn mirror(line: &str) {
    for mut f in MIRRORS.get().into_iter().flatten() {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// The lines in the ring, oldest first.
pub fn recent() -> Vec<String> {
    RING.lock()
        .map(|r| r.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Installs the logger; a second call changes only the level.
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_the_prefix_and_severity() {
        assert_eq!(format_line(Level::Info, "eth0 up"), "outpostd: eth0 up");
        assert_eq!(
            format_line(Level::Error, "no config"),
            "outpostd: error: no config"
        );
        assert_eq!(format_line(Level::Warn, "x"), "outpostd: warning: x");
    }

    #[test]
    fn the_other_consoles_are_all_but_the_last() {
        assert_eq!(other_consoles("tty0 ttyS0\n"), ["tty0"]);
        assert_eq!(other_consoles("ttyS0 tty0\n"), ["ttyS0"]);
        assert!(other_consoles("ttyS0\n").is_empty());
        assert!(other_consoles("").is_empty());
        assert_eq!(other_consoles("ttyS1 tty0 ttyS1 ttyS0"), ["ttyS1", "tty0"]);
        // the console itself named twice, or a name that is no plain device
        assert!(other_consoles("ttyS0 ttyS0").is_empty());
        assert!(other_consoles("../sda tty/x ttyS0").is_empty());
    }
}
