//! The QEMU harness: boots Outpost guests under TCG (`-cpu 486` / `pentium`),
//! links them over unix datagram sockets through hubs the test controls, and
//! drives them over their serial console (wait for text, run a command and
//! read its exit status) and their HMP monitor.
//!
//! Every process a test starts lives in its own process group and is killed
//! when its owner is dropped, including during a panic, when the guest's
//! console tail is printed so the failure explains itself.
//!
//! ```no_run
//! use std::time::Duration;
//! use outpost_qemu::{MachineSpec, Nic, Topology};
//! # fn main() -> outpost_qemu::Result<()> {
//! let t = Duration::from_secs(60);
//! let mut topo = Topology::new(std::path::Path::new("/tmp/site"));
//! let wan = topo.add_hub("wan", 2)?.endpoint(0)?;
//! let office = topo.start(
//!     MachineSpec::new("office").cpu("486").memory_mib(16)
//!         .kernel("bzImage").initrd("initrd.xz").append("console=ttyS0")
//!         .nic(Nic::new("wan", "ne2k_pci", wan)),
//! )?;
//! office.wait_for("outpostd: ready", t)?;
//! let routes = office.run_ok("ip route", t)?;
//! topo.hub("wan")?.cut(); // or office.set_link("wan", false)
//! # let _ = routes; Ok(()) }
//! ```

pub mod console;
pub mod error;
pub mod hub;
pub mod machine;
pub mod marker;
pub mod monitor;
pub mod process;
pub mod screen;
pub mod spec;
pub mod topology;

pub use console::{Console, Output};
pub use error::{HarnessError, Result};
pub use hub::{Hub, HubStats};
pub use machine::Machine;
pub use process::{kill_groups_on_interrupt, ProcessGroup};
pub use spec::{Drive, DriveKind, MachineSpec, NetEndpoint, Nic};
pub use topology::Topology;

#[cfg(test)]
mod tests {
    /// Tests drive several guests from threads (parallel boots).
    #[test]
    fn handles_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::Machine>();
        check::<crate::Hub>();
        check::<crate::Topology>();
    }
}
