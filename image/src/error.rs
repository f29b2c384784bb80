//! The build pipeline's error type: every failure says what was being done
//! and, for a failed command, where its full log is and how it ended.

use std::io;
use std::path::PathBuf;

/// Anything that can go wrong while building firmware.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file-system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, e.g. "creating /x/y".
        what: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// An external command (make, cargo, xz, ...) failed.
    #[error("`{command}` failed ({status}); full log: {log}\n--- last lines ---\n{tail}")]
    Command {
        /// The command line, for a person to re-run.
        command: String,
        /// How it ended.
        status: String,
        /// Where its complete output is.
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// A tool or source package the build needs is not installed.
    #[error("{what} is missing: {hint}")]
    Missing {
        /// The missing thing.
        what: String,
        /// How to get it.
        hint: String,
    },
    /// The config has errors (each line names file, line and column).
    #[error("{0}")]
    Config(String),
    /// A produced artefact is not what it must be (wrong kernel options, too big, ...).
    #[error("{0}")]
    Check(String),
    /// The image's files do not fit the medium asked for; `over` says by how
    /// many bytes (the benchmark reports it), `message` says it for people.
    #[error("{message}")]
    DoesNotFit {
        /// The full explanation with a hint.
        message: String,
        /// Bytes too many for the medium.
        over: u64,
    },
    /// A private key already belongs to another router's image.
    #[error(
        "{} is the private key of `{owner}` (recorded in {}); `{hostname}` must not carry the same key: name a file of its own in its config (e.g. keys/{hostname}.ed25519) and mkoutpost generates it. If `{hostname}` is `{owner}` renamed, delete {} and build again",
        key.display(), record.display(), record.display()
    )]
    KeyShared {
        /// The private key file.
        key: std::path::PathBuf,
        /// The router recorded as its owner.
        owner: String,
        /// The router being built.
        hostname: String,
        /// The owner record beside the key.
        record: std::path::PathBuf,
    },
}

impl BuildError {
    /// An [`BuildError::Io`] with its context.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        BuildError::Io {
            what: what.into(),
            source,
        }
    }
}

/// Result alias for the pipeline.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;
