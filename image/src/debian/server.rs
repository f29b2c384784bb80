//! The seed's chapter-5 VPN server as files for the stock Debian machine
//! (pure: text in, files out). Everything here is what the HOWTO tells an
//! administrator to write, in Debian 12's spelling; `docs/interop.md`
//! shows the same files.
//!
//! Two Debian facts the 1999 text predates: Debian's pppd is setuid root
//! but executable only by group `dip`, so each VPN account is also in
//! `dip`; and OpenSSH 9 drops the ssh-1 options (`ServerKeyBits`,
//! `RSAAuthentication`, …) of the seed's `sshd_config`.

use std::net::Ipv4Addr;

/// One VPN account: a login whose shell is pppd (seed 7).
#[derive(Debug, Clone)]
pub struct Account {
    /// The login name.
    pub name: String,
    /// Its public key line (`ssh-ed25519 AAAA… comment`).
    pub public_key: String,
    /// A network behind it and the tunnel address it is reached through
    /// (an office's LAN; seed 4.4's routes).
    pub route: Option<(String, Ipv4Addr)>,
}

/// The server: its two interfaces, host key, accounts and filter.
#[derive(Debug, Clone)]
pub struct Server {
    /// The external interface's address with prefix (`eth0`).
    pub external: String,
    /// The internal interface's address with prefix (`eth1`).
    pub internal: String,
    /// The internal network (`10.0.0.0/24`).
    pub internal_net: String,
    /// The OpenSSH private host key (`ssh-keygen -t ed25519` output).
    pub host_key: String,
    /// Its public half.
    pub host_key_pub: String,
    /// The VPN accounts.
    pub accounts: Vec<Account>,
}

/// pppd's options for every VPN connection (seed 5.2): accept the
/// addresses the client asks for, proxy ARP for its tunnel end, no PPP
/// authentication (sshd did it).
pub const PPP_OPTIONS: &str = "ipcp-accept-local\nipcp-accept-remote\nproxyarp\nnoauth\n";

/// The seed's `sshd_config` (seed 6) as OpenSSH 9.2 reads it: key-only.
pub const SSHD_CONFIG: &str = "\
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
LoginGraceTime 600
PermitRootLogin prohibit-password
IgnoreRhosts yes
StrictModes yes
X11Forwarding no
PrintMotd no
PrintLastLog no
TCPKeepAlive yes
SyslogFacility DAEMON
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
UsePAM no
";

/// The group the seed's accounts share (seed 8) and its GID.
pub const VPN_GROUP: (&str, u32) = ("vpn-users", 101);

