//! The router's Linux kernel: Debian's `linux-source-6.1` built for i386 at
//! the image's CPU baseline with the host gcc, from `make tinyconfig` plus the
//! project's fragments (`buildroot-overlay/board/outpost/linux*.fragment`,
//! shared with the Buildroot path). Owns the check that every option the
//! fragments ask for really is in the final `.config`: `tinyconfig` silently
//! drops an option whose dependencies are off, and such a kernel builds fine
//! and fails only at run time (no PPP, no NIC, `sleep` returning at once).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::{Cache, KeyBuilder};
use crate::cpu::Cpu;
use crate::error::{BuildError, Result};
use crate::exec::run_logged;
use crate::files::{copy, write};
use crate::sources::{linux_source_version, LINUX_SOURCE_TARBALL};

/// Bump when the build steps change in a way that changes the kernel, so no
/// entry built by the old recipe is reused.
pub const RECIPE_VERSION: &str = "1";

/// Options common to every CPU.
pub const COMMON_FRAGMENT: &str =
    include_str!("../../buildroot-overlay/board/outpost/linux.fragment");
/// The i486 baseline's options (processor family and what goes with it).
pub const I486_FRAGMENT: &str =
    include_str!("../../buildroot-overlay/board/outpost/linux-i486.fragment");
/// The i586 baseline's options.
pub const I586_FRAGMENT: &str =
    include_str!("../../buildroot-overlay/board/outpost/linux-i586.fragment");

/// The build date stamped into every kernel (`uname -v`): a fixed one, not
/// `SOURCE_DATE_EPOCH`. The kernel is a component shared by every image of
/// a CPU; keying it on the image's date made each new date (the media
/// tests' fixed one, a user's release date) rebuild it for 15 minutes,
/// though only the image's files carry that date.
const KERNEL_EPOCH: i64 = 0;
/// Stands in for the builder's user and host names in `uname -v` and
/// `/proc/version`, which would otherwise differ from machine to machine.
const BUILD_USER: &str = "outpost";
const BUILD_HOST: &str = "outpost";
/// Parallel jobs: the build machines have two cores shared with other builds.
const JOBS: &str = "-j2";

/// A built kernel, inside its cache entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// The bootable image (`arch/x86/boot/bzImage`).
    pub bzimage: PathBuf,
    /// The final `.config` it was built from.
    pub config: PathBuf,
}

/// The fragment holding `cpu`'s processor-family options.
pub fn cpu_fragment(cpu: Cpu) -> &'static str {
    match cpu {
        Cpu::I486 => I486_FRAGMENT,
        Cpu::I586 => I586_FRAGMENT,
    }
}

/// Builds (or finds in the cache) the kernel for `cpu`.
pub fn build(cache: &Cache, cpu: Cpu) -> Result<Kernel> {
    let timestamp = format_utc(KERNEL_EPOCH);
    let key = KeyBuilder::new(&format!("kernel-{}", cpu.name()))
        .input("recipe", RECIPE_VERSION)
        .input("linux-source", linux_source_version()?)
        .input("cpu", cpu.name())
        .input("linux.fragment", COMMON_FRAGMENT)
        .input("cpu.fragment", cpu_fragment(cpu))
        .input("timestamp", &timestamp)
        .finish();
    let log = cache.log_path(&key);
    let entry = cache.get_or_build(&key, |out, scratch| {
        build_into(cpu, &timestamp, out, scratch, &log)
    })?;
    Ok(Kernel {
        bzimage: entry.join("bzImage"),
        config: entry.join("config"),
    })
}

