//! A DHCP lease as udhcpc reports it, and the judge that refuses nonsense
//! before anything is applied: a zero lease, an address that is not a host
//! address, a router off the leased network, an address or network on the
//! tunnel's networks or on another interface's (the seed's pitfall: the
//! tunnel's own ssh connection routed into the tunnel); and what a lease
//! that comes, moves or ends means for the tunnel ([`tunnel_move`]).
//! Pure; outpostd applies what passes and retries (with backoff) what
//! does not.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use crate::net::{Ipv4Cidr, Ipv4Net};

/// What udhcpc said in one script call (`$1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEvent {
    /// A new lease.
    Bound,
    /// The lease renewed (possibly with other settings).
    Renew,
    /// Forget the address (udhcpc's start, a lost lease).
    Deconfig,
    /// No server answered the discovers.
    Leasefail,
    /// The server refused our request.
    Nak,
}

impl LeaseEvent {
    /// From udhcpc's word.
    pub fn from_word(w: &str) -> Option<LeaseEvent> {
        Some(match w {
            "bound" => LeaseEvent::Bound,
            "renew" => LeaseEvent::Renew,
            "deconfig" => LeaseEvent::Deconfig,
            "leasefail" => LeaseEvent::Leasefail,
            "nak" => LeaseEvent::Nak,
            _ => return None,
        })
    }

    /// udhcpc's word.
    pub fn word(self) -> &'static str {
        match self {
            LeaseEvent::Bound => "bound",
            LeaseEvent::Renew => "renew",
            LeaseEvent::Deconfig => "deconfig",
            LeaseEvent::Leasefail => "leasefail",
            LeaseEvent::Nak => "nak",
        }
    }
}

/// A lease: what `bound` and `renew` carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Our address with the leased network's prefix.
    pub address: Ipv4Cidr,
    /// The default gateway, if the server names one.
    pub router: Option<Ipv4Addr>,
    /// DNS servers.
    pub dns: Vec<Ipv4Addr>,
    /// Seconds.
    pub seconds: u32,
    /// The server that leased it.
    pub server: Option<Ipv4Addr>,
}

/// Why udhcpc's report is not a lease at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseParseError {
    /// A field is missing.
    #[error("udhcpc reported no `{0}`")]
    Missing(&'static str),
    /// A field does not parse.
    #[error("udhcpc reported `{key}={value}`, which is not {what}")]
    Bad {
        /// The variable.
        key: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        what: &'static str,
    },
}

fn addr(key: &'static str, v: &str) -> Result<Ipv4Addr, LeaseParseError> {
    v.parse().map_err(|_| LeaseParseError::Bad {
        key,
        value: v.into(),
        what: "an IPv4 address",
    })
}

impl Lease {
    /// From udhcpc's script environment (`ip`, `mask`, `router`, `dns`,
    /// `lease`, `serverid`); lists are space-separated, the first router wins.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Lease, LeaseParseError> {
        let get = |k: &'static str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let ip = addr("ip", get("ip").ok_or(LeaseParseError::Missing("ip"))?)?;
        let mask = get("mask").ok_or(LeaseParseError::Missing("mask"))?;
        let prefix: u8 =
            mask.parse()
                .ok()
                .filter(|p| *p <= 32)
                .ok_or_else(|| LeaseParseError::Bad {
                    key: "mask",
                    value: mask.into(),
                    what: "a prefix length",
                })?;
        let router = match get("router").and_then(|r| r.split_whitespace().next()) {
            Some(r) => Some(addr("router", r)?),
            None => None,
        };
        let dns = match get("dns") {
            Some(d) => d
                .split_whitespace()
                .map(|a| addr("dns", a))
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let lease = get("lease").ok_or(LeaseParseError::Missing("lease"))?;
        let seconds = lease.parse().map_err(|_| LeaseParseError::Bad {
            key: "lease",
            value: lease.into(),
            what: "a number of seconds",
        })?;
        let server = match get("serverid") {
            Some(s) => Some(addr("serverid", s)?),
            None => None,
        };
        Ok(Lease {
            address: Ipv4Cidr { addr: ip, prefix },
            router,
            dns,
            seconds,
            server,
        })
    }

