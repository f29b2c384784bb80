//! The real `outpostd` binary as init would run it, in throwaway network,
//! UTS and mount namespaces (`unshare`): it prints one ready line, the kernel
//! holds what the config says, SIGHUP re-applies without changing anything,
//! SIGTERM stops it cleanly; a bad config leaves it alive in safe mode.
//! Its files (config, control socket) live in a scratch directory that its
//! boot mounts cannot hide and every user can reach, wherever the checkout is.

mod netns;
mod scratch;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use netns::root_or_skip;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use outpostd::mounts::{is_mount_point, BOOT_MOUNTS};
use scratch::Scratch;

/// Only a guard against a hung test, never a claim about speed.
const HANG_GUARD: Duration = Duration::from_secs(120);

struct Agent {
    child: Child,
    socket: std::path::PathBuf,
    lines: Receiver<(&'static str, String)>,
    seen: Vec<(&'static str, String)>,
}

/// `s` as one word for `sh`.
fn sh_quote(s: &Path) -> String {
    format!("'{}'", s.display().to_string().replace('\'', "'\\''"))
}

/// The agent's boot mounts that would hide `dir` from it: the targets above
/// `dir` that nothing is mounted on yet (it mounts only on those, and on
/// the boot medium's mount point only when it runs the baked-in config,
/// which these tests never do). For a checkout under /tmp, /tmp.
fn mounts_hiding(dir: &Path) -> Vec<PathBuf> {
    let dir = dir.canonicalize().unwrap();
    BOOT_MOUNTS
        .iter()
        .map(|m| m.target)
        .chain([outpostd::medium::MOUNT_POINT])
        .filter_map(|t| Path::new(t).canonicalize().ok())
        .filter(|t| dir.starts_with(t) && !is_mount_point(t).unwrap_or(true))
        .collect()
}

impl Agent {
    /// Starts the agent in fresh namespaces on `config`, its control socket
    /// next to it. Every boot mount that would hide them is made a mount
    /// point first (bound onto itself, in the namespace only): the agent
    /// leaves it alone as it leaves a full system's mounts alone, and
    /// mounts every other one as at boot.
    fn start(config: &Path) -> Agent {
        Agent::start_after(config, "")
    }

    /// [`Agent::start`], running the shell commands `setup` (ending in
    /// `&& `) once the veth pair eth0/eth1 exists.
    fn start_after(config: &Path, setup: &str) -> Agent {
        let socket = config.with_file_name("outpostd.sock");
        let mut script = String::new();
        for target in mounts_hiding(config.parent().unwrap()) {
            let t = sh_quote(&target);
            script.push_str(&format!("mount --bind {t} {t} && "));
        }
        script.push_str(&format!(
            "ip link add eth0 type veth peer name eth1 && {setup}exec {} --config {} --socket {}",
            sh_quote(Path::new(env!("CARGO_BIN_EXE_outpostd"))),
            sh_quote(config),
            sh_quote(&socket)
        ));
        let mut child = Command::new("unshare")
            .args(["--net", "--uts", "--mount", "--propagation", "private"])
            .args(["sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unshare");
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(("stdout", l));
            }
        });
        std::thread::spawn(move || {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx2.send(("stderr", l));
            }
        });
        Agent {
            child,
            socket,
            lines,
            seen: Vec::new(),
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Waits for a line containing `text`, returning it.
    fn wait_for(&mut self, text: &str) -> (&'static str, String) {
        loop {
            match self.lines.recv_timeout(HANG_GUARD) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.1.contains(text) {
                        return l;
                    }
                }
                Err(e) => panic!("no line with {text:?} ({e}); seen: {:#?}", self.seen),
            }
        }
    }

    /// Runs a command inside the agent's namespaces.
    fn run_inside(&self, args: &[&str]) -> String {
        let pid = self.pid().to_string();
        let out = Command::new("nsenter")
            .args(["-t", &pid, "-n", "-u"])
            .args(args)
            .output()
            .expect("nsenter");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The mount points in the agent's mount namespace.
    fn mount_points(&self) -> Vec<String> {
        let info = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.pid())).unwrap();
        info.lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .collect()
    }

    /// Runs `outpostd --socket S WORD` (the console client) and returns
    /// its exit success and stdout.
    fn ask(&self, word: &str) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_outpostd"))
            .arg("--socket")
            .arg(&self.socket)
            .arg(word)
            .output()
            .expect("run client");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn stop(mut self) -> Vec<(&'static str, String)> {
        kill(self.pid(), Signal::SIGTERM).unwrap();
        self.wait_for("stopping (SIGTERM)");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit status {status}");
        self.seen.extend(self.lines.try_iter());
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh scratch directory holding `outpost.toml` = `text`; the
/// directory goes when the guard drops.
fn write_config(name: &str, text: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(name);
    let path = dir.join("outpost.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Runs `cmd`, again while its program is busy being written: a copy made
/// while another test thread forks can stay open for writing in that child
/// until it execs (ETXTBSY).
fn output_of(cmd: &mut Command) -> std::io::Result<Output> {
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            done => return done,
        }
    }
    cmd.output()
}

const GOOD: &str = r#"
[system]
hostname = "lan-host"
role = "host"

[[interface]]
device = "eth0"
address = "192.168.1.10/24"
mtu = 1400

[[route]]
to = "default"
via = "192.168.1.1"
"#;

#[test]
fn boots_to_one_ready_line_reapplies_on_hup_and_stops_on_term() {
    if !root_or_skip("boots_to_one_ready_line_reapplies_on_hup_and_stops_on_term") {
        return;
    }
    let (dir, cfg) = write_config("good", GOOD);
    let prebound = mounts_hiding(dir.path());
    let mut agent = Agent::start(&cfg);
    let (stream, ready) = agent.wait_for("outpostd: ready");
    assert_eq!(stream, "stdout");
    assert_eq!(
        ready,
        "outpostd: ready: hostname lan-host, 1 interface up, 1 route"
    );
    // Its boot mounts are all in place in its namespace; those the host
    // lacked (and the test did not bind) it mounted itself.
    let mounted = agent.mount_points();
    for m in BOOT_MOUNTS {
        assert!(
            mounted.iter().any(|p| p == m.target),
            "{} not mounted: {mounted:?}",
            m.target
        );
        let target = Path::new(m.target);
        let ours = target.canonicalize().is_ok_and(|t| prebound.contains(&t));
        if !is_mount_point(target).unwrap_or(true) && !ours {
            let line = format!("outpostd: mounted {} on {}", m.fstype, m.target);
            assert!(
                agent.seen.iter().any(|(_, l)| *l == line),
                "no {line:?}: {:#?}",
                agent.seen
            );
        }
    }

    assert_eq!(agent.run_inside(&["hostname"]).trim(), "lan-host");
    let addr = agent.run_inside(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(addr.contains("inet 192.168.1.10/24"), "{addr}");
    let link = agent.run_inside(&["ip", "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains("mtu 1400") && link.contains(",UP"), "{link}");
    let lo = agent.run_inside(&["ip", "-o", "link", "show", "dev", "lo"]);
    assert!(lo.contains(",UP") || lo.contains("<LOOPBACK,UP"), "{lo}");
    let default = agent.run_inside(&["ip", "-4", "route", "show", "default"]);
    assert!(
        default.starts_with("default via 192.168.1.1 dev eth0"),
        "{default}"
    );

    kill(agent.pid(), Signal::SIGHUP).unwrap();
    agent.wait_for("re-applied, nothing changed");

    // The console client over the control socket.
    let (ok, status) = agent.ask("status");
    assert!(ok, "{status}");
    assert!(status.contains("state: running"), "{status}");
    assert!(status.contains("hostname: lan-host (host)"), "{status}");
    assert!(
        status.contains("eth0: up mtu 1400 192.168.1.10/24"),
        "{status}"
    );
    // Every card: eth0 is the interface's (up, its peer down: no carrier),
    // its veth peer eth1 nobody's.
    let card = |l: &&str, name: &str| l.starts_with(&format!("card {name}: veth, "));
    assert!(
        status
            .lines()
            .any(|l| card(&l, "eth0") && l.ends_with(", no link, interface eth0")),
        "{status}"
    );
    assert!(
        status
            .lines()
            .any(|l| card(&l, "eth1") && l.ends_with(", down, unused")),
        "{status}"
    );
    let (ok, log) = agent.ask("log");
    assert!(ok);
    assert!(log.contains("outpostd: ready: hostname lan-host"), "{log}");
    assert!(
        log.contains("outpostd: eth0: address 192.168.1.10/24"),
        "{log}"
    );
    let (ok, check) = agent.ask("check");
    assert!(ok && check.contains(": ok: host `lan-host`"), "{check}");
    let (ok, reset) = agent.ask("reset");
    assert!(
        ok && reset.starts_with("applied: hostname lan-host"),
        "{reset}"
    );
    // The firewall outpostd loaded, as nft text, and the kernel agrees.
    let (ok, rules) = agent.ask("rules");
    assert!(ok, "{rules}");
    assert!(rules.contains("table ip outpost {"), "{rules}");
    assert!(
        rules.contains("kernel: matches what outpostd loaded"),
        "{rules}"
    );
    let listed = agent.run_inside(&["nft", "list", "table", "ip", "outpost"]);
    assert!(
        listed.contains("type filter hook input priority filter;"),
        "{listed}"
    );
    // A host does not forward, firewall or not.
    assert_eq!(
        agent
            .run_inside(&["cat", "/proc/sys/net/ipv4/ip_forward"])
            .trim(),
        "0"
    );
    // Someone changes the rules behind outpostd's back: `rules` says so.
    agent.run_inside(&["nft", "add", "rule", "ip", "outpost", "input", "accept"]);
    let (ok, rules) = agent.ask("rules");
    assert!(!ok, "drift not reported: {rules}");
    assert!(rules.contains("kernel: DIFFERS"), "{rules}");
    // Anyone but root is turned away: nobody runs a copy of the client (the
    // build's may be out of its reach) and reaches the socket's directory
    // (Scratch checks), so what refuses it is the socket's own mode.
    let client = dir.copy_program(Path::new(env!("CARGO_BIN_EXE_outpostd")), "outpostd-client");
    let nobody = output_of(
        Command::new(&client)
            .arg("--socket")
            .arg(&agent.socket)
            .arg("log")
            .uid(65534)
            .gid(65534),
    )
    .expect("run client as nobody");
    assert!(!nobody.status.success());
    assert!(nobody.stdout.is_empty(), "{nobody:?}");
    assert!(
        String::from_utf8_lossy(&nobody.stderr).contains("Permission denied"),
        "{nobody:?}"
    );
    let mode = std::fs::metadata(&agent.socket).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    let socket = agent.socket.clone();
    let seen = agent.stop();
    assert!(!socket.exists(), "control socket left behind");
    let readies = seen
        .iter()
        .filter(|(_, l)| l.starts_with("outpostd: ready"))
        .count();
    assert_eq!(readies, 1, "{seen:#?}");
    for (_, l) in &seen {
        assert!(l.starts_with("outpostd: "), "unprefixed line {l:?}");
    }
}

#[test]
fn bad_config_keeps_it_alive_in_safe_mode_until_fixed() {
    if !root_or_skip("bad_config_keeps_it_alive_in_safe_mode_until_fixed") {
        return;
    }
    let (_dir, cfg) = write_config("bad", &GOOD.replace("192.168.1.10/24", "192.168.1.300/24"));
    let mut agent = Agent::start(&cfg);
    let (_, diag) = agent.wait_for("192.168.1.300");
    assert!(
        diag.contains(&format!("{}:8:", cfg.display())),
        "diagnostic without file:line: {diag}"
    );
    agent.wait_for("safe mode");
    let lo = agent.run_inside(&["ip", "-o", "link", "show", "dev", "lo"]);
    assert!(lo.contains("UP"), "{lo}");
    assert_eq!(
        agent
            .run_inside(&["cat", "/proc/sys/net/ipv4/ip_forward"])
            .trim(),
        "0"
    );

    let (ok, check) = agent.ask("check");
    assert!(!ok && check.contains("192.168.1.300"), "{check}");
    let (_, status) = agent.ask("status");
    assert!(status.contains("state: safe mode"), "{status}");

    // Fixing the file and sending SIGHUP brings the box up.
    std::fs::write(&cfg, GOOD).unwrap();
    kill(agent.pid(), Signal::SIGHUP).unwrap();
    let (stream, _) = agent.wait_for("outpostd: ready: hostname lan-host");
    assert_eq!(stream, "stdout");
    agent.stop();
}

#[test]
fn cards_named_by_mac_are_renamed_at_boot_and_not_again_on_hup() {
    if !root_or_skip("cards_named_by_mac_are_renamed_at_boot_and_not_again_on_hup") {
        return;
    }
    // The kernel "probed" them the other way round: lan's card is eth1.
    let (_dir, cfg) = write_config("cards", CARDS);
    let mut agent = Agent::start_after(
        &cfg,
        "ip link set eth0 address 52:54:00:bb:00:02 && ip link set eth1 address 52:54:00:bb:00:01 && ",
    );
    agent.wait_for("outpostd: card 52:54:00:bb:00:01 (was eth1) is now eth0 (lan)");
    agent.wait_for("outpostd: ready: hostname lan-host, 2 interfaces up");
    let link = agent.run_inside(&["ip", "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains("link/ether 52:54:00:bb:00:01"), "{link}");
    let addr = agent.run_inside(&["ip", "-o", "-4", "addr", "show", "dev", "eth0"]);
    assert!(addr.contains("inet 192.168.1.10/24"), "{addr}");
    // Both ends up: carrier, once the kernel's linkwatch has run (≤ 1 s).
    let want = [
        "card eth0: veth, 52:54:00:bb:00:01, link up, interface lan",
        "card eth1: veth, 52:54:00:bb:00:02, link up, interface wan",
    ];
    let deadline = std::time::Instant::now() + HANG_GUARD;
    loop {
        let (ok, status) = agent.ask("status");
        assert!(ok, "{status}");
        if want.iter().all(|w| status.contains(w)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status}");
        std::thread::sleep(Duration::from_millis(50));
    }

    kill(agent.pid(), Signal::SIGHUP).unwrap();
    agent.wait_for("re-applied, nothing changed");
    let seen = agent.stop();
    let renames = seen
        .iter()
        .filter(|(_, l)| l.starts_with("outpostd: card "))
        .count();
    assert_eq!(renames, 2, "renamed again on SIGHUP? {seen:#?}");
}

const CARDS: &str = r#"
[system]
hostname = "lan-host"
role = "host"

[[interface]]
name = "lan"
device = "eth0"
mac = "52:54:00:bb:00:01"
address = "192.168.1.10/24"

[[interface]]
name = "wan"
device = "eth1"
mac = "52:54:00:bb:00:02"
address = "10.0.0.2/24"
"#;
