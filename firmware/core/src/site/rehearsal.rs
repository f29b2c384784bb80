//! The rehearsal's plan: from a site, the emulated network that tries its
//! routers' images before they are flashed — one segment per LAN, per
//! head-office network and per WAN subnet; every router plugged in by its
//! devices; one test host on every LAN and head network, one "internet"
//! host on the WANs (the gateway the routers name, forwarding between WAN
//! subnets when there are several), one stand-in PC per home user; and the
//! checks to send as packets: the policy's whole accept/deny matrix, each
//! office's internet traffic, and the explicit `[[test]]`s.
//!
//! Pure: `mkoutpost site rehearse` builds the images and boots this plan
//! (`image/src/rehearse/`).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::derive::{lcp, list, own_key, q};
use super::policy::within;
use super::{Site, INTERNET};
use crate::keys::PublicKey;
use crate::net::{Ipv4Cidr, Ipv4Net};

/// RAM of a router whose site entry names none, and of every test host
/// (MiB): what a small box of the period had, and enough for TCG.
pub const DEFAULT_MEMORY_MIB: u32 = 32;

/// The name of the host standing for the internet.
pub const INTERNET_HOST: &str = "internet";

/// The lease the internet host hands a DHCP office, seconds: short, so a
/// rehearsal sees renewals (every 30 s) and a renumbered office within a
/// minute, long enough that a 30 s WAN cut outlives no lease by itself.
pub const REHEARSAL_LEASE_S: u32 = 60;

/// One Ethernet segment (a hub with a port per NIC on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Hub name: `lan-OFFICE`, `net-NETWORK`, `wan0`, `wan1`, …
    pub name: String,
    /// Its IPv4 network.
    pub net: Ipv4Net,
    /// How many NICs plug into it.
    pub ports: usize,
}

/// A NIC: the guest's device, the segment and the port it plugs into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    /// Kernel device (`eth0`, …); NICs are added in device order, so the
    /// guest's kernel names them so.
    pub device: String,
    /// Segment name.
    pub segment: String,
    /// Port on the segment's hub.
    pub port: usize,
    /// Its MAC, when the plan must know it (a DHCP office's WAN, which the
    /// internet host leases a fixed address by MAC; a card the site file
    /// names by MAC); else the harness's.
    pub mac: Option<String>,
    /// An ISA card's io/irq from the site file: the rehearsal plugs an ISA
    /// NE2000 there, as the box has.
    pub isa: Option<crate::config::IsaCard>,
}

impl Wire {
    /// `self` as the site file's card for it says (MAC, ISA resources).
    fn with_card(mut self, hw: &super::Hardware, name: &str) -> Wire {
        if let Some(c) = hw.card(name) {
            self.mac = c.mac.as_ref().map(crate::net::format_mac).or(self.mac);
            self.isa = c.isa;
        }
        self
    }
}

/// A DHCP office's WAN lease in the rehearsal: the internet host leases
/// `address` to `mac` on the head's WAN; the lease-change fault moves it
/// to `renumbered`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RehearsedLease {
    /// The office.
    pub office: String,
    /// Its WAN NIC's MAC.
    pub mac: String,
    /// The address leased at first.
    pub address: Ipv4Addr,
    /// The address the lease-change fault leases instead.
    pub renumbered: Ipv4Addr,
}

/// What a guest is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestKind {
    /// One of the site's routers: its own built image.
    Router,
    /// A test host (role `host`), built from `config`.
    Host {
        /// Its outpost.toml text.
        config: String,
        /// Its address (what checks send to).
        address: Ipv4Addr,
        /// More addresses on its first interface, added at its console once
        /// it is up: those explicit tests name beside the first.
        extra: Vec<Ipv4Cidr>,
        /// Forwards between its interfaces (the internet between WANs):
        /// switched on at its console once it is up.
        forwards: bool,
        /// Takes its address by DHCP (a LAN with a DHCP range): `address`
        /// is the range's first, which the only client there is given.
        dhcp: bool,
        /// Names it answers for as a DNS server (busybox dnsd, started at
        /// its console once it is up): the internet host, for the
        /// concentrator's `dns_name`.
        dns_records: Vec<(String, Ipv4Addr)>,
    },
    /// A home user's PC, stood in for by an Outpost office image with one
    /// interface whose tunnel dials the concentrator with the user's key.
    Home {
        /// Its outpost.toml text.
        config: String,
        /// The user's private key, relative to the site file's directory.
        site_key: String,
        /// Its tunnel address (what checks send to and from).
        address: Ipv4Addr,
    },
}

