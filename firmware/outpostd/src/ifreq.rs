//! Reading a link's index, flags and MTU with the classic `SIOCGIF*`
//! ioctls instead of a netlink `RTM_GETLINK`.
//!
//! Why: on a 32-bit kernel the `IFLA_MAP` attribute of every link message is
//! 28 bytes (`struct rtnl_link_ifmap` holds `__u64`s, 4-byte aligned on
//! i386), while netlink-packet-route (which outpostd used then) only
//! accepted the 32 bytes a 64-bit kernel sends. It dropped the whole answer
//! and the request waited forever — on the router, never on an x86-64 test
//! host. Our own netlink code reads by length and would not, but a link
//! answer is a kilobyte of attributes for three numbers: the ioctls have one
//! layout everywhere and cost a few bytes of code. Links are *changed*
//! over netlink ([`crate::netlink`]).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What the kernel says about one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfInfo {
    /// The interface index.
    pub index: u32,
    /// `IFF_*` flags.
    pub flags: u32,
    /// The MTU.
    pub mtu: u32,
}

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a device name",
        ));
    }
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

fn ioctl(fd: &OwnedFd, request: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: `req` is a valid, writable ifreq for the SIOCGIF* requests used here.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, req as *mut libc::ifreq) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Index, flags and MTU of `name`; `ENODEV` when there is no such device.
pub fn info(name: &str) -> io::Result<IfInfo> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut req = ifreq_for(name)?;
    ioctl(&fd, libc::SIOCGIFINDEX as libc::c_ulong, &mut req)?;
    // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
    let index = unsafe { req.ifr_ifru.ifru_ifindex } as u32;
    let mut req = ifreq_for(name)?;
    ioctl(&fd, libc::SIOCGIFFLAGS as libc::c_ulong, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the flags member.
    let flags = unsafe { req.ifr_ifru.ifru_flags } as u16 as u32;
    let mut req = ifreq_for(name)?;
    ioctl(&fd, libc::SIOCGIFMTU as libc::c_ulong, &mut req)?;
    // SAFETY: SIOCGIFMTU filled the mtu member.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu } as u32;
    Ok(IfInfo { index, flags, mtu })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_there() {
        let lo = info("lo").unwrap();
        assert!(lo.index >= 1);
        assert!(lo.mtu >= 1500);
    }

    #[test]
    fn missing_device_is_enodev() {
        let e = info("nosuchdev0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        assert!(info("").is_err());
        assert!(info("a-name-far-too-long-for-ifnamsiz").is_err());
    }
}
