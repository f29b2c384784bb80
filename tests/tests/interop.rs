//! Issue 18: Outpost against the seed's own ends — a stock Debian 12
//! machine (Debian's unmodified i386 packages: kernel, OpenSSH, pppd,
//! iptables; `mkoutpost::debian`) booted in QEMU beside Outpost guests on
//! the same hubs. One Debian boot per scenario; each check's time printed.
//!
//! Office → stock server: the Debian machine is the seed's chapter-5
//! server (`mkoutpost::debian::server`); an Outpost office brings its
//! tunnel up to it by itself, the office LAN and the server's private side
//! answer each other, and the office reconnects after the server's pppd
//! is killed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use mkoutpost::build::{BuildOptions, BuildReport};
use mkoutpost::cache::Cache;
use mkoutpost::cpu::Cpu;
use mkoutpost::debian::{self, server, DebianMachine};
use mkoutpost::media::Seed;
use outpost_core::openssh_key;
use outpost_core::site::openssh;
use outpost_qemu::{MachineSpec, Nic, Topology};
use outpost_tests::{build_image, build_with, example, repo, workdir, BOOT_TIMEOUT, CMD_TIMEOUT};

/// The Debian machine's RAM: its initramfs is some 60 MB unpacked.
const DEBIAN_MIB: u32 = 256;

/// Runs `f`, printing how long it took under `what`.
fn timed<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t = Instant::now();
    let r = f();
    eprintln!(
        "interop: {what}: {:.1} s{}",
        t.elapsed().as_secs_f64(),
        if r.is_ok() { "" } else { " (failed)" }
    );
    r.with_context(|| what.to_string())
}

fn assemble() -> Result<DebianMachine> {
    let cache = Cache::open_default()?;
    timed(
        "Debian packages fetched and assembled (or found cached)",
        || Ok(debian::assemble(&cache, &mut |s| eprintln!("debian: {s}"))?),
    )
}

/// An ed25519 host key made once with the host's OpenSSH `ssh-keygen`
/// (the server is OpenSSH: its key is in OpenSSH's format), kept so the
/// office image that pins it stays cached.
fn openssh_key(path: &Path, comment: &str) -> Result<(String, String)> {
    if !path.exists() {
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(path)
            .status()
            .context("running ssh-keygen")?;
        ensure!(st.success(), "ssh-keygen failed");
    }
    let private = fs::read_to_string(path)?;
    let public = fs::read_to_string(format!("{}.pub", path.display()))?;
    Ok((private, public))
}

/// The example office, dialling the stock server: the seed's client gives
/// pppd both tunnel addresses (seed 17), its remote end the server's
/// internal address; the host key pinned is the server's.
fn office_for_stock_server(dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir.join("keys"))?;
    let (_, public) = openssh_key(&dir.join("keys/vpn.ed25519"), "vpn")?;
    fs::write(dir.join("keys/vpn.ed25519.pub"), public)?;
    let text = fs::read_to_string(example("site/office.toml"))?
        .replace("keys/concentrator.ed25519.pub", "keys/vpn.ed25519.pub")
        .replace(
            "networks = [\"10.0.0.0/24\"]",
            "networks = [\"10.0.0.0/24\"]\n# The seed's server runs pppd as the account's shell: it needs a pty\n# and the client names both tunnel ends (seed 17).\npty = true\nlocal = \"10.0.0.100\"\nremote = \"10.0.0.1\"",
        );
    ensure!(
        text.contains("local = \"10.0.0.100\""),
        "the example's tunnel changed shape"
    );
    let path = dir.join("office.toml");
    if fs::read_to_string(&path).ok().as_deref() != Some(&text) {
        fs::write(&path, text)?;
    }
    Ok(path)
}

fn build_office(config: &Path) -> Result<BuildReport> {
    let opts = BuildOptions {
        config: config.to_path_buf(),
        out_dir: repo().join("target/e2e/interop-office-i486"),
        cpu: Cpu::I486,
        seed: Seed::Random,
    };
    build_with(&opts, "interop office i486")
}

