//! The config model: what `outpost.toml` may say, parsed with serde (unknown
//! keys are errors), and the one entry point [`Config::from_str_named`] that
//! turns text into a config or an error naming file, line and column.
//!
//! Text saved by Windows Notepad (a UTF-8 BOM, CRLF line ends) is accepted.

use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::net::Ipv4Cidr;

/// Where in a config file something is: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte offset `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before
            .get(line_start..)
            .map_or(1, |s| s.trim_end_matches('\r').chars().count() + 1);
        Location { line, column }
    }
}

/// A config that could not be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read: {reason}")]
    Unreadable {
        /// The file's name as given.
        file: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The text is not valid TOML, or does not fit the config model.
    #[error("{file}:{}:{}: {message}{}", .at.line, .at.column, hint_suffix(.hint))]
    Invalid {
        /// The file's name as given.
        file: String,
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        message: String,
        /// How to fix it, when there is something useful to say.
        hint: Option<String>,
    },
}

fn hint_suffix(h: &Option<String>) -> String {
    h.as_ref()
        .map(|h| format!("\n  hint: {h}"))
        .unwrap_or_default()
}

/// The router's role, which decides what it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A remote office: LAN + WAN, a tunnel to the concentrator.
    Office,
    /// The head office's end of every tunnel.
    Concentrator,
    /// An end host, for tests and demos: one interface, a default route.
    Host,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Office => "office",
            Role::Concentrator => "concentrator",
            Role::Host => "host",
        })
    }
}

/// The `[system]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// The router's host name (letters, digits and `-`, at most 63).
    pub hostname: String,
    /// What the box is: `office`, `concentrator` or `host`.
    pub role: Role,
}

/// One `[[interface]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// The kernel's device name, e.g. `eth0`.
    pub device: String,
    /// A static address with prefix length, e.g. `192.168.1.1/24`.
    #[serde(default, deserialize_with = "de_cidr_opt")]
    pub address: Option<Ipv4Cidr>,
    /// The MTU; the kernel's default when absent.
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// A whole `outpost.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The `[system]` section.
    pub system: System,
    /// The `[[interface]]` entries, in order.
    #[serde(default, rename = "interface")]
    pub interfaces: Vec<Interface>,
}

fn de_cidr_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Ipv4Cidr>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

impl Config {
    /// Reads and parses the config file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ConfigError::Unreadable {
            file: name.clone(),
            reason: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = Location::of_offset(
                &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
                usize::MAX,
            );
            ConfigError::Invalid {
                file: name.clone(),
                at,
                message: "the file is not valid UTF-8".into(),
                hint: Some("save the file as UTF-8 (in Notepad: Save As, Encoding: UTF-8)".into()),
            }
        })?;
        Self::from_str_named(&name, &text)
    }

    /// Parses `text`, naming it `file` in errors.
    pub fn from_str_named(file: &str, text: &str) -> Result<Self, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        toml::from_str::<Config>(text).map_err(|e| {
            let at = e.span().map_or(Location { line: 1, column: 1 }, |s| {
                Location::of_offset(text, s.start)
            });
            ConfigError::Invalid {
                file: file.to_string(),
                at,
                message: e.message().trim().to_string(),
                hint: None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICE: &str = "[system]\nhostname = \"office1\"\nrole = \"office\"\n\n[[interface]]\ndevice = \"eth0\"\naddress = \"192.168.1.1/24\"\n";

    #[test]
    fn parses_a_minimal_config() {
        let c = Config::from_str_named("t.toml", OFFICE).unwrap();
        assert_eq!(c.system.hostname, "office1");
        assert_eq!(c.system.role, Role::Office);
        assert_eq!(
            c.interfaces[0].address.unwrap().to_string(),
            "192.168.1.1/24"
        );
    }

    #[test]
    fn accepts_notepad_files() {
        let crlf = format!("\u{feff}{}", OFFICE.replace('\n', "\r\n"));
        let c = Config::from_str_named("t.toml", &crlf).unwrap();
        assert_eq!(c.system.hostname, "office1");
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let bad = "[system]\nhostname = \"a\"\nrole = \"office\"\ncolour = \"blue\"\n";
        let e = Config::from_str_named("x.toml", bad).unwrap_err();
        match e {
            ConfigError::Invalid {
                file, at, message, ..
            } => {
                assert_eq!(file, "x.toml");
                assert_eq!(at, Location { line: 4, column: 1 });
                assert!(message.contains("colour"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_address_points_at_the_value() {
        let bad = OFFICE.replace("192.168.1.1/24", "192.168.1.300/24");
        let e = Config::from_str_named("x.toml", &bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml:7:11:"), "{e}");
        assert!(e.contains("not an IPv4 address"), "{e}");
    }
}
