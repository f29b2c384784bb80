//! Ethernet segments between guests: a [`Hub`] relays every frame a guest
//! sends to all the other guests on it, like a dumb Ethernet hub. A
//! point-to-point link is a hub with two ports. Because the harness sits in
//! the path, a test can cut a whole segment, or one guest's cable, and
//! restore it, without the guest's cooperation.
//!
//! Each port is a pair of unix datagram sockets in the work directory: the
//! guest's QEMU binds `<hub>.<port>.guest.sock` and sends to
//! `<hub>.<port>.hub.sock`, which the hub's thread binds. Nothing touches a
//! real network.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{HarnessError, Result};
use crate::spec::NetEndpoint;

/// Big enough for any Ethernet frame QEMU sends (jumbo frames included).
const MAX_FRAME: usize = 65536;

/// Frame counters of a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubStats {
    /// Frames received from a port.
    pub received: usize,
    /// Copies delivered to other ports.
    pub delivered: usize,
    /// Frames or copies dropped: segment or port cut, or a receiver not
    /// there (guest not started) or not keeping up.
    pub dropped: usize,
}

#[derive(Debug)]
struct Control {
    stop: AtomicBool,
    segment_up: AtomicBool,
    port_up: Vec<AtomicBool>,
    received: AtomicUsize,
    delivered: AtomicUsize,
    dropped: AtomicUsize,
}

#[derive(Debug)]
struct Port {
    guest: PathBuf,
    hub: PathBuf,
}

/// A running hub; its thread stops when it is dropped.
#[derive(Debug)]
pub struct Hub {
    name: String,
    ports: Vec<Port>,
    control: Arc<Control>,
    wake: UnixDatagram,
    thread: Option<JoinHandle<()>>,
}

impl Hub {
    /// A hub called `name` with `ports` ports, its sockets in `dir`.
    pub fn new(dir: &Path, name: &str, ports: usize) -> Result<Hub> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(HarnessError::InvalidSpec(format!("hub name {name:?}")));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| HarnessError::io(format!("creating {}", dir.display()), e))?;
        let mut list = Vec::with_capacity(ports);
        let mut sockets = Vec::with_capacity(ports);
        for i in 0..ports {
            let port = Port {
                guest: dir.join(format!("{name}.{i}.guest.sock")),
                hub: dir.join(format!("{name}.{i}.hub.sock")),
            };
            if port.guest.as_os_str().len() >= 100 {
                return Err(HarnessError::InvalidSpec(format!(
                    "socket path {} is too long for a unix socket",
                    port.guest.display()
                )));
            }
            for stale in [&port.hub, &port.guest] {
                match std::fs::remove_file(stale) {
                    Err(e) if e.kind() != ErrorKind::NotFound => {
                        return Err(HarnessError::io(format!("removing {}", stale.display()), e))
                    }
                    _ => {}
                }
            }
            let sock = UnixDatagram::bind(&port.hub)
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .map_err(|e| HarnessError::io(format!("binding {}", port.hub.display()), e))?;
            sockets.push(sock);
            list.push(port);
        }
        let control = Arc::new(Control {
            stop: AtomicBool::new(false),
            segment_up: AtomicBool::new(true),
            port_up: (0..ports).map(|_| AtomicBool::new(true)).collect(),
            received: AtomicUsize::new(0),
            delivered: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        });
        let (wake, wake_rx) = UnixDatagram::pair()
            .map_err(|e| HarnessError::io("creating the hub's wake-up pair", e))?;
        let guests: Vec<PathBuf> = list.iter().map(|p| p.guest.clone()).collect();
        let thread_control = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name(format!("hub-{name}"))
            .spawn(move || relay(&sockets, &guests, &wake_rx, &thread_control))
            .map_err(|e| HarnessError::io("starting the hub thread", e))?;
        Ok(Hub {
            name: name.to_string(),
            ports: list,
            control,
            wake,
            thread: Some(thread),
        })
    }

    /// A point-to-point link: a hub with two ports.
    pub fn point_to_point(dir: &Path, name: &str) -> Result<Hub> {
        Hub::new(dir, name, 2)
    }

    /// The hub's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many ports it has.
    pub fn port_count(&self) -> usize {
        self.ports.len()
    }

    /// What a guest's NIC on port `port` attaches to.
    pub fn endpoint(&self, port: usize) -> Result<NetEndpoint> {
        let p = self.ports.get(port).ok_or_else(|| {
            HarnessError::InvalidSpec(format!(
                "hub {} has {} ports, no port {port}",
                self.name,
                self.ports.len()
            ))
        })?;
        Ok(NetEndpoint::UnixDgram {
            local: p.guest.clone(),
            remote: p.hub.clone(),
        })
    }

    /// Cuts (`false`) or restores (`true`) the whole segment: while cut, every
    /// frame the hub relays is dropped (the state is read as each frame is
    /// relayed, so a frame queued just before a change may fall on either side).
    pub fn set_up(&self, up: bool) {
        self.control.segment_up.store(up, Ordering::SeqCst);
    }

    /// Cuts the whole segment.
    pub fn cut(&self) {
        self.set_up(false);
    }

    /// Restores the whole segment.
    pub fn restore(&self) {
        self.set_up(true);
    }

    /// Unplugs (`false`) or plugs (`true`) one port's cable: frames from and to it are dropped.
    pub fn set_port_up(&self, port: usize, up: bool) -> Result<()> {
        let flag = self.control.port_up.get(port).ok_or_else(|| {
            HarnessError::InvalidSpec(format!("hub {} has no port {port}", self.name))
        })?;
        flag.store(up, Ordering::SeqCst);
        Ok(())
    }

    /// Its frame counters so far.
    pub fn stats(&self) -> HubStats {
        HubStats {
            received: self.control.received.load(Ordering::SeqCst),
            delivered: self.control.delivered.load(Ordering::SeqCst),
            dropped: self.control.dropped.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::SeqCst);
        // Wakes the thread out of poll; if this fails the thread is already gone.
        let _ = self.wake.send(&[0]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for p in &self.ports {
            let _ = std::fs::remove_file(&p.hub);
        }
    }
}

fn relay(sockets: &[UnixDatagram], guests: &[PathBuf], wake: &UnixDatagram, c: &Control) {
    let mut fds: Vec<libc::pollfd> = std::iter::once(wake.as_raw_fd())
        .chain(sockets.iter().map(|s| s.as_raw_fd()))
        .map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let Ok(nfds) = libc::nfds_t::try_from(fds.len()) else {
        return;
    };
    let mut frame = vec![0u8; MAX_FRAME];
    while !c.stop.load(Ordering::SeqCst) {
        // SAFETY: `fds` is a live, correctly sized array of pollfd for the call's duration.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), nfds, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[0].revents != 0 {
            return;
        }
        for (from, pfd) in fds[1..].iter().enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            // Drain the port: poll is level-triggered, but draining keeps order per round.
            loop {
                let len = match sockets[from].recv(&mut frame) {
                    Ok(len) => len,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                c.received.fetch_add(1, Ordering::SeqCst);
                let live = |i: usize| c.port_up[i].load(Ordering::SeqCst);
                if !c.segment_up.load(Ordering::SeqCst) || !live(from) {
                    c.dropped.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                for to in (0..sockets.len()).filter(|&to| to != from) {
                    // Sent from the receiver's own hub socket, the address its
                    // QEMU was told is its peer.
                    let ok = live(to) && sockets[to].send_to(&frame[..len], &guests[to]).is_ok();
                    let counter = if ok { &c.delivered } else { &c.dropped };
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}
