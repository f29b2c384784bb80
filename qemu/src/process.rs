//! Child processes in their own process group, killed as a group on every
//! exit path: a test that fails, panics or forgets to shut a guest down
//! leaves nothing running behind it.

use std::process::{Child, Command, ExitStatus};
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
