//! DHCP on the router: the supervised udhcpc of the interface that takes
//! its address by DHCP, and a supervised udhcpd per `[[dhcp_server]]`.
//!
//! udhcpc reports each event through its script ([`crate::dhcp_hook`]);
//! [`DhcpClient::hook`] judges a lease (`outpost_core::plan::lease::judge`),
//! applies it with the netlink verbs every other address and route uses
//! (new address, then the old one removed, then the default route via the
//! lease's router), writes `/etc/resolv.conf`, and says what changed so the
//! roles can start, restart or park the tunnel. A lease that makes no sense
//! and a search nobody answered are refused: udhcpc is killed and started
//! again after the supervisor's backoff, and the console and `status` say
//! why. udhcpd's config is rendered by the core; a server that hands out
//! the WAN's DNS servers is rewritten and restarted when they change.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant;

use log::{error, info, warn};
use outpost_core::net::Ipv4Net;
use outpost_core::plan::lease::{change_of, judge, Lease, LeaseChange, LeaseEvent};
use outpost_core::plan::{DhcpClientPlan, DhcpServerPlan, DISCOVER_TRIES, RESOLV_CONF, UDHCPD_DIR};

use crate::control::Reply;
use crate::dhcp_hook::DhcpMessage;
use crate::netlink::{Netlink, Route};
use crate::supervisor::machine::{Event, Policy};
use crate::supervisor::{Kind, Output, Spec, Status, Supervisor};

/// The lease in force and when it was obtained (or last renewed).
#[derive(Debug, Clone)]
struct Held {
    lease: Lease,
    at: Instant,
}

/// A running DHCP client.
pub struct DhcpClient {
    plan: DhcpClientPlan,
    sup: Supervisor,
    held: Option<Held>,
    /// The last refusal, for `status` until a lease is applied.
    refused: Option<String>,
}

fn default_route(dev: &str, router: Ipv4Addr) -> Route<'_> {
    Route {
        destination: Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0),
        gateway: Some(router),
        device: Some(dev),
    }
}

