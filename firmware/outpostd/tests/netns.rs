//! Shared by the root tests: run a closure on a thread of its own inside a
//! throwaway network + UTS namespace (gone when the thread ends), with a
//! current-thread tokio runtime like the daemon's, and run `ip` there.

#![allow(dead_code)]

use std::process::Command;

use nix::sched::{unshare, CloneFlags};

/// Whether the tests that need root can run; prints why not otherwise.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped {test}: needs root to create network namespaces (CI runs as root)");
        false
    }
}

/// Runs `f` in a fresh network and UTS namespace; panics in `f` fail the test.
pub fn in_netns<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let t = std::thread::spawn(move || {
        // Namespaces are per thread: this one leaves the test process alone.
        unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWUTS).expect("unshare");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(f());
    });
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `ip ARGS` (inside the calling thread's namespace: children inherit
/// it) and returns its stdout; panics with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The link flags `ip -o link` prints between `<` and `>`.
pub fn flags(line: &str) -> Vec<String> {
    let inner = line
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or("", |(f, _)| f);
    inner.split(',').map(str::to_string).collect()
}
