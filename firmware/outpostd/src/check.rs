//! Loading a config the one way both `outpostd check-config` and the daemon
//! do it, which is also the way `mkoutpost check` does: through
//! outpost-core, so the router and the host never disagree about a file.

use std::path::Path;
use std::process::ExitCode;

use outpost_core::{Config, ConfigError};

/// Reads and validates the config at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    Config::load(path)
}

/// `outpostd check-config FILE`: prints the diagnostics (exit 1) or a
/// one-line description of what the file sets up (exit 0).
pub fn check_config(path: &Path) -> ExitCode {
    match load(path) {
        Ok(c) => {
            println!(
                "{}: ok: {} `{}`, {} interface(s)",
                path.display(),
                c.system.role,
                c.system.hostname,
                c.interfaces.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
