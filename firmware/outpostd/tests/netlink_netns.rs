//! Every routing netlink verb against the real kernel, in throwaway
//! namespaces, with the host's `ip` as the independent witness: a change
//! is made once (`Ok(true)`, then `Ok(false)`), `ip` shows what was made,
//! and what `ip` made reads back through our dumps — including dumps too
//! big for one datagram, routes of other tables and point-to-point
//! addresses.

mod netns;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;

use netns::{flags, in_netns, ip, root_or_skip};
use outpost_core::net::{Ipv4Cidr, Ipv4Net};
use outpostd::netlink::{Netlink, NetlinkError, Route};

fn veth() {
    ip(&["link", "add", "op0", "type", "veth", "peer", "name", "op1"]);
    ip(&["link", "set", "op0", "up"]);
    ip(&["link", "set", "op1", "up"]);
    ip(&["addr", "add", "10.9.8.7/24", "dev", "op0"]);
}

fn route<'a>(dst: &str, via: Option<&str>, dev: Option<&'a str>) -> Route<'a> {
    Route {
        destination: dst.parse().unwrap(),
        gateway: via.map(|v| v.parse().unwrap()),
        device: dev,
    }
}

/// The IPv4 addresses `ip -o -4 addr show dev DEV` lists, as address/prefix
/// (`inet 10.0.0.1 peer 10.0.0.2/32`: the local one, the peer's prefix).
fn ip_addresses(dev: &str) -> HashSet<Ipv4Cidr> {
    ip(&["-o", "-4", "addr", "show", "dev", dev])
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace().skip_while(|w| *w != "inet").skip(1);
            let first = words.next()?;
            if first.contains('/') {
                return first.parse().ok();
            }
            let (_, prefix) = words.nth(1)?.split_once('/')?;
            format!("{first}/{prefix}").parse().ok()
        })
        .collect()
}

/// (destination, gateway, device) of every line of `ip -4 route show`
/// in the main table.
type IpRoute = (Ipv4Net, Option<Ipv4Addr>, Option<String>);

fn ip_routes() -> BTreeSet<IpRoute> {
    ip(&["-4", "route", "show", "table", "main"])
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let dst = match words[0] {
                "default" => "0.0.0.0/0".parse().unwrap(),
                d if d.contains('/') => d.parse().unwrap(),
                d => format!("{d}/32").parse().unwrap(),
            };
            let after = |key: &str| {
                words
                    .iter()
                    .position(|w| *w == key)
                    .map(|i| words[i + 1].to_string())
            };
            (dst, after("via").map(|v| v.parse().unwrap()), after("dev"))
        })
        .collect()
}

async fn our_routes(nl: &Netlink) -> BTreeSet<IpRoute> {
    let mut names = HashMap::new();
    for dev in ["lo", "op0", "op1"] {
        if let Ok(l) = nl.link(dev).await {
            names.insert(l.index, dev.to_string());
        }
    }
    nl.routes()
        .await
        .unwrap()
        .into_iter()
        .map(|(dst, gw, oif)| (dst, gw, oif.and_then(|i| names.get(&i).cloned())))
        .collect()
}

