//! Reading a FAT12/16 file system inside an image file: its geometry from
//! the boot sector and its free space from the allocation table. The build
//! uses it to say how much room a medium has left (and how much is missing
//! when the image does not fit), in bytes, without parsing `mdir`'s
//! locale-dependent output.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::mbr::FatKind;

/// The geometry of one FAT file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatInfo {
    /// Bytes per cluster (the allocation unit).
    pub cluster_bytes: u64,
    /// Data clusters in the file system.
    pub clusters: u32,
    /// Free data clusters.
    pub free_clusters: u32,
    /// FAT12 or FAT16.
    pub fat16: bool,
    /// The 32-bit volume serial number.
    pub serial: u32,
    /// The volume label in the boot sector (trailing spaces trimmed).
    pub label: String,
}

impl FatInfo {
    /// Free bytes in whole clusters.
    pub fn free_bytes(&self) -> u64 {
        u64::from(self.free_clusters) * self.cluster_bytes
    }
    /// Bytes of data area.
    pub fn capacity_bytes(&self) -> u64 {
        u64::from(self.clusters) * self.cluster_bytes
    }
    /// The MBR partition type for it (`total_bytes` of the partition).
    pub fn kind(&self, total_bytes: u64) -> FatKind {
        if !self.fat16 {
            FatKind::Fat12
        } else if total_bytes < 32 * 1024 * 1024 {
            FatKind::Fat16Small
        } else {
            FatKind::Fat16
        }
    }
}

/// Why a FAT could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FatError {
    /// Reading the image failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The image.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The boot sector is not a FAT12/16 one.
    #[error("{path}: no FAT12/16 file system at offset {offset}: {why}")]
    Format {
        /// The image.
        path: String,
        /// Where the boot sector was looked for.
        offset: u64,
        /// What was wrong.
        why: String,
    },
}

fn le16(b: &[u8], at: usize) -> u32 {
    u32::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Reads the FAT file system whose boot sector is at `offset` in `image`.
pub fn read(image: &Path, offset: u64) -> Result<FatInfo, FatError> {
    let path = image.display().to_string();
    let io = |source| FatError::Io {
        path: path.clone(),
        source,
    };
    let bad = |why: &str| FatError::Format {
        path: path.clone(),
        offset,
        why: why.to_string(),
    };
    let mut f = File::open(image).map_err(io)?;
    let mut bs = [0u8; 512];
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    f.read_exact(&mut bs).map_err(io)?;
    if bs[510..] != [0x55, 0xaa] {
        return Err(bad("no 0x55AA boot signature"));
    }
    let bytes_per_sector = le16(&bs, 11);
    let per_cluster = u32::from(bs[13]);
    let reserved = le16(&bs, 14);
    let fats = u32::from(bs[16]);
    let root_entries = le16(&bs, 17);
    let total = match le16(&bs, 19) {
        0 => le32(&bs, 32),
        n => n,
    };
    let fat_sectors = le16(&bs, 22);
    if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        || per_cluster == 0
        || fats == 0
        || fat_sectors == 0
    {
        return Err(bad("implausible BPB (FAT32 is not used here)"));
    }
    let root_sectors = (root_entries * 32).div_ceil(bytes_per_sector);
    let meta = reserved + fats * fat_sectors + root_sectors;
    let data = total
        .checked_sub(meta)
        .ok_or_else(|| bad("file system smaller than its own tables"))?;
    let clusters = data / per_cluster;
    let fat16 = clusters >= 4085;
    let mut table = vec![0u8; (fat_sectors * bytes_per_sector) as usize];
    f.seek(SeekFrom::Start(
        offset + u64::from(reserved) * u64::from(bytes_per_sector),
    ))
    .map_err(io)?;
    f.read_exact(&mut table).map_err(io)?;
    let entry = |n: u32| -> Option<u32> {
        if fat16 {
            let at = (n * 2) as usize;
            table.get(at..at + 2).map(|b| le16(b, 0))
        } else {
            let at = (n * 3 / 2) as usize;
            let v = le16(table.get(at..at + 2)?, 0);
            Some(if n.is_multiple_of(2) {
                v & 0xfff
            } else {
                v >> 4
            })
        }
    };
    let mut free = 0;
    for n in 2..clusters + 2 {
        match entry(n) {
            Some(0) => free += 1,
            Some(_) => {}
            None => return Err(bad("allocation table shorter than the cluster count")),
        }
    }
    let (serial_at, label_at) = (39, 43);
    Ok(FatInfo {
        cluster_bytes: u64::from(per_cluster * bytes_per_sector),
        clusters,
        free_clusters: free,
        fat16,
        serial: le32(&bs, serial_at),
        label: String::from_utf8_lossy(&bs[label_at..label_at + 11])
            .trim_end()
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn mformat(img: &Path, size: &str) {
        let st = Command::new("mformat")
            .args(["-C", "-f", size, "-v", "TESTVOL", "-N", "0badcafe", "-i"])
            .arg(img)
            .arg("::")
            .env("MTOOLS_SKIP_CHECK", "1")
            .status()
            .expect("mformat (run scripts/bootstrap.sh)");
        assert!(st.success());
    }

    #[test]
    fn reads_what_mformat_made_and_counts_what_mcopy_used() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("f.img");
        mformat(&img, "1440");
        let empty = read(&img, 0).unwrap();
        assert!(!empty.fat16);
        assert_eq!(empty.cluster_bytes, 512);
        assert_eq!(empty.clusters, 2847);
        assert_eq!(empty.free_clusters, empty.clusters);
        assert_eq!(empty.serial, 0x0bad_cafe);
        assert_eq!(empty.label, "TESTVOL");

        // 1500 bytes take three 512-byte clusters.
        let f = dir.path().join("x.bin");
        std::fs::write(&f, vec![7u8; 1500]).unwrap();
        let st = Command::new("mcopy")
            .arg("-i")
            .arg(&img)
            .arg(&f)
            .arg("::")
            .status()
            .unwrap();
        assert!(st.success());
        let used = read(&img, 0).unwrap();
        assert_eq!(used.free_clusters, empty.free_clusters - 3);
        assert_eq!(used.free_bytes(), empty.free_bytes() - 1536);
    }

    #[test]
    fn refuses_what_is_not_fat() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("zero.img");
        std::fs::write(&img, vec![0u8; 4096]).unwrap();
        assert!(matches!(read(&img, 0), Err(FatError::Format { .. })));
        assert!(matches!(
            read(&dir.path().join("absent"), 0),
            Err(FatError::Io { .. })
        ));
    }
}
