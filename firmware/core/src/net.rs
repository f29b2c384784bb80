//! IPv4 address types used by the config and the plans: an interface address
//! with its prefix length ([`Ipv4Cidr`]) and a network ([`Ipv4Net`]).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Why a string is not an `address/prefix`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// No `/` separating address and prefix length.
    #[error("`{0}` has no prefix length; write it as ADDRESS/PREFIX, e.g. 192.168.1.1/24")]
    MissingPrefix(String),
    /// The part before `/` is not a dotted-quad IPv4 address.
    #[error("`{0}` is not an IPv4 address (expected four numbers 0-255, e.g. 192.168.1.1)")]
    BadAddress(String),
    /// The prefix length is not a number from 0 to 32.
    #[error("prefix length `{0}` must be a number from 0 to 32")]
    BadPrefix(String),
}

/// An interface address with its prefix length, e.g. `192.168.1.1/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address itself (host bits may be set).
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// The network this address sits in (host bits cleared).
    pub fn network(&self) -> Ipv4Net {
        Ipv4Net::new(self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| CidrError::MissingPrefix(s.to_string()))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| CidrError::BadAddress(a.to_string()))?;
        let prefix: u8 = p.parse().map_err(|_| CidrError::BadPrefix(p.to_string()))?;
        if prefix > 32 {
            return Err(CidrError::BadPrefix(p.to_string()));
        }
        Ok(Ipv4Cidr { addr, prefix })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A network: an address with all host bits clear, and its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// The network of `addr/prefix`; host bits are cleared, `prefix` is clamped to 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        }
    }
    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }
    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
    /// Whether `ip` lies inside this network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }
    /// Whether the two networks share any address.
    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }
}

impl FromStr for Ipv4Net {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let c: Ipv4Cidr = s.parse()?;
        Ok(c.network())
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_cidr() {
        let c: Ipv4Cidr = "192.168.1.7/24".parse().unwrap();
        assert_eq!(c.to_string(), "192.168.1.7/24");
        assert_eq!(c.network().to_string(), "192.168.1.0/24");
    }

    #[test]
    fn rejects_bad_cidrs() {
        assert!(matches!(
            "10.0.0.1".parse::<Ipv4Cidr>(),
            Err(CidrError::MissingPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.256/8".parse::<Ipv4Cidr>(),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.1/33".parse::<Ipv4Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
    }

    #[test]
    fn overlap_and_contains() {
        let a: Ipv4Net = "10.0.0.0/8".parse().unwrap();
        let b: Ipv4Net = "10.1.0.0/16".parse().unwrap();
        let c: Ipv4Net = "192.168.0.0/16".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(a.contains("10.200.1.1".parse().unwrap()));
        assert!(!b.contains("10.2.0.1".parse().unwrap()));
        let all: Ipv4Net = "0.0.0.0/0".parse().unwrap();
        assert!(all.overlaps(&c));
    }
}

/// Parses a MAC address written `00:a0:24:12:34:56` (or with `-`); the
/// all-zero, broadcast and multicast addresses name no card.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    (mac != [0; 6] && mac[0] & 1 == 0).then_some(mac)
}

/// `aa:bb:cc:dd:ee:ff`, lower case, as the kernel prints it.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod mac_tests {
    use super::*;

    #[test]
    fn macs_parse_in_either_notation_and_print_as_the_kernel_does() {
        let m = parse_mac("00:A0:24:12:34:5f").unwrap();
        assert_eq!(format_mac(&m), "00:a0:24:12:34:5f");
        assert_eq!(parse_mac("00-a0-24-12-34-5f"), Some(m));
        for bad in [
            "",
            "00:a0:24:12:34",
            "00:a0:24:12:34:5",
            "00:00:00:00:00:00",
            "ff:ff:ff:ff:ff:ff",
            "01:00:5e:00:00:01",
            "00:a0:24:12:34:zz",
            "00:a0:24:12:34:5f:00",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
