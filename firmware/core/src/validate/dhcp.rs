//! Validation of DHCP: the client (`dhcp = true` on an interface) and the
//! server (`[[dhcp_server]]`): ranges inside the served network and clear
//! of the router's own address, a static address and a DHCP client not on
//! one interface, one client per router (its lease's router is the default
//! route), fixed leases by MAC that make sense. Every problem with
//! file:line:column and a fix, like the rest of [`super`].

use std::net::Ipv4Addr;

use toml::Spanned;

use super::{sp, Validator};
use crate::config::{DhcpServer, Interface, Mac, StaticLease, DEFAULT_DHCP_LEASE, MIN_DHCP_LEASE};
use crate::diagnostic::Collect;
use crate::net::Ipv4Cidr;
use crate::raw::{RawDhcpServer, RawInterface, RawRoute, S};

/// The longest lease accepted: a year (udhcpd keeps times in 32 bits).
const MAX_DHCP_LEASE: i64 = 365 * 86_400;

/// Checks a DHCP range `text` (`FIRST-LAST`) for a server whose own
/// address is `own`: both ends host addresses of its network, in order,
/// the router's address outside. The range, or what is wrong and a fix.
/// Site files check their LAN ranges with this too.
pub fn range_problem(own: Ipv4Cidr, text: &str) -> Result<(Ipv4Addr, Ipv4Addr), (String, String)> {
    let net = own.network();
    let example = example_range(own);
    let Some((first, last)) = range_of(text) else {
        return Err((
            format!("`{text}` is not an address range"),
            format!("write FIRST-LAST inside {net}, e.g. \"{example}\""),
        ));
    };
    for (ip, which) in [(first, "first"), (last, "last")] {
        if !net.contains(ip) {
            return Err((
                format!("the range's {which} address {ip} is outside the network {net}"),
                format!("hand out addresses of {net}, e.g. \"{example}\""),
            ));
        }
        if is_network_or_broadcast(own, ip) {
            return Err((
                format!(
                    "the range's {which} address {ip} is the network or broadcast address of {net}"
                ),
                format!("hand out host addresses only, e.g. \"{example}\""),
            ));
        }
    }
    if u32::from(first) > u32::from(last) {
        return Err((
            format!("the range {first}-{last} runs backwards"),
            format!("write the lower address first: \"{last}-{first}\""),
        ));
    }
    if (u32::from(first)..=u32::from(last)).contains(&u32::from(own.addr)) {
        return Err((
            format!("the range {first}-{last} contains the router's own address {}", own.addr),
            "a client given it would take the gateway's address; start the range after it or end it before".into(),
        ));
    }
    Ok((first, last))
}

