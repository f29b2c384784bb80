//! The site model: one `site.toml` for a whole company — the head office
//! and its concentrator, every office, home users, the tunnel address pool
//! and the policy — from which every router's `outpost.toml` is derived
//! (`mkoutpost site build`). Design and reasoning: `docs/site.md`.
//!
//! Pure, like the rest of the crate: [`Site::from_str_named`] parses and
//! validates ([`validate`]), collecting every problem with file, line,
//! column and a hint — above all the ones no single router's check can
//! see (overlapping LANs, pool exhaustion, colliding tunnel addresses,
//! shared key files, a policy naming nothing). [`policy`] computes what
//! may reach what ([`Site::reachability`]); [`derive`] renders each
//! router's config text once the public keys are known
//! ([`Site::key_needs`], then [`Site::render`]).

pub mod derive;
pub mod openssh;
pub mod policy;
pub mod raw;
pub mod rehearsal;
pub mod validate;

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;

use serde::Deserialize;

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::net::{Ipv4Cidr, Ipv4Net};

pub use derive::{DeriveError, Derived, HomeFiles, KeyNeed, PublicKeys, RenderedRouter};
pub use policy::{Reach, Rule};

/// Default device of the head's WAN and an office's LAN.
pub const DEFAULT_FIRST_DEVICE: &str = "eth0";
/// Default device of an office's WAN.
pub const DEFAULT_OFFICE_WAN_DEVICE: &str = "eth1";
/// Policy group: every office.
pub const GROUP_OFFICES: &str = "offices";
/// Policy group: every home user.
pub const GROUP_HOME: &str = "home";
/// Test destination: anything outside the site's networks.
pub const INTERNET: &str = "internet";

/// The oldest CPU a router's image must run on (mkoutpost's `--cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SiteCpu {
    /// Intel 486 (the default: the oldest box runs everything).
    #[default]
    I486,
    /// Pentium.
    I586,
}

impl fmt::Display for SiteCpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SiteCpu::I486 => "i486",
            SiteCpu::I586 => "i586",
        })
    }
}

/// A router's boot medium (mkoutpost's `--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SiteFormat {
    /// bzImage + initramfs only (the default, as for `mkoutpost build`).
    #[default]
    Kernel,
    /// 1.44 MB floppy.
    Floppy1440,
    /// 2.88 MB floppy.
    Floppy2880,
    /// CompactFlash/IDE disk.
    Cf,
}

impl fmt::Display for SiteFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SiteFormat::Kernel => "kernel",
            SiteFormat::Floppy1440 => "floppy1440",
            SiteFormat::Floppy2880 => "floppy2880",
            SiteFormat::Cf => "cf",
        })
    }
}

/// A box's hardware as the site file gives it, for its derived config:
/// `[system] console`, `serial_speed`, `ide_dma` where stated, and each
/// interface's card (by logical interface name: `lan`, `wan`, a network's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hardware {
    /// `console`, if stated.
    pub console: Option<crate::config::Console>,
    /// `serial_speed`, if stated.
    pub serial_speed: Option<u32>,
    /// `ide_dma`, if stated.
    pub ide_dma: Option<bool>,
    /// Cards named by MAC or placed by io/irq, per interface name.
    pub cards: Vec<(String, Card)>,
}

impl Hardware {
    /// The card of interface `name`, if the site file says anything about it.
    pub fn card(&self, name: &str) -> Option<&Card> {
        self.cards.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

/// One interface's card: by MAC, and/or an ISA card's io/irq.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Card {
    /// Its MAC address.
    pub mac: Option<[u8; 6]>,
    /// An ISA card's resources.
    pub isa: Option<crate::config::IsaCard>,
}

/// How one router's image is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Build {
    /// CPU baseline.
    pub cpu: SiteCpu,
    /// Boot medium.
    pub format: SiteFormat,
    /// RAM of the box in MiB, if stated (a rehearsal boots it with this).
    pub memory_mib: Option<u32>,
}

/// A static WAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wan {
    /// Kernel device.
    pub device: String,
    /// Address with prefix.
    pub address: Ipv4Cidr,
    /// The ISP's gateway: becomes the default route.
    pub gateway: Option<Ipv4Addr>,
}