fn build_into(cpu: Cpu, timestamp: &str, out: &Path, scratch: &Path, log: &Path) -> Result<()> {
    let src = scratch.join("linux");
    fs::create_dir_all(&src)
        .map_err(|e| BuildError::io(format!("creating {}", src.display()), e))?;
    run_logged(
        Command::new("tar")
            .arg("-xf")
            .arg(LINUX_SOURCE_TARBALL)
            .arg("--strip-components=1")
            .arg("-C")
            .arg(&src),
        log,
    )?;

    let common = scratch.join("linux.fragment");
    let specific = scratch.join(format!("linux-{}.fragment", cpu.name()));
    write(&common, COMMON_FRAGMENT)?;
    write(&specific, cpu_fragment(cpu))?;

    run_logged(kmake(&src, timestamp).arg("tinyconfig"), log)?;
    run_logged(
        Command::new("scripts/kconfig/merge_config.sh")
            .current_dir(&src)
            .env("ARCH", "i386")
            .arg("-m")
            .arg(".config")
            .arg(&common)
            .arg(&specific),
        log,
    )?;
    run_logged(kmake(&src, timestamp).arg("olddefconfig"), log)?;

    let config_path = src.join(".config");
    let config = fs::read_to_string(&config_path)
        .map_err(|e| BuildError::io(format!("reading {}", config_path.display()), e))?;
    let wanted = [
        ("linux.fragment", COMMON_FRAGMENT),
        (specific_name(cpu), cpu_fragment(cpu)),
    ];
    let mismatches = check_config(&wanted, &config).map_err(BuildError::Check)?;
    if !mismatches.is_empty() {
        let list: Vec<String> = mismatches.iter().map(|m| format!("  {m}")).collect();
        return Err(BuildError::Check(format!(
            "the kernel .config for {cpu} lacks {} option(s) the fragments ask for \
             (their dependencies are off: enable those in linux.fragment too); \
             see {}:\n{}",
            mismatches.len(),
            config_path.display(),
            list.join("\n")
        )));
    }

    run_logged(kmake(&src, timestamp).arg(JOBS).arg("bzImage"), log)?;

    copy(&src.join("arch/x86/boot/bzImage"), &out.join("bzImage"))?;
    copy(&config_path, &out.join("config"))?;
    Ok(())
}

fn specific_name(cpu: Cpu) -> &'static str {
    match cpu {
        Cpu::I486 => "linux-i486.fragment",
        Cpu::I586 => "linux-i586.fragment",
    }
}

/// `make ARCH=i386` in `src`, with the build-identity variables fixed.
fn kmake(src: &Path, timestamp: &str) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(src)
        .arg("ARCH=i386")
        .env("KBUILD_BUILD_TIMESTAMP", timestamp)
        .env("KBUILD_BUILD_USER", BUILD_USER)
        .env("KBUILD_BUILD_HOST", BUILD_HOST)
        .env("KBUILD_BUILD_VERSION", "1");
    cmd
}

/// One option's value as Kconfig writes it: `y`, a number, a quoted string,
/// or "is not set".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    /// `CONFIG_X=<value>` (the value exactly as written, quotes included).
    Value(String),
    /// `# CONFIG_X is not set`.
    NotSet,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Value(v) => write!(f, "={v}"),
            Setting::NotSet => f.write_str(" is not set"),
        }
    }
}

/// An option a fragment asks for that the final `.config` does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The option's name with its `CONFIG_` prefix.
    pub option: String,
    /// Which fragment asked for it.
    pub fragment: String,
    /// What the fragment asks for.
    pub wanted: Setting,
    /// What the `.config` has; `None` when the option is absent from it
    /// (its menu or dependency is off, so Kconfig did not even write it).
    pub got: Option<Setting>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let got = match &self.got {
            Some(Setting::Value(v)) => format!("{}={v}", self.option),
            Some(Setting::NotSet) => format!("# {} is not set", self.option),
            None => "absent (a dependency is off)".to_string(),
        };
        let wanted = match &self.wanted {
            Setting::Value(v) => format!("{}={v}", self.option),
            Setting::NotSet => format!("# {} is not set", self.option),
        };
        write!(f, "{wanted} (from {}): .config has {got}", self.fragment)
    }
}

