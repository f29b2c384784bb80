//! The checks of a box's hardware keys, shared by a router's config
//! (`[system] console`, `serial_speed`; an interface's `mac`, `io`, `irq`)
//! and a site file (the same keys on each router and interface table), so
//! both refuse the same values with the same words. Pure: each returns the
//! value or the problem and its fix; the callers add the position.

use crate::config::{Console, SERIAL_SPEEDS};
use crate::net::parse_mac;

/// What is wrong with a value, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The error.
    pub message: String,
    /// The fix.
    pub hint: String,
}

fn problem(message: String, hint: impl Into<String>) -> Problem {
    Problem {
        message,
        hint: hint.into(),
    }
}

/// `console = "serial" | "vga"` (or the device names `ttyS0`, `tty0`, `tty1`).
pub fn console(text: &str) -> Result<Console, Problem> {
    match text {
        "serial" | "ttyS0" => Ok(Console::Serial),
        "vga" | "tty0" | "tty1" => Ok(Console::Vga),
        other => Err(problem(
            format!("`{other}` is not a console"),
            "use \"serial\" (the first serial port, ttyS0) or \"vga\" (the screen and keyboard); both always show the boot, this picks /dev/console",
        )),
    }
}

/// `serial_speed`: a speed a 16550 and SYSLINUX both offer.
pub fn serial_speed(v: i64) -> Result<u32, Problem> {
    SERIAL_SPEEDS
        .iter()
        .copied()
        .find(|s| i64::from(*s) == v)
        .ok_or_else(|| {
            problem(
                format!("serial_speed {v} is not a serial port speed"),
                format!(
                    "use one of {} (baud)",
                    SERIAL_SPEEDS.map(|s| s.to_string()).join(", ")
                ),
            )
        })
}

/// `mac = "…"`: one card's address.
pub fn mac(text: &str) -> Result<[u8; 6], Problem> {
    parse_mac(text.trim()).ok_or_else(|| {
        problem(
            format!("`{text}` is not a card's MAC address"),
            "write six hex pairs as printed on the card or by `outpostd status`, e.g. 00:a0:24:12:34:56",
        )
    })
}

/// `io`: where an ISA network card's I/O ports start.
pub fn isa_io(v: i64) -> Result<u16, Problem> {
    if !(0x200..=0x3ff).contains(&v) {
        return Err(problem(
            format!("io {v:#x} is out of range"),
            "ISA network cards sit at 0x200-0x3e0, e.g. io = 0x300 (the card's jumpers or setup program say which)",
        ));
    }
    if v % 0x20 != 0 {
        return Err(problem(
            format!("io {v:#x} is not where an ISA network card sits"),
            "ISA NE2000 cards sit at 0x200-0x3e0 in steps of 0x20, e.g. io = 0x300 (the card's jumpers or setup program say which)",
        ));
    }
    Ok(v as u16)
}

/// `irq`: an ISA card's interrupt line.
pub fn isa_irq(v: i64) -> Result<u8, Problem> {
    if (2..=15).contains(&v) {
        Ok(v as u8)
    } else {
        Err(problem(
            format!("irq {v} is out of range"),
            "use a number from 2 to 15 (the card's jumpers say which; keep it free in the BIOS)",
        ))
    }
}

/// `irq` given without `io`.
pub fn irq_without_io() -> Problem {
    problem(
        "`irq` without `io`".into(),
        "an ISA card needs its I/O port too, e.g. io = 0x300 (PCI cards need neither)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_their_problems() {
        assert_eq!(console("vga"), Ok(Console::Vga));
        assert!(console("ttyUSB0").unwrap_err().hint.contains("\"serial\""));
        assert_eq!(serial_speed(9600), Ok(9600));
        assert!(serial_speed(115_201).is_err());
        assert_eq!(
            mac("00:A0:24:12:34:56"),
            Ok([0, 0xa0, 0x24, 0x12, 0x34, 0x56])
        );
        assert!(mac("00:a0:24").is_err());
        assert_eq!(isa_io(0x300), Ok(0x300));
        assert!(isa_io(0x301).unwrap_err().message.contains("not where"));
        assert!(isa_io(0x100).unwrap_err().message.contains("out of range"));
        assert_eq!(isa_irq(9), Ok(9));
        assert!(isa_irq(16).is_err());
    }
}
