//! Boot media: the image files `mkoutpost build --format …` writes around a
//! built kernel and initramfs — a 1.44 MB or 2.88 MB FAT12 floppy with
//! SYSLINUX, or a raw CompactFlash/IDE disk (SYSLINUX's MBR, one active FAT
//! partition, SYSLINUX) — made with file operations only (mtools, SYSLINUX's
//! mtools installer, an MBR written here): no loop device, no root.
//!
//! Every medium carries, at the root of a FAT volume labelled
//! [`VOLUME_LABEL`]: `syslinux.cfg` (the shared
//! `buildroot-overlay/board/outpost/syslinux.cfg`), `bzImage`, `initramfs`,
//! `outpost.toml` as the user wrote it, the key files it names at the same
//! relative paths (so relative names resolve the same on the host and on
//! the medium; FAT has no permissions: whoever holds the medium holds the
//! router's private key, as with the seed's floppy), and [`SEED_FILE`],
//! 512 random bytes outpostd credits to the kernel's pool at boot and
//! replaces at once. The router mounts the volume read-only at `/boot`.
//!
//! Reproducibility: volume id and every timestamp are fixed (the serial is
//! derived from the host name, dates are `SOURCE_DATE_EPOCH` clamped to
//! 1980), files are written in a fixed order. The entropy seed is the one
//! input that must *not* repeat: two routers flashed from one reproducible
//! image would credit the same "random" bytes. So the seed is an input like
//! the keys: [`Seed::Random`] (the default) takes fresh bytes from the host
//! kernel, [`Seed::File`] (`--seed FILE`) takes them from the user, and two
//! builds with the same inputs *and the same seed file* are byte-identical.
//! Without `--seed`, two builds differ only inside the seed file, which is
//! written last so it sits in the last clusters used (a test checks that).

pub mod fat;
pub mod mbr;
pub mod mtools;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use outpost_core::Config;
use sha2::{Digest, Sha256};

use crate::error::{BuildError, Result};
use mtools::Volume;

/// The FAT volume label the router looks for.
pub const VOLUME_LABEL: &str = "OUTPOST";
/// The entropy seed's name on the medium.
pub const SEED_FILE: &str = "random.seed";
/// The entropy seed's size.
pub const SEED_BYTES: usize = 512;
/// Cylinders of the CF image (16 heads, 63 sectors): 7.7 MB, which fits
/// the smallest CompactFlash cards sold (8 MB) and leaves room to grow.
pub const CF_CYLINDERS: u32 = 15;
/// The CF partition starts on the second track, as DOS-era tools did.
pub const CF_PARTITION_START: u32 = mbr::SECTORS;

/// An output format of `mkoutpost build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `OUT/bzImage` + `OUT/initramfs` only (PXE, QEMU's `-kernel`).
    Kernel,
    /// A 1.44 MB FAT12 floppy image with SYSLINUX.
    Floppy1440,
    /// A 2.88 MB FAT12 floppy image with SYSLINUX.
    Floppy2880,
    /// A raw CompactFlash/IDE disk image: MBR, one active FAT partition.
    Cf,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [
        Format::Kernel,
        Format::Floppy1440,
        Format::Floppy2880,
        Format::Cf,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Kernel => "kernel",
            Format::Floppy1440 => "floppy1440",
            Format::Floppy2880 => "floppy2880",
            Format::Cf => "cf",
        }
    }

    /// The image file it writes in the output directory (none for `kernel`).
    pub fn image_name(self) -> Option<&'static str> {
        match self {
            Format::Kernel => None,
            Format::Floppy1440 => Some("floppy1440.img"),
            Format::Floppy2880 => Some("floppy2880.img"),
            Format::Cf => Some("cf.img"),
        }
    }

    /// What a person calls it.
    pub fn describe(self) -> &'static str {
        match self {
            Format::Kernel => "kernel + initramfs",
            Format::Floppy1440 => "1.44 MB floppy",
            Format::Floppy2880 => "2.88 MB floppy",
            Format::Cf => "CompactFlash/IDE disk",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown format `{s}`: use kernel, floppy1440, floppy2880 or cf")
            })
    }
}