#[test]
fn addresses_are_added_once_and_listed_as_ip_lists_them() {
    if !root_or_skip("addresses_are_added_once_and_listed_as_ip_lists_them") {
        return;
    }
    in_netns(|| async {
        veth();
        let nl = Netlink::connect().unwrap();
        let a: Ipv4Cidr = "10.9.8.20/24".parse().unwrap();
        assert!(nl.add_address("op0", a).await.unwrap());
        assert!(!nl.add_address("op0", a).await.unwrap());
        let shown = ip(&["-o", "-4", "addr", "show", "dev", "op0"]);
        assert!(
            shown.contains("inet 10.9.8.20/24 brd 10.9.8.255 "),
            "{shown}"
        );
        assert_eq!(shown.matches("10.9.8.20/").count(), 1, "{shown}");

        // A /31 or /32 has no broadcast address (the other end, or itself).
        for (cidr, word) in [
            ("10.7.0.0/31", "10.7.0.0/31"),
            ("10.8.0.1/32", "10.8.0.1/32"),
        ] {
            assert!(nl.add_address("op0", cidr.parse().unwrap()).await.unwrap());
            let shown = ip(&["-o", "-4", "addr", "show", "dev", "op0", "to", cidr]);
            assert!(
                shown.contains(&format!("inet {word} scope global")),
                "{shown}"
            );
        }

        // What `ip` added reads back, the point-to-point one as its own
        // address, and the other device's stay out.
        ip(&["addr", "add", "10.0.0.1", "peer", "10.0.0.2", "dev", "op0"]);
        ip(&["addr", "add", "192.168.50.1/24", "dev", "op1"]);
        let ours: HashSet<Ipv4Cidr> = nl.addresses("op0").await.unwrap().into_iter().collect();
        assert_eq!(ours, ip_addresses("op0"));
        assert!(ours.contains(&"10.0.0.1/32".parse().unwrap()), "{ours:?}");
        assert_eq!(ours.len(), 5, "{ours:?}");
        let other: HashSet<Ipv4Cidr> = nl.addresses("op1").await.unwrap().into_iter().collect();
        assert_eq!(other, ip_addresses("op1"));

        // A lease that ends or moves: removed once, then already gone; the
        // others stay, as `ip` sees it.
        assert!(nl.del_address("op0", a).await.unwrap());
        assert!(!nl.del_address("op0", a).await.unwrap());
        let left = ip_addresses("op0");
        assert!(!left.contains(&a), "{left:?}");
        assert_eq!(left.len(), 4, "{left:?}");
        assert_eq!(
            left,
            nl.addresses("op0").await.unwrap().into_iter().collect()
        );
    });
}

#[test]
fn routes_are_added_once_deleted_once_and_listed_as_ip_lists_them() {
    if !root_or_skip("routes_are_added_once_deleted_once_and_listed_as_ip_lists_them") {
        return;
    }
    in_netns(|| async {
        veth();
        let nl = Netlink::connect().unwrap();
        let via = route("10.20.0.0/16", Some("10.9.8.1"), Some("op0"));
        assert!(nl.add_route(&via).await.unwrap());
        assert!(!nl.add_route(&via).await.unwrap());
        assert_eq!(
            ip(&["-4", "route", "show", "10.20.0.0/16"]).trim(),
            "10.20.0.0/16 via 10.9.8.1 dev op0 proto static"
        );
        let on_link = route("10.30.0.0/16", None, Some("op1"));
        assert!(nl.add_route(&on_link).await.unwrap());
        assert!(!nl.add_route(&on_link).await.unwrap());
        assert_eq!(
            ip(&["-4", "route", "show", "10.30.0.0/16"]).trim(),
            "10.30.0.0/16 dev op1 proto static"
        );
        let default = route("0.0.0.0/0", Some("10.9.8.1"), None);
        assert!(nl.add_route(&default).await.unwrap());
        assert!(!nl.add_route(&default).await.unwrap());
        assert_eq!(
            ip(&["-4", "route", "show", "default"]).trim(),
            "default via 10.9.8.1 dev op0 proto static"
        );

        // Routes `ip` made read back; another table's do not.
        ip(&["route", "add", "10.40.0.0/16", "via", "10.9.8.2"]);
        ip(&[
            "route",
            "add",
            "172.16.0.0/12",
            "via",
            "10.9.8.2",
            "table",
            "1000",
        ]);
        ip(&[
            "route",
            "add",
            "10.50.0.0/16",
            "via",
            "10.9.8.2",
            "table",
            "100",
        ]);
        let ours = our_routes(&nl).await;
        assert_eq!(ours, ip_routes());
        assert_eq!(ours.len(), 5, "{ours:?}"); // + 10.9.8.0/24 of the address
        assert!(ours.iter().all(|(d, _, _)| d.prefix() != 12), "{ours:?}");

        assert!(nl.del_route(&via).await.unwrap());
        assert!(!nl.del_route(&via).await.unwrap());
        assert_eq!(ip(&["-4", "route", "show", "10.20.0.0/16"]).trim(), "");
        let missing = route("10.99.0.0/16", Some("10.9.8.1"), Some("op0"));
        assert!(!nl.del_route(&missing).await.unwrap());
        // A route through a device that is gone went with it.
        let gone = route("10.98.0.0/16", None, Some("vpn9"));
        assert!(!nl.del_route(&gone).await.unwrap());
        assert!(nl.del_route(&on_link).await.unwrap());
        assert!(nl.del_route(&default).await.unwrap());
        assert_eq!(our_routes(&nl).await, ip_routes());
    });
}

