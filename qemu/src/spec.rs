//! What a guest is: CPU, memory, boot files, drives, NICs. A plain builder
//! that turns into a `qemu-system-i386` command line (pure, unit-tested).
//!
//! The command line always has `-nodefaults` (no default NIC: QEMU's default
//! is user-mode networking, which must never be used here), `-display none`,
//! the serial console on stdio and the HMP monitor on a unix socket. It never
//! has `-enable-kvm`: KVM guests hang on these machines, TCG is the default.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{HarnessError, Result};

/// The emulator used unless [`MachineSpec::qemu_binary`] says otherwise.
pub const DEFAULT_QEMU: &str = "qemu-system-i386";

/// Where a NIC's frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetEndpoint {
    /// `-netdev dgram` over unix datagram sockets: QEMU binds `local` and
    /// sends every frame to `remote` (a [`crate::Hub`] port, or the other
    /// guest's `local`).
    UnixDgram {
        /// The socket QEMU binds.
        local: PathBuf,
        /// The socket QEMU sends to.
        remote: PathBuf,
    },
}

/// One network card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The netdev id (also what [`crate::Machine::set_link`] takes).
    pub id: String,
    /// The QEMU device model, e.g. `ne2k_pci`, `rtl8139`, `pcnet`.
    pub model: String,
    /// Where its frames go.
    pub endpoint: NetEndpoint,
    /// Its MAC address; derived from the machine's name and the id if unset,
    /// because QEMU would give every guest the same one.
    pub mac: Option<String>,
    /// More `-device` properties, e.g. `iobase=0x300,irq=9` for an ISA card.
    pub props: Option<String>,
}

impl Nic {
    /// A NIC `id` of `model` on `endpoint`.
    pub fn new(id: impl Into<String>, model: impl Into<String>, endpoint: NetEndpoint) -> Self {
        Nic {
            id: id.into(),
            model: model.into(),
            endpoint,
            mac: None,
            props: None,
        }
    }

    /// Sets more `-device` properties (`iobase=0x320,irq=10` for `ne2k_isa`).
    pub fn props(mut self, props: impl Into<String>) -> Self {
        self.props = Some(props.into());
        self
    }

    /// Sets its MAC address (`52:54:00:..`).
    pub fn mac(mut self, mac: impl Into<String>) -> Self {
        self.mac = Some(mac.into());
        self
    }
}

/// Which bus a drive sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveKind {
    /// `if=floppy`.
    Floppy,
    /// `if=ide`.
    Ide,
}

/// One raw disk image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drive {
    /// The image file.
    pub file: PathBuf,
    /// Floppy or IDE.
    pub kind: DriveKind,
    /// `snapshot=on`: the guest's writes go to a temporary overlay, the file stays as it is.
    pub snapshot: bool,
    /// `readonly=on`.
    pub readonly: bool,
}

impl Drive {
    /// A floppy drive holding `file`.
    pub fn floppy(file: impl Into<PathBuf>) -> Self {
        Drive {
            file: file.into(),
            kind: DriveKind::Floppy,
            snapshot: false,
            readonly: false,
        }
    }

    /// An IDE disk holding `file`.
    pub fn ide(file: impl Into<PathBuf>) -> Self {
        Drive {
            file: file.into(),
            kind: DriveKind::Ide,
            snapshot: false,
            readonly: false,
        }
    }

    /// Keeps the image file unchanged (`snapshot=on`).
    pub fn snapshot(mut self, on: bool) -> Self {
        self.snapshot = on;
        self
    }

    /// Attaches it read-only.
    pub fn readonly(mut self, on: bool) -> Self {
        self.readonly = on;
        self
    }
}

/// Everything needed to start one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSpec {
    /// The guest's name: file names in the work directory, error messages.
    pub name: String,
    /// The `-machine` type: `pc` (PCI, PIIX IDE) or `isapc` (ISA only).
    pub machine: String,
    /// A graphics card (`-vga std`), for tests of the VGA console; none
    /// unless asked (`-nodefaults`).
    pub vga: Option<String>,
    /// The emulator binary.
    pub qemu: PathBuf,
    /// The `-cpu` model, e.g. `486`, `pentium`.
    pub cpu: String,
    /// RAM in MiB.
    pub memory_mib: u32,
    /// Direct boot: the kernel.
    pub kernel: Option<PathBuf>,
    /// Direct boot: the initramfs.
    pub initrd: Option<PathBuf>,
    /// Direct boot: the kernel command line.
    pub append: Option<String>,
    /// Disks, in order.
    pub drives: Vec<Drive>,
    /// `-boot order=…`, e.g. `a` (floppy) or `c` (disk).
    pub boot: Option<String>,
    /// Network cards, in order.
    pub nics: Vec<Nic>,
    /// `-no-reboot`: a guest reboot ends QEMU (and `reboot -f` is how it is shut down).
    pub no_reboot: bool,
    /// Arguments appended as they are.
    pub extra_args: Vec<String>,
}

