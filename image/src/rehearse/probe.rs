//! One check of the plan as real packets between two guests: pings (the
//! far end's own ICMP counter tells whether a refused echo reached it) and
//! a TCP connection with busybox `nc` (the far end's `netstat` tells which
//! address it came from). A check is "accepted" when both the ping is
//! answered and the TCP bytes arrive; "refused" when neither gets through.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use outpost_core::site::rehearsal::{Check, GuestKind};
use outpost_qemu::Machine;

use super::boot::Running;
use super::transfer::wait_listening;
use super::CMD_TIMEOUT;

/// Pings an accepted pair gets before it counts as refused: the first may
/// be lost while a route or an ARP entry settles.
pub const ACCEPT_TRIES: u32 = 3;

/// What the packets did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// A ping was answered.
    pub ping: bool,
    /// The TCP bytes arrived.
    pub tcp: bool,
    /// An echo request reached the far end (answered or not).
    pub reached: bool,
    /// The source address the far end saw on the TCP connection.
    pub seen: Option<Ipv4Addr>,
    /// How long the check took.
    pub time: Duration,
}

impl Observed {
    /// Whether the connection was accepted (both ways of trying agree).
    pub fn accepted(&self) -> bool {
        self.ping && self.tcp
    }

    /// Whether this is what `check` expects: all through, or nothing.
    pub fn as_expected(&self, check: &Check) -> bool {
        if check.accept {
            self.accepted() && check.seen_as.is_none_or(|a| self.seen == Some(a))
        } else {
            !self.ping && !self.tcp && !self.reached
        }
    }

    /// A few words on what happened.
    pub fn describe(&self) -> String {
        let mut s = match (self.ping, self.tcp) {
            (true, true) => "accepted".to_string(),
            (false, false) if self.reached => "refused (echo reached the far end)".into(),
            (false, false) => "refused".into(),
            (true, false) => "ping only, TCP refused".into(),
            (false, true) => "TCP only, ping refused".into(),
        };
        if let Some(a) = self.seen {
            s.push_str(&format!(", seen as {a}"));
        }
        s
    }
}

/// ICMP echo requests `m` has received so far (its kernel's own count).
pub fn in_echos(m: &Machine) -> Result<u64> {
    let out = m.run_ok("grep '^Icmp:' /proc/net/snmp", CMD_TIMEOUT)?;
    let mut lines = out.lines().filter(|l| l.starts_with("Icmp:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        bail!("{}: unexpected /proc/net/snmp:\n{out}", m.name())
    };
    let at = names
        .split_whitespace()
        .position(|n| n == "InEchos")
        .context("no InEchos column")?;
    values
        .split_whitespace()
        .nth(at)
        .and_then(|v| v.parse().ok())
        .context("no InEchos value")
}

/// Runs `check` on the running site, its TCP connection on `port`.
pub fn run(site: &Running, check: &Check, port: u16) -> Result<Observed> {
    let t = Instant::now();
    let from = site.machine(&check.from)?;
    let to = site.machine(&check.to)?;
    let dst = check.to_ip;
    // A check from a second address of a test host: a host route with that
    // source, for this check only.
    let via = from_route(site, from, check)?;
    let result = (|| {
        let before = in_echos(to)?;
        let tries = if check.accept { ACCEPT_TRIES } else { 1 };
        let mut ping = false;
        for _ in 0..tries {
            if from
                .run(&format!("ping -c 2 -W 2 {dst}"), CMD_TIMEOUT)?
                .status
                == 0
            {
                ping = true;
                break;
            }
        }
        let reached = in_echos(to)? > before;
        let (tcp, seen) = tcp(from, to, dst, port)?;
        Ok(Observed {
            ping,
            tcp,
            reached,
            seen,
            time: t.elapsed(),
        })
    })();
    if let Some(route) = via {
        let _ = from.run(&format!("ip route del {route}"), CMD_TIMEOUT);
    }
    result
}

/// Adds the host route `check` needs when it sends from a test host's
/// second address; returns it, for removal.
fn from_route(site: &Running, from: &Machine, check: &Check) -> Result<Option<String>> {
    let extra = site.plan.guests.iter().any(|g| {
        g.name == check.from
            && matches!(&g.kind, GuestKind::Host { extra, .. } if extra.iter().any(|a| a.addr == check.from_ip))
    });
    if !extra {
        return Ok(None);
    }
    let route = from.run_ok("ip route show default", CMD_TIMEOUT)?;
    let gw = route
        .split_whitespace()
        .skip_while(|w| *w != "via")
        .nth(1)
        .with_context(|| {
            format!(
                "{}: no default route to send from {}",
                from.name(),
                check.from_ip
            )
        })?
        .to_string();
    let r = format!("{}/32", check.to_ip);
    from.run_ok(
        &format!("ip route replace {r} via {gw} src {}", check.from_ip),
        CMD_TIMEOUT,
    )?;
    Ok(Some(r))
}

/// A TCP connection from `from` to `dst:port` on `to`: whether its bytes
/// arrived, and the peer address `to` saw while it was open.
fn tcp(from: &Machine, to: &Machine, dst: Ipv4Addr, port: u16) -> Result<(bool, Option<Ipv4Addr>)> {
    let file = format!("/tmp/rehearse.{port}");
    // `sleep |` keeps the listener's stdin open: with /dev/null it would
    // close the connection as soon as it is accepted.
    to.run_ok(
        &format!("rm -f {file}; (sleep 12 | nc -l -p {port} > {file} 2>/dev/null &)"),
        CMD_TIMEOUT,
    )?;
    wait_listening(to, port)?;
    // The sender holds the connection open a few seconds, so the far end
    // can be asked who it is talking to.
    from.run_ok(
        &format!("((echo rehearse; sleep 4) | nc -w 6 {dst} {port} >/dev/null 2>&1 &)"),
        CMD_TIMEOUT,
    )?;
    let mut seen = None;
    for _ in 0..6 {
        let conns = to.run_ok(
            &format!("netstat -tn | grep ':{port} ' | grep ESTABLISHED || true"),
            CMD_TIMEOUT,
        )?;
        seen = peer_of(&conns, port);
        if seen.is_some() {
            break;
        }
        to.run_ok("sleep 1", CMD_TIMEOUT)?;
    }
    let got = to.run_ok(
        &format!("sleep 1; cat {file} 2>/dev/null || true"),
        CMD_TIMEOUT,
    )?;
    let _ = to.run(
        &format!("pkill -f 'nc -l -p {port}'; pkill -f 'sleep 12'"),
        CMD_TIMEOUT,
    );
    Ok((got.contains("rehearse"), seen))
}

/// The foreign address of the established connection to local `port` in
/// `netstat -tn` output.
pub fn peer_of(netstat: &str, port: u16) -> Option<Ipv4Addr> {
    netstat.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let local = f.get(3)?;
        let foreign = f.get(4)?;
        if !local.ends_with(&format!(":{port}")) || !l.contains("ESTABLISHED") {
            return None;
        }
        foreign.rsplit_once(':')?.0.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_is_read_from_netstat() {
        let out =
            "tcp        0      0 172.16.0.100:5003       172.16.0.2:40012        ESTABLISHED\n\
                   tcp        0      0 172.16.0.100:22         172.16.0.9:1            ESTABLISHED";
        assert_eq!(peer_of(out, 5003), Some(Ipv4Addr::new(172, 16, 0, 2)));
        assert_eq!(peer_of(out, 5004), None);
        assert_eq!(peer_of("", 5003), None);
    }
}
