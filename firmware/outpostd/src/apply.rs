//! Applying the core's [`Plan`] through the edges: the host name, cards
//! named by MAC given their device names ([`crate::cards`]), each
//! interface's MTU, address and link state, the static routes, the sysctls.
//! Every step is idempotent, so the same plan applied again (SIGHUP,
//! respawn) changes nothing; each step is logged saying whether it changed
//! something. IP forwarding is only ever switched *off* here: switching it
//! on belongs after the firewall is in force, which the nf_tables edge does.

use log::{error, info};
use outpost_core::plan::{InterfacePlan, Plan, RoutePlan, Sysctl};

use crate::netlink::{Netlink, NetlinkError, Route};
use crate::system::{self, SystemError};

/// What applying one interface changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceChanges {
    /// The MTU was set.
    pub mtu: bool,
    /// The address was added.
    pub address: bool,
    /// The link was brought up.
    pub up: bool,
}

impl InterfaceChanges {
    /// Whether anything changed.
    pub fn any(&self) -> bool {
        self.mtu || self.address || self.up
    }
}

/// The outcome of one interface.
#[derive(Debug)]
pub struct InterfaceOutcome {
    /// The device name.
    pub device: String,
    /// What changed, or why it failed.
    pub result: Result<InterfaceChanges, NetlinkError>,
}

/// The outcome of applying a whole config.
#[derive(Debug)]
pub struct Applied {
    /// The host name asked for.
    pub hostname: String,
    /// Whether the host name was changed, or why it could not be.
    pub hostname_result: Result<bool, SystemError>,
    /// Each interface, in config order.
    pub interfaces: Vec<InterfaceOutcome>,
    /// How many static routes were installed or found, and how many failed.
    pub routes: (usize, usize),
}

impl Applied {
    /// Whether anything changed at all.
    pub fn changed_anything(&self) -> bool {
        matches!(self.hostname_result, Ok(true))
            || self
                .interfaces
                .iter()
                .any(|i| matches!(&i.result, Ok(c) if c.any()))
    }

    /// The one-line summary for the ready line, e.g.
    /// `hostname office1, 2 interfaces up`.
    pub fn summary(&self) -> String {
        let total = self.interfaces.len();
        let failed: Vec<&str> = self
            .interfaces
            .iter()
            .filter(|i| i.result.is_err())
            .map(|i| i.device.as_str())
            .collect();
        let up = total - failed.len();
        let mut s = format!("hostname {}", self.hostname);
        if self.hostname_result.is_err() {
            s.push_str(" (not set)");
        }
        let noun = if total == 1 {
            "interface"
        } else {
            "interfaces"
        };
        if failed.is_empty() {
            s.push_str(&format!(", {up} {noun} up"));
        } else {
            s.push_str(&format!(
                ", {up} of {total} {noun} up (failed: {})",
                failed.join(", ")
            ));
        }
        let (ok, bad) = self.routes;
        if bad > 0 {
            s.push_str(&format!(", {ok} of {} routes", ok + bad));
        } else if ok > 0 {
            s.push_str(&format!(", {ok} route{}", if ok == 1 { "" } else { "s" }));
        }
        s
    }
}

fn said(changed: bool) -> &'static str {
    if changed {
        ""
    } else {
        " (already)"
    }
}

/// Sets MTU, address and link state of one interface, in that order (the MTU
/// before the link carries traffic).
pub async fn apply_interface(
    nl: &Netlink,
    iface: &InterfacePlan,
) -> Result<InterfaceChanges, NetlinkError> {
    let dev = iface.device.as_str();
    let mut changes = InterfaceChanges::default();
    if let Some(mtu) = iface.mtu {
        changes.mtu = nl.set_mtu(dev, mtu).await?;
        info!("{dev}: MTU {mtu}{}", said(changes.mtu));
    }
    if let Some(cidr) = iface.address {
        changes.address = nl.add_address(dev, cidr).await?;
        info!("{dev}: address {cidr}{}", said(changes.address));
    }
    changes.up = nl.set_link_up(dev).await?;
    info!("{dev}: up{}", said(changes.up));
    if iface.dhcp {
        // The address comes with the lease (crate::dhcp), after this.
        info!("{dev}: address by DHCP");
    }
    Ok(changes)
}

/// The netlink edge's view of a planned route.
pub fn route_of(r: &RoutePlan) -> Route<'_> {
    Route {
        destination: r.dst,
        gateway: r.via,
        device: r.dev.as_deref(),
    }
}