/// The files (path, contents, mode) that make the Debian machine the
/// seed's server; `/etc/interop/rc` is what its boot scripts would run.
pub fn files(s: &Server) -> Vec<(String, Vec<u8>, u32)> {
    let (group, gid) = VPN_GROUP;
    let mut passwd = String::from(
        "root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n",
    );
    let mut keys = String::new();
    let mut routes = String::new();
    for (i, a) in s.accounts.iter().enumerate() {
        // Seed 11: a line per user, shell pppd, one shared home.
        passwd.push_str(&format!(
            "{}:*:{}:{gid}:{} (vpn),,,:/home/{group}:/usr/sbin/pppd\n",
            a.name,
            1020 + i,
            a.name
        ));
        keys.push_str(&format!("{}\n", a.public_key.trim()));
        if let Some((net, via)) = &a.route {
            routes.push_str(&format!("ip route replace {net} via {via} 2>/dev/null; "));
        }
    }
    let members: Vec<&str> = s.accounts.iter().map(|a| a.name.as_str()).collect();
    let groups = format!(
        "root:x:0:\ndip:x:30:{}\n{group}:x:{gid}:\nnogroup:x:65534:\n",
        members.join(",")
    );
    let net = &s.internal_net;
    let mut forward = format!(
        "iptables -P FORWARD DROP\niptables -F FORWARD\niptables -A FORWARD -s {net} -d {net} -j ACCEPT\n"
    );
    for a in &s.accounts {
        if let Some((lan, _)) = &a.route {
            forward.push_str(&format!(
                "iptables -A FORWARD -s {net} -d {lan} -j ACCEPT\niptables -A FORWARD -s {lan} -d {net} -j ACCEPT\n"
            ));
        }
    }
    let rc = format!(
        "#!/bin/sh\n\
# The seed's server (ch. 5): interfaces (4.1), forwarding (pitfall 1.3),\n\
# filter rules (4.3), the offices' routes kept in place (4.4), sshd (6).\n\
hostname vpn\n\
syslogd -O /var/log/messages\n\
ip link set eth0 up && ip addr add {ext} dev eth0\n\
ip link set eth1 up && ip addr add {int} dev eth1\n\
echo 1 > /proc/sys/net/ipv4/ip_forward\n\
{forward}\
# Seed 4.4 runs these from cron every few minutes; a route via a tunnel\n\
# end exists only while that tunnel is up.\n\
(while :; do {routes}sleep 2; done) >/dev/null 2>&1 &\n\
/usr/sbin/sshd -E /var/log/sshd.log\n",
        ext = s.external,
        int = s.internal,
    );
    vec![
        ("etc/passwd".into(), passwd.into_bytes(), 0o644),
        ("etc/group".into(), groups.into_bytes(), 0o644),
        (
            "etc/ssh/sshd_config".into(),
            SSHD_CONFIG.as_bytes().to_vec(),
            0o644,
        ),
        (
            "etc/ssh/ssh_host_ed25519_key".into(),
            s.host_key.clone().into_bytes(),
            0o600,
        ),
        (
            "etc/ssh/ssh_host_ed25519_key.pub".into(),
            s.host_key_pub.clone().into_bytes(),
            0o644,
        ),
        (
            "etc/ppp/options".into(),
            PPP_OPTIONS.as_bytes().to_vec(),
            0o644,
        ),
        (
            format!("home/{group}/.ssh/authorized_keys"),
            keys.into_bytes(),
            0o644,
        ),
        ("etc/interop/rc".into(), rc.into_bytes(), 0o755),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> Server {
        Server {
            external: "172.16.0.1/24".into(),
            internal: "10.0.0.1/24".into(),
            internal_net: "10.0.0.0/24".into(),
            host_key: "PRIVATE".into(),
            host_key_pub: "ssh-ed25519 AAAA vpn".into(),
            accounts: vec![Account {
                name: "office1".into(),
                public_key: "ssh-ed25519 BBBB office1\n".into(),
                route: Some(("192.168.1.0/24".into(), Ipv4Addr::new(10, 0, 0, 100))),
            }],
        }
    }

    fn text(files: &[(String, Vec<u8>, u32)], path: &str) -> String {
        let f = files.iter().find(|f| f.0 == path).expect(path);
        String::from_utf8(f.1.clone()).unwrap()
    }

    #[test]
    fn accounts_run_pppd_in_the_vpn_group_and_dip() {
        let f = files(&server());
        assert!(text(&f, "etc/passwd")
            .contains("office1:*:1020:101:office1 (vpn),,,:/home/vpn-users:/usr/sbin/pppd\n"));
        assert!(text(&f, "etc/group").contains("dip:x:30:office1\n"));
        assert_eq!(
            text(&f, "home/vpn-users/.ssh/authorized_keys"),
            "ssh-ed25519 BBBB office1\n"
        );
        assert!(text(&f, "etc/ppp/options").contains("proxyarp\n"));
        assert!(text(&f, "etc/ssh/sshd_config").contains("PasswordAuthentication no\n"));
    }

    #[test]
    fn the_filter_forwards_only_the_seed_s_pairs() {
        let rc = text(&files(&server()), "etc/interop/rc");
        assert!(rc.contains("iptables -P FORWARD DROP\n"));
        assert!(rc.contains("-s 10.0.0.0/24 -d 192.168.1.0/24 -j ACCEPT"));
        assert!(rc.contains("-s 192.168.1.0/24 -d 10.0.0.0/24 -j ACCEPT"));
        assert!(rc.contains("ip route replace 192.168.1.0/24 via 10.0.0.100"));
    }
}

#[cfg(test)]
mod docs {
    use super::*;

    /// docs/interop.md shows the very files the test's server runs with.
    #[test]
    fn interop_md_shows_these_files() {
        let md =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/interop.md"))
                .unwrap();
        let indented = |t: &str| t.lines().map(|l| format!("    {l}\n")).collect::<String>();
        assert!(
            md.contains(&indented(SSHD_CONFIG)),
            "sshd_config differs from docs/interop.md"
        );
        assert!(
            md.contains(&indented(PPP_OPTIONS)),
            "/etc/ppp/options differs from docs/interop.md"
        );
    }
}
