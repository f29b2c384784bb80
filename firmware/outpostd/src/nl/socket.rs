//! A raw netlink socket of any protocol: send a request or a batch and
//! collect one answer per acknowledged message, or run a dump to its end.
//! Blocking calls with a receive timeout: the kernel answers a local socket
//! at once, and a stuck answer must not hang the agent. Answers are matched
//! by sequence number, so a late answer to a request that timed out is
//! skipped rather than taken for the answer to the next one.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::wire::{self, Message};

const RECV_TIMEOUT_SECS: libc::time_t = 5;
/// The kernel never puts more than 32 KiB into one dump datagram
/// (`netlink_recvmsg` caps `max_recvmsg_len`), so this always holds one.
const RECV_BUF: usize = 64 * 1024;

/// An open netlink socket.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
}

impl Socket {
    /// Opens and binds a socket of netlink `protocol` (`NETLINK_ROUTE`,
    /// `NETLINK_NETFILTER`, …); the kernel picks the port id.
    pub fn open(protocol: libc::c_int) -> io::Result<Socket> {
        // SAFETY: plain syscalls on values we own; the fd is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sockaddr_nl is plain data; zero is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        let tv = libc::timeval {
            tv_sec: RECV_TIMEOUT_SECS,
            tv_usec: 0,
        };
        // SAFETY: pointers and lengths describe the locals above.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: as above.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket { fd })
    }

    /// Sends one buffer of messages.
    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        // SAFETY: buf is a valid slice for its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != buf.len() {
            return Err(io::Error::other("netlink send was cut short"));
        }
        Ok(())
    }

    /// Receives one datagram (one or more messages).
    pub fn recv(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.resize(RECV_BUF, 0);
        // SAFETY: buf is a valid writable slice for its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return Err(if e.kind() == io::ErrorKind::WouldBlock {
                io::Error::new(io::ErrorKind::TimedOut, "the kernel did not answer")
            } else {
                e
            });
        }
        buf.truncate(n as usize);
        Ok(())
    }

    /// Sends `buf` and waits for the answer to each of `acked` (the
    /// messages sent with `NLM_F_ACK`); returns the first non-zero errno
    /// and the sequence number it answers. An answer to `begin` ends the
    /// wait too: for an nf_tables batch that is the BEGIN message, which
    /// only gets an answer when the batch as a whole failed; for a single
    /// request it is the request itself.
    pub fn transact(
        &self,
        buf: &[u8],
        begin: u32,
        acked: &[u32],
    ) -> io::Result<Option<(i32, u32)>> {
        self.send(buf)?;
        let mut pending: Vec<u32> = acked.to_vec();
        let mut first_error = None;
        let mut rx = Vec::new();
        while !pending.is_empty() {
            self.recv(&mut rx)?;
            for m in wire::messages(&rx) {
                let Some((errno, seq)) = m.error() else {
                    continue;
                };
                if seq != begin && !acked.contains(&seq) {
                    continue; // a late answer to an earlier request
                }
                if errno != 0 && first_error.is_none() {
                    first_error = Some((errno, seq));
                }
                if seq == begin {
                    pending.clear();
                }
                pending.retain(|s| *s != seq);
            }
        }
        Ok(first_error)
    }

    /// Sends one request and waits for its acknowledgement: `Ok(None)`
    /// when the kernel did it, `Ok(Some(errno))` when it refused.
    pub fn request(&self, buf: &[u8], seq: u32) -> io::Result<Option<i32>> {
        Ok(self.transact(buf, seq, &[seq])?.map(|(errno, _)| errno))
    }

    /// Runs a dump request and calls `each` with every answer message.
    pub fn dump(&self, request: &[u8], mut each: impl FnMut(&Message)) -> io::Result<()> {
        let seq = wire::messages(request)
            .next()
            .map(|m| m.seq)
            .ok_or_else(|| io::Error::other("not a netlink request"))?;
        self.send(request)?;
        let mut rx = Vec::new();
        loop {
            self.recv(&mut rx)?;
            for m in wire::messages(&rx).filter(|m| m.seq == seq) {
                match m.ty {
                    wire::NLMSG_DONE => return Ok(()),
                    wire::NLMSG_ERROR => match m.error() {
                        Some((0, _)) => return Ok(()),
                        Some((errno, _)) => return Err(io::Error::from_raw_os_error(errno)),
                        None => return Err(io::Error::other("malformed netlink error")),
                    },
                    _ => each(&m),
                }
                if m.flags & wire::F_MULTI == 0 {
                    return Ok(());
                }
            }
        }
    }
}
