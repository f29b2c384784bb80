//! Validation: from text to a typed [`Config`], collecting every problem
//! as a [`Diagnostic`] with file, line, column and a fix hint. [`check`] is
//! the one entry point `mkoutpost check` and `outpostd check-config` both
//! call. Pure: no file system, no network (the identity file's existence
//! and permissions are checked by [`crate::keyfiles`]).

use std::net::Ipv4Addr;
use std::ops::Range;

use toml::Spanned;

use crate::config::*;
use crate::diagnostic::{Collect, Diagnostic, Location};
use crate::hardware;
use crate::keys::PublicKey;
use crate::net::{format_mac, Ipv4Cidr, Ipv4Net};
use crate::raw::*;

mod dhcp;
mod host;
pub use dhcp::range_problem;
pub use host::is_dns_name;

/// Why [`parse_and_validate`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The text is not TOML or does not fit the schema (one error).
    Parse(Diagnostic),
    /// The schema fits, but the checks failed (all of them).
    Invalid(Vec<Diagnostic>),
}

/// Parses and validates `text` (named `file` in diagnostics).
pub fn check(file: &str, text: &str) -> Result<Config, Vec<Diagnostic>> {
    parse_and_validate(file, text).map_err(|f| match f {
        Failure::Parse(d) => vec![d],
        Failure::Invalid(ds) => ds,
    })
}

/// Like [`check`], but tells a parse error from failed checks.
pub fn parse_and_validate(file: &str, text: &str) -> Result<Config, Failure> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(Location { line: 1, column: 1 }, |s| {
            Location::of_offset(text, s.start)
        });
        let message = e.message().trim().to_string();
        let hint = parse_hint(&message);
        Failure::Parse(Diagnostic {
            file: file.to_string(),
            at,
            message,
            hint,
        })
    })?;
    let mut v = Validator {
        file,
        text,
        diags: Vec::new(),
    };
    let config = v.config(&raw);
    if v.diags.is_empty() {
        Ok(config)
    } else {
        v.diags.sort_by_key(|d| d.at);
        Err(Failure::Invalid(v.diags))
    }
}

fn parse_hint(message: &str) -> Option<String> {
    if message.contains("unknown field") {
        Some("check the spelling against examples/site/*.toml; unknown keys are refused so typos cannot pass silently".into())
    } else if message.contains("unknown variant") {
        Some("use one of the values listed above".into())
    } else if message.contains("missing field") {
        Some("add the missing key to this section".into())
    } else {
        None
    }
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    diags: Vec<Diagnostic>,
}

fn sp<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

impl Collect for Validator<'_> {
    fn parts(&mut self) -> (&str, &str, &mut Vec<Diagnostic>) {
        (self.file, self.text, &mut self.diags)
    }
}

