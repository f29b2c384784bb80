//! The routing netlink edge: verb-named, idempotent functions that make one
//! fact about links, addresses and routes true in the kernel and say whether
//! they had to change anything (`Ok(true)`) or found it already so
//! (`Ok(false)`). Deciding *what* should be true is the plans' job (pure
//! code); this file only reads the kernel's state and writes the difference.
//!
//! It speaks NETLINK_ROUTE itself: the messages are built and read by the
//! pure functions in `netlink/messages.rs`, over the netlink socket shared with
//! nf_tables ([`crate::nl`]). Links are read with ioctls ([`crate::ifreq`]).
//! The verbs stay `async` for their callers, but each is a few blocking
//! calls on a local socket the kernel answers at once (5 s timeout at most).

mod messages;

use std::io;
use std::net::Ipv4Addr;
use std::sync::{Mutex, PoisonError};

use outpost_core::net::{Ipv4Cidr, Ipv4Net};

use crate::nl::wire::Message;
use crate::nl::Socket;
use messages::{KernelRoute, RT_TABLE_MAIN};

/// Linux errno values the edge tells apart (the same on every architecture
/// outpostd runs on).
const ENODEV: i32 = 19;
const EEXIST: i32 = 17;
const ESRCH: i32 = 3;
const EADDRNOTAVAIL: i32 = 99;
/// `IFF_UP` from <net/if.h>.
const IFF_UP: u32 = 0x1;

/// Why a netlink operation failed, with the device or object it was about.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The route netlink socket could not be opened.
    #[error("cannot open a route netlink socket: {0}")]
    Open(#[source] io::Error),
    /// The device named in the config does not exist in the kernel.
    #[error("no network device named `{0}` (is its driver in the kernel? `ip link` lists the devices there are)")]
    NoSuchDevice(String),
    /// A device could not be looked up.
    #[error("look up link {subject}: {source}")]
    Ioctl {
        /// The device.
        subject: String,
        /// The kernel's error.
        #[source]
        source: io::Error,
    },
    /// The kernel refused or failed a request.
    #[error("{action} {subject}: {source}")]
    Request {
        /// What was being done, e.g. "set MTU 1400 on".
        action: String,
        /// The device or route it was done to.
        subject: String,
        /// The kernel's errno, or why no answer came.
        #[source]
        source: io::Error,
    },
}

/// What the kernel says about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// The interface index.
    pub index: u32,
    /// The administrative state (`IFF_UP`).
    pub up: bool,
    /// The MTU, when the kernel reported one.
    pub mtu: Option<u32>,
}

/// One IPv4 route, as outpostd installs it (main table, static protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    /// The destination network.
    pub destination: Ipv4Net,
    /// The next hop, if any (none: the destination is on the link).
    pub gateway: Option<Ipv4Addr>,
    /// The output device, if the route is bound to one.
    pub device: Option<&'a str>,
}

/// The socket and the next sequence number, used by one request at a time
/// (answers are read right after each request, so two must not interleave).
struct Conn {
    sock: Socket,
    seq: u32,
}

/// A connection to the kernel's routing netlink.
pub struct Netlink {
    conn: Mutex<Conn>,
}

fn request(
    action: impl Into<String>,
    subject: impl Into<String>,
    source: io::Error,
) -> NetlinkError {
    NetlinkError::Request {
        action: action.into(),
        subject: subject.into(),
        source,
    }
}

impl Netlink {
    /// Opens the socket.
    pub fn connect() -> Result<Self, NetlinkError> {
        let sock = Socket::open(libc::NETLINK_ROUTE).map_err(NetlinkError::Open)?;
        Ok(Netlink {
            // Any start will do; distinct per process makes traces readable.
            conn: Mutex::new(Conn {
                sock,
                seq: std::process::id() << 8,
            }),
        })
    }

