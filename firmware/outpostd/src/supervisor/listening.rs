//! Whether a supervised server is listening: its process holds a TCP socket
//! in the LISTEN state. Linux tells, with no help from the server: the
//! process's descriptors (`/proc/PID/fd/N` → `socket:[INODE]`) and its
//! network namespace's socket tables (`/proc/PID/net/tcp`, `tcp6`, one line
//! per socket with its state and inode). The parsers are pure; [`is_listening`]
//! reads the files.

use std::collections::HashSet;

/// The kernel's TCP_LISTEN state, as the tables print it (hex).
const TCP_LISTEN: &str = "0A";

/// The inodes of the sockets in the LISTEN state in a `/proc/net/tcp`
/// (or `tcp6`) table: `sl local rem st tx:rx tr:when retrnsmt uid timeout
/// inode …` after a header line.
pub fn listening_inodes(table: &str) -> HashSet<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match (f.get(3), f.get(9)) {
                (Some(&st), Some(inode)) if st.eq_ignore_ascii_case(TCP_LISTEN) => {
                    inode.parse().ok()
                }
                _ => None,
            }
        })
        .filter(|&inode| inode != 0)
        .collect()
}

/// The inode of a descriptor that is a socket: `socket:[12345]`.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Whether process `pid` holds a listening TCP socket (false when its
/// files cannot be read: it is gone, or not ours to look at).
pub fn is_listening(pid: u32) -> bool {
    let mut listening = HashSet::new();
    for table in ["tcp", "tcp6"] {
        // tcp6 is absent without IPv6 (the router's kernel).
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) {
            listening.extend(listening_inodes(&text));
        }
    }
    if listening.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .ok()
            .and_then(|l| socket_inode(&l.to_string_lossy()))
            .is_some_and(|inode| listening.contains(&inode))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table in the kernel's layout (as Linux 6.x prints it, trailing
    /// blanks and all): dropbear listening on 0.0.0.0:22 (inode 20871), one
    /// session on it, one socket in TIME_WAIT (inode 0).
    const TABLE: &str = concat!(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode      \n",
        "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 20871 1 00000000ac9ac7bf 100 0 0 10 0      \n",
        "   1: 0201A8C0:0016 0101A8C0:C350 01 00000000:00000000 02:000A7D7A 00000000     0        0 21544 4 00000000b1c2d3e4 20 4 29 10 -1     \n",
        "   2: 0201A8C0:0016 0101A8C0:C352 06 00000000:00000000 03:00001770 00000000     0        0 0 3 00000000f0e1d2c3      \n",
    );

    #[test]
    fn only_listening_sockets_are_read_from_the_table() {
        assert_eq!(listening_inodes(TABLE), HashSet::from([20871]));
        assert!(listening_inodes("").is_empty());
        assert!(listening_inodes(TABLE.lines().next().unwrap()).is_empty());
        assert!(listening_inodes("header\n   0: short 0A\n").is_empty());
    }

    #[test]
    fn socket_descriptors_name_their_inode() {
        assert_eq!(socket_inode("socket:[20871]"), Some(20871));
        assert_eq!(socket_inode("pipe:[20871]"), None);
        assert_eq!(socket_inode("/dev/null"), None);
        assert_eq!(socket_inode("socket:[x]"), None);
    }

    #[test]
    fn a_process_with_a_listening_socket_is_listening() {
        let me = std::process::id();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(is_listening(me));
        drop(listener);
        // Other tests of this binary may listen at the same time: look at a
        // process that certainly does not.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(!is_listening(child.id()));
        let _ = child.kill();
        let _ = child.wait();
        assert!(!is_listening(u32::MAX), "no such process");
    }
}
