//! pppd's ip-up / ip-down hooks calling back into the agent. outpostd writes
//! the two hook scripts (paths from the plan: [`PPP_IP_UP`], [`PPP_IP_DOWN`]);
//! pppd runs them as root with `IFNAME TTY SPEED LOCAL REMOTE IPPARAM`;
//! each one execs `outpostd ppp-hook up|down ...`, which sends one line
//! `ppp-up IFNAME LOCAL REMOTE IPPARAM` (or `ppp-down ...`) over the control
//! socket. The agent routes it by `ipparam`: the office's tunnel, or the
//! concentrator's peer of that name.

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use outpost_core::plan::{PPP_IP_DOWN, PPP_IP_UP};

use crate::control::{ControlError, Reply};

/// One hook call, as it travels over the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookMessage {
    /// `true` for ip-up, `false` for ip-down.
    pub up: bool,
    /// The ppp interface.
    pub ifname: String,
    /// Our address on the link.
    pub local: Ipv4Addr,
    /// The peer's address.
    pub remote: Ipv4Addr,
    /// pppd's `ipparam`: `tunnel` on an office, the peer's name on a concentrator.
    pub ipparam: String,
}

/// Why hook arguments make no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// Not `up` or `down`.
    #[error("ppp-hook needs `up` or `down` first, got `{0}`")]
    Direction(String),
    /// Too few arguments.
    #[error("ppp-hook {0}: expected IFNAME TTY SPEED LOCAL REMOTE [IPPARAM] as pppd passes them")]
    Arguments(&'static str),
    /// An address that is not IPv4.
    #[error("ppp-hook: `{0}` is not an IPv4 address")]
    Address(String),
    /// A word with characters that cannot travel on one line.
    #[error("ppp-hook: `{0}` is not a plain word")]
    Word(String),
}

fn word(s: &str) -> Result<String, HookError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(s.to_string())
    } else {
        Err(HookError::Word(s.to_string()))
    }
}

fn addr(s: &str) -> Result<Ipv4Addr, HookError> {
    s.parse().map_err(|_| HookError::Address(s.to_string()))
}

impl HookMessage {
    /// From the hook command line: `up|down IFNAME TTY SPEED LOCAL REMOTE [IPPARAM]`.
    pub fn from_args(args: &[String]) -> Result<HookMessage, HookError> {
        let (up, dir) = match args.first().map(String::as_str) {
            Some("up") => (true, "up"),
            Some("down") => (false, "down"),
            other => return Err(HookError::Direction(other.unwrap_or("").to_string())),
        };
        if args.len() < 6 {
            return Err(HookError::Arguments(dir));
        }
        Ok(HookMessage {
            up,
            ifname: word(&args[1])?,
            local: addr(&args[4])?,
            remote: addr(&args[5])?,
            ipparam: match args.get(6) {
                Some(p) if !p.is_empty() => word(p)?,
                _ => "-".into(),
            },
        })
    }

    /// The line sent over the control socket.
    pub fn encode(&self) -> String {
        format!(
            "{} {} {} {} {}",
            if self.up { "ppp-up" } else { "ppp-down" },
            self.ifname,
            self.local,
            self.remote,
            self.ipparam
        )
    }

    /// Parses a line from [`HookMessage::encode`]; `None` if it is not one.
    pub fn parse(line: &str) -> Option<HookMessage> {
        let mut it = line.split_whitespace();
        let up = match it.next()? {
            "ppp-up" => true,
            "ppp-down" => false,
            _ => return None,
        };
        let m = HookMessage {
            up,
            ifname: word(it.next()?).ok()?,
            local: it.next()?.parse().ok()?,
            remote: it.next()?.parse().ok()?,
            ipparam: word(it.next()?).ok()?,
        };
        it.next().is_none().then_some(m)
    }
}

