//! A guest's serial console: everything the guest prints is kept in memory
//! and appended to a log file by a reader thread; tests wait for text on it
//! and run shell commands through it (see [`crate::marker`]).
//!
//! The console only needs a byte stream each way, so the same type drives a
//! QEMU serial port on a pipe and, in this crate's tests, a real local shell.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};
use crate::marker::Markers;

/// Lines of console shown in a timeout error.
pub const ERROR_TAIL_LINES: usize = 40;

/// A finished command on the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// What it printed, stdout and stderr merged, `\n`-separated, no trailing newline.
    pub stdout: String,
    /// Its exit status.
    pub status: i32,
}

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    /// Where the next search starts: text before it has been matched already.
    cursor: usize,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    grew: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain bytes behind: still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One serial console (reader thread + writer).
pub struct Console {
    name: String,
    shared: Arc<Shared>,
    writer: Mutex<Box<dyn Write + Send>>,
    log_path: PathBuf,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("name", &self.name)
            .field("log_path", &self.log_path)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// Starts reading `from` (the guest's output) on a thread, logging it to
    /// `log_path`; `to` is the guest's input. The log is appended to, after a
    /// header line, so a guest restarted under the same name keeps the
    /// previous boot's log above the new one.
    pub fn new(
        name: impl Into<String>,
        from: impl Read + Send + 'static,
        to: impl Write + Send + 'static,
        log_path: &Path,
    ) -> Result<Self> {
        let name = name.into();
        let mut log = File::options()
            .create(true)
            .append(true)
            .open(log_path)
            .and_then(|mut f| {
                writeln!(f, "===== outpost-qemu: console of {name} opened =====").map(|()| f)
            })
            .map_err(|e| HarnessError::io(format!("opening {}", log_path.display()), e))?;
        log.flush()
            .map_err(|e| HarnessError::io(format!("writing {}", log_path.display()), e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            grew: Condvar::new(),
        });
        let reader_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("console-{name}"))
            .spawn(move || read_loop(from, log, &reader_shared))
            .map_err(|e| HarnessError::io("starting the console reader thread", e))?;
        Ok(Console {
            name,
            shared,
            writer: Mutex::new(Box::new(to)),
            log_path: log_path.to_path_buf(),
        })
    }

    /// The machine's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the console log is.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Types `text` on the console as it is (no newline added).
    pub fn write_str(&self, text: &str) -> Result<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.write_all(text.as_bytes())
            .and_then(|()| w.flush())
            .map_err(|e| HarnessError::io(format!("{}: writing to the console", self.name), e))
    }

    /// Types `line` and a newline.
    pub fn send_line(&self, line: &str) -> Result<()> {
        self.write_str(&format!("{line}\n"))
    }

    /// Waits until `needle` appears in what the guest printed since the last
    /// match, and moves past it (so the same text never matches twice).
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<()> {
        let needle_bytes = needle.as_bytes();
        self.wait_until(needle, timeout, |bytes| {
            find(bytes, needle_bytes).map(|at| at + needle_bytes.len())
        })
    }

    /// Runs `cmd` in the guest's shell and returns its output and exit status.
    /// The shell must be at its prompt (or at least reading commands).
    pub fn run(&self, cmd: &str, timeout: Duration) -> Result<Output> {
        let markers = Markers::fresh();
        let line = markers
            .wrap(cmd)
            .map_err(|reason| HarnessError::BadCommand {
                machine: self.name.clone(),
                reason,
            })?;
        self.write_str(&line)?;
        let end = markers.end();
        let mut found = None;
        self.wait_until(&format!("the end of `{cmd}`"), timeout, |bytes| {
            let parsed = markers.parse(&String::from_utf8_lossy(bytes))?;
            // Move past the end marker and its status, in bytes.
            let at = find(bytes, end.as_bytes())? + end.len();
            let digits = bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            found = Some(parsed);
            Some(at + digits)
        })?;
        let parsed = found.ok_or_else(|| HarnessError::BadCommand {
            machine: self.name.clone(),
            reason: "markers matched but could not be parsed".into(),
        })?;
        Ok(Output {
            stdout: parsed.stdout,
            status: parsed.status,
        })
    }

    /// Like [`Console::run`], but a non-zero status is an error; returns the output.
    pub fn run_ok(&self, cmd: &str, timeout: Duration) -> Result<String> {
        let out = self.run(cmd, timeout)?;
        if out.status == 0 {
            Ok(out.stdout)
        } else {
            Err(HarnessError::CommandFailed {
                machine: self.name.clone(),
                command: cmd.to_string(),
                status: out.status,
                output: out.stdout,
            })
        }
    }

    /// Everything the guest printed so far.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.shared.lock().bytes).into_owned()
    }

    /// The last `n` lines the guest printed, carriage returns removed.
    pub fn tail(&self, n: usize) -> String {
        tail_lines(&self.transcript(), n)
    }

    /// Whether the guest's output has ended (its QEMU exited).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// Waits up to `timeout` for the guest's output to end (after its QEMU
    /// was killed, so that the last lines are in before they are shown).
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while !state.closed {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .shared
                .grew
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Waits until `matcher`, given the bytes after the cursor, returns how
    /// many of them it used; the cursor then moves past them.
    fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut matcher: impl FnMut(&[u8]) -> Option<usize>,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            let cursor = state.cursor;
            if let Some(used) = matcher(&state.bytes[cursor..]) {
                state.cursor = cursor + used;
                return Ok(());
            }
            let tail = || tail_lines(&String::from_utf8_lossy(&state.bytes), ERROR_TAIL_LINES);
            if state.closed {
                return Err(HarnessError::ConsoleClosed {
                    machine: self.name.clone(),
                    waited_for: what.to_string(),
                    tail: tail(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(HarnessError::Timeout {
                    machine: self.name.clone(),
                    waited_for: what.to_string(),
                    timeout,
                    tail: tail(),
                });
            }
            state = self
                .shared
                .grew
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

fn read_loop(mut from: impl Read, mut log: File, shared: &Shared) {
    let mut buf = [0u8; 4096];
    loop {
        match from.read(&mut buf) {
            // EOF, or EIO from a pty whose other side closed.
            Ok(0) => break,
            Ok(n) => {
                // The log is a convenience; losing it must not stop the console.
                let _ = log.write_all(&buf[..n]);
                shared.lock().bytes.extend_from_slice(&buf[..n]);
                shared.grew.notify_all();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    shared.lock().closed = true;
    shared.grew.notify_all();
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The last `n` lines of `text`, without carriage returns.
pub fn tail_lines(text: &str, n: usize) -> String {
    let clean: String = text.chars().filter(|&c| c != '\r').collect();
    let lines: Vec<&str> = clean.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_last_lines_without_cr() {
        assert_eq!(tail_lines("a\r\nb\r\nc\r\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        assert_eq!(tail_lines("", 5), "");
    }

    #[test]
    fn find_bytes() {
        assert_eq!(find(b"hello", b"ll"), Some(2));
        assert_eq!(find(b"hello", b"xx"), None);
        assert_eq!(find(b"he", b"hello"), None);
    }
}