/// Writes the DNS servers for the router itself (atomically: a resolver
/// reading meanwhile sees the old file or the new): the DHCP lease's, or
/// `[system] dns`.
pub fn write_resolv_conf(dns: &[Ipv4Addr]) -> std::io::Result<()> {
    let mut text = String::from("# Written by outpostd ([system] dns, else the DHCP lease's).\n");
    for d in dns {
        text.push_str(&format!("nameserver {d}\n"));
    }
    let path = Path::new(RESOLV_CONF);
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

impl DhcpClient {
    /// Starts udhcpc as `plan` says.
    pub fn start(plan: &DhcpClientPlan) -> DhcpClient {
        info!(
            "{}: asking for a DHCP lease (udhcpc on {})",
            plan.name, plan.device
        );
        let spec = Spec {
            argv: plan.argv.clone(),
            prepare: None,
            kind: Kind::Daemon {
                name: "udhcpc".into(),
                listens: false,
            },
            policy: Policy::DEFAULT,
            output: Output::Log,
        };
        DhcpClient {
            plan: plan.clone(),
            sup: Supervisor::start(spec, None),
            held: None,
            refused: None,
        }
    }

    /// The plan it runs.
    pub fn plan(&self) -> &DhcpClientPlan {
        &self.plan
    }

    /// Whether a lease is in force.
    pub fn has_lease(&self) -> bool {
        self.held.is_some()
    }

    /// The lease's DNS servers (none without a lease).
    pub fn dns(&self) -> Vec<Ipv4Addr> {
        self.held
            .as_ref()
            .map(|h| h.lease.dns.clone())
            .unwrap_or_default()
    }

    fn who(&self) -> String {
        format!("{} ({})", self.plan.name, self.plan.device)
    }

    /// Kills udhcpc and retries after the backoff, saying why.
    fn refuse(&mut self, reason: String) -> Reply {
        error!("{}: {reason}; asking again after the backoff", self.who());
        self.refused = Some(reason.clone());
        self.sup.send(Event::Refuse(reason.clone()));
        Reply::error(vec![reason])
    }

    /// Handles one udhcpc event; says what it changed.
    pub async fn hook(&mut self, nl: Option<&Netlink>, msg: DhcpMessage) -> (Reply, LeaseChange) {
        if msg.device != self.plan.device {
            warn!("udhcpc event for {}, which runs no DHCP client", msg.device);
            return (
                Reply::error(vec![format!("no DHCP client on {}", msg.device)]),
                LeaseChange::Nothing,
            );
        }
        match msg.event {
            LeaseEvent::Bound | LeaseEvent::Renew => {
                let lease = match Lease::from_words(msg.words.iter().map(String::as_str)) {
                    Ok(l) => l,
                    Err(e) => {
                        return (
                            self.refuse(format!("DHCP answer refused: {e}")),
                            LeaseChange::Nothing,
                        )
                    }
                };
                if let Err(why) = judge(&lease, &self.plan.guard) {
                    let from = lease
                        .server
                        .map(|s| format!(" from {s}"))
                        .unwrap_or_default();
                    let reply =
                        self.refuse(format!("DHCP lease {}{from} refused: {why}", lease.address));
                    return (reply, LeaseChange::Nothing);
                }
                self.apply(nl, lease).await
            }
            LeaseEvent::Deconfig => {
                let change = if self.held.is_some() {
                    info!("{}: DHCP lease ended", self.who());
                    self.drop_lease(nl).await;
                    LeaseChange::Lost
                } else {
                    LeaseChange::Nothing
                };
                (Reply::ok(vec![]), change)
            }
            LeaseEvent::Leasefail => {
                let reason = format!("no DHCP server answered ({DISCOVER_TRIES} discovers)");
                (self.refuse(reason), LeaseChange::Nothing)
            }
            LeaseEvent::Nak => {
                warn!(
                    "{}: the DHCP server refused our request (NAK); asking again",
                    self.who()
                );
                (Reply::ok(vec![]), LeaseChange::Nothing)
            }
        }
    }

    async fn apply(&mut self, nl: Option<&Netlink>, lease: Lease) -> (Reply, LeaseChange) {
        let dev = self.plan.device.clone();
        let Some(nl) = nl else {
            return (
                self.refuse("no netlink: the lease cannot be applied".into()),
                LeaseChange::Nothing,
            );
        };
        let old = self.held.as_ref().map(|h| h.lease.clone());
        // The new address first, so the link is never without one while
        // renumbering; then the old one goes (and the kernel's routes via
        // it with it); then the default route via the new router.
        if let Err(e) = nl.add_address(&dev, lease.address).await {
            return (
                self.refuse(format!("DHCP lease {} not applied: {e}", lease.address)),
                LeaseChange::Nothing,
            );
        }
        if let Some(o) = old.as_ref().filter(|o| o.address != lease.address) {
            if let Err(e) = nl.del_address(&dev, o.address).await {
                error!("{dev}: {e}");
            }
            if let Some(r) = o.router.filter(|r| Some(*r) != lease.router) {
                let _ = nl.del_route(&default_route(&dev, r)).await;
            }
        }
        if let Some(r) = lease.router {
            if let Err(e) = nl.add_route(&default_route(&dev, r)).await {
                error!("{e}");
            }
        }
        if self.plan.dns_from_lease && old.as_ref().map(|o| &o.dns) != Some(&lease.dns) {
            if let Err(e) = write_resolv_conf(&lease.dns) {
                error!("writing {RESOLV_CONF}: {e}");
            }
        }
        let change = change_of(old.as_ref(), &lease);
        match (&old, &change) {
            (Some(o), LeaseChange::Nothing) if *o == lease => {
                info!(
                    "{}: DHCP lease {} renewed, {} s",
                    self.who(),
                    lease.address,
                    lease.seconds
                )
            }
            _ => info!("{}: DHCP lease {lease}, {} s", self.who(), lease.seconds),
        }
        self.refused = None;
        self.held = Some(Held {
            lease,
            at: Instant::now(),
        });
        (Reply::ok(vec![]), change)
    }

    /// Removes the lease's address and route.
    async fn drop_lease(&mut self, nl: Option<&Netlink>) {
        let Some(h) = self.held.take() else { return };
        let dev = self.plan.device.clone();
        if let Some(nl) = nl {
            if let Some(r) = h.lease.router {
                let _ = nl.del_route(&default_route(&dev, r)).await;
            }
            match nl.del_address(&dev, h.lease.address).await {
                Ok(_) => info!("{dev}: address {} removed", h.lease.address),
                Err(e) => error!("{dev}: {e}"),
            }
        }
        if self.plan.dns_from_lease {
            if let Err(e) = write_resolv_conf(&[]) {
                error!("writing {RESOLV_CONF}: {e}");
            }
        }
    }

    /// `outpostd status` line.
    pub fn status_line(&self) -> String {
        let mut s = format!("dhcp client {}: ", self.who());
        match &self.held {
            Some(h) => {
                let age = h.at.elapsed().as_secs();
                let left = u64::from(h.lease.seconds).saturating_sub(age);
                s.push_str(&format!(
                    "lease {}, expires in {left} s (lease {} s, renewed {age} s ago)",
                    h.lease, h.lease.seconds
                ));
            }
            None => s.push_str("no lease"),
        }
        if let (None, Some(r)) = (&self.held, &self.refused) {
            s.push_str(&format!("; last refused: {r}"));
        }
        if let Some(st) = self.sup.status() {
            s.push_str(&format!("; udhcpc {}", st.line()));
        }
        s
    }

    /// Stops udhcpc and removes the lease.
    pub async fn stop(mut self, nl: Option<&Netlink>) {
        self.drop_lease(nl).await;
        self.sup.stop().await;
    }
}

/// The running DHCP servers.
#[derive(Default)]
pub struct DhcpServers {
    running: Vec<(DhcpServerPlan, String, Supervisor)>,
}

fn start_server(plan: &DhcpServerPlan, conf: &str) -> std::io::Result<Supervisor> {
    std::fs::create_dir_all(UDHCPD_DIR)?;
    let leases = format!("{UDHCPD_DIR}/{}.leases", plan.device);
    // udhcpd warns about a missing lease file at every start.
    if !Path::new(&leases).exists() {
        std::fs::write(&leases, b"")?;
    }
    let tmp = format!("{}.new", plan.conf_path);
    std::fs::write(&tmp, conf)?;
    std::fs::rename(&tmp, &plan.conf_path)?;
    let spec = Spec {
        argv: plan.argv.clone(),
        prepare: None,
        kind: Kind::Daemon {
            name: "udhcpd".into(),
            listens: false,
        },
        policy: Policy::DEFAULT,
        output: Output::Log,
    };
    Ok(Supervisor::start(spec, None))
}

impl DhcpServers {
    /// Runs exactly `plans`, handing out `wan_dns` where a server names no
    /// DNS servers; a server whose plan and config are unchanged keeps
    /// running (its leases with it).
    pub async fn apply(&mut self, plans: &[DhcpServerPlan], wan_dns: &[Ipv4Addr]) {
        let mut keep = Vec::new();
        for (plan, conf, sup) in std::mem::take(&mut self.running) {
            if plans.contains(&plan) && plan.conf(wan_dns) == conf {
                keep.push((plan, conf, sup));
            } else {
                sup.stop().await;
            }
        }
        self.running = keep;
        for plan in plans {
            if self.running.iter().any(|(p, _, _)| p == plan) {
                continue;
            }
            let conf = plan.conf(wan_dns);
            match start_server(plan, &conf) {
                Ok(sup) => {
                    info!(
                        "{} ({}): DHCP server for {}-{} (udhcpd)",
                        plan.name, plan.device, plan.server.first, plan.server.last
                    );
                    self.running.push((plan.clone(), conf, sup));
                }
                Err(e) => error!(
                    "{} ({}): DHCP server not started: {e}",
                    plan.name, plan.device
                ),
            }
        }
    }

    /// The plans of the servers running.
    pub fn plans(&self) -> Vec<DhcpServerPlan> {
        self.running.iter().map(|(p, _, _)| p.clone()).collect()
    }

    /// `outpostd status` lines.
    pub fn status_lines(&self) -> Vec<String> {
        self.running
            .iter()
            .map(|(p, conf, sup)| {
                let dns = conf
                    .lines()
                    .find_map(|l| l.strip_prefix("option dns "))
                    .unwrap_or("none");
                let st = sup.status().map(|s: Status| s.line()).unwrap_or_default();
                format!(
                    "dhcp server {} ({}): {}-{}, lease {} s, dns {dns}; udhcpd {st}",
                    p.name, p.device, p.server.first, p.server.last, p.server.lease
                )
            })
            .collect()
    }

    /// Stops every server.
    pub async fn stop(&mut self) {
        for (_, _, sup) in self.running.drain(..) {
            sup.stop().await;
        }
    }
}
