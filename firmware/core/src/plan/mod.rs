//! Plans: everything a valid [`crate::Config`] means for the box,
//! computed by pure functions — interface addresses, routes, sysctls, the
//! firewall [`Ruleset`], and per role the tunnel's command lines and files.
//! outpostd applies a plan; `mkoutpost plan` prints one. Nothing here
//! touches the system.

use std::net::Ipv4Addr;

use crate::net::{Ipv4Cidr, Ipv4Net};
use crate::ruleset::Ruleset;

/// Everything outpostd sets up for one config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The host name to set.
    pub hostname: String,
    /// Per device: address, DHCP, MTU; in config order.
    pub interfaces: Vec<InterfacePlan>,
    /// Static routes to install once interfaces are up (not tunnel routes).
    pub routes: Vec<RoutePlan>,
    /// Kernel settings written under `/proc/sys`.
    pub sysctls: Vec<Sysctl>,
    /// The whole firewall.
    pub ruleset: Ruleset,
    /// An office's tunnel, when the role is office.
    pub office: Option<OfficePlan>,
    /// A concentrator's accounts and daemons, when the role is concentrator.
    pub concentrator: Option<ConcentratorPlan>,
    /// The DHCP client and servers.
    pub dhcp: DhcpPlan,
    /// The router's own DNS servers (`[system] dns`), written to
    /// `/etc/resolv.conf`; none: the DHCP lease's.
    pub dns: Vec<Ipv4Addr>,
}

/// One interface's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfacePlan {
    /// The logical name from the config (`lan`, `wan`, …).
    pub name: String,
    /// The kernel device, e.g. `eth0`.
    pub device: String,
    /// The static address, if any.
    pub address: Option<Ipv4Cidr>,
    /// Whether to run a DHCP client (busybox udhcpc) on it instead.
    pub dhcp: bool,
    /// The MTU to set, if not the kernel's default.
    pub mtu: Option<u32>,
    /// The card, by MAC address, that must carry `device` (renamed at boot).
    pub mac: Option<[u8; 6]>,
}

/// One route. `via` absent means on-link through `dev`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoutePlan {
    /// Destination network (`0.0.0.0/0` for the default route).
    pub dst: Ipv4Net,
    /// Gateway, if any.
    pub via: Option<Ipv4Addr>,
    /// Output device (a kernel name, e.g. `eth1` or `vpn0`), if pinned.
    pub dev: Option<String>,
}

/// One `/proc/sys` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// Path under `/proc/sys`, e.g. `net/ipv4/ip_forward`.
    pub key: String,
    /// The value written.
    pub value: String,
}

/// An office's tunnel: pppd running dbclient over its `pty` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficePlan {
    /// `argv` of pppd, `argv[0]` included; run it with exactly this.
    pub pppd_argv: Vec<String>,
    /// The ppp interface pppd creates (its `ifname` option).
    pub ifname: String,
    /// The directory dbclient uses as `$HOME`: it reads the pinned host key
    /// from `<home>/.ssh/known_hosts` (dbclient 2022.83 has no option to
    /// name the file).
    pub ssh_home: String,
    /// Full path of the known_hosts file to write before starting pppd.
    pub known_hosts_path: String,
    /// Its content: one line pinning the concentrator's host key.
    pub known_hosts: String,
    /// Routes through the tunnel: install when the link is up (IPCP up),
    /// remove when it goes down. `dev` is [`OfficePlan::ifname`].
    pub link_routes: Vec<RoutePlan>,
    /// The concentrator's host name when the config gives one: resolved at
    /// each (re)connect, judged ([`OfficePlan::judge_concentrator`]) and
    /// dialled by address ([`OfficePlan::at_address`]).
    pub concentrator_name: Option<String>,
}

/// A concentrator: the ssh server and one account per peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcentratorPlan {
    /// `argv` of dropbear, `argv[0]` included (foreground, key-only).
    pub dropbear_argv: Vec<String>,
    /// Path of dropbear's host key file.
    pub host_key_path: String,
    /// The group every peer account is in (`/etc/group` line in `group_line`).
    pub group_line: String,
    /// One entry per `[[peer]]`, in config order.
    pub peers: Vec<PeerPlan>,
}

/// What the concentrator sets up for one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPlan {
    /// The peer's name (also its account name and its pppd `ipparam`).
    pub name: String,
    /// The `/etc/passwd` line for its account (no password, locked).
    pub passwd_line: String,
    /// Its home directory.
    pub home: String,
    /// Path of its `authorized_keys` file.
    pub authorized_keys_path: String,
    /// The `authorized_keys` content: the peer's key, forced to run pppd.
    pub authorized_keys: String,
    /// Path of the pppd options file (`/etc/ppp/peers/<name>`) the forced
    /// command `pppd call <name>` reads; privileged options are honoured
    /// there because the file is root's, not the caller's.
    pub pppd_options_path: String,
    /// Its content, one option per line.
    pub pppd_options: String,
    /// The ppp interface this peer's link gets (`ifname`).
    pub ifname: String,
    /// Routes to the peer's office networks: install when its link comes
    /// up, remove when it goes down. `dev` is [`PeerPlan::ifname`].
    pub link_routes: Vec<RoutePlan>,
}

