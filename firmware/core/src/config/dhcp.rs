//! DHCP in the config model: the server an interface runs
//! (`[[dhcp_server]]`, busybox udhcpd) and its defaults. The client is
//! `dhcp = true` on an [`crate::config::Interface`].

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Default `[[dhcp_server]] lease`: a day, as most home routers hand out.
pub const DEFAULT_DHCP_LEASE: u32 = 86_400;
/// The shortest lease a server may hand out: busybox udhcpc never renews
/// more often than every 15 s (it treats shorter leases as 30 s), so a
/// shorter one would expire between two renewals.
pub const MIN_DHCP_LEASE: u32 = 30;

/// A MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac(pub [u8; 6]);

/// Why a MAC address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a MAC address (six hex pairs separated by `:`)")]
pub struct MacError(String);

impl FromStr for Mac {
    type Err = MacError;
    fn from_str(s: &str) -> Result<Self, MacError> {
        // One parser for every MAC in a config (cards named by MAC too).
        crate::net::parse_mac(s)
            .map(Mac)
            .ok_or_else(|| MacError(s.to_string()))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::net::format_mac(&self.0))
    }
}

/// One fixed address by MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticLease {
    /// The client's MAC.
    pub mac: Mac,
    /// The address it always gets.
    pub address: Ipv4Addr,
}

/// `[[dhcp_server]]`: busybox udhcpd on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpServer {
    /// The logical interface it serves.
    pub interface: String,
    /// First address handed out.
    pub first: Ipv4Addr,
    /// Last address handed out.
    pub last: Ipv4Addr,
    /// Lease time in seconds (default [`DEFAULT_DHCP_LEASE`]).
    pub lease: u32,
    /// DNS servers handed out; `None`: the WAN lease's, when there is one.
    pub dns: Option<Vec<Ipv4Addr>>,
    /// Fixed addresses by MAC.
    pub statics: Vec<StaticLease>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_parse_and_print_in_lower_case() {
        let m: Mac = "52:54:00:AB:cd:0f".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:0f");
        assert_eq!("52-54-00-ab-cd-0f".parse::<Mac>(), Ok(m));
        for bad in [
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:0g",
            "5254.00ab.cd0f",
            "52:54:00:ab:cd:0f:00",
            "52:54:0:ab:cd:0f",
        ] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }
}