/// Starts an Outpost image with its NICs on `(hub, port)`s.
fn start_outpost(
    t: &mut Topology,
    name: &str,
    r: &BuildReport,
    nics: &[(&str, usize)],
) -> Result<()> {
    let mut spec = MachineSpec::new(name)
        .cpu(r.cpu.qemu_cpu())
        .memory_mib(32)
        .kernel(&r.kernel)
        .initrd(&r.initramfs)
        .append(format!("{} panic=-1", r.cmdline))
        .no_reboot(true);
    for (i, (hub, port)) in nics.iter().enumerate() {
        spec = spec.nic(Nic::new(
            format!("eth{i}"),
            "ne2k_pci",
            t.hub(hub)?.endpoint(*port)?,
        ));
    }
    t.start(spec)?;
    Ok(())
}

/// Starts the Debian machine with `files` on top of its packages.
fn start_debian(
    t: &mut Topology,
    m: &DebianMachine,
    files: &[(String, Vec<u8>, u32)],
    nics: &[(&str, usize)],
) -> Result<()> {
    let initrd = t.workdir().join("debian.cpio");
    debian::with_files(m, files, &initrd)?;
    let mut spec = MachineSpec::new("debian")
        .cpu(debian::QEMU_CPU)
        .memory_mib(DEBIAN_MIB)
        .kernel(&m.kernel)
        .initrd(&initrd)
        .append("console=ttyS0 panic=-1 loglevel=4")
        .no_reboot(true);
    for (i, (hub, port)) in nics.iter().enumerate() {
        spec = spec.nic(Nic::new(
            format!("eth{i}"),
            "ne2k_pci",
            t.hub(hub)?.endpoint(*port)?,
        ));
    }
    t.start(spec)?;
    Ok(())
}

/// Pings `to` from `from` until one answer comes back or `timeout` passes.
fn ping(t: &Topology, from: &str, to: &str, timeout: Duration) -> Result<()> {
    let m = t.machine(from)?;
    let end = Instant::now() + timeout;
    loop {
        let out = m.run(&format!("ping -c 1 -W 2 {to}"), CMD_TIMEOUT)?;
        if out.status == 0 {
            return Ok(());
        }
        if Instant::now() > end {
            bail!("{from} cannot ping {to}: {}", out.stdout);
        }
    }
}

