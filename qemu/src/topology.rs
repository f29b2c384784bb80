//! A group of guests and the hubs between them, owned together: dropping it
//! kills every guest (each prints its console tail if a test is panicking)
//! and then stops the hubs.

use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};
use crate::hub::Hub;
use crate::machine::Machine;
use crate::spec::MachineSpec;

/// Several machines and their links, sharing one work directory.
#[derive(Debug)]
pub struct Topology {
    workdir: PathBuf,
    // Declared first: dropped before the hubs they send to.
    machines: Vec<Machine>,
    hubs: Vec<Hub>,
}

impl Topology {
    /// An empty topology keeping its files in `workdir`.
    pub fn new(workdir: &Path) -> Self {
        Topology {
            workdir: workdir.to_path_buf(),
            machines: Vec::new(),
            hubs: Vec::new(),
        }
    }

    /// The work directory (sockets, console logs).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Adds a hub with `ports` ports (2 for a point-to-point link).
    pub fn add_hub(&mut self, name: &str, ports: usize) -> Result<&Hub> {
        if self.hubs.iter().any(|h| h.name() == name) {
            return Err(HarnessError::InvalidSpec(format!(
                "hub {name} exists already"
            )));
        }
        self.hubs.push(Hub::new(&self.workdir, name, ports)?);
        self.hub(name)
    }

    /// Starts a machine.
    pub fn start(&mut self, spec: MachineSpec) -> Result<&Machine> {
        if self.machines.iter().any(|m| m.name() == spec.name) {
            return Err(HarnessError::InvalidSpec(format!(
                "machine {} exists already",
                spec.name
            )));
        }
        let name = spec.name.clone();
        self.machines.push(Machine::start(spec, &self.workdir)?);
        self.machine(&name)
    }

    /// The hub called `name`.
    pub fn hub(&self, name: &str) -> Result<&Hub> {
        self.hubs
            .iter()
            .find(|h| h.name() == name)
            .ok_or_else(|| HarnessError::InvalidSpec(format!("no hub {name}")))
    }

    /// The machine called `name`.
    pub fn machine(&self, name: &str) -> Result<&Machine> {
        self.machines
            .iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| HarnessError::InvalidSpec(format!("no machine {name}")))
    }

    /// Takes the machine called `name` out (to shut it down, or to restart it
    /// with the same name).
    pub fn take_machine(&mut self, name: &str) -> Result<Machine> {
        let at = self
            .machines
            .iter()
            .position(|m| m.name() == name)
            .ok_or_else(|| HarnessError::InvalidSpec(format!("no machine {name}")))?;
        Ok(self.machines.remove(at))
    }

    /// Kills the machine called `name` (its QEMU, at once) and starts it
    /// again from the same spec, on the same links: a power cycle. Its console
    /// log keeps the earlier boot above the new one.
    pub fn restart(&mut self, name: &str) -> Result<&Machine> {
        let old = self.take_machine(name)?;
        let spec = old.spec().clone();
        drop(old);
        self.start(spec)
    }

    /// All machines, in start order.
    pub fn machines(&self) -> &[Machine] {
        &self.machines
    }
}