/// Where the medium's entropy seed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seed {
    /// Fresh bytes from the host's `/dev/urandom`: every image unique.
    Random,
    /// Exactly [`SEED_BYTES`] bytes from this file (reproducible builds;
    /// never give two routers the same file).
    File(PathBuf),
}

impl Seed {
    /// The seed's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        use std::io::Read;
        match self {
            Seed::Random => {
                let mut buf = vec![0u8; SEED_BYTES];
                fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut buf))
                    .map_err(|e| BuildError::io("reading /dev/urandom for the entropy seed", e))?;
                Ok(buf)
            }
            Seed::File(p) => {
                let data = fs::read(p)
                    .map_err(|e| BuildError::io(format!("reading seed {}", p.display()), e))?;
                if data.len() != SEED_BYTES {
                    return Err(BuildError::Config(format!(
                        "{}: an entropy seed must be exactly {SEED_BYTES} bytes, this file has {}\n  hint: head -c {SEED_BYTES} /dev/urandom > {}",
                        p.display(),
                        data.len(),
                        p.display()
                    )));
                }
                Ok(data)
            }
        }
    }
}

/// One file to put on the medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediumFile {
    /// Its path on the medium (`/`-separated, relative to the root).
    pub dest: String,
    /// Where it is on the host.
    pub src: PathBuf,
}

/// Everything that goes on a medium besides SYSLINUX itself.
#[derive(Debug, Clone)]
pub struct Contents {
    /// The router's host name (volume id, messages).
    pub hostname: String,
    /// Files in the order they are written (seed excluded).
    pub files: Vec<MediumFile>,
    /// The entropy seed.
    pub seed: Seed,
}

/// The SYSLINUX configuration of a config with the defaults, which the
/// Buildroot tree's medium carries (mkoutpost writes one per router:
/// `outpost_core::plan::boot`).
pub fn syslinux_cfg() -> PathBuf {
    crate::agent::source_tree().join("buildroot-overlay/board/outpost/syslinux.cfg")
}

impl Contents {
    /// The standard medium for a built image: SYSLINUX config, kernel,
    /// initramfs, the config file and the relative key files it names.
    pub fn for_image(
        config_file: &Path,
        config: &Config,
        syslinux: &Path,
        kernel: &Path,
        initramfs: &Path,
        seed: Seed,
    ) -> Self {
        let base = config_file.parent().unwrap_or(Path::new("."));
        let mut files = vec![
            MediumFile {
                dest: "syslinux.cfg".into(),
                src: syslinux.to_path_buf(),
            },
            MediumFile {
                dest: "bzImage".into(),
                src: kernel.to_path_buf(),
            },
            MediumFile {
                dest: "initramfs".into(),
                src: initramfs.to_path_buf(),
            },
            MediumFile {
                dest: "outpost.toml".into(),
                src: config_file.to_path_buf(),
            },
        ];
        for k in crate::keys::referenced(config) {
            if files.iter().any(|f| f.dest == k.rel) {
                continue;
            }
            files.push(MediumFile {
                src: base.join(&k.rel),
                dest: k.rel,
            });
        }
        Contents {
            hostname: config.system.hostname.clone(),
            files,
            seed,
        }
    }

    /// Directories the files need, parents first.
    fn dirs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in &self.files {
            let parts: Vec<&str> = f.dest.split('/').collect();
            for i in 1..parts.len() {
                let d = parts[..i].join("/");
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
        out
    }
}

/// A written medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medium {
    /// Its format.
    pub format: Format,
    /// The image file.
    pub path: PathBuf,
    /// The image file's size.
    pub image_bytes: u64,
    /// The FAT's data area.
    pub capacity_bytes: u64,
    /// What is left for configs, backups and seeds.
    pub free_bytes: u64,
}

impl Medium {
    /// The size report's line for it.
    pub fn report_line(&self) -> String {
        format!(
            "{} {}: {} bytes, {} of {} FAT bytes free ({} KiB)",
            self.format.describe(),
            self.path.display(),
            self.image_bytes,
            self.free_bytes,
            self.capacity_bytes,
            self.free_bytes / 1024
        )
    }
}

