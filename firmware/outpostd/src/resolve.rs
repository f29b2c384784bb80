//! The concentrator by name: looked up at each (re)connect through the
//! router's DNS servers (`/etc/resolv.conf`: `[system] dns`, else the DHCP
//! lease's; musl's resolver reads it at each lookup), judged by the core
//! (an address on a tunnel network is refused, as validation refuses one
//! written in the config), then dialled by address with the pinned key
//! written for that address. Runs on a blocking thread (the supervisor's
//! `prepare`): a lookup may wait seconds for an unanswering server.

use std::net::Ipv4Addr;

use log::info;
use outpost_core::plan::OfficePlan;

use crate::supervisor::roles::write_known_hosts;

/// The first IPv4 address `name` resolves to. Asks for A records only
/// (`AF_INET`): std's lookup asks for AAAA too, which small servers such as
/// busybox dnsd do not answer, and musl then fails the whole lookup.
pub fn resolve_v4(name: &str) -> Result<Ipv4Addr, String> {
    let fail = |why: String| format!("the concentrator's name {name} does not resolve: {why}");
    let c_name = std::ffi::CString::new(name).map_err(|_| fail("it contains a NUL byte".into()))?;
    // SAFETY: a zeroed addrinfo is the documented way to start hints.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_INET;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid C strings and hints; `res` is freed below.
    let rc = unsafe { libc::getaddrinfo(c_name.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static string for any code.
        let why = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(fail(why.to_string_lossy().into_owned()));
    }
    let mut found = None;
    let mut at = res;
    while !at.is_null() && found.is_none() {
        // SAFETY: `at` walks the list getaddrinfo returned.
        let ai = unsafe { &*at };
        if ai.ai_family == libc::AF_INET && !ai.ai_addr.is_null() {
            // SAFETY: an AF_INET entry's address is a sockaddr_in.
            let sin = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
            found = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
        }
        at = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo.
    unsafe { libc::freeaddrinfo(res) };
    found.ok_or_else(|| format!("the concentrator's name {name} has no IPv4 address"))
}

/// For an office whose concentrator is `name`: resolve, judge, pin the key
/// for the address, and return the pppd argv that dials it.
pub fn prepare_tunnel(office: &OfficePlan, name: &str) -> Result<Vec<String>, String> {
    let addr = resolve_v4(name)?;
    office
        .judge_concentrator(name, addr)
        .map_err(|e| format!("refused: {e}"))?;
    let at = office.at_address(addr);
    write_known_hosts(&at).map_err(|e| format!("writing {}: {e}", at.known_hosts_path))?;
    info!("the concentrator {name} is {addr}");
    Ok(at.pppd_argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_entries_and_literals_resolve_and_a_nul_does_not() {
        assert_eq!(resolve_v4("localhost"), Ok(Ipv4Addr::LOCALHOST));
        assert_eq!(resolve_v4("10.1.2.3"), Ok(Ipv4Addr::new(10, 1, 2, 3)));
        // (No lookup that would leave this machine: no DNS query in a test.)
        let e = resolve_v4("a\0b").unwrap_err();
        assert!(
            e.starts_with("the concentrator's name a\0b does not resolve: "),
            "{e}"
        );
    }
}
