//! DHCP plans: the supervised busybox `udhcpc` on the interface that takes
//! its address by DHCP, and a busybox `udhcpd` per `[[dhcp_server]]`, its
//! config file rendered here. udhcpc runs its script (`UDHCPC_SCRIPT`,
//! written by outpostd) for each event, which reports the lease to the
//! agent; the agent judges it ([`super::lease`]) and applies it with its
//! own netlink verbs, so addresses and routes have one implementation.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::config::{Config, DhcpServer};
use crate::net::{Ipv4Cidr, Ipv4Net};

/// udhcpc's script (`-s`): outpostd writes it; it hands the event and the
/// lease to the agent over the control socket.
pub const UDHCPC_SCRIPT: &str = "/etc/outpost/udhcpc-script";
/// Where the router's own DNS servers are written (musl's resolver and
/// busybox's nslookup read it).
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// Where udhcpd's config files and lease files live: RAM (a lease file on
/// a floppy would wear it and slow every offer).
pub const UDHCPD_DIR: &str = "/run/outpost/udhcpd";
/// The lease a server that hands out the WAN's DNS servers gives while
/// there is no WAN lease yet: a LAN PC that asks before the WAN is up gets
/// no DNS server, and renews (at half this) soon enough to get them.
pub const PROVISIONAL_LEASE_S: u32 = 120;
/// Discover packets udhcpc sends, `DISCOVER_WAIT_S` seconds apart, before
/// it gives up (`-n`) and the supervisor's backoff takes over.
pub const DISCOVER_TRIES: u32 = 3;
/// Seconds between two discover packets.
pub const DISCOVER_WAIT_S: u32 = 3;

/// The DHCP client of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpClientPlan {
    /// The logical interface (`wan`).
    pub name: String,
    /// The kernel device (`eth1`).
    pub device: String,
    /// udhcpc's argv, `argv[0]` included: foreground, exit when no lease
    /// comes (`-n`), our script.
    pub argv: Vec<String>,
    /// Networks a lease must not touch, with what they are: the tunnel's
    /// networks and every other interface's network. A lease there would
    /// route the tunnel's own ssh connection into the tunnel, or hide a LAN.
    pub guard: Vec<(Ipv4Net, String)>,
    /// Whether the lease's DNS servers become the router's (no `[system]
    /// dns` is configured).
    pub dns_from_lease: bool,
}

/// A DHCP server (udhcpd) on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpServerPlan {
    /// The logical interface (`lan`).
    pub name: String,
    /// The kernel device (`eth0`).
    pub device: String,
    /// The router's own address there: the gateway handed out.
    pub own: Ipv4Cidr,
    /// The server's settings.
    pub server: DhcpServer,
    /// Path of its config file.
    pub conf_path: String,
    /// udhcpd's argv (foreground, that config file).
    pub argv: Vec<String>,
}

/// Everything DHCP on the router.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DhcpPlan {
    /// The client, if an interface takes its address by DHCP (at most one).
    pub client: Option<DhcpClientPlan>,
    /// The servers.
    pub servers: Vec<DhcpServerPlan>,
}

/// The DHCP plan for `config`.
pub fn dhcp_plan(config: &Config) -> DhcpPlan {
    let client = config.interfaces.iter().find(|i| i.dhcp).map(|i| {
        let mut guard: Vec<(Ipv4Net, String)> = Vec::new();
        if let Some(t) = &config.tunnel {
            for n in &t.networks {
                guard.push((*n, format!("the tunnel network {n}")));
            }
        }
        for o in &config.interfaces {
            if let Some(a) = o.address {
                guard.push((
                    a.network(),
                    format!("interface `{}`'s network {}", o.name, a.network()),
                ));
            }
        }
        let argv = [
            "udhcpc",
            "-f",
            "-n",
            "-i",
            &i.device,
            "-s",
            UDHCPC_SCRIPT,
            "-t",
            &DISCOVER_TRIES.to_string(),
            "-T",
            &DISCOVER_WAIT_S.to_string(),
            "-x",
            &format!("hostname:{}", config.system.hostname),
        ]
        .map(str::to_string)
        .to_vec();
        DhcpClientPlan {
            name: i.name.clone(),
            device: i.device.clone(),
            argv,
            guard,
            dns_from_lease: config.system.dns.is_empty(),
        }
    });
    let servers = config
        .dhcp_servers
        .iter()
        .filter_map(|s| {
            let i = config.interface(&s.interface)?;
            let own = i.address?;
            let conf_path = format!("{UDHCPD_DIR}/{}.conf", i.device);
            Some(DhcpServerPlan {
                name: i.name.clone(),
                device: i.device.clone(),
                own,
                server: s.clone(),
                argv: vec!["udhcpd".into(), "-f".into(), conf_path.clone()],
                conf_path,
            })
        })
        .collect();
    DhcpPlan { client, servers }
}

impl DhcpServerPlan {
    /// udhcpd's config file; `wan_dns` are the DNS servers of the router's
    /// own lease, handed out when the server names none.
    pub fn conf(&self, wan_dns: &[Ipv4Addr]) -> String {
        let s = &self.server;
        let mut c = String::new();
        let _ = writeln!(
            c,
            "# Written by outpostd from [[dhcp_server]] on `{}`.",
            self.name
        );
        let _ = writeln!(c, "interface {}", self.device);
        let _ = writeln!(c, "start {}", s.first);
        let _ = writeln!(c, "end {}", s.last);
        let size = u32::from(s.last) - u32::from(s.first) + 1;
        let _ = writeln!(c, "max_leases {}", size.min(1024));
        let _ = writeln!(c, "lease_file {UDHCPD_DIR}/{}.leases", self.device);
        let _ = writeln!(c, "pidfile {UDHCPD_DIR}/{}.pid", self.device);
        // Leases are written at once and on exit only: the file is in RAM.
        let _ = writeln!(c, "auto_time 0");
        let _ = writeln!(
            c,
            "option subnet {}",
            super::lease::mask_of(self.own.prefix)
        );
        let _ = writeln!(c, "option router {}", self.own.addr);
        let dns: Vec<String> = match &s.dns {
            Some(d) => d.iter().map(ToString::to_string).collect(),
            None => wan_dns.iter().map(ToString::to_string).collect(),
        };
        if !dns.is_empty() {
            let _ = writeln!(c, "option dns {}", dns.join(" "));
        }
        let lease = if self.follows_wan_dns() && wan_dns.is_empty() {
            s.lease.min(PROVISIONAL_LEASE_S)
        } else {
            s.lease
        };
        let _ = writeln!(c, "option lease {lease}");
        for st in &s.statics {
            let _ = writeln!(c, "static_lease {} {}", st.mac, st.address);
        }
        c
    }

    /// Whether the DNS servers it hands out come from the WAN's lease.
    pub fn follows_wan_dns(&self) -> bool {
        self.server.dns.is_none()
    }
}
