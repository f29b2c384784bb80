//! The office's tunnel plan: pppd with its `pty` option running dbclient.
//! No trust on first use: the concentrator's pinned host key is written to
//! a known_hosts file under a dedicated `$HOME` (dbclient 2022.83 reads only
//! `$HOME/.ssh/known_hosts`), and dbclient runs without `-y`, so an
//! unknown or changed key ends the connection.

use std::path::Path;

use std::net::Ipv4Addr;

use crate::config::{ConcentratorHost, Tunnel};
use crate::keys::PublicKey;
use crate::plan::{shell_quote, OfficePlan, RoutePlan, PPP_IP_DOWN, PPP_IP_UP};

/// The office's ppp interface.
pub const OFFICE_IFNAME: &str = "vpn0";
/// dbclient's `$HOME` on the router (tmpfs).
pub const OFFICE_SSH_HOME: &str = "/run/outpost/ssh";
/// pppd's `ipparam` for the office link, passed to the ip-up/down hooks.
pub const OFFICE_IPPARAM: &str = "tunnel";

/// The plan for `tunnel`, whose host key is `host_key`; relative identity
/// paths are taken from `config_dir`.
pub fn office_plan(tunnel: &Tunnel, host_key: &PublicKey, config_dir: &Path) -> OfficePlan {
    let identity = config_dir.join(&tunnel.identity).display().to_string();
    let dbclient = format!(
        "HOME={} exec dbclient {} -i {} -p {} {}@{}",
        shell_quote(OFFICE_SSH_HOME),
        if tunnel.pty { "-t" } else { "-T" },
        shell_quote(&identity),
        tunnel.port,
        tunnel.account,
        tunnel.concentrator
    );
    let mut argv: Vec<String> = vec!["pppd".into(), "pty".into(), dbclient];
    for a in [
        "nodetach",
        "noauth",
        "nodefaultroute",
        "nodeflate",
        "nobsdcomp",
        // IPv4 only, as the routes and the filter are: IPv6CP would give
        // the link link-local addresses nothing routes or filters for.
        "noipv6",
        "ifname",
        OFFICE_IFNAME,
        "linkname",
        OFFICE_IFNAME,
        "ipparam",
        OFFICE_IPPARAM,
        "ip-up-script",
        PPP_IP_UP,
        "ip-down-script",
        PPP_IP_DOWN,
    ] {
        argv.push(a.into());
    }
    argv.extend([
        "lcp-echo-interval".into(),
        tunnel.lcp_echo_interval.to_string(),
        "lcp-echo-failure".into(),
        tunnel.lcp_echo_failure.to_string(),
    ]);
    match (tunnel.local, tunnel.remote) {
        (None, None) => argv.push("noipdefault".into()),
        (l, r) => argv.push(format!(
            "{}:{}",
            l.map(|a| a.to_string()).unwrap_or_default(),
            r.map(|a| a.to_string()).unwrap_or_default()
        )),
    }
    OfficePlan {
        pppd_argv: argv,
        ifname: OFFICE_IFNAME.into(),
        ssh_home: OFFICE_SSH_HOME.into(),
        known_hosts_path: format!("{OFFICE_SSH_HOME}/.ssh/known_hosts"),
        known_hosts: format!("{} {}\n", tunnel.concentrator, host_key.key_text()),
        link_routes: tunnel
            .networks
            .iter()
            .map(|n| RoutePlan {
                dst: *n,
                via: None,
                dev: Some(OFFICE_IFNAME.into()),
            })
            .collect(),
        concentrator_name: match &tunnel.concentrator {
            ConcentratorHost::Name(n) => Some(n.clone()),
            ConcentratorHost::Address(_) => None,
        },
    }
}

/// Why a resolved concentrator address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name} resolves to {addr}, inside the tunnel network {net}: the ssh connection that carries the tunnel would be routed into the tunnel itself (seed ch. 6, 1.4); fix the name's DNS record or narrow the tunnel's networks")]
pub struct ConcentratorRefused {
    /// The name.
    pub name: String,
    /// What it resolved to.
    pub addr: Ipv4Addr,
    /// The tunnel network it lies in.
    pub net: crate::net::Ipv4Net,
}

impl OfficePlan {
    /// Refuses an address the concentrator's name resolved to when it
    /// lies on a tunnel network, as validation refuses such an address
    /// written in the config.
    pub fn judge_concentrator(
        &self,
        name: &str,
        addr: Ipv4Addr,
    ) -> Result<(), ConcentratorRefused> {
        match self.link_routes.iter().find(|r| r.dst.contains(addr)) {
            Some(r) => Err(ConcentratorRefused {
                name: name.to_string(),
                addr,
                net: r.dst,
            }),
            None => Ok(()),
        }
    }

    /// This plan with the concentrator at `addr` (its name resolved):
    /// dbclient dials the address, and the pinned key is the address's in
    /// known_hosts (dbclient looks a host up by what it dials).
    pub fn at_address(&self, addr: Ipv4Addr) -> OfficePlan {
        let mut p = self.clone();
        if let Some(pty) = p.pppd_argv.get_mut(2) {
            if let Some((dial, _)) = pty.rsplit_once('@') {
                *pty = format!("{dial}@{addr}");
            }
        }
        if let Some((_, key)) = p.known_hosts.split_once(' ') {
            p.known_hosts = format!("{addr} {key}");
        }
        p
    }
}
