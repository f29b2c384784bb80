//! The config model: the typed, validated meaning of an `outpost.toml`, the
//! documented defaults, and the entry points [`Config::load`] and
//! [`Config::from_str_named`]. The file as written is [`crate::raw`]; the
//! checks that turn one into the other, reporting every problem with file,
//! line and column, are in [`crate::validate`].
//!
//! Keys may be given inline (`host_key = "ssh-ed25519 …"`) or as a file
//! next to the config (`host_key_file = "keys/concentrator.pub"`), which
//! `mkoutpost` generates at build time. The pure validation accepts either;
//! a file reference becomes [`KeySource::File`] and is read, with the
//! identity file's permission check, by [`crate::keyfiles`] — the one
//! function here that touches the file system besides [`Config::load`].
//!
//! Text saved by Windows Notepad (a UTF-8 BOM, CRLF line ends) is accepted.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::Deserialize;

mod dhcp;
pub use dhcp::{DhcpServer, Mac, MacError, StaticLease, DEFAULT_DHCP_LEASE, MIN_DHCP_LEASE};

use crate::diagnostic::Diagnostics;
pub use crate::diagnostic::Location;
use crate::keys::PublicKey;
use crate::net::{Ipv4Cidr, Ipv4Net};

/// Default `[system] console`: the serial port is `/dev/console`; the VGA
/// screen shows the same kernel and outpostd lines and has its own shell.
pub const DEFAULT_CONSOLE: Console = Console::Serial;
/// Default `[system] serial_speed` (baud): SYSLINUX's, the kernel's and the
/// test harness's, and what a null-modem terminal is set to.
pub const DEFAULT_SERIAL_SPEED: u32 = 115_200;
/// The speeds a 16550 and SYSLINUX both offer.
pub const SERIAL_SPEEDS: [u32; 8] = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200];
/// Default `[system] ide_dma`: off. Many CF-to-IDE adapters and old CF
/// cards claim DMA and then fail with it (fli4l ships
/// `LIBATA_DMA=disabled` for them); a router reads a few megabytes at boot.
pub const DEFAULT_IDE_DMA: bool = false;
/// Default `[system] log_level`.
pub const DEFAULT_LOG_LEVEL: LogLevel = LogLevel::Info;
/// Default ssh port of the concentrator (`[tunnel] port`, `[concentrator] port`).
pub const DEFAULT_SSH_PORT: u16 = 22;
/// Default LCP echo interval in seconds: a dead tunnel is noticed within
/// `interval * failure` seconds, not the seed's cron minutes.
pub const DEFAULT_LCP_ECHO_INTERVAL: u32 = 5;
/// Default number of unanswered LCP echoes before the link is dead.
pub const DEFAULT_LCP_ECHO_FAILURE: u32 = 3;
/// Default `[concentrator] host_key_file`, relative to the config like every
/// key file: the private half of the `keys/concentrator.ed25519.pub` an
/// office's `[tunnel] host_key_file` names when built from the same
/// directory (mkoutpost generates the pair there if it is missing).
pub const DEFAULT_CONCENTRATOR_HOST_KEY: &str = "keys/concentrator.ed25519";
/// Default for `[[peer]] both_ways`: offices talk both ways (the seed's
/// `-b` rules); set `false` for home users, who may only open connections.
pub const DEFAULT_PEER_BOTH_WAYS: bool = true;

/// A config that could not be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{file}: cannot read: {reason}")]
    Unreadable {
        /// The file's name as given.
        file: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The text is not valid TOML, or does not fit the config model.
    #[error("{file}:{}:{}: {message}{}", .at.line, .at.column, hint_suffix(.hint))]
    Invalid {
        /// The file's name as given.
        file: String,
        /// Where the problem is.
        at: Location,
        /// What is wrong.
        message: String,
        /// How to fix it, when there is something useful to say.
        hint: Option<String>,
    },
    /// The file parsed but failed validation: every problem found.
    #[error("{0}")]
    Rejected(Diagnostics),
}

fn hint_suffix(h: &Option<String>) -> String {
    h.as_ref()
        .map(|h| format!("\n  hint: {h}"))
        .unwrap_or_default()
}

/// The router's role, which decides what it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A remote office: LAN + WAN, a tunnel to the concentrator.
    Office,
    /// The head office's end of every tunnel.
    Concentrator,
    /// An end host, for tests and demos: one interface, a default route.
    Host,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Office => "office",
            Role::Concentrator => "concentrator",
            Role::Host => "host",
        })
    }
}

