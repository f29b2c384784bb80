//! Hubs relaying frames among plain unix datagram sockets standing where
//! the guests' QEMU netdevs would be.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use outpost_qemu::{Hub, HubStats, NetEndpoint};

/// Waits until the hub's counters reach `want`: the hub thread counts a copy
/// after sending it, so a receiver can see a frame before it is counted. The
/// deadline only bounds a failing test.
fn settle(hub: &Hub, want: impl Fn(&HubStats) -> bool) -> HubStats {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = hub.stats();
        if want(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "hub stats stuck at {s:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A "guest" socket bound where QEMU would bind, sending where QEMU would send.
struct FakeNic {
    sock: UnixDatagram,
    remote: std::path::PathBuf,
}

impl FakeNic {
    fn attach(hub: &Hub, port: usize) -> FakeNic {
        let NetEndpoint::UnixDgram { local, remote } = hub.endpoint(port).unwrap() else {
            panic!("unexpected endpoint kind")
        };
        let sock = UnixDatagram::bind(&local).unwrap();
        // Bounds a failing test only.
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        FakeNic { sock, remote }
    }

    fn send(&self, frame: &[u8]) {
        self.sock.send_to(frame, &self.remote).unwrap();
    }

    fn recv(&self) -> Vec<u8> {
        let mut buf = [0u8; 2048];
        let n = self.sock.recv(&mut buf).expect("a frame should arrive");
        buf[..n].to_vec()
    }
}

#[test]
fn hub_floods_to_all_other_ports_but_not_back() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(dir.path(), "wan", 3).unwrap();
    let nics: Vec<FakeNic> = (0..3).map(|p| FakeNic::attach(&hub, p)).collect();
    nics[0].send(b"from-0");
    assert_eq!(nics[1].recv(), b"from-0");
    assert_eq!(nics[2].recv(), b"from-0");
    nics[1].send(b"from-1");
    // Had the hub echoed frame 0 back to port 0, it would come first.
    assert_eq!(nics[0].recv(), b"from-1");
    assert_eq!(nics[2].recv(), b"from-1");
    let s = settle(&hub, |s| s.delivered == 4);
    assert_eq!((s.received, s.delivered, s.dropped), (2, 4, 0));
}

#[test]
fn cutting_the_segment_drops_frames_until_restored() {
    let dir = tempfile::tempdir().unwrap();
    let link = Hub::point_to_point(dir.path(), "p2p").unwrap();
    let a = FakeNic::attach(&link, 0);
    let b = FakeNic::attach(&link, 1);
    link.cut();
    a.send(b"while-cut");
    b.send(b"while-cut-back");
    // The cut applies to what the hub relays while cut: let it see both.
    settle(&link, |s| s.dropped == 2);
    link.restore();
    a.send(b"after");
    b.send(b"after-back");
    // Frames are handled in order per port: the cut ones were dropped.
    assert_eq!(b.recv(), b"after");
    assert_eq!(a.recv(), b"after-back");
    let s = settle(&link, |s| s.delivered == 2);
    assert_eq!((s.received, s.dropped), (4, 2));
}

#[test]
fn unplugging_one_port_isolates_only_that_guest() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(dir.path(), "lan", 3).unwrap();
    let nics: Vec<FakeNic> = (0..3).map(|p| FakeNic::attach(&hub, p)).collect();
    hub.set_port_up(2, false).unwrap();
    nics[0].send(b"first");
    nics[2].send(b"from-unplugged");
    assert_eq!(nics[1].recv(), b"first");
    // One copy of "first" (to port 2) and "from-unplugged" itself.
    settle(&hub, |s| s.dropped == 2);
    hub.set_port_up(2, true).unwrap();
    nics[0].send(b"second");
    assert_eq!(
        nics[1].recv(),
        b"second",
        "the unplugged guest's frame never arrived"
    );
    assert_eq!(
        nics[2].recv(),
        b"second",
        "the unplugged guest missed the first frame"
    );
    assert!(hub.set_port_up(3, true).is_err());
    assert!(hub.endpoint(3).is_err());
}

#[test]
fn a_missing_receiver_does_not_stall_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(dir.path(), "half", 3).unwrap();
    let a = FakeNic::attach(&hub, 0);
    let b = FakeNic::attach(&hub, 1);
    // Port 2 has no guest yet (its QEMU not started): its copy is dropped.
    a.send(b"x");
    assert_eq!(b.recv(), b"x");
    let s = settle(&hub, |s| s.dropped + s.delivered == 2);
    assert_eq!((s.delivered, s.dropped), (1, 1));
}

#[test]
fn dropping_the_hub_stops_it_and_removes_its_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(dir.path(), "gone", 2).unwrap();
    let NetEndpoint::UnixDgram { remote, .. } = hub.endpoint(0).unwrap() else {
        panic!()
    };
    assert!(remote.exists());
    drop(hub);
    assert!(!remote.exists());
    let s = UnixDatagram::unbound().unwrap();
    assert!(s.send_to(b"x", &remote).is_err(), "nobody listens any more");
}
