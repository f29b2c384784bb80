//! Site validation: from text to a typed [`Site`], collecting every
//! problem as a [`Diagnostic`] with file, line, column and a hint. Besides
//! the shape of each entry it checks what no single router's validation can
//! see: names used twice, overlapping networks across routers, the tunnel
//! pool's size and its addresses, key files shared by two routers,
//! gateways the concentrator and the offices need to reach each other, and
//! a policy or test naming something that does not exist. Last, each
//! derived `outpost.toml` is run through [`crate::validate::check`], so a
//! site that passes here derives configs that pass there.

use std::net::Ipv4Addr;
use std::ops::Range;

use toml::Spanned;

use super::derive::{placeholder_keys, render_router};
use super::policy::{default_rules, within, Rule};
use super::raw::*;
use super::*;
use crate::diagnostic::{Collect, Location};
use crate::hardware;
use crate::validate::{is_account, is_hostname};

/// Parses and validates a site file (named `file` in diagnostics).
pub fn check(file: &str, text: &str) -> Result<Site, Vec<Diagnostic>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: RawSite = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(Location { line: 1, column: 1 }, |s| {
            Location::of_offset(text, s.start)
        });
        let message = e.message().trim().to_string();
        let hint = if message.contains("unknown field") {
            Some("check the spelling against examples/sites/*.toml and docs/site.md; unknown keys are refused so typos cannot pass silently".to_string())
        } else if message.contains("missing field") {
            Some("add the missing key to this section (docs/site.md lists them)".to_string())
        } else if message.contains("unknown variant") {
            Some("use one of the values listed above".to_string())
        } else {
            None
        };
        vec![Diagnostic {
            file: file.to_string(),
            at,
            message,
            hint,
        }]
    })?;
    let mut v = V {
        file,
        text,
        diags: Vec::new(),
    };
    let site = v.site(&raw);
    if v.diags.is_empty() {
        if let Some(site) = &site {
            v.derived(site);
        }
    }
    match site {
        Some(site) if v.diags.is_empty() => Ok(site),
        _ => {
            v.diags.sort_by_key(|d| d.at);
            if v.diags.is_empty() {
                // Unreachable by construction (a missing site always came
                // with a diagnostic); still never an Ok without a site.
                v.err(0..0, "the site could not be read", "");
            }
            Err(v.diags)
        }
    }
}

struct V<'a> {
    file: &'a str,
    text: &'a str,
    diags: Vec<Diagnostic>,
}

/// A name the policy can use, and what it stands for.
struct Named {
    name: String,
    span: Range<usize>,
    kind: &'static str,
    endpoints: Vec<Endpoint>,
}

impl Collect for V<'_> {
    fn parts(&mut self) -> (&str, &str, &mut Vec<Diagnostic>) {
        (self.file, self.text, &mut self.diags)
    }
}

