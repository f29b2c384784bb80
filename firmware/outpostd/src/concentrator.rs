//! The concentrator's side effects: at boot, one locked account per peer
//! (`/etc/passwd`, `/etc/group`, a home whose `.ssh/authorized_keys` forces
//! `pppd call NAME`, owned by the peer, mode 0600) and the per-peer pppd
//! options file `/etc/ppp/peers/NAME` (root's, so its privileged options
//! count); at run time, each peer's routes follow its ppp link, told by
//! pppd's hooks (`ipparam` = the peer's name).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use log::info;
use nix::unistd::{chown, Gid, Uid};
use outpost_core::plan::{ConcentratorPlan, PeerPlan, RoutePlan};

use crate::hooks::HookMessage;
use crate::netlink::Netlink;
use crate::supervisor::install_routes;

/// Why the accounts could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A plan line that does not have the passwd/group shape.
    #[error("malformed account line `{0}`")]
    Malformed(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AccountError {
    let path = path.to_path_buf();
    move |source| AccountError::Io { what, path, source }
}

/// `abs` (an absolute path from the plan) under `root` (`/` on the router).
fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// `text` with every line whose first `:`-field is in `names` dropped and
/// `add` appended: re-running changes nothing.
pub fn merge_lines(text: &str, names: &[&str], add: &[&str]) -> String {
    let mut out: String = text
        .lines()
        .filter(|l| !names.contains(&l.split(':').next().unwrap_or("")))
        .flat_map(|l| [l, "\n"])
        .collect();
    for a in add {
        out.push_str(a);
        out.push('\n');
    }
    out
}

fn write_mode(path: &Path, data: &[u8], mode: u32) -> Result<(), AccountError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
    }
    let tmp = path.with_extension("outpostd-new");
    fs::write(&tmp, data).map_err(io("writing", &tmp))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(io("chmod", &tmp))?;
    fs::rename(&tmp, path).map_err(io("renaming into", path))
}

fn ids(passwd_line: &str) -> Result<(u32, u32), AccountError> {
    let f: Vec<&str> = passwd_line.split(':').collect();
    match (
        f.get(2).and_then(|u| u.parse().ok()),
        f.get(3).and_then(|g| g.parse().ok()),
    ) {
        (Some(u), Some(g)) => Ok((u, g)),
        _ => Err(AccountError::Malformed(passwd_line.to_string())),
    }
}

fn read_or_empty(path: &Path) -> Result<String, AccountError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io("reading", path)(e)),
    }
}

/// Writes every account and file of `plan` under `root`.
pub fn write_accounts(plan: &ConcentratorPlan, root: &Path) -> Result<(), AccountError> {
    let names: Vec<&str> = plan.peers.iter().map(|p| p.name.as_str()).collect();
    let passwd = under(root, "/etc/passwd");
    let lines: Vec<&str> = plan.peers.iter().map(|p| p.passwd_line.as_str()).collect();
    let merged = merge_lines(&read_or_empty(&passwd)?, &names, &lines);
    write_mode(&passwd, merged.as_bytes(), 0o644)?;
    let group = under(root, "/etc/group");
    let gname = plan.group_line.split(':').next().unwrap_or("");
    let merged = merge_lines(&read_or_empty(&group)?, &[gname], &[&plan.group_line]);
    write_mode(&group, merged.as_bytes(), 0o644)?;
    for p in &plan.peers {
        write_peer(p, root)?;
    }
    Ok(())
}

fn write_peer(p: &PeerPlan, root: &Path) -> Result<(), AccountError> {
    let (uid, gid) = ids(&p.passwd_line)?;
    let owner = |path: &Path| {
        chown(path, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            .map_err(|e| io("chown", path)(std::io::Error::from(e)))
    };
    let home = under(root, &p.home);
    let keys = under(root, &p.authorized_keys_path);
    let ssh = keys.parent().map_or(home.join(".ssh"), Path::to_path_buf);
    for dir in [&home, &ssh] {
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
        // dropbear refuses keys under a directory others can write.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io("chmod", dir))?;
        owner(dir)?;
    }
    write_mode(&keys, p.authorized_keys.as_bytes(), 0o600)?;
    owner(&keys)?;
    // Root's and read-only to others: pppd honours privileged options only
    // from files the caller cannot have written.
    write_mode(
        &under(root, &p.pppd_options_path),
        p.pppd_options.as_bytes(),
        0o644,
    )
}

/// One peer at run time.
#[derive(Debug, Clone)]
struct PeerState {
    name: String,
    ifname: String,
    routes: Vec<RoutePlan>,
    up: Option<(Instant, HookMessage)>,
}

/// Every peer's link state and routes.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    peers: Vec<PeerState>,
}

impl Peers {
    /// The peers of `plan`, all down.
    pub fn new(plan: &ConcentratorPlan) -> Peers {
        Peers {
            peers: plan
                .peers
                .iter()
                .map(|p| PeerState {
                    name: p.name.clone(),
                    ifname: p.ifname.clone(),
                    routes: p.link_routes.clone(),
                    up: None,
                })
                .collect(),
        }
    }

