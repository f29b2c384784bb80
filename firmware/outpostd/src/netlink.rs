//! The rtnetlink edge: verb-named, idempotent functions that make one fact
//! about links, addresses and routes true in the kernel and say whether they
//! had to change anything (`Ok(true)`) or found it already so (`Ok(false)`).
//! Deciding *what* should be true is the plans' job (pure code); this file
//! only reads the kernel's state and writes the difference.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt;
use outpost_core::net::{Ipv4Cidr, Ipv4Net};
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

/// Linux errno values the edge tells apart (the same on every architecture
/// outpostd runs on; kept here so the edge needs no libc dependency).
const ENODEV: i32 = 19;
const EEXIST: i32 = 17;
const ESRCH: i32 = 3;
/// `IFF_UP` from <net/if.h>.
const IFF_UP: u32 = 0x1;

/// Why a netlink operation failed, with the device or object it was about.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The route netlink socket could not be opened.
    #[error("cannot open a route netlink socket: {0}")]
    Open(#[source] std::io::Error),
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
        source: std::io::Error,
    },
    /// The kernel refused or failed a request.
    #[error("{action} {subject}: {source}")]
    Request {
        /// What was being done, e.g. "set MTU 1400 on".
        action: String,
        /// The device or route it was done to.
        subject: String,
        /// The kernel's or the library's error.
        #[source]
        source: rtnetlink::Error,
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

/// A connection to the kernel's routing netlink, driven on the current tokio
/// runtime.
pub struct Netlink {
    handle: Handle,
}

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

fn request(
    action: impl Into<String>,
    subject: impl Into<String>,
    source: rtnetlink::Error,
) -> NetlinkError {
    NetlinkError::Request {
        action: action.into(),
        subject: subject.into(),
        source,
    }
}

impl Netlink {
    /// Opens the socket and spawns its driver task; call inside a tokio runtime.
    pub fn connect() -> Result<Self, NetlinkError> {
        let (connection, handle, _) = rtnetlink::new_connection().map_err(NetlinkError::Open)?;
        tokio::spawn(connection);
        Ok(Netlink { handle })
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
        let msg = LinkUnspec::new_with_index(link.index).up().build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| request("bring up", device, e))?;
        Ok(true)
    }

    /// Sets the MTU of `device`.
    pub async fn set_mtu(&self, device: &str, mtu: u32) -> Result<bool, NetlinkError> {
        let link = self.link(device).await?;
        if link.mtu == Some(mtu) {
            return Ok(false);
        }
        let msg = LinkUnspec::new_with_index(link.index).mtu(mtu).build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| request(format!("set MTU {mtu} on"), device, e))?;
        Ok(true)
    }

    /// The IPv4 addresses on `device`, with their prefix lengths.
    pub async fn addresses(&self, device: &str) -> Result<Vec<Ipv4Cidr>, NetlinkError> {
        let link = self.link(device).await?;
        let mut stream = self
            .handle
            .address()
            .get()
            .set_link_index_filter(link.index)
            .execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| request("list addresses of", device, e))?
        {
            out.extend(ipv4_of(&msg));
        }
        Ok(out)
    }

    /// Adds the address `cidr` to `device`; `Ok(false)` when it is there
    /// already with the same prefix length.
    pub async fn add_address(&self, device: &str, cidr: Ipv4Cidr) -> Result<bool, NetlinkError> {
        if self.addresses(device).await?.contains(&cidr) {
            return Ok(false);
        }
        let link = self.link(device).await?;
        let added = self
            .handle
            .address()
            .add(link.index, IpAddr::V4(cidr.addr), cidr.prefix)
            .execute()
            .await;
        match added {
            Ok(()) => Ok(true),
            // Present since the read above: somebody else made it true.
            Err(e) if errno(&e) == Some(EEXIST) => Ok(false),
            Err(e) => Err(request(format!("add address {cidr} to"), device, e)),
        }
    }

    /// Installs `route` in the main table, replacing a route to the same
    /// destination that goes another way; `Ok(false)` when that exact route
    /// is there already.
    pub async fn add_route(&self, route: &Route<'_>) -> Result<bool, NetlinkError> {
        let oif = match route.device {
            Some(dev) => Some(self.link(dev).await?.index),
            None => None,
        };
        let present = self.routes().await?.into_iter().any(|(dst, gw, o)| {
            dst == route.destination && gw == route.gateway && (oif.is_none() || o == oif)
        });
        if present {
            return Ok(false);
        }
        let msg = self.route_message(route).await?;
        self.handle
            .route()
            .add(msg)
            .replace()
            .execute()
            .await
            .map_err(|e| request("add route", describe(route), e))?;
        Ok(true)
    }

    /// Removes `route` from the main table; `Ok(false)` when it was not there.
    pub async fn del_route(&self, route: &Route<'_>) -> Result<bool, NetlinkError> {
        let msg = self.route_message(route).await?;
        match self.handle.route().del(msg).execute().await {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(ESRCH) => Ok(false),
            Err(e) => Err(request("delete route", describe(route), e)),
        }
    }

    /// The IPv4 routes of the main table, as (destination, gateway, output index).
    pub async fn routes(
        &self,
    ) -> Result<Vec<(Ipv4Net, Option<Ipv4Addr>, Option<u32>)>, NetlinkError> {
        let filter = RouteMessageBuilder::<Ipv4Addr>::new().build();
        let mut stream = self.handle.route().get(filter).execute();
        let mut out = Vec::new();
        while let Some(msg) = stream
            .try_next()
            .await
            .map_err(|e| request("list", "routes", e))?
        {
            if msg.header.table != 254 {
                continue;
            }
            out.push(route_of(&msg));
        }
        Ok(out)
    }

    async fn route_message(&self, route: &Route<'_>) -> Result<RouteMessage, NetlinkError> {
        let mut b = RouteMessageBuilder::<Ipv4Addr>::new()
            .destination_prefix(route.destination.addr(), route.destination.prefix());
        if let Some(gw) = route.gateway {
            b = b.gateway(gw);
        }
        if let Some(dev) = route.device {
            b = b.output_interface(self.link(dev).await?.index);
        }
        Ok(b.build())
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

fn ipv4_of(msg: &AddressMessage) -> Option<Ipv4Cidr> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer's on
    // point-to-point links, so prefer the former.
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(v)) => Some(*v),
        _ => None,
    });
    let addr = local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(IpAddr::V4(v)) => Some(*v),
            _ => None,
        })
    })?;
    Some(Ipv4Cidr {
        addr,
        prefix: msg.header.prefix_len,
    })
}

fn route_of(msg: &RouteMessage) -> (Ipv4Net, Option<Ipv4Addr>, Option<u32>) {
    let mut dst = Ipv4Addr::UNSPECIFIED;
    let mut gw = None;
    let mut oif = None;
    for a in &msg.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = *d,
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => gw = Some(*g),
            RouteAttribute::Oif(i) => oif = Some(*i),
            _ => {}
        }
    }
    (
        Ipv4Net::new(dst, msg.header.destination_prefix_length),
        gw,
        oif,
    )
}
