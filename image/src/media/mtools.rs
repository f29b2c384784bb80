//! Running mtools and SYSLINUX's installer on image files, with an
//! environment that makes their output depend on their inputs only: UTC,
//! the C locale, no user `.mtoolsrc`, and `SOURCE_DATE_EPOCH` (which mtools
//! 4.0.32 and `syslinux --install` honour for every directory entry they
//! write) clamped to 1980, the first date FAT can hold.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::Result;
use crate::exec;

/// 1980-01-01T00:00:00Z: FAT timestamps cannot be older.
pub const FAT_EPOCH: u64 = 315_532_800;

/// One FAT file system inside an image file, as mtools names it.
#[derive(Debug, Clone)]
pub struct Volume {
    image: PathBuf,
    offset: u64,
    epoch: u64,
}

impl Volume {
    /// The file system at byte `offset` of `image`; entries are dated `epoch`
    /// (seconds since 1970, clamped to [`FAT_EPOCH`]).
    pub fn new(image: &Path, offset: u64, epoch: u64) -> Self {
        Volume {
            image: image.to_path_buf(),
            offset,
            epoch: epoch.max(FAT_EPOCH),
        }
    }

    /// mtools' `-i` argument: `file`, or `file@@offset` for a partition.
    fn spec(&self) -> String {
        if self.offset == 0 {
            self.image.display().to_string()
        } else {
            format!("{}@@{}", self.image.display(), self.offset)
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("TZ", "UTC0")
            .env("LC_ALL", "C")
            .env("SOURCE_DATE_EPOCH", self.epoch.to_string())
            .env("MTOOLS_SKIP_CHECK", "1")
            .env("MTOOLSRC", "/dev/null");
        c
    }

    /// `mformat`: a fresh FAT labelled `label` with volume id `serial`;
    /// `geometry` are the extra arguments (`-f 1440`, or `-h -s -H -T`).
    pub fn format(&self, label: &str, serial: u32, geometry: &[String]) -> Result<()> {
        let mut c = self.command("mformat");
        c.args(geometry)
            .args(["-v", label, "-N", &format!("{serial:08x}"), "-i"])
            .arg(self.spec())
            .arg("::");
        exec::output(&mut c).map(drop)
    }

    /// `syslinux --install`: the boot sector, `ldlinux.sys` and `ldlinux.c32`.
    pub fn install_syslinux(&self) -> Result<()> {
        let mut c = self.command("syslinux");
        c.arg("--install");
        if self.offset != 0 {
            c.arg("--offset").arg(self.offset.to_string());
        }
        c.arg(&self.image);
        exec::output(&mut c).map(drop)
    }

    /// `mmd ::dir`.
    pub fn mkdir(&self, dir: &str) -> Result<()> {
        let mut c = self.command("mmd");
        c.arg("-i").arg(self.spec()).arg(format!("::{dir}"));
        exec::output(&mut c).map(drop)
    }

    /// `mcopy src ::dest` (binary, no text conversion).
    pub fn copy_in(&self, src: &Path, dest: &str) -> Result<()> {
        let mut c = self.command("mcopy");
        c.arg("-i")
            .arg(self.spec())
            .arg(src)
            .arg(format!("::{dest}"));
        exec::output(&mut c).map(drop)
    }

    /// `mcopy ::src dest`: a file back out of the image (tests, checks).
    pub fn copy_out(&self, src: &str, dest: &Path) -> Result<()> {
        let mut c = self.command("mcopy");
        c.args(["-n", "-i"])
            .arg(self.spec())
            .arg(format!("::{src}"))
            .arg(dest);
        exec::output(&mut c).map(drop)
    }
}
