//! The NETLINK_ROUTE messages outpostd sends and the answers it reads, as
//! pure functions over bytes, so every layout is tested on the host:
//! `RTM_SETLINK` (up, down, MTU, name), `RTM_GETADDR`/`RTM_NEWADDR` and
//! `RTM_GETROUTE`/`RTM_NEWROUTE`/`RTM_DELROUTE`, IPv4 only.
//!
//! Layouts and numbers are the kernel's uapi (`linux/rtnetlink.h`,
//! `linux/if_addr.h`, `linux/if_link.h`). The three family headers have
//! no 64-bit field, so they are the same on i386 and x86-64. An answer is
//! read by the lengths the kernel wrote: an attribute of a type or length
//! not expected here is passed over, a message too short for its header or
//! of another family is skipped — never the whole answer.

use std::net::Ipv4Addr;

use outpost_core::net::{Ipv4Cidr, Ipv4Net};

use crate::nl::wire::{self, Message, Writer};

/// `RTM_SETLINK`.
pub const RTM_SETLINK: u16 = 19;
/// `RTM_NEWADDR`: an address added, or one line of an address dump.
pub const RTM_NEWADDR: u16 = 20;
/// `RTM_DELADDR`: an address removed.
pub const RTM_DELADDR: u16 = 21;
/// `RTM_GETADDR`.
pub const RTM_GETADDR: u16 = 22;
/// `RTM_NEWROUTE`: a route added, or one line of a route dump.
pub const RTM_NEWROUTE: u16 = 24;
/// `RTM_DELROUTE`.
pub const RTM_DELROUTE: u16 = 25;
/// `RTM_GETROUTE`.
pub const RTM_GETROUTE: u16 = 26;
/// `RT_TABLE_MAIN`, the only table outpostd writes or reads.
pub const RT_TABLE_MAIN: u32 = 254;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
/// `IFF_UP` from `linux/if.h`.
const IFF_UP: u32 = 0x1;
/// `IFLA_IFNAME`.
const IFLA_IFNAME: u16 = 3;
/// `IFLA_MTU`.
const IFLA_MTU: u16 = 4;
// IFA_* from if_addr.h.
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
// RTA_* from rtnetlink.h.
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
/// `RTPROT_STATIC`: "installed by the administrator".
const RTPROT_STATIC: u8 = 4;
/// `RT_SCOPE_UNIVERSE`.
const RT_SCOPE_UNIVERSE: u8 = 0;
/// `RTN_UNICAST`.
const RTN_UNICAST: u8 = 1;

/// `sizeof(struct ifinfomsg)`: family, pad, type (u16), index (i32),
/// flags, change.
const IFINFOMSG: usize = 16;
/// `sizeof(struct ifaddrmsg)`: family, prefixlen, flags, scope, index (u32).
const IFADDRMSG: usize = 8;
/// `sizeof(struct rtmsg)`: family, dst_len, src_len, tos, table, protocol,
/// scope, type, flags (u32).
const RTMSG: usize = 12;

/// One IPv4 route, as the kernel lists it and as outpostd writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelRoute {
    /// The destination network (`0.0.0.0/0` for the default route).
    pub destination: Ipv4Net,
    /// The next hop, if any.
    pub gateway: Option<Ipv4Addr>,
    /// The output interface index, if any.
    pub oif: Option<u32>,
}

fn ipv4(v: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(v).ok().map(Ipv4Addr::from)
}

/// One request: the netlink header, the family header, then what
/// `attrs` writes.
fn message(
    ty: u16,
    flags: u16,
    seq: u32,
    header: &[u8],
    attrs: impl FnOnce(&mut Writer),
) -> Vec<u8> {
    let mut w = Writer::default();
    w.begin(ty, flags, seq);
    w.header(header);
    attrs(&mut w);
    w.end();
    w.into_bytes()
}

