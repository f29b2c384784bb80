//! The master boot record of the CompactFlash/IDE image: SYSLINUX's MBR
//! code, a disk signature and one active partition, written by hand (no
//! `sfdisk`, no loop device). The CHS fields follow the image's fixed
//! 16-head, 63-sector geometry, which is also what QEMU (and most BIOSes of
//! the era) infer from a partition table that ends on a cylinder boundary;
//! the LBA fields are what SYSLINUX's MBR uses when the BIOS has EDD.

/// Heads per cylinder of the disk image's geometry.
pub const HEADS: u32 = 16;
/// Sectors per track of the disk image's geometry.
pub const SECTORS: u32 = 63;
/// Bytes per sector.
pub const SECTOR: u32 = 512;

/// Where SYSLINUX's MBR code is installed by Debian's `syslinux-common`.
pub const MBR_BIN: &str = "/usr/lib/syslinux/mbr/mbr.bin";

/// A FAT partition type byte for the file system `mformat` made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatKind {
    /// FAT12 (type 0x01).
    Fat12,
    /// FAT16 under 32 MiB (type 0x04).
    Fat16Small,
    /// FAT16 of 32 MiB or more (type 0x06).
    Fat16,
}

impl FatKind {
    /// The partition type byte.
    pub fn type_byte(self) -> u8 {
        match self {
            FatKind::Fat12 => 0x01,
            FatKind::Fat16Small => 0x04,
            FatKind::Fat16 => 0x06,
        }
    }
}

/// Why an MBR cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MbrError {
    /// The boot code is not what `mbr.bin` is (at most 440 bytes).
    #[error("MBR boot code is {0} bytes; at most 440 fit before the disk signature")]
    BootCode(usize),
    /// The partition does not fit the CHS fields or starts at sector 0.
    #[error("partition at LBA {start} of {sectors} sectors cannot be described in an MBR")]
    Partition {
        /// First sector.
        start: u32,
        /// Length in sectors.
        sectors: u32,
    },
}

/// Packs an LBA into the three CHS bytes of a partition entry, saturating
/// at cylinder 1023 as DOS-era tools do for disks beyond CHS reach.
pub fn chs(lba: u32) -> [u8; 3] {
    let cyl = lba / (HEADS * SECTORS);
    let rem = lba % (HEADS * SECTORS);
    let (cyl, head, sector) = if cyl > 1023 {
        (1023, HEADS - 1, SECTORS)
    } else {
        (cyl, rem / SECTORS, rem % SECTORS + 1)
    };
    [
        head as u8,
        ((sector & 0x3f) as u8) | (((cyl >> 8) & 0x03) as u8) << 6,
        (cyl & 0xff) as u8,
    ]
}

/// The 512-byte sector 0: `boot_code`, `signature` at 440, one active
/// partition of `kind` from `start` for `sectors`, and the 0x55AA mark.
pub fn build(
    boot_code: &[u8],
    signature: u32,
    start: u32,
    sectors: u32,
    kind: FatKind,
) -> Result<[u8; 512], MbrError> {
    if boot_code.len() > 440 {
        return Err(MbrError::BootCode(boot_code.len()));
    }
    let end = start
        .checked_add(sectors)
        .and_then(|e| e.checked_sub(1))
        .filter(|_| start > 0 && sectors > 0)
        .ok_or(MbrError::Partition { start, sectors })?;
    let mut s = [0u8; 512];
    s[..boot_code.len()].copy_from_slice(boot_code);
    s[440..444].copy_from_slice(&signature.to_le_bytes());
    let e = &mut s[446..462];
    e[0] = 0x80; // active: the partition SYSLINUX's MBR chains to
    e[1..4].copy_from_slice(&chs(start));
    e[4] = kind.type_byte();
    e[5..8].copy_from_slice(&chs(end));
    e[8..12].copy_from_slice(&start.to_le_bytes());
    e[12..16].copy_from_slice(&sectors.to_le_bytes());
    s[510] = 0x55;
    s[511] = 0xaa;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chs_of_the_first_track_and_a_cylinder_end() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(63), [1, 1, 0]);
        // Last sector of cylinder 14 with 16 heads and 63 sectors.
        assert_eq!(chs(15 * 16 * 63 - 1), [15, 63, 14]);
        // Cylinder 300 puts bit 8 of the cylinder into the sector byte.
        assert_eq!(chs(300 * 16 * 63), [0, 1 | 0x40, 44]);
        assert_eq!(chs(u32::MAX), [15, 63 | 0xc0, 0xff]);
    }

    #[test]
    fn one_active_partition_with_code_and_signature() {
        let code = vec![0xfa; 440];
        let s = build(&code, 0x1234_5678, 63, 15057, FatKind::Fat12).unwrap();
        assert_eq!(&s[..440], &code[..]);
        assert_eq!(&s[440..444], &[0x78, 0x56, 0x34, 0x12]);
        assert_eq!(s[446], 0x80);
        assert_eq!(s[450], 0x01);
        assert_eq!(&s[447..450], &[1, 1, 0]);
        assert_eq!(&s[451..454], &[15, 63, 14]);
        assert_eq!(u32::from_le_bytes(s[454..458].try_into().unwrap()), 63);
        assert_eq!(u32::from_le_bytes(s[458..462].try_into().unwrap()), 15057);
        assert!(s[462..510].iter().all(|&b| b == 0), "other entries empty");
        assert_eq!(&s[510..], &[0x55, 0xaa]);
    }

    #[test]
    fn refuses_what_an_mbr_cannot_hold() {
        assert_eq!(
            build(&[0; 446], 0, 63, 10, FatKind::Fat16),
            Err(MbrError::BootCode(446))
        );
        assert!(build(&[], 0, 0, 10, FatKind::Fat16).is_err());
        assert!(build(&[], 0, 63, 0, FatKind::Fat16).is_err());
        assert!(build(&[], 0, u32::MAX, 2, FatKind::Fat16).is_err());
    }
}
