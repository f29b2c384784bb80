//! One running guest: its QEMU process group, serial console and monitor.
//! Killed on every exit path; a guest dropped during a panic prints what
//! its console said last, so the failing test shows it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::console::{Console, Output};
use crate::error::{HarnessError, Result};
use crate::monitor::Monitor;
use crate::process::ProcessGroup;
use crate::spec::MachineSpec;

/// Console lines printed when a machine is dropped during a panic.
pub const PANIC_TAIL_LINES: usize = 80;

/// How long QEMU gets to open its monitor socket after being spawned.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running QEMU guest.
#[derive(Debug)]
pub struct Machine {
    spec: MachineSpec,
    workdir: PathBuf,
    // Field order matters for Drop: the process group dies (in Drop::drop)
    // before the console and monitor are dropped.
    process: ProcessGroup,
    console: Console,
    monitor: Mutex<Option<Monitor>>,
}

impl Machine {
    /// Starts `spec` with its files (sockets, logs) in `workdir` (created if missing).
    /// Returns once QEMU answers on its monitor; the guest is booting.
    pub fn start(spec: MachineSpec, workdir: &Path) -> Result<Machine> {
        std::fs::create_dir_all(workdir)
            .map_err(|e| HarnessError::io(format!("creating {}", workdir.display()), e))?;
        let args = spec.qemu_args(workdir)?;
        let monitor_path = spec.monitor_path(workdir);
        // The kernel rejects longer unix socket paths (sun_path is 108 bytes).
        if monitor_path.as_os_str().len() >= 100 {
            return Err(HarnessError::InvalidSpec(format!(
                "socket path {} is too long for a unix socket: use a shorter work directory",
                monitor_path.display()
            )));
        }
        remove_stale(&monitor_path)?;
        let qemu_log = spec.qemu_log_path(workdir);
        let log = std::fs::File::create(&qemu_log)
            .map_err(|e| HarnessError::io(format!("creating {}", qemu_log.display()), e))?;
        let command_line = format!(
            "{} {}",
            spec.qemu.display(),
            args.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let start_error = |reason: String| HarnessError::Start {
            machine: spec.name.clone(),
            command: command_line.clone(),
            reason,
            log: qemu_log.clone(),
            tail: crate::console::tail_lines(
                &std::fs::read_to_string(&qemu_log).unwrap_or_default(),
                20,
            ),
        };
        let mut cmd = Command::new(&spec.qemu);
        cmd.args(&args)
            .current_dir(workdir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut process = ProcessGroup::spawn(spec.name.clone(), &mut cmd)
            .map_err(|e| start_error(format!("spawn: {e}")))?;
        let (Some(stdin), Some(stdout)) = (
            process.child_mut().stdin.take(),
            process.child_mut().stdout.take(),
        ) else {
            return Err(start_error("no stdio pipes".into()));
        };
        let console = Console::new(
            spec.name.clone(),
            stdout,
            stdin,
            &spec.console_log_path(workdir),
        )?;
        let deadline = Instant::now() + START_TIMEOUT;
        let monitor = loop {
            if let Some(status) = process.try_wait()? {
                return Err(start_error(format!("QEMU exited at once ({status})")));
            }
            // QEMU creates the socket while parsing its options; polling for it
            // is waiting on readiness, there is nothing to be notified by.
            match Monitor::connect(&monitor_path) {
                Ok(m) => break m,
                Err(e) if Instant::now() >= deadline => {
                    return Err(start_error(format!("monitor socket never answered: {e}")))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        Ok(Machine {
            spec,
            workdir: workdir.to_path_buf(),
            process,
            console,
            monitor: Mutex::new(Some(monitor)),
        })
    }

    /// The guest's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The spec it was started from.
    pub fn spec(&self) -> &MachineSpec {
        &self.spec
    }

    /// Its work directory.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// QEMU's process (group) id.
    pub fn pid(&self) -> u32 {
        self.process.pgid()
    }

    /// The serial console.
    pub fn console(&self) -> &Console {
        &self.console
    }

    /// See [`Console::wait_for`].
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<()> {
        self.console.wait_for(needle, timeout)
    }

    /// See [`Console::run`].
    pub fn run(&self, cmd: &str, timeout: Duration) -> Result<Output> {
        self.console.run(cmd, timeout)
    }

    /// See [`Console::run_ok`].
    pub fn run_ok(&self, cmd: &str, timeout: Duration) -> Result<String> {
        self.console.run_ok(cmd, timeout)
    }

    /// See [`Console::send_line`].
    pub fn send_line(&self, line: &str) -> Result<()> {
        self.console.send_line(line)
    }

    /// Runs one HMP command and returns QEMU's answer.
    pub fn monitor(&self, hmp_command: &str) -> Result<String> {
        let mut guard = self.monitor_lock();
        let err = |reason: String| HarnessError::Monitor {
            machine: self.spec.name.clone(),
            command: hmp_command.to_string(),
            reason,
        };
        let m = guard
            .as_mut()
            .ok_or_else(|| err("the monitor was closed by `quit`".into()))?;
        let answer = m.command(hmp_command).map_err(|e| err(e.to_string()))?;
        // HMP reports failures as text, not with a status: "Error: ..." or
        // "unknown command: '...'" on the first line.
        let first = answer.lines().next().unwrap_or("");
        if first.starts_with("Error") || first.starts_with("unknown command") {
            return Err(err(answer));
        }
        Ok(answer)
    }

    /// Plugs (`up`) or unplugs the cable of the NIC whose netdev id is `netdev_id`.
    pub fn set_link(&self, netdev_id: &str, up: bool) -> Result<()> {
        self.monitor(&format!(
            "set_link {netdev_id} {}",
            if up { "on" } else { "off" }
        ))
        .map(drop)
    }

    /// Types `text` on the guest's keyboard (`sendkey`, one key at a time:
    /// the emulated i8042 drops keys sent faster than the guest reads them).
    pub fn type_text(&self, text: &str) -> Result<()> {
        let keys = crate::screen::keys_for(text).map_err(|c| HarnessError::Monitor {
            machine: self.spec.name.clone(),
            command: "sendkey".into(),
            reason: format!("{c:?} cannot be typed on a US keyboard"),
        })?;
        for k in keys {
            self.monitor(&format!("sendkey {k}"))?;
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
        Ok(())
    }

    /// The VGA text screen's characters (the whole 32 KiB text buffer,
    /// 80 columns: the visible screen is inside it, with what scrolled off
    /// before it), read with `pmemsave` into the work directory.
    pub fn vga_text(&self) -> Result<String> {
        let (addr, len) = crate::screen::TEXT_BUFFER;
        let file = self
            .workdir
            .join(format!("{}.vga-text.bin", self.spec.name));
        // Quoted: HMP would read an unquoted /path as a division.
        self.monitor(&format!("pmemsave {addr:#x} {len} \"{}\"", file.display()))?;
        let bytes = std::fs::read(&file).map_err(|e| HarnessError::Monitor {
            machine: self.spec.name.clone(),
            command: "pmemsave".into(),
            reason: format!("reading {}: {e}", file.display()),
        })?;
        Ok(crate::screen::text_of(&bytes, 80))
    }

    /// Saves a picture of the screen (`screendump`, PPM) at `file`.
    pub fn screendump(&self, file: &Path) -> Result<()> {
        self.monitor(&format!("screendump {}", file.display()))
            .map(drop)
    }

    /// Presses the reset button.
    pub fn system_reset(&self) -> Result<()> {
        self.monitor("system_reset").map(drop)
    }

    /// Ends QEMU at once through the monitor (the guest gets no say).
    pub fn quit(&self) -> Result<()> {
        let mut guard = self.monitor_lock();
        if let Some(mut m) = guard.take() {
            // QEMU closes the socket as it exits; a reset connection is success.
            match m.command("quit") {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => {
                    return Err(HarnessError::Monitor {
                        machine: self.spec.name.clone(),
                        command: "quit".into(),
                        reason: e.to_string(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Whether QEMU is still running.
    pub fn is_running(&mut self) -> Result<bool> {
        Ok(self.process.try_wait()?.is_none())
    }

    /// Waits up to `timeout` for QEMU to exit by itself (e.g. after the guest
    /// rebooted under `-no-reboot`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        self.process.wait_timeout(timeout)
    }

    /// Shuts the guest down: `reboot -f` on its console when `-no-reboot` is
    /// set (QEMU then exits), else `quit` on the monitor; QEMU is killed if it
    /// has not exited within `timeout`. Errors only if it had to be killed.
    pub fn shutdown(mut self, timeout: Duration) -> Result<()> {
        if self.process.try_wait()?.is_some() {
            return Ok(());
        }
        let asked = if self.spec.no_reboot {
            self.console.send_line("reboot -f")
        } else {
            self.quit()
        };
        let exited = asked.and_then(|()| self.process.wait_timeout(timeout).map(drop));
        if exited.is_err() && self.quit().is_ok() {
            // The guest ignored us (or its shell is busy): QEMU quits on request.
            if self.process.wait_timeout(Duration::from_secs(5)).is_ok() {
                return Ok(());
            }
        }
        exited
        // Drop kills whatever is left.
    }

    fn monitor_lock(&self) -> MutexGuard<'_, Option<Monitor>> {
        self.monitor.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.process.kill();
        if std::thread::panicking() {
            self.console.wait_closed(Duration::from_secs(2));
            eprintln!(
                "===== console of {} (last {PANIC_TAIL_LINES} lines; full log {}) =====\n{}\n===== end of {} =====",
                self.spec.name,
                self.console.log_path().display(),
                self.console.tail(PANIC_TAIL_LINES),
                self.spec.name
            );
            let qemu_log = self.spec.qemu_log_path(&self.workdir);
            let mut text = String::new();
            if let Ok(mut f) = std::fs::File::open(&qemu_log) {
                let _ = f.read_to_string(&mut text);
            }
            if !text.trim().is_empty() {
                eprintln!(
                    "----- QEMU stderr of {} -----\n{}",
                    self.spec.name,
                    text.trim_end()
                );
            }
        }
    }
}

fn remove_stale(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(HarnessError::io(format!("removing {}", path.display()), e)),
    }
}
