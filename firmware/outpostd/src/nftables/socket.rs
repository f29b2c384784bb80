//! The NETLINK_NETFILTER socket: the shared netlink socket
//! ([`crate::nl::Socket`]: batches acknowledged message by message, dumps,
//! receive timeout) opened on nf_tables' protocol.

use std::io;
use std::ops::Deref;

use crate::nl;

/// An open NETLINK_NETFILTER socket.
#[derive(Debug)]
pub struct Socket(nl::Socket);

impl Socket {
    /// Opens and binds the socket (the kernel picks the port id).
    pub fn open() -> io::Result<Socket> {
        nl::Socket::open(libc::NETLINK_NETFILTER).map(Socket)
    }
}

/// `transact` and `dump`: as netlink has them.
impl Deref for Socket {
    type Target = nl::Socket;
    fn deref(&self) -> &nl::Socket {
        &self.0
    }
}
