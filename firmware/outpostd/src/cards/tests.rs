//! The rename planner on the cases a box meets: probe order swapped, a
//! card in the way, a missing card, names already right; each plan is
//! also played through to check it ends where it should.

use super::*;

fn mac(last: u8) -> [u8; 6] {
    [0x52, 0x54, 0x00, 0x12, 0x34, last]
}

fn card(name: &str, last: u8) -> Card {
    Card {
        name: name.into(),
        mac: mac(last),
    }
}

fn iface(name: &str, device: &str, last: Option<u8>) -> InterfacePlan {
    InterfacePlan {
        name: name.into(),
        device: device.into(),
        address: None,
        dhcp: false,
        mtu: None,
        mac: last.map(mac),
    }
}

/// Runs the steps over the names as the kernel would, refusing a step onto
/// a name in use; returns each card's name afterwards.
fn play(cards: &[Card], steps: &[Step]) -> Vec<(String, u8)> {
    let mut now: Vec<Card> = cards.to_vec();
    for s in steps {
        assert!(
            !now.iter().any(|c| c.name == s.to),
            "{} is taken: {steps:?}",
            s.to
        );
        let c = now
            .iter_mut()
            .find(|c| c.name == s.from)
            .expect("from exists");
        assert_eq!(c.mac, s.mac);
        assert!(s.to.len() < 16, "{} is longer than IFNAMSIZ allows", s.to);
        c.name = s.to.clone();
    }
    now.into_iter().map(|c| (c.name, c.mac[5])).collect()
}

fn names(v: &[(&str, u8)]) -> Vec<(String, u8)> {
    v.iter().map(|(n, m)| (n.to_string(), *m)).collect()
}

#[test]
fn names_that_match_give_nothing_to_do() {
    let cards = [card("eth0", 1), card("eth1", 2)];
    let plan = plan_renames(
        &cards,
        &[iface("lan", "eth0", Some(1)), iface("wan", "eth1", Some(2))],
    );
    assert!(plan.steps.is_empty() && plan.moved.is_empty() && plan.errors.is_empty());
    // and no MAC in the config: nothing either, whatever the cards
    let plan = plan_renames(&cards, &[iface("lan", "eth1", None)]);
    assert!(plan.steps.is_empty() && plan.errors.is_empty());
}

#[test]
fn a_swap_goes_through_a_temporary_name() {
    let cards = [card("eth0", 2), card("eth1", 1)];
    let ifaces = [iface("lan", "eth0", Some(1)), iface("wan", "eth1", Some(2))];
    let plan = plan_renames(&cards, &ifaces);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    assert_eq!(plan.steps.len(), 3, "{:?}", plan.steps);
    assert_eq!(plan.steps[0].to, "optmp0");
    assert_eq!(
        play(&cards, &plan.steps),
        names(&[("eth1", 2), ("eth0", 1)])
    );
    let lines: Vec<String> = plan.moved.iter().map(Moved::line).collect();
    assert_eq!(
        lines,
        [
            "card 52:54:00:12:34:02 (was eth0) is now eth1 (wan)",
            "card 52:54:00:12:34:01 (was eth1) is now eth0 (lan)",
        ]
    );
    // played through, the same plan finds nothing left to do
    let after: Vec<Card> = play(&cards, &plan.steps)
        .into_iter()
        .map(|(n, m)| card(&n, m))
        .collect();
    assert!(plan_renames(&after, &ifaces).steps.is_empty());
}

#[test]
fn a_three_way_cycle_needs_one_parking_only() {
    let cards = [card("eth0", 3), card("eth1", 1), card("eth2", 2)];
    let ifaces = [
        iface("a", "eth0", Some(1)),
        iface("b", "eth1", Some(2)),
        iface("c", "eth2", Some(3)),
    ];
    let plan = plan_renames(&cards, &ifaces);
    assert_eq!(plan.steps.len(), 4, "{:?}", plan.steps);
    assert_eq!(
        play(&cards, &plan.steps),
        names(&[("eth2", 3), ("eth0", 1), ("eth1", 2)])
    );
}

