//! The control socket: `outpostd status|check|reset|log|rules|save` on the console
//! talk to the running agent over a unix stream socket that only root can
//! use (mode 0600, and the peer's uid checked with SO_PEERCRED).
//!
//! Protocol, one exchange per connection: the client sends one request word
//! and a newline; the agent answers with body lines, then a last line `.ok`
//! or `.error`. Body lines starting with `.` are sent with one more `.` in
//! front (as SMTP does), so no body line can pass for the end.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Where the agent listens unless told otherwise.
pub const SOCKET_PATH: &str = "/run/outpostd.sock";

/// What a client may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Interfaces, config in force, recent errors.
    Status,
    /// Re-read and validate the config file without applying it.
    Check,
    /// Re-read the config and apply it (what SIGHUP does).
    Reset,
    /// The in-RAM log ring.
    Log,
    /// The firewall ruleset in force.
    Rules,
}

impl Request {
    /// Every request, in help order.
    pub const ALL: [Request; 5] = [
        Request::Status,
        Request::Check,
        Request::Reset,
        Request::Log,
        Request::Rules,
    ];

    /// The word on the wire and on the command line.
    pub fn word(self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Check => "check",
            Request::Reset => "reset",
            Request::Log => "log",
            Request::Rules => "rules",
        }
    }

    /// The request named by `word`.
    pub fn from_word(word: &str) -> Option<Request> {
        Request::ALL.into_iter().find(|r| r.word() == word.trim())
    }
}

/// The agent's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Whether the request succeeded.
    pub ok: bool,
    /// What to print.
    pub lines: Vec<String>,
}

impl Reply {
    /// A successful reply.
    pub fn ok(lines: Vec<String>) -> Reply {
        Reply { ok: true, lines }
    }

    /// A failed reply.
    pub fn error(lines: Vec<String>) -> Reply {
        Reply { ok: false, lines }
    }

    /// The reply as sent on the socket.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for l in self.lines.iter().flat_map(|l| l.lines()) {
            if l.starts_with('.') {
                out.push('.');
            }
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(if self.ok { ".ok\n" } else { ".error\n" });
        out
    }

    /// Reads a reply as [`Reply::encode`] wrote it; `None` if it ended early.
    pub fn decode(lines: impl IntoIterator<Item = String>) -> Option<Reply> {
        let mut body = Vec::new();
        for l in lines {
            match l.as_str() {
                ".ok" => return Some(Reply::ok(body)),
                ".error" => return Some(Reply::error(body)),
                _ => body.push(l.strip_prefix('.').map_or(l.clone(), str::to_string)),
            }
        }
        None
    }
}

/// Why the client could not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No agent listening, or no permission.
    #[error("cannot reach outpostd at {path}: {source} (is outpostd running, and are you root?)")]
    Connect {
        /// The socket path.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The exchange broke off.
    #[error("talking to outpostd at {path}: {reason}")]
    Exchange {
        /// The socket path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// The request word of `outpostd save [FILE]`.
pub const SAVE_WORD: &str = "save";

/// The request line of `outpostd save [FILE]` (`file` absolute: the agent
/// runs in another directory).
pub fn save_line(file: Option<&Path>) -> String {
    match file {
        Some(f) => format!("{SAVE_WORD} {}", f.display()),
        None => SAVE_WORD.to_string(),
    }
}

/// The file of a save request line: `Some(None)` for a bare `save`,
/// `Some(Some(file))` with a file, `None` for any other line.
pub fn parse_save(line: &str) -> Option<Option<std::path::PathBuf>> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line == SAVE_WORD {
        return Some(None);
    }
    let file = line.strip_prefix(SAVE_WORD)?.strip_prefix(' ')?;
    (!file.is_empty()).then(|| Some(file.into()))
}

/// Sends `request` to the agent at `path` and waits for its reply.
pub fn ask(path: &Path, request: Request) -> Result<Reply, ControlError> {
    ask_line(path, request.word())
}

/// Sends one request line (a [`Request`] word, or a pppd hook's
/// [`crate::hooks::HookMessage`]) and waits for the reply.
pub fn ask_line(path: &Path, line: &str) -> Result<Reply, ControlError> {
    let shown = path.display().to_string();
    let exchange = |reason: String| ControlError::Exchange {
        path: shown.clone(),
        reason,
    };
    let mut stream = UnixStream::connect(path).map_err(|source| ControlError::Connect {
        path: shown.clone(),
        source,
    })?;
    writeln!(stream, "{line}").map_err(|e| exchange(e.to_string()))?;
    let lines = BufReader::new(stream).lines().map_while(Result::ok);
    Reply::decode(lines).ok_or_else(|| exchange("the reply ended early".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_words_round_trip() {
        for r in Request::ALL {
            assert_eq!(Request::from_word(r.word()), Some(r));
        }
        assert_eq!(Request::from_word("status\n"), Some(Request::Status));
        assert_eq!(Request::from_word("shutdown"), None);
    }

    #[test]
    fn save_lines_round_trip() {
        assert_eq!(parse_save(&save_line(None)), Some(None));
        let f = Path::new("/tmp/new outpost.toml");
        assert_eq!(
            parse_save(&format!("{}\n", save_line(Some(f)))),
            Some(Some(f.into()))
        );
        assert_eq!(parse_save("saved"), None);
        assert_eq!(parse_save("save "), None);
        assert_eq!(parse_save("status"), None);
    }

    #[test]
    fn replies_round_trip_even_with_dot_lines() {
        let r = Reply::ok(vec![
            "eth0 up".into(),
            ".ok".into(),
            "..two".into(),
            ".error".into(),
        ]);
        let wire = r.encode();
        assert_eq!(wire.lines().filter(|l| *l == ".ok").count(), 1, "{wire}");
        let back = Reply::decode(wire.lines().map(str::to_string)).unwrap();
        assert_eq!(back, r);
        let e = Reply::error(vec!["bad".into()]);
        assert_eq!(
            Reply::decode(e.encode().lines().map(str::to_string)),
            Some(e)
        );
    }

    #[test]
    fn a_cut_reply_is_not_taken_for_a_whole_one() {
        let wire = Reply::ok(vec!["a".into(), "b".into()]).encode();
        let cut: Vec<String> = wire.lines().take(2).map(str::to_string).collect();
        assert_eq!(Reply::decode(cut), None);
    }
}
