//! The concentrator's plan: dropbear, key-only, and one locked account per
//! peer whose `authorized_keys` forces `pppd call <peer>`; the per-peer
//! options file carries the privileged options (addresses, `ifname`), which
//! pppd honours there because the file is root's.

use crate::config::{Concentrator, Config, Peer};
use crate::keys::PublicKey;
use crate::plan::{ConcentratorPlan, PeerPlan, RoutePlan, PPP_IP_DOWN, PPP_IP_UP};
use std::path::Path;

/// The group of all peer accounts.
pub const PEER_GROUP: &str = "outpost-vpn";
/// Its gid.
pub const PEER_GID: u32 = 900;
/// The first peer's uid; peer `i` (config order) gets `PEER_UID_BASE + i`.
pub const PEER_UID_BASE: u32 = 2000;
/// The pppd the forced command runs (installed setuid root on the image).
pub const PPPD_PATH: &str = "/usr/sbin/pppd";

/// The ppp interface of peer `name`.
pub fn peer_ifname(name: &str) -> String {
    format!("vpn-{name}")
}

/// The plan for a concentrator; `keys[i]` is peer `i`'s public key; a
/// relative host key path is taken from `config_dir`.
pub fn concentrator_plan(
    config: &Config,
    c: &Concentrator,
    keys: &[PublicKey],
    config_dir: &Path,
) -> ConcentratorPlan {
    let host_key = config_dir.join(&c.host_key_file).display().to_string();
    let listen = config
        .interface(&c.interface)
        .and_then(|i| i.address)
        .map_or(c.port.to_string(), |a| format!("{}:{}", a.addr, c.port));
    // Only options Outpost's dropbear build accepts: it has no password
    // authentication and no TCP forwarding compiled in (image/src/dropbear.rs
    // `localoptions.h`), so `-s -g -j -k` would be rejected as unknown, and
    // with syslog compiled out it always logs to stderr (no `-E`). `-F`
    // keeps it in the foreground as outpostd's supervised child.
    let dropbear_argv = ["dropbear", "-F", "-r", &host_key, "-p", &listen]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ConcentratorPlan {
        dropbear_argv,
        host_key_path: host_key.clone(),
        group_line: format!("{PEER_GROUP}:x:{PEER_GID}:"),
        peers: config
            .peers
            .iter()
            .zip(keys)
            .enumerate()
            .map(|(i, (p, k))| peer_plan(c, p, k, PEER_UID_BASE + i as u32))
            .collect(),
    }
}

fn peer_plan(c: &Concentrator, p: &Peer, key: &PublicKey, uid: u32) -> PeerPlan {
    let home = format!("/home/{}", p.name);
    let ifname = peer_ifname(&p.name);
    let options = [
        "notty".to_string(),
        "nodetach".into(),
        "noauth".into(),
        "nodefaultroute".into(),
        "nodeflate".into(),
        "nobsdcomp".into(),
        // IPv4 only, as on the office's end (plan/office.rs).
        "noipv6".into(),
        format!("{}:{}", c.address, p.tunnel_address),
        format!("ifname {ifname}"),
        format!("linkname {ifname}"),
        format!("ipparam {}", p.name),
        format!("lcp-echo-interval {}", c.lcp_echo_interval),
        format!("lcp-echo-failure {}", c.lcp_echo_failure),
        format!("ip-up-script {PPP_IP_UP}"),
        format!("ip-down-script {PPP_IP_DOWN}"),
    ];
    PeerPlan {
        name: p.name.clone(),
        passwd_line: format!("{0}:*:{uid}:{PEER_GID}:outpost peer {0}:{home}:/bin/sh", p.name),
        authorized_keys_path: format!("{home}/.ssh/authorized_keys"),
        authorized_keys: format!(
            "command=\"{PPPD_PATH} call {}\",no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-pty {} {}\n",
            p.name,
            key.key_text(),
            p.name
        ),
        home,
        pppd_options_path: format!("/etc/ppp/peers/{}", p.name),
        pppd_options: options.join("\n") + "\n",
        link_routes: p
            .networks
            .iter()
            .map(|n| RoutePlan { dst: *n, via: None, dev: Some(ifname.clone()) })
            .collect(),
        ifname,
    }
}
