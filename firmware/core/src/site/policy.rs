//! The policy: which of the site's networks may open connections to
//! which. Rules name endpoints ([`Endpoint`]); what a rule means for a
//! packet is decided by addresses, as on the routers, whose filters match
//! addresses: a host or network lying inside a named network is covered by
//! that network's rules (in the seed's chapter 5 the offices' LANs and the
//! home users' tunnel addresses lie inside the head office's 192.168.0.0/16,
//! and its filters let them reach each other for exactly that reason).
//!
//! [`Site::reachability`] lists, for every ordered pair of endpoints (and
//! each office to the internet), whether a new connection is expected to
//! be accepted: the matrix a rehearsal checks on running routers.

use std::net::Ipv4Addr;

use super::{Endpoint, Site};
use crate::net::Ipv4Net;

/// One policy rule after expansion: `from` may open connections to `to`
/// (and `to` to `from` when `both_ways`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Source.
    pub from: Endpoint,
    /// Destination.
    pub to: Endpoint,
    /// Also the other way.
    pub both_ways: bool,
}

/// One expected outcome: a new connection from `src` to `dst`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// Source name (a head network, office or home user).
    pub src: String,
    /// Its network (a home user's is its tunnel address /32).
    pub src_net: Ipv4Net,
    /// Destination name, or [`super::INTERNET`].
    pub dst: String,
    /// Its network (`0.0.0.0/0` for the internet).
    pub dst_net: Ipv4Net,
    /// Whether the connection is expected to be accepted.
    pub accept: bool,
}

/// Whether `inner` lies inside `outer`.
pub fn within(inner: Ipv4Net, outer: Ipv4Net) -> bool {
    inner.prefix() >= outer.prefix() && outer.contains(inner.addr())
}

/// The default policy, the seed's two cases: every office and every head
/// network both ways; every home user to every head network, one way.
pub fn default_rules(site_offices: usize, site_homes: usize, head_nets: usize) -> Vec<Rule> {
    let mut out = Vec::new();
    for o in 0..site_offices {
        for n in 0..head_nets {
            out.push(Rule {
                from: Endpoint::Office(o),
                to: Endpoint::HeadNet(n),
                both_ways: true,
            });
        }
    }
    for h in 0..site_homes {
        for n in 0..head_nets {
            out.push(Rule {
                from: Endpoint::Home(h),
                to: Endpoint::HeadNet(n),
                both_ways: false,
            });
        }
    }
    out
}

impl Site {
    /// Whether the policy accepts a new connection from any address of
    /// `src` to any address of `dst`. A `dst` outside every network of the
    /// site is the internet: offices with `internet = true` reach it.
    pub fn allows(&self, src: Ipv4Net, dst: Ipv4Net) -> bool {
        // Home users only open connections: nothing opens one to them, even
        // a network whose rules cover their addresses (the concentrator
        // drops new connections to one-way peers).
        if self
            .homes
            .iter()
            .any(|h| within(dst, Ipv4Net::new(h.tunnel_address, 32)))
        {
            return false;
        }
        if self.is_internet(dst) {
            return self
                .offices
                .iter()
                .any(|o| o.internet && within(src, o.lan.network()));
        }
        self.rules.iter().any(|r| {
            let (f, t) = (self.net(r.from), self.net(r.to));
            (within(src, f) && within(dst, t)) || (r.both_ways && within(src, t) && within(dst, f))
        })
    }

    /// Whether `n` lies outside every network the site knows (LANs, head
    /// networks, the pool, the WANs).
    pub fn is_internet(&self, n: Ipv4Net) -> bool {
        let mut known: Vec<Ipv4Net> = vec![self.pool, self.head.wan.address.network()];
        known.extend(self.head.networks.iter().map(|h| h.net()));
        for o in &self.offices {
            known.push(o.lan.network());
            if let Some(w) = o.wan.fixed() {
                known.push(w.address.network());
            }
        }
        !known.iter().any(|k| k.overlaps(&n))
    }

    /// The expected accept/deny matrix: every ordered pair of distinct
    /// endpoints except head network to head network (the head office's
    /// own routing, not the tunnels'), then each office to the internet.
    pub fn reachability(&self) -> Vec<Reach> {
        let mut out = Vec::new();
        let eps = self.endpoints();
        for &s in &eps {
            for &d in &eps {
                let both_head = matches!((s, d), (Endpoint::HeadNet(_), Endpoint::HeadNet(_)));
                if s == d || both_head {
                    continue;
                }
                let (sn, dn) = (self.net(s), self.net(d));
                out.push(Reach {
                    src: self.name(s).to_string(),
                    src_net: sn,
                    dst: self.name(d).to_string(),
                    dst_net: dn,
                    accept: self.allows(sn, dn),
                });
            }
        }
        for o in &self.offices {
            out.push(Reach {
                src: o.name.clone(),
                src_net: o.lan.network(),
                dst: super::INTERNET.to_string(),
                dst_net: Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0),
                accept: o.internet,
            });
        }
        out
    }

    /// What remote `r` (an office or home user) may open connections to,
    /// as named by the rules, in rule order, without repeats.
    pub fn out_of(&self, r: Endpoint) -> Vec<Endpoint> {
        let mut v = Vec::new();
        for rule in &self.rules {
            if rule.from == r {
                push_new(&mut v, rule.to);
            } else if rule.both_ways && rule.to == r {
                push_new(&mut v, rule.from);
            }
        }
        v
    }

    /// What may open connections to remote `r`, as named by the rules.
    pub fn into_of(&self, r: Endpoint) -> Vec<Endpoint> {
        let mut v = Vec::new();
        for rule in &self.rules {
            if rule.to == r {
                push_new(&mut v, rule.from);
            } else if rule.both_ways && rule.from == r {
                push_new(&mut v, rule.to);
            }
        }
        v
    }
}

fn push_new(v: &mut Vec<Endpoint>, e: Endpoint) {
    if !v.contains(&e) {
        v.push(e);
    }
}
