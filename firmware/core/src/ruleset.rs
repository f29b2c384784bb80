//! The firewall as one data structure, [`Ruleset`]: outpost's own nf_tables
//! tables (`table ip outpost` for filtering, `table ip outpost_nat` for
//! masquerade), their base chains with policies, and rules made of a small,
//! closed set of matches and verdicts. The same value is rendered as nft
//! syntax here ([`Ruleset::render_nft`]) and encoded as netlink messages by
//! outpostd, so every [`Match`] must have an obvious nf_tables expression.

use std::fmt::{self, Write as _};

use crate::net::Ipv4Net;

/// The filter table's name (family `ip`); outpost never touches other tables.
pub const FILTER_TABLE: &str = "outpost";
/// The NAT table's name, in family `ip`.
pub const NAT_TABLE: &str = "outpost_nat";

/// The whole firewall: one filter table and one NAT table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruleset {
    /// `table ip outpost`: chains `input`, `forward`, `output`.
    pub filter: Table,
    /// `table ip outpost_nat`: chain `postrouting` (may have no rules).
    pub nat: Table,
}

/// An nf_tables address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `inet`: IPv4 and IPv6 (the encoder supports it; the kernel outpost
    /// builds has no IPv6, so plans use [`Family::Ip`]).
    Inet,
    /// `ip`: IPv4 only.
    Ip,
}

/// One table with its base chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The family.
    pub family: Family,
    /// The table's name ([`FILTER_TABLE`] or [`NAT_TABLE`]).
    pub name: String,
    /// Base chains, in order.
    pub chains: Vec<Chain>,
}

/// The netfilter hook a base chain is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// Packets for this host.
    Input,
    /// Packets routed through this host.
    Forward,
    /// Packets this host sends.
    Output,
    /// After routing, on the way out (NAT).
    Postrouting,
}

/// A base chain's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainType {
    /// `type filter`.
    Filter,
    /// `type nat`.
    Nat,
}

/// What happens to a packet no rule decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Let it through.
    Accept,
    /// Drop it silently.
    Drop,
}

/// A base chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The chain's name (`input`, `forward`, `output`, `postrouting`).
    pub name: String,
    /// Filter or NAT.
    pub kind: ChainType,
    /// The hook.
    pub hook: Hook,
    /// The priority (0 for filter, 100 = srcnat for postrouting).
    pub priority: i32,
    /// The default verdict.
    pub policy: Policy,
    /// The rules, evaluated in order; the first verdict wins.
    pub rules: Vec<Rule>,
}

/// One rule: all matches must hold, then the verdict applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Conditions, all of which must hold (none: always).
    pub matches: Vec<Match>,
    /// What to do with a matching packet.
    pub verdict: Verdict,
    /// Why the rule exists, shown to people (nft `comment`).
    pub comment: Option<String>,
}

/// A layer-4 protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum L4Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
}

impl L4Proto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            L4Proto::Tcp => 6,
            L4Proto::Udp => 17,
            L4Proto::Icmp => 1,
        }
    }
    fn name(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
        }
    }
}

/// A connection-tracking state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CtState {
    /// `invalid` (bit 0).
    Invalid,
    /// `established` (bit 1).
    Established,
    /// `related` (bit 2).
    Related,
    /// `new` (bit 3).
    New,
}

impl CtState {
    /// The kernel's bit for this state (`NF_CT_STATE_*_BIT`).
    pub fn bit(self) -> u32 {
        match self {
            CtState::Invalid => 1,
            CtState::Established => 1 << 1,
            CtState::Related => 1 << 2,
            CtState::New => 1 << 3,
        }
    }
    fn name(self) -> &'static str {
        match self {
            CtState::Invalid => "invalid",
            CtState::Established => "established",
            CtState::Related => "related",
            CtState::New => "new",
        }
    }
}

/// An ICMP type that rules may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IcmpType {
    /// Echo request (type 8): ping.
    EchoRequest,
}

impl IcmpType {
    /// The ICMP type number.
    pub const fn number(self) -> u8 {
        match self {
            IcmpType::EchoRequest => 8,
        }
    }
}