#[test]
fn dumps_longer_than_one_datagram_are_read_to_their_end() {
    if !root_or_skip("dumps_longer_than_one_datagram_are_read_to_their_end") {
        return;
    }
    in_netns(|| async {
        veth();
        // ~60 bytes a route, ~80 an address: several datagrams each.
        let mut batch = String::new();
        for i in 0..2000u32 {
            batch.push_str(&format!(
                "route add 10.{}.{}.0/24 via 10.9.8.1\n",
                100 + i / 256,
                i % 256
            ));
        }
        for i in 0..600u32 {
            batch.push_str(&format!(
                "addr add 10.60.{}.{}/16 dev op0\n",
                i / 250,
                1 + i % 250
            ));
        }
        // On ip's stdin: no file, so nothing depends on a temp dir.
        let mut batcher = std::process::Command::new("ip")
            .args(["-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run ip");
        std::io::Write::write_all(&mut batcher.stdin.take().unwrap(), batch.as_bytes()).unwrap();
        let out = batcher.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ip -batch: {}",
            String::from_utf8_lossy(&out.stderr)
        );

        let nl = Netlink::connect().unwrap();
        let routes = our_routes(&nl).await;
        assert_eq!(routes.len(), 2000 + 2, "plus 10.9.8.0/24 and 10.60.0.0/16");
        assert_eq!(routes, ip_routes());
        let addrs: HashSet<Ipv4Cidr> = nl.addresses("op0").await.unwrap().into_iter().collect();
        assert_eq!(addrs.len(), 600 + 1);
        assert_eq!(addrs, ip_addresses("op0"));
    });
}

#[test]
fn mtu_and_up_are_set_once() {
    if !root_or_skip("mtu_and_up_are_set_once") {
        return;
    }
    in_netns(|| async {
        ip(&["link", "add", "op0", "type", "veth", "peer", "name", "op1"]);
        let nl = Netlink::connect().unwrap();
        assert!(nl.set_mtu("op0", 1400).await.unwrap());
        assert!(!nl.set_mtu("op0", 1400).await.unwrap());
        assert!(nl.set_link_up("op0").await.unwrap());
        assert!(!nl.set_link_up("op0").await.unwrap());
        let shown = ip(&["-o", "link", "show", "dev", "op0"]);
        assert!(shown.contains("mtu 1400"), "{shown}");
        // Up, and the link's other flags left as they were.
        for flag in ["BROADCAST", "MULTICAST", "UP"] {
            assert!(flags(&shown).iter().any(|f| f == flag), "{flag}: {shown}");
        }
        assert_eq!(nl.link("op0").await.unwrap().mtu, Some(1400));
    });
}

#[test]
fn refusals_carry_the_kernels_errno_and_what_was_asked() {
    if !root_or_skip("refusals_carry_the_kernels_errno_and_what_was_asked") {
        return;
    }
    in_netns(|| async {
        veth();
        let nl = Netlink::connect().unwrap();
        // No route to the gateway: ENETUNREACH.
        let e = nl
            .add_route(&route("10.40.0.0/16", Some("192.0.2.1"), None))
            .await
            .unwrap_err();
        let NetlinkError::Request { source, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(source.raw_os_error(), Some(libc::ENETUNREACH), "{e}");
        assert!(
            e.to_string()
                .starts_with("add route 10.40.0.0/16 via 192.0.2.1: "),
            "{e}"
        );
        // Below the minimum MTU: EINVAL.
        let e = nl.set_mtu("op0", 10).await.unwrap_err();
        assert!(e.to_string().starts_with("set MTU 10 on op0: "), "{e}");
        // The socket still answers after refusals.
        assert!(nl.set_mtu("op0", 1300).await.unwrap());
        let e = nl
            .add_route(&route("10.40.0.0/16", None, Some("op9")))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, NetlinkError::NoSuchDevice(d) if d == "op9"),
            "{e:?}"
        );
    });
}
