//! The config file as written: serde structs mirroring `outpost.toml`
//! one-to-one, unknown keys rejected, every value kept with its span
//! (`toml::Spanned`) so validation can point at it. Values that need
//! parsing (addresses, keys) stay strings here; [`crate::validate`] turns
//! this into the typed [`crate::Config`].

use serde::Deserialize;
use toml::Spanned;

use crate::config::{LogLevel, Role, Service};

mod dhcp;
pub use dhcp::{RawDhcpServer, RawStaticLease};

/// A spanned string.
pub type S = Spanned<String>;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[system]`.
    pub system: Spanned<RawSystem>,
    /// `[[interface]]`.
    #[serde(default, rename = "interface")]
    pub interfaces: Vec<Spanned<RawInterface>>,
    /// `[[route]]`.
    #[serde(default, rename = "route")]
    pub routes: Vec<Spanned<RawRoute>>,
    /// `[firewall]`.
    #[serde(default)]
    pub firewall: Option<Spanned<RawFirewall>>,
    /// `[tunnel]` (office only).
    #[serde(default)]
    pub tunnel: Option<Spanned<RawTunnel>>,
    /// `[concentrator]` (concentrator only).
    #[serde(default)]
    pub concentrator: Option<Spanned<RawConcentrator>>,
    /// `[[peer]]` (concentrator only).
    #[serde(default, rename = "peer")]
    pub peers: Vec<Spanned<RawPeer>>,
    /// `[[dhcp_server]]`.
    #[serde(default, rename = "dhcp_server")]
    pub dhcp_servers: Vec<Spanned<RawDhcpServer>>,
}

/// `[system]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSystem {
    /// Host name.
    pub hostname: S,
    /// office | concentrator | host.
    pub role: Spanned<Role>,
    /// Primary console: serial | vga.
    #[serde(default)]
    pub console: Option<S>,
    /// Serial console speed in baud.
    #[serde(default)]
    pub serial_speed: Option<Spanned<i64>>,
    /// DMA on IDE/CF disks (off by default: old CF cards need PIO).
    #[serde(default)]
    pub ide_dma: Option<Spanned<bool>>,
    /// error | warn | info | debug | trace.
    #[serde(default)]
    pub log_level: Option<Spanned<LogLevel>>,
    /// The router's DNS servers.
    #[serde(default)]
    pub dns: Vec<S>,
}

/// `[[interface]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInterface {
    /// Logical name (defaults to the device).
    #[serde(default)]
    pub name: Option<S>,
    /// Kernel device.
    pub device: S,
    /// The card's MAC address: that card becomes `device`.
    #[serde(default)]
    pub mac: Option<S>,
    /// An ISA card's I/O port.
    #[serde(default)]
    pub io: Option<Spanned<i64>>,
    /// An ISA card's IRQ.
    #[serde(default)]
    pub irq: Option<Spanned<i64>>,
    /// Static CIDR address.
    #[serde(default)]
    pub address: Option<S>,
    /// DHCP instead of a static address.
    #[serde(default)]
    pub dhcp: Option<Spanned<bool>>,
    /// MTU.
    #[serde(default)]
    pub mtu: Option<Spanned<i64>>,
}

/// `[[route]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Destination network, or `default`.
    pub to: S,
    /// Gateway address.
    #[serde(default)]
    pub via: Option<S>,
    /// Interface name.
    #[serde(default)]
    pub dev: Option<S>,
}

/// `[firewall]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFirewall {
    /// `[[firewall.allow]]`.
    #[serde(default)]
    pub allow: Vec<Spanned<RawAllow>>,
    /// Interfaces to masquerade out of.
    #[serde(default)]
    pub masquerade: Vec<S>,
    /// `[[firewall.input]]`.
    #[serde(default)]
    pub input: Vec<Spanned<RawInput>>,
}

/// `[[firewall.allow]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAllow {
    /// Source network.
    pub from: S,
    /// Destination network.
    pub to: S,
    /// Also allow `to` → `from`.
    #[serde(default)]
    pub both_ways: Option<bool>,
    /// Only when leaving through this interface.
    #[serde(default)]
    pub out: Option<S>,
}

/// `[[firewall.input]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// Interface name.
    pub interface: S,
    /// Services accepted there.
    pub accept: Vec<Spanned<Service>>,
}

/// `[tunnel]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTunnel {
    /// Concentrator's WAN address.
    pub concentrator: S,
    /// Its ssh port.
    #[serde(default)]
    pub port: Option<Spanned<i64>>,
    /// Account on the concentrator.
    pub account: S,
    /// Private key file.
    pub identity: S,
    /// Pinned host key line.
    #[serde(default)]
    pub host_key: Option<S>,
    /// File holding the pinned host key line.
    #[serde(default)]
    pub host_key_file: Option<S>,
    /// Networks routed through the tunnel.
    pub networks: Vec<S>,
    /// Interface the concentrator is reached through.
    #[serde(default)]
    pub via: Option<S>,
    /// LCP echo interval, seconds.
    #[serde(default)]
    pub lcp_echo_interval: Option<Spanned<i64>>,
    /// LCP echo failures before the link is declared dead.
    #[serde(default)]
    pub lcp_echo_failure: Option<Spanned<i64>>,
    /// Local tunnel address.
    #[serde(default)]
    pub local: Option<S>,
    /// Remote tunnel address.
    #[serde(default)]
    pub remote: Option<S>,
    /// Ask the server for a pty (a stock server whose account's shell is pppd).
    #[serde(default)]
    pub pty: Option<Spanned<bool>>,
}

/// `[concentrator]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConcentrator {
    /// Interface offices connect to.
    pub interface: S,
    /// ssh port.
    #[serde(default)]
    pub port: Option<Spanned<i64>>,
    /// Local tunnel address.
    pub address: S,
    /// Host key path on the router.
    #[serde(default)]
    pub host_key_file: Option<S>,
    /// LCP echo interval, seconds.
    #[serde(default)]
    pub lcp_echo_interval: Option<Spanned<i64>>,
    /// LCP echo failures.
    #[serde(default)]
    pub lcp_echo_failure: Option<Spanned<i64>>,
}

/// `[[peer]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeer {
    /// Name = account name.
    pub name: S,
    /// Public key line.
    #[serde(default)]
    pub public_key: Option<S>,
    /// File holding the public key line.
    #[serde(default)]
    pub public_key_file: Option<S>,
    /// Peer's tunnel address.
    pub tunnel_address: S,
    /// Office networks behind the peer.
    #[serde(default)]
    pub networks: Vec<S>,
    /// Private networks it may reach.
    pub reach: Vec<S>,
    /// Whether the private networks may open connections to it too.
    #[serde(default)]
    pub both_ways: Option<bool>,
}