/// Sends `msg` to the agent at `socket` (what `outpostd ppp-hook` does).
pub fn notify(socket: &Path, msg: &HookMessage) -> Result<Reply, ControlError> {
    crate::control::ask_line(socket, &msg.encode())
}

/// The script pppd runs for `direction` (`up`/`down`): hand everything to
/// `outpostd` at `exe`, talking to `socket`.
pub fn script(exe: &Path, socket: &Path, direction: &str) -> String {
    format!(
        "#!/bin/sh\n# Written by outpostd: pppd's ip-{direction} hook tells the agent.\nexec {} --socket {} ppp-hook {direction} \"$@\"\n",
        outpost_core::plan::shell_quote(&exe.display().to_string()),
        outpost_core::plan::shell_quote(&socket.display().to_string()),
    )
}

/// Writes both hook scripts (mode 0755) at the plan's paths.
pub fn install(exe: &Path, socket: &Path) -> std::io::Result<()> {
    install_at(exe, socket, Path::new(PPP_IP_UP), Path::new(PPP_IP_DOWN))
}

/// Writes both hook scripts at the given paths.
pub fn install_at(exe: &Path, socket: &Path, up: &Path, down: &Path) -> std::io::Result<()> {
    for (path, dir) in [(up, "up"), (down, "down")] {
        write_script(path, &script(exe, socket, dir))?;
    }
    Ok(())
}

/// Writes an executable script (mode 0755) atomically, its directory made
/// if needed: a program running it meanwhile finds the old one or the new.
pub fn write_script(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn pppd_arguments_round_trip_over_the_wire() {
        let m = HookMessage::from_args(&args(
            "up vpn0 /dev/pts/1 38400 10.254.0.2 10.254.0.1 tunnel",
        ))
        .unwrap();
        assert_eq!(
            m,
            HookMessage {
                up: true,
                ifname: "vpn0".into(),
                local: "10.254.0.2".parse().unwrap(),
                remote: "10.254.0.1".parse().unwrap(),
                ipparam: "tunnel".into()
            }
        );
        assert_eq!(m.encode(), "ppp-up vpn0 10.254.0.2 10.254.0.1 tunnel");
        assert_eq!(HookMessage::parse(&m.encode()), Some(m));
        let d = HookMessage::from_args(&args(
            "down vpn-office1 notty 0 10.254.0.1 10.254.0.2 office1",
        ))
        .unwrap();
        assert!(!d.up);
        assert_eq!(HookMessage::parse(&d.encode()), Some(d));
    }

    #[test]
    fn bad_hook_calls_are_refused() {
        assert!(matches!(
            HookMessage::from_args(&args("sideways vpn0 a b 1.2.3.4 1.2.3.5")),
            Err(HookError::Direction(_))
        ));
        assert!(matches!(
            HookMessage::from_args(&args("up vpn0 tty")),
            Err(HookError::Arguments("up"))
        ));
        assert!(matches!(
            HookMessage::from_args(&args("up vpn0 tty 0 10.0.0.300 1.2.3.4")),
            Err(HookError::Address(_))
        ));
        assert_eq!(HookMessage::parse("status"), None);
        assert_eq!(
            HookMessage::parse("ppp-up vpn0 1.2.3.4 1.2.3.5 x extra"),
            None
        );
        assert_eq!(HookMessage::parse("ppp-up vpn0 1.2.3.4"), None);
    }

    #[test]
    fn a_missing_ipparam_is_a_dash() {
        let m = HookMessage::from_args(&args("up ppp0 tty 0 1.2.3.4 1.2.3.5")).unwrap();
        assert_eq!(m.ipparam, "-");
    }

    #[test]
    fn scripts_exec_the_agent_with_pppds_arguments() {
        let s = script(
            Path::new("/sbin/outpostd"),
            Path::new("/run/outpostd.sock"),
            "up",
        );
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("exec /sbin/outpostd --socket /run/outpostd.sock ppp-hook up \"$@\"\n"));
    }
}
