//! The command line, parsed by hand (clap would cost the router's floppy
//! more than the whole parser): what to do, and the help that teaches it.

use std::ffi::OsString;
use std::path::PathBuf;

/// Where the daemon reads its config unless told otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/outpost.toml";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the agent (the default, as busybox init starts it).
    Daemon {
        /// The config file.
        config: PathBuf,
    },
    /// Validate a config file and exit.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the version.
    Version,
    /// Print the help.
    Help,
}

/// A command line that does not make sense, with what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// An option that needs a value came last.
    #[error("{0} needs a value, e.g. {0} /etc/outpost.toml")]
    MissingValue(&'static str),
    /// An argument nobody asked for.
    #[error("unexpected argument `{0}`; run `outpostd --help` for what outpostd understands")]
    Unexpected(String),
    /// `check-config` without a file.
    #[error("check-config needs the file to check, e.g. outpostd check-config /etc/outpost.toml")]
    MissingFile,
}

/// The help text.
pub const HELP: &str = "\
outpostd - the Outpost router agent

Started by init (inittab: ::respawn:/sbin/outpostd), it mounts /proc, /sys,
/dev and /tmp if needed, reads the config, sets the host name, brings up the
interfaces with their static addresses, prints `outpostd: ready: ...` and
keeps running. A config with errors is reported on the console and leaves
the box in a safe console-only state (lo up, forwarding off); fix the file
and send SIGHUP to try again.

USAGE:
    outpostd [--config FILE]        run the agent (default)
    outpostd check-config FILE      check FILE like `mkoutpost check`; exit 1 on errors
    outpostd --version              print the version
    outpostd --help                 print this help

OPTIONS:
    -c, --config FILE   the config to apply (default: /etc/outpost.toml)

SIGNALS (to the running agent):
    SIGHUP    re-read the config and apply it again (changes only what differs)
    SIGTERM   stop

EXAMPLES:
    outpostd check-config /etc/outpost.toml
    kill -HUP $(pidof outpostd)
";

/// Parses the arguments after the program name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, UsageError> {
    let mut args = args.into_iter().map(|a| a.to_string_lossy().into_owned());
    let mut config = PathBuf::from(DEFAULT_CONFIG);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(Command::Help),
            "-V" | "--version" | "version" => return Ok(Command::Version),
            "-c" | "--config" => {
                config = args
                    .next()
                    .ok_or(UsageError::MissingValue("--config"))?
                    .into();
            }
            "check-config" => {
                let file = args.next().ok_or(UsageError::MissingFile)?;
                if let Some(extra) = args.next() {
                    return Err(UsageError::Unexpected(extra));
                }
                return Ok(Command::CheckConfig { file: file.into() });
            }
            other => match other.strip_prefix("--config=") {
                Some(v) if !v.is_empty() => config = v.into(),
                _ => return Err(UsageError::Unexpected(other.to_string())),
            },
        }
    }
    Ok(Command::Daemon { config })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn no_arguments_runs_the_daemon_on_the_default_config() {
        assert_eq!(
            p(&[]),
            Ok(Command::Daemon {
                config: DEFAULT_CONFIG.into()
            })
        );
    }

    #[test]
    fn config_can_be_overridden_both_ways() {
        let want = Ok(Command::Daemon {
            config: "/x.toml".into(),
        });
        assert_eq!(p(&["--config", "/x.toml"]), want);
        assert_eq!(p(&["-c", "/x.toml"]), want);
        assert_eq!(p(&["--config=/x.toml"]), want);
        assert_eq!(p(&["--config"]), Err(UsageError::MissingValue("--config")));
    }

    #[test]
    fn subcommands_and_flags() {
        assert_eq!(
            p(&["check-config", "a.toml"]),
            Ok(Command::CheckConfig {
                file: "a.toml".into()
            })
        );
        assert_eq!(p(&["check-config"]), Err(UsageError::MissingFile));
        assert!(matches!(
            p(&["check-config", "a", "b"]),
            Err(UsageError::Unexpected(_))
        ));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(p(&["--help"]), Ok(Command::Help));
        assert_eq!(p(&["stauts"]), Err(UsageError::Unexpected("stauts".into())));
    }

    #[test]
    fn help_mentions_every_command() {
        for word in ["check-config", "--config", "--version", "SIGHUP", "SIGTERM"] {
            assert!(HELP.contains(word), "{word}");
        }
    }
}
