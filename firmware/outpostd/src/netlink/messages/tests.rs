//! Byte layouts of the requests, written out field by field from the uapi
//! structs, and answers captured from a real kernel.
//!
//! The two `*-dump.hex` files are what Linux 6.1 (x86-64) answered, in a
//! throwaway namespace, to an RTM_GETADDR dump (family AF_INET) and an
//! RTM_GETROUTE dump (family AF_UNSPEC, so IPv6 routes come too) after:
//! `ip link add op0 type veth peer name op1` (lo = 1, op1 = 2, op0 = 3),
//! `ip addr add 10.9.8.7/24 dev op0`, `ip addr add 10.0.0.1 peer 10.0.0.2
//! dev op1`, `ip route add 10.20.0.0/16 via 10.9.8.1 dev op0`, `ip route
//! add default via 10.9.8.1`, `ip route add 172.16.0.0/12 via 10.9.8.2
//! table 1000`.

use super::*;

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// `struct nlmsghdr` as the kernel wants it.
fn nlmsghdr(len: u32, ty: u16, flags: u16, seq: u32) -> Vec<u8> {
    let mut v = len.to_ne_bytes().to_vec();
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&flags.to_ne_bytes());
    v.extend_from_slice(&seq.to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid
    v
}

/// `struct rtattr` / `nlattr` with a 4-byte value.
fn attr4(ty: u16, value: [u8; 4]) -> Vec<u8> {
    let mut v = 8u16.to_ne_bytes().to_vec();
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(&value);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `struct ifinfomsg`: family, pad, type (u16), index (i32), flags, change.
fn ifinfo(index: u32, flags: u32, change: u32) -> Vec<u8> {
    cat(&[
        &[0, 0, 0, 0],
        &index.to_ne_bytes(),
        &flags.to_ne_bytes(),
        &change.to_ne_bytes(),
    ])
}

fn route_of(dst: &str, gw: Option<&str>, oif: Option<u32>) -> KernelRoute {
    KernelRoute {
        destination: dst.parse().unwrap(),
        gateway: gw.map(|g| g.parse().unwrap()),
        oif,
    }
}

fn one(buf: &[u8]) -> Message<'_> {
    let mut all = wire::messages(buf);
    let m = all.next().expect("one message");
    assert!(all.next().is_none());
    m
}

#[test]
fn set_link_up_and_mtu() {
    assert_eq!(
        set_link(5, 3, true, None),
        cat(&[&nlmsghdr(32, 19, 0x5, 5), &ifinfo(3, 1, 1)])
    );
    assert_eq!(
        set_link(6, 3, false, Some(1400)),
        cat(&[
            &nlmsghdr(40, 19, 0x5, 6),
            &ifinfo(3, 0, 0),
            &attr4(4, 1400u32.to_ne_bytes()) // IFLA_MTU
        ])
    );
}

#[test]
fn set_link_down_and_rename() {
    // down: flags 0, change IFF_UP (only that flag is touched)
    assert_eq!(
        set_link_down(7, 4),
        cat(&[&nlmsghdr(32, 19, 0x5, 7), &ifinfo(4, 0, 1)])
    );
    // rtattr: len 4 + "lan0\0" = 9, padded to 12; IFLA_IFNAME = 3
    assert_eq!(
        rename_link(8, 4, "lan0"),
        cat(&[
            &nlmsghdr(44, 19, 0x5, 8),
            &ifinfo(4, 0, 0),
            &9u16.to_ne_bytes(),
            &3u16.to_ne_bytes(),
            b"lan0\0\0\0\0",
        ])
    );
    // a 15-byte name (IFNAMSIZ - 1) still carries its NUL: 4 + 16 bytes
    let long = rename_link(9, 4, "abcdefghijklmno");
    assert_eq!(
        one(&long).attrs_after(16).get(3),
        Some(&b"abcdefghijklmno\0"[..])
    );
}

#[test]
fn dump_requests() {
    // NLM_F_REQUEST | NLM_F_DUMP; ifaddrmsg / rtmsg with only the family
    assert_eq!(
        get_addresses(9),
        cat(&[&nlmsghdr(24, 22, 0x301, 9), &[2, 0, 0, 0, 0, 0, 0, 0]])
    );
    assert_eq!(
        get_routes(10),
        cat(&[
            &nlmsghdr(28, 26, 0x301, 10),
            &[2, 0, 0, 0, 0, 0, 0, 0],
            &[0; 4]
        ])
    );
}

