//! Loading a config the one way both `outpostd check-config` and the daemon
//! do it, which is also the way `mkoutpost check` does: outpost-core parses
//! and validates it, reads the key files it names (relative to the config's
//! directory) and computes the plan, so the router and the host never
//! disagree about a file.

use std::path::Path;
use std::process::ExitCode;

use outpost_core::keyfiles::load_key_files;
use outpost_core::plan::{plan, Plan};
use outpost_core::Config;

/// A valid config and the plan computed from it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The config, key files read in.
    pub config: Config,
    /// What it means for the box.
    pub plan: Plan,
}

/// Reads, validates and plans the config at `path`; on failure, every
/// diagnostic, each naming file, line and column where it can.
pub fn load(path: &Path) -> Result<Loaded, Vec<String>> {
    let mut config = Config::load(path).map_err(|e| vec![e.to_string()])?;
    let dir = path.parent().unwrap_or(Path::new("."));
    load_key_files(&mut config, dir)
        .map_err(|errs| errs.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let plan = plan(&config, dir).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    Ok(Loaded { config, plan })
}

/// `outpostd check-config FILE`: prints the diagnostics (exit 1) or a
/// one-line description of what the file sets up (exit 0).
pub fn check_config(path: &Path) -> ExitCode {
    match load(path) {
        Ok(l) => {
            println!(
                "{}: ok: {} `{}`, {} interface(s), {} route(s)",
                path.display(),
                l.config.system.role,
                l.config.system.hostname,
                l.plan.interfaces.len(),
                l.plan.routes.len()
            );
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            for d in diagnostics {
                eprintln!("{d}");
            }
            ExitCode::from(1)
        }
    }
}
