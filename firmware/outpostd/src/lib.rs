//! `outpostd`, the Outpost router agent, as a library so its edges can be
//! tested on the host: the command line ([`cli`]), the logger and its
//! in-RAM ring ([`logger`], [`log_ring`]), the side-effect edges
//! ([`netlink`] and [`nftables`] over the shared netlink code in [`nl`],
//! [`system`], [`mounts`]), applying a config through them
//! ([`apply`]; cards named by MAC renamed first, [`cards`]), config loading
//! shared with the host ([`check`]), the control socket's protocol
//! ([`control`]) the daemon's life cycle ([`daemon`]), the tunnel and server
//! supervisor ([`supervisor`]) with pppd's hooks ([`hooks`]), DHCP client and
//! servers ([`dhcp`], udhcpc's script [`dhcp_hook`]), the concentrator by name
//! ([`resolve`]), the concentrator's accounts and peers ([`concentrator`]) and
//! the boot-time entropy seed ([`entropy`]). Pure decisions live in
//! `outpost-core`.

pub mod apply;
pub mod cards;
pub mod check;
pub mod cli;
pub mod concentrator;
pub mod control;
pub mod daemon;
pub mod dhcp;
pub mod dhcp_hook;
pub mod entropy;
pub mod hooks;
pub mod ifreq;
pub mod log_ring;
pub mod logger;
pub mod medium;
pub mod mounts;
pub mod netlink;
pub mod nftables;
pub mod nl;
pub mod resolve;
pub mod save;
pub mod supervisor;
pub mod system;
