//! `make demo`: builds the example site (examples/sites/demo.toml) as
//! `mkoutpost site rehearse` does, boots it in QEMU
//! and narrates what happens in a few lines — tunnel up, a ping through it,
//! a fault (dbclient killed on the office) and the recovery — then prints a
//! summary, shuts every guest down and exits. It ends cleanly; it does not
//! leave you at a console (`mkoutpost run` does that for one router).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use outpost_tests::site::{
    mark, ping_until, wait_after, Site, CONCENTRATOR, LAN_HOST, OFFICE, PRIVATE_HOST, TUNNEL_DOWN,
};
use outpost_tests::CMD_TIMEOUT;

const HELP: &str = "\
outpost-demo: the example site in QEMU, narrated

Builds the example site file examples/sites/demo.toml as `mkoutpost site
rehearse` does, for i486: its two routers (office1, head) and the
rehearsal's three test hosts (one on the office LAN, one on the head
office's private network, one on the WAN standing for the internet),
boots them under
`-cpu 486` linked over 127.0.0.1-only sockets, and tells what happens:
the tunnel coming up by itself, a ping through it both ways, dbclient
killed on the office and the tunnel coming back. Then it prints a summary,
shuts the guests down and exits (status 0 when every step worked).
It does not leave you at a console: `mkoutpost run DIR` boots one router
interactively; `mkoutpost site rehearse --keep` keeps a whole site up.
Consoles are logged under the work directory it prints.

usage: outpost-demo [--help]";

fn main() {
    if std::env::args().skip(1).any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return;
    }
    if let Some(a) = std::env::args().nth(1) {
        eprintln!("outpost-demo: unknown argument {a:?}\n\n{HELP}");
        std::process::exit(2);
    }
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("outpost-demo: failed: {e:#}");
            std::process::exit(1);
        }
    }
}

fn say(t0: Instant, what: &str) {
    println!("[{:6.1} s] {what}", t0.elapsed().as_secs_f64());
}

fn run() -> Result<()> {
    let t0 = Instant::now();
    let work = outpost_tests::workdir("demo")?;
    say(
        t0,
        "building the example site (5 images, i486; cached after the first time)...",
    );
    let site = Site::boot(&work).context("booting the site")?;
    say(
        t0,
        &format!(
            "images ready in {:.0} s; 5 guests booted under -cpu 486, all ready {:.1} s after start (consoles: {})",
            site.build_time.as_secs_f64(),
            site.ready_time.as_secs_f64(),
            work.display()
        ),
    );

    let line = site.wait_tunnel(0, 0)?;
    let boot_to_tunnel = site.started.elapsed();
    say(
        t0,
        &format!(
            "tunnel up {:.1} s after power-on, by itself: {}",
            boot_to_tunnel.as_secs_f64(),
            line.trim()
        ),
    );

    let lan = site.machine(LAN_HOST)?;
    let private = site.machine(PRIVATE_HOST)?;
    ping_until(lan, "10.0.0.10", 30)?;
    let rtt = lan.run_ok("ping -c 3 10.0.0.10 | tail -n 1", CMD_TIMEOUT)?;
    say(
        t0,
        &format!(
            "host-office1 192.168.1.10 -> host-private 10.0.0.10 through the tunnel: {}",
            rtt.trim()
        ),
    );
    ping_until(private, "192.168.1.10", 30)?;
    say(t0, "host-private -> host-office1 answers too");

    let office = site.machine(OFFICE)?;
    let head = site.machine(CONCENTRATOR)?;
    let (o, h) = (mark(office), mark(head));
    let fault = Instant::now();
    say(t0, "fault: killing dbclient on the office router (the seed's vpnd would notice within 10 minutes)");
    office.run_ok("killall dbclient", CMD_TIMEOUT)?;
    let down = wait_after(office, o, TUNNEL_DOWN, Duration::from_secs(60))?;
    say(t0, &format!("office says: {}", down.trim()));
    let up = site.wait_tunnel(o, h)?;
    let recovery = fault.elapsed();
    say(
        t0,
        &format!(
            "tunnel back {:.1} s after the fault: {}",
            recovery.as_secs_f64(),
            up.trim()
        ),
    );
    ping_until(lan, "10.0.0.10", 30)?;
    ping_until(private, "192.168.1.10", 30)?;
    let both = fault.elapsed();
    say(
        t0,
        &format!(
            "both ways reachable again {:.1} s after the fault",
            both.as_secs_f64()
        ),
    );
    let pppd = office.run_ok("pidof pppd", CMD_TIMEOUT)?;
    if pppd.split_whitespace().count() != 1 {
        bail!(
            "office runs {} pppd after recovery",
            pppd.split_whitespace().count()
        );
    }

    println!();
    println!("summary:");
    println!(
        "  site booted (5 guests ready)     {:6.1} s",
        site.ready_time.as_secs_f64()
    );
    println!(
        "  power-on to tunnel up            {:6.1} s",
        boot_to_tunnel.as_secs_f64()
    );
    println!(
        "  dbclient killed -> tunnel up     {:6.1} s",
        recovery.as_secs_f64()
    );
    println!(
        "  dbclient killed -> pings again   {:6.1} s",
        both.as_secs_f64()
    );
    println!("  (QEMU's TCG emulation, not a real box: the guests calibrate about 440 BogoMIPS,");
    println!("   a real 486DX2-66 about 33, so a real office router is slower than these figures)");
    site.shutdown()?;
    say(t0, "guests shut down; done");
    Ok(())
}
