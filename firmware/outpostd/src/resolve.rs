//! The concentrator by name: looked up at each (re)connect through the
//! router's DNS servers (`/etc/resolv.conf`: `[system] dns`, else the DHCP
//! lease's; musl's resolver reads it at each lookup), judged by the core
//! (an address on a tunnel network is refused, as validation refuses one
//! written in the config), then dialled by address with the pinned key
//! written for that address. Runs on a blocking thread (the supervisor's
//! `prepare`): a lookup may wait seconds for an unanswering server.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};

use log::info;
use outpost_core::plan::OfficePlan;

use crate::supervisor::roles::write_known_hosts;

/// The first IPv4 address `name` resolves to.
pub fn resolve_v4(name: &str) -> Result<Ipv4Addr, String> {
    let addrs = (name, 22)
        .to_socket_addrs()
        .map_err(|e| format!("the concentrator's name {name} does not resolve: {e}"))?;
    addrs
        .filter_map(|a| match a {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| format!("the concentrator's name {name} has no IPv4 address"))
}

/// For an office whose concentrator is `name`: resolve, judge, pin the key
/// for the address, and return the pppd argv that dials it.
pub fn prepare_tunnel(office: &OfficePlan, name: &str) -> Result<Vec<String>, String> {
    let addr = resolve_v4(name)?;
    office
        .judge_concentrator(name, addr)
        .map_err(|e| format!("refused: {e}"))?;
    let at = office.at_address(addr);
    write_known_hosts(&at).map_err(|e| format!("writing {}: {e}", at.known_hosts_path))?;
    info!("the concentrator {name} is {addr}");
    Ok(at.pppd_argv)
}
