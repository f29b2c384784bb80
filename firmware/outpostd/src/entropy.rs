//! The kernel's random pool at boot. A 486 has no TSC and no RDRAND, so the
//! pool takes seconds to fill and dbclient/dropbear wait for it. Early in
//! boot outpostd credits a seed file to the kernel (`RNDADDENTROPY` on
//! /dev/urandom) and at once replaces the file with fresh bytes (the atomic
//! write of [`crate::save`]), so no seed is ever credited twice; then it
//! logs how long the pool took to be ready.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use log::{info, warn};

use crate::medium;
use crate::save::{save_file, Keep, MountPoint, Remount, SaveError};

/// The seed's size: what the kernel's pool holds, and what `mkoutpost`
/// writes onto the medium.
pub const SEED_BYTES: usize = 512;

/// Where a seed may live, first readable wins.
#[derive(Debug, Clone)]
pub struct SeedSpot {
    /// The directory.
    pub dir: PathBuf,
    /// The file name in it.
    pub name: &'static str,
    /// The mount point to remount read-write while refreshing, if any.
    pub remount: Option<PathBuf>,
}

/// The candidates on a router: the boot medium's `random.seed` (written by
/// `mkoutpost build`), then one baked into the image.
pub fn default_spots() -> Vec<SeedSpot> {
    vec![
        SeedSpot {
            dir: PathBuf::from(medium::MOUNT_POINT),
            name: "random.seed",
            remount: Some(PathBuf::from(medium::MOUNT_POINT)),
        },
        SeedSpot {
            dir: PathBuf::from("/etc/outpost"),
            name: "random-seed",
            remount: None,
        },
    ]
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum EntropyError {
    /// No candidate could be read.
    #[error(
        "no entropy seed found (looked at {0}); the tunnel may wait for the kernel's random pool"
    )]
    NoSeed(String),
    /// The kernel refused the seed.
    #[error("crediting the seed {path} to the kernel: {source}")]
    Credit {
        /// The seed file.
        path: String,
        /// The kernel's reason.
        #[source]
        source: nix::Error,
    },
    /// The fresh seed could not be written.
    #[error("refreshing the seed: {0}")]
    Refresh(#[from] SaveError),
    /// The kernel gave no random bytes.
    #[error("reading fresh random bytes: {0}")]
    Random(std::io::Error),
}

/// The kernel's `struct rand_pool_info` with room for the seed.
#[repr(C)]
struct RandPoolInfo {
    entropy_count: i32,
    buf_size: i32,
    buf: [u8; SEED_BYTES],
}

// RNDADDENTROPY = _IOW('R', 0x03, int[2]).
nix::ioctl_write_ptr_bad!(
    rnd_add_entropy,
    nix::request_code_write!(b'R', 0x03, 2 * std::mem::size_of::<i32>()),
    RandPoolInfo
);

/// Mixes `seed` into the kernel's pool and credits 8 bits per byte (at most
/// the pool's size). Needs CAP_SYS_ADMIN.
pub fn credit(seed: &[u8], path: &str) -> Result<(), EntropyError> {
    let n = seed.len().min(SEED_BYTES);
    let mut info = RandPoolInfo {
        entropy_count: (n * 8) as i32,
        buf_size: n as i32,
        buf: [0; SEED_BYTES],
    };
    info.buf[..n].copy_from_slice(&seed[..n]);
    let credit_err = |source| EntropyError::Credit {
        path: path.to_string(),
        source,
    };
    let f = File::open("/dev/urandom")
        .map_err(|e| credit_err(nix::Error::from_raw(e.raw_os_error().unwrap_or(0))))?;
    // SAFETY: the fd is open for the call's duration and `info` is a valid
    // rand_pool_info whose buf_size does not exceed its buffer.
    unsafe { rnd_add_entropy(f.as_raw_fd(), &info) }.map_err(credit_err)?;
    Ok(())
}

/// Whether the kernel's pool is initialised (getrandom does not block).
pub fn pool_ready() -> bool {
    let mut b = [0u8; 1];
    // SAFETY: the buffer is valid for one byte.
    let r = unsafe { nix::libc::getrandom(b.as_mut_ptr().cast(), 1, nix::libc::GRND_NONBLOCK) };
    r == 1
}

