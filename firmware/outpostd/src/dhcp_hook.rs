//! udhcpc's script calling back into the agent, as pppd's hooks do
//! ([`crate::hooks`]): outpostd writes the script ([`UDHCPC_SCRIPT`]); udhcpc
//! runs it with the event as `$1` and the lease in its environment; it
//! execs `outpostd dhcp-hook EVENT`, which sends one line
//! `dhcp EVENT DEVICE ip=… mask=… router=… dns=… lease=… serverid=…` over
//! the control socket and waits for the answer, so udhcpc carries on only
//! once the agent has applied (or refused) the lease. Nothing is parsed
//! here beyond words: the agent judges the lease.

use std::collections::BTreeMap;
use std::path::Path;

use outpost_core::plan::lease::LeaseEvent;
use outpost_core::plan::UDHCPC_SCRIPT;

use crate::control::{ControlError, Reply};

/// The variables of udhcpc's environment that travel; lists are joined
/// with `,` so every value is one word.
const CARRIED: [&str; 6] = ["ip", "mask", "router", "dns", "lease", "serverid"];

/// One script call, as it travels over the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpMessage {
    /// What udhcpc said.
    pub event: LeaseEvent,
    /// The interface (udhcpc's `interface`).
    pub device: String,
    /// `key=value` words from [`CARRIED`].
    pub words: Vec<String>,
}

/// Why the script's call makes no sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhcpHookError {
    /// Not one of udhcpc's events.
    #[error("dhcp-hook needs udhcpc's event (bound, renew, deconfig, leasefail, nak), got `{0}`")]
    Event(String),
    /// udhcpc names no interface.
    #[error("dhcp-hook: udhcpc set no `interface`")]
    Interface,
}

fn plain(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

impl DhcpMessage {
    /// From the script's `$1` and udhcpc's environment.
    pub fn from_env(
        event: &str,
        env: &BTreeMap<String, String>,
    ) -> Result<DhcpMessage, DhcpHookError> {
        let event =
            LeaseEvent::from_word(event).ok_or_else(|| DhcpHookError::Event(event.into()))?;
        let device = env
            .get("interface")
            .filter(|d| plain(d))
            .ok_or(DhcpHookError::Interface)?
            .clone();
        let words = CARRIED
            .iter()
            .filter_map(|k| {
                let v = env
                    .get(*k)?
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(",");
                plain(&v).then(|| format!("{k}={v}"))
            })
            .collect();
        Ok(DhcpMessage {
            event,
            device,
            words,
        })
    }

    /// The line sent over the control socket.
    pub fn encode(&self) -> String {
        let mut s = format!("dhcp {} {}", self.event.word(), self.device);
        for w in &self.words {
            s.push(' ');
            s.push_str(w);
        }
        s
    }

    /// Parses a line from [`DhcpMessage::encode`]; `None` if it is not one.
    pub fn parse(line: &str) -> Option<DhcpMessage> {
        let mut it = line.split_whitespace();
        if it.next()? != "dhcp" {
            return None;
        }
        let event = LeaseEvent::from_word(it.next()?)?;
        let device = it.next().filter(|d| plain(d))?.to_string();
        let words: Vec<String> = it.map(str::to_string).collect();
        let known = |w: &String| w.split_once('=').is_some_and(|(k, _)| CARRIED.contains(&k));
        words.iter().all(known).then_some(DhcpMessage {
            event,
            device,
            words,
        })
    }
}

/// Sends `msg` to the agent at `socket` (what `outpostd dhcp-hook` does).
pub fn notify(socket: &Path, msg: &DhcpMessage) -> Result<Reply, ControlError> {
    crate::control::ask_line(socket, &msg.encode())
}

/// The script udhcpc runs: hand the event to `outpostd` at `exe`.
pub fn script(exe: &Path, socket: &Path) -> String {
    format!(
        "#!/bin/sh\n# Written by outpostd: udhcpc's script tells the agent, which applies the lease.\nexec {} --socket {} dhcp-hook \"$1\"\n",
        outpost_core::plan::shell_quote(&exe.display().to_string()),
        outpost_core::plan::shell_quote(&socket.display().to_string()),
    )
}

/// Writes the script (mode 0755) at [`UDHCPC_SCRIPT`].
pub fn install(exe: &Path, socket: &Path) -> std::io::Result<()> {
    crate::hooks::write_script(Path::new(UDHCPC_SCRIPT), &script(exe, socket))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn udhcpcs_call_round_trips_over_the_wire() {
        let m = DhcpMessage::from_env(
            "bound",
            &env(&[
                ("interface", "eth1"),
                ("ip", "172.31.0.50"),
                ("mask", "24"),
                ("router", "172.31.0.1"),
                ("dns", "172.31.0.1 10.0.0.53"),
                ("lease", "60"),
                ("serverid", "172.31.0.1"),
                ("PATH", "/bin"),
                ("hostname", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(
            m.encode(),
            "dhcp bound eth1 ip=172.31.0.50 mask=24 router=172.31.0.1 dns=172.31.0.1,10.0.0.53 lease=60 serverid=172.31.0.1"
        );
        assert_eq!(DhcpMessage::parse(&m.encode()), Some(m.clone()));
        let lease =
            outpost_core::plan::lease::Lease::from_words(m.words.iter().map(String::as_str))
                .unwrap();
        assert_eq!(lease.dns.len(), 2);
        let d = DhcpMessage::from_env("deconfig", &env(&[("interface", "eth1")])).unwrap();
        assert_eq!(d.encode(), "dhcp deconfig eth1");
        assert_eq!(DhcpMessage::parse("dhcp deconfig eth1"), Some(d));
    }

    #[test]
    fn bad_calls_are_refused() {
        assert_eq!(
            DhcpMessage::from_env("sideways", &env(&[("interface", "eth1")])),
            Err(DhcpHookError::Event("sideways".into()))
        );
        assert_eq!(
            DhcpMessage::from_env("bound", &env(&[])),
            Err(DhcpHookError::Interface)
        );
        assert_eq!(DhcpMessage::parse("dhcp bound"), None);
        assert_eq!(DhcpMessage::parse("dhcp bound eth1 PATH=/bin"), None);
        assert_eq!(DhcpMessage::parse("ppp-up vpn0 1.2.3.4 1.2.3.5 x"), None);
    }

    #[test]
    fn the_script_execs_the_agent_with_the_event() {
        let s = script(Path::new("/sbin/outpostd"), Path::new("/run/outpostd.sock"));
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.ends_with("exec /sbin/outpostd --socket /run/outpostd.sock dhcp-hook \"$1\"\n"));
    }
}
