//! Which card is which: the network cards the kernel found, renamed so that
//! every interface whose config names a MAC gets the card with that MAC
//! under its `device` name, whatever order the kernel probed them in (an
//! ISA card found by the legacy probe and a PCI card swap places between
//! kernels and boards); and the card lines of `outpostd status`.
//!
//! Deciding the renames is pure ([`plan_renames`]): the cards present and
//! the plan's interfaces in, the rename steps out. The edge
//! ([`rename_cards`]) lists the cards, takes a card down when it is up (a
//! link must be down to be renamed; applying the plan brings it up again)
//! and renames over netlink. Names that already match give no step, so a
//! re-apply (SIGHUP) renames nothing.
//!
//! A card is a link with an Ethernet hardware address (`ARPHRD_ETHER`),
//! not `lo`, not `ppp*`. Cards are listed with `if_nameindex` and ioctls,
//! not sysfs: sysfs shows the network namespace that mounted it, ioctls
//! the caller's (the tests run in throwaway namespaces).

use std::collections::BTreeSet;
use std::io;

use log::{error, info};
use outpost_core::net::format_mac;
use outpost_core::plan::InterfacePlan;

use crate::ifreq;
use crate::netlink::{Netlink, NetlinkError};

/// `IFF_UP` and `IFF_RUNNING` (the carrier, as `SIOCGIFFLAGS` shows it).
const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;

/// One card as the kernel names it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The kernel name, e.g. `eth0`.
    pub name: String,
    /// Its MAC address.
    pub mac: [u8; 6],
}

/// One rename, in the order they must be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The MAC of the card renamed.
    pub mac: [u8; 6],
    /// Its name before this step.
    pub from: String,
    /// Its name after it (a temporary name when breaking a swap).
    pub to: String,
}

/// Where one card ends up, for the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The card's MAC.
    pub mac: [u8; 6],
    /// Its name before.
    pub was: String,
    /// Its name after.
    pub now: String,
    /// The interface whose device it now is, if any.
    pub interface: Option<String>,
}

impl Moved {
    /// `card 52:54:00:12:34:56 (was eth1) is now eth0 (lan)`.
    pub fn line(&self) -> String {
        format!(
            "card {} (was {}) is now {} ({})",
            format_mac(&self.mac),
            self.was,
            self.now,
            self.interface.as_deref().unwrap_or("unused")
        )
    }
}

/// Why a card could not be given its name. The interface is then missing,
/// as an interface whose device does not exist is; the rest is applied.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// No card has the MAC the config names.
    #[error("no card has MAC {mac} (interface {interface}, as {device}); cards: {cards}")]
    NoCard {
        /// The MAC wanted.
        mac: String,
        /// The interface that wants it.
        interface: String,
        /// The name it would have had.
        device: String,
        /// The cards present, `eth0 52:54:…, eth1 …` (or `none`).
        cards: String,
    },
    /// Several cards have the MAC (cheap clones shipped with one address).
    #[error("cards {names} all have MAC {mac}: cannot tell which is {device} (interface {interface}); name it by device instead")]
    SameMac {
        /// The MAC.
        mac: String,
        /// The cards that have it.
        names: String,
        /// The interface.
        interface: String,
        /// The name wanted.
        device: String,
    },
    /// Two interfaces want one card, or one name for two cards (the
    /// config's validation refuses both; kept so the planner is total).
    #[error("interface {interface}: {reason}")]
    Conflict {
        /// The later interface.
        interface: String,
        /// What it clashes with.
        reason: String,
    },
    /// The cards could not be listed.
    #[error("cannot list the network cards: {0}")]
    List(#[source] io::Error),
    /// The kernel refused a step.
    #[error("card {mac} ({from}): {source}")]
    Rename {
        /// The card's MAC.
        mac: String,
        /// Its name then.
        from: String,
        /// The netlink edge's error.
        #[source]
        source: NetlinkError,
    },
}

/// The renames that give each card of `interfaces` (those with a MAC) its
/// device name.
#[derive(Debug, Default)]
pub struct Renames {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Every card that gets another name.
    pub moved: Vec<Moved>,
    /// The interfaces that cannot have their card.
    pub errors: Vec<CardError>,
}