impl MachineSpec {
    /// A guest called `name`: `-cpu 486`, 32 MiB, `-no-reboot`, nothing to boot yet.
    pub fn new(name: impl Into<String>) -> Self {
        MachineSpec {
            name: name.into(),
            machine: "pc".into(),
            vga: None,
            qemu: PathBuf::from(DEFAULT_QEMU),
            cpu: "486".into(),
            memory_mib: 32,
            kernel: None,
            initrd: None,
            append: None,
            drives: Vec::new(),
            boot: None,
            nics: Vec::new(),
            no_reboot: true,
            extra_args: Vec::new(),
        }
    }

    /// The emulator binary (default `qemu-system-i386` from `PATH`).
    pub fn qemu_binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.qemu = path.into();
        self
    }

    /// Sets the `-machine` type (`pc`, `isapc`).
    pub fn machine(mut self, machine: impl Into<String>) -> Self {
        self.machine = machine.into();
        self
    }

    /// Adds a graphics card of QEMU's `-vga` type (`std`).
    pub fn vga(mut self, vga: impl Into<String>) -> Self {
        self.vga = Some(vga.into());
        self
    }

    /// The `-cpu` model.
    pub fn cpu(mut self, cpu: impl Into<String>) -> Self {
        self.cpu = cpu.into();
        self
    }

    /// RAM in MiB.
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = mib;
        self
    }

    /// Boots this kernel directly.
    pub fn kernel(mut self, path: impl Into<PathBuf>) -> Self {
        self.kernel = Some(path.into());
        self
    }

    /// With this initramfs.
    pub fn initrd(mut self, path: impl Into<PathBuf>) -> Self {
        self.initrd = Some(path.into());
        self
    }

    /// With this kernel command line (include `console=ttyS0` to see it on the console).
    pub fn append(mut self, cmdline: impl Into<String>) -> Self {
        self.append = Some(cmdline.into());
        self
    }

    /// Adds a disk.
    pub fn drive(mut self, drive: Drive) -> Self {
        self.drives.push(drive);
        self
    }

    /// The boot order (`a`, `c`, `ac`, ...).
    pub fn boot(mut self, order: impl Into<String>) -> Self {
        self.boot = Some(order.into());
        self
    }

    /// Adds a NIC.
    pub fn nic(mut self, nic: Nic) -> Self {
        self.nics.push(nic);
        self
    }

    /// Whether a guest reboot ends QEMU (default yes).
    pub fn no_reboot(mut self, on: bool) -> Self {
        self.no_reboot = on;
        self
    }

    /// Appends raw QEMU arguments.
    pub fn extra_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// The monitor socket's path in `workdir`.
    pub fn monitor_path(&self, workdir: &Path) -> PathBuf {
        workdir.join(format!("{}.monitor.sock", self.name))
    }

    /// The console log's path in `workdir`.
    pub fn console_log_path(&self, workdir: &Path) -> PathBuf {
        workdir.join(format!("{}.console.log", self.name))
    }

    /// QEMU's own stderr log in `workdir`.
    pub fn qemu_log_path(&self, workdir: &Path) -> PathBuf {
        workdir.join(format!("{}.qemu.log", self.name))
    }

    /// Checks the spec and builds QEMU's arguments (without the binary).
    pub fn qemu_args(&self, workdir: &Path) -> Result<Vec<OsString>> {
        self.validate()?;
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |s: &str| a.push(OsString::from(s));
        push("-nodefaults");
        push("-display");
        push("none");
        push("-name");
        push(&self.name);
        push("-machine");
        push(&format!("{},accel=tcg", self.machine));
        if let Some(v) = &self.vga {
            push("-vga");
            push(v);
        }
        push("-cpu");
        push(&self.cpu);
        push("-m");
        push(&self.memory_mib.to_string());
        push("-serial");
        push("stdio");
        push("-monitor");
        push(&format!(
            "unix:{},server=on,wait=off",
            opt_path(&self.monitor_path(workdir))?
        ));
        if self.no_reboot {
            push("-no-reboot");
        }
        if let Some(k) = &self.kernel {
            push("-kernel");
            push(&path_str(k)?);
        }
        if let Some(i) = &self.initrd {
            push("-initrd");
            push(&path_str(i)?);
        }
        if let Some(c) = &self.append {
            push("-append");
            push(c);
        }
        for d in &self.drives {
            let mut s = format!(
                "file={},format=raw,if={}",
                opt_path(&d.file)?,
                match d.kind {
                    DriveKind::Floppy => "floppy",
                    DriveKind::Ide => "ide",
                }
            );
            if d.snapshot {
                s.push_str(",snapshot=on");
            }
            if d.readonly {
                s.push_str(",readonly=on");
            }
            push("-drive");
            push(&s);
        }
        if let Some(b) = &self.boot {
            push("-boot");
            push(&format!("order={b}"));
        }
        for n in &self.nics {
            let netdev = match &n.endpoint {
                NetEndpoint::UnixDgram { local, remote } => format!(
                    "dgram,id={},local.type=unix,local.path={},remote.type=unix,remote.path={}",
                    n.id,
                    opt_path(local)?,
                    opt_path(remote)?
                ),
            };
            let mac = n
                .mac
                .clone()
                .unwrap_or_else(|| derived_mac(&self.name, &n.id));
            push("-netdev");
            push(&netdev);
            push("-device");
            let props = n.props.as_ref().map_or(String::new(), |p| format!(",{p}"));
            push(&format!("{},netdev={},mac={mac}{props}", n.model, n.id));
        }
        for x in &self.extra_args {
            push(x);
        }
        Ok(a)
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(HarnessError::InvalidSpec(m));
        if self.name.is_empty() || !self.name.chars().all(is_plain) {
            return bad(format!(
                "machine name {:?} must be non-empty letters, digits, '-', '_'",
                self.name
            ));
        }
        if self.cpu.is_empty() || self.cpu.contains(',') {
            return bad(format!("cpu model {:?}", self.cpu));
        }
        if self.machine.is_empty() || !self.machine.chars().all(is_plain) {
            return bad(format!("machine type {:?}", self.machine));
        }
        if self.memory_mib == 0 {
            return bad("memory must be at least 1 MiB".into());
        }
        if self.initrd.is_some() && self.kernel.is_none() {
            return bad("an initrd needs a kernel".into());
        }
        if self.append.is_some() && self.kernel.is_none() {
            return bad("a kernel command line needs a kernel".into());
        }
        if self.kernel.is_none() && self.drives.is_empty() && self.nics.is_empty() {
            return bad("nothing to boot: no kernel, drive or NIC".into());
        }
        let mut ids = std::collections::HashSet::new();
        for n in &self.nics {
            if n.id.is_empty() || !n.id.chars().all(is_plain) {
                return bad(format!("NIC id {:?}", n.id));
            }
            if !ids.insert(&n.id) {
                return bad(format!("NIC id {:?} used twice", n.id));
            }
            if n.model.is_empty() || n.model.contains(',') {
                return bad(format!("NIC model {:?}", n.model));
            }
        }
        if self
            .extra_args
            .iter()
            .any(|a| a.contains("enable-kvm") || a.contains("accel=kvm"))
        {
            return bad("KVM hangs on these machines; guests run under TCG".into());
        }
        if self
            .extra_args
            .iter()
            .any(|a| a.starts_with("user") || a.contains("-net user") || a == "-nic")
        {
            return bad("no user-mode networking: link guests with NetEndpoint".into());
        }
        Ok(())
    }
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn path_str(p: &Path) -> Result<String> {
    p.to_str()
        .map(str::to_string)
        .ok_or_else(|| HarnessError::InvalidSpec(format!("path {} is not UTF-8", p.display())))
}