    /// Runs `f` with the socket and a fresh sequence number, alone.
    fn with_socket<T>(&self, f: impl FnOnce(&Socket, u32) -> T) -> T {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.seq = conn.seq.wrapping_add(1);
        f(&conn.sock, conn.seq)
    }

    /// Sends the request `build` makes for a fresh sequence number and
    /// waits for its acknowledgement: `Ok(true)` when the kernel did it,
    /// `Ok(false)` when it refused with `already` (the fact was true
    /// already), an error naming `action` and `subject` otherwise.
    fn change(
        &self,
        already: Option<i32>,
        action: &str,
        subject: &str,
        build: impl FnOnce(u32) -> Vec<u8>,
    ) -> Result<bool, NetlinkError> {
        match self.with_socket(|sock, seq| sock.request(&build(seq), seq)) {
            Ok(None) => Ok(true),
            Ok(Some(errno)) if Some(errno) == already => Ok(false),
            Ok(Some(errno)) => Err(request(
                action,
                subject,
                io::Error::from_raw_os_error(errno),
            )),
            Err(e) => Err(request(action, subject, e)),
        }
    }

    /// Runs the dump `build` makes and keeps what `keep` makes of each line.
    fn dump<T>(
        &self,
        build: impl FnOnce(u32) -> Vec<u8>,
        mut keep: impl FnMut(&Message) -> Option<T>,
    ) -> io::Result<Vec<T>> {
        let mut out = Vec::new();
        self.with_socket(|sock, seq| sock.dump(&build(seq), |m| out.extend(keep(m))))?;
        Ok(out)
    }

    /// The kernel's view of the link named `device` (read with ioctls: see
    /// [`crate::ifreq`] for why not with `RTM_GETLINK`).
    pub async fn link(&self, device: &str) -> Result<LinkState, NetlinkError> {
        match crate::ifreq::info(device) {
            Ok(i) => Ok(LinkState {
                index: i.index,
                up: i.flags & IFF_UP != 0,
                mtu: Some(i.mtu),
            }),
            Err(e) if e.raw_os_error() == Some(ENODEV) => {
                Err(NetlinkError::NoSuchDevice(device.to_string()))
            }
            Err(e) => Err(NetlinkError::Ioctl {
                subject: device.to_string(),
                source: e,
            }),
        }
    }

    /// Brings `device` administratively up.
    pub async fn set_link_up(&self, device: &str) -> Result<bool, NetlinkError> {
        let link = self.link(device).await?;
        if link.up {
            return Ok(false);
        }
        self.change(None, "bring up", device, |seq| {
            messages::set_link(seq, link.index, true, None)
        })
    }

    /// Takes `device` administratively down (a link must be down to be
    /// renamed; [`crate::cards`] does that at boot and on re-apply).
    pub async fn set_link_down(&self, device: &str) -> Result<bool, NetlinkError> {
        let link = self.link(device).await?;
        if !link.up {
            return Ok(false);
        }
        self.change(None, "take down", device, |seq| {
            messages::set_link_down(seq, link.index)
        })
    }

    /// Renames the link `device` to `name`; `Ok(false)` when that is its
    /// name already. The link must be down (else the kernel says `EBUSY`),
    /// and `name` free (else `EEXIST`): both are errors here, since only
    /// the caller knows which card should give way.
    pub async fn rename_link(&self, device: &str, name: &str) -> Result<bool, NetlinkError> {
        let link = self.link(device).await?;
        if device == name {
            return Ok(false);
        }
        self.change(None, &format!("rename to {name}"), device, |seq| {
            messages::rename_link(seq, link.index, name)
        })
    }

    /// Sets the MTU of `device`.
    pub async fn set_mtu(&self, device: &str, mtu: u32) -> Result<bool, NetlinkError> {
        let link = self.link(device).await?;
        if link.mtu == Some(mtu) {
            return Ok(false);
        }
        self.change(None, &format!("set MTU {mtu} on"), device, |seq| {
            messages::set_link(seq, link.index, false, Some(mtu))
        })
    }

