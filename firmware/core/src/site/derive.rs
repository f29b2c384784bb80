//! Derivation: a valid [`Site`] plus the routers' public keys → each
//! router's `outpost.toml` text, and each home user's files. Keys come in
//! from outside (mkoutpost generates or reads them), so the API has two
//! steps: [`Site::key_needs`] lists the key pairs the site needs, then
//! [`Site::render`] takes their public lines. Every derived config pins
//! the other end's key inline, so a router's directory is self-contained:
//! its own private key at `keys/NAME.ed25519`, nothing else.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::ops::Range;

use super::policy::within;
use super::{Build, Endpoint, OfficeWan, Site};
use crate::config::Role;
use crate::keys::PublicKey;
use crate::net::Ipv4Net;
use crate::plan::shell_quote;

/// One key pair the site needs: `key` (relative to the site file's
/// directory) is `owner`'s private key, `key.pub` its public half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNeed {
    /// The router or home user the key identifies (the public line's comment).
    pub owner: String,
    /// The private key file, relative to the site file's directory.
    pub key: String,
}

/// The public keys, by owner name.
pub type PublicKeys = BTreeMap<String, PublicKey>;

/// Why a site cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeriveError {
    /// A public key [`Site::key_needs`] listed was not given.
    #[error("no public key for `{0}`: generate or read every key Site::key_needs lists first")]
    MissingKey(String),
}

/// A router of the site, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterRef {
    /// The concentrator.
    Head,
    /// `offices[i]`.
    Office(usize),
}

impl RouterRef {
    /// Its host name.
    pub fn name<'a>(&self, site: &'a Site) -> &'a str {
        match self {
            RouterRef::Head => &site.head.name,
            RouterRef::Office(i) => &site.offices[*i].name,
        }
    }
    /// Where it is described in the site file.
    pub fn span(&self, site: &Site) -> Range<usize> {
        match self {
            RouterRef::Head => site.head.span.clone(),
            RouterRef::Office(i) => site.offices[*i].span.clone(),
        }
    }
}

/// One router's derived config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRouter {
    /// Host name (also its output directory's name).
    pub name: String,
    /// Office or concentrator.
    pub role: Role,
    /// How its image is built.
    pub build: Build,
    /// The `outpost.toml` text.
    pub text: String,
    /// Its private key's file in the site directory.
    pub site_key: String,
    /// Its private key's name next to the derived config.
    pub key: String,
}

/// A home user's files: no image, a PC's tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeFiles {
    /// The user's name (the output directory is `home-NAME`).
    pub name: String,
    /// The private key's file in the site directory.
    pub site_key: String,
    /// The private key's name in the output directory.
    pub key: String,
    /// One known_hosts line pinning the concentrator.
    pub known_hosts: String,
    /// A shell script running pppd over dbclient, as the seed's client.
    pub connect: String,
    /// The same tunnel with Debian's stock pppd and OpenSSH client
    /// ([`crate::site::openssh`]), the key converted to OpenSSH's format.
    pub openssh: crate::site::openssh::HomeTunnel,
}

/// Everything derived from a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The concentrator first, then the offices in file order.
    pub routers: Vec<RenderedRouter>,
    /// Home users in file order.
    pub homes: Vec<HomeFiles>,
}

/// A router's own private key next to its derived config.
pub fn own_key(name: &str) -> String {
    format!("keys/{name}.ed25519")
}

impl Site {
    /// The key pairs the site needs, concentrator first.
    pub fn key_needs(&self) -> Vec<KeyNeed> {
        let mut v = vec![KeyNeed {
            owner: self.head.name.clone(),
            key: self.head.key.clone(),
        }];
        v.extend(self.offices.iter().map(|o| KeyNeed {
            owner: o.name.clone(),
            key: o.key.clone(),
        }));
        v.extend(self.homes.iter().map(|h| KeyNeed {
            owner: h.name.clone(),
            key: h.key.clone(),
        }));
        v
    }

    /// The routers, concentrator first.
    pub fn routers(&self) -> Vec<RouterRef> {
        std::iter::once(RouterRef::Head)
            .chain((0..self.offices.len()).map(RouterRef::Office))
            .collect()
    }