impl V<'_> {
    fn addr(&mut self, s: &S, what: &str) -> Option<Ipv4Addr> {
        self.parse(s, what, "write a dotted-quad IPv4 address, e.g. 10.254.0.9")
    }

    fn cidr(&mut self, s: &S, what: &str) -> Option<Ipv4Cidr> {
        self.parse(
            s,
            what,
            "write the router's address with the prefix length, e.g. 192.168.1.1/24",
        )
    }

    fn int(&mut self, v: &Option<Spanned<i64>>, lo: i64, hi: i64, what: &str) -> Option<u32> {
        let x = v.as_ref()?;
        if (lo..=hi).contains(x.get_ref()) {
            u32::try_from(*x.get_ref()).ok()
        } else {
            self.err(
                x.span(),
                format!("{what} {} is out of range", x.get_ref()),
                format!("use a number from {lo} to {hi}"),
            );
            None
        }
    }

    /// Same rule as a router's key files: relative, inside the directory.
    fn key(&mut self, k: &Option<S>, name: &str) -> String {
        let Some(k) = k else {
            return format!("keys/{name}.ed25519");
        };
        let n = k.get_ref().trim();
        let fix = "name the key file relative to the site file, inside its directory, e.g. keys/NAME.ed25519";
        if n.is_empty() {
            self.err(k.span(), "key: the file name is empty", fix);
        } else if n.starts_with('/') {
            self.err(k.span(), format!("key: `{n}` is an absolute path"), fix);
        } else if n.split('/').any(|c| c == "..") {
            self.err(
                k.span(),
                format!("key: `{n}` leaves the site file's directory"),
                fix,
            );
        }
        n.to_string()
    }

    /// `r`'s value, or its problem reported at `at`.
    fn hw<T, U>(&mut self, at: &Spanned<U>, r: Result<T, hardware::Problem>) -> Option<T> {
        r.map_err(|p| self.err(at.span(), p.message, p.hint)).ok()
    }

    /// A router's console, disk DMA and cards, checked as a router's own
    /// config checks them (the same words), at their place in the site file.
    /// Which card the kernel names what (ISA cards first, in order) is the
    /// derived config's check.
    fn hardware(
        &mut self,
        (console, speed, dma): (&Option<S>, &Option<Spanned<i64>>, &Option<Spanned<bool>>),
        cards: Vec<(String, RawCard<'_>)>,
    ) -> Hardware {
        let mut hw = Hardware {
            console: console
                .as_ref()
                .and_then(|c| self.hw(c, hardware::console(c.get_ref()))),
            serial_speed: speed
                .as_ref()
                .and_then(|v| self.hw(v, hardware::serial_speed(*v.get_ref()))),
            ide_dma: dma.as_ref().map(|d| *d.get_ref()),
            cards: Vec::new(),
        };
        for (name, (mac, io, irq)) in cards {
            let mac = mac.as_ref().and_then(|m| {
                let v = self.hw(m, hardware::mac(m.get_ref()))?;
                if let Some((other, _)) = hw.cards.iter().find(|(_, c)| c.mac == Some(v)) {
                    self.err(
                        m.span(),
                        format!(
                            "MAC {} is already the card of interface `{other}`",
                            crate::net::format_mac(&v)
                        ),
                        "each card can be one interface only",
                    );
                }
                Some(v)
            });
            let isa = match (io, irq) {
                (None, Some(i)) => {
                    self.hw::<(), _>(i, Err(hardware::irq_without_io()));
                    None
                }
                (None, None) => None,
                (Some(io), irq) => {
                    self.hw(io, hardware::isa_io(*io.get_ref()))
                        .map(|io| crate::config::IsaCard {
                            io,
                            irq: irq
                                .as_ref()
                                .and_then(|i| self.hw(i, hardware::isa_irq(*i.get_ref()))),
                        })
                }
            };
            if mac.is_some() || isa.is_some() {
                hw.cards.push((name, Card { mac, isa }));
            }
        }
        hw
    }

    fn build(
        &mut self,
        cpu: &Option<Spanned<SiteCpu>>,
        format: &Option<Spanned<SiteFormat>>,
        memory: &Option<Spanned<i64>>,
        defaults: (SiteCpu, SiteFormat),
    ) -> Build {
        Build {
            cpu: cpu.as_ref().map_or(defaults.0, |c| *c.get_ref()),
            format: format.as_ref().map_or(defaults.1, |f| *f.get_ref()),
            memory_mib: self.int(memory, 8, 4096, "memory (MiB)"),
        }
    }

    /// An office's WAN: static, or `dhcp = true` (then no address or
    /// gateway: both come with the lease).
    fn office_wan(&mut self, w: &Spanned<RawWan>, who: &str) -> Option<OfficeWan> {
        let r = w.get_ref();
        if !r.dhcp.as_ref().is_some_and(|d| *d.get_ref()) {
            return self
                .wan(w, DEFAULT_OFFICE_WAN_DEVICE, who)
                .map(OfficeWan::Static);
        }
        for (given, key) in [(&r.address, "address"), (&r.gateway, "gateway")] {
            if let Some(g) = given {
                self.err(
                    g.span(),
                    format!("{who}'s WAN has `dhcp = true` and a static {key}"),
                    "keep one: `dhcp = true` (address and gateway come with the lease) or a static address",
                );
            }
        }
        Some(OfficeWan::Dhcp {
            device: r
                .device
                .as_ref()
                .map_or(DEFAULT_OFFICE_WAN_DEVICE.to_string(), |d| {
                    d.get_ref().trim().to_string()
                }),
        })
    }

    /// An office LAN's DHCP range, checked as a router's `[[dhcp_server]]`
    /// range is (one implementation: `crate::validate::range_problem`).
    fn lan_dhcp(&mut self, r: &RawLan, lan: Option<Ipv4Cidr>) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let d = r.dhcp.as_ref()?;
        let lan = lan?;
        match crate::validate::range_problem(lan, d.get_ref()) {
            Ok(range) => Some(range),
            Err((message, hint)) => {
                self.err(d.span(), format!("LAN DHCP: {message}"), hint);
                None
            }
        }
    }

    fn wan(&mut self, w: &Spanned<RawWan>, default_device: &str, who: &str) -> Option<Wan> {
        let r = w.get_ref();
        if let Some(d) = r.dhcp.as_ref().filter(|d| *d.get_ref()) {
            self.err(
                d.span(),
                format!("{who}'s WAN: the concentrator needs a static address"),
                "every office dials this address: give the head a static WAN, wan = { address = \"203.0.113.2/24\", gateway = \"203.0.113.1\" }",
            );
            return None;
        }
        let Some(a) = &r.address else {
            self.err(
                w.span(),
                format!("{who}'s WAN has no address"),
                "add address = \"ADDRESS/PREFIX\" (and gateway = \"…\" if the concentrator is not on the same network)",
            );
            return None;
        };
        let address = self.cidr(a, "WAN address")?;
        let gateway = r.gateway.as_ref().and_then(|g| self.addr(g, "gateway"));
        if let (Some(g), Some(gs)) = (gateway, &r.gateway) {
            if !address.network().contains(g) {
                self.err(
                    gs.span(),
                    format!("gateway {g} is not on {who}'s WAN {}", address.network()),
                    "the gateway must be an address of the WAN's own network",
                );
            }
        }
        Some(Wan {
            device: r.device.as_ref().map_or(default_device.to_string(), |d| {
                d.get_ref().trim().to_string()
            }),
            address,
            gateway,
        })
    }

    fn site(&mut self, raw: &RawSite) -> Option<Site> {
        let s = raw.site.get_ref();
        let pool: Option<Ipv4Net> = self
            .parse::<Ipv4Cidr>(
                &s.tunnel_pool,
                "tunnel_pool",
                "write the pool as a network, e.g. 10.254.0.0/24",
            )
            .and_then(|c| {
                if c.addr != c.network().addr() {
                    self.err(
                        s.tunnel_pool.span(),
                        format!("tunnel_pool `{c}` has host bits set"),
                        format!("did you mean the network {}?", c.network()),
                    );
                    None
                } else {
                    Some(c.network())
                }
            });
        let defaults = (
            s.cpu.as_ref().map_or(SiteCpu::default(), |c| *c.get_ref()),
            s.format
                .as_ref()
                .map_or(SiteFormat::default(), |f| *f.get_ref()),
        );
        let lcp_echo_interval = self.int(&s.lcp_echo_interval, 1, 3600, "lcp_echo_interval");
        let lcp_echo_failure = self.int(&s.lcp_echo_failure, 1, 100, "lcp_echo_failure");

        // Names first: every router, network and home user has one, and the
        // policy refers to them.
        let mut named: Vec<Named> = Vec::new();
        let h = raw.head.get_ref();
        let head_name = h.name.get_ref().trim().to_string();
        if !is_hostname(&head_name) {
            self.err(
                h.name.span(),
                format!("`{head_name}` is not a valid host name"),
                "use 1-63 letters, digits and `-`, e.g. head",
            );
        }
        let mut networks = Vec::new();
        if h.networks.is_empty() {
            self.err(
                raw.head.span(),
                "the head office has no private network",
                "add one: [[head.network]] name = \"private\" address = \"10.0.0.1/24\"",
            );
        }
        for (i, n) in h.networks.iter().enumerate() {
            let r = n.get_ref();
            let name = r.name.get_ref().trim().to_string();
            if !is_net_name(&name) || name == "wan" {
                self.err(
                    r.name.span(),
                    format!("`{name}` is not a valid network name"),
                    "use lower-case letters, digits, `-` or `_` (it becomes the interface's name; `wan` is taken), e.g. private",
                );
            }
            let Some(address) = self.cidr(&r.address, "head network address") else {
                continue;
            };
            named.push(Named {
                name: name.clone(),
                span: r.name.span(),
                kind: "head-office network",
                endpoints: vec![Endpoint::HeadNet(networks.len())],
            });
            networks.push(HeadNetwork {
                name,
                device: r
                    .device
                    .as_ref()
                    .map_or(format!("eth{}", i + 1), |d| d.get_ref().trim().to_string()),
                address,
            });
        }
        named.insert(
            0,
            Named {
                name: head_name.clone(),
                span: h.name.span(),
                kind: "the head office",
                endpoints: (0..networks.len()).map(Endpoint::HeadNet).collect(),
            },
        );
        let head_wan = self.wan(&h.wan, DEFAULT_FIRST_DEVICE, &head_name);
        let head_key = self.key(&h.key, &head_name);
        let head_build = self.build(&h.cpu, &h.format, &h.memory, defaults);
        let mut head_cards = vec![("wan".to_string(), card_of(h.wan.get_ref()))];
        for n in &h.networks {
            let r = n.get_ref();
            head_cards.push((r.name.get_ref().trim().to_string(), (&r.mac, &r.io, &r.irq)));
        }
        let head_hardware = self.hardware((&h.console, &h.serial_speed, &h.ide_dma), head_cards);

        let mut offices: Vec<(Option<Office>, &Spanned<RawOffice>)> = Vec::new();
        for o in &raw.offices {
            let r = o.get_ref();
            let name = r.name.get_ref().trim().to_string();
            if !is_account(&name) {
                self.err(
                    r.name.span(),
                    format!("`{name}` is not a valid office name"),
                    "use lower-case letters, digits and `-`, starting with a letter, at most 11 characters (it is the host name, the account on the concentrator and the interface vpn-NAME)",
                );
            }
            named.push(Named {
                name: name.clone(),
                span: r.name.span(),
                kind: "office",
                endpoints: vec![Endpoint::Office(offices.len())],
            });
            let lan = self.cidr(&r.lan.get_ref().address, "LAN address");
            let wan = self.office_wan(&r.wan, &name);
            let lan_dhcp = self.lan_dhcp(r.lan.get_ref(), lan);
            let key = self.key(&r.key, &name);
            let build = self.build(&r.cpu, &r.format, &r.memory, defaults);
            let l = r.lan.get_ref();
            let hardware = self.hardware(
                (&r.console, &r.serial_speed, &r.ide_dma),
                vec![
                    ("lan".to_string(), (&l.mac, &l.io, &l.irq)),
                    ("wan".to_string(), card_of(r.wan.get_ref())),
                ],
            );
            let office = match (lan, wan) {
                (Some(lan), Some(wan)) => Some(Office {
                    name,
                    lan_device: r
                        .lan
                        .get_ref()
                        .device
                        .as_ref()
                        .map_or(DEFAULT_FIRST_DEVICE.to_string(), |d| {
                            d.get_ref().trim().to_string()
                        }),
                    lan,
                    lan_dhcp,
                    wan,
                    tunnel_address: Ipv4Addr::UNSPECIFIED,
                    internet: r.internet.as_ref().is_none_or(|b| *b.get_ref()),
                    key,
                    build,
                    hardware,
                    span: o.span(),
                }),
                _ => None,
            };
            offices.push((office, o));
        }
        let mut homes: Vec<Home> = Vec::new();
        for hm in &raw.homes {
            let r = hm.get_ref();
            let name = r.name.get_ref().trim().to_string();
            if !is_account(&name) {
                self.err(
                    r.name.span(),
                    format!("`{name}` is not a valid home user name"),
                    "use lower-case letters, digits and `-`, starting with a letter, at most 11 characters (it is the account on the concentrator)",
                );
            }
            named.push(Named {
                name: name.clone(),
                span: r.name.span(),
                kind: "home user",
                endpoints: vec![Endpoint::Home(homes.len())],
            });
            let key = self.key(&r.key, &name);
            homes.push(Home {
                name,
                tunnel_address: Ipv4Addr::UNSPECIFIED,
                key,
                span: hm.span(),
            });
        }
        self.unique_names(&named);

        // Key files: one router, one key.
        let mut keys: Vec<(String, String, Range<usize>)> =
            vec![(head_key.clone(), head_name.clone(), h.name.span())];
        for (o, ro) in &offices {
            if let Some(o) = o {
                keys.push((o.key.clone(), o.name.clone(), ro.get_ref().name.span()));
            }
        }
        for (hm, rh) in homes.iter().zip(&raw.homes) {
            keys.push((hm.key.clone(), hm.name.clone(), rh.get_ref().name.span()));
        }
        for (i, (k, who, span)) in keys.iter().enumerate() {
            // The same name twice is reported above; its default key
            // file repeating is no news.
            if let Some((_, first, _)) = keys[..i].iter().find(|(k2, f, _)| k2 == k && f != who) {
                self.err(
                    span.clone(),
                    format!("key file {k} is named by `{first}` and by `{who}`"),
                    format!("a private key belongs to one router: remove `key` from `{who}` (it defaults to keys/{who}.ed25519) or name a file of its own"),
                );
            }
        }

        let (Some(pool), Some(head_wan)) = (pool, head_wan) else {
            return None;
        };
        // Entries that did not parse are already reported; the cross-router
        // checks still run over the rest, so one pass shows every mistake.
        let complete =
            offices.iter().all(|(o, _)| o.is_some()) && networks.len() == h.networks.len();
        let (mut offices, raw_offices): (Vec<Office>, Vec<&Spanned<RawOffice>>) = offices
            .into_iter()
            .filter_map(|(o, r)| o.map(|o| (o, r)))
            .unzip();

        // Tunnel addresses: given ones first (checked), the rest from the
        // pool in order — the concentrator's end first.
        let mut given: Vec<(Option<Ipv4Addr>, String, Option<Range<usize>>)> = Vec::new();
        let ta = |v: &mut Self, s: &Option<S>| s.as_ref().and_then(|s| v.addr(s, "tunnel_address"));
        given.push((
            ta(self, &h.tunnel_address),
            head_name.clone(),
            h.tunnel_address.as_ref().map(|s| s.span()),
        ));
        for (o, ro) in offices.iter().zip(&raw_offices) {
            let r = ro.get_ref();
            given.push((
                ta(self, &r.tunnel_address),
                o.name.clone(),
                r.tunnel_address.as_ref().map(|s| s.span()),
            ));
        }
        for (hm, rh) in homes.iter().zip(&raw.homes) {
            let r = rh.get_ref();
            given.push((
                ta(self, &r.tunnel_address),
                hm.name.clone(),
                r.tunnel_address.as_ref().map(|s| s.span()),
            ));
        }
        let mut taken: Vec<(Ipv4Addr, String)> = Vec::new();
        for (a, who, span) in &given {
            let (Some(a), Some(span)) = (a, span) else {
                continue;
            };
            if let Some((_, other)) = taken.iter().find(|(t, _)| t == a) {
                self.err(
                    span.clone(),
                    format!("tunnel address {a} of `{who}` is also `{other}`'s"),
                    "give each end of a tunnel its own address, or leave tunnel_address out to take the next free one from the pool",
                );
            } else if !pool.contains(*a) || !is_host_of(pool, *a) {
                let inside = offices
                    .iter()
                    .find(|o| o.lan.network().contains(*a))
                    .map(|o| format!(", inside office `{}`'s LAN {}", o.name, o.lan.network()))
                    .unwrap_or_default();
                self.err(
                    span.clone(),
                    format!("tunnel address {a} of `{who}` is not a host address of the tunnel pool {pool}{inside}"),
                    "take tunnel addresses from tunnel_pool (leave tunnel_address out and one is assigned), so they can never collide with a LAN",
                );
            }
            taken.push((*a, who.clone()));
        }
        let mut free = pool_hosts(pool).filter(|a| !taken.iter().any(|(t, _)| t == a));
        let needed = given.iter().filter(|(a, _, _)| a.is_none()).count();
        let mut assigned = Vec::new();
        for (a, _, _) in &given {
            assigned.push(match a {
                Some(a) => Some(*a),
                None => free.next(),
            });
        }
        if assigned.iter().any(Option::is_none) {
            let hosts = pool_hosts(pool).count();
            self.err(
                s.tunnel_pool.span(),
                format!(
                    "tunnel_pool {pool} is too small: the site needs {} tunnel addresses (the concentrator, {} offices, {} home users), the pool has {hosts} ({} given explicitly, {needed} to assign)",
                    given.len(),
                    offices.len(),
                    homes.len(),
                    given.len() - needed,
                ),
                "use a larger pool, e.g. a /24",
            );
            return None;
        }
        let mut assigned = assigned.into_iter().flatten();
        let head_tunnel = assigned.next().unwrap_or(Ipv4Addr::UNSPECIFIED);
        for o in offices.iter_mut() {
            o.tunnel_address = assigned.next().unwrap_or(Ipv4Addr::UNSPECIFIED);
        }
        for hm in homes.iter_mut() {
            hm.tunnel_address = assigned.next().unwrap_or(Ipv4Addr::UNSPECIFIED);
        }

        let dns_name = h.dns_name.as_ref().and_then(|d| {
            let n = d.get_ref().trim().to_ascii_lowercase();
            if crate::validate::is_dns_name(&n) {
                Some(n)
            } else {
                self.err(
                    d.span(),
                    format!("dns_name `{n}` is not a DNS name"),
                    "write the concentrator's name as offices' DNS servers know it, e.g. vpn.example.com",
                );
                None
            }
        });
        let head = Head {
            name: head_name,
            wan: head_wan,
            networks,
            tunnel_address: head_tunnel,
            dns_name,
            key: head_key,
            build: head_build,
            hardware: head_hardware,
            span: raw.head.span(),
        };
        self.overlaps(pool, &head, &offices, &raw_offices, &h.wan);
        if !complete {
            return None;
        }

        let mut site = Site {
            file: self.file.to_string(),
            pool,
            lcp_echo_interval,
            lcp_echo_failure,
            head,
            offices,
            homes,
            rules: Vec::new(),
            default_policy: raw.policy.is_empty(),
            tests: Vec::new(),
        };
        let before = self.diags.len();
        site.rules = if raw.policy.is_empty() {
            default_rules(
                site.offices.len(),
                site.homes.len(),
                site.head.networks.len(),
            )
        } else {
            self.rules(&raw.policy, &named)
        };
        // A rule that did not resolve would only repeat itself as "reaches
        // nothing"; the first error is the one to fix.
        if self.diags.len() == before {
            self.every_remote_reaches_something(&site);
        }
        for t in &raw.tests {
            self.test(t, &mut site, &named);
        }
        Some(site)
    }

    fn unique_names(&mut self, named: &[Named]) {
        for (i, n) in named.iter().enumerate() {
            if [GROUP_OFFICES, GROUP_HOME, INTERNET].contains(&n.name.as_str()) {
                self.err(
                    n.span.clone(),
                    format!("`{}` is a reserved name", n.name),
                    format!("`{GROUP_OFFICES}`, `{GROUP_HOME}` and `{INTERNET}` mean groups in the policy and tests; pick another name"),
                );
            }
            if let Some(first) = named[..i].iter().find(|m| m.name == n.name) {
                let routers = |k: &str| k == "office" || k == "the head office" || k == "home user";
                let what = if routers(first.kind) && routers(n.kind) {
                    "router name"
                } else {
                    "name"
                };
                self.err(
                    n.span.clone(),
                    format!(
                        "{what} `{}` is used twice: by {} and by {} `{}`",
                        n.name, first.kind, n.kind, n.name
                    ),
                    "give each router, network and home user its own name: it is a host name, an account on the concentrator or a name in the policy",
                );
            }
        }
    }

    fn overlaps(
        &mut self,
        pool: Ipv4Net,
        head: &Head,
        offices: &[Office],
        raw: &[&Spanned<RawOffice>],
        head_wan_raw: &Spanned<RawWan>,
    ) {
        let head_wan = head.wan.address;
        for (i, (o, r)) in offices.iter().zip(raw).enumerate() {
            let lan = o.lan.network();
            let at = r.get_ref().lan.get_ref().address.span();
            let wat = r.get_ref().wan.span();
            for p in &offices[..i] {
                if p.lan.network().overlaps(&lan) {
                    self.err(
                        at.clone(),
                        format!("office `{}`'s LAN {lan} overlaps office `{}`'s LAN {}", o.name, p.name, p.lan.network()),
                        "every office needs a LAN of its own: the concentrator routes each LAN to one tunnel",
                    );
                }
                if let (Some(pw), Some(ow)) = (p.wan.fixed(), o.wan.fixed()) {
                    if pw.address.addr == ow.address.addr {
                        self.err(
                            wat.clone(),
                            format!(
                                "office `{}`'s WAN address {} is also office `{}`'s",
                                o.name, ow.address.addr, p.name
                            ),
                            "give each router its own WAN address",
                        );
                    }
                }
            }
            for n in &head.networks {
                if n.net().overlaps(&lan) && !within(lan, n.net()) || n.net() == lan {
                    self.err(
                        at.clone(),
                        format!("office `{}`'s LAN {lan} overlaps the head office's network `{}` ({})", o.name, n.name, n.net()),
                        "an office LAN may lie inside a head-office network (the seed's offices are /24s of the head's 192.168.0.0/16: the more specific route wins) but must not equal or contain one",
                    );
                }
            }
            if lan.overlaps(&pool) {
                self.err(
                    at.clone(),
                    format!(
                        "office `{}`'s LAN {lan} overlaps the tunnel pool {pool}",
                        o.name
                    ),
                    "tunnel addresses would collide with LAN hosts: pick a pool outside every LAN",
                );
            }
            if lan.overlaps(&head_wan.network())
                || o.wan
                    .fixed()
                    .is_some_and(|w| lan.overlaps(&w.address.network()))
            {
                self.err(
                    at.clone(),
                    format!("office `{}`'s LAN {lan} overlaps a WAN network", o.name),
                    "the ssh connection that carries the tunnel must not be routed into the LAN or the tunnel (seed ch. 6, 1.4)",
                );
            }
            // A DHCP WAN is wherever the ISP puts it: nothing to check
            // until the lease, which the router judges itself.
            let Some(ow) = o.wan.fixed() else { continue };
            if ow.address.addr == head_wan.addr {
                self.err(
                    wat.clone(),
                    format!(
                        "office `{}`'s WAN address {} is the concentrator's",
                        o.name, head_wan.addr
                    ),
                    "give each router its own WAN address",
                );
            }
            let same_segment = ow.address.network().contains(head_wan.addr);
            if !same_segment && ow.gateway.is_none() {
                self.err(
                    wat.clone(),
                    format!("office `{}` cannot reach the concentrator {}: it is not on the WAN {} and no gateway is given", o.name, head_wan.addr, ow.address.network()),
                    "add the ISP's gateway: wan = { address = \"…\", gateway = \"…\" }",
                );
            }
            if !head_wan.network().contains(ow.address.addr) && head.wan.gateway.is_none() {
                self.err(
                    head_wan_raw.span(),
                    format!("the concentrator cannot answer office `{}` at {}: it is not on the head's WAN {} and the head has no gateway", o.name, ow.address.addr, head_wan.network()),
                    "add the head office's ISP gateway: [head] wan = { address = \"…\", gateway = \"…\" }",
                );
            }
        }
        if pool.overlaps(&head_wan.network())
            || offices
                .iter()
                .filter_map(|o| o.wan.fixed())
                .any(|w| pool.overlaps(&w.address.network()))
        {
            self.err(
                head_wan_raw.span(),
                format!("the tunnel pool {pool} overlaps a WAN network"),
                "pick a tunnel pool outside every WAN: tunnel routes would swallow the ssh connections",
            );
        }
    }

    fn rules(&mut self, raw: &[Spanned<RawRule>], named: &[Named]) -> Vec<Rule> {
        let mut out = Vec::new();
        for rr in raw {
            let r = rr.get_ref();
            let both_ways = r.both_ways.as_ref().is_some_and(|b| *b.get_ref());
            if r.from.is_empty() || r.to.is_empty() {
                self.err(
                    rr.span(),
                    "a policy rule needs `from` and `to`",
                    "e.g. from = [\"offices\"], to = [\"head\"], both_ways = true",
                );
            }
            let mut sides: [Vec<(Endpoint, Range<usize>)>; 2] = [Vec::new(), Vec::new()];
            for (side, list) in [&r.from, &r.to].into_iter().enumerate() {
                for s in list {
                    if s.get_ref().trim() == INTERNET {
                        self.err(
                            s.span(),
                            "the internet is not named in the policy",
                            "an office's LAN reaches the internet (masqueraded) unless its [[office]] says internet = false",
                        );
                        continue;
                    }
                    if let Some(eps) = self.resolve_named(s, named) {
                        sides[side].extend(eps.into_iter().map(|e| (e, s.span())));
                    }
                }
            }
            for (f, _) in &sides[0] {
                for (t, tspan) in &sides[1] {
                    if f == t {
                        continue;
                    }
                    if matches!(t, Endpoint::Home(_))
                        || (both_ways && matches!(f, Endpoint::Home(_)))
                    {
                        self.err(
                            tspan.clone(),
                            "a home user cannot be a destination: it is one PC dialling in, outside the site's filters",
                            "home users only open connections (the seed's one-way rule); remove it from `to` or drop both_ways",
                        );
                        continue;
                    }
                    if matches!((f, t), (Endpoint::HeadNet(_), Endpoint::HeadNet(_))) {
                        self.err(
                            tspan.clone(),
                            "both ends are head-office networks: that traffic never crosses a tunnel",
                            "the policy is about offices and home users; routing between the head's own networks is the head office's business",
                        );
                        continue;
                    }
                    let rule = Rule {
                        from: *f,
                        to: *t,
                        both_ways,
                    };
                    if !out.contains(&rule) {
                        out.push(rule);
                    }
                }
            }
        }
        out
    }

    fn resolve_named(&mut self, s: &S, named: &[Named]) -> Option<Vec<Endpoint>> {
        let n = s.get_ref().trim();
        let offices: Vec<Endpoint> = named
            .iter()
            .filter(|x| x.kind == "office")
            .flat_map(|x| x.endpoints.clone())
            .collect();
        let homes: Vec<Endpoint> = named
            .iter()
            .filter(|x| x.kind == "home user")
            .flat_map(|x| x.endpoints.clone())
            .collect();
        match n {
            GROUP_OFFICES => return Some(offices),
            GROUP_HOME => return Some(homes),
            _ => {}
        }
        if let Some(x) = named.iter().find(|x| x.name == n) {
            return Some(x.endpoints.clone());
        }
        let known: Vec<&str> = named.iter().map(|x| x.name.as_str()).collect();
        self.err(
            s.span(),
            format!("`{n}` is not a network, office or home user of this site"),
            format!(
                "use one of: {}, {GROUP_OFFICES}, {GROUP_HOME}",
                known.join(", ")
            ),
        );
        None
    }

    fn every_remote_reaches_something(&mut self, site: &Site) {
        let remotes = (0..site.offices.len())
            .map(Endpoint::Office)
            .chain((0..site.homes.len()).map(Endpoint::Home));
        for r in remotes {
            if site.out_of(r).is_empty() {
                let (span, name) = match r {
                    Endpoint::Office(i) => (site.offices[i].span.clone(), &site.offices[i].name),
                    Endpoint::Home(i) => (site.homes[i].span.clone(), &site.homes[i].name),
                    Endpoint::HeadNet(_) => continue,
                };
                self.err(
                    span,
                    format!("the policy lets `{name}` open connections to nothing"),
                    "the concentrator needs at least one network each peer may reach: add a [[policy]] rule from it, or remove the entry",
                );
            }
        }
    }

    /// A test's name or address as networks.
    fn test_target(
        &mut self,
        s: &S,
        site: &Site,
        named: &[Named],
        dst: bool,
    ) -> Option<Vec<(String, Ipv4Net)>> {
        let n = s.get_ref().trim();
        if dst && n == INTERNET {
            return Some(vec![(
                INTERNET.into(),
                Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0),
            )]);
        }
        if let Ok(a) = n.parse::<Ipv4Addr>() {
            return Some(vec![(n.to_string(), Ipv4Net::new(a, 32))]);
        }
        if n.contains('/') {
            let c: Ipv4Cidr = self.parse(
                s,
                "test address",
                "write an address, a network ADDRESS/PREFIX or a name",
            )?;
            return Some(vec![(n.to_string(), c.network())]);
        }
        let eps = self.resolve_named(s, named)?;
        Some(
            eps.into_iter()
                .map(|e| (site.name(e).to_string(), site.net(e)))
                .collect(),
        )
    }

    /// Resolves a `[[test]]` into [`TestCase`]s. Whether the policy passes
    /// them is [`Site::test_failures`]'s question: a rehearsal still runs a
    /// stale test, as packets, to show what the routers really do.
    fn test(&mut self, t: &Spanned<RawTest>, site: &mut Site, named: &[Named]) {
        let r = t.get_ref();
        let Some(srcs) = self.test_target(&r.src, site, named, false) else {
            return;
        };
        if r.accept.is_empty() && r.deny.is_empty() {
            self.err(
                t.span(),
                "this test checks nothing",
                "add accept = [\"…\"] and/or deny = [\"…\"]",
            );
        }
        for (want, list) in [(true, &r.accept), (false, &r.deny)] {
            for d in list {
                let Some(dsts) = self.test_target(d, site, named, true) else {
                    continue;
                };
                for (sn, snet) in &srcs {
                    for (dn, dnet) in &dsts {
                        site.tests.push(TestCase {
                            src: sn.clone(),
                            src_net: *snet,
                            dst: dn.clone(),
                            dst_net: *dnet,
                            accept: want,
                            at: Location::of_offset(self.text, d.span().start),
                        });
                    }
                }
            }
        }
    }

    /// Renders every router with placeholder keys and validates the text
    /// as the router will: a site that passes derives configs that pass.
    fn derived(&mut self, site: &Site) {
        let keys = placeholder_keys(site);
        for r in site.routers() {
            let (text, span) = match render_router(site, &r, &keys) {
                Ok(t) => (t.text, r.span(site)),
                Err(e) => {
                    self.err(r.span(site), e.to_string(), "");
                    continue;
                }
            };
            if let Err(ds) = crate::validate::check("outpost.toml", &text) {
                for d in ds {
                    self.err(
                        span.clone(),
                        format!(
                            "the derived outpost.toml of `{}` would be rejected: {}",
                            r.name(site),
                            d.message
                        ),
                        d.hint.unwrap_or_default(),
                    );
                }
            }
        }
    }
}

