//! A reference evaluator for [`Ruleset`](crate::ruleset::Ruleset): what verdict a chain gives a
//! packet. It states the meaning of every [`Match`] in one place, lets
//! tests prove a ruleset allows exactly what the seed's rules allow, and
//! is the yardstick for the netlink encoder.

use std::net::Ipv4Addr;

use crate::ruleset::{Chain, CtState, IcmpType, L4Proto, Match, Policy, Verdict};

/// The facts about a packet the matches look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Input device (empty for locally generated packets).
    pub iif: String,
    /// Output device (empty for packets to this host).
    pub oif: String,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub proto: L4Proto,
    /// TCP/UDP destination port, or the ICMP type for ICMP.
    pub dport: u16,
    /// Its conntrack state.
    pub ct: CtState,
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

fn matches(m: &Match, p: &Packet) -> bool {
    match m {
        Match::IifName(n) => name_matches(n, &p.iif),
        Match::OifName(n) => name_matches(n, &p.oif),
        Match::SAddr(n) => n.contains(p.src),
        Match::DAddr(n) => n.contains(p.dst),
        Match::CtState(states) => states.contains(&p.ct),
        Match::L4Proto(proto) => *proto == p.proto,
        Match::Dport(proto, port) => *proto == p.proto && *port == p.dport,
        Match::Icmp(t) => p.proto == L4Proto::Icmp && u16::from(t.number()) == p.dport,
    }
}

/// The verdict `chain` gives `p`: the first matching rule's, else the policy.
pub fn evaluate(chain: &Chain, p: &Packet) -> Verdict {
    chain
        .rules
        .iter()
        .find(|r| r.matches.iter().all(|m| matches(m, p)))
        .map_or(
            match chain.policy {
                Policy::Accept => Verdict::Accept,
                Policy::Drop => Verdict::Drop,
            },
            |r| r.verdict,
        )
}

/// An ICMP echo request's "port" in [`Packet::dport`].
pub const ECHO_REQUEST: u16 = IcmpType::EchoRequest.number() as u16;