pub mod boot;
mod concentrator;
mod dhcp;
mod firewall;
pub mod lease;
mod office;
pub mod render;

use std::path::Path;

pub use concentrator::{peer_ifname, PEER_GID, PEER_GROUP, PEER_UID_BASE, PPPD_PATH};
pub use dhcp::{
    dhcp_plan, DhcpClientPlan, DhcpPlan, DhcpServerPlan, DISCOVER_TRIES, DISCOVER_WAIT_S,
    PROVISIONAL_LEASE_S, RESOLV_CONF, UDHCPC_SCRIPT, UDHCPD_DIR,
};
pub use firewall::ruleset;
pub use office::{ConcentratorRefused, OFFICE_IFNAME, OFFICE_IPPARAM, OFFICE_SSH_HOME};

use crate::config::{Config, KeySource, Role};

/// pppd's ip-up hook on both roles (outpostd installs it; pppd runs it
/// with interface, tty, speed, local, remote, ipparam).
pub const PPP_IP_UP: &str = "/etc/outpost/ppp-ip-up";
/// pppd's ip-down hook.
pub const PPP_IP_DOWN: &str = "/etc/outpost/ppp-ip-down";

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A key is still a file reference; load it with [`crate::keyfiles`].
    #[error("{what} is still the file `{path}`: load key files before planning")]
    KeyNotLoaded {
        /// Which key.
        what: String,
        /// The file named in the config.
        path: String,
    },
}

fn loaded<'a>(k: &'a KeySource, what: &str) -> Result<&'a crate::keys::PublicKey, PlanError> {
    match k {
        KeySource::Inline(k) => Ok(k),
        KeySource::File(p) => Err(PlanError::KeyNotLoaded {
            what: what.into(),
            path: p.clone(),
        }),
    }
}

/// The plan for a valid config; relative file names in it (the identity)
/// are taken from `config_dir`.
pub fn plan(config: &Config, config_dir: &Path) -> Result<Plan, PlanError> {
    let router = config.system.role != Role::Host;
    let dev = |name: &str| {
        config
            .interface(name)
            .map_or_else(|| name.to_string(), |i| i.device.clone())
    };
    let mut sysctls = vec![Sysctl {
        key: "net/ipv4/ip_forward".into(),
        value: if router { "1" } else { "0" }.into(),
    }];
    for (k, v) in [
        ("net/ipv4/conf/all/rp_filter", "1"),
        ("net/ipv4/conf/default/rp_filter", "1"),
        ("net/ipv4/conf/all/accept_redirects", "0"),
        ("net/ipv4/conf/all/send_redirects", "0"),
        ("net/ipv4/conf/all/accept_source_route", "0"),
    ] {
        sysctls.push(Sysctl {
            key: k.into(),
            value: v.into(),
        });
    }
    // The seed's `proxyarp`: a peer's tunnel end or LAN inside one of the
    // concentrator's own networks is answered for there, or that network's
    // hosts (which think it on-link) could not reach it and their replies
    // could not get back through the tunnel.
    if config.system.role == Role::Concentrator {
        for i in &config.interfaces {
            let Some(a) = i.address else { continue };
            let net = a.network();
            let nested = config.peers.iter().any(|p| {
                net.contains(p.tunnel_address)
                    || p.networks
                        .iter()
                        .any(|n| n.prefix() >= net.prefix() && net.contains(n.addr()))
            });
            if nested {
                sysctls.push(Sysctl {
                    key: format!("net/ipv4/conf/{}/proxy_arp", i.device),
                    value: "1".into(),
                });
            }
        }
    }
    let office = match (&config.tunnel, config.system.role) {
        (Some(t), Role::Office) => Some(office::office_plan(
            t,
            loaded(&t.host_key, "the concentrator's host key")?,
            config_dir,
        )),
        _ => None,
    };
    let concentrator = match (&config.concentrator, config.system.role) {
        (Some(c), Role::Concentrator) => {
            let keys = config
                .peers
                .iter()
                .map(|p| loaded(&p.public_key, &format!("peer {}'s public key", p.name)).cloned())
                .collect::<Result<Vec<_>, _>>()?;
            Some(concentrator::concentrator_plan(
                config, c, &keys, config_dir,
            ))
        }
        _ => None,
    };
    Ok(Plan {
        hostname: config.system.hostname.clone(),
        interfaces: config
            .interfaces
            .iter()
            .map(|i| InterfacePlan {
                name: i.name.clone(),
                device: i.device.clone(),
                address: i.address,
                dhcp: i.dhcp,
                mtu: i.mtu,
                mac: i.mac,
            })
            .collect(),
        routes: config
            .routes
            .iter()
            .map(|r| RoutePlan {
                dst: r.to,
                via: r.via,
                dev: r.dev.as_deref().map(dev),
            })
            .collect(),
        sysctls,
        ruleset: ruleset(config),
        office,
        concentrator,
        dhcp: dhcp_plan(config),
        dns: config.system.dns.clone(),
    })
}

/// `s` quoted for `/bin/sh` (pppd runs its `pty` command with `sh -c`).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
