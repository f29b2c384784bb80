//! A home user's tunnel with nothing but Debian's stock `ppp` and
//! `openssh-client` (issue 18): the seed's client ("Client: Bring up the
//! connection", ch. 5) without pty-redir — pppd's `pty` option runs ssh.
//! Pure text: the script, its ip-up hook and a systemd unit that keeps it
//! up. The concentrator's host key is pinned in a known_hosts file beside
//! them (`StrictHostKeyChecking yes`: never "answer yes").

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::net::Ipv4Net;

/// What the files are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeTunnel {
    /// The account on the concentrator (the home user's peer name).
    pub user: String,
    /// The concentrator's WAN address.
    pub concentrator: Ipv4Addr,
    /// Its ssh port.
    pub port: u16,
    /// The private key's file name (OpenSSH format) beside the script.
    pub key: String,
    /// The networks routed through the tunnel.
    pub routes: Vec<Ipv4Net>,
    /// LCP echo interval and failures.
    pub lcp: (u32, u32),
}

/// The options ssh runs with: keys only, the pinned host key only, no
/// escape character (PPP frames are binary), no pty (the concentrator's
/// forced pppd runs `notty`).
pub fn ssh_command(t: &HomeTunnel, dir: &str) -> String {
    format!(
        "exec ssh -T -e none -o BatchMode=yes -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
-o StrictHostKeyChecking=yes -o UserKnownHostsFile={dir}/known_hosts -o IdentitiesOnly=yes \
-o ServerAliveInterval=15 -i {dir}/{key} -p {port} {user}@{host}",
        key = t.key,
        port = t.port,
        user = t.user,
        host = t.concentrator
    )
}

/// `connect-openssh.sh`: run as root; `updetach` (returns once the link is
/// up) unless `PPPD_DETACH=nodetach` (the systemd unit).
pub fn connect_script(t: &HomeTunnel) -> String {
    let mut s = String::from("#!/bin/sh\n");
    let _ = writeln!(
        s,
        "# {user}'s tunnel to the head office with Debian's stock pppd and ssh\n\
         # (apt-get install ppp openssh-client); run as root. The concentrator's\n\
         # host key is pinned in known_hosts beside this script.\n\
         cd \"$(dirname \"$0\")\" || exit 1\n\
         here=$(pwd)\n\
         exec pppd \"${{PPPD_DETACH:-updetach}}\" noauth nodefaultroute noipdefault nodeflate nobsdcomp noipv6 \\\n  \
         ifname vpn0 lcp-echo-interval {i} lcp-echo-failure {f} ip-up-script \"$here/ip-up\" \\\n  \
         pty \"{ssh}\"",
        user = t.user,
        i = t.lcp.0,
        f = t.lcp.1,
        ssh = ssh_command(t, "'$here'"),
    );
    s
}

/// `ip-up`: pppd runs it with the interface as `$1` once the link is up,
/// also after a reconnection, so the routes follow the link.
pub fn ip_up(t: &HomeTunnel) -> String {
    let mut s = String::from("#!/bin/sh\n# The networks this PC reaches through the tunnel.\n");
    for r in &t.routes {
        let _ = writeln!(s, "ip route replace {r} dev \"$1\"");
    }
    s
}

/// `outpost-vpn.service`, for the files installed in `dir`.
pub fn systemd_unit(t: &HomeTunnel, dir: &str) -> String {
    format!(
        "[Unit]\nDescription=Outpost VPN tunnel of {user} (pppd over ssh)\nWants=network-online.target\nAfter=network-online.target\n\n\
[Service]\nEnvironment=PPPD_DETACH=nodetach\nExecStart=/bin/sh {dir}/connect-openssh.sh\nRestart=always\nRestartSec=10\n\n\
[Install]\nWantedBy=multi-user.target\n",
        user = t.user
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> HomeTunnel {
        HomeTunnel {
            user: "home1".into(),
            concentrator: Ipv4Addr::new(172, 16, 0, 1),
            port: 22,
            key: "home1.openssh".into(),
            routes: vec!["10.0.0.0/24".parse().unwrap()],
            lcp: (2, 3),
        }
    }

    #[test]
    fn ssh_is_key_only_and_pinned() {
        let c = ssh_command(&t(), "/etc/outpost-vpn");
        for o in [
            "-o BatchMode=yes",
            "-o StrictHostKeyChecking=yes",
            "-o UserKnownHostsFile=/etc/outpost-vpn/known_hosts",
            "-o PasswordAuthentication=no",
            "-T",
            "-e none",
        ] {
            assert!(c.contains(o), "{o} missing: {c}");
        }
        assert!(
            c.ends_with("-i /etc/outpost-vpn/home1.openssh -p 22 home1@172.16.0.1"),
            "{c}"
        );
    }

    #[test]
    fn the_script_runs_pppd_over_ssh_and_the_hook_routes() {
        let s = connect_script(&t());
        assert!(
            s.contains("exec pppd \"${PPPD_DETACH:-updetach}\" noauth"),
            "{s}"
        );
        assert!(s.contains("pty \"exec ssh -T"), "{s}");
        assert!(!s.contains("pty-redir"));
        assert_eq!(ip_up(&t()), "#!/bin/sh\n# The networks this PC reaches through the tunnel.\nip route replace 10.0.0.0/24 dev \"$1\"\n");
        let u = systemd_unit(&t(), "/etc/outpost-vpn");
        assert!(
            u.contains("ExecStart=/bin/sh /etc/outpost-vpn/connect-openssh.sh\nRestart=always"),
            "{u}"
        );
    }
}
