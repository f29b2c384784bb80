//! What the agent runs for its role once a config is applied: on an office
//! the supervised tunnel (known_hosts pinned, hooks written, pppd started),
//! on a concentrator the peer accounts, a supervised dropbear and the
//! peers' link routes; on any role the DHCP client and servers
//! ([`crate::dhcp`]). With a DHCP client the tunnel waits for a lease,
//! restarts when the leased address changes and waits again when the
//! lease ends. A re-apply (SIGHUP, `outpostd reset`) with the same plan
//! restarts the tunnel; a changed plan replaces it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

use log::{error, info, warn};
use outpost_core::plan::{ConcentratorPlan, DhcpClientPlan, OfficePlan, Plan, OFFICE_IPPARAM};

use crate::concentrator::{self, Peers};
use crate::control::Reply;
use crate::dhcp::{DhcpClient, DhcpServers};
use crate::dhcp_hook::{self, DhcpMessage};
use crate::hooks::{self, HookMessage};
use crate::netlink::Netlink;
use crate::supervisor::machine::{Event, LinkInfo, Policy};
use crate::supervisor::{Kind, Output, Spec, Supervisor};
use outpost_core::plan::lease::{tunnel_move, LeaseChange, TunnelMove};

/// The role's running parts.
#[derive(Default)]
pub struct Roles {
    tunnel: Option<(OfficePlan, Supervisor)>,
    /// The tunnel the plan asks for, while it waits for a DHCP lease.
    waiting: Option<OfficePlan>,
    dhcp_client: Option<DhcpClient>,
    dhcp_servers: DhcpServers,
    dropbear: Option<(ConcentratorPlan, Supervisor)>,
    peers: Option<Peers>,
    nl: Option<Netlink>,
}