/// How much outpostd logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings.
    Warn,
    /// Normal operation (default).
    Info,
    /// Debugging detail.
    Debug,
    /// Everything.
    Trace,
}

/// A service the router itself accepts on an interface (`[[firewall.input]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// ssh to the router (tcp 22, or the concentrator's port).
    Ssh,
    /// ICMP echo requests.
    Ping,
}

/// The `[system]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// The router's host name (letters, digits and `-`, at most 63).
    pub hostname: String,
    /// What the box is: `office`, `concentrator` or `host`.
    pub role: Role,
    /// Which console is `/dev/console` (default [`DEFAULT_CONSOLE`]); the
    /// other shows the same lines and has a shell too.
    pub console: Console,
    /// The serial console's speed in baud (default [`DEFAULT_SERIAL_SPEED`]).
    pub serial_speed: u32,
    /// DMA on IDE/CF disks (default [`DEFAULT_IDE_DMA`]).
    pub ide_dma: bool,
    /// Log level (default [`DEFAULT_LOG_LEVEL`]).
    pub log_level: LogLevel,
    /// DNS servers of the router itself (`[system] dns`); none: the DHCP
    /// lease's, if any.
    pub dns: Vec<Ipv4Addr>,
}

/// `[system] console`: which console is `/dev/console`, where init's and
/// outpostd's output goes first. Both always show the kernel's messages
/// and outpostd's lines, and both have a root shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// The first serial port, ttyS0 (`serial`, or `ttyS0`).
    Serial,
    /// The VGA text screen and the keyboard, tty1 (`vga`, or `tty0`/`tty1`).
    Vga,
}

impl Console {
    /// Its name in the config.
    pub fn name(self) -> &'static str {
        match self {
            Console::Serial => "serial",
            Console::Vga => "vga",
        }
    }
}

/// An ISA card's resources, which an ISA card cannot announce: the kernel
/// is told them on its command line (`netdev=IRQ,IO,0,0,ethN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsaCard {
    /// The I/O base port, e.g. 0x300.
    pub io: u16,
    /// The IRQ; `None` lets the driver probe for it.
    pub irq: Option<u8>,
}

/// One `[[interface]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// The logical name other sections refer to (`lan`, `wan`); defaults
    /// to the device name.
    pub name: String,
    /// The kernel's device name, e.g. `eth0`.
    pub device: String,
    /// The card's MAC address: outpostd renames the card that has it to
    /// `device` at boot, whatever order the kernel probed the cards in.
    pub mac: Option<[u8; 6]>,
    /// An ISA card's I/O port and IRQ.
    pub isa: Option<IsaCard>,
    /// A static address with prefix length, e.g. `192.168.1.1/24`.
    pub address: Option<Ipv4Cidr>,
    /// Get the address by DHCP (busybox udhcpc) instead of `address`.
    pub dhcp: bool,
    /// The MTU; the kernel's default when absent.
    pub mtu: Option<u32>,
}

/// One `[[route]]`: `to` via a gateway and/or out an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Destination (`default` is `0.0.0.0/0`).
    pub to: Ipv4Net,
    /// Gateway; must be on a connected network.
    pub via: Option<Ipv4Addr>,
    /// Logical interface name.
    pub dev: Option<String>,
}

/// `[firewall]`: forward policy is always drop; these open it up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Firewall {
    /// Forwarding allowed between networks (the seed's `ipfwadm -F -a accept`).
    pub allow: Vec<Allow>,
    /// Logical interfaces to masquerade traffic out of.
    pub masquerade: Vec<String>,
    /// What the router itself accepts, per logical interface.
    pub input: Vec<InputAccept>,
}

/// `[[firewall.allow]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// Source network.
    pub from: Ipv4Net,
    /// Destination network.
    pub to: Ipv4Net,
    /// Also allow connections from `to` to `from` (the seed's `-b`).
    pub both_ways: bool,
    /// Only when leaving through this logical interface (e.g. LAN → `wan`).
    pub out: Option<String>,
}

/// `[[firewall.input]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputAccept {
    /// Logical interface name.
    pub interface: String,
    /// Services accepted there.
    pub accept: Vec<Service>,
}

/// Where a key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Written in the config.
    Inline(PublicKey),
    /// A file, relative to the config's directory; read by [`crate::keyfiles`].
    File(String),
}

/// Where an office finds the concentrator: its WAN address, or a host
/// name resolved at each (re)connect through the router's DNS servers
/// (`[system] dns`, else the DHCP lease's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConcentratorHost {
    /// A fixed address.
    Address(Ipv4Addr),
    /// A DNS name.
    Name(String),
}

