//! The firewall step of applying a plan, and the `rules` report: the
//! ruleset is loaded first and forwarding is switched on only once it is in
//! force; when it cannot be loaded, forwarding is switched off and stays off.

use log::{error, info, warn};
use outpost_core::plan::Plan;
use outpost_core::ruleset::Ruleset;

use super::{NfTables, NftError};
use crate::apply::safe_before_firewall;
use crate::system;

fn count(rs: &Ruleset) -> usize {
    [&rs.filter, &rs.nat]
        .iter()
        .flat_map(|t| &t.chains)
        .map(|c| c.rules.len())
        .sum()
}

/// Loads `plan`'s ruleset (one transaction), then writes the sysctls that
/// had to wait for it (forwarding on). On failure forwarding goes off.
pub fn apply_firewall(plan: &Plan) -> Result<(), NftError> {
    let rs = &plan.ruleset;
    match NfTables::open().and_then(|mut nf| nf.load(rs)) {
        Ok(()) => {
            info!(
                "firewall loaded: table {} {}, table {} {}, {} rules",
                rs.filter.family,
                rs.filter.name,
                rs.nat.family,
                rs.nat.name,
                count(rs)
            );
            for s in plan.sysctls.iter().filter(|s| !safe_before_firewall(s)) {
                let key = s.key.replace('/', ".");
                match system::write_sysctl(&key, &s.value) {
                    Ok(changed) => info!(
                        "sysctl {key} = {}{}",
                        s.value,
                        if changed { "" } else { " (already)" }
                    ),
                    Err(e) => error!("{e}"),
                }
            }
            Ok(())
        }
        Err(e) => {
            error!("firewall not loaded: {e}");
            match system::write_sysctl("net.ipv4.ip_forward", "0") {
                Ok(_) => warn!("forwarding is off until a firewall loads"),
                Err(se) => error!("cannot switch forwarding off: {se}"),
            }
            Err(e)
        }
    }
}

/// `outpostd rules`: the ruleset outpostd loaded, in nft syntax, then
/// whether the kernel still holds exactly that. An error when nothing was
/// loaded, the kernel cannot be read, or its tables differ.
pub fn rules_report(in_force: Option<&Ruleset>) -> Result<Vec<String>, Vec<String>> {
    let Some(rs) = in_force else {
        return Err(vec![
            "no firewall loaded by this outpostd (no valid config yet, or the kernel refused it: see `outpostd log`)".into(),
        ]);
    };
    let mut lines: Vec<String> = rs.render_nft().lines().map(str::to_string).collect();
    lines.push(String::new());
    match NfTables::open().and_then(|mut nf| nf.verify(rs)) {
        Ok(v) => {
            lines.push(v.summary());
            if v.matches() {
                Ok(lines)
            } else {
                Err(lines)
            }
        }
        Err(e) => {
            lines.push(format!("kernel: cannot read the tables back: {e}"));
            Err(lines)
        }
    }
}
