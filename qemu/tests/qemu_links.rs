//! Frames from real QEMU NICs cross a harness hub: two guests netboot with
//! QEMU's own iPXE option ROM (no kernel needed), whose DHCP requests go out
//! through `-netdev dgram` to the hub and on to the other guest.

use std::time::{Duration, Instant};

use outpost_qemu::{Hub, HubStats, MachineSpec, Nic, Topology};

/// Waits until the hub's counters satisfy `want`; the deadline only bounds a failing test.
fn settle(hub: &Hub, what: &str, want: impl Fn(&HubStats) -> bool) -> HubStats {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let s = hub.stats();
        if want(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: hub stats stuck at {s:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn netbooting_guests_send_frames_through_the_hub_and_a_cut_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut topo = Topology::new(dir.path());
    topo.add_hub("seg", 2).unwrap();
    for (port, name) in ["a", "b"].into_iter().enumerate() {
        let ep = topo.hub("seg").unwrap().endpoint(port).unwrap();
        // QEMU's iPXE ROM hangs at "starting execution" on `-cpu pentium`
        // (it wants an i686); this test is about the links, not the CPU baseline.
        let spec = MachineSpec::new(name)
            .cpu("qemu32")
            .memory_mib(32)
            .boot("n")
            .nic(Nic::new("lan", "ne2k_pci", ep));
        topo.start(spec).unwrap();
    }
    let hub = topo.hub("seg").unwrap();
    settle(hub, "DHCP frames delivered", |s| s.delivered >= 2);
    hub.cut();
    let before = hub.stats();
    settle(hub, "frames dropped while cut", |s| {
        s.dropped > before.dropped
    });
    hub.restore();
    let restored = hub.stats();
    settle(hub, "frames delivered again", |s| {
        s.delivered > restored.delivered
    });
}
