//! TCP throughput from host-office1 (office LAN) to host-private (head office)
//! with busybox `nc`, through the tunnel and through a plain routed path in
//! the same site.
//!
//! The plain path: the office gets a host route to host-private via the
//! concentrator's WAN address, more specific than the tunnel's /24, so the
//! same two hosts talk over the WAN with no ssh and no PPP (masqueraded by
//! the office as all its LAN → WAN traffic is); the bench's concentrator
//! config admits the office's WAN address to the private network (see
//! `plain-path.toml`). The tunnel stays up meanwhile, idle.
//!
//! The rate is computed on the receiver from its own clock: from the first
//! byte's arrival to the end of the stream (the connection's setup is not
//! counted), bytes after the first divided by that time.

use anyhow::{bail, Context, Result};

use crate::site::{Site, CONCENTRATOR_WAN_IP, LAN_HOST, OFFICE, PRIVATE_HOST, PRIVATE_IP};
use crate::transfer;
use crate::CMD_TIMEOUT;

/// Where host-office1 keeps the data it sends (its root file system is RAM;
/// `/tmp` is a 2 MB tmpfs, too small).
const DATA: &str = "/var/bench/data";
/// Where host-private's listener writes `first-byte-uptime end-uptime bytes`.
const RESULT: &str = "/tmp/bench-rx";

/// Which path a transfer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Through the ssh + PPP tunnel (the office's route to 10.0.0.0/24 via vpn0).
    Tunnel,
    /// Routed over the WAN, no tunnel.
    Plain,
}

impl Path {
    /// The device the office must route host-private by on this path.
    fn office_device(self) -> &'static str {
        match self {
            Path::Tunnel => "dev vpn0",
            Path::Plain => "dev eth1",
        }
    }
}

/// One transfer as the receiver saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transfer {
    /// Bytes after the first.
    pub bytes: u64,
    /// Receiver's seconds from the first byte to the end.
    pub seconds: f64,
}

impl Transfer {
    /// KiB per second.
    pub fn kib_per_s(&self) -> f64 {
        self.bytes as f64 / 1024.0 / self.seconds
    }

    /// Parses the listener's `first end bytes` line.
    pub fn parse(line: &str) -> Result<Transfer> {
        let v: Vec<&str> = line.split_whitespace().collect();
        let [a, b, n] = v[..] else {
            bail!("unexpected transfer result {line:?}");
        };
        let (a, b): (f64, f64) = (a.parse()?, b.parse()?);
        let bytes: u64 = n.parse()?;
        if b <= a {
            bail!(
                "transfer too short to time ({bytes} bytes in {:.2} s): send more",
                b - a
            );
        }
        Ok(Transfer {
            bytes,
            seconds: b - a,
        })
    }
}

/// Writes `mib` MiB of random data on host-office1 (random: nothing on the way
/// may compress it; the tunnel's PPP has compression off anyway).
pub fn prepare(site: &Site, mib: u32) -> Result<u64> {
    let lan = site.machine(LAN_HOST)?;
    let out = lan.run_ok(
        &format!(
            "mkdir -p /var/bench && dd if=/dev/urandom of={DATA} bs=64k count={} 2>/dev/null && wc -c < {DATA}",
            mib * 16
        ),
        transfer::TRANSFER_TIMEOUT,
    )?;
    out.trim()
        .parse()
        .with_context(|| format!("host-office1: size of {DATA}: {out:?}"))
}

/// Switches the office between the paths: the plain path is a host route
/// to host-private over the WAN; removing it puts the tunnel back in charge.
pub fn select(site: &Site, path: Path) -> Result<()> {
    let office = site.machine(OFFICE)?;
    let cmd = match path {
        Path::Plain => format!("ip route add {PRIVATE_IP}/32 via {CONCENTRATOR_WAN_IP} dev eth1"),
        Path::Tunnel => format!("ip route del {PRIVATE_IP}/32 2>/dev/null; true"),
    };
    office.run_ok(&cmd, CMD_TIMEOUT)?;
    let route = office.run_ok(&format!("ip route get {PRIVATE_IP}"), CMD_TIMEOUT)?;
    if !route.contains(path.office_device()) {
        bail!(
            "office routes {PRIVATE_IP} by {route:?}, not {}",
            path.office_device()
        );
    }
    Ok(())
}

/// Sends the prepared data from host-office1 to host-private on TCP `port`
/// along whatever path the office routes by now. `around` runs just before
/// the sender starts and again once the receiver is done: the two results
/// (e.g. readings of the office) frame the transfer.
pub fn send<T>(
    site: &Site,
    port: u16,
    expect_bytes: u64,
    mut around: impl FnMut() -> Result<T>,
) -> Result<(Transfer, T, T)> {
    let lan = site.machine(LAN_HOST)?;
    let private = site.machine(PRIVATE_HOST)?;
    private.run_ok(&format!("rm -f {RESULT}"), CMD_TIMEOUT)?;
    transfer::listen(private, port, &sink())?;
    let before = around()?;
    transfer::send(lan, DATA, PRIVATE_IP, port)?;
    let line = transfer::wait_file(private, RESULT)?;
    let after = around()?;
    transfer::stop_listeners(private)?;
    let t = Transfer::parse(line.trim())?;
    if t.bytes + 1 != expect_bytes {
        bail!(
            "host-private received {} bytes of {expect_bytes}",
            t.bytes + 1
        );
    }
    Ok((t, before, after))
}

/// The listener's sink: takes the first byte alone, reads the clock, counts
/// the rest, reads the clock again, writes the line in one go.
fn sink() -> String {
    format!(
        "{{ dd bs=1 count=1 of=/dev/null 2>/dev/null; a=$(cut -d' ' -f1 /proc/uptime); \
         n=$(wc -c); b=$(cut -d' ' -f1 /proc/uptime); echo \"$a $b $n\" > {RESULT}; }}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_receivers_line() {
        let t = Transfer::parse("100.50 104.50 4194303").unwrap();
        assert_eq!(t.bytes, 4_194_303);
        assert!((t.seconds - 4.0).abs() < 1e-9);
        assert!((t.kib_per_s() - 4_194_303.0 / 1024.0 / 4.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_what_cannot_be_timed() {
        assert!(Transfer::parse("5.00 5.00 10").is_err());
        assert!(Transfer::parse("5.00 10").is_err());
        assert!(Transfer::parse("a b c").is_err());
    }
}