impl fmt::Display for ConcentratorHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConcentratorHost::Address(a) => write!(f, "{a}"),
            ConcentratorHost::Name(n) => f.write_str(n),
        }
    }
}

/// `[tunnel]`: an office's pppd-over-ssh link to the concentrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// The concentrator's WAN address or host name.
    pub concentrator: ConcentratorHost,
    /// Its ssh port (default [`DEFAULT_SSH_PORT`]).
    pub port: u16,
    /// The account on the concentrator (its `[[peer]] name`).
    pub account: String,
    /// The private key file, relative to the config's directory.
    pub identity: String,
    /// The concentrator's pinned host key; never trusted on first use.
    pub host_key: KeySource,
    /// Networks routed through the tunnel.
    pub networks: Vec<Ipv4Net>,
    /// Logical interface the concentrator is reached through, if stated.
    pub via: Option<String>,
    /// Seconds between LCP echo requests.
    pub lcp_echo_interval: u32,
    /// Unanswered echoes before the link is declared dead.
    pub lcp_echo_failure: u32,
    /// Local tunnel address to ask for (else the concentrator assigns it).
    pub local: Option<Ipv4Addr>,
    /// Remote tunnel address to expect.
    pub remote: Option<Ipv4Addr>,
    /// dbclient asks the server for a pty (`-t`, else `-T`): the seed's
    /// own server runs pppd as the account's shell, and a pppd given no
    /// device and no `notty` needs its stdin to be a tty (the seed's
    /// client ran `ssh -t`). An Outpost concentrator needs none.
    pub pty: bool,
}

/// `[concentrator]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concentrator {
    /// Logical interface the offices connect to.
    pub interface: String,
    /// ssh port (default [`DEFAULT_SSH_PORT`]).
    pub port: u16,
    /// The concentrator's end of every tunnel.
    pub address: Ipv4Addr,
    /// Path of dropbear's host key on the router.
    pub host_key_file: String,
    /// Seconds between LCP echo requests.
    pub lcp_echo_interval: u32,
    /// Unanswered echoes before a link is declared dead.
    pub lcp_echo_failure: u32,
}

/// `[[peer]]`: an office or a home user allowed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Name; also its account name on the concentrator.
    pub name: String,
    /// Its ssh public key.
    pub public_key: KeySource,
    /// Its end of the tunnel.
    pub tunnel_address: Ipv4Addr,
    /// Office networks behind it, routed to it while its link is up.
    pub networks: Vec<Ipv4Net>,
    /// Private networks it may reach.
    pub reach: Vec<Ipv4Net>,
    /// Whether `reach` may also open connections to it.
    pub both_ways: bool,
}

/// A whole, validated `outpost.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The `[system]` section.
    pub system: System,
    /// The `[[interface]]` entries, in order.
    pub interfaces: Vec<Interface>,
    /// The `[[route]]` entries, in order.
    pub routes: Vec<Route>,
    /// The `[firewall]` section (empty: forward nothing, accept nothing).
    pub firewall: Firewall,
    /// `[tunnel]`, present exactly for offices.
    pub tunnel: Option<Tunnel>,
    /// `[concentrator]`, present exactly for concentrators.
    pub concentrator: Option<Concentrator>,
    /// `[[peer]]` entries (concentrators only).
    pub peers: Vec<Peer>,
    /// `[[dhcp_server]]` entries.
    pub dhcp_servers: Vec<DhcpServer>,
}

impl Config {
    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ConfigError::Unreadable {
            file: name.clone(),
            reason: e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = Location::of_offset(
                &String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]),
                usize::MAX,
            );
            ConfigError::Invalid {
                file: name.clone(),
                at,
                message: "the file is not valid UTF-8".into(),
                hint: Some("save the file as UTF-8 (in Notepad: Save As, Encoding: UTF-8)".into()),
            }
        })?;
        Self::from_str_named(&name, &text)
    }

    /// Parses and validates `text`, naming it `file` in errors. A TOML or
    /// schema error is [`ConfigError::Invalid`]; failed checks are
    /// [`ConfigError::Rejected`] with all of them.
    pub fn from_str_named(file: &str, text: &str) -> Result<Self, ConfigError> {
        use crate::validate::{parse_and_validate, Failure};
        parse_and_validate(file, text).map_err(|f| match f {
            Failure::Parse(d) => ConfigError::Invalid {
                file: d.file,
                at: d.at,
                message: d.message,
                hint: d.hint,
            },
            Failure::Invalid(ds) => ConfigError::Rejected(Diagnostics(ds)),
        })
    }

    /// The interface with this logical name.
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }
}
