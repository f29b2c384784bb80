//! A plan as plain text, for people: what `mkoutpost plan` prints and what
//! the golden plan files hold. One line per fact, stable order.

use std::fmt::Write as _;

use super::Plan;

/// Renders every part of `p` but the ruleset (which has its own nft text).
pub fn render_text(p: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "hostname {}", p.hostname);
    for i in &p.interfaces {
        let _ = writeln!(
            s,
            "interface {} dev {} address {:?} dhcp {} mtu {:?}",
            i.name,
            i.device,
            i.address.map(|a| a.to_string()),
            i.dhcp,
            i.mtu
        );
        if let Some(mac) = &i.mac {
            // The card is chosen by MAC (renamed to `dev` at boot).
            let _ = writeln!(s, "  card {}", crate::net::format_mac(mac));
        }
    }
    for r in &p.routes {
        let _ = writeln!(s, "route {} via {:?} dev {:?}", r.dst, r.via, r.dev);
    }
    if !p.dns.is_empty() {
        let d: Vec<String> = p.dns.iter().map(ToString::to_string).collect();
        let _ = writeln!(s, "dns {}", d.join(" "));
    }
    for c in &p.sysctls {
        let _ = writeln!(s, "sysctl {} = {}", c.key, c.value);
    }
    if let Some(c) = &p.dhcp.client {
        let _ = writeln!(
            s,
            "\n[dhcp client {} dev {}]\nudhcpc argv: {:?}",
            c.name, c.device, c.argv
        );
        for (net, what) in &c.guard {
            let _ = writeln!(s, "lease refused on {net} ({what})");
        }
    }
    for d in &p.dhcp.servers {
        let _ = writeln!(
            s,
            "\n[dhcp server {} dev {}]\nudhcpd argv: {:?}\n{}:\n{}",
            d.name,
            d.device,
            d.argv,
            d.conf_path,
            d.conf(&[])
        );
        if d.follows_wan_dns() {
            let _ = writeln!(
                s,
                "dns handed out: the WAN lease's; leases of at most {} s until there is one (as above), then {} s",
                super::PROVISIONAL_LEASE_S,
                d.server.lease
            );
        }
    }
    if let Some(o) = &p.office {
        let _ = writeln!(s, "\n[office]\npppd argv:");
        for a in &o.pppd_argv {
            let _ = writeln!(s, "  {a:?}");
        }
        let _ = writeln!(
            s,
            "ifname {}\nssh_home {}\n{}:\n{}",
            o.ifname, o.ssh_home, o.known_hosts_path, o.known_hosts
        );
        for r in &o.link_routes {
            let _ = writeln!(s, "link route {} dev {:?}", r.dst, r.dev);
        }
        if let Some(n) = &o.concentrator_name {
            let _ = writeln!(
                s,
                "concentrator {n}: resolved at each connect, refused inside a link route"
            );
        }
    }
    if let Some(c) = &p.concentrator {
        let _ = writeln!(
            s,
            "\n[concentrator]\ndropbear argv: {:?}\nhost key {}\ngroup {}",
            c.dropbear_argv, c.host_key_path, c.group_line
        );
        for peer in &c.peers {
            let _ = writeln!(
                s,
                "\n[peer {}]\npasswd {}\nhome {}\n{}:\n{}{}:\n{}ifname {}",
                peer.name,
                peer.passwd_line,
                peer.home,
                peer.authorized_keys_path,
                peer.authorized_keys,
                peer.pppd_options_path,
                peer.pppd_options,
                peer.ifname
            );
            for r in &peer.link_routes {
                let _ = writeln!(s, "link route {} dev {:?}", r.dst, r.dev);
            }
        }
    }
    s
}