/// A condition on a packet. Deliberately small and closed: each maps to one
/// short nf_tables expression sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// `iifname "eth0"`; a trailing `*` matches by prefix (`"ppp*"`).
    IifName(String),
    /// `oifname "eth1"`; a trailing `*` matches by prefix.
    OifName(String),
    /// `ip saddr 192.168.1.0/24`.
    SAddr(Ipv4Net),
    /// `ip daddr 10.0.0.0/24`.
    DAddr(Ipv4Net),
    /// `ct state established,related`: any of the listed states.
    CtState(Vec<CtState>),
    /// `meta l4proto tcp`.
    L4Proto(L4Proto),
    /// `tcp dport 22` / `udp dport 53` (implies the protocol).
    Dport(L4Proto, u16),
    /// `icmp type echo-request` (implies ICMP).
    Icmp(IcmpType),
}

/// A rule's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `accept`.
    Accept,
    /// `drop`.
    Drop,
    /// `reject` (ICMP port unreachable / TCP reset, the kernel's default).
    Reject,
    /// `masquerade` (NAT chains only).
    Masquerade,
}

impl Ruleset {
    /// The ruleset as an `nft -f` script that atomically replaces outpost's
    /// own tables and nothing else: each table is first declared (so the
    /// flush cannot fail on a fresh box), then flushed, then redefined, all
    /// in the one transaction `nft -f` makes of a file.
    pub fn render_nft(&self) -> String {
        let mut out = String::from(
            "#!/usr/sbin/nft -f\n# Generated by outpost; replaces only outpost's own tables.\n\n",
        );
        for t in [&self.filter, &self.nat] {
            let _ = writeln!(out, "table {} {} {{}}", t.family, t.name);
            let _ = writeln!(out, "flush table {} {}", t.family, t.name);
        }
        for t in [&self.filter, &self.nat] {
            out.push('\n');
            let _ = write!(out, "{t}");
        }
        out
    }

    /// The chain with this hook in either table.
    pub fn chain(&self, hook: Hook) -> Option<&Chain> {
        self.filter
            .chains
            .iter()
            .chain(self.nat.chains.iter())
            .find(|c| c.hook == hook)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Inet => "inet",
            Family::Ip => "ip",
        })
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        })
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "table {} {} {{", self.family, self.name)?;
        for (i, c) in self.chains.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{c}")?;
        }
        writeln!(f, "}}")
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ChainType::Filter => "filter",
            ChainType::Nat => "nat",
        };
        let policy = match self.policy {
            Policy::Accept => "accept",
            Policy::Drop => "drop",
        };
        writeln!(f, "\tchain {} {{", self.name)?;
        writeln!(
            f,
            "\t\ttype {kind} hook {} priority {}; policy {policy};",
            self.hook, self.priority
        )?;
        for r in &self.rules {
            writeln!(f, "\t\t{r}")?;
        }
        writeln!(f, "\t}}")
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.matches {
            write!(f, "{m} ")?;
        }
        write!(f, "{}", self.verdict)?;
        if let Some(c) = &self.comment {
            write!(f, " comment \"{}\"", c.replace(['"', '\\', '\n'], "'"))?;
        }
        Ok(())
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Match::IifName(n) => write!(f, "iifname \"{n}\""),
            Match::OifName(n) => write!(f, "oifname \"{n}\""),
            Match::SAddr(n) => write!(f, "ip saddr {}", net_text(n)),
            Match::DAddr(n) => write!(f, "ip daddr {}", net_text(n)),
            Match::CtState(states) => {
                let names: Vec<&str> = states.iter().map(|s| s.name()).collect();
                write!(f, "ct state {}", names.join(","))
            }
            Match::L4Proto(p) => write!(f, "meta l4proto {}", p.name()),
            Match::Dport(p, port) => write!(f, "{} dport {port}", p.name()),
            Match::Icmp(IcmpType::EchoRequest) => f.write_str("icmp type echo-request"),
        }
    }
}

/// nft prints a /32 as a bare address; render it the same way so the text
/// we load and the text the kernel gives back read alike.
fn net_text(n: &Ipv4Net) -> String {
    if n.prefix() == 32 {
        n.addr().to_string()
    } else {
        n.to_string()
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Accept => "accept",
            Verdict::Drop => "drop",
            Verdict::Reject => "reject",
            Verdict::Masquerade => "masquerade",
        })
    }
}