    /// The variables [`Lease::from_env`] reads, as `key=value` words (how
    /// the lease travels over the control socket: no value has spaces
    /// once lists are joined with `,`).
    pub fn to_words(&self) -> Vec<String> {
        let mut w = vec![
            format!("ip={}", self.address.addr),
            format!("mask={}", self.address.prefix),
            format!("lease={}", self.seconds),
        ];
        if let Some(r) = self.router {
            w.push(format!("router={r}"));
        }
        if !self.dns.is_empty() {
            let d: Vec<String> = self.dns.iter().map(ToString::to_string).collect();
            w.push(format!("dns={}", d.join(",")));
        }
        if let Some(s) = self.server {
            w.push(format!("serverid={s}"));
        }
        w
    }

    /// Parses [`Lease::to_words`]' words.
    pub fn from_words<'a>(
        words: impl IntoIterator<Item = &'a str>,
    ) -> Result<Lease, LeaseParseError> {
        let env: BTreeMap<String, String> = words
            .into_iter()
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_string(), v.replace(',', " ")))
            .collect();
        Lease::from_env(&env)
    }
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.address)?;
        if let Some(r) = self.router {
            write!(f, " via {r}")?;
        }
        if let Some(s) = self.server {
            write!(f, " from {s}")?;
        }
        if !self.dns.is_empty() {
            let d: Vec<String> = self.dns.iter().map(ToString::to_string).collect();
            write!(f, ", dns {}", d.join(" "))?;
        }
        Ok(())
    }
}

/// What a udhcpc event changed, for the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseChange {
    /// Nothing the tunnel cares about (a renewal, a refusal, a NAK).
    Nothing,
    /// A lease where there was none.
    Gained,
    /// Our address changed.
    AddressChanged {
        /// The previous address.
        from: Ipv4Addr,
        /// The new one.
        to: Ipv4Addr,
    },
    /// The lease ended.
    Lost,
}

/// What applying `new` over the lease in force (`old`) changes.
pub fn change_of(old: Option<&Lease>, new: &Lease) -> LeaseChange {
    match old {
        None => LeaseChange::Gained,
        Some(o) if o.address.addr != new.address.addr => LeaseChange::AddressChanged {
            from: o.address.addr,
            to: new.address.addr,
        },
        Some(_) => LeaseChange::Nothing,
    }
}

/// What the tunnel does about a change of the WAN's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelMove {
    /// Leave it as it is.
    Stay,
    /// Start it: it was waiting for a lease.
    Start,
    /// Restart it from the new address (its ssh connection was bound to
    /// the old one, and would hang until LCP echoes noticed).
    Restart,
    /// Stop it and wait for the next lease.
    Park,
}

/// The tunnel's move for `change`, given whether it runs or waits.
pub fn tunnel_move(change: &LeaseChange, running: bool, waiting: bool) -> TunnelMove {
    match change {
        LeaseChange::Gained if waiting => TunnelMove::Start,
        LeaseChange::AddressChanged { .. } if running => TunnelMove::Restart,
        LeaseChange::Lost if running => TunnelMove::Park,
        _ => TunnelMove::Stay,
    }
}

/// Why a lease is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseRefusal {
    /// Zero seconds.
    #[error("a zero lease")]
    ZeroLease,
    /// Network, broadcast or unspecified address, or a /0.
    #[error("{0} is not a host address")]
    NotHost(Ipv4Cidr),
    /// The address or leased network lies on something the router already
    /// routes elsewhere.
    #[error("{address} lies on {what}")]
    Guarded {
        /// The leased address.
        address: Ipv4Cidr,
        /// What it collides with (e.g. `the tunnel network 10.0.0.0/24`).
        what: String,
    },
    /// The router is not on the leased network.
    #[error("the router {router} is not on the leased network {net}")]
    RouterOffLink {
        /// The router.
        router: Ipv4Addr,
        /// The leased network.
        net: Ipv4Net,
    },
}

