//! The command line, parsed by hand (clap would cost the router's floppy
//! more than the whole parser): what to do, and the help that teaches it.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::control::{Request, SOCKET_PATH};

/// Where the daemon reads its config unless told otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/outpost.toml";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the agent (the default, as busybox init starts it).
    Daemon {
        /// The config file.
        config: PathBuf,
        /// The control socket to listen on.
        socket: PathBuf,
    },
    /// Ask the running agent something over its control socket.
    Control {
        /// What to ask.
        request: Request,
        /// The agent's control socket.
        socket: PathBuf,
    },
    /// Ask the running agent to write a config to the boot medium.
    Save {
        /// The file to save and apply; `None`: the config in force.
        file: Option<PathBuf>,
        /// The agent's control socket.
        socket: PathBuf,
    },
    /// Validate a config file and exit.
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// pppd's ip-up/ip-down hook (not in the help: pppd calls it, through
    /// the scripts outpostd writes): tell the agent the link changed.
    PppHook {
        /// `up|down IFNAME TTY SPEED LOCAL REMOTE [IPPARAM]`.
        args: Vec<String>,
        /// The agent's control socket.
        socket: PathBuf,
    },
    /// udhcpc's script (not in the help: udhcpc calls it, through the
    /// script outpostd writes): hand the lease in the environment to the agent.
    DhcpHook {
        /// udhcpc's event (`bound`, `renew`, `deconfig`, `leasefail`, `nak`).
        event: String,
        /// The agent's control socket.
        socket: PathBuf,
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
keeps running: the tunnel, DHCP (udhcpc for an interface with dhcp = true,
whose lease it judges and applies; udhcpd per [[dhcp_server]]). A config with errors is reported on the console and leaves
the box in a safe console-only state (lo up, forwarding off); fix the file
and send SIGHUP to try again.

USAGE:
    outpostd [--config FILE]        run the agent (default)
    outpostd check-config FILE      check FILE like `mkoutpost check`; exit 1 on errors
    outpostd status                 ask the running agent: interfaces, DHCP leases, tunnel, last errors
    outpostd check                  ask it to re-validate its config file (applies nothing)
    outpostd reset                  ask it to re-read the config and apply it (as SIGHUP)
    outpostd log                    print its in-RAM log (the last 64 lines, pppd's too)
    outpostd rules                  print the firewall ruleset in force
    outpostd save [FILE]            write a config to the boot medium (see SAVING)
    outpostd --version              print the version
    outpostd --help                 print this help

OPTIONS:
    -c, --config FILE   the config to apply (default: /etc/outpost.toml)
    -s, --socket PATH   the control socket (default: /run/outpostd.sock; root only)

SAVING:
    The config in force is the file outpostd loaded at boot: the medium's
    /boot/outpost.toml, else /boot/outpost.toml.bak, else the one built
    into the image (/etc/outpost.toml). /boot is mounted read-only; to
    change the config, edit a copy and save it:
        cp /boot/outpost.toml /tmp/new.toml && vi /tmp/new.toml
        outpostd save /tmp/new.toml
    `save FILE` checks FILE as if it were on the medium (key files are read
    from /boot), refuses it with file:line:column if it has errors, writes
    it as /boot/outpost.toml and applies it. The previous one is copied
    to outpost.toml.bak if it loads (a broken one never replaces the last
    good backup). A power cut at any moment leaves the old or the new
    file; /boot is read-write only meanwhile.
    `save` alone writes the config in force back (e.g. after a boot that
    fell back to outpost.toml.bak). A box booted without a medium (-kernel,
    PXE) has nothing to save to: save says so and exits 1.

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
    let mut socket = PathBuf::from(SOCKET_PATH);
    let mut request = None;
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
            "-s" | "--socket" => {
                socket = args
                    .next()
                    .ok_or(UsageError::MissingValue("--socket"))?
                    .into();
            }
            word if request.is_none() && Request::from_word(word).is_some() => {
                request = Request::from_word(word);
            }
            "ppp-hook" => {
                return Ok(Command::PppHook {
                    args: args.collect(),
                    socket,
                });
            }
            "dhcp-hook" => {
                let event = args.next().unwrap_or_default();
                if let Some(extra) = args.next() {
                    return Err(UsageError::Unexpected(extra));
                }
                return Ok(Command::DhcpHook { event, socket });
            }
            "save" if request.is_none() => {
                let file = args.next().map(PathBuf::from);
                if let Some(extra) = args.next() {
                    return Err(UsageError::Unexpected(extra));
                }
                return Ok(Command::Save { file, socket });
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
    Ok(match request {
        Some(request) => Command::Control { request, socket },
        None => Command::Daemon { config, socket },
    })
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
                config: DEFAULT_CONFIG.into(),
                socket: SOCKET_PATH.into()
            })
        );
    }

    #[test]
    fn config_can_be_overridden_both_ways() {
        let want = Ok(Command::Daemon {
            config: "/x.toml".into(),
            socket: SOCKET_PATH.into(),
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
    fn control_requests_take_a_socket() {
        assert_eq!(
            p(&["status"]),
            Ok(Command::Control {
                request: Request::Status,
                socket: SOCKET_PATH.into()
            })
        );
        assert_eq!(
            p(&["--socket", "/s", "log"]),
            Ok(Command::Control {
                request: Request::Log,
                socket: "/s".into()
            })
        );
        assert!(matches!(
            p(&["status", "log"]),
            Err(UsageError::Unexpected(_))
        ));
    }

    #[test]
    fn save_takes_an_optional_file() {
        assert_eq!(
            p(&["save"]),
            Ok(Command::Save {
                file: None,
                socket: SOCKET_PATH.into()
            })
        );
        assert_eq!(
            p(&["-s", "/s", "save", "/tmp/n.toml"]),
            Ok(Command::Save {
                file: Some("/tmp/n.toml".into()),
                socket: "/s".into()
            })
        );
        assert!(matches!(
            p(&["save", "a", "b"]),
            Err(UsageError::Unexpected(_))
        ));
    }

    #[test]
    fn ppp_hook_takes_the_rest_of_the_line() {
        assert_eq!(
            p(&[
                "--socket",
                "/s",
                "ppp-hook",
                "up",
                "vpn0",
                "/dev/pts/0",
                "0",
                "1.2.3.4",
                "1.2.3.5",
                "tunnel"
            ]),
            Ok(Command::PppHook {
                args: [
                    "up",
                    "vpn0",
                    "/dev/pts/0",
                    "0",
                    "1.2.3.4",
                    "1.2.3.5",
                    "tunnel"
                ]
                .map(String::from)
                .to_vec(),
                socket: "/s".into()
            })
        );
    }

    #[test]
    fn help_mentions_every_command() {
        for r in Request::ALL {
            assert!(HELP.contains(&format!("outpostd {}", r.word())), "{r:?}");
        }
        for word in [
            "check-config",
            "outpostd save",
            "--config",
            "--socket",
            "--version",
            "SIGHUP",
            "SIGTERM",
        ] {
            assert!(HELP.contains(word), "{word}");
        }
    }
}