impl Validator<'_> {
    fn addr(&mut self, s: &S, what: &str) -> Option<Ipv4Addr> {
        self.parse(s, what, "write a dotted-quad IPv4 address, e.g. 10.0.0.1")
    }

    fn net(&mut self, s: &S, what: &str) -> Option<Ipv4Net> {
        if s.get_ref().trim() == "default" {
            return Some(Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0));
        }
        let c: Ipv4Cidr = self.parse(
            s,
            what,
            "write a network as ADDRESS/PREFIX, e.g. 192.168.1.0/24",
        )?;
        if c.addr != c.network().addr() {
            self.err(
                sp(s),
                format!("{what}: `{c}` has host bits set"),
                format!("did you mean the network {}?", c.network()),
            );
            return None;
        }
        Some(c.network())
    }

    fn int(&mut self, v: &Option<Spanned<i64>>, lo: i64, hi: i64, default: i64, what: &str) -> i64 {
        match v {
            None => default,
            Some(x) if (lo..=hi).contains(x.get_ref()) => *x.get_ref(),
            Some(x) => {
                self.err(
                    sp(x),
                    format!("{what} {} is out of range", x.get_ref()),
                    format!("use a number from {lo} to {hi}"),
                );
                default
            }
        }
    }

    /// A key file's name: relative to the config, inside its directory.
    /// mkoutpost generates missing keys there and the image carries them
    /// under `/etc` by the same relative name, so an absolute name or one
    /// climbing out with `..` would be written on the build machine and
    /// missing from the image.
    fn key_path(&mut self, f: &S, what: &str) -> String {
        let name = f.get_ref().trim();
        let fix = "name the key file relative to this config, inside its directory, e.g. keys/NAME.ed25519";
        if name.is_empty() {
            self.err(sp(f), format!("{what}: the file name is empty"), fix);
        } else if name.starts_with('/') {
            self.err(
                sp(f),
                format!("{what}: `{name}` is an absolute path"),
                format!("{fix} (mkoutpost would write it on the build machine, and the image would not carry it)"),
            );
        } else if name.split('/').any(|c| c == "..") {
            self.err(
                sp(f),
                format!("{what}: `{name}` leaves the config's directory"),
                format!("{fix} (the image carries key files by their name under /etc)"),
            );
        }
        name.to_string()
    }

    fn key(
        &mut self,
        inline: &Option<S>,
        file: &Option<S>,
        section: Range<usize>,
        what: &str,
        inline_key: &str,
    ) -> KeySource {
        match (inline, file) {
            (Some(k), None) => match PublicKey::parse(k.get_ref()) {
                Ok(k) => KeySource::Inline(k),
                Err(e) => {
                    self.err(sp(k), format!("{what}: {e}"), "paste the whole line of the `.pub` file, e.g. `ssh-ed25519 AAAAC3Nza… name`");
                    KeySource::File(String::new())
                }
            },
            (None, Some(f)) => KeySource::File(self.key_path(f, what)),
            (Some(k), Some(_)) => {
                self.err(
                    sp(k),
                    format!("{what} is given twice: `{inline_key}` and `{inline_key}_file`"),
                    "keep only one of them",
                );
                KeySource::File(String::new())
            }
            (None, None) => {
                self.err(section, format!("{what} is missing: there is no trust on first use"), format!("add `{inline_key} = \"ssh-ed25519 …\"` or `{inline_key}_file = \"keys/NAME.pub\"`"));
                KeySource::File(String::new())
            }
        }
    }

    fn config(&mut self, raw: &RawConfig) -> Config {
        let system = self.system(&raw.system);
        let interfaces = self.interfaces(&raw.interfaces);
        let names: Vec<String> = interfaces.iter().map(|i| i.name.clone()).collect();
        let routes = self.routes(&raw.routes, &interfaces);
        let firewall = raw
            .firewall
            .as_ref()
            .map(|f| self.firewall(f.get_ref(), &names))
            .unwrap_or_default();
        let tunnel = raw.tunnel.as_ref().map(|t| self.tunnel(t, &interfaces));
        let concentrator = raw
            .concentrator
            .as_ref()
            .map(|c| self.concentrator(c, &interfaces));
        if let (Some(t), Some(rt)) = (&tunnel, &raw.tunnel) {
            self.name_needs_dns(t, &rt.get_ref().concentrator, &system, &interfaces);
        }
        let peers = self.peers(&raw.peers, concentrator.as_ref(), &interfaces);
        self.role_sections(raw, system.role);
        let dhcp_servers = self.dhcp_servers(&raw.dhcp_servers, &interfaces);
        self.dhcp_clients(&raw.interfaces, &interfaces, &raw.routes);
        Config {
            system,
            interfaces,
            routes,
            firewall,
            tunnel,
            concentrator,
            peers,
            dhcp_servers,
        }
    }

    fn system(&mut self, s: &Spanned<RawSystem>) -> System {
        let r = s.get_ref();
        let hostname = r.hostname.get_ref().clone();
        if !is_hostname(&hostname) {
            self.err(
                sp(&r.hostname),
                format!("`{hostname}` is not a valid host name"),
                "use 1-63 letters, digits and `-`, not starting or ending with `-`, e.g. office1",
            );
        }
        let console = r.console.as_ref().map_or(DEFAULT_CONSOLE, |c| {
            self.hw(c, hardware::console(c.get_ref()))
                .unwrap_or(DEFAULT_CONSOLE)
        });
        let dns = r
            .dns
            .iter()
            .filter_map(|d| self.addr(d, "system.dns"))
            .collect();
        let serial_speed = r.serial_speed.as_ref().map_or(DEFAULT_SERIAL_SPEED, |v| {
            self.hw(v, hardware::serial_speed(*v.get_ref()))
                .unwrap_or(DEFAULT_SERIAL_SPEED)
        });
        System {
            hostname,
            role: *r.role.get_ref(),
            console,
            dns,
            serial_speed,
            ide_dma: r.ide_dma.as_ref().map_or(DEFAULT_IDE_DMA, |d| *d.get_ref()),
            log_level: r
                .log_level
                .as_ref()
                .map_or(DEFAULT_LOG_LEVEL, |l| *l.get_ref()),
        }
    }

    fn interfaces(&mut self, raw: &[Spanned<RawInterface>]) -> Vec<Interface> {
        let mut out: Vec<Interface> = Vec::new();
        for ri in raw {
            let r = ri.get_ref();
            let device = r.device.get_ref().clone();
            if !is_device(&device) {
                self.err(
                    sp(&r.device),
                    format!("`{device}` is not a network device name"),
                    "use the kernel's name, at most 15 characters, e.g. eth0",
                );
            }
            let name = r
                .name
                .as_ref()
                .map_or(device.clone(), |n| n.get_ref().clone());
            if let Some(n) = &r.name {
                if !is_name(n.get_ref()) {
                    self.err(
                        sp(n),
                        format!("`{}` is not a valid interface name", n.get_ref()),
                        "use lower-case letters, digits, `-` or `_`, e.g. lan or wan",
                    );
                }
            }
            let at = r.name.as_ref().map_or(sp(&r.device), sp);
            if out.iter().any(|i| i.name == name) {
                self.err(
                    at.clone(),
                    format!("interface name `{name}` is used twice"),
                    "give each [[interface]] its own name",
                );
            }
            if out.iter().any(|i| i.device == device) {
                self.err(
                    sp(&r.device),
                    format!("device `{device}` is configured twice"),
                    "merge the two [[interface]] entries",
                );
            }
            let address: Option<Ipv4Cidr> = r.address.as_ref().and_then(|a| {
                self.parse(a, "address", "write ADDRESS/PREFIX, e.g. 192.168.1.1/24")
            });
            if let (Some(a), Some(ra)) = (address, &r.address) {
                if a.prefix < 32
                    && (a.addr == a.network().addr()
                        || u32::from(a.addr)
                            == u32::from(a.network().addr()) | (u32::MAX >> a.prefix))
                    && a.prefix < 31
                {
                    self.err(
                        sp(ra),
                        format!("{a} is the network or broadcast address of its network"),
                        "give the interface a host address, e.g. x.x.x.1",
                    );
                }
                for o in &out {
                    if let Some(oa) = o.address {
                        if oa.network().overlaps(&a.network()) {
                            self.err(
                                sp(ra),
                                format!("{a} overlaps {} of interface `{}`", oa, o.name),
                                "each interface needs its own network",
                            );
                        }
                    }
                }
            }
            let dhcp = r.dhcp.as_ref().is_some_and(|d| *d.get_ref());
            match (&r.address, dhcp) {
                (Some(a), true) => self.err(
                    sp(a),
                    "both `address` and `dhcp = true` are set",
                    "keep one: a static address or DHCP",
                ),
                (None, false) if r.dhcp.is_some() => {}
                _ => {}
            }
            let mtu = r
                .mtu
                .as_ref()
                .map(|m| self.int(&Some(m.clone()), 68, 65535, 1500, "mtu") as u32);
            let mac = r.mac.as_ref().and_then(|m| self.card_mac(m, &out));
            let isa = self.isa_card(r, &device, &out);
            out.push(Interface {
                name,
                device,
                mac,
                isa,
                address,
                dhcp,
                mtu,
            });
        }
        out
    }

    /// `r`'s value, or its problem reported at `at`.
    fn hw<T, U>(&mut self, at: &Spanned<U>, r: Result<T, hardware::Problem>) -> Option<T> {
        r.map_err(|p| self.err(sp(at), p.message, p.hint)).ok()
    }

    /// `mac = "…"`: one card's address, named by one interface only.
    fn card_mac(&mut self, m: &S, before: &[Interface]) -> Option<[u8; 6]> {
        let mac = self.hw(m, hardware::mac(m.get_ref()))?;
        if let Some(o) = before.iter().find(|i| i.mac == Some(mac)) {
            self.err(
                sp(m),
                format!(
                    "MAC {} is already the card of interface `{}`",
                    format_mac(&mac),
                    o.name
                ),
                "each card can be one interface only",
            );
        }
        Some(mac)
    }

    /// `io`/`irq`: an ISA card. The kernel probes ISA cards before PCI
    /// ones and names them in the order of their `netdev=` entries, which
    /// mkoutpost writes in config order: the n-th interface with `io` is
    /// eth(n-1) — unless `mac` renames it afterwards.
    fn isa_card(
        &mut self,
        r: &RawInterface,
        device: &str,
        before: &[Interface],
    ) -> Option<IsaCard> {
        let Some(io) = &r.io else {
            if let Some(irq) = &r.irq {
                self.hw::<(), _>(irq, Err(hardware::irq_without_io()));
            }
            return None;
        };
        let port = self.hw(io, hardware::isa_io(*io.get_ref()))?;
        let irq = r
            .irq
            .as_ref()
            .and_then(|i| self.hw(i, hardware::isa_irq(*i.get_ref())));
        if let Some(o) = before.iter().find(|i| i.isa.is_some_and(|c| c.io == port)) {
            self.err(
                sp(io),
                format!("io {port:#x} is already the card of interface `{}`", o.name),
                "two ISA cards cannot share an I/O port; set each card's jumpers apart",
            );
        }
        let nth = before.iter().filter(|i| i.isa.is_some()).count();
        let probed = format!("eth{nth}");
        if r.mac.is_none() && device != probed {
            self.err(
                sp(&r.device),
                format!(
                    "this is ISA card number {} in this file, which the kernel names {probed}, not {device}",
                    nth + 1
                ),
                format!("set device = \"{probed}\" (ISA cards come first, in the order listed here), or name the card by its `mac`"),
            );
        }
        Some(IsaCard { io: port, irq })
    }

    fn iface_ref(&mut self, s: &S, names: &[String], what: &str) -> Option<String> {
        let n = s.get_ref();
        if names.iter().any(|x| x == n) {
            Some(n.clone())
        } else {
            let known = if names.is_empty() {
                "none is defined".to_string()
            } else {
                format!("defined: {}", names.join(", "))
            };
            self.err(
                sp(s),
                format!("{what} refers to interface `{n}`, which does not exist"),
                format!("use the `name` of an [[interface]] ({known})"),
            );
            None
        }
    }

    fn routes(&mut self, raw: &[Spanned<RawRoute>], ifs: &[Interface]) -> Vec<Route> {
        let names: Vec<String> = ifs.iter().map(|i| i.name.clone()).collect();
        let mut out: Vec<Route> = Vec::new();
        for rr in raw {
            let r = rr.get_ref();
            let to = self.net(&r.to, "route destination");
            let via = r.via.as_ref().and_then(|v| self.addr(v, "route gateway"));
            let dev = r
                .dev
                .as_ref()
                .and_then(|d| self.iface_ref(d, &names, "route"));
            if via.is_none() && dev.is_none() && r.via.is_none() && r.dev.is_none() {
                self.err(
                    sp(rr),
                    "a route needs `via` (a gateway) or `dev` (an interface)",
                    "add `via = \"GATEWAY\"`",
                );
            }
            if let (Some(g), Some(v)) = (via, &r.via) {
                let onlink = ifs
                    .iter()
                    .any(|i| i.dhcp || i.address.is_some_and(|a| a.network().contains(g)));
                if !onlink {
                    self.err(sp(v), format!("gateway {g} is not on any connected network"), "the kernel would refuse it (\"Network is unreachable\"); use an address inside an interface's network");
                }
            }
            if let Some(to) = to {
                if out.iter().any(|o| o.to == to) {
                    self.err(
                        sp(&r.to),
                        format!("a route to {to} is given twice"),
                        "keep one",
                    );
                }
                out.push(Route { to, via, dev });
            }
        }
        out
    }

    fn firewall(&mut self, r: &RawFirewall, names: &[String]) -> Firewall {
        let mut fw = Firewall::default();
        for a in &r.allow {
            let a = a.get_ref();
            let from = self.net(&a.from, "allow.from");
            let to = self.net(&a.to, "allow.to");
            let out = a
                .out
                .as_ref()
                .and_then(|o| self.iface_ref(o, names, "allow.out"));
            if let (Some(from), Some(to)) = (from, to) {
                fw.allow.push(Allow {
                    from,
                    to,
                    both_ways: a.both_ways.unwrap_or(false),
                    out,
                });
            }
        }
        for m in &r.masquerade {
            if let Some(n) = self.iface_ref(m, names, "masquerade") {
                fw.masquerade.push(n);
            }
        }
        for i in &r.input {
            let i = i.get_ref();
            if let Some(n) = self.iface_ref(&i.interface, names, "firewall.input") {
                let mut accept: Vec<Service> = i.accept.iter().map(|s| *s.get_ref()).collect();
                accept.sort();
                accept.dedup();
                fw.input.push(InputAccept {
                    interface: n,
                    accept,
                });
            }
        }
        fw
    }

    fn tunnel(&mut self, t: &Spanned<RawTunnel>, ifs: &[Interface]) -> Tunnel {
        let r = t.get_ref();
        let names: Vec<String> = ifs.iter().map(|i| i.name.clone()).collect();
        let concentrator = self.concentrator_host(&r.concentrator);
        let port = self.int(&r.port, 1, 65535, DEFAULT_SSH_PORT.into(), "port") as u16;
        if !is_account(r.account.get_ref()) {
            self.err(sp(&r.account), format!("`{}` is not a valid account name", r.account.get_ref()), "use the peer's name on the concentrator: lower-case letters, digits, `-`, at most 11 characters");
        }
        let identity = self.key_path(&r.identity, "the identity file");
        let host_key = self.key(
            &r.host_key,
            &r.host_key_file,
            sp(t),
            "the concentrator's host key",
            "host_key",
        );
        let mut networks: Vec<Ipv4Net> = Vec::new();
        if r.networks.is_empty() {
            self.err(
                sp(t),
                "the tunnel carries no networks",
                "list the private networks behind the concentrator: networks = [\"10.0.0.0/24\"]",
            );
        }
        for n in &r.networks {
            let Some(net) = self.net(n, "tunnel network") else {
                continue;
            };
            if let ConcentratorHost::Address(concentrator) = &concentrator {
                if net.contains(*concentrator) {
                    self.err(sp(n), format!("tunnel network {net} contains the concentrator's own address {concentrator}"), "the ssh connection that carries the tunnel would be routed into the tunnel itself and die (seed ch. 6, 1.4); narrow this network so it excludes the concentrator's WAN address");
                }
            }
            if let Some(o) = networks.iter().find(|o| o.overlaps(&net)) {
                self.err(
                    sp(n),
                    format!("tunnel network {net} overlaps {o}"),
                    "list each network once",
                );
            }
            for i in ifs {
                if let Some(a) = i.address {
                    if a.network().overlaps(&net) && net.prefix() >= a.prefix {
                        self.err(sp(n), format!("tunnel network {net} lies inside interface `{}`'s network {}", i.name, a.network()), "traffic for it would never enter the tunnel; a tunnel network may contain a local network (the local route wins) but not lie inside one");
                    }
                }
            }
            networks.push(net);
        }
        let via = r
            .via
            .as_ref()
            .and_then(|v| self.iface_ref(v, &names, "tunnel.via"));
        let lcp_echo_interval = self.int(
            &r.lcp_echo_interval,
            1,
            3600,
            DEFAULT_LCP_ECHO_INTERVAL.into(),
            "lcp_echo_interval",
        ) as u32;
        let lcp_echo_failure = self.int(
            &r.lcp_echo_failure,
            1,
            100,
            DEFAULT_LCP_ECHO_FAILURE.into(),
            "lcp_echo_failure",
        ) as u32;
        let local = r.local.as_ref().and_then(|a| self.addr(a, "tunnel.local"));
        let remote = r
            .remote
            .as_ref()
            .and_then(|a| self.addr(a, "tunnel.remote"));
        Tunnel {
            concentrator,
            port,
            account: r.account.get_ref().clone(),
            identity,
            host_key,
            networks,
            via,
            lcp_echo_interval,
            lcp_echo_failure,
            local,
            remote,
            pty: r.pty.as_ref().is_some_and(|p| *p.get_ref()),
        }
    }

    fn concentrator(&mut self, c: &Spanned<RawConcentrator>, ifs: &[Interface]) -> Concentrator {
        let r = c.get_ref();
        let names: Vec<String> = ifs.iter().map(|i| i.name.clone()).collect();
        let interface = self
            .iface_ref(&r.interface, &names, "concentrator.interface")
            .unwrap_or_default();
        let address = self
            .addr(&r.address, "concentrator.address")
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        // Taken from the config's directory, like the office's identity
        // file (mkoutpost generates it there).
        let host_key_file = match &r.host_key_file {
            Some(f) => self.key_path(f, "the concentrator's host key file"),
            None => DEFAULT_CONCENTRATOR_HOST_KEY.to_string(),
        };
        Concentrator {
            interface,
            port: self.int(&r.port, 1, 65535, DEFAULT_SSH_PORT.into(), "port") as u16,
            address,
            host_key_file,
            lcp_echo_interval: self.int(
                &r.lcp_echo_interval,
                1,
                3600,
                DEFAULT_LCP_ECHO_INTERVAL.into(),
                "lcp_echo_interval",
            ) as u32,
            lcp_echo_failure: self.int(
                &r.lcp_echo_failure,
                1,
                100,
                DEFAULT_LCP_ECHO_FAILURE.into(),
                "lcp_echo_failure",
            ) as u32,
        }
    }

    fn peers(
        &mut self,
        raw: &[Spanned<RawPeer>],
        conc: Option<&Concentrator>,
        ifs: &[Interface],
    ) -> Vec<Peer> {
        let mut out: Vec<Peer> = Vec::new();
        let wan = conc
            .and_then(|c| ifs.iter().find(|i| i.name == c.interface))
            .and_then(|i| i.address);
        for rp in raw {
            let r = rp.get_ref();
            let name = r.name.get_ref().clone();
            if !is_account(&name) {
                self.err(sp(&r.name), format!("`{name}` is not a valid peer name"), "use lower-case letters, digits and `-`, starting with a letter, at most 11 characters (it becomes an account and the interface vpn-NAME)");
            }
            if out.iter().any(|p| p.name == name) {
                self.err(
                    sp(&r.name),
                    format!("peer `{name}` is defined twice"),
                    "give each [[peer]] its own name",
                );
            }
            let public_key = self.key(
                &r.public_key,
                &r.public_key_file,
                sp(rp),
                "the peer's public key",
                "public_key",
            );
            let tunnel_address = self
                .addr(&r.tunnel_address, "tunnel_address")
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            if let Some(o) = out.iter().find(|p| p.tunnel_address == tunnel_address) {
                self.err(
                    sp(&r.tunnel_address),
                    format!(
                        "tunnel address {tunnel_address} is also peer `{}`'s",
                        o.name
                    ),
                    "give each peer its own tunnel address",
                );
            }
            if conc.is_some_and(|c| c.address == tunnel_address) {
                self.err(
                    sp(&r.tunnel_address),
                    format!("tunnel address {tunnel_address} is the concentrator's own end"),
                    "pick another address for the peer's end",
                );
            }
            let mut networks: Vec<Ipv4Net> = Vec::new();
            for n in &r.networks {
                let Some(net) = self.net(n, "peer network") else {
                    continue;
                };
                if let Some(w) = wan {
                    if net.contains(w.addr) {
                        self.err(sp(n), format!("peer network {net} contains the concentrator's WAN address {}", w.addr), "routing it into the tunnel would cut the tunnel's own ssh connection (seed ch. 6, 1.4)");
                    }
                }
                for i in ifs {
                    if let Some(a) = i.address {
                        if a.network().overlaps(&net) && net.prefix() <= a.prefix {
                            self.err(
                                sp(n),
                                format!(
                                    "peer network {net} overlaps interface `{}`'s network {}",
                                    i.name,
                                    a.network()
                                ),
                                "an office's LAN may lie inside a local network (its route is more specific) but not equal or contain one",
                            );
                        }
                    }
                }
                for p in &out {
                    if let Some(o) = p.networks.iter().find(|o| o.overlaps(&net)) {
                        self.err(
                            sp(n),
                            format!("peer network {net} overlaps {o} of peer `{}`", p.name),
                            "each office needs its own network",
                        );
                    }
                }
                networks.push(net);
            }
            let mut reach = Vec::new();
            if r.reach.is_empty() {
                self.err(
                    sp(rp),
                    format!("peer `{name}` may reach nothing"),
                    "list the private networks it may reach: reach = [\"10.0.0.0/24\"]",
                );
            }
            for n in &r.reach {
                if let Some(net) = self.net(n, "reach") {
                    reach.push(net);
                }
            }
            out.push(Peer {
                name,
                public_key,
                tunnel_address,
                networks,
                reach,
                both_ways: r.both_ways.unwrap_or(DEFAULT_PEER_BOTH_WAYS),
            });
        }
        out
    }

    fn role_sections(&mut self, raw: &RawConfig, role: Role) {
        let role_at = sp(&raw.system.get_ref().role);
        match role {
            Role::Office => {
                if raw.tunnel.is_none() {
                    self.err(
                        role_at.clone(),
                        "an office needs a [tunnel] section",
                        "add [tunnel] with concentrator, account, identity, host_key and networks",
                    );
                }
            }
            Role::Concentrator => {
                if raw.concentrator.is_none() {
                    self.err(
                        role_at.clone(),
                        "a concentrator needs a [concentrator] section",
                        "add [concentrator] with interface and address",
                    );
                }
            }
            Role::Host => {}
        }
        if role != Role::Office {
            if let Some(t) = &raw.tunnel {
                self.err(
                    sp(t),
                    format!("[tunnel] is only for role = \"office\", this is a {role}"),
                    "remove it or change the role",
                );
            }
        }
        if role != Role::Concentrator {
            if let Some(c) = &raw.concentrator {
                self.err(
                    sp(c),
                    format!("[concentrator] is only for role = \"concentrator\", this is a {role}"),
                    "remove it or change the role",
                );
            }
            if let Some(p) = raw.peers.first() {
                self.err(
                    sp(p),
                    format!("[[peer]] is only for role = \"concentrator\", this is a {role}"),
                    "remove it or change the role",
                );
            }
        }
    }
}

/// RFC 1123 host name label.
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A kernel device name: 1-15 bytes, no `/`, no whitespace, not `.`/`..`.
fn is_device(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// An account / peer name: `[a-z][a-z0-9-]{0,10}`, so `vpn-NAME` fits a
/// 15-character interface name.
pub fn is_account(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 11
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}
