//! The seed's chapter-5 rules, as an oracle: for every pair of hosts in
//! the example's networks, a new connection is forwarded by outpost's
//! ruleset exactly when the seed's ipfwadm rules would accept it, and
//! replies to accepted connections pass.

mod common;

use std::net::Ipv4Addr;

use outpost_core::net::Ipv4Net;
use outpost_core::plan::ruleset;
use outpost_core::ruleset::{CtState, Hook, L4Proto, Verdict};
use outpost_core::ruleset_eval::{evaluate, Packet};

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

/// The seed's server rules (ch. 5, 4.3): forward policy deny, then
/// accept -S 40/24 -D 0/16, and both ways 10/24 ↔ 0/16, 11/24 ↔ 0/16.
/// Addresses of 40/24 that are not a peer's are left out of the matrix:
/// in the seed they were the server's own LAN, not tunnel clients.
fn seed_server_allows(src: Ipv4Addr, dst: Ipv4Addr) -> bool {
    let (all, home, o10, o11) = (
        net("192.168.0.0/16"),
        net("192.168.40.0/24"),
        net("192.168.10.0/24"),
        net("192.168.11.0/24"),
    );
    let one = |s: Ipv4Net, d: Ipv4Net| s.contains(src) && d.contains(dst);
    // One deliberate difference: the seed's home users only open
    // connections ("one way"), yet its offices' `-b … 0/16` rules covered
    // the home users' tunnel ends by accident. Outpost refuses new
    // connections to a one-way peer from everyone.
    let home_end = ["192.168.40.10", "192.168.40.11"]
        .iter()
        .any(|h| h.parse::<Ipv4Addr>().ok() == Some(dst));
    !home_end
        && (one(home, all) || one(o10, all) || one(all, o10) || one(o11, all) || one(all, o11))
}

/// An office's rule (ch. 5, 14.2): both ways LAN ↔ 0/16.
fn seed_office_allows(lan: &str, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
    let (all, lan) = (net("192.168.0.0/16"), net(lan));
    (lan.contains(src) && all.contains(dst)) || (all.contains(src) && lan.contains(dst))
}

const HOSTS: &[&str] = &[
    "192.168.10.5",  // office10 LAN
    "192.168.11.5",  // office11 LAN
    "192.168.40.2",  // office10's tunnel end
    "192.168.40.10", // home1
    "192.168.40.11", // home2
    "192.168.1.5",   // head office
    "192.168.254.1", // the Cisco
    "172.16.0.100",  // the internet
    "10.1.2.3",      // elsewhere
];

fn pkt(src: Ipv4Addr, dst: Ipv4Addr, ct: CtState, oif: &str) -> Packet {
    Packet {
        iif: "any".into(),
        oif: oif.into(),
        src,
        dst,
        proto: L4Proto::Tcp,
        dport: 80,
        ct,
    }
}

#[test]
fn server_forwards_exactly_what_the_seed_allows() {
    let (_, c) = common::examples()
        .into_iter()
        .find(|(n, _)| n == "seed-ch5-vpn-server")
        .unwrap();
    let rs = ruleset(&c);
    let fwd = rs.chain(Hook::Forward).unwrap();
    let mut checked = 0;
    for s in HOSTS {
        for d in HOSTS {
            if s == d {
                continue;
            }
            let (s, d): (Ipv4Addr, Ipv4Addr) = (s.parse().unwrap(), d.parse().unwrap());
            let want = if seed_server_allows(s, d) {
                Verdict::Accept
            } else {
                Verdict::Drop
            };
            assert_eq!(
                evaluate(fwd, &pkt(s, d, CtState::New, "eth1")),
                want,
                "new {s} -> {d}"
            );
            if want == Verdict::Accept {
                assert_eq!(
                    evaluate(fwd, &pkt(d, s, CtState::Established, "eth1")),
                    Verdict::Accept,
                    "reply {d} -> {s}"
                );
            }
            assert_eq!(
                evaluate(fwd, &pkt(s, d, CtState::Invalid, "eth1")),
                Verdict::Drop
            );
            checked += 1;
        }
    }
    assert_eq!(checked, HOSTS.len() * (HOSTS.len() - 1));
    // home users one way: the head office cannot open a connection to them
    assert_eq!(
        evaluate(
            fwd,
            &pkt(
                "192.168.1.5".parse().unwrap(),
                "192.168.40.10".parse().unwrap(),
                CtState::New,
                "vpn-home1"
            )
        ),
        Verdict::Drop
    );
}

#[test]
fn offices_forward_what_the_seed_allows_plus_masqueraded_internet() {
    for (name, lan) in [
        ("seed-ch5-office10", "192.168.10.0/24"),
        ("seed-ch5-office11", "192.168.11.0/24"),
    ] {
        let (_, c) = common::examples()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap();
        let rs = ruleset(&c);
        let fwd = rs.chain(Hook::Forward).unwrap();
        for s in HOSTS {
            for d in HOSTS {
                if s == d {
                    continue;
                }
                let (s, d): (Ipv4Addr, Ipv4Addr) = (s.parse().unwrap(), d.parse().unwrap());
                for oif in ["vpn0", "eth0", "eth1"] {
                    // outpost's one addition: the LAN may go out the WAN (masqueraded)
                    let internet = oif == "eth1" && net(lan).contains(s);
                    let want = if seed_office_allows(lan, s, d) || internet {
                        Verdict::Accept
                    } else {
                        Verdict::Drop
                    };
                    assert_eq!(
                        evaluate(fwd, &pkt(s, d, CtState::New, oif)),
                        want,
                        "{name}: new {s} -> {d} out {oif}"
                    );
                }
            }
        }
        let post = rs.chain(Hook::Postrouting).unwrap();
        assert_eq!(post.rules.len(), 1);
        assert_eq!(
            evaluate(
                post,
                &pkt(
                    "192.168.10.5".parse().unwrap(),
                    "1.2.3.4".parse().unwrap(),
                    CtState::New,
                    "eth1"
                )
            ),
            Verdict::Masquerade
        );
        assert_eq!(
            evaluate(
                post,
                &pkt(
                    "192.168.10.5".parse().unwrap(),
                    "192.168.1.5".parse().unwrap(),
                    CtState::New,
                    "vpn0"
                )
            ),
            Verdict::Accept
        );
    }
}

#[test]
fn input_accepts_only_the_listed_services() {
    let (_, c) = common::examples()
        .into_iter()
        .find(|(n, _)| n == "seed-ch5-vpn-server")
        .unwrap();
    let rs = ruleset(&c);
    let input = rs.chain(Hook::Input).unwrap();
    let p = |iif: &str, proto, dport| Packet {
        iif: iif.into(),
        oif: String::new(),
        src: "172.16.9.9".parse().unwrap(),
        dst: "172.16.0.1".parse().unwrap(),
        proto,
        dport,
        ct: CtState::New,
    };
    assert_eq!(
        evaluate(input, &p("eth0", L4Proto::Tcp, 22)),
        Verdict::Accept,
        "tunnel ssh on the WAN"
    );
    assert_eq!(evaluate(input, &p("eth0", L4Proto::Tcp, 23)), Verdict::Drop);
    assert_eq!(
        evaluate(input, &p("eth0", L4Proto::Icmp, 8)),
        Verdict::Drop,
        "no ping from the internet"
    );
    assert_eq!(
        evaluate(input, &p("eth1", L4Proto::Icmp, 8)),
        Verdict::Accept
    );
    assert_eq!(evaluate(input, &p("eth1", L4Proto::Udp, 22)), Verdict::Drop);
}