#[test]
fn an_outpost_office_dials_the_seed_s_stock_debian_server() -> Result<()> {
    let deb = assemble()?;
    let dir = repo().join("target/e2e/interop-office");
    let config = office_for_stock_server(&dir)?;
    let (office, lan, private) = timed(
        "office, LAN host and private host images built (or cached)",
        || {
            Ok((
                build_office(&config)?,
                build_image(&example("site/lan-host.toml"), Cpu::I486)?,
                build_image(&example("site/private-host.toml"), Cpu::I486)?,
            ))
        },
    )?;
    let (host_key, host_key_pub) = openssh_key(&dir.join("keys/vpn.ed25519"), "vpn")?;
    let office_key = fs::read_to_string(dir.join("keys/office1.ed25519.pub"))?;
    let srv = server::Server {
        external: "172.16.0.1/24".into(),
        internal: "10.0.0.1/24".into(),
        internal_net: "10.0.0.0/24".into(),
        host_key,
        host_key_pub,
        accounts: vec![server::Account {
            name: "office1".into(),
            public_key: office_key,
            route: Some(("192.168.1.0/24".into(), "10.0.0.100".parse()?)),
        }],
    };
    let work = workdir("interop-server")?;
    let mut t = Topology::new(&work);
    t.add_hub("lan", 2)?;
    t.add_hub("wan", 2)?;
    t.add_hub("private", 2)?;
    let booted = Instant::now();
    start_debian(
        &mut t,
        &deb,
        &server::files(&srv),
        &[("wan", 1), ("private", 0)],
    )?;
    start_outpost(&mut t, "office", &office, &[("lan", 0), ("wan", 0)])?;
    start_outpost(&mut t, "lan-host", &lan, &[("lan", 1)])?;
    start_outpost(&mut t, "private-host", &private, &[("private", 1)])?;
    timed("Debian server booted (sshd listening)", || {
        Ok(t.machine("debian")?
            .wait_for("interop: ready", BOOT_TIMEOUT)?)
    })?;
    timed("office tunnel up to the stock server", || {
        Ok(t.machine("office")?
            .wait_for("outpostd: tunnel up (", BOOT_TIMEOUT)?)
    })?;
    eprintln!(
        "interop: power-on to tunnel up: {:.1} s",
        booted.elapsed().as_secs_f64()
    );
    for g in ["lan-host", "private-host"] {
        t.machine(g)?.wait_for("outpostd: ready", BOOT_TIMEOUT)?;
    }
    timed("office LAN host -> server's private host", || {
        ping(&t, "lan-host", "10.0.0.10", Duration::from_secs(60))
    })?;
    timed("server's private host -> office LAN host", || {
        ping(&t, "private-host", "192.168.1.10", Duration::from_secs(30))
    })?;
    // The seed's `proxyarp`: the server's pppd answers ARP for the office's
    // tunnel end on the private network (the office's own filter may
    // refuse the ping itself; the answer to ARP is the server's).
    let ph = t.machine("private-host")?;
    ph.run("ping -c 1 -W 2 10.0.0.100", CMD_TIMEOUT)?;
    let neigh = ph.run_ok("ip neigh show 10.0.0.100", CMD_TIMEOUT)?;
    let server_mac = t
        .machine("debian")?
        .run_ok("cat /sys/class/net/eth1/address", CMD_TIMEOUT)?;
    ensure!(
        neigh.contains(server_mac.trim()),
        "10.0.0.100 should be at the server's MAC {server_mac} (proxyarp): {neigh}"
    );
    // The server's filter is in force: its FORWARD policy drops, and the
    // accepts are the seed's pairs (counted by the pings above).
    let rules = t
        .machine("debian")?
        .run_ok("iptables -S FORWARD", CMD_TIMEOUT)?;
    ensure!(
        rules.contains("-P FORWARD DROP")
            && rules.contains("-A FORWARD -s 192.168.1.0/24 -d 10.0.0.0/24 -j ACCEPT"),
        "server filter: {rules}"
    );
    let office = t.machine("office")?;
    timed("office back after the server's pppd is killed", || {
        t.machine("debian")?.run_ok("pkill pppd", CMD_TIMEOUT)?;
        office.wait_for("outpostd: tunnel down", Duration::from_secs(60))?;
        office.wait_for("outpostd: tunnel up (", BOOT_TIMEOUT)?;
        ping(&t, "lan-host", "10.0.0.10", Duration::from_secs(60))
    })?;
    // Bad input: the server no longer knows the office's key. The office
    // names the cause (dbclient's words) and keeps retrying.
    timed(
        "the office's key refused by the stock server: named, retried",
        || {
            t.machine("debian")?.run_ok(
                "cp /home/vpn-users/.ssh/authorized_keys /root/authorized_keys.saved && \
             : > /home/vpn-users/.ssh/authorized_keys && pkill pppd",
                CMD_TIMEOUT,
            )?;
            office.wait_for("No auth methods could be used", Duration::from_secs(90))?;
            office.wait_for("retry in", CMD_TIMEOUT)?;
            Ok(())
        },
    )?;
    // Bad input: the server gets a new host key (and knows the office's
    // key again, so the host key is the one cause). The office names the
    // cause in one line (dbclient's own words), keeps retrying with
    // backoff and never trusts the changed key.
    timed(
        "a changed server host key: named, retried, never trusted",
        || {
            let d = t.machine("debian")?;
            d.run_ok(
                "cp /root/authorized_keys.saved /home/vpn-users/.ssh/authorized_keys; \
             pkill -x sshd; rm /etc/ssh/ssh_host_ed25519_key*; \
             ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && \
             /usr/sbin/sshd -E /var/log/sshd.log",
                CMD_TIMEOUT,
            )?;
            office.wait_for("host key mismatch for 172.16.0.1", Duration::from_secs(90))?;
            // Retried after the refused key already; once more here (one
            // more backoff interval would double this check's time).
            office.wait_for("retry in", CMD_TIMEOUT)?;
            let status = office.run_ok("outpostd status", CMD_TIMEOUT)?;
            ensure!(
                !status.contains("tunnel: up"),
                "the office trusted a changed key: {status}"
            );
            Ok(())
        },
    )?;
    Ok(())
}