    /// The IPv4 addresses on `device`, with their prefix lengths.
    pub async fn addresses(&self, device: &str) -> Result<Vec<Ipv4Cidr>, NetlinkError> {
        let link = self.link(device).await?;
        self.dump(messages::get_addresses, |m| {
            messages::address(m).and_then(|(index, cidr)| (index == link.index).then_some(cidr))
        })
        .map_err(|e| request("list addresses of", device, e))
    }

    /// Adds the address `cidr` to `device`; `Ok(false)` when it is there
    /// already with the same prefix length.
    pub async fn add_address(&self, device: &str, cidr: Ipv4Cidr) -> Result<bool, NetlinkError> {
        if self.addresses(device).await?.contains(&cidr) {
            return Ok(false);
        }
        let link = self.link(device).await?;
        // EEXIST: present since the read above, somebody else made it true.
        self.change(
            Some(EEXIST),
            &format!("add address {cidr} to"),
            device,
            |seq| messages::add_address(seq, link.index, cidr),
        )
    }

    /// Removes the address `cidr` from `device`; `Ok(false)` when it is
    /// not there (EADDRNOTAVAIL: gone since the read).
    pub async fn del_address(&self, device: &str, cidr: Ipv4Cidr) -> Result<bool, NetlinkError> {
        if !self.addresses(device).await?.contains(&cidr) {
            return Ok(false);
        }
        let link = self.link(device).await?;
        self.change(
            Some(EADDRNOTAVAIL),
            &format!("remove address {cidr} from"),
            device,
            |seq| messages::del_address(seq, link.index, cidr),
        )
    }

    /// Installs `route` in the main table, replacing a route to the same
    /// destination that goes another way; `Ok(false)` when that exact route
    /// is there already.
    pub async fn add_route(&self, route: &Route<'_>) -> Result<bool, NetlinkError> {
        let r = self.kernel_route(route).await?;
        let present = self.routes().await?.into_iter().any(|(dst, gw, o)| {
            dst == r.destination && gw == r.gateway && (r.oif.is_none() || o == r.oif)
        });
        if present {
            return Ok(false);
        }
        self.change(None, "add route", &describe(route), |seq| {
            messages::add_route(seq, &r)
        })
    }

    /// Removes `route` from the main table; `Ok(false)` when it was not
    /// there, or its device is gone (and the route with it).
    pub async fn del_route(&self, route: &Route<'_>) -> Result<bool, NetlinkError> {
        let r = match self.kernel_route(route).await {
            // The kernel drops a device's routes with it (pppd's vpn0 once
            // the link is gone): there is nothing left to delete.
            Err(NetlinkError::NoSuchDevice(_)) => return Ok(false),
            other => other?,
        };
        self.change(Some(ESRCH), "delete route", &describe(route), |seq| {
            messages::del_route(seq, &r)
        })
    }

    /// The IPv4 routes of the main table, as (destination, gateway, output index).
    pub async fn routes(
        &self,
    ) -> Result<Vec<(Ipv4Net, Option<Ipv4Addr>, Option<u32>)>, NetlinkError> {
        self.dump(messages::get_routes, |m| {
            let (table, r) = messages::route(m)?;
            (table == RT_TABLE_MAIN).then_some((r.destination, r.gateway, r.oif))
        })
        .map_err(|e| request("list", "routes", e))
    }

    async fn kernel_route(&self, route: &Route<'_>) -> Result<KernelRoute, NetlinkError> {
        let oif = match route.device {
            Some(dev) => Some(self.link(dev).await?.index),
            None => None,
        };
        Ok(KernelRoute {
            destination: route.destination,
            gateway: route.gateway,
            oif,
        })
    }
}

fn describe(route: &Route<'_>) -> String {
    let mut s = route.destination.to_string();
    if let Some(gw) = route.gateway {
        s.push_str(&format!(" via {gw}"));
    }
    if let Some(dev) = route.device {
        s.push_str(&format!(" dev {dev}"));
    }
    s
}