/// A path inside a `-drive`/`-netdev` option string: commas would split it.
fn opt_path(p: &Path) -> Result<String> {
    let s = path_str(p)?;
    if s.contains(',') {
        return Err(HarnessError::InvalidSpec(format!(
            "path {s} contains a comma, which QEMU options cannot hold"
        )));
    }
    Ok(s)
}

/// A locally administered, stable MAC for a machine's NIC (FNV-1a of both names).
pub fn derived_mac(machine: &str, nic: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in machine.bytes().chain([0u8]).chain(nic.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let [_, x, y, z] = h.to_be_bytes();
    format!("52:54:00:{x:02x}:{y:02x}:{z:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(spec: &MachineSpec) -> Vec<String> {
        spec.qemu_args(Path::new("/w"))
            .unwrap()
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    fn has_pair(a: &[String], k: &str, v: &str) -> bool {
        a.windows(2).any(|w| w[0] == k && w[1] == v)
    }

    #[test]
    fn direct_boot_command_line() {
        let s = MachineSpec::new("office")
            .cpu("pentium")
            .memory_mib(16)
            .kernel("/k/bzImage")
            .initrd("/k/initrd")
            .append("console=ttyS0");
        let a = args(&s);
        assert_eq!(a[0], "-nodefaults");
        assert!(has_pair(&a, "-cpu", "pentium"));
        assert!(has_pair(&a, "-m", "16"));
        assert!(has_pair(&a, "-kernel", "/k/bzImage"));
        assert!(has_pair(&a, "-initrd", "/k/initrd"));
        assert!(has_pair(&a, "-append", "console=ttyS0"));
        assert!(has_pair(&a, "-serial", "stdio"));
        assert!(has_pair(
            &a,
            "-monitor",
            "unix:/w/office.monitor.sock,server=on,wait=off"
        ));
        assert!(a.contains(&"-no-reboot".to_string()));
        assert!(!a.iter().any(|x| x.contains("kvm")));
    }

    #[test]
    fn drives_boot_order_and_nics() {
        let ep = NetEndpoint::UnixDgram {
            local: "/w/a.sock".into(),
            remote: "/w/b.sock".into(),
        };
        let s = MachineSpec::new("r1")
            .drive(Drive::floppy("/i/f.img").snapshot(true))
            .drive(Drive::ide("/i/d.img").readonly(true))
            .boot("a")
            .no_reboot(false)
            .nic(Nic::new("wan", "ne2k_pci", ep.clone()))
            .nic(Nic::new("lan", "rtl8139", ep).mac("52:54:00:00:00:01"));
        let a = args(&s);
        assert!(has_pair(
            &a,
            "-drive",
            "file=/i/f.img,format=raw,if=floppy,snapshot=on"
        ));
        assert!(has_pair(
            &a,
            "-drive",
            "file=/i/d.img,format=raw,if=ide,readonly=on"
        ));
        assert!(has_pair(&a, "-boot", "order=a"));
        assert!(!a.contains(&"-no-reboot".to_string()));
        assert!(has_pair(
            &a,
            "-netdev",
            "dgram,id=wan,local.type=unix,local.path=/w/a.sock,remote.type=unix,remote.path=/w/b.sock"
        ));
        let wan_mac = derived_mac("r1", "wan");
        assert!(has_pair(
            &a,
            "-device",
            &format!("ne2k_pci,netdev=wan,mac={wan_mac}")
        ));
        assert!(has_pair(
            &a,
            "-device",
            "rtl8139,netdev=lan,mac=52:54:00:00:00:01"
        ));
    }

    #[test]
    fn derived_macs_differ_per_machine_and_nic() {
        let a = derived_mac("office", "wan");
        assert_ne!(a, derived_mac("concentrator", "wan"));
        assert_ne!(a, derived_mac("office", "lan"));
        assert_eq!(a, derived_mac("office", "wan"));
        assert!(a.starts_with("52:54:00:"));
        assert_eq!(a.len(), 17);
    }

    #[test]
    fn invalid_specs_are_refused() {
        let ok = MachineSpec::new("m").kernel("/k");
        assert!(ok.qemu_args(Path::new("/w")).is_ok());
        for bad in [
            MachineSpec::new("m"),
            MachineSpec::new("bad name").kernel("/k"),
            MachineSpec::new("m").kernel("/k").memory_mib(0),
            MachineSpec::new("m").initrd("/i").drive(Drive::ide("/d")),
            MachineSpec::new("m").kernel("/k").extra_arg("-enable-kvm"),
            MachineSpec::new("m").kernel("/k").extra_arg("-nic"),
            MachineSpec::new("m").drive(Drive::ide("/a,b")),
        ] {
            assert!(
                matches!(
                    bad.qemu_args(Path::new("/w")),
                    Err(HarnessError::InvalidSpec(_))
                ),
                "{bad:?}"
            );
        }
        let ep = NetEndpoint::UnixDgram {
            local: "/a".into(),
            remote: "/b".into(),
        };
        let twice = MachineSpec::new("m")
            .kernel("/k")
            .nic(Nic::new("n", "ne2k_pci", ep.clone()))
            .nic(Nic::new("n", "ne2k_pci", ep));
        assert!(twice.qemu_args(Path::new("/w")).is_err());
    }
}
