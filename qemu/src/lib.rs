//! The QEMU harness: boots Outpost guests under TCG (`-cpu 486` / `pentium`),
//! links them over unix datagram sockets through hubs the test controls, and
//! drives them over their serial console (wait for text, run a command and
//! read its exit status) and their HMP monitor.
//!
//! Every process a test starts lives in its own process group and is killed
//! when its owner is dropped, including during a panic, when the guest's
//! console tail is printed so the failure explains itself.

pub mod console;
pub mod error;
pub mod hub;
pub mod machine;
pub mod marker;
pub mod monitor;
pub mod process;
pub mod spec;
pub mod topology;

pub use console::{Console, Output};
pub use error::{HarnessError, Result};
pub use hub::{Hub, HubStats};
pub use machine::Machine;
pub use process::ProcessGroup;
pub use spec::{Drive, DriveKind, MachineSpec, NetEndpoint, Nic};
pub use topology::Topology;
