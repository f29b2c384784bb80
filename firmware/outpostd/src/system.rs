//! The non-netlink system edge: the host name and `/proc/sys` settings, each
//! an idempotent verb that reports whether it changed anything.

use std::path::PathBuf;

/// Why a system setting could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// The kernel refused the host name.
    #[error("set hostname `{name}`: {source}")]
    Hostname {
        /// The name asked for.
        name: String,
        /// The kernel's reason.
        #[source]
        source: nix::Error,
    },
    /// The sysctl key has characters that cannot be part of one.
    #[error("`{0}` is not a sysctl key (expected dotted words like net.ipv4.ip_forward)")]
    BadSysctlKey(String),
    /// Reading or writing the `/proc/sys` file failed.
    #[error("{action} {path}: {source}")]
    Sysctl {
        /// "read" or "write".
        action: &'static str,
        /// The `/proc/sys` file.
        path: String,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// Sets the kernel's host name (UTS namespace of the caller).
pub fn set_hostname(name: &str) -> Result<bool, SystemError> {
    let current = nix::unistd::gethostname().ok();
    if current.as_deref().and_then(|c| c.to_str()) == Some(name) {
        return Ok(false);
    }
    nix::unistd::sethostname(name).map_err(|source| SystemError::Hostname {
        name: name.to_string(),
        source,
    })?;
    Ok(true)
}

/// The `/proc/sys` file of a dotted sysctl key, refusing anything that could
/// escape that directory.
pub fn sysctl_path(key: &str) -> Result<PathBuf, SystemError> {
    let ok_word = |w: &str| {
        !w.is_empty()
            && w != "."
            && w != ".."
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !key.split('.').all(ok_word) {
        return Err(SystemError::BadSysctlKey(key.to_string()));
    }
    let mut p = PathBuf::from("/proc/sys");
    p.extend(key.split('.'));
    Ok(p)
}

/// Writes `value` to the sysctl `key` (e.g. `net.ipv4.ip_forward`) unless
/// it holds that value already.
pub fn write_sysctl(key: &str, value: &str) -> Result<bool, SystemError> {
    let path = sysctl_path(key)?;
    let shown = path.display().to_string();
    let current = std::fs::read_to_string(&path).map_err(|source| SystemError::Sysctl {
        action: "read",
        path: shown.clone(),
        source,
    })?;
    if current.trim() == value {
        return Ok(false);
    }
    std::fs::write(&path, format!("{value}\n")).map_err(|source| SystemError::Sysctl {
        action: "write",
        path: shown,
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_under_proc_sys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net.ipv4.conf.eth-0.rp_filter").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/conf/eth-0/rp_filter")
        );
    }

    #[test]
    fn sysctl_keys_cannot_escape() {
        for bad in [
            "",
            "net..ipv4",
            "net/ipv4",
            "..",
            "net.ipv4.ip_forward/../../x",
            "a. b",
        ] {
            assert!(sysctl_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
