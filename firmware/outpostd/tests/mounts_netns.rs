//! The boot mounts' "already mounted?" test against the kernel, in a
//! throwaway mount namespace (one thread's own): a directory bound onto
//! itself lives on its parent's device, so only the mount table tells it is
//! mounted — as a container's or systemd's bind-mounted /tmp, which the
//! agent must leave alone, and as the daemon test's namespace binds the
//! boot-mount targets its files live under.

mod netns;
mod scratch;

use std::os::unix::fs::MetadataExt;

use netns::root_or_skip;
use nix::mount::{mount, umount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use outpostd::mounts::is_mount_point;
use scratch::Scratch;

#[test]
fn a_bind_mount_within_one_file_system_is_a_mount_point() {
    if !root_or_skip("a_bind_mount_within_one_file_system_is_a_mount_point") {
        return;
    }
    let dir = Scratch::new("bind");
    let target = dir.join("target");
    std::fs::create_dir(&target).unwrap();
    let t = std::thread::spawn(move || {
        // Namespaces are per thread: the test process keeps its mounts.
        unshare(CloneFlags::CLONE_NEWNS).expect("unshare");
        let none: Option<&str> = None;
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).unwrap();
        assert!(!is_mount_point(&target).unwrap());
        mount(Some(&target), &target, none, MsFlags::MS_BIND, none).unwrap();
        let dev = |p: &std::path::Path| std::fs::metadata(p).unwrap().dev();
        assert_eq!(
            dev(&target),
            dev(&target.join("..")),
            "the device test alone cannot tell"
        );
        assert!(is_mount_point(&target).unwrap());
        umount(&target).unwrap();
        assert!(!is_mount_point(&target).unwrap());
    });
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}
