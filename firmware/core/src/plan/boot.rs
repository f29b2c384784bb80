//! The boot plan: the kernel command line and the SYSLINUX configuration a
//! config means. `[system] console` and `serial_speed` pick the consoles,
//! `ide_dma` the disks' transfer mode, and each ISA card's `io`/`irq`
//! becomes a `netdev=` entry (an ISA card cannot announce itself). mkoutpost
//! writes both onto the medium and records the command line for direct
//! (`-kernel`) boots, so a test boots with exactly what the medium would.

use crate::config::{Config, Console};

/// What the boot loader and the kernel are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPlan {
    /// The kernel command line.
    pub cmdline: String,
    /// `syslinux.cfg` for the medium.
    pub syslinux_cfg: String,
}

/// The boot plan for `config`.
pub fn plan(config: &Config) -> BootPlan {
    let cmdline = cmdline(config);
    BootPlan {
        syslinux_cfg: syslinux_cfg(config.system.serial_speed, &cmdline),
        cmdline,
    }
}

/// The kernel command line. Both consoles get the kernel's messages; the
/// last `console=` is `/dev/console` (init's and outpostd's output; outpostd
/// mirrors its lines onto the other).
pub fn cmdline(config: &Config) -> String {
    let serial = format!("console=ttyS0,{}", config.system.serial_speed);
    let vga = "console=tty0".to_string();
    let mut args = match config.system.console {
        Console::Serial => vec![vga, serial],
        Console::Vga => vec![serial, vga],
    };
    // A panic (no init, no root) reboots into the boot loader after 5 s:
    // an unattended router tries again rather than hanging.
    args.push("panic=5".into());
    if !config.system.ide_dma {
        args.push("libata.dma=0".into());
    }
    // The kernel's legacy probe names ISA cards eth0, eth1… in the order
    // of these entries (validation holds each card's `device` to it).
    for (n, card) in config.interfaces.iter().filter_map(|i| i.isa).enumerate() {
        args.push(format!(
            "netdev={},{:#x},0,0,eth{n}",
            card.irq.unwrap_or(0),
            card.io
        ));
    }
    args.join(" ")
}

/// `syslinux.cfg`: SYSLINUX itself on the serial port and the screen at
/// once (its `SERIAL` directive mirrors output and takes keys from both),
/// no prompt, no timeout.
pub fn syslinux_cfg(serial_speed: u32, cmdline: &str) -> String {
    format!(
        "# Outpost's SYSLINUX configuration as mkoutpost writes it from a router's
# outpost.toml ([system] console, serial_speed, ide_dma; each ISA card's
# io/irq). buildroot-overlay/board/outpost/syslinux.cfg is the one for a
# config with the defaults, which the Buildroot tree's medium carries.
# The file names are the medium's: /bzImage and /initramfs at the FAT root.
#
# SYSLINUX talks on the first serial port and the VGA screen at once; the
# kernel's messages go to both; the last console= is /dev/console.
# No prompt and no timeout: an unattended box boots at once.
SERIAL 0 {serial_speed}
PROMPT 0
TIMEOUT 0
DEFAULT outpost

LABEL outpost
  LINUX /bzImage
  INITRD /initramfs
  APPEND {cmdline}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(system: &str, interfaces: &str) -> Config {
        let text = format!(
            "[system]\nhostname = \"o\"\nrole = \"host\"\n{system}\n{interfaces}\n[[route]]\nto = \"default\"\nvia = \"192.168.1.254\"\n"
        );
        Config::from_str_named("o.toml", &text).unwrap()
    }

    const ONE: &str = "[[interface]]\ndevice = \"eth0\"\naddress = \"192.168.1.1/24\"\n";

    #[test]
    fn defaults_put_dev_console_on_serial_with_pio_disks() {
        assert_eq!(
            plan(&config("", ONE)).cmdline,
            "console=tty0 console=ttyS0,115200 panic=5 libata.dma=0"
        );
    }

    #[test]
    fn vga_console_speed_and_dma_change_the_command_line() {
        let c = config(
            "console = \"vga\"\nserial_speed = 9600\nide_dma = true",
            ONE,
        );
        let p = plan(&c);
        assert_eq!(p.cmdline, "console=ttyS0,9600 console=tty0 panic=5");
        assert!(
            p.syslinux_cfg.contains("\nSERIAL 0 9600\n"),
            "{}",
            p.syslinux_cfg
        );
        assert!(p
            .syslinux_cfg
            .ends_with("  APPEND console=ttyS0,9600 console=tty0 panic=5\n"));
    }

    #[test]
    fn isa_cards_become_netdev_entries_in_config_order() {
        let ifs = "[[interface]]\nname = \"lan\"\ndevice = \"eth0\"\naddress = \"192.168.1.1/24\"\nio = 0x300\nirq = 9\n\
                   [[interface]]\nname = \"pci\"\ndevice = \"eth2\"\naddress = \"10.1.0.1/24\"\n\
                   [[interface]]\nname = \"wan\"\ndevice = \"eth1\"\naddress = \"172.16.0.2/24\"\nio = 0x320\n";
        assert_eq!(
            cmdline(&config("", ifs)),
            "console=tty0 console=ttyS0,115200 panic=5 libata.dma=0 netdev=9,0x300,0,0,eth0 netdev=0,0x320,0,0,eth1"
        );
    }
}
