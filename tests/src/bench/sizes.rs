//! Image sizes: each component of the office and concentrator images
//! (i486), and the office image on every medium `mkoutpost build` writes,
//! with what is left free on it or by how much it does not fit.

use std::path::Path;

use anyhow::Result;
use mkoutpost::build::{self, BuildOptions, BuildReport};
use mkoutpost::cpu::Cpu;
use mkoutpost::error::BuildError;
use mkoutpost::media::{self, Format, Seed};

use crate::example;

/// A component's size in the two router images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRow {
    /// Its name (`kernel`, `busybox`, …, `initramfs (total)`).
    pub name: String,
    /// In the office image: bytes, and xz bytes where it is compressed.
    pub office: Option<(u64, Option<u64>)>,
    /// In the concentrator image.
    pub concentrator: Option<(u64, Option<u64>)>,
}

/// How the office image fares on one medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fit {
    /// Written: the image file's bytes and the FAT's free bytes (none for
    /// the kernel format, which has no medium).
    Fits {
        /// Bytes of the image (for `kernel`, bzImage + initramfs).
        image: u64,
        /// Free bytes on the FAT volume after everything was written.
        free: Option<u64>,
    },
    /// Its files need this many bytes more than the medium has.
    TooBig(u64),
}

/// All sizes.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Per component.
    pub components: Vec<ComponentRow>,
    /// Per medium, in [`Format::ALL`]'s order.
    pub media: Vec<(Format, Fit)>,
}

/// Builds the example office and concentrator (`examples/site/`, whose
/// plans the site file's derived routers share) for `cpu` into `out`
/// (through the cache: seconds) and writes the office onto every medium.
pub fn measure(out: &Path, cpu: Cpu) -> Result<Sizes> {
    let opts = |name: &str| BuildOptions {
        config: example(&format!("site/{name}.toml")),
        out_dir: out.join(name),
        cpu,
        seed: Seed::Random,
    };
    let quiet = &mut |_: &str| {};
    let office_opts = opts("office");
    let office = build::build(&office_opts, quiet)?;
    let concentrator = build::build(&opts("concentrator"), quiet)?;
    let mut media = Vec::new();
    for format in Format::ALL {
        let fit = match media::for_build(&office_opts, &office, format, Seed::Random) {
            Ok(Some(m)) => Fit::Fits {
                image: m.image_bytes,
                free: Some(m.free_bytes),
            },
            Ok(None) => Fit::Fits {
                image: file_len(&office.kernel)? + file_len(&office.initramfs)?,
                free: None,
            },
            Err(BuildError::DoesNotFit { over, .. }) => Fit::TooBig(over),
            Err(e) => return Err(e.into()),
        };
        media.push((format, fit));
    }
    Ok(Sizes {
        components: components(&office, &concentrator),
        media,
    })
}

fn file_len(p: &Path) -> Result<u64> {
    Ok(std::fs::metadata(p)?.len())
}

/// The union of both images' components, in the order they first appear.
pub fn components(office: &BuildReport, concentrator: &BuildReport) -> Vec<ComponentRow> {
    let mut rows: Vec<ComponentRow> = Vec::new();
    for (is_office, report) in [(true, office), (false, concentrator)] {
        for c in &report.components {
            let at = match rows.iter().position(|r| r.name == c.name) {
                Some(i) => i,
                None => {
                    rows.push(ComponentRow {
                        name: c.name.clone(),
                        office: None,
                        concentrator: None,
                    });
                    rows.len() - 1
                }
            };
            let v = Some((c.raw, c.compressed));
            if is_office {
                rows[at].office = v;
            } else {
                rows[at].concentrator = v;
            }
        }
    }
    // The total goes last, whichever image listed more components.
    rows.sort_by_key(|r| r.name.starts_with("initramfs"));
    rows
}