/// An interface / network name: lower-case letters, digits, `-`, `_`.
fn is_net_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `a` is a usable host address of `pool` (not its network or
/// broadcast address, for pools larger than a /31).
fn is_host_of(pool: Ipv4Net, a: Ipv4Addr) -> bool {
    if pool.prefix() >= 31 {
        return pool.contains(a);
    }
    let n = u32::from(pool.addr());
    let b = n | (u32::MAX >> pool.prefix());
    let x = u32::from(a);
    pool.contains(a) && x != n && x != b
}

/// The pool's host addresses in order.
fn pool_hosts(pool: Ipv4Net) -> impl Iterator<Item = Ipv4Addr> {
    let n = u64::from(u32::from(pool.addr()));
    let size = 1u64 << (32 - u32::from(pool.prefix()));
    let (first, last) = if pool.prefix() >= 31 {
        (n, n + size - 1)
    } else {
        (n + 1, n + size - 2)
    };
    (first..=last).filter_map(|x| u32::try_from(x).ok().map(Ipv4Addr::from))
}

/// An interface table's `mac`, `io` and `irq`, as written.
type RawCard<'a> = (
    &'a Option<S>,
    &'a Option<Spanned<i64>>,
    &'a Option<Spanned<i64>>,
);

fn card_of(w: &RawWan) -> RawCard<'_> {
    (&w.mac, &w.io, &w.irq)
}
