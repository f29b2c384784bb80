//! Power cuts during `outpostd save` (issue 5): a CF disk file and a
//! 2.88 MB floppy file, each booted without snapshot, a loop on the guest
//! saving two configs in turn (`outpostd save`), QEMU killed
//! with SIGKILL at varied moments, then the same disk booted again. Every
//! boot must reach `outpostd: ready` from the medium's `outpost.toml` or
//! its `.bak` — one of the configs saved — never the baked-in fallback
//! (which would mean a torn file), and without FAT errors from the kernel;
//! after each cut the host's `fsck.fat` finds nothing but the dirty bit
//! and, at worst, lost clusters.
//!
//! The loop mostly runs bare `outpostd save` (rewrite the config in force,
//! no re-apply), so cuts land inside the write steps; with the save order
//! this replaced (rename `NAME` → `.bak`, `.new` → `NAME`, directory fsyncs
//! only) the second cut already booted the baked-in config.
//!
//! `OUTPOST_POWERCUTS` sets the number of cuts (default 16).

use std::path::Path;
use std::time::{Duration, Instant};

use mkoutpost::build::{self, BuildOptions};
use mkoutpost::cpu::Cpu;
use mkoutpost::media::{self, Format, Seed};
use outpost_qemu::{Hub, Machine};
use outpost_tests::{boot_medium, build_with, example, guest_hostname, repo, workdir, CMD_TIMEOUT};

fn boot(
    report: &build::BuildReport,
    format: Format,
    disk: &Path,
    name: &str,
    work: &Path,
) -> (Machine, Vec<Hub>) {
    let booted =
        boot_medium(report, format, disk, name, work).expect("boots from the medium after the cut");
    (booted.machine, booted.hubs)
}

/// Checks one boot's console: config from the medium, no FAT trouble.
/// Returns which file was in force.
fn check_boot(m: &Machine, round: usize) -> &'static str {
    let t = m.console().transcript();
    assert!(
        !t.contains("the config built into the image"),
        "round {round}: fell back to the baked-in config:\n{t}"
    );
    for line in t.lines().filter(|l| l.contains("FAT-fs")) {
        // An unclean unmount is what a power cut is; anything else is damage.
        assert!(
            line.contains("not properly unmounted"),
            "round {round}: FAT error: {line}"
        );
    }
    let from = if t.contains("config in force: /boot/outpost.toml (") {
        "outpost.toml"
    } else if t.contains("config in force: /boot/outpost.toml.bak") {
        "outpost.toml.bak"
    } else {
        panic!("round {round}: no config in force from the medium:\n{t}")
    };
    let host = guest_hostname(m).unwrap();
    assert!(
        ["office1", "cuta", "cutb"].contains(&host.as_str()),
        "round {round}: hostname {host}"
    );
    eprintln!("round {round}: booted from {from}, hostname {host}");
    from
}

#[test]
fn power_cuts_during_saves_leave_a_bootable_cf_card() {
    power_cuts(Format::Cf, 16);
}

#[test]
fn power_cuts_during_saves_leave_a_bootable_floppy() {
    power_cuts(Format::Floppy2880, 8);
}

/// `default_cuts` cuts (or `OUTPOST_POWERCUTS`) on a `format` medium.
fn power_cuts(format: Format, default_cuts: usize) {
    let cuts: usize = std::env::var("OUTPOST_POWERCUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cuts);
    eprintln!("power cuts on {format}: N = {cuts}");
    let started = Instant::now();
    std::env::set_var("SOURCE_DATE_EPOCH", "1700000000");
    let opts = BuildOptions {
        config: example("site/office.toml"),
        seed: Seed::Random,
        out_dir: repo().join(format!("target/e2e/media-powercut-{format}")),
        cpu: Cpu::I486,
    };
    let report = build_with(&opts, &format!("powercut {format}")).expect("image builds");
    let medium = media::for_build(&opts, &report, format, Seed::Random)
        .expect("medium written")
        .expect("a medium format");
    let work = workdir(&format!("powercut-{format}")).unwrap();
    let disk = work.join("medium.img");
    std::fs::copy(&medium.path, &disk).unwrap();
    let fat_offset = match format {
        Format::Cf => media::CF_PARTITION_START as usize * 512,
        _ => 0,
    };

    let (mut m, mut hubs) = boot(&report, format, &disk, "cut0", &work);
    check_boot(&m, 0);
    let mut from_bak = 0;
    for round in 1..=cuts {
        for (file, name) in [("/tmp/a.toml", "cuta"), ("/tmp/b.toml", "cutb")] {
            m.run_ok(
                &format!(
                    "sed 's/^hostname = .*/hostname = \"{name}\"/' /boot/outpost.toml > {file}"
                ),
                CMD_TIMEOUT,
            )
            .unwrap();
        }
        // A save of a FILE re-applies it (most of its time); a bare `save`
        // only rewrites the config in force, so the loop spends most of its
        // time inside the write steps, where a cut can do harm.
        m.send_line(
            "while :; do for f in /tmp/a.toml /tmp/b.toml; do outpostd save $f >/dev/null; for i in 1 2 3 4; do outpostd save >/dev/null; done; done; done",
        )
        .unwrap();
        // Varied moments, spread over several saves.
        let wait = Duration::from_millis(700 + (round as u64 * 577) % 2300);
        std::thread::sleep(wait);
        eprintln!("round {round}: SIGKILL after {wait:?} of saving");
        drop(m); // SIGKILL to QEMU: the power cut.
        drop(hubs);
        check_fat(&disk, fat_offset, &work);
        let (m2, h2) = boot(&report, format, &disk, &format!("cut{round}"), &work);
        if check_boot(&m2, round) == "outpost.toml.bak" {
            from_bak += 1;
        }
        m = m2;
        hubs = h2;
    }
    m.shutdown(CMD_TIMEOUT).expect("clean shutdown");
    drop(hubs);
    check_fat(&disk, fat_offset, &work);
    eprintln!(
        "{format}: {cuts} power cuts, every boot from the medium ({from_bak} from outpost.toml.bak); {:.0?} in all",
        started.elapsed()
    );
}

/// The host's `fsck.fat -n` on the medium's FAT (at `offset`) as a cut left it: the
/// only findings allowed are the dirty bit (every cut leaves it), lost
/// clusters (the copy a cut orphans, see outpostd's `save.rs`) and the two
/// FAT copies differing while each is intact (a cut between the kernel's
/// writes of the first and of its mirror; everything reads the first); a
/// cross-link, a chain pointing into free clusters or a damaged directory
/// is the corruption the save order exists to prevent.
fn check_fat(disk: &Path, offset: usize, work: &Path) {
    let image = std::fs::read(disk).unwrap();
    let part = work.join("fat.img");
    std::fs::write(&part, &image[offset..]).unwrap();
    let out = std::process::Command::new("fsck.fat")
        .arg("-n")
        .arg(&part)
        .output()
        .expect("fsck.fat runs (dosfstools, installed by make deps)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("fsck.fat -n: {}", text.trim().replace('\n', " | "));
    let benign = [
        "fsck.fat ",
        "Dirty bit is set",
        "Automatically removing dirty bit",
        "Reclaimed ",
        "FATs differ but appear to be intact",
        "Using first FAT",
        "Leaving filesystem unchanged",
    ];
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let summary = line.starts_with(&format!("{}:", part.display()));
        assert!(
            summary || benign.iter().any(|b| line.starts_with(b.trim_start())),
            "fsck.fat found damage after the power cuts: {line}\n{text}"
        );
    }
}
