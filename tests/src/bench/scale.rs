//! Scale (issue 15): `mkoutpost site rehearse`'s code on a site of one
//! concentrator and N offices (1, 3, 6 by default), each office with its
//! test host, on this machine: the wall time of the whole rehearsal (build,
//! boot, every tunnel, the matrix), the host RAM its QEMUs hold, the guest
//! count, power-on to every tunnel up, and the concentrator's CPU while
//! every office sends to the head office at once.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use mkoutpost::rehearse::{self, boot::Running};
use outpost_core::site::rehearsal::host_name;

use super::guest::{Sample, OUTPOSTD_PID};
use crate::transfer;

/// The site sizes measured by default.
pub const OFFICES: [u32; 3] = [1, 3, 6];

/// KiB each office sends in the all-at-once transfer.
pub const SEND_KIB: u32 = 512;

/// What one site size measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleRow {
    /// Offices in the site.
    pub offices: u32,
    /// Guests booted (routers, test hosts, the internet).
    pub guests: usize,
    /// Building every image (from the component cache), seconds.
    pub build_s: f64,
    /// Power-on to every tunnel up on both ends, seconds.
    pub tunnels_s: f64,
    /// Checks in the matrix, and how many were as expected.
    pub checks: (usize, usize),
    /// The matrix's time, seconds.
    pub matrix_s: f64,
    /// The QEMUs' resident memory together, MiB.
    pub host_ram_mib: f64,
    /// The concentrator's CPU busy share while every office sent at once.
    pub head_cpu: f64,
    /// The whole rehearsal, seconds.
    pub wall_s: f64,
}

/// A site file of one concentrator and `n` offices on one WAN.
pub fn site_text(n: u32) -> String {
    let mut s = String::from(
        "# outpost-bench's scale site (tests/src/bench/scale.rs).\n\
         [site]\ntunnel_pool = \"10.254.0.0/24\"\nlcp_echo_interval = 2\nlcp_echo_failure = 3\n\n\
         [head]\nname = \"head\"\nwan = { address = \"172.16.0.1/24\" }\n\n\
         [[head.network]]\nname = \"private\"\naddress = \"10.0.0.1/24\"\n",
    );
    for k in 1..=n {
        s.push_str(&format!(
            "\n[[office]]\nname = \"office{k}\"\nlan = {{ address = \"192.168.{k}.1/24\" }}\nwan = {{ address = \"172.16.0.{}/24\" }}\nmemory = 16\n",
            k + 1
        ));
    }
    s
}

/// Resident memory of a host process, kB.
fn rss_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")
}

