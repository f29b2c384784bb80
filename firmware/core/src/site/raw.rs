//! The site file as written: serde structs mirroring `site.toml`
//! one-to-one, unknown keys rejected (a typo must not pass silently), every
//! value kept with its span so [`super::validate`] can point at it. Values
//! that need parsing (addresses, names) stay strings here.

use serde::Deserialize;
use toml::Spanned;

use super::{SiteCpu, SiteFormat};

/// A spanned string.
pub type S = Spanned<String>;

/// The whole site file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// `[site]`: site-wide settings and defaults.
    pub site: Spanned<RawSettings>,
    /// `[head]`: the head office and its concentrator.
    pub head: Spanned<RawHead>,
    /// `[[office]]`.
    #[serde(default, rename = "office")]
    pub offices: Vec<Spanned<RawOffice>>,
    /// `[[home]]`.
    #[serde(default, rename = "home")]
    pub homes: Vec<Spanned<RawHome>>,
    /// `[[policy]]`: replaces the default policy when present.
    #[serde(default, rename = "policy")]
    pub policy: Vec<Spanned<RawRule>>,
    /// `[[test]]`.
    #[serde(default, rename = "test")]
    pub tests: Vec<Spanned<RawTest>>,
}

/// `[site]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// The tunnel address pool, e.g. `10.254.0.0/24`.
    pub tunnel_pool: S,
    /// Default CPU of every router.
    #[serde(default)]
    pub cpu: Option<Spanned<SiteCpu>>,
    /// Default image format of every router.
    #[serde(default)]
    pub format: Option<Spanned<SiteFormat>>,
    /// LCP echo interval of every tunnel, seconds.
    #[serde(default)]
    pub lcp_echo_interval: Option<Spanned<i64>>,
    /// LCP echo failures before a tunnel is declared dead.
    #[serde(default)]
    pub lcp_echo_failure: Option<Spanned<i64>>,
}

/// A WAN: `wan = { address = "…", gateway = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWan {
    /// Static address with prefix.
    #[serde(default)]
    pub address: Option<S>,
    /// The ISP's gateway.
    #[serde(default)]
    pub gateway: Option<S>,
    /// Kernel device (default eth0 on the head, eth1 in an office).
    #[serde(default)]
    pub device: Option<S>,
    /// DHCP instead of a static address (offices only).
    #[serde(default)]
    pub dhcp: Option<Spanned<bool>>,
    /// The card's MAC address: that card becomes this interface.
    #[serde(default)]
    pub mac: Option<S>,
    /// An ISA card's I/O port.
    #[serde(default)]
    pub io: Option<Spanned<i64>>,
    /// An ISA card's IRQ.
    #[serde(default)]
    pub irq: Option<Spanned<i64>>,
}

/// An office LAN: `lan = { address = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLan {
    /// The router's address on the LAN, with prefix.
    pub address: S,
    /// Kernel device (default eth0).
    #[serde(default)]
    pub device: Option<S>,
    /// A DHCP range the router serves, `FIRST-LAST`.
    #[serde(default)]
    pub dhcp: Option<S>,
    /// The card's MAC address: that card becomes this interface.
    #[serde(default)]
    pub mac: Option<S>,
    /// An ISA card's I/O port.
    #[serde(default)]
    pub io: Option<Spanned<i64>>,
    /// An ISA card's IRQ.
    #[serde(default)]
    pub irq: Option<Spanned<i64>>,
}

/// `[head]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHead {
    /// The concentrator's host name.
    pub name: S,
    /// Its WAN.
    pub wan: Spanned<RawWan>,
    /// Its end of every tunnel (default: the pool's first address).
    #[serde(default)]
    pub tunnel_address: Option<S>,
    /// Its DNS name: DHCP offices dial it by name.
    #[serde(default)]
    pub dns_name: Option<S>,
    /// Its private key file, relative to the site file.
    #[serde(default)]
    pub key: Option<S>,
    /// `[[head.network]]`.
    #[serde(default, rename = "network")]
    pub networks: Vec<Spanned<RawNetwork>>,
    /// Primary console: serial | vga.
    #[serde(default)]
    pub console: Option<S>,
    /// Serial console speed.
    #[serde(default)]
    pub serial_speed: Option<Spanned<i64>>,
    /// DMA on IDE/CF disks.
    #[serde(default)]
    pub ide_dma: Option<Spanned<bool>>,
    /// CPU.
    #[serde(default)]
    pub cpu: Option<Spanned<SiteCpu>>,
    /// Image format.
    #[serde(default)]
    pub format: Option<Spanned<SiteFormat>>,
    /// RAM, MiB.
    #[serde(default)]
    pub memory: Option<Spanned<i64>>,
}

/// `[[head.network]]`: a private network behind the concentrator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Its name in the policy (and the interface's logical name).
    pub name: S,
    /// The concentrator's address on it, with prefix.
    pub address: S,
    /// Kernel device (default eth1, eth2, … in order).
    #[serde(default)]
    pub device: Option<S>,
    /// The card's MAC address: that card becomes this interface.
    #[serde(default)]
    pub mac: Option<S>,
    /// An ISA card's I/O port.
    #[serde(default)]
    pub io: Option<Spanned<i64>>,
    /// An ISA card's IRQ.
    #[serde(default)]
    pub irq: Option<Spanned<i64>>,
}

/// `[[office]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOffice {
    /// Host name, account and policy name.
    pub name: S,
    /// Its LAN.
    pub lan: Spanned<RawLan>,
    /// Its WAN.
    pub wan: Spanned<RawWan>,
    /// Its tunnel end (default: the next free pool address).
    #[serde(default)]
    pub tunnel_address: Option<S>,
    /// Whether the LAN may use the internet, masqueraded (default true).
    #[serde(default)]
    pub internet: Option<Spanned<bool>>,
    /// Its private key file, relative to the site file.
    #[serde(default)]
    pub key: Option<S>,
    /// Primary console: serial | vga.
    #[serde(default)]
    pub console: Option<S>,
    /// Serial console speed.
    #[serde(default)]
    pub serial_speed: Option<Spanned<i64>>,
    /// DMA on IDE/CF disks.
    #[serde(default)]
    pub ide_dma: Option<Spanned<bool>>,
    /// CPU.
    #[serde(default)]
    pub cpu: Option<Spanned<SiteCpu>>,
    /// Image format.
    #[serde(default)]
    pub format: Option<Spanned<SiteFormat>>,
    /// RAM, MiB.
    #[serde(default)]
    pub memory: Option<Spanned<i64>>,
}

/// `[[home]]`: one PC, no LAN, no image.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHome {
    /// Account and policy name.
    pub name: S,
    /// Its tunnel end (default: the next free pool address).
    #[serde(default)]
    pub tunnel_address: Option<S>,
    /// Its private key file, relative to the site file.
    #[serde(default)]
    pub key: Option<S>,
}

/// `[[policy]]`: `from` may open connections to `to`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Sources: names of networks, offices, home users or groups.
    pub from: Vec<S>,
    /// Destinations.
    pub to: Vec<S>,
    /// Also `to` → `from`.
    #[serde(default)]
    pub both_ways: Option<Spanned<bool>>,
}

/// `[[test]]`: what the policy must accept and deny from `src`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTest {
    /// A name or an address.
    pub src: S,
    /// Destinations `src` must be able to open connections to.
    #[serde(default)]
    pub accept: Vec<S>,
    /// Destinations it must not.
    #[serde(default)]
    pub deny: Vec<S>,
}