    /// Every router's config and every home user's files, given the public
    /// key of everyone in [`Site::key_needs`].
    pub fn render(&self, keys: &PublicKeys) -> Result<Derived, DeriveError> {
        let routers = self
            .routers()
            .iter()
            .map(|r| render_router(self, r, keys))
            .collect::<Result<_, _>>()?;
        let homes = (0..self.homes.len())
            .map(|i| render_home(self, i, keys))
            .collect::<Result<_, _>>()?;
        Ok(Derived { routers, homes })
    }
}

/// A fixed, valid key for everyone: validation renders with these.
pub fn placeholder_keys(site: &Site) -> PublicKeys {
    let k = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB";
    site.key_needs()
        .into_iter()
        .filter_map(|n| {
            PublicKey::parse(&format!("{k} {}", n.owner))
                .ok()
                .map(|p| (n.owner, p))
        })
        .collect()
}

fn key_of<'a>(keys: &'a PublicKeys, owner: &str) -> Result<&'a PublicKey, DeriveError> {
    keys.get(owner)
        .ok_or_else(|| DeriveError::MissingKey(owner.to_string()))
}

/// A TOML basic string.
pub(super) fn q(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(o, "\\u{:04X}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub(super) fn list(items: &[String]) -> String {
    let q: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", q.join(", "))
}

fn site_name(site: &Site) -> &str {
    // The base name only: the same site file named by another path must
    // not make every config "changed".
    site.file
        .rsplit(['/', '\\'])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(&site.file)
}

fn header(site: &Site, what: &str) -> String {
    format!(
        "# {what}\n\
         # Generated from the site file {} by `mkoutpost site build`.\n\
         # You may edit this copy, also on the router's medium (`outpostd check`\n\
         # validates it); `site build` rewrites it only when the site file derives\n\
         # a different text, so make lasting changes in the site file.\n",
        site_name(site)
    )
}

pub(super) fn lcp(s: &mut String, site: &Site) {
    if let Some(i) = site.lcp_echo_interval {
        let _ = writeln!(s, "lcp_echo_interval = {i}");
    }
    if let Some(f) = site.lcp_echo_failure {
        let _ = writeln!(s, "lcp_echo_failure = {f}");
    }
}

/// Drops networks lying inside another listed one (and repeats): the
/// tunnel's routes must not overlap, and the wider route carries both.
fn minimal(nets: Vec<Ipv4Net>) -> Vec<Ipv4Net> {
    let mut out: Vec<Ipv4Net> = Vec::new();
    for (i, n) in nets.iter().enumerate() {
        let covered = nets
            .iter()
            .enumerate()
            .any(|(j, m)| j != i && within(*n, *m) && (n != m || j < i));
        if !covered {
            out.push(*n);
        }
    }
    out
}

fn describe(site: &Site, e: Endpoint) -> String {
    format!("{} ({})", site.name(e), site.net(e))
}

/// One router's config text.
pub fn render_router(
    site: &Site,
    r: &RouterRef,
    keys: &PublicKeys,
) -> Result<RenderedRouter, DeriveError> {
    match r {
        RouterRef::Head => render_head(site, keys),
        RouterRef::Office(i) => render_office(site, *i, keys),
    }
}

/// A router's `[system]` hardware lines, where the site file states them.
fn system_hardware(hw: &super::Hardware) -> String {
    let mut s = String::new();
    if let Some(c) = hw.console {
        let _ = writeln!(s, "console = {}", q(c.name()));
    }
    if let Some(v) = hw.serial_speed {
        let _ = writeln!(s, "serial_speed = {v}");
    }
    if let Some(d) = hw.ide_dma {
        let _ = writeln!(s, "ide_dma = {d}");
    }
    s
}

/// Interface `name`'s card lines (`mac`, `io`, `irq`), where stated.
fn card_lines(hw: &super::Hardware, name: &str) -> String {
    let mut s = String::new();
    if let Some(card) = hw.card(name) {
        if let Some(m) = &card.mac {
            let _ = writeln!(s, "mac = {}", q(&crate::net::format_mac(m)));
        }
        if let Some(isa) = card.isa {
            let _ = writeln!(s, "io = {:#x}", isa.io);
            if let Some(irq) = isa.irq {
                let _ = writeln!(s, "irq = {irq}");
            }
        }
    }
    s
}

fn render_head(site: &Site, keys: &PublicKeys) -> Result<RenderedRouter, DeriveError> {
    let h = &site.head;
    let mut s = header(
        site,
        &format!(
            "{}: the head office's concentrator (every tunnel ends here).",
            h.name
        ),
    );
    let _ = write!(
        s,
        "\n# Who this box is.\n[system]\nhostname = {}\nrole = \"concentrator\"\n{}",
        q(&h.name),
        system_hardware(&h.hardware)
    );
    let _ = write!(
        s,
        "\n# The WAN, where the offices and home users connect over ssh.\n[[interface]]\nname = \"wan\"\ndevice = {}\n{}address = {}\n",
        q(&h.wan.device),
        card_lines(&h.hardware, "wan"),
        q(&h.wan.address.to_string())
    );
    for n in &h.networks {
        let _ = write!(
            s,
            "\n# The private network `{}`.\n[[interface]]\nname = {}\ndevice = {}\n{}address = {}\n",
            n.name,
            q(&n.name),
            q(&n.device),
            card_lines(&h.hardware, &n.name),
            q(&n.address.to_string())
        );
    }
    if let Some(g) = h.wan.gateway {
        let _ = write!(
            s,
            "\n# Offices on other networks are reached through the ISP's gateway.\n[[route]]\nto = \"default\"\nvia = {}\n",
            q(&g.to_string())
        );
    }
    for n in &h.networks {
        let _ = write!(
            s,
            "\n# The router itself answers ssh and ping from `{}` (and the tunnels' ssh on the WAN).\n[[firewall.input]]\ninterface = {}\naccept = [\"ssh\", \"ping\"]\n",
            n.name,
            q(&n.name)
        );
    }
    // Openings the per-peer rules cannot say: connections *to* an office
    // from a network it may not open connections to itself.
    for (i, o) in site.offices.iter().enumerate() {
        let e = Endpoint::Office(i);
        let (outs, ins) = (site.out_of(e), site.into_of(e));
        if same_set(&outs, &ins) {
            continue;
        }
        for x in &ins {
            let _ = write!(
                s,
                "\n# policy: {} may open connections to office {}.\n[[firewall.allow]]\nfrom = {}\nto = {}\n",
                describe(site, *x),
                o.name,
                q(&site.net(*x).to_string()),
                q(&o.lan.network().to_string())
            );
        }
    }
    let _ = write!(
        s,
        "\n# The concentrator's end of every tunnel (tunnel pool {}).\n[concentrator]\ninterface = \"wan\"\naddress = {}\nhost_key_file = {}\n",
        site.pool,
        q(&h.tunnel_address.to_string()),
        q(&own_key(&h.name))
    );
    lcp(&mut s, site);
    for (i, o) in site.offices.iter().enumerate() {
        let e = Endpoint::Office(i);
        let (outs, ins) = (site.out_of(e), site.into_of(e));
        let both = same_set(&outs, &ins);
        let reach: Vec<String> = outs.iter().map(|x| site.net(*x).to_string()).collect();
        let _ = write!(
            s,
            "\n# Office {}: its LAN is routed into its tunnel while the link is up; it may reach {}{}.\n[[peer]]\nname = {}\npublic_key = {}\ntunnel_address = {}\nnetworks = {}\nreach = {}\n",
            o.name,
            outs.iter().map(|x| site.name(*x)).collect::<Vec<_>>().join(", "),
            if both { ", and they it (both ways)" } else { "" },
            q(&o.name),
            q(&key_of(keys, &o.name)?.to_string()),
            q(&o.tunnel_address.to_string()),
            list(&[o.lan.network().to_string()]),
            list(&reach)
        );
        if !both {
            s.push_str("both_ways = false\n");
        }
    }
    for (i, hm) in site.homes.iter().enumerate() {
        let outs = site.out_of(Endpoint::Home(i));
        let reach: Vec<String> = outs.iter().map(|x| site.net(*x).to_string()).collect();
        let _ = write!(
            s,
            "\n# Home user {}: one PC; it may open connections to {}, nothing may open one to it.\n[[peer]]\nname = {}\npublic_key = {}\ntunnel_address = {}\nreach = {}\nboth_ways = false\n",
            hm.name,
            outs.iter().map(|x| site.name(*x)).collect::<Vec<_>>().join(", "),
            q(&hm.name),
            q(&key_of(keys, &hm.name)?.to_string()),
            q(&hm.tunnel_address.to_string()),
            list(&reach)
        );
    }
    Ok(RenderedRouter {
        name: h.name.clone(),
        role: Role::Concentrator,
        build: h.build,
        text: s,
        site_key: h.key.clone(),
        key: own_key(&h.name),
    })
}

fn same_set(a: &[Endpoint], b: &[Endpoint]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

fn render_office(site: &Site, i: usize, keys: &PublicKeys) -> Result<RenderedRouter, DeriveError> {
    let o = &site.offices[i];
    let h = &site.head;
    let lan = o.lan.network();
    let e = Endpoint::Office(i);
    let (outs, ins) = (site.out_of(e), site.into_of(e));
    let mut s = header(site, &format!("{}: an office router.", o.name));
    let _ = write!(
        s,
        "\n# Who this box is.\n[system]\nhostname = {}\nrole = \"office\"\n{}",
        q(&o.name),
        system_hardware(&o.hardware)
    );
    let _ = write!(
        s,
        "\n# The office's LAN.\n[[interface]]\nname = \"lan\"\ndevice = {}\n{}address = {}\n",
        q(&o.lan_device),
        card_lines(&o.hardware, "lan"),
        q(&o.lan.to_string())
    );
    match &o.wan {
        OfficeWan::Static(w) => {
            let _ = write!(
                s,
                "\n# The WAN: the ISP's line; the concentrator is {} behind it.\n[[interface]]\nname = \"wan\"\ndevice = {}\n{}address = {}\n",
                h.wan.address.addr,
                q(&w.device),
                card_lines(&o.hardware, "wan"),
                q(&w.address.to_string())
            );
        }
        OfficeWan::Dhcp { device } => {
            let _ = write!(
                s,
                "\n# The WAN: the ISP's line, its address, gateway and DNS servers by DHCP;\n# the tunnel to the concentrator {} starts once there is a lease.\n[[interface]]\nname = \"wan\"\ndevice = {}\n{}dhcp = true\n",
                h.wan.address.addr,
                q(device),
                card_lines(&o.hardware, "wan")
            );
        }
    }
    if let Some(g) = o.wan.fixed().and_then(|w| w.gateway) {
        let _ = write!(
            s,
            "\n# Everything not in the tunnel leaves through the ISP's gateway.\n[[route]]\nto = \"default\"\nvia = {}\n",
            q(&g.to_string())
        );
    }
    if let Some((first, last)) = o.lan_dhcp {
        let _ = write!(
            s,
            "\n# The LAN's PCs get their addresses here (busybox udhcpd), this router as\n# their gateway and the WAN lease's DNS servers.\n[[dhcp_server]]\ninterface = \"lan\"\nrange = {}\n",
            q(&format!("{first}-{last}"))
        );
    }
    s.push_str("\n# Forwarding is refused unless allowed below (the seed's `ipfwadm -F -p deny`).\n[firewall]\n");
    if o.internet {
        s.push_str("masquerade = [\"wan\"]\n");
    }
    for x in &outs {
        let both = ins.contains(x);
        let _ = write!(
            s,
            "\n# policy: {} {} {}.\n[[firewall.allow]]\nfrom = {}\nto = {}\n",
            o.name,
            if both { "↔" } else { "→" },
            describe(site, *x),
            q(&lan.to_string()),
            q(&site.net(*x).to_string())
        );
        if both {
            s.push_str("both_ways = true\n");
        }
    }
    for x in ins.iter().filter(|x| !outs.contains(x)) {
        let _ = write!(
            s,
            "\n# policy: {} → {}.\n[[firewall.allow]]\nfrom = {}\nto = {}\n",
            describe(site, *x),
            o.name,
            q(&site.net(*x).to_string()),
            q(&lan.to_string())
        );
    }
    if o.internet {
        let _ = write!(
            s,
            "\n# The LAN to the internet, masqueraded.\n[[firewall.allow]]\nfrom = {}\nto = \"0.0.0.0/0\"\nout = \"wan\"\n",
            q(&lan.to_string())
        );
    }
    s.push_str("\n# The router itself answers ssh and ping from the LAN only.\n[[firewall.input]]\ninterface = \"lan\"\naccept = [\"ssh\", \"ping\"]\n");
    let mut nets: Vec<Ipv4Net> = outs.iter().map(|x| site.net(*x)).collect();
    nets.extend(ins.iter().map(|x| site.net(*x)));
    let nets: Vec<String> = minimal(nets).iter().map(|n| n.to_string()).collect();
    let _ = write!(
        s,
        "\n# The tunnel: pppd over ssh to the concentrator, whose host key is pinned\n# here (never trusted on first use); these networks are routed into it.\n[tunnel]\nconcentrator = {}\naccount = {}\nidentity = {}\nhost_key = {}\nnetworks = {}\nvia = \"wan\"\n",
        // By name where the lease brings DNS servers to look it up with.
        q(&match (&h.dns_name, &o.wan) {
            (Some(n), OfficeWan::Dhcp { .. }) => n.clone(),
            _ => h.wan.address.addr.to_string(),
        }),
        q(&o.name),
        q(&own_key(&o.name)),
        q(&key_of(keys, &h.name)?.to_string()),
        list(&nets)
    );
    lcp(&mut s, site);
    Ok(RenderedRouter {
        name: o.name.clone(),
        role: Role::Office,
        build: o.build,
        text: s,
        site_key: o.key.clone(),
        key: own_key(&o.name),
    })
}

fn render_home(site: &Site, i: usize, keys: &PublicKeys) -> Result<HomeFiles, DeriveError> {
    let hm = &site.homes[i];
    let h = &site.head;
    let _ = key_of(keys, &hm.name)?;
    let head_key = key_of(keys, &h.name)?;
    let concentrator: Ipv4Addr = h.wan.address.addr;
    let key = format!("{}.ed25519", hm.name);
    let outs = site.out_of(Endpoint::Home(i));
    let interval = site
        .lcp_echo_interval
        .unwrap_or(crate::config::DEFAULT_LCP_ECHO_INTERVAL);
    let failure = site
        .lcp_echo_failure
        .unwrap_or(crate::config::DEFAULT_LCP_ECHO_FAILURE);
    let mut s = String::from("#!/bin/sh\n");
    let _ = write!(
        s,
        "# {}'s tunnel to the head office {} (seed ch. 5, \"Client: Bring up the\n\
         # connection\"), generated from the site file {} by `mkoutpost site build`.\n\
         # Run it as root: sh connect.sh. It needs pppd and dropbear's dbclient (the\n\
         # key is in dropbear's format; for OpenSSH convert it first with\n\
         # `dropbearconvert dropbear openssh {key} id_{}` and use ssh -i).\n\
         # dbclient reads the pinned host key from $HOME/.ssh/known_hosts: HOME is\n\
         # this directory, whose .ssh/known_hosts is the one line in known_hosts, so\n\
         # the concentrator's key is never trusted on first use.\n",
        hm.name,
        h.name,
        site_name(site),
        hm.name
    );
    s.push_str("cd \"$(dirname \"$0\")\" || exit 1\nhere=$(pwd)\n");
    let _ = writeln!(
        s,
        "pppd updetach noauth nodefaultroute noipdefault nodeflate nobsdcomp noipv6 \\\n  ifname vpn0 lcp-echo-interval {interval} lcp-echo-failure {failure} \\\n  pty \"HOME='$here' exec dbclient -T -i '$here'/{} -p 22 {}@{}\" || exit 1",
        shell_quote(&key),
        hm.name,
        concentrator
    );
    s.push_str("# The networks the policy lets this PC reach, through the tunnel (seed ch. 5,\n# \"Client: Set the routes\").\n");
    for x in &outs {
        let _ = writeln!(s, "ip route add {} dev vpn0", site.net(*x));
    }
    Ok(HomeFiles {
        name: hm.name.clone(),
        site_key: hm.key.clone(),
        key,
        known_hosts: format!("{concentrator} {}\n", head_key.key_text()),
        connect: s,
        openssh: crate::site::openssh::HomeTunnel {
            user: hm.name.clone(),
            concentrator,
            port: 22,
            key: format!("{}.openssh", hm.name),
            routes: outs.iter().map(|x| site.net(*x)).collect(),
            lcp: (interval, failure),
        },
    })
}