#[test]
fn add_address_is_local_address_and_broadcast() {
    let cidr: Ipv4Cidr = "10.9.8.7/24".parse().unwrap();
    // NLM_F_REQUEST | ACK | EXCL | CREATE; ifaddrmsg: family, prefixlen,
    // flags, scope (universe), index
    let ifaddr = |prefix: u8| cat(&[&[2, prefix, 0, 0], &3u32.to_ne_bytes()]);
    assert_eq!(
        add_address(11, 3, cidr),
        cat(&[
            &nlmsghdr(48, 20, 0x605, 11),
            &ifaddr(24),
            &attr4(2, [10, 9, 8, 7]),   // IFA_LOCAL
            &attr4(1, [10, 9, 8, 7]),   // IFA_ADDRESS
            &attr4(4, [10, 9, 8, 255]), // IFA_BROADCAST
        ])
    );
    let p30: Ipv4Cidr = "10.0.0.5/30".parse().unwrap();
    assert!(add_address(1, 3, p30).ends_with(&attr4(4, [10, 0, 0, 7])));
    for no_broadcast in ["10.0.0.1/31", "10.0.0.1/32"] {
        let cidr: Ipv4Cidr = no_broadcast.parse().unwrap();
        let buf = add_address(12, 3, cidr);
        assert_eq!(buf.len(), 40, "{no_broadcast}");
        assert_eq!(one(&buf).attrs_after(8).get(4), None, "{no_broadcast}");
    }
}

#[test]
fn del_address_names_the_local_address_and_prefix() {
    let cidr: Ipv4Cidr = "172.31.0.50/24".parse().unwrap();
    // NLM_F_REQUEST | ACK; ifaddrmsg as for add; only IFA_LOCAL
    assert_eq!(
        del_address(7, 3, cidr),
        cat(&[
            &nlmsghdr(32, 21, 0x5, 7),
            &[2, 24, 0, 0],
            &3u32.to_ne_bytes(),
            &attr4(2, [172, 31, 0, 50]),
        ])
    );
}

#[test]
fn route_requests() {
    // rtmsg: family, dst_len, src_len, tos, table (main), protocol (static),
    // scope (universe), type (unicast), flags
    let rtmsg = |dst_len: u8| cat(&[&[2, dst_len, 0, 0, 254, 4, 0, 1], &[0; 4]]);
    let r = route_of("10.20.0.0/16", Some("10.9.8.1"), Some(3));
    // NLM_F_REQUEST | ACK | REPLACE | CREATE
    assert_eq!(
        add_route(13, &r),
        cat(&[
            &nlmsghdr(52, 24, 0x505, 13),
            &rtmsg(16),
            &attr4(1, [10, 20, 0, 0]),     // RTA_DST
            &attr4(5, [10, 9, 8, 1]),      // RTA_GATEWAY
            &attr4(4, 3u32.to_ne_bytes()), // RTA_OIF
        ])
    );
    let default = route_of("0.0.0.0/0", Some("10.9.8.1"), None);
    assert_eq!(
        del_route(14, &default),
        cat(&[
            &nlmsghdr(44, 25, 0x5, 14),
            &rtmsg(0),
            &attr4(1, [0, 0, 0, 0]),
            &attr4(5, [10, 9, 8, 1]),
        ])
    );
    let on_link = route_of("10.1.0.0/16", None, Some(7));
    assert_eq!(
        add_route(15, &on_link),
        cat(&[
            &nlmsghdr(44, 24, 0x505, 15),
            &rtmsg(16),
            &attr4(1, [10, 1, 0, 0]),
            &attr4(4, 7u32.to_ne_bytes()),
        ])
    );
}

#[test]
fn what_is_written_reads_back() {
    for r in [
        route_of("10.20.0.0/16", Some("10.9.8.1"), Some(3)),
        route_of("0.0.0.0/0", Some("10.9.8.1"), None),
        route_of("192.168.7.0/24", None, Some(12)),
    ] {
        assert_eq!(route(&one(&add_route(1, &r))), Some((RT_TABLE_MAIN, r)));
    }
    let cidr: Ipv4Cidr = "172.16.1.1/12".parse().unwrap();
    assert_eq!(address(&one(&add_address(1, 9, cidr))), Some((9, cidr)));
}