/// One emulated machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guest {
    /// Machine name (a router's host name, `host-NET`, `internet`, `home-NAME`).
    pub name: String,
    /// What it is.
    pub kind: GuestKind,
    /// Its NICs, in device order.
    pub nics: Vec<Wire>,
    /// RAM, MiB.
    pub memory_mib: u32,
}

/// Where a check comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The policy's matrix.
    Policy,
    /// An explicit `[[test]]`, at this line of the site file.
    Test(usize),
}

/// One connection attempt to make as packets: a ping and a TCP connection
/// from guest `from` to `to_ip` (guest `to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What a person calls the pair: `office1 → private`.
    pub label: String,
    /// Sending guest.
    pub from: String,
    /// The source address it sends from.
    pub from_ip: Ipv4Addr,
    /// Answering guest.
    pub to: String,
    /// The address sent to.
    pub to_ip: Ipv4Addr,
    /// Expected: answered (true) or refused.
    pub accept: bool,
    /// For internet checks: the source address the far end must see (the
    /// office's WAN address: masqueraded, never through the tunnel).
    pub seen_as: Option<Ipv4Addr>,
    /// Where it comes from.
    pub origin: Origin,
}

/// The whole rehearsal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Every segment.
    pub segments: Vec<Segment>,
    /// Every guest: routers first (concentrator, offices), then test hosts,
    /// the internet host and home users' PCs.
    pub guests: Vec<Guest>,
    /// The checks, the policy's matrix first, then the explicit tests.
    pub checks: Vec<Check>,
    /// The DHCP offices' WAN leases.
    pub leases: Vec<RehearsedLease>,
}

/// Why a site cannot be rehearsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RehearsalError {
    /// No free address for a test host.
    #[error(
        "{0}: no free address for a test host (every address is taken by a router or a home user)"
    )]
    NoAddress(String),
    /// A public key the home stand-in needs.
    #[error("no public key for `{0}`")]
    MissingKey(String),
    /// An explicit test names an address no guest of the rehearsal has.
    #[error(
        "the test {src} → {dst} (line {line}) names an address outside every test host's network"
    )]
    Unplaceable {
        /// Source as written.
        src: String,
        /// Destination as written.
        dst: String,
        /// Its line.
        line: usize,
    },
}

/// The name of the test host on network `name`.
pub fn host_name(name: &str) -> String {
    format!("host-{name}")
}

/// The name of home user `name`'s stand-in PC.
pub fn home_name(name: &str) -> String {
    format!("home-{name}")
}

/// A network the plan puts a test host on.
struct Net {
    /// Policy name (office or head network).
    name: String,
    net: Ipv4Net,
    router: Ipv4Addr,
    segment: String,
    /// The first address of its DHCP range, if the router serves one.
    dhcp: Option<Ipv4Addr>,
}

