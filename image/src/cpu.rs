//! The CPU baselines an image can be built for, and what each means to every
//! tool in the pipeline (kernel Kconfig, zig's `-mcpu`, Rust's target, QEMU).

use std::fmt;
use std::str::FromStr;

/// The oldest CPU an image must run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cpu {
    /// Intel 486: no CMPXCHG8B, no TSC, no CPUID on early steppings.
    I486,
    /// Intel Pentium (P5): adds CMPXCHG8B and the TSC.
    I586,
}

impl Cpu {
    /// Every supported CPU, oldest first.
    pub const ALL: [Cpu; 2] = [Cpu::I486, Cpu::I586];

    /// The short name used on the command line and in paths: `i486`, `i586`.
    pub fn name(self) -> &'static str {
        match self {
            Cpu::I486 => "i486",
            Cpu::I586 => "i586",
        }
    }
    /// The kernel's processor-family symbol (without `CONFIG_`). The i486
    /// baseline is `M486SX`: the same code as `M486`, and the only family
    /// that offers the math emulation a 486SX needs.
    pub fn kconfig_symbol(self) -> &'static str {
        match self {
            Cpu::I486 => "M486SX",
            Cpu::I586 => "M586",
        }
    }
    /// zig's (clang's) `-mcpu=` value.
    pub fn zig_mcpu(self) -> &'static str {
        match self {
            Cpu::I486 => "i486",
            Cpu::I586 => "pentium",
        }
    }
    /// QEMU's `-cpu` model that proves this baseline (for `qemu-i386` and
    /// `qemu-system-i386` alike).
    pub fn qemu_cpu(self) -> &'static str {
        match self {
            Cpu::I486 => "486",
            Cpu::I586 => "pentium",
        }
    }
    /// The Rust target name (`i486` has no built-in target: see `agent.rs`).
    pub fn rust_target(self) -> &'static str {
        match self {
            Cpu::I486 => "i486-unknown-linux-musl",
            Cpu::I586 => "i586-unknown-linux-musl",
        }
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cpu {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "i486" | "486" => Ok(Cpu::I486),
            "i586" | "586" | "pentium" => Ok(Cpu::I586),
            _ => Err(format!("unknown CPU `{s}`: use i486 or i586 (pentium)")),
        }
    }
}
