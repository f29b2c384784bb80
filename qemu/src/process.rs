//! Child processes in their own process group, killed as a group on every
//! exit path: a test that fails, panics or forgets to shut a guest down
//! leaves nothing running behind it.

use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use crate::error::{HarnessError, Result};

/// How often [`ProcessGroup::wait_timeout`] looks at the child. Polling (not a
/// sleep standing in for readiness): std offers no waitpid with a deadline.
const POLL: Duration = Duration::from_millis(20);

/// A spawned child that leads its own process group.
///
/// Dropping it sends SIGKILL to the whole group and reaps the leader.
#[derive(Debug)]
pub struct ProcessGroup {
    what: String,
    child: Child,
    exited: Option<ExitStatus>,
}

impl ProcessGroup {
    /// Spawns `cmd` as the leader of a new process group (pgid = its pid).
    /// `what` names it in errors.
    pub fn spawn(what: impl Into<String>, cmd: &mut Command) -> std::io::Result<Self> {
        use std::os::unix::process::CommandExt;
        let child = cmd.process_group(0).spawn()?;
        if let Ok(pgid) = i32::try_from(child.id()) {
            register(pgid);
        }
        Ok(ProcessGroup {
            what: what.into(),
            child,
            exited: None,
        })
    }

    /// The leader's pid, which is also the group id.
    pub fn pgid(&self) -> u32 {
        self.child.id()
    }

    /// The std child, to take its pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The leader's exit status if it has exited (reaping it), without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.exited.is_none() {
            self.exited = self
                .child
                .try_wait()
                .map_err(|e| HarnessError::io(format!("waiting for {}", self.what), e))?;
        }
        Ok(self.exited)
    }

    /// Waits up to `timeout` for the leader to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::ExitTimeout {
                    what: self.what.clone(),
                    timeout,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL to every process of the group, then reaps the leader.
    /// Idempotent; members that already exited are fine.
    pub fn kill(&mut self) {
        let Ok(pgid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill(2) has no memory-safety preconditions. A negative pid
        // addresses the group this child leads; the leader is not reaped yet
        // (or was reaped by us just now), so the group id cannot have been reused
        // by an unrelated group while we hold the child.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        unregister(pgid);
        if self.exited.is_none() {
            self.exited = self.child.wait().ok();
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The groups alive now, for [`kill_groups_on_interrupt`]: a fixed table of
/// atomics, because a signal handler may touch nothing else (0 = free).
static LIVE: [AtomicI32; 256] = [const { AtomicI32::new(0) }; 256];

fn register(pgid: i32) {
    // A full table only means a group Ctrl-C would not reach: Drop still does.
    let _ = LIVE.iter().find(|slot| {
        slot.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    });
}

fn unregister(pgid: i32) {
    for slot in &LIVE {
        let _ = slot.compare_exchange(pgid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

extern "C" fn kill_live_and_exit(sig: libc::c_int) {
    for slot in &LIVE {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) is async-signal-safe and has no memory-safety
            // preconditions.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
    // SAFETY: _exit(2) is async-signal-safe; the shell's convention for a
    // death by signal is 128 + its number.
    unsafe { libc::_exit(128 + sig) }
}

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP kill every process group this
/// process started before it exits. A program that boots guests for a user
/// (`mkoutpost site rehearse`) calls it once: the default action would end
/// the program without its destructors and leave the guests running, each
/// in a group of its own that the terminal's Ctrl-C does not reach.
pub fn kill_groups_on_interrupt() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installing a handler that only reads atomics and calls
        // async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = kill_live_and_exit as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}
