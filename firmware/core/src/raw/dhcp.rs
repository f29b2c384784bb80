//! `[[dhcp_server]]` as written: a DHCP server (busybox udhcpd) on one of
//! the router's interfaces. Checked by `validate/dhcp.rs`.

use serde::Deserialize;
use toml::Spanned;

use super::S;

/// `[[dhcp_server]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDhcpServer {
    /// The logical interface it serves (`lan`).
    pub interface: S,
    /// The addresses handed out, `FIRST-LAST`.
    pub range: S,
    /// Lease time, seconds.
    #[serde(default)]
    pub lease: Option<Spanned<i64>>,
    /// DNS servers handed out (default: the WAN lease's).
    #[serde(default)]
    pub dns: Option<Vec<S>>,
    /// `[[dhcp_server.static]]`: fixed addresses by MAC.
    #[serde(default, rename = "static")]
    pub statics: Vec<Spanned<RawStaticLease>>,
}

/// `[[dhcp_server.static]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStaticLease {
    /// The client's MAC address, `52:54:00:12:34:56`.
    pub mac: S,
    /// The address it always gets.
    pub address: S,
}