    /// Handles a hook call; `false` if it names no peer of ours.
    pub async fn hook(&mut self, nl: Option<&Netlink>, msg: &HookMessage) -> bool {
        let Some(p) = self.peers.iter_mut().find(|p| p.name == msg.ipparam) else {
            return false;
        };
        if msg.up {
            install_routes(nl, &p.routes, true).await;
            info!("peer {} up ({})", p.name, msg.ifname);
            p.up = Some((Instant::now(), msg.clone()));
        } else {
            install_routes(nl, &p.routes, false).await;
            info!("peer {} down", p.name);
            p.up = None;
        }
        true
    }

    /// Removes the routes of every peer that is up (at stop).
    pub async fn teardown(&mut self, nl: Option<&Netlink>) {
        for p in &mut self.peers {
            if p.up.take().is_some() {
                install_routes(nl, &p.routes, false).await;
            }
        }
    }

    /// How many peers' tunnels are up.
    pub fn up_count(&self) -> usize {
        self.peers.iter().filter(|p| p.up.is_some()).count()
    }

    /// `outpostd status` lines, one per peer.
    pub fn status_lines(&self) -> Vec<String> {
        self.peers
            .iter()
            .map(|p| match &p.up {
                Some((since, m)) => format!(
                    "peer {}: up since {:.1} s ago ({} {} -> {}), {}",
                    p.name,
                    since.elapsed().as_secs_f64(),
                    m.ifname,
                    m.local,
                    m.remote,
                    bytes(&m.ifname)
                ),
                None => format!("peer {}: down ({})", p.name, p.ifname),
            })
            .collect()
    }
}

/// `rx N bytes, tx N bytes` of a link, from sysfs.
pub fn bytes(ifname: &str) -> String {
    let read = |what: &str| {
        fs::read_to_string(format!("/sys/class/net/{ifname}/statistics/{what}_bytes"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into())
    };
    format!("rx {} bytes, tx {} bytes", read("rx"), read("tx"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_replaces_our_lines_and_keeps_the_rest() {
        let base = "root:x:0:0:root:/root:/bin/sh\noffice1:old\n";
        let once = merge_lines(
            base,
            &["office1"],
            &["office1:*:2000:900::/home/office1:/bin/sh"],
        );
        assert_eq!(
            once,
            "root:x:0:0:root:/root:/bin/sh\noffice1:*:2000:900::/home/office1:/bin/sh\n"
        );
        let twice = merge_lines(
            &once,
            &["office1"],
            &["office1:*:2000:900::/home/office1:/bin/sh"],
        );
        assert_eq!(once, twice);
    }

    #[test]
    fn ids_come_from_the_passwd_line() {
        assert_eq!(ids("a:*:2000:900:x:/home/a:/bin/sh").unwrap(), (2000, 900));
        assert!(ids("a:*").is_err());
    }

    fn peer(name: &str) -> PeerPlan {
        PeerPlan {
            name: name.into(),
            passwd_line: format!("{name}:*:2000:900::/home/{name}:/bin/sh"),
            home: format!("/home/{name}"),
            authorized_keys_path: format!("/home/{name}/.ssh/authorized_keys"),
            authorized_keys: String::new(),
            pppd_options_path: format!("/etc/ppp/peers/{name}"),
            pppd_options: String::new(),
            ifname: format!("vpn-{name}"),
            link_routes: vec![],
        }
    }

    fn hook(up: bool, name: &str) -> HookMessage {
        HookMessage {
            up,
            ifname: format!("vpn-{name}"),
            local: "10.254.0.1".parse().unwrap(),
            remote: "10.254.0.2".parse().unwrap(),
            ipparam: name.into(),
        }
    }

    #[tokio::test]
    async fn peers_up_are_counted_from_their_hooks() {
        let plan = ConcentratorPlan {
            dropbear_argv: vec!["dropbear".into()],
            host_key_path: "/boot/outpost/keys/concentrator.ed25519".into(),
            group_line: "outpost-vpn:x:900:".into(),
            peers: ["office1", "office2", "office3", "office4"]
                .map(peer)
                .to_vec(),
        };
        let mut peers = Peers::new(&plan);
        assert_eq!(peers.up_count(), 0);
        for name in ["office1", "office2", "office3"] {
            assert!(peers.hook(None, &hook(true, name)).await);
        }
        assert_eq!(peers.up_count(), 3);
        // A repeated ip-up is still one peer.
        peers.hook(None, &hook(true, "office1")).await;
        assert_eq!(peers.up_count(), 3);
        peers.hook(None, &hook(false, "office2")).await;
        peers.hook(None, &hook(false, "office2")).await;
        assert_eq!(peers.up_count(), 2);
        assert!(!peers.hook(None, &hook(true, "stranger")).await);
        assert_eq!(peers.up_count(), 2);
        peers.teardown(None).await;
        assert_eq!(peers.up_count(), 0);
    }
}