/// Reads one line of a fragment or `.config`: `Ok(None)` for blank lines and
/// comments, `Err` for a line that looks like an option but is malformed (a
/// typo in a fragment must not be silently ignored).
fn parse_line(line: &str) -> std::result::Result<Option<(String, Setting)>, String> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("# ") {
        if let Some(name) = rest.strip_suffix(" is not set") {
            if is_symbol(name) {
                return Ok(Some((name.to_string(), Setting::NotSet)));
            }
        }
        return Ok(None);
    }
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    match line.split_once('=') {
        Some((name, value)) if is_symbol(name) && !value.is_empty() => {
            Ok(Some((name.to_string(), Setting::Value(value.to_string()))))
        }
        _ => Err(format!("not a Kconfig line: `{line}`")),
    }
}

fn is_symbol(name: &str) -> bool {
    name.strip_prefix("CONFIG_")
        .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// The options of a fragment or `.config` text, later lines overriding
/// earlier ones (as Kconfig does when it merges).
pub fn parse_config(text: &str) -> std::result::Result<BTreeMap<String, Setting>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if let Some((name, setting)) =
            parse_line(line).map_err(|e| format!("line {}: {e}", n + 1))?
        {
            out.insert(name, setting);
        }
    }
    Ok(out)
}

/// Every option of `fragments` (`(name, text)`, merged in order) that does
/// not hold in `config`, in the fragments' order. An option asked to be
/// "not set" also holds when the `.config` does not mention it (Kconfig
/// omits a symbol whose dependencies are off: it is off). `Err` names a
/// malformed fragment line.
pub fn check_config(
    fragments: &[(&str, &str)],
    config: &str,
) -> std::result::Result<Vec<Mismatch>, String> {
    let have = parse_config(config).map_err(|e| format!(".config {e}"))?;
    // Merged in order, so a later fragment's setting is the one that counts.
    let mut wanted: Vec<(String, String, Setting)> = Vec::new();
    for (fragment, text) in fragments {
        let parsed = text
            .lines()
            .enumerate()
            .map(|(n, l)| parse_line(l).map_err(|e| format!("{fragment} line {}: {e}", n + 1)));
        for item in parsed {
            if let Some((name, setting)) = item? {
                wanted.retain(|(n, _, _)| *n != name);
                wanted.push((name, fragment.to_string(), setting));
            }
        }
    }
    Ok(wanted
        .into_iter()
        .filter_map(|(option, fragment, wanted)| {
            let got = have.get(&option).cloned();
            let holds = match (&wanted, &got) {
                (Setting::NotSet, None) => true,
                (w, Some(g)) => w == g,
                (Setting::Value(_), None) => false,
            };
            (!holds).then_some(Mismatch {
                option,
                fragment,
                wanted,
                got,
            })
        })
        .collect())
}