/// The example concentrator with a home user (its key pair generated by
/// mkoutpost, as `site build` does): `both_ways = false`, its tunnel
/// address inside the private network (the concentrator answers ARP for
/// it there).
fn concentrator_with_home_user(dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir.join("keys"))?;
    let text = fs::read_to_string(example("site/concentrator.toml"))?
        + "\n# A home user's Debian PC (issue 18).\n[[peer]]\nname = \"home1\"\n\
           public_key_file = \"keys/home1.ed25519.pub\"\ntunnel_address = \"10.0.0.50\"\n\
           reach = [\"10.0.0.0/24\"]\nboth_ways = false\n";
    let path = dir.join("concentrator.toml");
    if fs::read_to_string(&path).ok().as_deref() != Some(&text) {
        fs::write(&path, text)?;
    }
    Ok(path)
}

/// `ssh` from the Debian PC with the seed's options and `extra`, its
/// output and status.
fn stock_ssh(t: &Topology, extra: &str, cmd: &str) -> Result<outpost_qemu::Output> {
    Ok(t.machine("debian")?.run(
        &format!(
            "timeout 20 ssh -T -e none -o BatchMode=yes -o StrictHostKeyChecking=yes \
             -o UserKnownHostsFile=/root/vpn/known_hosts {extra} home1@172.16.0.1 {cmd}"
        ),
        CMD_TIMEOUT,
    )?)
}