/// `n` bytes from the kernel (blocking until its pool is ready, which it is
/// once a seed was credited).
pub fn fresh(n: usize) -> Result<Vec<u8>, EntropyError> {
    let mut out = vec![0u8; n];
    let mut got = 0;
    while got < n {
        // SAFETY: the range is inside `out`.
        let r = unsafe { nix::libc::getrandom(out[got..].as_mut_ptr().cast(), n - got, 0) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(EntropyError::Random(e));
        }
        got += r as usize;
    }
    Ok(out)
}

struct NoRemount;

impl Remount for NoRemount {
    fn rw(&mut self) -> Result<(), SaveError> {
        Ok(())
    }
    fn ro(&mut self) -> Result<(), SaveError> {
        Ok(())
    }
}

/// What happened at boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    /// The seed used.
    pub path: PathBuf,
    /// Whether the file was replaced (false: read-only, logged).
    pub refreshed: bool,
}

/// Credits the first readable seed among `spots` and replaces it with fresh
/// bytes. A seed that was credited but cannot be replaced is reported (it
/// would be credited again next boot: the medium must be made writable).
pub fn seed_from(spots: &[SeedSpot]) -> Result<Seeded, EntropyError> {
    let mut looked = Vec::new();
    for spot in spots {
        let path = spot.dir.join(spot.name);
        let Ok(seed) = std::fs::read(&path) else {
            looked.push(path.display().to_string());
            continue;
        };
        if seed.is_empty() {
            looked.push(format!("{} (empty)", path.display()));
            continue;
        }
        credit(&seed, &path.display().to_string())?;
        let new = fresh(SEED_BYTES)?;
        let written = match &spot.remount {
            Some(target) => save_file(
                &spot.dir,
                spot.name,
                &new,
                Keep::Nothing,
                &mut MountPoint {
                    target: target.clone(),
                    data: medium::MOUNT_DATA,
                },
            ),
            None => save_file(&spot.dir, spot.name, &new, Keep::Nothing, &mut NoRemount),
        };
        let refreshed = match written {
            Ok(_) => true,
            Err(e) => {
                warn!(
                    "entropy seed {} credited but not replaced ({e}); it will be credited again at the next boot",
                    path.display()
                );
                false
            }
        };
        return Ok(Seeded { path, refreshed });
    }
    Err(EntropyError::NoSeed(looked.join(", ")))
}

/// Boot step: seed, refresh, and log how long until the pool was ready.
pub fn at_boot(spots: &[SeedSpot]) {
    let t0 = Instant::now();
    let ready_before = pool_ready();
    match seed_from(spots) {
        Ok(s) => info!(
            "entropy: credited {} bytes from {}{}",
            SEED_BYTES,
            s.path.display(),
            if s.refreshed { ", seed replaced" } else { "" }
        ),
        Err(e) => warn!("{e}"),
    }
    if ready_before {
        info!("entropy: random pool was already ready");
        return;
    }
    if pool_ready() {
        info!(
            "entropy: random pool ready after {:.2} s",
            t0.elapsed().as_secs_f64()
        );
        return;
    }
    // Without a seed the pool fills by itself; the boot must not wait for
    // it, but the console should say how long it took.
    let spawned = std::thread::Builder::new()
        .name("entropy".into())
        .spawn(move || {
            let deadline = Duration::from_secs(120);
            while !pool_ready() {
                if t0.elapsed() > deadline {
                    warn!("entropy: random pool still not ready after 120 s");
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            info!(
                "entropy: random pool ready after {:.2} s",
                t0.elapsed().as_secs_f64()
            );
        });
    if let Err(e) = spawned {
        warn!("entropy: cannot watch the random pool: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ioctl_request_is_rndaddentropy() {
        // linux/random.h: #define RNDADDENTROPY _IOW('R', 0x03, int[2]) = 0x40085203
        assert_eq!(
            nix::request_code_write!(b'R', 0x03, 2 * std::mem::size_of::<i32>()) as u64,
            0x4008_5203
        );
    }

    #[test]
    fn no_seed_anywhere_is_reported_with_the_places_looked_at() {
        let spots = [SeedSpot {
            dir: PathBuf::from("/nonexistent-outpost"),
            name: "random.seed",
            remount: None,
        }];
        match seed_from(&spots) {
            Err(EntropyError::NoSeed(l)) => assert!(l.contains("/nonexistent-outpost/random.seed")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fresh_bytes_differ() {
        assert_ne!(fresh(64).unwrap(), fresh(64).unwrap());
    }
}