#[test]
fn a_real_address_dump_reads_as_ip_shows_it() {
    let buf = hex(include_str!("addr-dump.hex"));
    let got: Vec<(u32, Ipv4Cidr)> = wire::messages(&buf).filter_map(|m| address(&m)).collect();
    let want = [
        (1, "127.0.0.1/8"),
        (2, "10.0.0.1/32"), // its own (IFA_LOCAL), not the peer's
        (3, "10.9.8.7/24"),
    ];
    let want: Vec<(u32, Ipv4Cidr)> = want.iter().map(|(i, c)| (*i, c.parse().unwrap())).collect();
    assert_eq!(got, want);
    // and the dump ends as a dump should
    assert_eq!(
        wire::messages(&buf).last().map(|m| m.ty),
        Some(wire::NLMSG_DONE)
    );
}

#[test]
fn a_real_route_dump_reads_as_ip_shows_it() {
    let buf = hex(include_str!("route-dump.hex"));
    let all: Vec<(u32, KernelRoute)> = wire::messages(&buf).filter_map(|m| route(&m)).collect();
    let main: Vec<KernelRoute> = all
        .iter()
        .filter(|(t, _)| *t == RT_TABLE_MAIN)
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(
        main,
        vec![
            route_of("0.0.0.0/0", Some("10.9.8.1"), Some(3)),
            route_of("10.0.0.2/32", None, Some(2)),
            route_of("10.9.8.0/24", None, Some(3)),
            route_of("10.20.0.0/16", Some("10.9.8.1"), Some(3)),
        ]
    );
    // table 1000 does not fit rtm_table (252, RT_TABLE_COMPAT): RTA_TABLE says it
    assert!(all.contains(&(1000, route_of("172.16.0.0/12", Some("10.9.8.2"), Some(3)))));
    // the local table is there; the IPv6 routes of the same dump are not
    assert!(all.iter().any(|(t, _)| *t == 255));
    assert_eq!(
        wire::messages(&buf)
            .filter(|m| m.payload.first() == Some(&10))
            .count(),
        5
    );
    assert!(all.iter().all(|(t, _)| [254, 255, 1000].contains(t)));
}

#[test]
fn unknown_or_odd_attributes_are_passed_over_not_fatal() {
    // An RTM_NEWROUTE line with an attribute type from the future, an
    // odd-length one, a gateway of IPv6 length and a 2-byte "oif" before
    // the real ones: the real ones still count, the odd ones are ignored.
    let mut w = Writer::default();
    w.begin(RTM_NEWROUTE, 0, 1);
    w.header(&[2, 24, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
    w.bytes(
        200,
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    );
    w.bytes(99, &[1, 2, 3]);
    w.bytes(
        RTA_GATEWAY,
        &[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    );
    w.bytes(RTA_OIF, &[7, 0]);
    w.bytes(RTA_DST, &[192, 168, 1, 0]);
    w.end();
    let buf = w.into_bytes();
    assert_eq!(
        route(&one(&buf)),
        Some((254, route_of("192.168.1.0/24", None, None)))
    );
}

#[test]
fn malformed_lines_are_skipped() {
    let short = |ty: u16, header: &[u8]| {
        let mut w = Writer::default();
        w.begin(ty, 0, 1);
        w.header(header);
        w.end();
        w.into_bytes()
    };
    // too short for rtmsg / ifaddrmsg
    assert_eq!(route(&one(&short(RTM_NEWROUTE, &[2, 24, 0, 0]))), None);
    assert_eq!(address(&one(&short(RTM_NEWADDR, &[2, 24, 0, 0]))), None);
    // prefix lengths no IPv4 network has
    let bad = short(RTM_NEWROUTE, &[2, 33, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
    assert_eq!(route(&one(&bad)), None);
    // an address line without any address attribute
    assert_eq!(
        address(&one(&short(RTM_NEWADDR, &[2, 24, 0, 0, 1, 0, 0, 0]))),
        None
    );
    // another message type
    let done = short(wire::NLMSG_DONE, &[2, 24, 0, 0, 254, 3, 0, 1, 0, 0, 0, 0]);
    assert_eq!(route(&one(&done)), None);
}
