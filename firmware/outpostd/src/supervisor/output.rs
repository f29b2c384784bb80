//! Where a supervised child's stdout and stderr go. pppd logs to its stdout
//! (and hands the same descriptor to dbclient as stderr); left on the
//! console, its lines split the admin's command output mid-line and are
//! gone once they scroll away. Captured, each whole line goes through
//! outpostd's logger as `outpostd: pppd: …`: on the console as one line,
//! and kept in the ring that `outpostd log` prints, where "why is the
//! tunnel down" is answered.

use log::info;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest line kept; the rest of a longer one is dropped (a child
/// printing without newlines must not grow outpostd's memory).
pub const MAX_LINE: usize = 240;

/// What happens to a child's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Each line logged as `NAME: line` (console and `outpostd log`).
    Log,
    /// Thrown away (tests with a fake child).
    Discard,
}

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes.
#[derive(Debug, Default)]
pub struct Lines {
    line: Vec<u8>,
    truncated: bool,
}

impl Lines {
    /// Feeds `bytes`, returning the lines they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut done = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                done.extend(self.take());
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            } else {
                self.truncated = true;
            }
        }
        done
    }

    /// The unfinished last line, at the end of the stream.
    pub fn finish(&mut self) -> Option<String> {
        self.take()
    }

    fn take(&mut self) -> Option<String> {
        let mut text = String::from_utf8_lossy(&self.line).trim_end().to_string();
        if self.truncated {
            text.push_str(" […]");
        }
        self.line.clear();
        self.truncated = false;
        (!text.is_empty()).then_some(text)
    }
}

/// Logs every line read from `stream` as `name: line` until it closes
/// (when the child and everything that inherited the descriptor are gone).
pub fn forward(name: String, mut stream: impl AsyncRead + Unpin + Send + 'static) {
    tokio::spawn(async move {
        let mut lines = Lines::default();
        let mut buf = [0u8; 256];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    for line in lines.push(&buf[..n]) {
                        info!("{name}: {line}");
                    }
                }
            }
        }
        if let Some(line) = lines.finish() {
            info!("{name}: {line}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_whole_lines_across_reads() {
        let mut l = Lines::default();
        assert_eq!(l.push(b"Connect: vpn0 <--> /dev/"), Vec::<String>::new());
        assert_eq!(
            l.push(b"pts/0\r\nModem hangup\n\nConnection"),
            vec!["Connect: vpn0 <--> /dev/pts/0", "Modem hangup"]
        );
        assert_eq!(l.push(b" terminated."), Vec::<String>::new());
        assert_eq!(l.finish().as_deref(), Some("Connection terminated."));
        assert_eq!(l.finish(), None);
    }

    #[test]
    fn caps_a_line_without_newline() {
        let mut l = Lines::default();
        assert!(l.push(&[b'x'; 10 * MAX_LINE]).is_empty());
        let lines = l.push(b"\nnext\n");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE + " […]".len());
        assert!(lines[0].ends_with(" […]"));
        assert_eq!(lines[1], "next");
    }

    #[test]
    fn invalid_utf8_is_shown_not_dropped() {
        let mut l = Lines::default();
        assert_eq!(l.push(b"bad \xff byte\n"), vec!["bad \u{fffd} byte"]);
    }
}