/// The volume id for a router: stable across rebuilds, different per name.
pub fn volume_serial(hostname: &str) -> u32 {
    let h = Sha256::digest(format!("outpost-volume:{hostname}").as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// The medium of `format` for what [`crate::build::build`] made from
/// `opts`, in the same output directory, dated `SOURCE_DATE_EPOCH`.
pub fn for_build(
    opts: &crate::build::BuildOptions,
    report: &crate::build::BuildReport,
    format: Format,
    seed: Seed,
) -> Result<Option<Medium>> {
    let contents = Contents::for_image(
        &opts.config,
        &report.config,
        &report.syslinux_cfg,
        &report.kernel,
        &report.initramfs,
        seed,
    );
    write(
        format,
        &contents,
        &opts.out_dir,
        u64::from(crate::build::source_date_epoch()),
    )
}

/// Writes the medium of `format` into `out_dir` (nothing for
/// [`Format::Kernel`]), dating its entries `epoch`. The image appears
/// atomically: it is built as `NAME.partial` and renamed.
pub fn write(
    format: Format,
    contents: &Contents,
    out_dir: &Path,
    epoch: u64,
) -> Result<Option<Medium>> {
    let Some(name) = format.image_name() else {
        return Ok(None);
    };
    let path = out_dir.join(name);
    let tmp = path.with_extension("partial");
    let _ = fs::remove_file(&tmp);
    let made = build_image(format, contents, out_dir, &tmp, epoch);
    let made = made.and_then(|(image_bytes, fs_info)| {
        fs::rename(&tmp, &path)
            .map_err(|e| BuildError::io(format!("writing {}", path.display()), e))?;
        Ok(Medium {
            format,
            path,
            image_bytes,
            capacity_bytes: fs_info.capacity_bytes(),
            free_bytes: fs_info.free_bytes(),
        })
    });
    if made.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    made.map(Some)
}

/// Makes the image at `tmp`; returns its size and its FAT as written.
fn build_image(
    format: Format,
    contents: &Contents,
    out_dir: &Path,
    tmp: &Path,
    epoch: u64,
) -> Result<(u64, fat::FatInfo)> {
    let serial = volume_serial(&contents.hostname);
    let seed = contents.seed.bytes()?;
    let (offset, image_bytes) = match format {
        Format::Floppy1440 | Format::Floppy2880 => {
            let kb = if format == Format::Floppy1440 {
                "1440"
            } else {
                "2880"
            };
            let vol = Volume::new(tmp, 0, epoch);
            vol.format(VOLUME_LABEL, serial, &["-C".into(), "-f".into(), kb.into()])?;
            (0, 0)
        }
        Format::Cf => {
            let total = CF_CYLINDERS * mbr::HEADS * mbr::SECTORS;
            let bytes = u64::from(total) * u64::from(mbr::SECTOR);
            fs::File::create(tmp)
                .and_then(|f| f.set_len(bytes))
                .map_err(|e| BuildError::io(format!("creating {}", tmp.display()), e))?;
            let offset = u64::from(CF_PARTITION_START) * u64::from(mbr::SECTOR);
            let vol = Volume::new(tmp, offset, epoch);
            vol.format(
                VOLUME_LABEL,
                serial,
                &[
                    "-h".into(),
                    mbr::HEADS.to_string(),
                    "-s".into(),
                    mbr::SECTORS.to_string(),
                    "-H".into(),
                    CF_PARTITION_START.to_string(),
                    "-T".into(),
                    (total - CF_PARTITION_START).to_string(),
                ],
            )?;
            (offset, bytes)
        }
        Format::Kernel => return Err(BuildError::Check("the kernel format has no medium".into())),
    };
    let vol = Volume::new(tmp, offset, epoch);
    vol.install_syslinux()?;
    let fat_err = |e: fat::FatError| BuildError::Check(e.to_string());
    let before = fat::read(tmp, offset).map_err(fat_err)?;
    check_fits(format, contents, &before, &seed)?;

    for d in contents.dirs() {
        vol.mkdir(&d)?;
    }
    for f in &contents.files {
        vol.copy_in(&f.src, &f.dest)?;
    }
    let seed_file = out_dir.join(format!(".{format}.seed"));
    crate::build::write_atomic(&seed_file, &seed)?;
    let copied = vol.copy_in(&seed_file, SEED_FILE);
    let _ = fs::remove_file(&seed_file);
    copied?;

    let after = fat::read(tmp, offset).map_err(fat_err)?;
    if format == Format::Cf {
        write_mbr(tmp, serial, &after)?;
    }
    let image_bytes = if image_bytes == 0 {
        fs::metadata(tmp)
            .map_err(|e| BuildError::io(format!("reading {}", tmp.display()), e))?
            .len()
    } else {
        image_bytes
    };
    Ok((image_bytes, after))
}

/// Refuses, before copying anything, a medium the files do not fit, saying
/// by how much.
fn check_fits(
    format: Format,
    contents: &Contents,
    fs_info: &fat::FatInfo,
    seed: &[u8],
) -> Result<()> {
    let round = |n: u64| n.div_ceil(fs_info.cluster_bytes).max(1) * fs_info.cluster_bytes;
    let mut need = round(seed.len() as u64) + contents.dirs().len() as u64 * fs_info.cluster_bytes;
    let mut biggest: Vec<(u64, &str)> = Vec::new();
    for f in &contents.files {
        let len = fs::metadata(&f.src)
            .map_err(|e| BuildError::io(format!("reading {}", f.src.display()), e))?
            .len();
        need += round(len);
        biggest.push((len, &f.dest));
    }
    let free = fs_info.free_bytes();
    if need <= free {
        return Ok(());
    }
    biggest.sort_by(|a, b| b.cmp(a));
    let shown: Vec<String> = biggest
        .iter()
        .take(2)
        .map(|(n, d)| format!("{d} {n}"))
        .collect();
    let over = need - free;
    let message = format!(
        "{} does not fit a {}: its files need {need} bytes, the medium has {free} free after SYSLINUX — {over} bytes ({} KiB) too many (largest: {})\n  hint: use --format {}",
        contents.hostname,
        format.describe(),
        over.div_ceil(1024),
        shown.join(", "),
        match format {
            Format::Floppy1440 => "floppy2880 or cf",
            _ => "cf",
        }
    );
    Err(BuildError::DoesNotFit { message, over })
}

/// Puts SYSLINUX's MBR code and the partition table in sector 0.
fn write_mbr(image: &Path, serial: u32, fs_info: &fat::FatInfo) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    let code = fs::read(mbr::MBR_BIN).map_err(|e| BuildError::Missing {
        what: format!("{} ({e})", mbr::MBR_BIN),
        hint: "install syslinux-common (scripts/bootstrap.sh)".into(),
    })?;
    let sectors = CF_CYLINDERS * mbr::HEADS * mbr::SECTORS - CF_PARTITION_START;
    let kind = fs_info.kind(u64::from(sectors) * u64::from(mbr::SECTOR));
    let sector = mbr::build(&code, serial, CF_PARTITION_START, sectors, kind)
        .map_err(|e| BuildError::Check(e.to_string()))?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(image)
        .map_err(|e| BuildError::io(format!("opening {}", image.display()), e))?;
    f.seek(SeekFrom::Start(0))
        .and_then(|_| f.write_all(&sector))
        .map_err(|e| BuildError::io(format!("writing the MBR of {}", image.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_syslinux_cfg_is_what_a_config_with_the_defaults_gets() {
        let config = Config::from_str_named(
            "d.toml",
            "[system]\nhostname = \"d\"\nrole = \"host\"\n[[interface]]\ndevice = \"eth0\"\naddress = \"192.168.1.1/24\"\n",
        )
        .unwrap();
        let shipped = fs::read_to_string(syslinux_cfg()).unwrap();
        assert_eq!(
            shipped,
            outpost_core::plan::boot::plan(&config).syslinux_cfg
        );
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
        assert_eq!("CF".parse::<Format>().unwrap(), Format::Cf);
        let e = "floppy".parse::<Format>().unwrap_err();
        assert!(e.contains("floppy1440"), "{e}");
    }

    #[test]
    fn serial_is_stable_and_per_router() {
        assert_eq!(volume_serial("office1"), volume_serial("office1"));
        assert_ne!(volume_serial("office1"), volume_serial("office2"));
    }

    #[test]
    fn a_seed_file_must_be_512_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        fs::write(&p, [1u8; 100]).unwrap();
        let e = Seed::File(p.clone()).bytes().unwrap_err().to_string();
        assert!(e.contains("exactly 512 bytes") && e.contains("100"), "{e}");
        fs::write(&p, [1u8; 512]).unwrap();
        assert_eq!(Seed::File(p).bytes().unwrap(), vec![1u8; 512]);
        let a = Seed::Random.bytes().unwrap();
        let b = Seed::Random.bytes().unwrap();
        assert_eq!(a.len(), 512);
        assert_ne!(a, b);
    }

    fn contents(dir: &Path, kernel_len: usize) -> Contents {
        let k = dir.join("bzImage");
        let i = dir.join("initramfs");
        let c = dir.join("outpost.toml");
        fs::write(&k, vec![0xaa; kernel_len]).unwrap();
        fs::write(&i, vec![0xbb; 300_000]).unwrap();
        fs::write(&c, "[system]\r\nhostname = \"t\"\r\n").unwrap();
        fs::create_dir_all(dir.join("keys")).unwrap();
        fs::write(dir.join("keys/id"), b"PRIVATE").unwrap();
        let mut files = vec![
            MediumFile {
                dest: "syslinux.cfg".into(),
                src: syslinux_cfg(),
            },
            MediumFile {
                dest: "bzImage".into(),
                src: k,
            },
            MediumFile {
                dest: "initramfs".into(),
                src: i,
            },
            MediumFile {
                dest: "outpost.toml".into(),
                src: c,
            },
        ];
        files.push(MediumFile {
            dest: "keys/id".into(),
            src: dir.join("keys/id"),
        });
        Contents {
            hostname: "t".into(),
            files,
            seed: Seed::Random,
        }
    }

    #[test]
    fn files_land_on_a_labelled_fat_with_syslinux() {
        let dir = tempfile::tempdir().unwrap();
        let c = contents(dir.path(), 500_000);
        let out = dir.path().join("out");
        fs::create_dir_all(&out).unwrap();
        for format in [Format::Floppy1440, Format::Floppy2880, Format::Cf] {
            let m = write(format, &c, &out, 1_700_000_000).unwrap().unwrap();
            let offset = if format == Format::Cf { 63 * 512 } else { 0 };
            let info = fat::read(&m.path, offset).unwrap();
            assert_eq!(info.label, VOLUME_LABEL);
            assert_eq!(info.serial, volume_serial("t"));
            assert_eq!(info.free_bytes(), m.free_bytes);
            let vol = Volume::new(&m.path, offset, 0);
            let back = dir.path().join("back");
            vol.copy_out("keys/id", &back).unwrap();
            assert_eq!(fs::read(&back).unwrap(), b"PRIVATE");
            vol.copy_out("outpost.toml", &back).unwrap();
            assert_eq!(
                fs::read(&back).unwrap(),
                b"[system]\r\nhostname = \"t\"\r\n"
            );
            vol.copy_out(SEED_FILE, &back).unwrap();
            assert_eq!(fs::read(&back).unwrap().len(), SEED_BYTES);
            vol.copy_out("ldlinux.sys", &back).unwrap();
            let img = fs::read(&m.path).unwrap();
            match format {
                Format::Floppy1440 => assert_eq!(img.len(), 1_474_560),
                Format::Floppy2880 => assert_eq!(img.len(), 2_949_120),
                _ => {
                    assert_eq!(img.len() as u64, u64::from(CF_CYLINDERS) * 16 * 63 * 512);
                    assert_eq!(&img[510..512], &[0x55, 0xaa]);
                    assert_eq!(img[446], 0x80);
                    let mbr_code = fs::read(mbr::MBR_BIN).unwrap();
                    assert_eq!(&img[..mbr_code.len()], &mbr_code[..]);
                }
            }
            // SYSLINUX's boot sector, not mformat's.
            assert_eq!(&img[offset as usize + 3..offset as usize + 11], b"SYSLINUX");
        }
        assert_eq!(write(Format::Kernel, &c, &out, 0).unwrap(), None);
    }

    #[test]
    fn too_big_for_the_medium_says_by_how_much() {
        let dir = tempfile::tempdir().unwrap();
        let c = contents(dir.path(), 1_200_000);
        let err = write(Format::Floppy1440, &c, dir.path(), 0).unwrap_err();
        let e = err.to_string();
        assert!(e.contains("does not fit a 1.44 MB floppy"), "{e}");
        assert!(
            e.contains("too many") && e.contains("bzImage 1200000"),
            "{e}"
        );
        assert!(e.contains("--format floppy2880 or cf"), "{e}");
        assert!(!dir.path().join("floppy1440.img").exists());
        assert!(!dir.path().join("floppy1440.partial").exists());
        // The shortfall is exact: SYSLINUX leaves F bytes; the files take
        // whole 512-byte clusters.
        let empty = dir.path().join("empty.img");
        let vol = Volume::new(&empty, 0, 0);
        vol.format("X", 1, &["-C".into(), "-f".into(), "1440".into()])
            .unwrap();
        vol.install_syslinux().unwrap();
        let f = fat::read(&empty, 0).unwrap();
        let need: u64 = [1_200_000u64, 300_000, 26, 7, 512]
            .iter()
            .map(|n| n.div_ceil(512) * 512)
            .sum::<u64>()
            + 512
            + fs::metadata(syslinux_cfg()).unwrap().len().div_ceil(512) * 512;
        assert!(
            e.contains(&format!("{} bytes (", need - f.free_bytes())),
            "{e}"
        );
        assert!(
            matches!(err, BuildError::DoesNotFit { over, .. } if over == need - f.free_bytes()),
            "{err:?}"
        );
    }

    #[test]
    fn same_inputs_and_seed_give_identical_images_and_random_seeds_differ_only_in_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = contents(dir.path(), 400_000);
        let seed = dir.path().join("seed");
        fs::write(&seed, [0x5e; 512]).unwrap();
        c.seed = Seed::File(seed);
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(&b).unwrap();
        for format in [Format::Floppy2880, Format::Cf] {
            let ma = write(format, &c, &a, 1_700_000_000).unwrap().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2100));
            let mb = write(format, &c, &b, 1_700_000_000).unwrap().unwrap();
            assert!(
                fs::read(&ma.path).unwrap() == fs::read(&mb.path).unwrap(),
                "{format}"
            );
        }
        c.seed = Seed::Random;
        let ma = write(Format::Floppy2880, &c, &a, 1_700_000_000)
            .unwrap()
            .unwrap();
        let mb = write(Format::Floppy2880, &c, &b, 1_700_000_000)
            .unwrap()
            .unwrap();
        let (ia, ib) = (fs::read(&ma.path).unwrap(), fs::read(&mb.path).unwrap());
        let diff: Vec<usize> = (0..ia.len()).filter(|&i| ia[i] != ib[i]).collect();
        assert!(!diff.is_empty(), "two random seeds collided");
        let span = diff[diff.len() - 1] - diff[0];
        assert!(span < SEED_BYTES, "differences spread over {span} bytes");
        let seed_a = dir.path().join("sa");
        Volume::new(&ma.path, 0, 0)
            .copy_out(SEED_FILE, &seed_a)
            .unwrap();
        let seed_a_bytes = fs::read(&seed_a).unwrap();
        let at = ia
            .windows(SEED_BYTES)
            .position(|w| w == &seed_a_bytes[..])
            .unwrap();
        assert!(diff.iter().all(|&i| i >= at && i < at + SEED_BYTES));
    }
}
