//! Which kernel modules a Debian machine carries: the ones its init loads
//! and everything they depend on. Debian's kernel is modular and its
//! package holds some 4000 modules (190 MB); the machine needs a dozen.
//!
//! Dependencies are read from each module's own `.modinfo` strings
//! (`depends=a,b`), so no `modules.dep` (made by `depmod` at install time,
//! absent from the package) is needed on the host; the guest's init runs
//! Debian's `depmod` over the modules it got.

use std::collections::{BTreeMap, BTreeSet};

/// A module's name as the kernel spells it: `-` and `_` are the same.
pub fn canonical(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a path under `kernel/` (`…/ne2k-pci.ko` → `ne2k_pci`);
/// `None` for anything that is not a module (`.ko`, uncompressed, as
/// Debian 12 ships them).
pub fn name_of(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    file.strip_suffix(".ko").map(canonical)
}

/// The `depends=` list of a module file's bytes (its `.modinfo` strings are
/// NUL-separated `key=value`s). Empty when it depends on nothing.
pub fn depends(ko: &[u8]) -> Vec<String> {
    ko.split(|b| *b == 0)
        .filter_map(|s| s.strip_prefix(b"depends="))
        .flat_map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(canonical)
                .collect::<Vec<_>>()
        })
        .filter(|d| !d.is_empty())
        .collect()
}

/// Why the closure cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// A wanted module (or one it depends on) is not in the package.
    #[error("kernel module `{0}` is not in the kernel package (wanted by {1})")]
    Missing(String, String),
}

/// The wanted modules and all they depend on, as paths: `available` maps
/// each module name to its path, `deps` each name to its `depends=` list.
pub fn closure(
    wanted: &[&str],
    available: &BTreeMap<String, String>,
    deps: &dyn Fn(&str) -> Vec<String>,
) -> Result<BTreeSet<String>, ModuleError> {
    let mut seen = BTreeSet::new();
    let mut paths = BTreeSet::new();
    let mut todo: Vec<(String, String)> = wanted
        .iter()
        .map(|w| (canonical(w), "the machine's init".to_string()))
        .collect();
    while let Some((name, by)) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let path = available
            .get(&name)
            .ok_or_else(|| ModuleError::Missing(name.clone(), by))?;
        paths.insert(path.clone());
        for d in deps(path) {
            todo.push((d, name.clone()));
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_dashes_and_need_ko() {
        assert_eq!(
            name_of("kernel/drivers/net/ethernet/8390/ne2k-pci.ko").as_deref(),
            Some("ne2k_pci")
        );
        assert_eq!(name_of("modules.order"), None);
    }

    #[test]
    fn depends_reads_the_modinfo_string() {
        let ko = b"\x7fELF junk\0license=GPL\0depends=8390,slhc\0retpoline=Y\0name=ne2k_pci\0";
        assert_eq!(depends(ko), ["8390", "slhc"]);
        assert!(depends(b"\0depends=\0name=x\0").is_empty());
    }

    #[test]
    fn closure_follows_dependencies_and_names_what_is_missing() {
        let available: BTreeMap<String, String> = [
            ("ppp_async", "a.ko"),
            ("ppp_generic", "g.ko"),
            ("slhc", "s.ko"),
        ]
        .iter()
        .map(|(n, p)| (n.to_string(), p.to_string()))
        .collect();
        let deps = |p: &str| match p {
            "a.ko" => vec!["ppp_generic".to_string()],
            "g.ko" => vec!["slhc".to_string()],
            _ => vec![],
        };
        let got = closure(&["ppp-async"], &available, &deps).unwrap();
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            ["a.ko", "g.ko", "s.ko"]
        );
        let bad = |_: &str| vec!["crc_ccitt".to_string()];
        assert_eq!(
            closure(&["slhc"], &available, &bad),
            Err(ModuleError::Missing("crc_ccitt".into(), "slhc".into()))
        );
    }
}