impl Site {
    /// The rehearsal's plan; `head_key` is the concentrator's public key,
    /// which home users' stand-ins pin.
    pub fn rehearsal(&self, head_key: &PublicKey) -> Result<Plan, RehearsalError> {
        let mut segments: Vec<Segment> = Vec::new();
        let mut guests: Vec<Guest> = Vec::new();
        // A NIC on segment `name` (made on first use), on its next port.
        let plug = |segments: &mut Vec<Segment>, name: &str, net: Ipv4Net, device: &str| -> Wire {
            let i = segments
                .iter()
                .position(|s| s.name == name)
                .unwrap_or_else(|| {
                    segments.push(Segment {
                        name: name.to_string(),
                        net,
                        ports: 0,
                    });
                    segments.len() - 1
                });
            segments[i].ports += 1;
            Wire {
                device: device.to_string(),
                segment: name.to_string(),
                port: segments[i].ports - 1,
                mac: None,
                isa: None,
            }
        };

        // WAN subnets, in order of first appearance (the head's first).
        let mut wans: Vec<Ipv4Net> = Vec::new();
        let mut wan_of = |n: Ipv4Net| -> String {
            let i = wans.iter().position(|w| *w == n).unwrap_or_else(|| {
                wans.push(n);
                wans.len() - 1
            });
            format!("wan{i}")
        };
        let mut nets: Vec<Net> = Vec::new();

        // The concentrator.
        let h = &self.head;
        let mut nics = vec![plug(
            &mut segments,
            &wan_of(h.wan.address.network()),
            h.wan.address.network(),
            &h.wan.device,
        )
        .with_card(&h.hardware, "wan")];
        for n in &h.networks {
            let seg = format!("net-{}", n.name);
            nics.push(
                plug(&mut segments, &seg, n.net(), &n.device).with_card(&h.hardware, &n.name),
            );
            nets.push(Net {
                name: n.name.clone(),
                net: n.net(),
                router: n.address.addr,
                segment: seg,
                dhcp: None,
            });
        }
        guests.push(router(&h.name, nics, h.build.memory_mib));

        // The offices; one on DHCP sits on the head's WAN, where the
        // internet host is its ISP's DHCP server.
        let head_wan = h.wan.address.network();
        let mut dhcp_offices: Vec<(String, String)> = Vec::new();
        for o in &self.offices {
            let seg = format!("lan-{}", o.name);
            let wan = o.wan.fixed().map_or(head_wan, |w| w.address.network());
            let mut wire = plug(&mut segments, &wan_of(wan), wan, o.wan.device())
                .with_card(&o.hardware, "wan");
            if o.wan.fixed().is_none() {
                let mac = wire
                    .mac
                    .clone()
                    .unwrap_or_else(|| format!("02:00:00:00:17:{:02x}", dhcp_offices.len() + 1));
                wire.mac = Some(mac.clone());
                dhcp_offices.push((o.name.clone(), mac));
            }
            let nics = vec![
                plug(&mut segments, &seg, o.lan.network(), &o.lan_device)
                    .with_card(&o.hardware, "lan"),
                wire,
            ];
            nets.push(Net {
                name: o.name.clone(),
                net: o.lan.network(),
                router: o.lan.addr,
                segment: seg,
                dhcp: o.lan_dhcp.map(|(first, _)| first),
            });
            guests.push(router(&o.name, nics, o.build.memory_mib));
        }

        // A test host on every LAN and head network, at the address an
        // explicit test names there, else the tenth, else the first free.
        let mut host_ips: Vec<(String, Vec<Ipv4Addr>)> = Vec::new();
        for n in &nets {
            // Not a router's or home user's address, nor inside a network
            // nested in this one (the seed's LANs lie inside 192.168/16).
            let taken = |a: Ipv4Addr| {
                a == n.router
                    || self.homes.iter().any(|h| h.tunnel_address == a)
                    || self.pool.contains(a)
                    || nets
                        .iter()
                        .any(|m| m.net.prefix() > n.net.prefix() && m.net.contains(a))
            };
            let mut wanted: Vec<Ipv4Addr> = Vec::new();
            for t in self.tests.iter().flat_map(|t| [t.src_net, t.dst_net]) {
                let a = t.addr();
                if t.prefix() == 32 && n.net.contains(a) && !taken(a) && !wanted.contains(&a) {
                    wanted.push(a);
                }
            }
            if let Some(first) = n.dhcp {
                // Its lease first; tested addresses are added beside it.
                wanted.retain(|a| *a != first);
                wanted.insert(0, first);
            }
            if wanted.is_empty() {
                wanted.extend(free_host(n.net, 10, &taken));
            }
            let Some(&ip) = wanted.first() else {
                return Err(RehearsalError::NoAddress(n.name.clone()));
            };
            let name = host_name(&n.name);
            let nic = plug(&mut segments, &n.segment, n.net, "eth0");
            let config = match n.dhcp {
                Some(_) => host_config(&name, &[], None, false, &[], None),
                None => host_config(
                    &name,
                    &[Ipv4Cidr {
                        addr: ip,
                        prefix: n.net.prefix(),
                    }],
                    Some(n.router),
                    false,
                    &[],
                    None,
                ),
            };
            guests.push(Guest {
                name: name.clone(),
                kind: GuestKind::Host {
                    config,
                    dhcp: n.dhcp.is_some(),
                    dns_records: Vec::new(),
                    address: ip,
                    extra: wanted[1..]
                        .iter()
                        .map(|a| Ipv4Cidr {
                            addr: *a,
                            prefix: n.net.prefix(),
                        })
                        .collect(),
                    forwards: false,
                },
                nics: vec![nic],
                memory_mib: DEFAULT_MEMORY_MIB,
            });
            host_ips.push((n.name.clone(), wanted));
        }

        // The internet: one NIC per WAN subnet, at the gateway the routers
        // there name, else a free address; routing between the WANs.
        let mut wan_addrs: Vec<Ipv4Cidr> = Vec::new();
        let mut inet_nics = Vec::new();
        let routers_on = |w: Ipv4Net| -> Vec<(Ipv4Addr, Option<Ipv4Addr>)> {
            std::iter::once((h.wan.address.addr, h.wan.gateway))
                .chain(
                    self.offices
                        .iter()
                        .filter_map(|o| o.wan.fixed())
                        .map(|w| (w.address.addr, w.gateway)),
                )
                .filter(|(a, _)| w.contains(*a))
                .collect()
        };
        for (i, w) in wans.iter().enumerate() {
            let on = routers_on(*w);
            let gateway = on.iter().find_map(|(_, g)| g.filter(|g| w.contains(*g)));
            let taken = |a: Ipv4Addr| on.iter().any(|(r, _)| *r == a);
            let ip = gateway
                .or_else(|| free_host(*w, 100, &taken))
                .ok_or_else(|| RehearsalError::NoAddress(format!("WAN {w}")))?;
            wan_addrs.push(Ipv4Cidr {
                addr: ip,
                prefix: w.prefix(),
            });
            inet_nics.push(plug(
                &mut segments,
                &format!("wan{i}"),
                *w,
                &format!("eth{i}"),
            ));
        }
        let inet_ip = wan_addrs[0].addr;
        // The DHCP offices' leases on the head's WAN: the first free
        // addresses from its second, then as many again for renumbering.
        let mut home_taken: Vec<Ipv4Addr> = routers_on(head_wan).iter().map(|(a, _)| *a).collect();
        home_taken.push(inet_ip);
        let mut leases: Vec<RehearsedLease> = Vec::new();
        for (office, mac) in &dhcp_offices {
            let mut next = || -> Result<Ipv4Addr, RehearsalError> {
                let a = free_host(head_wan, 2, &|a| home_taken.contains(&a))
                    .ok_or_else(|| RehearsalError::NoAddress(format!("{office}'s DHCP lease")))?;
                home_taken.push(a);
                Ok(a)
            };
            let address = next()?;
            let renumbered = next()?;
            leases.push(RehearsedLease {
                office: office.clone(),
                mac: mac.clone(),
                address,
                renumbered,
            });
        }
        guests.push(Guest {
            name: INTERNET_HOST.into(),
            kind: GuestKind::Host {
                config: host_config(
                    INTERNET_HOST,
                    &wan_addrs,
                    None,
                    wans.len() > 1,
                    &leases,
                    h.dns_name.as_ref().map(|_| inet_ip),
                ),
                address: inet_ip,
                extra: Vec::new(),
                forwards: wans.len() > 1,
                dhcp: false,
                dns_records: h
                    .dns_name
                    .iter()
                    .map(|n| (n.clone(), h.wan.address.addr))
                    .collect(),
            },
            nics: inet_nics,
            memory_mib: DEFAULT_MEMORY_MIB,
        });

        // Home users' PCs, on the head's WAN beside it.
        for (i, hm) in self.homes.iter().enumerate() {
            let ip = free_host(head_wan, 200, &|a| home_taken.contains(&a))
                .ok_or_else(|| RehearsalError::NoAddress(format!("home user {}", hm.name)))?;
            home_taken.push(ip);
            let reach: Vec<Ipv4Net> = self
                .out_of(super::Endpoint::Home(i))
                .into_iter()
                .map(|e| self.net(e))
                .collect();
            let name = home_name(&hm.name);
            guests.push(Guest {
                name: name.clone(),
                kind: GuestKind::Home {
                    config: home_config(
                        self,
                        &hm.name,
                        &name,
                        Ipv4Cidr {
                            addr: ip,
                            prefix: head_wan.prefix(),
                        },
                        &reach,
                        head_key,
                    ),
                    site_key: hm.key.clone(),
                    address: hm.tunnel_address,
                },
                nics: vec![plug(&mut segments, "wan0", head_wan, "eth0")],
                memory_mib: DEFAULT_MEMORY_MIB,
            });
        }

        // Who stands for what: a home user's PC for its tunnel address, else
        // the test host of the narrowest network holding `net` (an address
        // only if the host was placed at it).
        let stand_in = |net: Ipv4Net| -> Option<(String, Ipv4Addr)> {
            if net.prefix() == 32 {
                if let Some(h) = self.homes.iter().find(|h| h.tunnel_address == net.addr()) {
                    return Some((home_name(&h.name), h.tunnel_address));
                }
            }
            let n = nets
                .iter()
                .filter(|x| within(net, x.net))
                .max_by_key(|x| x.net.prefix())?;
            let (_, ips) = host_ips.iter().find(|(name, _)| *name == n.name)?;
            let ip = if net.prefix() < 32 {
                ips[0]
            } else {
                *ips.iter().find(|a| **a == net.addr())?
            };
            Some((host_name(&n.name), ip))
        };

        let mut checks = Vec::new();
        for r in self.reachability() {
            let Some((from, from_ip)) = stand_in(r.src_net) else {
                continue;
            };
            let office_wan =
                self.offices
                    .iter()
                    .find(|o| o.name == r.src)
                    .and_then(|o| match o.wan.fixed() {
                        Some(w) => Some(w.address.addr),
                        None => leases
                            .iter()
                            .find(|l| l.office == o.name)
                            .map(|l| l.address),
                    });
            let (to, to_ip, seen_as) = if r.dst == INTERNET {
                (
                    INTERNET_HOST.to_string(),
                    inet_ip,
                    if r.accept { office_wan } else { None },
                )
            } else {
                let Some((to, ip)) = stand_in(r.dst_net) else {
                    continue;
                };
                (to, ip, None)
            };
            checks.push(Check {
                label: format!("{} → {}", r.src, r.dst),
                from,
                from_ip,
                to,
                to_ip,
                accept: r.accept,
                seen_as,
                origin: Origin::Policy,
            });
        }
        for t in &self.tests {
            let unplaceable = || RehearsalError::Unplaceable {
                src: t.src.clone(),
                dst: t.dst.clone(),
                line: t.at.line,
            };
            let (from, from_ip) = stand_in(t.src_net).ok_or_else(unplaceable)?;
            let (to, to_ip) = if t.dst == INTERNET {
                (INTERNET_HOST.to_string(), inet_ip)
            } else {
                stand_in(t.dst_net).ok_or_else(unplaceable)?
            };
            checks.push(Check {
                label: format!("{} → {}", t.src, t.dst),
                from,
                from_ip,
                to,
                to_ip,
                accept: t.accept,
                seen_as: None,
                origin: Origin::Test(t.at.line),
            });
        }
        Ok(Plan {
            segments,
            guests,
            checks,
            leases,
        })
    }
}