#[test]
fn a_home_user_s_stock_debian_pc_reaches_an_outpost_concentrator() -> Result<()> {
    let deb = assemble()?;
    let dir = repo().join("target/e2e/interop-head");
    let config = concentrator_with_home_user(&dir)?;
    let (head, private) = timed(
        "concentrator and private host images built (or cached)",
        || {
            let opts = BuildOptions {
                config: config.clone(),
                out_dir: repo().join("target/e2e/interop-head-i486"),
                cpu: Cpu::I486,
                seed: Seed::Random,
            };
            Ok((
                build_with(&opts, "interop concentrator i486")?,
                build_image(&example("site/private-host.toml"), Cpu::I486)?,
            ))
        },
    )?;
    let head_key = fs::read_to_string(dir.join("keys/concentrator.ed25519.pub"))?;
    let cfg = head
        .config
        .concentrator
        .as_ref()
        .context("a concentrator")?;
    let peer = head
        .config
        .peers
        .iter()
        .find(|p| p.name == "home1")
        .context("home1")?;
    let tunnel = openssh::HomeTunnel {
        user: "home1".into(),
        concentrator: "172.16.0.1".parse()?,
        port: cfg.port,
        key: "home1.openssh".into(),
        routes: peer.reach.clone(),
        lcp: (cfg.lcp_echo_interval, cfg.lcp_echo_failure),
    };
    // The key mkoutpost made (dropbear's format) in OpenSSH's, as `site
    // build` writes it into home-NAME/ for Debian's ssh.
    let key = openssh_key::from_dropbear(&fs::read(dir.join("keys/home1.ed25519"))?, "home1")?;
    let known = format!(
        "172.16.0.1 {}\n",
        head_key
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let files = vec![
        ("etc/passwd".to_string(), b"root:x:0:0:root:/root:/bin/sh\n".to_vec(), 0o644),
        ("etc/group".into(), b"root:x:0:\ndip:x:30:\n".to_vec(), 0o644),
        ("root/vpn/home1.openssh".into(), key.into_bytes(), 0o600),
        ("root/vpn/known_hosts".into(), known.into_bytes(), 0o644),
        ("root/vpn/connect-openssh.sh".into(), openssh::connect_script(&tunnel).into_bytes(), 0o755),
        ("root/vpn/ip-up".into(), openssh::ip_up(&tunnel).into_bytes(), 0o755),
        (
            "etc/interop/rc".into(),
            b"#!/bin/sh\nhostname home-pc\nip link set eth0 up && ip addr add 172.16.0.3/24 dev eth0\n".to_vec(),
            0o755,
        ),
    ];
    let work = workdir("interop-home")?;
    let mut t = Topology::new(&work);
    t.add_hub("wan", 2)?;
    t.add_hub("private", 2)?;
    start_debian(&mut t, &deb, &files, &[("wan", 1)])?;
    start_outpost(&mut t, "head", &head, &[("wan", 0), ("private", 0)])?;
    start_outpost(&mut t, "private-host", &private, &[("private", 1)])?;
    timed("Debian home PC booted", || {
        Ok(t.machine("debian")?
            .wait_for("interop: ready", BOOT_TIMEOUT)?)
    })?;
    let h = t.machine("head")?;
    h.wait_for("outpostd: ready", BOOT_TIMEOUT)?;
    t.machine("private-host")?
        .wait_for("outpostd: ready", BOOT_TIMEOUT)?;
    let d = t.machine("debian")?;
    timed("Debian's pppd over Debian's ssh: link up", || {
        Ok(d.run_ok("sh /root/vpn/connect-openssh.sh", Duration::from_secs(90))?)
    })?;
    h.wait_for("outpostd: peer home1 up", CMD_TIMEOUT)?;
    timed(
        "home PC -> private host, answered through proxy ARP",
        || ping(&t, "debian", "10.0.0.10", Duration::from_secs(30)),
    )?;
    let route = d.run_ok("ip route show 10.0.0.0/24", CMD_TIMEOUT)?;
    ensure!(
        route.contains("dev vpn0"),
        "the ip-up hook routes the private network: {route}"
    );
    let arp = t
        .machine("private-host")?
        .run_ok("ip neigh show 10.0.0.50", CMD_TIMEOUT)?;
    let head_mac = h.run_ok("cat /sys/class/net/eth1/address", CMD_TIMEOUT)?;
    ensure!(
        arp.contains(head_mac.trim()),
        "the private host reaches the tunnel address at the concentrator's MAC {head_mac}: {arp}"
    );
    timed("stock ssh with a password: refused, publickey only", || {
        let out = stock_ssh(
            &t,
            "-o PubkeyAuthentication=no -o PasswordAuthentication=yes",
            "true",
        )?;
        ensure!(
            out.status == 255 && out.stdout.contains("Permission denied (publickey)"),
            "{out:?}"
        );
        Ok(())
    })?;
    timed(
        "stock ssh with the key asking for a shell command: refused",
        || {
            let out = stock_ssh(&t, "-i /root/vpn/home1.openssh", "'echo shell-$((6*7))'")?;
            // Authenticated (ssh's own failures are 255) and the forced pppd
            // ran in the command's place: its exit status came back (1: this
            // peer's link is already up), the echo never ran.
            ensure!(
                out.status != 255 && out.status != 0 && !out.stdout.contains("shell-42"),
                "a shell ran, or ssh failed before the forced command: {out:?}"
            );
            Ok(())
        },
    )?;
    timed("stock ssh with an unknown host key: refused", || {
        let out = d.run("timeout 20 ssh -T -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null -i /root/vpn/home1.openssh home1@172.16.0.1 true", CMD_TIMEOUT)?;
        ensure!(
            out.status == 255 && out.stdout.contains("Host key verification failed"),
            "{out:?}"
        );
        Ok(())
    })?;
    Ok(())
}
