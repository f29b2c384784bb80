//! The console protocol against a real local shell: `sh -i` on pipes (no
//! echo) and on a pseudo-terminal (echo, `\r\n`), driven through the same
//! `Console` type that drives a guest's serial port. `OUTPOST_TEST_SHELL`
//! names another shell to drive the same way, e.g. the router's own static
//! busybox (`/path/to/busybox sh`), whose line editor echoes differently.

use std::fs::File;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use outpost_qemu::{Console, HarnessError, ProcessGroup};

const T: Duration = Duration::from_secs(20);

/// `/bin/sh -i`, or `$OUTPOST_TEST_SHELL -i`.
fn shell_command() -> Command {
    let shell = std::env::var("OUTPOST_TEST_SHELL").unwrap_or_else(|_| "/bin/sh".into());
    let mut words = shell.split_whitespace();
    let mut cmd = Command::new(words.next().expect("OUTPOST_TEST_SHELL is empty"));
    cmd.args(words).arg("-i").env("PS1", "$ ");
    cmd
}

fn shell_on_pipes(dir: &std::path::Path) -> (ProcessGroup, Console) {
    let mut cmd = shell_command();
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut pg = ProcessGroup::spawn("sh", &mut cmd).unwrap();
    let stdin = pg.child_mut().stdin.take().unwrap();
    let stdout = pg.child_mut().stdout.take().unwrap();
    let console = Console::new("sh", stdout, stdin, &dir.join("sh.console.log")).unwrap();
    (pg, console)
}

/// A shell whose stdio is the slave side of a new pty: the tty echoes what
/// is typed and turns `\n` into `\r\n`, as a guest's serial console does.
fn shell_on_pty(dir: &std::path::Path) -> (ProcessGroup, Console) {
    let mut master = -1;
    let mut slave = -1;
    // SAFETY: openpty writes two descriptors into the provided ints; the name,
    // termios and winsize pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned here only.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = shell_command();
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let pg = ProcessGroup::spawn("sh-pty", &mut cmd).unwrap();
    drop(cmd); // closes our copies of the slave, so the master sees EOF/EIO when sh exits
    let writer = File::from(master.try_clone().unwrap());
    let reader = File::from(master);
    let console = Console::new("sh-pty", reader, writer, &dir.join("sh-pty.console.log")).unwrap();
    (pg, console)
}

fn exercise(console: &Console) {
    let out = console.run("echo hello; echo world", T).unwrap();
    assert_eq!(out.stdout, "hello\nworld");
    assert_eq!(out.status, 0);

    let out = console
        .run(
            "echo to-stderr >&2; exit_code() { return 7; }; exit_code",
            T,
        )
        .unwrap();
    assert_eq!(out.stdout, "to-stderr");
    assert_eq!(out.status, 7);

    let out = console.run("printf no-newline", T).unwrap();
    assert_eq!(out.stdout, "no-newline");

    let out = console.run("true", T).unwrap();
    assert_eq!(out.stdout, "");

    // A command that reads stdin must not swallow the console's next input.
    let out = console.run("cat", T).unwrap();
    assert_eq!((out.stdout.as_str(), out.status), ("", 0));

    // Shell state persists between commands: it is one shell session.
    console.run_ok("X=persisted", T).unwrap();
    assert_eq!(console.run_ok("echo $X", T).unwrap(), "persisted");

    let err = console.run_ok("false", T).unwrap_err();
    assert!(
        matches!(err, HarnessError::CommandFailed { status: 1, .. }),
        "{err}"
    );

    // wait_for never matches the same text twice.
    console.run_ok("echo tick-1", T).unwrap();
    console.send_line("echo tick-2").unwrap();
    console.wait_for("tick-2", T).unwrap();
    let err = console
        .wait_for("tick-1", Duration::from_millis(300))
        .unwrap_err();
    assert!(matches!(err, HarnessError::Timeout { .. }), "{err}");
    // The error shows what the console said last.
    assert!(err.to_string().contains("tick-2"), "{err}");

    // Many commands in a row keep their outputs apart.
    for i in 0..20 {
        assert_eq!(
            console.run_ok(&format!("echo n$(( {i} * 2 ))"), T).unwrap(),
            format!("n{}", i * 2)
        );
    }
}

#[test]
fn console_protocol_over_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let (_pg, console) = shell_on_pipes(dir.path());
    exercise(&console);
    let log = std::fs::read_to_string(console.log_path()).unwrap();
    assert!(
        log.contains("persisted"),
        "the log holds the transcript:\n{log}"
    );
}

#[test]
fn console_protocol_over_a_pty_with_echo() {
    let dir = tempfile::tempdir().unwrap();
    let (_pg, console) = shell_on_pty(dir.path());
    exercise(&console);
    let transcript = console.transcript();
    assert!(transcript.contains("\r\n"), "a tty sends CR LF");
    assert!(
        transcript.contains("echo hello; echo world"),
        "the tty echoed the input"
    );
}

#[test]
fn console_closing_ends_waits_with_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut pg, console) = shell_on_pipes(dir.path());
    console.send_line("echo last-words; exit 0").unwrap();
    let err = console.wait_for("never printed", T).unwrap_err();
    match err {
        HarnessError::ConsoleClosed { tail, .. } => assert!(tail.contains("last-words"), "{tail}"),
        other => panic!("expected ConsoleClosed, got {other}"),
    }
    assert!(console.is_closed());
    assert!(pg.wait_timeout(T).unwrap().success());
}

#[test]
fn bad_commands_are_refused_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let (_pg, console) = shell_on_pipes(dir.path());
    let err = console.run("echo a\necho b", T).unwrap_err();
    assert!(matches!(err, HarnessError::BadCommand { .. }), "{err}");
    assert_eq!(console.run_ok("echo still-fine", T).unwrap(), "still-fine");
}