/// An office's WAN: a static address, or one leased by DHCP (from the
/// ISP; the rehearsal's internet host serves it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficeWan {
    /// A static address and gateway.
    Static(Wan),
    /// DHCP on this device: address and gateway come with the lease.
    Dhcp {
        /// Kernel device.
        device: String,
    },
}

impl OfficeWan {
    /// Its kernel device.
    pub fn device(&self) -> &str {
        match self {
            OfficeWan::Static(w) => &w.device,
            OfficeWan::Dhcp { device } => device,
        }
    }

    /// The static WAN, if it is one.
    pub fn fixed(&self) -> Option<&Wan> {
        match self {
            OfficeWan::Static(w) => Some(w),
            OfficeWan::Dhcp { .. } => None,
        }
    }
}

/// A private network behind the concentrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadNetwork {
    /// Its name (policy, interface).
    pub name: String,
    /// Kernel device.
    pub device: String,
    /// The concentrator's address on it.
    pub address: Ipv4Cidr,
}

impl HeadNetwork {
    /// The network.
    pub fn net(&self) -> Ipv4Net {
        self.address.network()
    }
}

/// The head office: its concentrator router and private networks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Host name of the concentrator.
    pub name: String,
    /// WAN, where the offices connect.
    pub wan: Wan,
    /// Private networks, in order (eth1, eth2, … unless stated).
    pub networks: Vec<HeadNetwork>,
    /// Its end of every tunnel.
    pub tunnel_address: Ipv4Addr,
    /// Its DNS name (`dns_name`): offices whose WAN is DHCP dial it by
    /// name, resolved through their lease's DNS servers at each connect;
    /// static offices know no DNS server and dial its address.
    pub dns_name: Option<String>,
    /// Its private key file, relative to the site file's directory.
    pub key: String,
    /// Image settings.
    pub build: Build,
    /// Console, disk DMA and cards, for its derived config.
    pub hardware: Hardware,
    /// Where `[head]` is in the site file.
    pub span: Range<usize>,
}

/// A remote office router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Office {
    /// Host name, account on the concentrator, policy name.
    pub name: String,
    /// LAN device.
    pub lan_device: String,
    /// The router's LAN address.
    pub lan: Ipv4Cidr,
    /// The LAN's DHCP range (`lan = { dhcp = "FIRST-LAST" }`), if it serves one.
    pub lan_dhcp: Option<(Ipv4Addr, Ipv4Addr)>,
    /// WAN.
    pub wan: OfficeWan,
    /// Its tunnel end.
    pub tunnel_address: Ipv4Addr,
    /// Whether the LAN may use the internet (masqueraded out of the WAN).
    pub internet: bool,
    /// Its private key file, relative to the site file's directory.
    pub key: String,
    /// Image settings.
    pub build: Build,
    /// Console, disk DMA and cards, for its derived config.
    pub hardware: Hardware,
    /// Where its `[[office]]` is.
    pub span: Range<usize>,
}

/// A home user: one PC dialling in, no LAN, no image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// Account and policy name.
    pub name: String,
    /// Its tunnel end.
    pub tunnel_address: Ipv4Addr,
    /// Its private key file, relative to the site file's directory.
    pub key: String,
    /// Where its `[[home]]` is.
    pub span: Range<usize>,
}

/// Something the policy can name: a network (or one host) of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `head.networks[i]`.
    HeadNet(usize),
    /// `offices[i]`'s LAN.
    Office(usize),
    /// `homes[i]`'s tunnel address.
    Home(usize),
}

/// A whole, validated site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The file's name as given (named in generated headers).
    pub file: String,
    /// The tunnel address pool.
    pub pool: Ipv4Net,
    /// LCP echo interval for every tunnel, when set site-wide.
    pub lcp_echo_interval: Option<u32>,
    /// LCP echo failures, when set site-wide.
    pub lcp_echo_failure: Option<u32>,
    /// The head office.
    pub head: Head,
    /// Offices, in file order.
    pub offices: Vec<Office>,
    /// Home users, in file order.
    pub homes: Vec<Home>,
    /// The policy, groups expanded, one rule per (from, to) pair.
    pub rules: Vec<Rule>,
    /// Whether `rules` is the default policy (no `[[policy]]` given).
    pub default_policy: bool,
    /// The explicit `[[test]]`s, one case per (source, destination).
    pub tests: Vec<TestCase>,
}