/// Rehearses the site of `n` offices in `work`.
pub fn measure(work: &Path, n: u32, say: &mut dyn FnMut(&str)) -> Result<ScaleRow> {
    let t0 = Instant::now();
    std::fs::create_dir_all(work)?;
    let file = work.join("site.toml");
    std::fs::write(&file, site_text(n))?;
    let built = rehearse::build(&file, &work.join("out"), &mut |_| {})?;
    let build_s = t0.elapsed().as_secs_f64();
    let mut site = Running::start(&built, &work.join("run"))?;
    site.wait_all_ready()?;
    site.wait_tunnels(&|_| 0)?;
    let tunnels_s = site.tunnels_time.as_secs_f64();
    say(&format!(
        "{n} offices: {} guests, every tunnel up {tunnels_s:.1} s after power-on",
        built.plan.guests.len()
    ));
    let host_ram_kb: u64 = site
        .topology
        .machines()
        .iter()
        .map(|m| rss_kb(m.pid()))
        .sum::<Result<u64>>()?;
    let head_cpu = all_at_once(&site, n)?;
    let tm = Instant::now();
    let lines = rehearse::run_checks(&site, &mut |_| {})?;
    let matrix_s = tm.elapsed().as_secs_f64();
    let ok = lines.iter().filter(|l| l.ok).count();
    say(&format!(
        "{n} offices: matrix {ok}/{} as expected in {matrix_s:.0} s; concentrator {:.0} % busy with every office sending",
        lines.len(),
        head_cpu * 100.0
    ));
    drop(site);
    Ok(ScaleRow {
        offices: n,
        guests: built.plan.guests.len(),
        build_s,
        tunnels_s,
        checks: (lines.len(), ok),
        matrix_s,
        host_ram_mib: host_ram_kb as f64 / 1024.0,
        head_cpu,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// Every office's test host sends [`SEND_KIB`] to the head office's test
/// host at once; returns the concentrator's busy share meanwhile.
fn all_at_once(site: &Running, n: u32) -> Result<f64> {
    let private = site.machine(&host_name("private"))?;
    let mut files = Vec::new();
    for k in 1..=n {
        let port = 6000 + k as u16;
        let file = format!("/tmp/scale.{port}");
        private.run_ok(&format!("rm -f {file}"), rehearse::CMD_TIMEOUT)?;
        transfer::listen(private, port, &format!("wc -c > {file}"))?;
        let host = site.machine(&host_name(&format!("office{k}")))?;
        host.run_ok(
            &format!("dd if=/dev/urandom of=/tmp/scale bs=1k count={SEND_KIB} 2>/dev/null"),
            rehearse::CMD_TIMEOUT,
        )?;
        files.push((port, file));
    }
    let head = site.machine(site.concentrator())?;
    let a = Sample::read(head, OUTPOSTD_PID)?;
    for (k, (port, _)) in (1..=n).zip(&files) {
        let host = site.machine(&host_name(&format!("office{k}")))?;
        host.run_ok(
            &format!("(nc 10.0.0.10 {port} < /tmp/scale >/dev/null 2>&1 &)"),
            rehearse::CMD_TIMEOUT,
        )?;
    }
    for (_, file) in &files {
        let got = transfer::wait_file(private, file)?;
        let bytes: u64 = got.trim().parse().unwrap_or(0);
        if bytes != u64::from(SEND_KIB) * 1024 {
            bail!("{file}: {bytes} bytes arrived of {}", SEND_KIB * 1024);
        }
    }
    let b = Sample::read(head, OUTPOSTD_PID)?;
    transfer::stop_listeners(private)?;
    let total = b.total.saturating_sub(a.total).max(1);
    Ok(b.busy.saturating_sub(a.busy) as f64 / total as f64)
}

/// The report's section.
pub fn markdown(rows: &[ScaleRow]) -> String {
    let mut s = String::from(
        "## Scale: one concentrator and N offices, rehearsed\n\n\
         `mkoutpost site rehearse`'s code (`tests/src/bench/scale.rs`) on a site of one\n\
         concentrator and N offices on one WAN, each office with its test host (16 MB\n\
         offices, 32 MB for the rest), the matrix without faults; one run each.\n\
         Host RAM is the QEMUs' resident memory together once every tunnel is up;\n\
         the concentrator's CPU is its busy share while every office's test host\n\
         sends 512 KiB to the head office's at once.\n\n\
         | offices | guests | build | power-on → every tunnel | matrix (as expected) | host RAM | concentrator CPU, all sending | whole rehearsal |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {:.0} s | {:.1} s | {}/{} in {:.0} s | {:.0} MiB | {:.0} % | {:.0} s |\n",
            r.offices,
            r.guests,
            r.build_s,
            r.tunnels_s,
            r.checks.1,
            r.checks.0,
            r.matrix_s,
            r.host_ram_mib,
            r.head_cpu * 100.0,
            r.wall_s
        ));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_core::site::Site;

    #[test]
    fn the_scale_sites_are_valid_and_grow_by_an_office_and_its_host() {
        let key = outpost_core::keys::PublicKey::parse(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3d3 head",
        )
        .unwrap();
        for n in OFFICES {
            let site = Site::from_str_named("scale.toml", &site_text(n))
                .unwrap_or_else(|e| panic!("{n}: {e}"));
            assert_eq!(site.offices.len(), n as usize);
            let plan = site.rehearsal(&key).unwrap();
            // head, the offices, their hosts, host-private, internet.
            assert_eq!(plan.guests.len(), 2 * n as usize + 3);
        }
    }

    #[test]
    fn the_section_has_a_row_per_size() {
        let row = ScaleRow {
            offices: 3,
            guests: 9,
            build_s: 12.0,
            tunnels_s: 8.5,
            checks: (18, 18),
            matrix_s: 100.0,
            host_ram_mib: 300.0,
            head_cpu: 0.5,
            wall_s: 130.0,
        };
        let md = markdown(&[row]);
        assert!(
            md.contains("| 3 | 9 | 12 s | 8.5 s | 18/18 in 100 s | 300 MiB | 50 % | 130 s |"),
            "{md}"
        );
    }
}
