//! The console logger: every record becomes one line `outpostd: …` on stderr
//! (the serial console under busybox init), with no timestamp (the console
//! reader has the kernel's), and is kept in the in-RAM [`LogRing`].

use std::io::Write;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::log_ring::LogRing;

static RING: Mutex<LogRing> = Mutex::new(LogRing::new());

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
}