/// `Thu Jan  1 00:00:00 UTC 1970` for a non-negative Unix time: the
/// `date -u` form the kernel prints in `uname -v`.
fn format_utc(epoch: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        year
    )
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, by Howard
/// Hinnant's `civil_from_days` (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_NET=y
CONFIG_PHYSICAL_START=0x100000
CONFIG_FAT_DEFAULT_IOCHARSET=\"iso8859-1\"
CONFIG_FAT_DEFAULT_CODEPAGE=437
# CONFIG_MODULES is not set
# CONFIG_PPP_BSDCOMP is not set
";

    #[test]
    fn everything_holds() {
        let frag = "# comment\n\nCONFIG_NET=y\nCONFIG_PHYSICAL_START=0x100000\n\
                    CONFIG_FAT_DEFAULT_IOCHARSET=\"iso8859-1\"\nCONFIG_FAT_DEFAULT_CODEPAGE=437\n\
                    # CONFIG_MODULES is not set\n";
        assert_eq!(check_config(&[("f", frag)], CONFIG).unwrap(), vec![]);
    }

    #[test]
    fn dropped_option_is_reported_as_absent() {
        let m = check_config(&[("linux.fragment", "CONFIG_PPP=y\n")], CONFIG).unwrap();
        assert_eq!(
            m,
            vec![Mismatch {
                option: "CONFIG_PPP".into(),
                fragment: "linux.fragment".into(),
                wanted: Setting::Value("y".into()),
                got: None,
            }]
        );
        let shown = m[0].to_string();
        assert!(shown.contains("CONFIG_PPP=y"), "{shown}");
        assert!(shown.contains("absent"), "{shown}");
        assert!(shown.contains("linux.fragment"), "{shown}");
    }

    #[test]
    fn wrong_value_and_not_set_are_reported() {
        let frag = "CONFIG_PHYSICAL_START=0x1000000\nCONFIG_MODULES=y\nCONFIG_FAT_DEFAULT_IOCHARSET=\"utf8\"\n";
        let m = check_config(&[("f", frag)], CONFIG).unwrap();
        let got: Vec<(&str, Option<Setting>)> = m
            .iter()
            .map(|m| (m.option.as_str(), m.got.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "CONFIG_PHYSICAL_START",
                    Some(Setting::Value("0x100000".into()))
                ),
                ("CONFIG_MODULES", Some(Setting::NotSet)),
                (
                    "CONFIG_FAT_DEFAULT_IOCHARSET",
                    Some(Setting::Value("\"iso8859-1\"".into()))
                ),
            ]
        );
        assert!(m[1].to_string().contains("# CONFIG_MODULES is not set"));
    }

    #[test]
    fn not_set_holds_when_absent_but_not_when_on() {
        let frag = "# CONFIG_VT is not set\n# CONFIG_NET is not set\n";
        let m = check_config(&[("f", frag)], CONFIG).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].option, "CONFIG_NET");
        assert_eq!(m[0].wanted, Setting::NotSet);
        assert_eq!(m[0].got, Some(Setting::Value("y".into())));
    }

    #[test]
    fn later_fragment_overrides_earlier() {
        let common = "CONFIG_PHYSICAL_START=0x1000000\nCONFIG_PPP=y\n";
        let cpu = "CONFIG_PHYSICAL_START=0x100000\n";
        let m = check_config(&[("common", common), ("cpu", cpu)], CONFIG).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].option, "CONFIG_PPP");
    }

    #[test]
    fn malformed_fragment_line_is_an_error() {
        let e = check_config(
            &[("linux.fragment", "CONFIG_NET=y\nCONFIG_PPP y\n")],
            CONFIG,
        )
        .unwrap_err();
        assert!(e.contains("linux.fragment line 2"), "{e}");
        assert!(check_config(&[("f", "CONFIG_X=\n")], CONFIG).is_err());
        assert!(check_config(&[("f", "NET=y\n")], CONFIG).is_err());
    }

    #[test]
    fn project_fragments_parse_and_name_the_cpu() {
        for cpu in Cpu::ALL {
            let common = parse_config(COMMON_FRAGMENT).unwrap();
            let specific = parse_config(cpu_fragment(cpu)).unwrap();
            let family = format!("CONFIG_{}", cpu.kconfig_symbol());
            assert_eq!(specific.get(&family), Some(&Setting::Value("y".into())));
            assert!(
                !common.contains_key(&family),
                "the CPU belongs in its own fragment"
            );
            // The facts TOOLCHAIN.md found by failure: each one must stay.
            for must in [
                "CONFIG_COMPAT_32BIT_TIME",
                "CONFIG_BINFMT_SCRIPT",
                "CONFIG_NETDEVICES",
                "CONFIG_PPP",
                "CONFIG_SHMEM",
                "CONFIG_TMPFS",
            ] {
                assert_eq!(
                    common.get(must),
                    Some(&Setting::Value("y".into())),
                    "{must}"
                );
            }
            assert_eq!(
                common.get("CONFIG_PHYSICAL_START"),
                Some(&Setting::Value("0x100000".into()))
            );
            assert_eq!(common.get("CONFIG_MODULES"), Some(&Setting::NotSet));
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_utc(KERNEL_EPOCH), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(format_utc(1764090000), "Tue Nov 25 17:00:00 UTC 2025");
        assert_eq!(format_utc(951782400), "Tue Feb 29 00:00:00 UTC 2000");
    }
}
