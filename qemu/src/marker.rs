//! The protocol that runs one shell command over a serial console and reads
//! back its output and exit status: pure text in, text out.
//!
//! The command is sent wrapped between two `echo`s of unique markers. The
//! markers are written with an empty `""` inside them, so the tty's echo of
//! the typed line never contains the marker itself: only the shell's output
//! does. Output is cut between the begin marker's line and the end marker,
//! which carries `$?`. Carriage returns from the tty (`\r\n`, and the `\r`
//! some kernels put before a line) are removed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The longest line sent: busybox ash's line editor holds 1024 bytes by
/// default (`FEATURE_EDITING_MAX_LEN`), a tty in canonical mode 4096.
pub const MAX_LINE: usize = 1000;

/// One command's markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markers {
    nonce: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Markers {
    /// Fresh markers, unique in this process and unlikely to occur in any output.
    pub fn fresh() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Markers::with_nonce(&format!("{:x}x{:x}x{:x}", std::process::id(), t, n))
    }

    /// Markers built from a given nonce (alphanumeric), for tests.
    pub fn with_nonce(nonce: &str) -> Self {
        Markers {
            nonce: nonce.to_string(),
        }
    }

    /// What the shell prints before the command's output.
    pub fn begin(&self) -> String {
        format!("OPB{}B", self.nonce)
    }

    /// What the shell prints after the output; the status follows it.
    pub fn end(&self) -> String {
        format!("OPE{}E", self.nonce)
    }

    /// The line to type into the shell (with its newline). The command runs
    /// in a group with stdin from /dev/null (so it cannot eat the console's
    /// later input) and stderr merged into stdout. The command goes on a line
    /// of its own inside the group, so it may end in a comment or `&`.
    pub fn wrap(&self, cmd: &str) -> Result<String, String> {
        if cmd.contains('\n') || cmd.contains('\r') {
            return Err("the command contains a line break".into());
        }
        let line = format!(
            "echo OPB\"\"{n}B; {{ {cmd}\n}} </dev/null 2>&1; echo OPE\"\"{n}E$?\n",
            n = self.nonce
        );
        if line.lines().any(|l| l.len() > MAX_LINE) {
            return Err(format!(
                "the command is {} bytes long; a console line holds at most {MAX_LINE}",
                cmd.len()
            ));
        }
        Ok(line)
    }

    /// Finds the finished command's output and status in `text` (the console
    /// output since the command was sent). `None` until the end marker and
    /// its status have arrived in full.
    pub fn parse(&self, text: &str) -> Option<Parsed> {
        let begin = self.begin();
        let end = self.end();
        let b = text.find(&begin)?;
        let after_begin = &text[b + begin.len()..];
        // The output starts on the line after the begin marker.
        let nl = after_begin.find('\n')?;
        let body_and_rest = &after_begin[nl + 1..];
        let e = body_and_rest.find(&end)?;
        let after_end = &body_and_rest[e + end.len()..];
        let digits: String = after_end
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        // The status is complete only once something follows its digits.
        let terminator = after_end[digits.len()..].chars().next()?;
        if digits.is_empty() || !(terminator == '\r' || terminator == '\n') {
            return None;
        }
        let status = digits.parse().ok()?;
        Some(Parsed {
            stdout: clean(&body_and_rest[..e]),
            status,
        })
    }
}

/// A finished command, as cut out of the console text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Its output (stdout and stderr), `\n`-separated, without the trailing newline.
    pub stdout: String,
    /// Its exit status.
    pub status: i32,
}

/// Removes carriage returns and the one trailing newline the output ends with.
pub fn clean(raw: &str) -> String {
    let mut s: String = raw.chars().filter(|&c| c != '\r').collect();
    if s.ends_with('\n') {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Markers {
        Markers::with_nonce("n0")
    }

    #[test]
    fn wrap_hides_markers_from_the_echo() {
        let line = m().wrap("uname -a").unwrap();
        assert!(!line.contains(&m().begin()));
        assert!(!line.contains(&m().end()));
        assert!(line.ends_with('\n'));
        assert!(line.contains("uname -a\n}"));
    }

    #[test]
    fn wrap_refuses_line_breaks_and_long_lines() {
        assert!(m().wrap("a\nb").is_err());
        assert!(m().wrap("a\rb").is_err());
        assert!(m().wrap(&"x".repeat(MAX_LINE)).is_err());
    }

    #[test]
    fn parses_output_with_tty_echo_and_crlf() {
        let mk = m();
        let echoed = mk
            .wrap("echo hi; echo there")
            .unwrap()
            .replace('\n', "\r\n");
        let text = format!("# {echoed}> \r\nOPBn0B\r\nhi\r\nthere\r\nOPEn0E0\r\n# ");
        let p = mk.parse(&text).unwrap();
        assert_eq!(p.stdout, "hi\nthere");
        assert_eq!(p.status, 0);
    }

    #[test]
    fn empty_output_and_nonzero_status() {
        let p = m().parse("OPBn0B\r\nOPEn0E127\r\n").unwrap();
        assert_eq!(p.stdout, "");
        assert_eq!(p.status, 127);
    }

    #[test]
    fn output_without_trailing_newline_is_kept() {
        // `printf x` leaves the end marker on the same line as the output.
        let p = m().parse("OPBn0B\nxOPEn0E1\n").unwrap();
        assert_eq!(p.stdout, "x");
        assert_eq!(p.status, 1);
    }

    #[test]
    fn incomplete_text_is_not_parsed() {
        let mk = m();
        assert_eq!(mk.parse(""), None);
        assert_eq!(mk.parse("OPBn0B"), None);
        assert_eq!(mk.parse("OPBn0B\r\nout\r\n"), None);
        assert_eq!(mk.parse("OPBn0B\r\nout\r\nOPEn0E"), None);
        // "1" may be the start of "127": wait for the line's end.
        assert_eq!(mk.parse("OPBn0B\r\nout\r\nOPEn0E1"), None);
    }

    #[test]
    fn kernel_messages_interleaved_stay_in_output_but_do_not_break_markers() {
        let text = "[    5.1] eth0: link up\r\nOPBn0B\r\nline1\r\n[    5.2] ppp0: up\r\nline2\r\n[ 5.3] x\r\nOPEn0E3\r\n";
        let p = m().parse(text).unwrap();
        assert_eq!(p.status, 3);
        assert_eq!(p.stdout, "line1\n[    5.2] ppp0: up\nline2\n[ 5.3] x");
    }

    #[test]
    fn markers_of_another_command_do_not_match() {
        let text = "OPBn1B\r\nold\r\nOPEn1E0\r\n";
        assert_eq!(m().parse(text), None);
    }

    #[test]
    fn fresh_markers_differ() {
        assert_ne!(Markers::fresh(), Markers::fresh());
    }
}
