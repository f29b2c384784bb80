//! Issue 6: the whole example site (`examples/sites/demo.toml`) in QEMU,
//! rehearsed by the product's own code and checked on the guests
//! themselves. The site boots once (five guests on two cores are slow) and
//! one test runs every check in order, printing a line per check and the
//! measured times: tunnel up by itself, the rehearsal's accept/deny matrix
//! and explicit tests as packets, a 1 MB transfer both ways, no tunnel for
//! internet traffic, the concentrator's drops, refused logins, then the
//! four faults, each followed by recovery checks. Times are printed, never
//! asserted.

use std::time::{Duration, Instant};

use mkoutpost::rehearse::{self, report};
use outpost_qemu::Machine;
use outpost_tests::faults::{self, Fault};
use outpost_tests::site::{
    all_faults, mark, ping_until, wait_after, Site, CONCENTRATOR, CONCENTRATOR_WAN_IP,
    INTERNET_HOST, INTERNET_IP, LAN_HOST, LAN_IP, OFFICE, OFFICE_WAN_IP, PRIVATE_HOST, PRIVATE_IP,
};
use outpost_tests::transfer::{self, wait_listening};
use outpost_tests::{workdir, CMD_TIMEOUT};

fn ok(m: &Machine, cmd: &str) -> String {
    m.run_ok(cmd, CMD_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

fn check(name: &str, t: Instant) {
    eprintln!("site: ok   {name} ({:.1} s)", t.elapsed().as_secs_f64());
}

/// ICMP echo requests the guest has received so far (its kernel's own count).
fn in_echos(m: &Machine) -> u64 {
    let out = ok(m, "grep '^Icmp:' /proc/net/snmp");
    let mut lines = out.lines();
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        panic!("{}: unexpected /proc/net/snmp:\n{out}", m.name())
    };
    let at = names
        .split_whitespace()
        .position(|n| n == "InEchos")
        .expect("InEchos column");
    values
        .split_whitespace()
        .nth(at)
        .and_then(|v| v.parse().ok())
        .expect("InEchos value")
}

/// Transfers 1 MB of random data from `from` to `to` (listening on `port`)
/// with busybox nc and compares the sha256 on both sides.
fn transfer(from: &Machine, to: &Machine, to_ip: &str, port: u16) {
    ok(
        from,
        "dd if=/dev/urandom of=/tmp/data bs=1k count=1024 2>/dev/null",
    );
    let sent = ok(from, "sha256sum < /tmp/data");
    ok(to, "rm -f /tmp/sum");
    transfer::listen(to, port, "sha256sum > /tmp/sum").unwrap();
    transfer::send(from, "/tmp/data", to_ip, port).unwrap();
    let got = transfer::wait_file(to, "/tmp/sum").unwrap();
    transfer::stop_listeners(to).unwrap();
    assert_eq!(
        sent.trim(),
        got.trim(),
        "1 MB from {} to {} arrived changed",
        from.name(),
        to.name()
    );
}

/// How many pppd sessions run on `m`: a pppd run with `notty` (the
/// concentrator's forced command) forks a helper that copies between the ssh
/// channel and its pty, so only pppds whose parent is not a pppd count.
fn pppd_sessions(m: &Machine) -> String {
    ok(
        m,
        "n=0; for p in $(pidof pppd); do pp=$(awk '/^PPid:/{print $2}' /proc/$p/status); \
         [ \"$(cat /proc/$pp/comm 2>/dev/null)\" = pppd ] || n=$((n+1)); done; echo $n",
    )
    .trim()
    .to_string()
}

/// No zombies, exactly one pppd on each router, exactly one route to the
/// other side and it goes through the tunnel. A zombie may exist for an
/// instant between a child's exit and its reaping: only one that stays counts.
fn clean_state(site: &Site) {
    for name in [OFFICE, CONCENTRATOR] {
        let m = site.machine(name).unwrap();
        let mut zombies = String::new();
        for _ in 0..5 {
            zombies = ok(m, "ps | awk '$4 ~ /^Z/'");
            if zombies.trim().is_empty() {
                break;
            }
            ok(m, "sleep 2");
        }
        assert!(
            zombies.trim().is_empty(),
            "{name}: zombies stay:\n{zombies}\n{}",
            ok(m, "ps")
        );
        let sessions = pppd_sessions(m);
        assert_eq!(
            sessions,
            "1",
            "{name}: pppd sessions: {sessions:?}\n{}",
            ok(m, "ps")
        );
    }
    let office = ok(site.machine(OFFICE).unwrap(), "ip route");
    let to_private: Vec<&str> = office
        .lines()
        .filter(|l| l.starts_with("10.0.0.0/24"))
        .collect();
    assert!(
        to_private.len() == 1 && to_private[0].contains("dev vpn0"),
        "office: routes to 10.0.0.0/24 should be one, through vpn0:\n{office}"
    );
    let head = ok(site.machine(CONCENTRATOR).unwrap(), "ip route");
    let to_lan: Vec<&str> = head
        .lines()
        .filter(|l| l.starts_with("192.168.1.0/24"))
        .collect();
    assert!(
        to_lan.len() == 1 && to_lan[0].contains("dev vpn-office1"),
        "concentrator: routes to 192.168.1.0/24 should be one, through vpn-office1:\n{head}"
    );
}

/// Injects `fault` (the tunnel comes back by itself and both ways reach
/// again, or the injection fails), prints its times and checks the state is clean.
fn fault_and_recovery(site: &mut Site, fault: Fault) {
    let name = fault.describe();
    let t = Instant::now();
    let r = faults::inject(&mut site.running, &fault).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    if let Fault::WanCut(..) = fault {
        eprintln!(
            "site: time WAN restored -> tunnel up {:.1} s",
            r.tunnel_up.saturating_sub(r.over).as_secs_f64()
        );
    }
    if let Some(ready) = r.concentrator_ready {
        eprintln!(
            "site: time concentrator ready again {:.1} s after power-cycle",
            ready.as_secs_f64()
        );
    }
    eprintln!(
        "site: time {name}: office noticed {:.1} s, tunnel back {:.1} s, both ways reachable {:.1} s after the fault ({})",
        r.detected.as_secs_f64(),
        r.tunnel_up.as_secs_f64(),
        r.reachable.as_secs_f64(),
        r.up_line.trim()
    );
    clean_state(site);
    check(
        &format!("{name}: recovered, no zombies, one pppd, no stale routes"),
        t,
    );
}

/// udhcpd's config for a server on the internet host's WAN offering `start`
/// with `lease` seconds and `router`.
fn bogus_udhcpd(start: &str, router: &str, lease: u32) -> String {
    format!(
        "interface eth0\nstart {start}\nend {start}\noption subnet 255.255.255.0\noption router {router}\noption lease {lease}\nlease_file /tmp/bogus.leases\npidfile /tmp/bogus.pid\n"
    )
}

/// The ISP's real DHCP server replaced by one offering an address on the
/// tunnel's network, then a zero lease: the office refuses each, says so
/// on its console and in status, keeps asking (after its backoff) with its
/// tunnel waiting; once the real server is back it is leased again and
/// the tunnel returns.
fn dhcp_nonsense_refused(site: &Site) {
    let t = Instant::now();
    let office = site.machine(OFFICE).unwrap();
    let internet = site.machine(INTERNET_HOST).unwrap();
    // The rehearsal's server off: its section is the config's last.
    ok(
        internet,
        "cp /etc/outpost.toml /tmp/good.toml && sed -i '/^# The DHCP offices/,$d' /etc/outpost.toml && outpostd reset",
    );
    let rounds = [
        (
            bogus_udhcpd("10.0.0.50", "10.0.0.1", 60),
            "refused: 10.0.0.50/24 lies on the tunnel network 10.0.0.0/24",
        ),
        (
            bogus_udhcpd(OFFICE_WAN_IP, INTERNET_IP, 0),
            "refused: a zero lease",
        ),
    ];
    for (i, (conf, refusal)) in rounds.iter().enumerate() {
        let from = mark(office);
        ok(
            internet,
            &format!(
                "printf '{}' > /tmp/bogus.conf && udhcpd /tmp/bogus.conf",
                conf.replace('\n', "\\n")
            ),
        );
        if i == 0 {
            // A fresh start: the office forgets its lease and asks anew.
            ok(office, "killall udhcpc");
        }
        // Refused, and asked again: refused a second time.
        let first = wait_after(office, from, refusal, faults::LEASE_TIMEOUT)
            .unwrap_or_else(|e| panic!("office never refused `{refusal}`: {e:#}"));
        let text = office.console().transcript();
        let after_first = text
            .get(from..)
            .and_then(|t| t.find(first.trim()))
            .map_or(from, |i| from + i + first.trim().len());
        wait_after(office, after_first, refusal, faults::LEASE_TIMEOUT)
            .unwrap_or_else(|e| panic!("office did not ask again after `{refusal}`: {e:#}"));
        let status = ok(office, "outpostd status");
        assert!(
            status.contains("dhcp client wan (eth1): no lease; last refused: ")
                && status.contains(refusal)
                && status.contains("tunnel: waiting for a DHCP lease"),
            "office status after `{refusal}`:\n{status}"
        );
        ok(internet, "killall udhcpd");
    }
    let from = mark(office);
    let head_from = mark(site.machine(CONCENTRATOR).unwrap());
    ok(
        internet,
        "cp /tmp/good.toml /etc/outpost.toml && outpostd reset",
    );
    site.wait_tunnel(from, head_from)
        .expect("the tunnel back once the real DHCP server is");
    site.both_ways().expect("both ways after the real lease");
    check(
        "DHCP nonsense (an address on the tunnel network, a zero lease) refused, retried, the tunnel waiting; leased again once the server is sane",
        t,
    );
}

/// The concentrator's name (looked up at each connect through the lease's
/// DNS server, the internet host's dnsd) made to resolve inside the tunnel
/// network: the office refuses it at its next connect, says so, and
/// retries; with the record fixed the tunnel returns.
fn concentrator_name_refused_on_a_tunnel_network(site: &Site) {
    let t = Instant::now();
    let office = site.machine(OFFICE).unwrap();
    let internet = site.machine(INTERNET_HOST).unwrap();
    let name = "vpn.example.com";
    assert!(
        office.console().transcript().contains(&format!(
            "outpostd: the concentrator {name} is {CONCENTRATOR_WAN_IP}"
        )),
        "the office never looked the concentrator's name up"
    );
    let dnsd = |addr: &str| {
        let records = [(name.to_string(), addr.parse().unwrap())];
        ok(
            internet,
            &format!(
                "killall dnsd; {}",
                mkoutpost::rehearse::boot::dnsd_command(&records)
            ),
        );
    };
    dnsd("10.0.0.5");
    let from = mark(office);
    ok(office, "killall dbclient");
    let refusal =
        format!("refused: {name} resolves to 10.0.0.5, inside the tunnel network 10.0.0.0/24");
    wait_after(office, from, &refusal, faults::DETECT_TIMEOUT)
        .unwrap_or_else(|e| panic!("office never refused `{refusal}`: {e:#}"));
    let status = ok(office, "outpostd status");
    assert!(
        status.contains(&format!("last down: {refusal}")),
        "office status:\n{status}"
    );
    let from = mark(office);
    let head_from = mark(site.machine(CONCENTRATOR).unwrap());
    dnsd(CONCENTRATOR_WAN_IP);
    site.wait_tunnel(from, head_from)
        .expect("the tunnel back once the name resolves sanely");
    site.both_ways().expect("both ways after the name is fixed");
    check(
        "concentrator by name: looked up through the lease's DNS server; an answer inside the tunnel network refused, retried",
        t,
    );
}

#[test]
fn whole_site() {
    let t0 = Instant::now();
    let work = workdir("site").unwrap();
    let mut site = Site::boot(&work).expect("site boots");
    eprintln!(
        "site: time images {:.1} s, all five guests ready {:.1} s after start",
        site.build_time.as_secs_f64(),
        site.ready_time.as_secs_f64()
    );

    // The tunnel comes up by itself.
    let t = Instant::now();
    let line = site.wait_tunnel(0, 0).expect("tunnel comes up by itself");
    eprintln!(
        "site: time boot-to-tunnel {:.1} s from QEMU start ({})",
        site.started.elapsed().as_secs_f64(),
        line.trim()
    );
    check("tunnel up by itself", t);

    // The rehearsal's matrix: every pair the policy derives, and the site
    // file's explicit tests, as pings and TCP connections.
    let t = Instant::now();
    let lines = rehearse::run_checks(&site.running, &mut |l| eprintln!("site: {l}")).unwrap();
    let table = report::table(&lines);
    eprint!("{table}");
    assert!(
        lines.iter().all(|l| l.ok),
        "the rehearsal's matrix:\n{table}"
    );
    assert_eq!(
        lines.len(),
        7,
        "3 derived pairs and 4 explicit tests:\n{table}"
    );
    check(
        "the rehearsal's accept/deny matrix and explicit tests as packets",
        t,
    );

    let office = site.machine(OFFICE).unwrap();
    let head = site.machine(CONCENTRATOR).unwrap();
    // Footprint on the 16 MB office with the tunnel up (printed, not asserted).
    eprintln!(
        "site: mem  office ({} MB): outpostd {}; {}",
        outpost_tests::site::OFFICE_MEMORY_MIB,
        ok(office, "grep -E 'VmRSS|VmHWM' /proc/$(pidof outpostd)/status | tr -s ' \\t' ' ' | tr '\\n' ' '").trim(),
        ok(office, "free | awk '/^Mem:/{print \"free \" $4 \" kB, available \" $7 \" kB\"}'").trim()
    );
    eprintln!(
        "site: mem  office: udhcpc {}; udhcpd {}",
        ok(
            office,
            "grep VmRSS /proc/$(pidof udhcpc)/status | tr -s ' \t' ' '"
        )
        .trim(),
        ok(
            office,
            "grep VmRSS /proc/$(pidof udhcpd)/status | tr -s ' \t' ' '"
        )
        .trim()
    );
    let lan = site.machine(LAN_HOST).unwrap();
    let private = site.machine(PRIVATE_HOST).unwrap();
    let internet = site.machine(INTERNET_HOST).unwrap();

    // DHCP both sides of the office: its WAN leased by the ISP (the
    // internet host's udhcpd), its LAN host leased by its own udhcpd.
    let t = Instant::now();
    let status = ok(office, "outpostd status");
    let wan_lease = format!(
        "dhcp client wan (eth1): lease {OFFICE_WAN_IP}/24 via {INTERNET_IP} from {INTERNET_IP}"
    );
    assert!(
        status.contains(&wan_lease) && status.contains("expires in"),
        "office status lacks `{wan_lease}, expires in`:\n{status}"
    );
    assert!(
        status.contains("dhcp server lan (eth0): 192.168.1.10-192.168.1.99, lease 86400 s"),
        "office status:\n{status}"
    );
    let host_status = ok(lan, "outpostd status");
    assert!(
        host_status.contains(&format!(
            "dhcp client eth0 (eth0): lease {LAN_IP}/24 via 192.168.1.1 from 192.168.1.1"
        )),
        "{LAN_HOST} status:\n{host_status}"
    );
    // DNS servers: the WAN lease's for the office itself, and handed on
    // by its udhcpd to the LAN.
    // A LAN host that asked before the office had its WAN lease got none
    // and a short lease: it has them once it renews.
    let want = format!("nameserver {INTERNET_IP}");
    for (m, name) in [(office, OFFICE), (lan, LAN_HOST)] {
        let deadline = Instant::now() + Duration::from_secs(2 * 120 + 30);
        let mut resolv = ok(m, "cat /etc/resolv.conf");
        while !resolv.contains(&want) && Instant::now() < deadline {
            ok(m, "sleep 5");
            resolv = ok(m, "cat /etc/resolv.conf");
        }
        assert!(
            resolv.contains(&want),
            "{name}: /etc/resolv.conf lacks the WAN lease's DNS server:\n{resolv}"
        );
    }
    check(
        "DHCP: the office's WAN lease with its expiry, the LAN host leased by the office, the lease's DNS server handed on",
        t,
    );

    let t = Instant::now();
    site.both_ways().unwrap();
    check("host-office1 <-> host-private ping both ways", t);
    clean_state(&site);

    let t = Instant::now();
    transfer(lan, private, PRIVATE_IP, 5001);
    check("1 MB host-office1 -> host-private, sha256 matches", t);
    let t = Instant::now();
    transfer(private, lan, LAN_IP, 5002);
    check("1 MB host-private -> host-office1, sha256 matches", t);

    // Internet traffic leaves by the WAN, masqueraded: the internet host
    // sees the office's WAN address as the peer, and the office routes it by eth1.
    let t = Instant::now();
    let route = ok(office, &format!("ip route get {INTERNET_IP}"));
    assert!(
        route.contains("dev eth1") && !route.contains("vpn0"),
        "office routes {INTERNET_IP}: {route}"
    );
    ping_until(lan, INTERNET_IP, 5).unwrap();
    ok(
        internet,
        "(sleep 60 | nc -l -p 5003 >/dev/null) >/dev/null 2>&1 &",
    );
    wait_listening(internet, 5003).unwrap();
    ok(
        lan,
        &format!("(sleep 30 | nc {INTERNET_IP} 5003) >/dev/null 2>&1 &"),
    );
    let mut conns = String::new();
    for _ in 0..20 {
        conns = ok(
            internet,
            "netstat -tn | grep ':5003 ' | grep ESTABLISHED || true",
        );
        if !conns.trim().is_empty() {
            break;
        }
        ok(internet, "sleep 1");
    }
    assert!(
        conns.contains(&format!(" {OFFICE_WAN_IP}:")) && !conns.contains(LAN_IP),
        "the internet host should see the office's WAN address as the peer:\n{conns}"
    );
    let _ = lan.run("pkill -f 'sleep 30'", CMD_TIMEOUT);
    let _ = internet.run("pkill -f 'sleep 60'", CMD_TIMEOUT);
    check(
        "office LAN -> internet leaves by the WAN, masqueraded (peer seen as 172.16.0.2)",
        t,
    );

    // The concentrator drops VPN -> non-private destinations. The office's
    // tunnel address reaches the private host through vpn0 (so the probe
    // does enter the tunnel) but not the internet host.
    let t = Instant::now();
    let before = in_echos(private);
    ok(office, &format!("ping -c 2 -W 3 -I vpn0 {PRIVATE_IP}"));
    assert!(
        in_echos(private) >= before + 2,
        "the -I vpn0 probe did not cross the tunnel"
    );
    let before = in_echos(internet);
    let out = office
        .run(
            &format!("ping -c 3 -W 2 -I vpn0 {INTERNET_IP}"),
            CMD_TIMEOUT,
        )
        .unwrap();
    assert_ne!(out.status, 0, "VPN -> internet answered:\n{}", out.stdout);
    assert_eq!(
        in_echos(internet),
        before,
        "VPN -> the internet host was forwarded by the concentrator"
    );
    check("concentrator drops VPN -> non-private destinations", t);

    // Internet -> private network and -> office LAN, sent to the concentrator.
    let t = Instant::now();
    ok(
        internet,
        "ip route add 10.0.0.0/24 via 172.16.0.1 && ip route add 192.168.1.0/24 via 172.16.0.1",
    );
    let before = in_echos(private);
    let out = internet
        .run(&format!("ping -c 3 -W 2 {PRIVATE_IP}"), CMD_TIMEOUT)
        .unwrap();
    assert_ne!(
        out.status, 0,
        "internet -> private answered:\n{}",
        out.stdout
    );
    assert_eq!(
        in_echos(private),
        before,
        "internet -> host-private was forwarded"
    );
    let before = in_echos(lan);
    let out = internet
        .run(&format!("ping -c 3 -W 2 {LAN_IP}"), CMD_TIMEOUT)
        .unwrap();
    assert_ne!(
        out.status, 0,
        "internet -> office LAN answered:\n{}",
        out.stdout
    );
    assert_eq!(
        in_echos(lan),
        before,
        "internet -> host-office1 was forwarded by the concentrator"
    );
    ok(
        internet,
        "ip route del 10.0.0.0/24 && ip route del 192.168.1.0/24",
    );
    // And straight at the office router's WAN side: its own policy.
    ok(
        internet,
        &format!("ip route add 192.168.1.0/24 via {OFFICE_WAN_IP}"),
    );
    let before = in_echos(lan);
    let _ = internet
        .run(&format!("ping -c 3 -W 2 {LAN_IP}"), CMD_TIMEOUT)
        .unwrap();
    assert_eq!(
        in_echos(lan),
        before,
        "internet -> host-office1 was forwarded by the office"
    );
    ok(internet, "ip route del 192.168.1.0/24");
    check("internet -> private network and -> office LAN dropped", t);

    // Password logins: dropbear offers none, so a client without the
    // account's key is refused outright (a password prompt would hang until `timeout`).
    let t = Instant::now();
    for user in ["root", "office1"] {
        let out = office
            .run(
                &format!("HOME=/run/outpost/ssh timeout 60 dbclient -T {user}@172.16.0.1 true </dev/null 2>&1"),
                Duration::from_secs(90),
            )
            .unwrap();
        assert_ne!(
            out.status, 0,
            "{user} logged in without a key:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("No auth methods could be used")
                && !out.stdout.to_lowercase().contains("password:"),
            "{user}: expected a refusal without a password prompt:\n{}",
            out.stdout
        );
    }
    assert_ne!(
        internet
            .run("which dbclient ssh", CMD_TIMEOUT)
            .unwrap()
            .status,
        0
    );
    check(
        "password logins refused (no password method offered); internet host has no client or key",
        t,
    );

    // The VPN account cannot run what it asks for: its key logs in (the
    // concentrator's dropbear says so), yet `/bin/sh -c id` never runs —
    // the key's forced command (its pppd) runs instead. With the tunnel up,
    // that second pppd cannot take `vpn-office1` and ends at once, so the
    // proof is the login plus the absence of the command's output.
    let t = Instant::now();
    let key = ok(
        office,
        "ps w | sed -n 's/.*dbclient -T -i \\([^ ]*\\) .*/\\1/p' | head -n 1",
    );
    assert!(
        !key.trim().is_empty(),
        "no dbclient -i in office's ps:\n{}",
        ok(office, "ps w")
    );
    let from = mark(head);
    let out = office
        .run(
            &format!(
                "sleep 3 | HOME=/run/outpost/ssh timeout 20 dbclient -T -i {} office1@172.16.0.1 /bin/sh -c id 2>&1 | tr '\\000-\\011\\013-\\037\\177-\\377' '.' | head -c 600",
                key.trim()
            ),
            Duration::from_secs(60),
        )
        .unwrap();
    wait_after(
        head,
        from,
        "Pubkey auth succeeded for 'office1'",
        Duration::from_secs(30),
    )
    .expect("the office's key logs in as office1");
    assert!(
        !out.stdout.contains("uid="),
        "the VPN account ran a shell command:\n{}",
        out.stdout
    );
    // That extra pppd ends with its session; the real tunnel is untouched.
    let mut clean = false;
    for _ in 0..30 {
        if pppd_sessions(head) == "1" {
            clean = true;
            break;
        }
        ok(head, "sleep 2");
    }
    assert!(
        clean,
        "the forced pppd outlived its session:\n{}",
        ok(head, "ps")
    );
    ping_until(lan, PRIVATE_IP, 10).unwrap();
    check(
        "VPN account gets no shell: `/bin/sh -c id` ran the forced pppd",
        t,
    );

    // The four faults, each followed by recovery checks.
    for fault in all_faults() {
        fault_and_recovery(&mut site, fault);
    }

    // A DHCP server offering nonsense is refused and retried; then the ISP
    // renumbers the office while its tunnel is up.
    dhcp_nonsense_refused(&site);
    concentrator_name_refused_on_a_tunnel_network(&site);
    fault_and_recovery(&mut site, Fault::LeaseChanged(OFFICE.into()));

    site.shutdown().unwrap();
    eprintln!(
        "site: all checks passed in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}