/// `FIRST-LAST` as two addresses, in order.
fn range_of(s: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let (a, b) = s.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

fn is_network_or_broadcast(a: Ipv4Cidr, ip: Ipv4Addr) -> bool {
    let net = a.network();
    a.prefix < 31
        && (ip == net.addr() || u32::from(ip) == u32::from(net.addr()) | (u32::MAX >> a.prefix))
}

impl Validator<'_> {
    /// The `[[dhcp_server]]` entries.
    pub(super) fn dhcp_servers(
        &mut self,
        raw: &[Spanned<RawDhcpServer>],
        ifs: &[Interface],
    ) -> Vec<DhcpServer> {
        let names: Vec<String> = ifs.iter().map(|i| i.name.clone()).collect();
        let mut out: Vec<DhcpServer> = Vec::new();
        for rs in raw {
            let r = rs.get_ref();
            let Some(name) = self.iface_ref(&r.interface, &names, "dhcp_server") else {
                continue;
            };
            if out.iter().any(|o| o.interface == name) {
                self.err(
                    sp(&r.interface),
                    format!("interface `{name}` has two DHCP servers"),
                    "merge the two [[dhcp_server]] entries",
                );
            }
            let Some(iface) = ifs.iter().find(|i| i.name == name) else {
                continue;
            };
            let Some(own) = iface.address else {
                let why = if iface.dhcp {
                    format!("interface `{name}` gets its own address by DHCP (`dhcp = true`), so it cannot serve DHCP")
                } else {
                    format!("interface `{name}` has no address, so it cannot serve DHCP")
                };
                self.err(
                    sp(&r.interface),
                    why,
                    "give the interface a static address (`address = \"192.168.1.1/24\"`): it is the gateway the server hands out",
                );
                continue;
            };
            let net = own.network();
            let (first, last) = match range_problem(own, r.range.get_ref()) {
                Ok(range) => range,
                Err((message, hint)) => {
                    self.err(sp(&r.range), message, hint);
                    continue;
                }
            };
            let lease = self.int(
                &r.lease,
                i64::from(MIN_DHCP_LEASE),
                MAX_DHCP_LEASE,
                i64::from(DEFAULT_DHCP_LEASE),
                "dhcp_server lease (seconds)",
            ) as u32;
            let dns = r.dns.as_ref().map(|list| {
                list.iter()
                    .filter_map(|d| self.addr(d, "dhcp_server dns"))
                    .collect::<Vec<_>>()
            });
            let mut statics: Vec<StaticLease> = Vec::new();
            for st in &r.statics {
                let st = st.get_ref();
                let mac = self.mac(&st.mac);
                let Some(address) = self.addr(&st.address, "static lease address") else {
                    continue;
                };
                if !net.contains(address) || is_network_or_broadcast(own, address) {
                    self.err(
                        sp(&st.address),
                        format!("static lease {address} is not a host address of `{name}`'s network {net}"),
                        format!("give the client an address of {net}"),
                    );
                } else if address == own.addr {
                    self.err(
                        sp(&st.address),
                        format!("static lease {address} is the router's own address"),
                        "give the client another address",
                    );
                }
                if statics.iter().any(|o| o.address == address) {
                    self.err(
                        sp(&st.address),
                        format!("static lease {address} is given twice"),
                        "give each client its own address",
                    );
                }
                if let Some(mac) = mac {
                    if statics.iter().any(|o| o.mac == mac) {
                        self.err(
                            sp(&st.mac),
                            format!("MAC {mac} has two static leases"),
                            "keep one",
                        );
                    }
                    statics.push(StaticLease { mac, address });
                }
            }
            out.push(DhcpServer {
                interface: name,
                first,
                last,
                lease,
                dns,
                statics,
            });
        }
        out
    }

    fn mac(&mut self, s: &S) -> Option<Mac> {
        self.parse(s, "mac", "write six hex pairs, e.g. 52:54:00:12:34:56")
    }

    /// Checks that only make sense across interfaces and routes: one DHCP
    /// client per router, and no static default route beside it.
    pub(super) fn dhcp_clients(
        &mut self,
        raw: &[Spanned<RawInterface>],
        ifs: &[Interface],
        routes: &[Spanned<RawRoute>],
    ) {
        let clients: Vec<(&Spanned<RawInterface>, &Interface)> =
            raw.iter().zip(ifs).filter(|(_, i)| i.dhcp).collect();
        if let Some((second, i)) = clients.get(1) {
            let at = second.get_ref().dhcp.as_ref().map_or(sp(*second), sp);
            self.err(
                at,
                format!("interface `{}` is a second DHCP client (`{}` is one already)", i.name, clients[0].1.name),
                "one interface per router takes its address by DHCP: its lease's router becomes the default route",
            );
        }
        let Some((_, client)) = clients.first() else {
            return;
        };
        for r in routes {
            if r.get_ref().to.get_ref().trim() == "default" {
                self.err(
                    sp(&r.get_ref().to),
                    format!(
                        "a static default route and DHCP on `{}` are both set",
                        client.name
                    ),
                    "remove this [[route]]: the DHCP lease's router becomes the default route",
                );
            }
        }
    }
}

/// A range that fits `own`'s network, for hints.
fn example_range(own: Ipv4Cidr) -> String {
    let base = u32::from(own.network().addr());
    let size = 1u64 << (32 - u32::from(own.prefix.min(30)));
    let first = base + (size / 2) as u32;
    let last = base + (size - 2) as u32;
    format!("{}-{}", Ipv4Addr::from(first), Ipv4Addr::from(last))
}
