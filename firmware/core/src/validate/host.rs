//! `[tunnel] concentrator` as an address or a host name: a name must be a
//! DNS name, and the router must know a DNS server to resolve it with
//! (`[system] dns`, or a DHCP client whose lease brings them). Whether the
//! name's address lies on a tunnel network is only known when it is
//! resolved: the router checks that at each connect
//! (`crate::plan::OfficePlan::judge_concentrator`).

use std::net::Ipv4Addr;

use super::{sp, Validator};
use crate::config::{ConcentratorHost, Interface, System, Tunnel};
use crate::diagnostic::Collect;
use crate::raw::S;

/// A DNS host name: dot-separated labels of letters, digits and `-`
/// (each 1-63, not starting or ending with `-`), at most 253 characters,
/// not all digits and dots (that would be a mistyped address).
pub fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(super::is_hostname)
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

impl Validator<'_> {
    /// The concentrator's address, or its name.
    pub(super) fn concentrator_host(&mut self, s: &S) -> ConcentratorHost {
        let text = s.get_ref().trim();
        if let Ok(a) = text.parse::<Ipv4Addr>() {
            return ConcentratorHost::Address(a);
        }
        if !is_dns_name(text) {
            self.err(
                sp(s),
                format!("tunnel.concentrator: `{text}` is neither an IPv4 address nor a host name"),
                "write the concentrator's WAN address, e.g. 172.16.0.1, or its DNS name, e.g. vpn.example.com",
            );
            return ConcentratorHost::Address(Ipv4Addr::UNSPECIFIED);
        }
        ConcentratorHost::Name(text.to_ascii_lowercase())
    }

    /// A concentrator given by name needs a DNS server to ask.
    pub(super) fn name_needs_dns(
        &mut self,
        t: &Tunnel,
        at: &S,
        system: &System,
        ifs: &[Interface],
    ) {
        let ConcentratorHost::Name(name) = &t.concentrator else {
            return;
        };
        if system.dns.is_empty() && !ifs.iter().any(|i| i.dhcp) {
            self.err(
                sp(at),
                format!("the concentrator is given by name (`{name}`), but the router knows no DNS server"),
                "add [system] dns = [\"ADDRESS\"], or take the WAN's address by DHCP (its lease brings DNS servers), or write the concentrator's address",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_dns_name;

    #[test]
    fn dns_names() {
        for ok in ["vpn.example.com", "head", "a-1.b2.c", "vpn.example.com."] {
            assert!(is_dns_name(ok), "{ok}");
        }
        for bad in [
            "",
            "10.0.0.300",
            "1.2.3",
            "-a.b",
            "a..b",
            "a_b.c",
            "a b",
            &"x".repeat(64),
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }
}