fn router(name: &str, mut nics: Vec<Wire>, memory: Option<u32>) -> Guest {
    nics.sort_by(|a, b| a.device.cmp(&b.device));
    Guest {
        name: name.to_string(),
        kind: GuestKind::Router,
        nics,
        memory_mib: memory.unwrap_or(DEFAULT_MEMORY_MIB),
    }
}

/// The host address at `offset` in `net` if it is free, else the first
/// free one.
fn free_host(net: Ipv4Net, offset: u32, taken: &dyn Fn(Ipv4Addr) -> bool) -> Option<Ipv4Addr> {
    let base = u32::from(net.addr());
    let size = 1u64 << (32 - u32::from(net.prefix()));
    let (first, last) = if net.prefix() >= 31 {
        (0, size - 1)
    } else {
        (1, size - 2)
    };
    let usable = |o: u64| -> Option<Ipv4Addr> {
        let a = Ipv4Addr::from(base.checked_add(u32::try_from(o).ok()?)?);
        (o >= first && o <= last && !taken(a)).then_some(a)
    };
    usable(u64::from(offset)).or_else(|| (first..=last).find_map(usable))
}

/// A test host's config: role `host`, its addresses (none: DHCP), a
/// default route; the internet between several WANs forwards everything
/// (the ISPs' routers; its console switches `ip_forward` on, which a
/// host's plan keeps off), and leases the DHCP offices their WAN addresses
/// on its first interface (the head's WAN), naming `dns` as their DNS
/// server when it answers for the concentrator's name.
fn host_config(
    name: &str,
    addrs: &[Ipv4Cidr],
    gateway: Option<Ipv4Addr>,
    forwards: bool,
    leases: &[RehearsedLease],
    dns: Option<Ipv4Addr>,
) -> String {
    let mut s = format!(
        "# {name}: a test host of the rehearsal (mkoutpost site rehearse).\n\n[system]\nhostname = \"{name}\"\nrole = \"host\"\n"
    );
    if addrs.is_empty() {
        s.push_str("\n[[interface]]\ndevice = \"eth0\"\ndhcp = true\n");
    }
    for (i, a) in addrs.iter().enumerate() {
        let _ = write!(
            s,
            "\n[[interface]]\ndevice = \"eth{i}\"\naddress = \"{a}\"\n"
        );
    }
    if let Some(g) = gateway {
        let _ = write!(s, "\n[[route]]\nto = \"default\"\nvia = \"{g}\"\n");
    }
    if forwards {
        s.push_str("\n# The ISPs' routers between the WANs: everything is forwarded.\n[[firewall.allow]]\nfrom = \"0.0.0.0/0\"\nto = \"0.0.0.0/0\"\n");
    }
    // Last, so a test can cut it off at its comment line.
    if let (Some(first), Some(last)) = (
        leases.iter().map(|l| l.address).min(),
        leases.iter().map(|l| l.address).max(),
    ) {
        let _ = write!(
            s,
            "\n# The DHCP offices' ISP: a fixed WAN address each, by MAC.\n[[dhcp_server]]\ninterface = \"eth0\"\nrange = \"{first}-{last}\"\nlease = {REHEARSAL_LEASE_S}\n"
        );
        if let Some(d) = dns {
            let _ = writeln!(s, "dns = [\"{d}\"]");
        }
        for l in leases {
            let _ = write!(
                s,
                "\n[[dhcp_server.static]]\nmac = \"{}\"\naddress = \"{}\"\n",
                l.mac, l.address
            );
        }
    }
    s
}

/// A home user's stand-in PC: one interface on the head's WAN and the
/// tunnel a home user's `pppd … pty "ssh …"` makes, with its key.
fn home_config(
    site: &Site,
    user: &str,
    name: &str,
    wan: Ipv4Cidr,
    reach: &[Ipv4Net],
    head_key: &PublicKey,
) -> String {
    let nets: Vec<String> = reach.iter().map(|n| n.to_string()).collect();
    let mut s = format!(
        "# {name}: home user {user}'s PC, stood in for by an Outpost image (mkoutpost site rehearse).\n\n\
         [system]\nhostname = {}\nrole = \"office\"\n\n\
         [[interface]]\nname = \"wan\"\ndevice = \"eth0\"\naddress = \"{wan}\"\n\n\
         [tunnel]\nconcentrator = \"{}\"\naccount = {}\nidentity = {}\nhost_key = {}\nnetworks = {}\nvia = \"wan\"\n",
        q(name),
        site.head.wan.address.addr,
        q(user),
        q(&own_key(user)),
        q(&head_key.to_string()),
        list(&nets)
    );
    lcp(&mut s, site);
    s
}
