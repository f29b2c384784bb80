//! Netlink itself, shared by every protocol outpostd speaks (nf_tables in
//! [`crate::nftables`], routing in [`crate::netlink`]): the wire format
//! ([`wire`]) and the socket ([`socket`]). What a protocol puts in its
//! messages stays with that protocol.

pub mod socket;
pub mod wire;

pub use socket::Socket;
