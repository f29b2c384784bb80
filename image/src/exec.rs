//! Running the external build commands: output goes to a log file (a kernel
//! build prints thousands of lines nobody reads unless it fails), and a
//! failure is reported with the log's tail.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{BuildError, Result};

/// Runs `cmd`, appending its stdout and stderr to `log`.
pub fn run_logged(cmd: &mut Command, log: &Path) -> Result<()> {
    let shown = describe(cmd);
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| BuildError::io(format!("creating {}", dir.display()), e))?;
    }
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| BuildError::io(format!("opening log {}", log.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| BuildError::io(format!("opening log {}", log.display()), e))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| BuildError::io(format!("starting `{shown}`"), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Command {
            command: shown,
            status: status.to_string(),
            log: log.to_path_buf(),
            tail: tail(log, 30),
        })
    }
}

/// Runs `cmd` and returns its stdout; stderr is included in the error.
pub fn output(cmd: &mut Command) -> Result<String> {
    let shown = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError::io(format!("starting `{shown}`"), e))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(BuildError::Command {
            command: shown,
            status: out.status.to_string(),
            log: "(not logged)".into(),
            tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// The command line as a person would type it.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last `lines` lines of a file (at most its last 64 KiB are read).
fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