/// `RTM_SETLINK` for link `index`: administratively up (`ifi_change`
/// names only `IFF_UP`, so no other flag is touched) and/or a new MTU.
pub fn set_link(seq: u32, index: u32, up: bool, mtu: Option<u32>) -> Vec<u8> {
    let (flags, change) = if up { (IFF_UP, IFF_UP) } else { (0, 0) };
    let h = ifinfomsg(index, flags, change);
    message(RTM_SETLINK, wire::F_REQUEST | wire::F_ACK, seq, &h, |w| {
        if let Some(mtu) = mtu {
            w.bytes(IFLA_MTU, &mtu.to_ne_bytes());
        }
    })
}

/// `RTM_SETLINK` taking link `index` administratively down (`ifi_change`
/// names only `IFF_UP`); a link must be down to be renamed.
pub fn set_link_down(seq: u32, index: u32) -> Vec<u8> {
    message(
        RTM_SETLINK,
        wire::F_REQUEST | wire::F_ACK,
        seq,
        &ifinfomsg(index, 0, IFF_UP),
        |_| {},
    )
}

/// `RTM_SETLINK` giving link `index` the name `name` (`IFLA_IFNAME`, NUL
/// terminated as the kernel's `nla_strscpy` wants); no flag is touched.
pub fn rename_link(seq: u32, index: u32, name: &str) -> Vec<u8> {
    message(
        RTM_SETLINK,
        wire::F_REQUEST | wire::F_ACK,
        seq,
        &ifinfomsg(index, 0, 0),
        |w| w.str(IFLA_IFNAME, name),
    )
}

/// `struct ifinfomsg` for link `index` (family AF_UNSPEC, type 0).
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; IFINFOMSG] {
    let mut h = [0u8; IFINFOMSG];
    h[0] = AF_UNSPEC;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h[12..16].copy_from_slice(&change.to_ne_bytes());
    h
}

/// The dump request for every IPv4 address (the kernel filters by
/// family; by link only with strict checking, so the caller does that).
pub fn get_addresses(seq: u32) -> Vec<u8> {
    let mut h = [0u8; IFADDRMSG];
    h[0] = AF_INET;
    message(RTM_GETADDR, wire::F_REQUEST | wire::F_DUMP, seq, &h, |_| {})
}

/// One address of a dump: the link index and the address with its
/// prefix length. `IFA_LOCAL` is the interface's own address; on a
/// point-to-point link `IFA_ADDRESS` is the peer's, so the former wins.
pub fn address(m: &Message) -> Option<(u32, Ipv4Cidr)> {
    let h = m.payload.get(..IFADDRMSG)?;
    if m.ty != RTM_NEWADDR || h[0] != AF_INET || h[1] > 32 {
        return None;
    }
    let index = u32::from_ne_bytes(h[4..8].try_into().ok()?);
    let attrs = m.attrs_after(IFADDRMSG);
    let addr = attrs
        .get(IFA_LOCAL)
        .and_then(ipv4)
        .or_else(|| attrs.get(IFA_ADDRESS).and_then(ipv4))?;
    Some((index, Ipv4Cidr { addr, prefix: h[1] }))
}

/// `RTM_NEWADDR` adding `cidr` to link `index`, scope global, as
/// `ip addr add CIDR brd + dev …` does: local and address the same, the
/// broadcast address only when the prefix leaves room for one (≤ /30;
/// on a /31 the "broadcast" would be the other end). `NLM_F_EXCL`: an
/// address already there is `EEXIST`, not silently redone.
pub fn add_address(seq: u32, index: u32, cidr: Ipv4Cidr) -> Vec<u8> {
    let mut h = [0u8; IFADDRMSG];
    h[0] = AF_INET;
    h[1] = cidr.prefix;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    let flags = wire::F_REQUEST | wire::F_ACK | wire::F_CREATE | wire::F_EXCL;
    message(RTM_NEWADDR, flags, seq, &h, |w| {
        let octets = cidr.addr.octets();
        w.bytes(IFA_LOCAL, &octets);
        w.bytes(IFA_ADDRESS, &octets);
        if cidr.prefix <= 30 {
            let brd = u32::from(cidr.addr) | (u32::MAX >> cidr.prefix);
            w.bytes(IFA_BROADCAST, &brd.to_be_bytes());
        }
    })
}

