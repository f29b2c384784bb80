//! The office's tunnel plan: pppd with its `pty` option running dbclient.
//! No trust on first use: the concentrator's pinned host key is written to
//! a known_hosts file under a dedicated `$HOME` (dbclient 2022.83 reads only
//! `$HOME/.ssh/known_hosts`), and dbclient runs without `-y`, so an
//! unknown or changed key ends the connection.

use std::path::Path;

use crate::config::Tunnel;
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
    }
}
