//! TCP transfers between guests with busybox `nc`, as the site test (sha256
//! of 1 MB both ways) and the benchmark (timed MB through the tunnel and
//! through a plain route) do them: a listener started in the background
//! with what it does with the bytes, then the sender.

use std::time::Duration;

use anyhow::{bail, Result};
use outpost_qemu::Machine;

use super::CMD_TIMEOUT;

/// A TCP transfer of a few MB through the ssh tunnel under TCG: a bound on
/// failure, not a claim.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// Starts a listener on `m`'s TCP `port` in the background that pipes what
/// it receives into the shell command `sink` (which should leave its result
/// in a file, written in one go), and waits until it listens.
pub fn listen(m: &Machine, port: u16, sink: &str) -> Result<()> {
    // `sleep |` keeps the listener's stdin open, so it never half-closes
    // the connection before the sender is done. The shell would wait for
    // that `sleep` before running anything after the pipeline, so the sink
    // must show its end by a file's content, not by the pipeline ending.
    m.run_ok(
        &format!("(sleep 900 | nc -l -p {port} | {sink}) >/dev/null 2>&1 &"),
        CMD_TIMEOUT,
    )?;
    wait_listening(m, port)
}

/// Ends what [`listen`] left behind once its sink is done (the `sleep`
/// that fed the listener).
pub fn stop_listeners(m: &Machine) -> Result<()> {
    m.run("pkill -f 'sleep 900'", CMD_TIMEOUT)?;
    Ok(())
}

/// Sends `file` from `from` to `to_ip`:`port` (a listener must be there).
pub fn send(from: &Machine, file: &str, to_ip: &str, port: u16) -> Result<()> {
    from.run_ok(&format!("nc {to_ip} {port} < {file}"), TRANSFER_TIMEOUT)?;
    Ok(())
}

/// Waits until `file` on `m` is not empty, and returns its content.
pub fn wait_file(m: &Machine, file: &str) -> Result<String> {
    Ok(m.run_ok(
        &format!("while [ ! -s {file} ]; do sleep 1; done; cat {file}"),
        TRANSFER_TIMEOUT,
    )?)
}

/// Waits until `m` listens on TCP `port` (the listener must be bound
/// before the sender connects).
pub fn wait_listening(m: &Machine, port: u16) -> Result<()> {
    for _ in 0..30 {
        if m.run_ok("netstat -ltn", CMD_TIMEOUT)?
            .contains(&format!(":{port} "))
        {
            return Ok(());
        }
        m.run_ok("sleep 1", CMD_TIMEOUT)?;
    }
    bail!("{}: nothing listens on {port}", m.name());
}