fn card_list(cards: &[Card]) -> String {
    if cards.is_empty() {
        return "none".into();
    }
    cards
        .iter()
        .map(|c| format!("{} {}", c.name, format_mac(&c.mac)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Plans the renames: each card whose MAC an interface names gets that
/// interface's device name. A card not named by MAC keeps its name unless
/// a MAC-named interface's device name is it (even when that interface's
/// card is missing: its address must not land on another card); it then
/// moves to the first `ethN` nobody keeps or gets. Swaps and longer cycles
/// go through a temporary name. Nothing to do gives no steps.
pub fn plan_renames(cards: &[Card], interfaces: &[InterfacePlan]) -> Renames {
    let mut out = Renames::default();
    let mut target: Vec<Option<String>> = vec![None; cards.len()];
    // Every name a MAC-named interface claims, its card found or not.
    let mut reserved = BTreeSet::new();
    for i in interfaces {
        let Some(mac) = i.mac else { continue };
        let holders: Vec<usize> = (0..cards.len()).filter(|&c| cards[c].mac == mac).collect();
        if !reserved.insert(i.device.clone()) {
            out.errors.push(CardError::Conflict {
                interface: i.name.clone(),
                reason: format!("{} is another interface's card already", i.device),
            });
            continue;
        }
        match holders.as_slice() {
            [] => out.errors.push(CardError::NoCard {
                mac: format_mac(&mac),
                interface: i.name.clone(),
                device: i.device.clone(),
                cards: card_list(cards),
            }),
            [one] if target[*one].is_some() => out.errors.push(CardError::Conflict {
                interface: i.name.clone(),
                reason: format!("MAC {} is another interface's card", format_mac(&mac)),
            }),
            [one] => target[*one] = Some(i.device.clone()),
            many => out.errors.push(CardError::SameMac {
                mac: format_mac(&mac),
                names: many
                    .iter()
                    .map(|&c| cards[c].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                interface: i.name.clone(),
                device: i.device.clone(),
            }),
        }
    }
    // Cards not named by MAC keep their names where no interface claims them.
    let mut taken = reserved.clone();
    for (c, card) in cards.iter().enumerate() {
        if target[c].is_none() && !reserved.contains(&card.name) {
            taken.insert(card.name.clone());
            target[c] = Some(card.name.clone());
        }
    }
    for t in target.iter_mut().filter(|t| t.is_none()) {
        let free = (0..)
            .map(|n| format!("eth{n}"))
            .find(|n| !taken.contains(n))
            .unwrap_or_default();
        taken.insert(free.clone());
        *t = Some(free);
    }
    let finals: Vec<String> = target.into_iter().map(Option::unwrap_or_default).collect();
    for (card, now) in cards.iter().zip(&finals) {
        if card.name != *now {
            out.moved.push(Moved {
                mac: card.mac,
                was: card.name.clone(),
                now: now.clone(),
                interface: interfaces
                    .iter()
                    .find(|i| i.device == *now)
                    .map(|i| i.name.clone()),
            });
        }
    }
    out.steps = order_steps(cards, &finals);
    out
}

/// The steps that take every card from its name to `finals` (same order
/// as `cards`): a card moves as soon as its new name is free; when none
/// can (every new name is held by a card still to move: a swap or a
/// longer cycle), one of them parks on a temporary name.
fn order_steps(cards: &[Card], finals: &[String]) -> Vec<Step> {
    let mut names: Vec<String> = cards.iter().map(|c| c.name.clone()).collect();
    let mut pending: Vec<usize> = (0..cards.len())
        .filter(|&c| names[c] != finals[c])
        .collect();
    let mut steps = Vec::new();
    let mut parked = 0;
    while let Some(&first) = pending.first() {
        let free = pending.iter().position(|&c| !names.contains(&finals[c]));
        let (card, to) = match free {
            Some(p) => {
                let c = pending.remove(p);
                (c, finals[c].clone())
            }
            None => {
                let tmp = (parked..)
                    .map(|n| format!("optmp{n}"))
                    .find(|n| !names.contains(n) && !finals.contains(n))
                    .unwrap_or_default();
                parked += 1;
                (first, tmp)
            }
        };
        steps.push(Step {
            mac: cards[card].mac,
            from: std::mem::replace(&mut names[card], to.clone()),
            to,
        });
    }
    steps
}

/// The cards present now, by name (after renames the kernel's index
/// order is no longer `eth0`, `eth1`, …; people read names).
pub fn present() -> io::Result<Vec<Card>> {
    let mut cards = Vec::new();
    for name in link_names()? {
        if name == "lo" || name.starts_with("ppp") {
            continue;
        }
        // A link gone since the list was made is simply not a card.
        if let Ok((ifreq::ARPHRD_ETHER, mac)) = ifreq::hardware_address(&name) {
            cards.push(Card { name, mac });
        }
    }
    cards.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cards)
}

/// Every link's name, by index (`if_nameindex`: the calling thread's
/// network namespace).
fn link_names() -> io::Result<Vec<String>> {
    // SAFETY: if_nameindex returns a list ended by a zero entry, or NULL
    // with errno set; the list is freed below, once, after copying.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut names = Vec::new();
    let mut at = list;
    // SAFETY: every entry up to the zero one is valid, with a C string name.
    unsafe {
        while (*at).if_index != 0 && !(*at).if_name.is_null() {
            names.push(
                std::ffi::CStr::from_ptr((*at).if_name)
                    .to_string_lossy()
                    .into_owned(),
            );
            at = at.add(1);
        }
        libc::if_freenameindex(list);
    }
    Ok(names)
}

/// What has been renamed, and what could not be.
#[derive(Debug, Default)]
pub struct Renamed {
    /// The cards that reached their new names.
    pub done: Vec<Moved>,
    /// Why others did not (or why nothing was tried).
    pub errors: Vec<CardError>,
}

/// Gives every card named by MAC in `interfaces` its device name (see
/// [`plan_renames`]), logging one line per card moved and each error.
/// Without a MAC-named interface the cards are not even listed. Stops at
/// the first step the kernel refuses: later steps may depend on it.
pub async fn rename_cards(nl: &Netlink, interfaces: &[InterfacePlan]) -> Renamed {
    let mut out = Renamed::default();
    if interfaces.iter().all(|i| i.mac.is_none()) {
        return out;
    }
    let cards = match present() {
        Ok(c) => c,
        Err(e) => {
            out.errors.push(CardError::List(e));
            log_errors(&out.errors);
            return out;
        }
    };
    let plan = plan_renames(&cards, interfaces);
    out.errors = plan.errors;
    let mut done = 0;
    for step in &plan.steps {
        let result = match nl.set_link_down(&step.from).await {
            Ok(_) => nl.rename_link(&step.from, &step.to).await,
            Err(e) => Err(e),
        };
        if let Err(source) = result {
            out.errors.push(CardError::Rename {
                mac: format_mac(&step.mac),
                from: step.from.clone(),
                source,
            });
            break;
        }
        done += 1;
    }
    let steps = &plan.steps[..done];
    for m in plan.moved {
        if steps.iter().any(|s| s.mac == m.mac && s.to == m.now) {
            info!("{}", m.line());
            out.done.push(m);
        }
    }
    log_errors(&out.errors);
    out
}

fn log_errors(errors: &[CardError]) {
    for e in errors {
        error!("{e}");
    }
}

/// A card's link as `outpostd status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Up, with a carrier: `link up`.
    Up,
    /// Up, no carrier (no cable, hub off): `no link`.
    NoCarrier,
    /// Administratively down (its carrier is not known then): `down`.
    Down,
}

impl Link {
    /// From `SIOCGIFFLAGS` flags.
    pub fn from_flags(flags: u32) -> Link {
        match (flags & IFF_UP != 0, flags & IFF_RUNNING != 0) {
            (false, _) => Link::Down,
            (true, true) => Link::Up,
            (true, false) => Link::NoCarrier,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Link::Up => "link up",
            Link::NoCarrier => "no link",
            Link::Down => "down",
        }
    }
}

/// `card eth0: ne2k-pci, 52:54:00:12:34:56, link up, interface lan` (or
/// `…, unused` for a card no interface uses).
pub fn card_line(card: &Card, driver: &str, link: Link, interface: Option<&str>) -> String {
    let used = interface.map_or("unused".into(), |i| format!("interface {i}"));
    format!(
        "card {}: {driver}, {}, {}, {used}",
        card.name,
        format_mac(&card.mac),
        link.word()
    )
}

/// The driver of `card`: sysfs's `device/driver` link (PCI drivers, and
/// the ISA `ne` probe's platform device), when sysfs shows this very card
/// (same MAC: sysfs may be another namespace's); else the driver's own
/// answer to ethtool; else `unknown`.
pub fn driver(card: &Card) -> String {
    let dir = std::path::Path::new("/sys/class/net").join(&card.name);
    let same = std::fs::read_to_string(dir.join("address"))
        .is_ok_and(|a| a.trim() == format_mac(&card.mac));
    let from_sysfs = same
        .then(|| std::fs::read_link(dir.join("device/driver")).ok())
        .flatten()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    from_sysfs
        .or_else(|| ifreq::ethtool_driver(&card.name).ok())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// One [`card_line`] per card present, each with the interface whose
/// device it is; one line saying why when the cards cannot be listed.
pub fn status_lines(interfaces: &[InterfacePlan]) -> Vec<String> {
    let cards = match present() {
        Ok(c) => c,
        Err(e) => return vec![format!("cards: {}", CardError::List(e))],
    };
    if cards.is_empty() {
        return vec!["cards: none".into()];
    }
    cards
        .iter()
        .map(|c| {
            let link = ifreq::info(&c.name).map_or(Link::Down, |i| Link::from_flags(i.flags));
            let iface = interfaces.iter().find(|i| i.device == c.name);
            card_line(c, &driver(c), link, iface.map(|i| i.name.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