/// `RTM_DELADDR` removing `cidr` from link `index` (a DHCP lease that
/// changed or ended): the kernel matches local address and prefix length.
pub fn del_address(seq: u32, index: u32, cidr: Ipv4Cidr) -> Vec<u8> {
    let mut h = [0u8; IFADDRMSG];
    h[0] = AF_INET;
    h[1] = cidr.prefix;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    message(RTM_DELADDR, wire::F_REQUEST | wire::F_ACK, seq, &h, |w| {
        w.bytes(IFA_LOCAL, &cidr.addr.octets());
    })
}

/// The dump request for every IPv4 route of every table (the kernel
/// filters by table only with strict checking; the caller keeps main).
pub fn get_routes(seq: u32) -> Vec<u8> {
    let mut h = [0u8; RTMSG];
    h[0] = AF_INET;
    message(
        RTM_GETROUTE,
        wire::F_REQUEST | wire::F_DUMP,
        seq,
        &h,
        |_| {},
    )
}

/// One route of a dump and the table it is in (`RTA_TABLE` when present:
/// `rtm_table` only holds ids up to 255).
pub fn route(m: &Message) -> Option<(u32, KernelRoute)> {
    let h = m.payload.get(..RTMSG)?;
    if m.ty != RTM_NEWROUTE || h[0] != AF_INET || h[1] > 32 {
        return None;
    }
    let attrs = m.attrs_after(RTMSG);
    let table = attrs.u32_ne(RTA_TABLE).unwrap_or(u32::from(h[4]));
    let dst = attrs
        .get(RTA_DST)
        .and_then(ipv4)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    Some((
        table,
        KernelRoute {
            destination: Ipv4Net::new(dst, h[1]),
            gateway: attrs.get(RTA_GATEWAY).and_then(ipv4),
            oif: attrs.u32_ne(RTA_OIF),
        },
    ))
}

/// `RTM_NEWROUTE` installing `r` in the main table, protocol static,
/// scope universe, unicast; `NLM_F_REPLACE` so a route to the same
/// destination that goes another way is replaced, not kept beside it.
pub fn add_route(seq: u32, r: &KernelRoute) -> Vec<u8> {
    let flags = wire::F_REQUEST | wire::F_ACK | wire::F_CREATE | wire::F_REPLACE;
    route_request(RTM_NEWROUTE, flags, seq, r)
}

/// `RTM_DELROUTE` removing `r` as [`add_route`] installed it (the kernel
/// matches table, protocol, scope and type too); `ESRCH` when it is not
/// there.
pub fn del_route(seq: u32, r: &KernelRoute) -> Vec<u8> {
    route_request(RTM_DELROUTE, wire::F_REQUEST | wire::F_ACK, seq, r)
}

fn route_request(ty: u16, flags: u16, seq: u32, r: &KernelRoute) -> Vec<u8> {
    let mut h = [0u8; RTMSG];
    h[0] = AF_INET;
    h[1] = r.destination.prefix();
    h[4] = RT_TABLE_MAIN as u8;
    h[5] = RTPROT_STATIC;
    h[6] = RT_SCOPE_UNIVERSE;
    h[7] = RTN_UNICAST;
    message(ty, flags, seq, &h, |w| {
        w.bytes(RTA_DST, &r.destination.addr().octets());
        if let Some(gw) = r.gateway {
            w.bytes(RTA_GATEWAY, &gw.octets());
        }
        if let Some(oif) = r.oif {
            w.bytes(RTA_OIF, &oif.to_ne_bytes());
        }
    })
}

#[cfg(test)]
mod tests;
