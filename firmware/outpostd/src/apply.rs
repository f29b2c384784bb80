//! Applying a valid config through the edges: the host name, then each
//! interface's MTU, address and link state. Every step is idempotent, so the
//! same config applied again (SIGHUP, respawn) changes nothing; each step is
//! logged saying whether it changed something.

use log::{error, info};
use outpost_core::config::Interface;
use outpost_core::Config;

use crate::netlink::{Netlink, NetlinkError};
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
    iface: &Interface,
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
    Ok(changes)
}

/// Applies `config`: host name, then every interface; a failing interface
/// is logged and the others are still applied.
pub async fn apply_config(nl: &Netlink, config: &Config) -> Applied {
    let hostname = config.system.hostname.clone();
    let hostname_result = system::set_hostname(&hostname);
    match &hostname_result {
        Ok(changed) => info!("hostname {hostname}{}", said(*changed)),
        Err(e) => error!("{e}"),
    }
    let mut interfaces = Vec::with_capacity(config.interfaces.len());
    for iface in &config.interfaces {
        let result = apply_interface(nl, iface).await;
        if let Err(e) = &result {
            error!("{}: {e}", iface.device);
        }
        interfaces.push(InterfaceOutcome {
            device: iface.device.clone(),
            result,
        });
    }
    Applied {
        hostname,
        hostname_result,
        interfaces,
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
        };
        assert_eq!(a.summary(), "hostname office1, 2 interfaces up");
        assert!(a.changed_anything());
    }

    #[test]
    fn summary_names_failed_interfaces() {
        let a = Applied {
            hostname: "h".into(),
            hostname_result: Ok(false),
            interfaces: vec![outcome("eth0", true), outcome("eth9", false)],
        };
        assert_eq!(
            a.summary(),
            "hostname h, 1 of 2 interfaces up (failed: eth9)"
        );
        assert!(!a.changed_anything());
        let one = Applied {
            hostname: "h".into(),
            hostname_result: Ok(false),
            interfaces: vec![outcome("eth0", true)],
        };
        assert_eq!(one.summary(), "hostname h, 1 interface up");
    }
}
