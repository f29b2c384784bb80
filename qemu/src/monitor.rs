//! QEMU's human monitor (HMP) on a unix socket: one command at a time, the
//! answer being everything QEMU prints before its next `(qemu) ` prompt.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const PROMPT: &str = "(qemu) ";

/// How long one monitor command may take.
pub const MONITOR_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected HMP monitor.
#[derive(Debug)]
pub struct Monitor {
    stream: UnixStream,
}

impl Monitor {
    /// Connects to the monitor socket at `path` and reads QEMU's banner.
    pub fn connect(path: &Path) -> std::io::Result<Self> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(MONITOR_TIMEOUT))?;
        stream.set_write_timeout(Some(MONITOR_TIMEOUT))?;
        let mut m = Monitor { stream };
        m.read_to_prompt()?;
        Ok(m)
    }

    /// Sends one HMP command and returns QEMU's answer (without the echoed
    /// command line and the prompt). For `quit`, QEMU closes the socket
    /// instead of prompting: that counts as an empty answer.
    pub fn command(&mut self, cmd: &str) -> std::io::Result<String> {
        if cmd.contains('\n') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "an HMP command is one line",
            ));
        }
        self.stream.write_all(format!("{cmd}\n").as_bytes())?;
        let raw = self.read_to_prompt()?;
        Ok(clean_answer(&raw))
    }

    /// Reads until the prompt or the end of the stream.
    fn read_to_prompt(&mut self) -> std::io::Result<String> {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = self.stream.read(&mut buf)?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.ends_with(PROMPT.as_bytes()) {
                got.truncate(got.len() - PROMPT.len());
                break;
            }
        }
        Ok(String::from_utf8_lossy(&got).into_owned())
    }
}

/// The answer in a raw reply: QEMU's readline echoes the command as a
/// series of cursor-moving redraws ending in `\r\n`; everything after that
/// first line is the answer. Escapes and carriage returns are removed.
pub fn clean_answer(raw: &str) -> String {
    let Some((_echo, answer)) = raw.split_once('\n') else {
        return String::new();
    };
    let mut out = String::new();
    let mut chars = answer.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out.trim_end_matches('\n').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_without_echo_and_escapes() {
        // As QEMU 7.2 sends it over a unix socket.
        let raw = "i\u{1b}[K\u{1b}[Din\u{1b}[K\u{1b}[D\u{1b}[Dset_link nope off\u{1b}[K\r\nError: Device 'nope' not found\r\n";
        assert_eq!(clean_answer(raw), "Error: Device 'nope' not found");
        let raw = "\u{1b}[Dinfo status\u{1b}[K\r\nVM status: running\r\nline 2\r\n";
        assert_eq!(clean_answer(raw), "VM status: running\nline 2");
        assert_eq!(clean_answer("\u{1b}[Dsystem_reset\u{1b}[K\r\n"), "");
        // `quit`: QEMU closes the socket after the echo, or before it.
        assert_eq!(clean_answer("q\u{1b}[K"), "");
    }
}