#[test]
fn a_card_in_the_way_moves_to_the_first_free_ethn() {
    // lan's card came up as eth2; eth0 is a card the config does not name
    let cards = [card("eth0", 9), card("eth1", 8), card("eth2", 1)];
    let ifaces = [iface("lan", "eth0", Some(1)), iface("wan", "eth1", None)];
    let plan = plan_renames(&cards, &ifaces);
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    // eth1 is kept by its card (wan names no MAC), eth2 is freed by lan's card
    assert_eq!(
        play(&cards, &plan.steps),
        names(&[("eth2", 9), ("eth1", 8), ("eth0", 1)])
    );
    assert_eq!(plan.steps.len(), 3, "{:?}", plan.steps);
    let lines: Vec<String> = plan.moved.iter().map(Moved::line).collect();
    assert_eq!(
        lines,
        [
            "card 52:54:00:12:34:09 (was eth0) is now eth2 (unused)",
            "card 52:54:00:12:34:01 (was eth2) is now eth0 (lan)",
        ]
    );
}

#[test]
fn a_freed_name_goes_to_an_interface_without_a_mac() {
    // lan's card is eth1; the card at eth0 moves to eth1, which wan uses
    let cards = [card("eth0", 5), card("eth1", 1)];
    let ifaces = [iface("lan", "eth0", Some(1)), iface("wan", "eth1", None)];
    let plan = plan_renames(&cards, &ifaces);
    assert_eq!(
        play(&cards, &plan.steps),
        names(&[("eth1", 5), ("eth0", 1)])
    );
    assert_eq!(
        plan.moved[0].line(),
        "card 52:54:00:12:34:05 (was eth0) is now eth1 (wan)"
    );
}

#[test]
fn a_missing_mac_is_named_with_the_cards_present_and_its_name_kept_free() {
    let cards = [card("eth0", 7), card("eth1", 2)];
    let ifaces = [iface("lan", "eth0", Some(1)), iface("wan", "eth1", Some(2))];
    let plan = plan_renames(&cards, &ifaces);
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(
        plan.errors[0].to_string(),
        "no card has MAC 52:54:00:12:34:01 (interface lan, as eth0); cards: eth0 52:54:00:12:34:07, eth1 52:54:00:12:34:02"
    );
    // lan's address must not land on the other card: it moves aside
    assert_eq!(
        play(&cards, &plan.steps),
        names(&[("eth2", 7), ("eth1", 2)])
    );
    let none = plan_renames(&[], &ifaces);
    assert!(
        none.errors[0].to_string().ends_with("cards: none"),
        "{:?}",
        none.errors
    );
}

#[test]
fn two_cards_with_one_mac_are_not_guessed_between() {
    let cards = [card("eth0", 1), card("eth1", 1)];
    let plan = plan_renames(&cards, &[iface("lan", "eth1", Some(1))]);
    assert!(
        plan.errors[0]
            .to_string()
            .starts_with("cards eth0, eth1 all have MAC 52:54:00:12:34:01"),
        "{}",
        plan.errors[0]
    );
    // eth1 is claimed, so its card moves; the name stays free
    assert_eq!(
        play(&cards, &plan.steps),
        names(&[("eth0", 1), ("eth2", 1)])
    );
}

#[test]
fn conflicting_interfaces_are_errors_not_panics() {
    let cards = [card("eth0", 1), card("eth1", 2)];
    let plan = plan_renames(
        &cards,
        &[iface("lan", "eth1", Some(1)), iface("wan", "eth1", Some(2))],
    );
    assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
    assert_eq!(
        play(&cards, &plan.steps),
        names(&[("eth1", 1), ("eth0", 2)])
    );
    let plan = plan_renames(
        &cards,
        &[iface("lan", "eth1", Some(1)), iface("wan", "eth0", Some(1))],
    );
    assert!(plan.errors[0]
        .to_string()
        .contains("another interface's card"));
}

#[test]
fn card_lines_and_link_states() {
    let c = card("eth0", 0x56);
    assert_eq!(
        card_line(&c, "ne2k-pci", Link::Up, Some("lan")),
        "card eth0: ne2k-pci, 52:54:00:12:34:56, link up, interface lan"
    );
    assert_eq!(
        card_line(&c, "ne", Link::Down, None),
        "card eth0: ne, 52:54:00:12:34:56, down, unused"
    );
    assert_eq!(Link::from_flags(0x1 | 0x40), Link::Up);
    assert_eq!(Link::from_flags(0x1), Link::NoCarrier);
    assert_eq!(Link::from_flags(0x40), Link::Down);
    assert_eq!(
        card_line(&c, "x", Link::NoCarrier, None),
        "card eth0: x, 52:54:00:12:34:56, no link, unused"
    );
}
