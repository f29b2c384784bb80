//! The netlink and system edges against the real kernel, in throwaway
//! namespaces: each verb changes the kernel the first time, reports no
//! change the second time, and the kernel's own tool (`ip`) sees the result.

mod netns;

use netns::{flags, in_netns, ip, root_or_skip};
use outpost_core::net::Ipv4Cidr;
use outpost_core::plan::{InterfacePlan, RoutePlan};
use outpostd::apply::{apply_interface, apply_route, InterfaceChanges};
use outpostd::netlink::{Netlink, NetlinkError, Route};
use outpostd::system;

fn veth() {
    // No dummy driver on every host; veth is everywhere.
    ip(&["link", "add", "op0", "type", "veth", "peer", "name", "op1"]);
}

fn plan(mtu: Option<u32>, address: &str) -> InterfacePlan {
    InterfacePlan {
        name: "lan".into(),
        device: "op0".into(),
        address: Some(address.parse().unwrap()),
        dhcp: false,
        mtu,
        mac: None,
    }
}

#[test]
fn interface_plan_applies_once_then_changes_nothing() {
    if !root_or_skip("interface_plan_applies_once_then_changes_nothing") {
        return;
    }
    in_netns(|| async {
        veth();
        let nl = Netlink::connect().unwrap();
        let p = plan(Some(1400), "10.9.8.7/24");
        let first = apply_interface(&nl, &p).await.unwrap();
        assert_eq!(
            first,
            InterfaceChanges {
                mtu: true,
                address: true,
                up: true
            }
        );
        let second = apply_interface(&nl, &p).await.unwrap();
        assert_eq!(
            second,
            InterfaceChanges::default(),
            "re-apply changed something"
        );

        let link = ip(&["-o", "link", "show", "dev", "op0"]);
        assert!(link.contains("mtu 1400"), "{link}");
        assert!(flags(&link).contains(&"UP".to_string()), "{link}");
        let addr = ip(&["-o", "-4", "addr", "show", "dev", "op0"]);
        assert!(addr.contains("inet 10.9.8.7/24"), "{addr}");
        assert_eq!(addr.lines().count(), 1, "{addr}");

        let state = nl.link("op0").await.unwrap();
        assert!(state.up);
        assert_eq!(state.mtu, Some(1400));
        let want: Ipv4Cidr = "10.9.8.7/24".parse().unwrap();
        assert_eq!(nl.addresses("op0").await.unwrap(), vec![want]);
    });
}

#[test]
fn a_changed_plan_changes_only_what_differs() {
    if !root_or_skip("a_changed_plan_changes_only_what_differs") {
        return;
    }
    in_netns(|| async {
        veth();
        let nl = Netlink::connect().unwrap();
        apply_interface(&nl, &plan(Some(1400), "10.9.8.7/24"))
            .await
            .unwrap();
        let c = apply_interface(&nl, &plan(Some(1300), "10.9.8.7/24"))
            .await
            .unwrap();
        assert_eq!(
            c,
            InterfaceChanges {
                mtu: true,
                address: false,
                up: false
            }
        );
        // Same address, other prefix: a different address to the kernel.
        let c = apply_interface(&nl, &plan(Some(1300), "10.9.8.7/16"))
            .await
            .unwrap();
        assert!(c.address && !c.mtu && !c.up);
        assert!(ip(&["-o", "link", "show", "dev", "op0"]).contains("mtu 1300"));
    });
}

#[test]
fn loopback_comes_up_once() {
    if !root_or_skip("loopback_comes_up_once") {
        return;
    }
    in_netns(|| async {
        let nl = Netlink::connect().unwrap();
        assert!(
            !nl.link("lo").await.unwrap().up,
            "a fresh netns has lo down"
        );
        assert!(nl.set_link_up("lo").await.unwrap());
        assert!(!nl.set_link_up("lo").await.unwrap());
        let lo = ip(&["-o", "link", "show", "dev", "lo"]);
        assert!(flags(&lo).contains(&"UP".to_string()), "{lo}");
    });
}

#[test]
fn missing_device_is_named() {
    if !root_or_skip("missing_device_is_named") {
        return;
    }
    in_netns(|| async {
        let nl = Netlink::connect().unwrap();
        let e = nl.set_mtu("eth7", 1500).await.unwrap_err();
        assert!(
            matches!(&e, NetlinkError::NoSuchDevice(d) if d == "eth7"),
            "{e:?}"
        );
        assert!(e.to_string().contains("`eth7`"), "{e}");
    });
}

#[test]
fn routes_are_added_once_replaced_when_changed_and_deleted_once() {
    if !root_or_skip("routes_are_added_once_replaced_when_changed_and_deleted_once") {
        return;
    }
    in_netns(|| async {
        veth();
        let nl = Netlink::connect().unwrap();
        apply_interface(&nl, &plan(None, "10.9.8.7/24"))
            .await
            .unwrap();
        let r = RoutePlan {
            dst: "10.20.0.0/16".parse().unwrap(),
            via: Some("10.9.8.1".parse().unwrap()),
            dev: Some("op0".into()),
        };
        assert!(apply_route(&nl, &r).await.unwrap());
        assert!(!apply_route(&nl, &r).await.unwrap());
        let shown = ip(&["-4", "route", "show", "10.20.0.0/16"]);
        assert!(
            shown.starts_with("10.20.0.0/16 via 10.9.8.1 dev op0 "),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 1, "{shown}");

        let moved = RoutePlan {
            via: Some("10.9.8.2".parse().unwrap()),
            ..r.clone()
        };
        assert!(apply_route(&nl, &moved).await.unwrap());
        let shown = ip(&["-4", "route", "show", "10.20.0.0/16"]);
        assert!(
            shown.starts_with("10.20.0.0/16 via 10.9.8.2 dev op0 "),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 1, "{shown}");

        let default = Route {
            destination: "0.0.0.0/0".parse().unwrap(),
            gateway: Some("10.9.8.1".parse().unwrap()),
            device: None,
        };
        assert!(nl.add_route(&default).await.unwrap());
        assert!(!nl.add_route(&default).await.unwrap());
        assert!(ip(&["-4", "route", "show", "default"]).contains("via 10.9.8.1"));

        let gone = outpostd::apply::route_of(&moved);
        assert!(nl.del_route(&gone).await.unwrap());
        assert!(!nl.del_route(&gone).await.unwrap());
        assert_eq!(ip(&["-4", "route", "show", "10.20.0.0/16"]).trim(), "");
    });
}

#[test]
fn hostname_and_sysctl_are_set_once() {
    if !root_or_skip("hostname_and_sysctl_are_set_once") {
        return;
    }
    in_netns(|| async {
        assert!(system::set_hostname("outpost-test").unwrap());
        assert!(!system::set_hostname("outpost-test").unwrap());
        let name = nix::unistd::gethostname().unwrap();
        assert_eq!(name.to_str(), Some("outpost-test"));

        // net.* sysctls belong to the namespace: the host's stay untouched.
        let key = "net.ipv4.conf.all.accept_redirects";
        let path = "/proc/sys/net/ipv4/conf/all/accept_redirects";
        let before = std::fs::read_to_string(path).unwrap();
        let other = if before.trim() == "0" { "1" } else { "0" };
        assert!(system::write_sysctl(key, other).unwrap());
        assert!(!system::write_sysctl(key, other).unwrap());
        assert_eq!(std::fs::read_to_string(path).unwrap().trim(), other);
    });
}