/// Installs one planned route.
pub async fn apply_route(nl: &Netlink, r: &RoutePlan) -> Result<bool, NetlinkError> {
    let changed = nl.add_route(&route_of(r)).await?;
    info!("route {}{}", describe(r), said(changed));
    Ok(changed)
}

fn describe(r: &RoutePlan) -> String {
    let mut s = r.dst.to_string();
    if let Some(via) = r.via {
        s.push_str(&format!(" via {via}"));
    }
    if let Some(dev) = &r.dev {
        s.push_str(&format!(" dev {dev}"));
    }
    s
}

/// Whether a planned sysctl may be written before the firewall is loaded:
/// everything but switching forwarding on.
pub fn safe_before_firewall(s: &Sysctl) -> bool {
    !(s.key == "net/ipv4/ip_forward" && s.value.trim() != "0")
}

/// Applies `plan`: host name, the cards named by MAC renamed
/// ([`crate::cards::rename_cards`]), every interface, the static routes, the
/// sysctls that are safe before the firewall; a failing step is logged and
/// the others are still applied.
pub async fn apply_plan(nl: &Netlink, plan: &Plan) -> Applied {
    let hostname = plan.hostname.clone();
    let hostname_result = system::set_hostname(&hostname);
    match &hostname_result {
        Ok(changed) => info!("hostname {hostname}{}", said(*changed)),
        Err(e) => error!("{e}"),
    }
    // Before any interface: a card named by MAC must carry its device name
    // first (an error leaves that interface missing, as a missing device).
    crate::cards::rename_cards(nl, &plan.interfaces).await;
    let mut interfaces = Vec::with_capacity(plan.interfaces.len());
    for iface in &plan.interfaces {
        let result = apply_interface(nl, iface).await;
        if let Err(e) = &result {
            error!("{}: {e}", iface.device);
        }
        interfaces.push(InterfaceOutcome {
            device: iface.device.clone(),
            result,
        });
    }
    let mut routes = (0, 0);
    for r in &plan.routes {
        match apply_route(nl, r).await {
            Ok(_) => routes.0 += 1,
            Err(e) => {
                routes.1 += 1;
                error!("route {}: {e}", describe(r));
            }
        }
    }
    for s in &plan.sysctls {
        if !safe_before_firewall(s) {
            info!("{} stays as it is until the firewall is loaded", s.key);
            continue;
        }
        let key = s.key.replace('/', ".");
        match system::write_sysctl(&key, &s.value) {
            Ok(changed) => info!("sysctl {key} = {}{}", s.value, said(changed)),
            Err(e) => error!("{e}"),
        }
    }
    Applied {
        hostname,
        hostname_result,
        interfaces,
        routes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(device: &str, ok: bool) -> InterfaceOutcome {
        InterfaceOutcome {
            device: device.into(),
            result: if ok {
                Ok(InterfaceChanges::default())
            } else {
                Err(NetlinkError::NoSuchDevice(device.into()))
            },
        }
    }

    #[test]
    fn summary_counts_interfaces_up() {
        let a = Applied {
            hostname: "office1".into(),
            hostname_result: Ok(true),
            interfaces: vec![outcome("eth0", true), outcome("eth1", true)],
            routes: (1, 0),
        };
        assert_eq!(a.summary(), "hostname office1, 2 interfaces up, 1 route");
        assert!(a.changed_anything());
    }

    #[test]
    fn summary_names_failed_interfaces() {
        let a = Applied {
            hostname: "h".into(),
            hostname_result: Ok(false),
            interfaces: vec![outcome("eth0", true), outcome("eth9", false)],
            routes: (1, 1),
        };
        assert_eq!(
            a.summary(),
            "hostname h, 1 of 2 interfaces up (failed: eth9), 1 of 2 routes"
        );
        assert!(!a.changed_anything());
        let one = Applied {
            hostname: "h".into(),
            hostname_result: Ok(false),
            interfaces: vec![outcome("eth0", true)],
            routes: (0, 0),
        };
        assert_eq!(one.summary(), "hostname h, 1 interface up");
    }

    #[test]
    fn forwarding_is_never_switched_on_before_the_firewall() {
        let s = |k: &str, v: &str| Sysctl {
            key: k.into(),
            value: v.into(),
        };
        assert!(!safe_before_firewall(&s("net/ipv4/ip_forward", "1")));
        assert!(safe_before_firewall(&s("net/ipv4/ip_forward", "0")));
        assert!(safe_before_firewall(&s("net/ipv4/conf/all/rp_filter", "1")));
    }
}
