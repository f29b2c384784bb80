//! The firewall plan: the [`Ruleset`] a config asks for. Input and forward
//! default to drop; established traffic and the listed openings pass. A
//! concentrator opens forwarding per peer (its tunnel address and office
//! networks ↔ the private networks it may reach) and its ssh port on the
//! WAN; `[firewall]` adds the rest.

use crate::config::{Config, Role, Service};
use crate::net::Ipv4Net;
use crate::ruleset::*;

fn rule(matches: Vec<Match>, verdict: Verdict, comment: &str) -> Rule {
    Rule {
        matches,
        verdict,
        comment: (!comment.is_empty()).then(|| comment.to_string()),
    }
}

fn chain(
    name: &str,
    kind: ChainType,
    hook: Hook,
    priority: i32,
    policy: Policy,
    rules: Vec<Rule>,
) -> Chain {
    Chain {
        name: name.into(),
        kind,
        hook,
        priority,
        policy,
        rules,
    }
}

/// `ip saddr`/`ip daddr` matches, leaving out `/0` (it matches everything).
fn addr_matches(src: Ipv4Net, dst: Ipv4Net) -> Vec<Match> {
    let mut m = Vec::new();
    if src.prefix() > 0 {
        m.push(Match::SAddr(src));
    }
    if dst.prefix() > 0 {
        m.push(Match::DAddr(dst));
    }
    m
}

fn stateful() -> [Rule; 2] {
    [
        rule(
            vec![Match::CtState(vec![CtState::Established, CtState::Related])],
            Verdict::Accept,
            "",
        ),
        rule(
            vec![Match::CtState(vec![CtState::Invalid])],
            Verdict::Drop,
            "",
        ),
    ]
}

/// The ruleset for `config`.
pub fn ruleset(config: &Config) -> Ruleset {
    let dev = |name: &str| {
        config
            .interface(name)
            .map_or_else(|| name.to_string(), |i| i.device.clone())
    };
    let ssh_port = config.concentrator.as_ref().map_or(22, |c| c.port);

    let mut input = vec![rule(vec![Match::IifName("lo".into())], Verdict::Accept, "")];
    input.extend(stateful());
    if let Some(c) = &config.concentrator {
        input.push(rule(
            vec![
                Match::IifName(dev(&c.interface)),
                Match::Dport(L4Proto::Tcp, c.port),
            ],
            Verdict::Accept,
            "tunnel ssh",
        ));
    }
    for ia in &config.firewall.input {
        for s in &ia.accept {
            let m = match s {
                Service::Ssh => Match::Dport(L4Proto::Tcp, ssh_port),
                Service::Ping => Match::Icmp(IcmpType::EchoRequest),
            };
            let dup = input
                .iter()
                .any(|r| r.matches == vec![Match::IifName(dev(&ia.interface)), m.clone()]);
            if !dup {
                input.push(rule(
                    vec![Match::IifName(dev(&ia.interface)), m],
                    Verdict::Accept,
                    "",
                ));
            }
        }
    }

    // DHCP: the client's answers (udhcpc's renewals go through its UDP
    // socket, so the filter sees them; discovers use a packet socket) and
    // the server's requests (broadcast, never part of a connection).
    for i in config.interfaces.iter().filter(|i| i.dhcp) {
        input.push(rule(
            vec![
                Match::IifName(i.device.clone()),
                Match::Dport(L4Proto::Udp, 68),
            ],
            Verdict::Accept,
            "dhcp client",
        ));
    }
    for s in &config.dhcp_servers {
        input.push(rule(
            vec![
                Match::IifName(dev(&s.interface)),
                Match::Dport(L4Proto::Udp, 67),
            ],
            Verdict::Accept,
            "dhcp server",
        ));
    }

    let mut forward: Vec<Rule> = stateful().into();
    for a in &config.firewall.allow {
        let mut m = Vec::new();
        if let Some(o) = &a.out {
            m.push(Match::OifName(dev(o)));
        }
        m.extend(addr_matches(a.from, a.to));
        forward.push(rule(m, Verdict::Accept, ""));
        if a.both_ways {
            let mut m = Vec::new();
            if let Some(o) = &a.out {
                m.push(Match::IifName(dev(o)));
            }
            m.extend(addr_matches(a.to, a.from));
            forward.push(rule(m, Verdict::Accept, ""));
        }
    }
    if config.system.role == Role::Concentrator {
        // A one-way peer (a home user, an office that may only open
        // connections) is never a new connection's destination, even where
        // another peer's `reach` covers its addresses (the seed's home users'
        // tunnel ends lie inside 192.168.0.0/16, which its offices reach).
        // The explicit allows above still open what the config names.
        for p in config.peers.iter().filter(|p| !p.both_ways) {
            let mut dsts = vec![Ipv4Net::new(p.tunnel_address, 32)];
            dsts.extend(p.networks.iter().copied());
            for d in dsts {
                forward.push(rule(
                    vec![Match::DAddr(d)],
                    Verdict::Drop,
                    &format!("peer {} is one-way", p.name),
                ));
            }
        }
        for p in &config.peers {
            let mut srcs = vec![Ipv4Net::new(p.tunnel_address, 32)];
            srcs.extend(p.networks.iter().copied());
            for s in &srcs {
                for d in &p.reach {
                    forward.push(rule(
                        addr_matches(*s, *d),
                        Verdict::Accept,
                        &format!("peer {}", p.name),
                    ));
                }
            }
            // Both ways opens the office's networks, not its tunnel end:
            // the seed's `-b` rules name only the office LANs.
            if p.both_ways {
                for s in &p.networks {
                    for d in &p.reach {
                        forward.push(rule(
                            addr_matches(*d, *s),
                            Verdict::Accept,
                            &format!("peer {}", p.name),
                        ));
                    }
                }
            }
        }
    }

    let postrouting = config
        .firewall
        .masquerade
        .iter()
        .map(|m| rule(vec![Match::OifName(dev(m))], Verdict::Masquerade, ""))
        .collect();

    // A test/demo host exists to be reached: it filters nothing inbound.
    let input_policy = if config.system.role == Role::Host {
        Policy::Accept
    } else {
        Policy::Drop
    };
    Ruleset {
        filter: Table {
            // IPv4 only: the kernel has no IPv6 (linux.fragment), so there
            // is nothing else to filter, and no IPv6 packet is routed at all.
            family: Family::Ip,
            name: FILTER_TABLE.into(),
            chains: vec![
                chain(
                    "input",
                    ChainType::Filter,
                    Hook::Input,
                    0,
                    input_policy,
                    input,
                ),
                chain(
                    "forward",
                    ChainType::Filter,
                    Hook::Forward,
                    0,
                    Policy::Drop,
                    forward,
                ),
                chain(
                    "output",
                    ChainType::Filter,
                    Hook::Output,
                    0,
                    Policy::Accept,
                    Vec::new(),
                ),
            ],
        },
        nat: Table {
            family: Family::Ip,
            name: NAT_TABLE.into(),
            chains: vec![chain(
                "postrouting",
                ChainType::Nat,
                Hook::Postrouting,
                100,
                Policy::Accept,
                postrouting,
            )],
        },
    }
}
