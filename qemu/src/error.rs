//! The harness's error type: every failure names the machine and carries
//! what the guest said last, so a failed test explains itself.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Anything that can go wrong while starting or driving a guest.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A file-system or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The spec cannot be turned into a QEMU command line.
    #[error("invalid machine spec: {0}")]
    InvalidSpec(String),
    /// QEMU (or another process) could not be started, or died while starting.
    #[error("{machine}: starting `{command}` failed: {reason}; QEMU log: {log}\n--- last lines ---\n{tail}")]
    Start {
        /// The machine's name.
        machine: String,
        /// The command line, for a person to re-run.
        command: String,
        /// Why.
        reason: String,
        /// QEMU's own stderr log.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// The text did not appear on the console in time.
    #[error("{machine}: no {waited_for:?} on the console within {timeout:?}\n--- last console lines ---\n{tail}")]
    Timeout {
        /// The machine's name.
        machine: String,
        /// The awaited text.
        waited_for: String,
        /// How long we waited.
        timeout: Duration,
        /// The console's last lines.
        tail: String,
    },
    /// The console ended (the guest's QEMU exited) before the text appeared.
    #[error("{machine}: console closed while waiting for {waited_for:?}\n--- last console lines ---\n{tail}")]
    ConsoleClosed {
        /// The machine's name.
        machine: String,
        /// The awaited text.
        waited_for: String,
        /// The console's last lines.
        tail: String,
    },
    /// A command run on the guest exited non-zero (from `run_ok`).
    #[error("{machine}: `{command}` exited with status {status}\n--- its output ---\n{output}")]
    CommandFailed {
        /// The machine's name.
        machine: String,
        /// The command.
        command: String,
        /// Its exit status.
        status: i32,
        /// What it printed (stdout and stderr).
        output: String,
    },
    /// A command cannot be sent as one console line.
    #[error("{machine}: command cannot be sent on the console: {reason}")]
    BadCommand {
        /// The machine's name.
        machine: String,
        /// Why.
        reason: String,
    },
    /// The HMP monitor failed or answered with an error.
    #[error("{machine}: monitor command `{command}`: {reason}")]
    Monitor {
        /// The machine's name.
        machine: String,
        /// The HMP command.
        command: String,
        /// What went wrong (QEMU's answer, or the I/O error).
        reason: String,
    },
    /// A process did not exit within its deadline.
    #[error("{what} did not exit within {timeout:?}")]
    ExitTimeout {
        /// Which process.
        what: String,
        /// How long we waited.
        timeout: Duration,
    },
}

impl HarnessError {
    /// An [`HarnessError::Io`] with its context.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        HarnessError::Io {
            what: what.into(),
            source,
        }
    }
}

/// Result alias for the harness.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;
