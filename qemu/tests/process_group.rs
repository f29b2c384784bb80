//! Dropping a `ProcessGroup` kills every process in it, grandchildren
//! included, through the same spawn path QEMU is started with.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use outpost_qemu::ProcessGroup;

/// Alive means: in the process table and not a zombie (an orphaned zombie
/// waits for init to reap it, which is not ours to wait for).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        }
    }
}

fn spawn_family() -> (ProcessGroup, Vec<u32>) {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg("sleep 1000 & echo $!; sleep 1000 & echo $!; echo $$; wait")
        .stdout(Stdio::piped());
    let mut pg = ProcessGroup::spawn("family", &mut cmd).unwrap();
    let out = pg.child_mut().stdout.take().unwrap();
    let pids: Vec<u32> = BufReader::new(out)
        .lines()
        .take(3)
        .map(|l| l.unwrap().trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    assert_eq!(pids[2], pg.pgid(), "the shell leads the group");
    (pg, pids)
}

/// Gone, allowing the kernel a moment to deliver SIGKILL; the deadline only
/// bounds a failing test, it is not what the test measures.
fn assert_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "still alive: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn drop_kills_the_whole_group() {
    let (pg, pids) = spawn_family();
    assert!(pids.iter().all(|&p| alive(p)), "all started");
    drop(pg);
    assert_gone(&pids);
}

#[test]
fn drop_during_a_panic_kills_the_whole_group() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let (_pg, pids) = spawn_family();
        tx.send(pids).unwrap();
        panic!("a failing test");
    })
    .join();
    assert!(result.is_err());
    assert_gone(&rx.recv().unwrap());
}

#[test]
fn wait_timeout_reports_a_running_process() {
    let mut cmd = Command::new("sleep");
    cmd.arg("1000");
    let mut pg = ProcessGroup::spawn("sleeper", &mut cmd).unwrap();
    assert!(pg.wait_timeout(Duration::from_millis(100)).is_err());
    pg.kill();
    assert!(!alive(pg.pgid()));
}