/// One explicit test case: a new connection from `src` to `dst` must be
/// accepted (or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// Source as written (a name or an address).
    pub src: String,
    /// Its network (an address is a /32).
    pub src_net: Ipv4Net,
    /// Destination as written, or [`INTERNET`].
    pub dst: String,
    /// Its network (`0.0.0.0/0` for the internet).
    pub dst_net: Ipv4Net,
    /// Whether the test wants it accepted.
    pub accept: bool,
    /// Where the destination is written in the site file.
    pub at: Location,
}

/// A site file that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SiteError(pub Diagnostics);

impl SiteError {
    /// Every problem found.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &(self.0).0
    }
}

impl Site {
    /// Parses and validates a site file's `text` (a UTF-8 BOM and CRLF line
    /// ends are accepted), naming it `file` in diagnostics.
    /// An explicit `[[test]]` the policy fails is an error here too.
    pub fn from_str_named(file: &str, text: &str) -> Result<Site, SiteError> {
        let (site, failures) = Site::with_test_failures(file, text)?;
        if failures.is_empty() {
            Ok(site)
        } else {
            Err(SiteError(Diagnostics(failures)))
        }
    }

    /// Like [`Site::from_str_named`], but a site whose only problems are
    /// failing `[[test]]`s is returned with them: a rehearsal runs those
    /// tests as packets and reports what the routers really do.
    pub fn with_test_failures(
        file: &str,
        text: &str,
    ) -> Result<(Site, Vec<Diagnostic>), SiteError> {
        let site = validate::check(file, text).map_err(|d| SiteError(Diagnostics(d)))?;
        let failures = site.test_failures();
        Ok((site, failures))
    }

    /// Whether the policy accepts a new connection from `src` to `dst`
    /// (`0.0.0.0/0` being the internet, which only offices with
    /// `internet = true` reach).
    pub fn expects(&self, src: Ipv4Net, dst: Ipv4Net) -> bool {
        if dst.prefix() == 0 {
            return self
                .offices
                .iter()
                .any(|o| o.internet && policy::within(src, o.lan.network()));
        }
        self.allows(src, dst)
    }

    /// The explicit tests the policy fails, each at its destination in
    /// the site file: `site check` and `site build` refuse them; a
    /// rehearsal runs them anyway and shows what the packets do.
    pub fn test_failures(&self) -> Vec<Diagnostic> {
        self.tests
            .iter()
            .filter(|t| self.expects(t.src_net, t.dst_net) != t.accept)
            .map(|t| Diagnostic {
                file: self.file.clone(),
                at: t.at,
                message: format!(
                    "test failed: {} → {}: expected {}, but the policy {} it",
                    t.src,
                    t.dst,
                    if t.accept { "accept" } else { "deny" },
                    if t.accept { "denies" } else { "accepts" }
                ),
                hint: Some(if self.default_policy {
                    "the site has no [[policy]], so the default applies (offices ↔ head networks both ways, home users → head networks); add [[policy]] rules or fix the test".into()
                } else {
                    "change the [[policy]] rules or the test".into()
                }),
            })
            .collect()
    }

    /// The network (or /32 host) of an endpoint.
    pub fn net(&self, e: Endpoint) -> Ipv4Net {
        match e {
            Endpoint::HeadNet(i) => self.head.networks[i].net(),
            Endpoint::Office(i) => self.offices[i].lan.network(),
            Endpoint::Home(i) => Ipv4Net::new(self.homes[i].tunnel_address, 32),
        }
    }

    /// The name of an endpoint.
    pub fn name(&self, e: Endpoint) -> &str {
        match e {
            Endpoint::HeadNet(i) => &self.head.networks[i].name,
            Endpoint::Office(i) => &self.offices[i].name,
            Endpoint::Home(i) => &self.homes[i].name,
        }
    }

    /// Every endpoint: head networks, offices, home users, in file order.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        (0..self.head.networks.len())
            .map(Endpoint::HeadNet)
            .chain((0..self.offices.len()).map(Endpoint::Office))
            .chain((0..self.homes.len()).map(Endpoint::Home))
            .collect()
    }
}