/// Writes the pinned host key where dbclient reads it (`$HOME/.ssh`, 0700;
/// the file 0600).
pub fn write_known_hosts(office: &OfficePlan) -> std::io::Result<()> {
    let path = Path::new(&office.known_hosts_path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    std::fs::write(path, &office.known_hosts)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

impl Roles {
    fn netlink(&mut self) -> Option<Netlink> {
        match Netlink::connect() {
            Ok(nl) => Some(nl),
            Err(e) => {
                error!("{e}; tunnel routes cannot be installed");
                None
            }
        }
    }

    /// Starts, restarts or replaces what `plan` asks for; `socket` is where
    /// pppd's hooks call back.
    pub async fn apply(&mut self, plan: &Plan, socket: &Path) {
        let exe = std::env::current_exe().unwrap_or_else(|_| "/sbin/outpostd".into());
        if plan.office.is_some() || plan.concentrator.is_some() {
            if let Err(e) = hooks::install(&exe, socket) {
                error!("writing pppd's hook scripts: {e}");
            }
        }
        if plan.dhcp.client.is_some() {
            if let Err(e) = dhcp_hook::install(&exe, socket) {
                error!("writing udhcpc's script: {e}");
            }
        }
        if !plan.dns.is_empty() {
            if let Err(e) = crate::dhcp::write_resolv_conf(&plan.dns) {
                error!("writing the DNS servers: {e}");
            }
        }
        self.apply_dhcp_client(plan.dhcp.client.as_ref()).await;
        self.apply_office(plan.office.as_ref()).await;
        let wan_dns = self.wan_dns();
        self.dhcp_servers.apply(&plan.dhcp.servers, &wan_dns).await;
        self.apply_concentrator(plan.concentrator.as_ref()).await;
    }

    fn wan_dns(&self) -> Vec<std::net::Ipv4Addr> {
        self.dhcp_client
            .as_ref()
            .map(DhcpClient::dns)
            .unwrap_or_default()
    }

    /// Keeps a running client whose plan is unchanged (its lease with it).
    async fn apply_dhcp_client(&mut self, want: Option<&DhcpClientPlan>) {
        if let (Some(c), Some(w)) = (&self.dhcp_client, want) {
            if c.plan() == w {
                return;
            }
        }
        if let Some(c) = self.dhcp_client.take() {
            if self.nl.is_none() {
                self.nl = self.netlink();
            }
            c.stop(self.nl.as_ref()).await;
        }
        if let Some(w) = want {
            if self.nl.is_none() {
                self.nl = self.netlink();
            }
            self.dhcp_client = Some(DhcpClient::start(w));
        }
    }

    /// Whether the tunnel may run: no DHCP client, or one with a lease.
    fn wan_ready(&self) -> bool {
        self.dhcp_client.as_ref().is_none_or(DhcpClient::has_lease)
    }

    /// Handles one udhcpc event: the lease applied (or refused), then the
    /// tunnel started, restarted or parked as the lease changed, and the
    /// DHCP servers' DNS servers brought up to date.
    pub async fn dhcp_hook(&mut self, msg: DhcpMessage) -> Reply {
        let Some(client) = self.dhcp_client.as_mut() else {
            return Reply::error(vec![format!("no DHCP client runs on {}", msg.device)]);
        };
        let (reply, change) = client.hook(self.nl.as_ref(), msg).await;
        match tunnel_move(&change, self.tunnel.is_some(), self.waiting.is_some()) {
            TunnelMove::Stay => {}
            TunnelMove::Start => {
                if let Some(office) = self.waiting.take() {
                    self.start_tunnel(&office);
                }
            }
            TunnelMove::Restart => {
                if let (Some((_, sup)), LeaseChange::AddressChanged { from, to }) =
                    (&self.tunnel, &change)
                {
                    info!("restarting the tunnel: the WAN address changed from {from} to {to}");
                    sup.send(Event::Reset);
                }
            }
            TunnelMove::Park => {
                if let Some((office, sup)) = self.tunnel.take() {
                    info!("the tunnel waits for a new DHCP lease");
                    sup.stop().await;
                    self.waiting = Some(office);
                }
            }
        }
        let wan_dns = self.wan_dns();
        let servers = self.dhcp_servers.plans();
        self.dhcp_servers.apply(&servers, &wan_dns).await;
        reply
    }

    async fn apply_office(&mut self, office: Option<&OfficePlan>) {
        self.waiting = None;
        match (&self.tunnel, office) {
            (Some((running, sup)), Some(want)) if running == want => {
                info!("restarting the tunnel");
                sup.send(Event::Reset);
                return;
            }
            (None, None) => return,
            _ => {}
        }
        if let Some((_, sup)) = self.tunnel.take() {
            sup.stop().await;
        }
        let Some(office) = office else { return };
        if !self.wan_ready() {
            info!("the tunnel waits for a DHCP lease");
            self.waiting = Some(office.clone());
            return;
        }
        self.start_tunnel(office);
    }

    fn start_tunnel(&mut self, office: &OfficePlan) {
        // By name: looked up, judged and pinned at each start instead.
        let prepare: Option<crate::supervisor::Prepare> = match &office.concentrator_name {
            Some(name) => {
                let (office, name) = (office.clone(), name.clone());
                Some(std::sync::Arc::new(move || {
                    crate::resolve::prepare_tunnel(&office, &name)
                }))
            }
            None => {
                if let Err(e) = write_known_hosts(office) {
                    error!("writing {}: {e}", office.known_hosts_path);
                }
                None
            }
        };
        let nl = self.netlink();
        let spec = Spec {
            argv: office.pppd_argv.clone(),
            prepare,
            kind: Kind::Tunnel {
                routes: office.link_routes.clone(),
            },
            policy: Policy::DEFAULT,
            output: Output::Log,
        };
        info!("starting the tunnel ({})", office.ifname);
        self.tunnel = Some((office.clone(), Supervisor::start(spec, nl)));
    }

    async fn apply_concentrator(&mut self, c: Option<&ConcentratorPlan>) {
        if let (Some((running, _)), Some(want)) = (&self.dropbear, c) {
            if running == want {
                return;
            }
        }
        if let Some((_, sup)) = self.dropbear.take() {
            sup.stop().await;
        }
        if let Some(mut peers) = self.peers.take() {
            peers.teardown(self.nl.as_ref()).await;
        }
        let Some(c) = c else { return };
        match concentrator::write_accounts(c, Path::new("/")) {
            Ok(()) => info!("{} peer account(s) written", c.peers.len()),
            Err(e) => error!("peer accounts: {e}"),
        }
        if self.nl.is_none() {
            self.nl = self.netlink();
        }
        self.peers = Some(Peers::new(c));
        let spec = Spec {
            argv: c.dropbear_argv.clone(),
            prepare: None,
            kind: Kind::Daemon {
                name: "dropbear".into(),
                listens: true,
            },
            policy: Policy::DEFAULT,
            output: Output::Log,
        };
        info!("starting dropbear");
        self.dropbear = Some((c.clone(), Supervisor::start(spec, None)));
    }

    /// Handles one pppd hook call.
    pub async fn hook(&mut self, msg: HookMessage) -> Reply {
        if msg.ipparam == OFFICE_IPPARAM {
            if let Some((_, sup)) = &self.tunnel {
                sup.send(if msg.up {
                    Event::LinkUp(LinkInfo {
                        ifname: msg.ifname,
                        local: msg.local,
                        remote: msg.remote,
                    })
                } else {
                    Event::LinkDown
                });
                return Reply::ok(vec![]);
            }
        }
        if let Some(peers) = &mut self.peers {
            if peers.hook(self.nl.as_ref(), &msg).await {
                return Reply::ok(vec![]);
            }
        }
        warn!(
            "pppd hook for unknown link {} ({})",
            msg.ifname, msg.ipparam
        );
        Reply::error(vec![format!("no tunnel or peer `{}`", msg.ipparam)])
    }

    /// `outpostd status` lines.
    pub fn status_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = &self.dhcp_client {
            out.push(c.status_line());
        }
        out.extend(self.dhcp_servers.status_lines());
        match self.tunnel.as_ref().and_then(|(_, s)| s.status()) {
            Some(s) => out.push(format!("tunnel: {}", s.line())),
            None if self.waiting.is_some() => out.push("tunnel: waiting for a DHCP lease".into()),
            None => out.push("tunnel: none".into()),
        }
        if let Some(s) = self.dropbear.as_ref().and_then(|(_, s)| s.status()) {
            // Peers whose tunnel is up, as their ip-up/ip-down hooks said.
            let peers = self.peers.as_ref().map(Peers::up_count);
            out.push(format!("dropbear: {}", s.line_at(Instant::now(), peers)));
        }
        if let Some(p) = &self.peers {
            out.extend(p.status_lines());
        }
        out
    }

    /// Stops everything: children killed and reaped, routes removed.
    pub async fn stop(&mut self) {
        if let Some((_, sup)) = self.tunnel.take() {
            sup.stop().await;
        }
        self.dhcp_servers.stop().await;
        if let Some(c) = self.dhcp_client.take() {
            c.stop(self.nl.as_ref()).await;
        }
        if let Some((_, sup)) = self.dropbear.take() {
            sup.stop().await;
        }
        if let Some(mut peers) = self.peers.take() {
            peers.teardown(self.nl.as_ref()).await;
        }
    }
}