/// Refuses a lease that cannot be applied safely; `guard` is
/// [`super::DhcpClientPlan::guard`].
pub fn judge(lease: &Lease, guard: &[(Ipv4Net, String)]) -> Result<(), LeaseRefusal> {
    if lease.seconds == 0 {
        return Err(LeaseRefusal::ZeroLease);
    }
    let a = lease.address;
    let net = a.network();
    let host_bits = u32::from(a.addr) & !u32::from(mask_of(a.prefix));
    let all_ones = !u32::from(mask_of(a.prefix));
    if a.prefix == 0
        || a.addr.is_unspecified()
        || a.addr.is_broadcast()
        || a.addr.is_loopback()
        || a.addr.is_multicast()
        || (a.prefix < 31 && (host_bits == 0 || host_bits == all_ones))
    {
        return Err(LeaseRefusal::NotHost(a));
    }
    for (g, what) in guard {
        if g.contains(a.addr) || g.overlaps(&net) {
            return Err(LeaseRefusal::Guarded {
                address: a,
                what: what.clone(),
            });
        }
    }
    if let Some(r) = lease.router {
        if !net.contains(r) || r == a.addr {
            return Err(LeaseRefusal::RouterOffLink { router: r, net });
        }
    }
    Ok(())
}

/// The dotted netmask of a prefix length.
pub fn mask_of(prefix: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0))
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

    fn lease(ip: &str, router: Option<&str>, seconds: u32) -> Lease {
        Lease {
            address: ip.parse().unwrap(),
            router: router.map(|r| r.parse().unwrap()),
            dns: vec![],
            seconds,
            server: None,
        }
    }

    fn guard() -> Vec<(Ipv4Net, String)> {
        vec![
            (
                "10.0.0.0/24".parse().unwrap(),
                "the tunnel network 10.0.0.0/24".into(),
            ),
            (
                "192.168.1.0/24".parse().unwrap(),
                "interface `lan`'s network 192.168.1.0/24".into(),
            ),
        ]
    }

    #[test]
    fn udhcpcs_environment_becomes_a_lease_and_travels_as_words() {
        let l = Lease::from_env(&env(&[
            ("interface", "eth1"),
            ("ip", "172.31.0.50"),
            ("mask", "24"),
            ("subnet", "255.255.255.0"),
            ("router", "172.31.0.1 172.31.0.2"),
            ("dns", "172.31.0.1 9.9.9.9"),
            ("lease", "3600"),
            ("serverid", "172.31.0.1"),
        ]))
        .unwrap();
        assert_eq!(l.address, "172.31.0.50/24".parse().unwrap());
        assert_eq!(l.router, Some("172.31.0.1".parse().unwrap()));
        assert_eq!(l.dns.len(), 2);
        assert_eq!(l.seconds, 3600);
        assert_eq!(
            l.to_string(),
            "172.31.0.50/24 via 172.31.0.1 from 172.31.0.1, dns 172.31.0.1 9.9.9.9"
        );
        let words = l.to_words();
        assert!(words.iter().all(|w| !w.contains(' ')));
        assert_eq!(Lease::from_words(words.iter().map(String::as_str)), Ok(l));
    }

    #[test]
    fn a_report_without_the_essentials_is_not_a_lease() {
        assert_eq!(
            Lease::from_env(&env(&[("mask", "24"), ("lease", "60")])),
            Err(LeaseParseError::Missing("ip"))
        );
        assert!(matches!(
            Lease::from_env(&env(&[("ip", "1.2.3.4"), ("mask", "33"), ("lease", "60")])),
            Err(LeaseParseError::Bad { key: "mask", .. })
        ));
        assert!(matches!(
            Lease::from_env(&env(&[
                ("ip", "1.2.3.400"),
                ("mask", "24"),
                ("lease", "60")
            ])),
            Err(LeaseParseError::Bad { key: "ip", .. })
        ));
        assert!(matches!(
            Lease::from_env(&env(&[("ip", "1.2.3.4"), ("mask", "24"), ("lease", "-1")])),
            Err(LeaseParseError::Bad { key: "lease", .. })
        ));
    }

    #[test]
    fn the_tunnel_starts_with_a_lease_restarts_on_renumbering_and_parks_without() {
        let a = lease("172.16.0.2/24", Some("172.16.0.100"), 60);
        let b = lease("172.16.0.3/24", Some("172.16.0.100"), 60);
        assert_eq!(change_of(None, &a), LeaseChange::Gained);
        assert_eq!(change_of(Some(&a), &a), LeaseChange::Nothing);
        let renumbered = change_of(Some(&a), &b);
        assert_eq!(
            renumbered,
            LeaseChange::AddressChanged {
                from: "172.16.0.2".parse().unwrap(),
                to: "172.16.0.3".parse().unwrap()
            }
        );
        // Another DNS server or router on the same address is no move.
        let mut c = a.clone();
        c.dns = vec!["9.9.9.9".parse().unwrap()];
        assert_eq!(change_of(Some(&a), &c), LeaseChange::Nothing);
        assert_eq!(
            tunnel_move(&LeaseChange::Gained, false, true),
            TunnelMove::Start
        );
        assert_eq!(
            tunnel_move(&LeaseChange::Gained, true, false),
            TunnelMove::Stay
        );
        assert_eq!(tunnel_move(&renumbered, true, false), TunnelMove::Restart);
        assert_eq!(tunnel_move(&renumbered, false, true), TunnelMove::Stay);
        assert_eq!(
            tunnel_move(&LeaseChange::Lost, true, false),
            TunnelMove::Park
        );
        assert_eq!(
            tunnel_move(&LeaseChange::Lost, false, true),
            TunnelMove::Stay
        );
        assert_eq!(
            tunnel_move(&LeaseChange::Nothing, true, false),
            TunnelMove::Stay
        );
    }

    #[test]
    fn a_sane_lease_passes() {
        assert_eq!(
            judge(&lease("172.31.0.50/24", Some("172.31.0.1"), 60), &guard()),
            Ok(())
        );
        assert_eq!(judge(&lease("172.31.0.50/24", None, 60), &guard()), Ok(()));
    }

    #[test]
    fn nonsense_is_refused_with_the_reason() {
        let g = guard();
        assert_eq!(
            judge(&lease("172.31.0.50/24", Some("172.31.0.1"), 0), &g),
            Err(LeaseRefusal::ZeroLease)
        );
        let e = judge(&lease("10.0.0.7/24", Some("10.0.0.1"), 60), &g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "10.0.0.7/24 lies on the tunnel network 10.0.0.0/24"
        );
        // A wide leased network swallowing the tunnel's is refused too:
        // its on-link route would cover the private network.
        let e = judge(&lease("10.1.2.3/8", Some("10.1.0.1"), 60), &g).unwrap_err();
        assert!(matches!(e, LeaseRefusal::Guarded { .. }), "{e}");
        let e = judge(&lease("192.168.1.77/24", None, 60), &g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "192.168.1.77/24 lies on interface `lan`'s network 192.168.1.0/24"
        );
        assert_eq!(
            judge(&lease("172.31.0.50/24", Some("172.30.0.1"), 60), &g)
                .unwrap_err()
                .to_string(),
            "the router 172.30.0.1 is not on the leased network 172.31.0.0/24"
        );
        for bad in [
            "172.31.0.0/24",
            "172.31.0.255/24",
            "0.0.0.0/24",
            "172.31.0.5/0",
            "224.0.0.5/24",
        ] {
            assert!(
                matches!(
                    judge(&lease(bad, None, 60), &g),
                    Err(LeaseRefusal::NotHost(_))
                ),
                "{bad}"
            );
        }
        // A /31 or /32 lease has no network or broadcast address.
        assert_eq!(judge(&lease("172.31.0.0/31", None, 60), &g), Ok(()));
    }
}
