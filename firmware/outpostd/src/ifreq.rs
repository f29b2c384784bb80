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
//!
//! The card listing ([`crate::cards`]) reads a device's hardware address
//! (`SIOCGIFHWADDR`) and, where sysfs names no driver, asks the driver
//! itself (`SIOCETHTOOL` / `ETHTOOL_GDRVINFO`).

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

/// A socket to send the ioctls on (any will do; the kernel answers for
/// the calling thread's network namespace).
fn socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Index, flags and MTU of `name`; `ENODEV` when there is no such device.
pub fn info(name: &str) -> io::Result<IfInfo> {
    let fd = socket()?;
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

/// `ARPHRD_ETHER`: the hardware type of an Ethernet card (and of a veth).
pub const ARPHRD_ETHER: u16 = 1;

/// The hardware type (`ARPHRD_*`) and the first six bytes of the hardware
/// address of `name` (the MAC, for an Ethernet card).
pub fn hardware_address(name: &str) -> io::Result<(u16, [u8; 6])> {
    let fd = socket()?;
    let mut req = ifreq_for(name)?;
    ioctl(&fd, libc::SIOCGIFHWADDR as libc::c_ulong, &mut req)?;
    // SAFETY: SIOCGIFHWADDR filled the hwaddr member.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *dst = *src as u8;
    }
    Ok((sa.sa_family, mac))
}

/// `SIOCETHTOOL` from <linux/sockios.h> (not in every libc crate target).
const SIOCETHTOOL: libc::c_ulong = 0x8946;
/// `ETHTOOL_GDRVINFO` from <linux/ethtool.h>.
const ETHTOOL_GDRVINFO: u32 = 0x3;

/// `struct ethtool_drvinfo`: only `u32`s and `char` arrays, so one layout
/// on i386 and x86-64.
#[repr(C)]
struct DrvInfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// The driver's own name for `name`'s driver (`ETHTOOL_GDRVINFO`);
/// `EOPNOTSUPP` from drivers without ethtool support.
pub fn ethtool_driver(name: &str) -> io::Result<String> {
    let fd = socket()?;
    // SAFETY: DrvInfo is plain old data; all-zero is a valid value.
    let mut info: DrvInfo = unsafe { std::mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    let mut req = ifreq_for(name)?;
    req.ifr_ifru.ifru_data = (&mut info as *mut DrvInfo).cast();
    ioctl(&fd, SIOCETHTOOL, &mut req)?;
    let len = info.driver.iter().position(|b| *b == 0).unwrap_or(32);
    Ok(String::from_utf8_lossy(&info.driver[..len]).into_owned())
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
        let e = hardware_address("nosuchdev0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    }

    #[test]
    fn drvinfo_has_the_uapi_size() {
        // 4 + 5 * 32 + 12 + 5 * 4, as sizeof(struct ethtool_drvinfo)
        assert_eq!(std::mem::size_of::<DrvInfo>(), 196);
    }
}
