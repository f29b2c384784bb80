//! Cards renamed by MAC against the real kernel, in a throwaway namespace:
//! two veths with MACs set by `ip`, the wanted names swapped; `ip -o link`
//! is the witness that each MAC carries its new name, and a second run
//! renames nothing. The card lines of `outpostd status` for the same veths.

mod netns;

use std::time::{Duration, Instant};

use netns::{flags, in_netns, ip, root_or_skip};
use outpost_core::net::parse_mac;
use outpost_core::plan::InterfacePlan;
use outpostd::cards::{present, rename_cards, status_lines};
use outpostd::netlink::Netlink;

const MAC_A: &str = "52:54:00:aa:00:01";
const MAC_B: &str = "52:54:00:aa:00:02";

fn iface(name: &str, device: &str, mac: &str) -> InterfacePlan {
    InterfacePlan {
        name: name.into(),
        device: device.into(),
        address: None,
        dhcp: false,
        mtu: None,
        mac: parse_mac(mac),
    }
}

/// The MAC `ip -o link` shows for `dev`.
fn mac_of(dev: &str) -> String {
    let line = ip(&["-o", "link", "show", "dev", dev]);
    let after = line.split_once("link/ether ").map_or("", |(_, r)| r);
    after.split_whitespace().next().unwrap_or("").to_string()
}

fn two_veths() {
    ip(&["link", "add", "op0", "type", "veth", "peer", "name", "op1"]);
    ip(&["link", "set", "op0", "address", MAC_A]);
    ip(&["link", "set", "op1", "address", MAC_B]);
}

#[test]
fn swapped_cards_get_their_names_once() {
    if !root_or_skip("swapped_cards_get_their_names_once") {
        return;
    }
    in_netns(|| async {
        two_veths();
        // One card up, as on a re-apply: it is taken down to be renamed.
        ip(&["link", "set", "op0", "up"]);
        let nl = Netlink::connect().unwrap();
        let ifaces = [iface("lan", "op1", MAC_A), iface("wan", "op0", MAC_B)];
        let first = rename_cards(&nl, &ifaces).await;
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        let lines: Vec<String> = first.done.iter().map(|m| m.line()).collect();
        assert_eq!(
            lines,
            [
                format!("card {MAC_A} (was op0) is now op1 (lan)"),
                format!("card {MAC_B} (was op1) is now op0 (wan)"),
            ]
        );
        assert_eq!(mac_of("op1"), MAC_A);
        assert_eq!(mac_of("op0"), MAC_B);
        let all = ip(&["-o", "link"]);
        assert!(!all.contains("optmp"), "a temporary name was left: {all}");
        let op1 = ip(&["-o", "link", "show", "dev", "op1"]);
        assert!(!flags(&op1).contains(&"UP".to_string()), "{op1}");

        // Again (SIGHUP): nothing to do, nothing done.
        ip(&["link", "set", "op1", "up"]);
        let second = rename_cards(&nl, &ifaces).await;
        assert!(
            second.done.is_empty() && second.errors.is_empty(),
            "{second:?}"
        );
        assert_eq!(mac_of("op1"), MAC_A);
        let op1 = ip(&["-o", "link", "show", "dev", "op1"]);
        assert!(
            flags(&op1).contains(&"UP".to_string()),
            "re-apply took it down: {op1}"
        );
    });
}

#[test]
fn a_missing_card_is_named_and_the_one_in_its_place_moves_aside() {
    if !root_or_skip("a_missing_card_is_named_and_the_one_in_its_place_moves_aside") {
        return;
    }
    in_netns(|| async {
        two_veths();
        let nl = Netlink::connect().unwrap();
        let ifaces = [iface("lan", "op0", "00:a0:24:00:00:09")];
        let r = rename_cards(&nl, &ifaces).await;
        assert_eq!(r.errors.len(), 1, "{r:?}");
        assert_eq!(
            r.errors[0].to_string(),
            format!("no card has MAC 00:a0:24:00:00:09 (interface lan, as op0); cards: op0 {MAC_A}, op1 {MAC_B}")
        );
        assert_eq!(mac_of("eth0"), MAC_A, "{}", ip(&["-o", "link"]));
        assert_eq!(mac_of("op1"), MAC_B);
    });
}

#[test]
fn status_lists_every_card_with_driver_mac_link_and_interface() {
    if !root_or_skip("status_lists_every_card_with_driver_mac_link_and_interface") {
        return;
    }
    in_netns(|| async {
        two_veths();
        let cards = present().unwrap();
        let names: Vec<&str> = cards.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["op0", "op1"], "lo is no card");
        let ifaces = [iface("lan", "op0", MAC_A)];
        let lines = status_lines(&ifaces);
        assert_eq!(
            lines,
            [
                format!("card op0: veth, {MAC_A}, down, interface lan"),
                format!("card op1: veth, {MAC_B}, down, unused"),
            ]
        );
        ip(&["link", "set", "op0", "up"]);
        assert!(
            status_lines(&ifaces)[0].contains(", no link,"),
            "peer down: no carrier"
        );
        ip(&["link", "set", "op1", "up"]);
        // The carrier (IFF_RUNNING) follows through the kernel's linkwatch,
        // up to a second later.
        let want = [
            format!("card op0: veth, {MAC_A}, link up, interface lan"),
            format!("card op1: veth, {MAC_B}, link up, unused"),
        ];
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut lines = status_lines(&ifaces);
        while lines != want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            lines = status_lines(&ifaces);
        }
        assert_eq!(lines, want);
    });
}

#[test]
fn down_and_rename_verbs_change_once_and_a_taken_name_is_refused() {
    if !root_or_skip("down_and_rename_verbs_change_once_and_a_taken_name_is_refused") {
        return;
    }
    in_netns(|| async {
        two_veths();
        let nl = Netlink::connect().unwrap();
        // (Kernels before 6.2 refuse to rename a link that is up, EBUSY;
        // rename_cards takes it down first whatever the kernel.)
        ip(&["link", "set", "op0", "up"]);
        assert!(nl.set_link_down("op0").await.unwrap());
        assert!(!nl.set_link_down("op0").await.unwrap());
        assert!(nl.rename_link("op0", "lan0").await.unwrap());
        assert!(!nl.rename_link("lan0", "lan0").await.unwrap());
        assert_eq!(mac_of("lan0"), MAC_A);
        // A name in use is refused, not taken over.
        assert!(nl.rename_link("lan0", "op1").await.is_err());
        assert_eq!(mac_of("op1"), MAC_B);
    });
}
