//! Checks of the Buildroot BR2_EXTERNAL tree (`buildroot-overlay/`).
//!
//! Against the real Buildroot (the release `scripts/versions.sh` pins,
//! unpacked by `scripts/bootstrap.sh` into `$OUTPOST_CACHE/buildroot-<version>/`;
//! a missing tree fails the tests, it never skips them), for every defconfig
//! in `configs/`, each in its own `O=` directory under `target/`:
//! - `make <name>` with `BR2_EXTERNAL` keeps every symbol the defconfig sets,
//!   with its value (`# X is not set` stays unset): real Kconfig drops a
//!   symbol whose dependencies are unmet without a word;
//! - `show-info` lists every package the defconfig selects (and none it
//!   unsets), outpost at outpost.mk's version, Linux at the defconfig's
//!   version, pppd and dropbear at the versions readme.txt documents, and
//!   Buildroot's Rust exactly when outpostd is built with it;
//! - `printvars VARS=OUTPOST_%` shows the package as outpost.mk means it
//!   (version, local site, install to /sbin/outpostd, the `firmware` profile
//!   overriding Buildroot's cargo settings, or the prebuilt path).
//!
//! Without Buildroot: `check.py` (kconfiglib parse of every Config.in,
//! defconfig symbols against the pinned release's list, outpost.mk naming
//! and version, genimage layouts), shellcheck on the tree's scripts, and the
//! one-source-of-truth proof that mkoutpost's initramfs, kernel and busybox
//! configuration and boot-medium config are the tree's files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mkoutpost::cpio::Node;
use mkoutpost::initramfs::{add_tree, overlay_dir, skeleton};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits in the workspace")
        .to_path_buf()
}

fn tree() -> PathBuf {
    repo_root().join("buildroot-overlay")
}

/// The Python that has kconfiglib (scripts/bootstrap.sh installs it with
/// pip into whichever python3 comes first; /usr/bin/python3 may differ).
fn python() -> String {
    let candidates = [
        std::env::var("OUTPOST_PYTHON").unwrap_or_default(),
        "python3".into(),
        "/usr/bin/python3".into(),
    ];
    for py in candidates.iter().filter(|p| !p.is_empty()) {
        let ok = Command::new(py)
            .args(["-c", "import kconfiglib"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return py.clone();
        }
    }
    panic!("no python3 with kconfiglib (run scripts/bootstrap.sh, or set OUTPOST_PYTHON)");
}

fn check_py(tree: &Path) -> Output {
    // check.py's kconfiglib harness is a temporary file: under target/,
    // not the system's temporary directory.
    static TMP: OnceLock<PathBuf> = OnceLock::new();
    let tmp = TMP.get_or_init(|| work_dir("tmp"));
    Command::new(python())
        .env("TMPDIR", tmp)
        .arg(repo_root().join("buildroot-overlay/check.py"))
        .arg("--tree")
        .arg(tree)
        .arg("--source")
        .arg(repo_root())
        .output()
        .expect("running check.py")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn tree_passes_its_checks() {
    let out = check_py(&tree());
    assert!(
        out.status.success(),
        "buildroot-overlay/check.py found problems:\n{}",
        text(&out)
    );
}

/// A copy of the tree in a fresh directory, for mutation.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = work_dir(&format!("scratch-{name}"));
        copy_dir(&tree(), &dir);
        Scratch(dir)
    }

    fn edit(&self, rel: &str, f: impl FnOnce(String) -> String) {
        let p = self.0.join(rel);
        let before = fs::read_to_string(&p).unwrap();
        let after = f(before.clone());
        assert_ne!(before, after, "the mutation of {rel} changed nothing");
        fs::write(p, after).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        let dest = to.join(e.file_name());
        if ty.is_dir() {
            copy_dir(&e.path(), &dest);
        } else if ty.is_file() {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// Each mistake must make check.py fail and name what is wrong.
fn assert_caught(name: &str, rel: &str, mutate: impl FnOnce(String) -> String, expect: &str) {
    let s = Scratch::new(name);
    s.edit(rel, mutate);
    let out = check_py(&s.0);
    let t = text(&out);
    assert!(!out.status.success(), "{name}: check.py passed:\n{t}");
    assert!(t.contains(expect), "{name}: expected `{expect}` in:\n{t}");
}

#[test]
fn unknown_defconfig_symbol_is_caught() {
    assert_caught(
        "unknown-symbol",
        "configs/outpost_i586_defconfig",
        |t| t + "BR2_PACKAGE_NO_SUCH_THING=y\n",
        "BR2_PACKAGE_NO_SUCH_THING exists neither",
    );
}

#[test]
fn rust_build_on_i486_is_caught() {
    assert_caught(
        "i486-rust",
        "configs/outpost_i486_defconfig",
        |t| {
            t.replace(
                "BR2_PACKAGE_OUTPOST_PREBUILT=y",
                "BR2_PACKAGE_OUTPOST_BUILD=y",
            )
        },
        "BR2_PACKAGE_OUTPOST_BUILD=y does not hold",
    );
}

#[test]
fn broken_config_in_is_caught() {
    assert_caught(
        "config-in-syntax",
        "package/outpost/Config.in",
        |t| t + "config BR2_PACKAGE_OUTPOST_BROKEN\n\tbool \"x\" @@\n",
        "does not parse",
    );
    assert_caught(
        "config-in-symbol",
        "package/outpost/Config.in",
        |t| {
            t.replace(
                "select BR2_PACKAGE_HOST_RUSTC\n",
                "select BR2_PACKAGE_HOST_RUSTY\n",
            )
        },
        "BR2_PACKAGE_HOST_RUSTY, which the pinned Buildroot release does not define",
    );
}

#[test]
fn package_mistakes_are_caught() {
    assert_caught(
        "version",
        "package/outpost/outpost.mk",
        |t| t.replace("OUTPOST_VERSION = 0.1.0", "OUTPOST_VERSION = 0.0.9"),
        "differs from the workspace's",
    );
    assert_caught(
        "prefix",
        "package/outpost/outpost.mk",
        |t| t + "\nCARGO_BUILD_OPTS = --bin outpostd\n",
        "variable CARGO_BUILD_OPTS lacks the package's OUTPOST_ prefix",
    );
    assert_caught(
        "cargo-var",
        "package/outpost/outpost.mk",
        |t| t + "\nOUTPOST_CARGO_BUILD_OPTIONS = --locked\n",
        "OUTPOST_CARGO_BUILD_OPTIONS is not a cargo-package variable",
    );
    assert_caught(
        "fragment",
        "configs/outpost_i486_defconfig",
        |t| t.replace("linux-i486.fragment", "linux-i586.fragment"),
        "kernel fragments should be",
    );
}

#[test]
fn the_package_version_is_the_workspace_version() {
    let mk = fs::read_to_string(tree().join("package/outpost/outpost.mk")).unwrap();
    let line = mk
        .lines()
        .find(|l| l.starts_with("OUTPOST_VERSION"))
        .expect("OUTPOST_VERSION line");
    assert_eq!(
        line,
        format!("OUTPOST_VERSION = {}", env!("CARGO_PKG_VERSION"))
    );
}

fn shell_scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            shell_scripts(&p, out);
        } else if p.extension().is_some_and(|x| x == "sh") {
            out.push(p);
        }
    }
}

#[test]
fn shell_scripts_pass_shellcheck() {
    let mut scripts = Vec::new();
    shell_scripts(&tree(), &mut scripts);
    scripts.sort();
    let names: Vec<_> = scripts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["post-build.sh", "post-image.sh", "gen-buildroot-symbols.sh"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not found: {names:?}"
        );
    }
    let out = Command::new("shellcheck")
        .args(&scripts)
        .output()
        .expect("running shellcheck (scripts/bootstrap.sh installs it)");
    assert!(out.status.success(), "shellcheck:\n{}", text(&out));
}

fn overlay_files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ty = e.file_type().unwrap();
        if ty.is_dir() {
            overlay_files(&e.path(), root, out);
        } else if ty.is_file() {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push(rel);
        }
    }
}

/// One source of truth: every file mkoutpost takes from the overlay lands
/// in its initramfs with exactly the bytes of the Buildroot tree's file,
/// and none of the tree's files is left out.
#[test]
fn initramfs_overlay_files_are_the_trees() {
    let br_overlay = tree().join("board/outpost/rootfs-overlay");
    assert_eq!(
        fs::canonicalize(overlay_dir()).unwrap(),
        fs::canonicalize(&br_overlay).unwrap(),
        "mkoutpost reads its overlay from somewhere else"
    );
    let mut archive = skeleton().unwrap();
    add_tree(&mut archive, &overlay_dir()).unwrap();

    let mut expected = Vec::new();
    overlay_files(&br_overlay, &br_overlay, &mut expected);
    expected.sort();
    assert!(expected.iter().any(|f| f == "etc/inittab"), "{expected:?}");

    let mut compared = Vec::new();
    for path in &expected {
        let entry = archive.get(path).unwrap_or_else(|| {
            panic!("{path} is in the Buildroot overlay but not in the initramfs")
        });
        let Node::File(data) = &entry.node else {
            panic!(
                "{path} is not a regular file in the initramfs: {:?}",
                entry.node
            );
        };
        let tree_bytes = fs::read(br_overlay.join(path)).unwrap();
        assert!(
            *data == tree_bytes,
            "{path} differs between the initramfs and the Buildroot tree"
        );
        compared.push(path.clone());
    }
    // Every regular file of the archive built from the overlay alone is one
    // of the tree's (the skeleton adds only directories and device nodes).
    let mut in_archive: Vec<String> = archive
        .entries()
        .filter(|(_, e)| matches!(e.node, Node::File(_)))
        .map(|(p, _)| p.to_string())
        .collect();
    in_archive.sort();
    assert_eq!(in_archive, compared);
}

/// The kernel fragments, busybox configuration and syslinux.cfg mkoutpost
/// builds with are the tree's files too.
#[test]
fn mkoutpost_configs_are_the_trees() {
    let board = tree().join("board/outpost");
    let read = |f: &str| fs::read_to_string(board.join(f)).unwrap();
    assert_eq!(mkoutpost::kernel::COMMON_FRAGMENT, read("linux.fragment"));
    assert_eq!(
        mkoutpost::kernel::I486_FRAGMENT,
        read("linux-i486.fragment")
    );
    assert_eq!(
        mkoutpost::kernel::I586_FRAGMENT,
        read("linux-i586.fragment")
    );
    assert_eq!(mkoutpost::busybox::CONFIG, read("busybox.config"));
    assert_eq!(
        fs::canonicalize(mkoutpost::media::syslinux_cfg()).unwrap(),
        fs::canonicalize(board.join("syslinux.cfg")).unwrap()
    );
}

// ---------------------------------------------------------------------------
// Against the real Buildroot.
// ---------------------------------------------------------------------------

/// Versions of Buildroot's packages that readme.txt documents ("Versions
/// are Buildroot's: ..."); the kernel's comes from the defconfigs.
const DOCUMENTED_VERSIONS: &[(&str, &str)] = &[("pppd", "2.5.2"), ("dropbear", "2026.91")];

/// Scratch directories of this test binary, under the repository's
/// `target/` (not the system's temporary directory).
fn work_base() -> PathBuf {
    repo_root().join("target/buildroot-overlay")
}

/// A fresh, empty `target/buildroot-overlay/<name>-<pid>`: distinct per
/// process, so two test runs at once never share one. Directories of runs
/// whose process is gone are removed on first use.
fn work_dir(name: &str) -> PathBuf {
    static STALE_REMOVED: OnceLock<()> = OnceLock::new();
    let base = work_base();
    STALE_REMOVED.get_or_init(|| {
        let Ok(entries) = fs::read_dir(&base) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid {
                if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    });
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn pin(key: &str) -> &'static str {
    mkoutpost::sources::pinned(key).unwrap_or_else(|e| panic!("{e}"))
}

/// The unpacked Buildroot tree `scripts/bootstrap.sh` leaves in the cache
/// (`$OUTPOST_CACHE`, else `~/.cache/outpost`), with its stamp holding the
/// pinned tarball's sha256. Missing, the tests fail: never skipped.
fn buildroot() -> PathBuf {
    let version = pin("BUILDROOT_VERSION");
    let sha256 = pin("BUILDROOT_SHA256");
    let cache = match std::env::var_os("OUTPOST_CACHE").filter(|v| !v.is_empty()) {
        Some(c) => PathBuf::from(c),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME or OUTPOST_CACHE"))
            .join(".cache/outpost"),
    };
    let dir = cache.join(format!("buildroot-{version}"));
    let stamp = fs::read_to_string(dir.join(".outpost-sha256")).unwrap_or_default();
    assert!(
        stamp.trim() == sha256 && dir.join("Makefile").is_file(),
        "Buildroot {version} is not unpacked at {} (or its stamp .outpost-sha256 does not hold \
         the pinned sha256 {sha256}): run scripts/bootstrap.sh, which unpacks \
         buildroot-{version}.tar.xz from $OUTPOST_BUILDROOT_TARBALL, ../shared/buildroot/ next \
         to the checkout or /work/shared/buildroot/",
        dir.display()
    );
    dir
}

/// `make -C <buildroot> O=<out> BR2_EXTERNAL=<tree> <args>`: stdout and
/// the time it took. Downloads (none happen) would go to `<out>/dl`, so the
/// cached tree stays as unpacked, temporary files to `<out>/tmp`; the
/// caller's make variables stay out.
fn br_make(
    br: &Path,
    out: &Path,
    tree: &Path,
    args: &[&str],
) -> Result<(String, Duration), String> {
    let start = Instant::now();
    // The host gcc building Kconfig's tools writes its temporary files here.
    let tmp = out.join("tmp");
    fs::create_dir_all(&tmp).map_err(|e| format!("creating {}: {e}", tmp.display()))?;
    let mut cmd = Command::new("make");
    cmd.args(["-s", "--no-print-directory", "-C"])
        .arg(br)
        .arg(format!("O={}", out.display()))
        .arg(format!("BR2_EXTERNAL={}", tree.display()))
        .args(args)
        .env("BR2_DL_DIR", out.join("dl"))
        .env("TMPDIR", &tmp)
        .stdin(Stdio::null());
    for var in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "MAKEOVERRIDES",
        "BR2_CCACHE_DIR",
        "KCONFIG_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    let o = cmd.output().map_err(|e| format!("running make: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "make -C {} O={} BR2_EXTERNAL={} {} failed ({}):\n{}",
            br.display(),
            out.display(),
            tree.display(),
            args.join(" "),
            o.status,
            text(&o)
        ));
    }
    Ok((
        String::from_utf8_lossy(&o.stdout).into_owned(),
        start.elapsed(),
    ))
}

/// A defconfig's or a .config's assignments: `Some(value)` (strings keep
/// their quotes), `None` for `# X is not set`.
fn kconfig_values(text: &str) -> BTreeMap<String, Option<String>> {
    let mut values = BTreeMap::new();
    for line in text.lines() {
        if let Some(sym) = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"))
        {
            values.insert(sym.to_string(), None);
        } else if let Some((sym, val)) = line.split_once('=') {
            if sym.starts_with("BR2_") {
                values.insert(sym.to_string(), Some(val.to_string()));
            }
        }
    }
    values
}

/// Every symbol a defconfig sets that the resulting .config does not keep.
fn dropped_symbols(defconfig: &str, config: &str) -> Vec<String> {
    let have = kconfig_values(config);
    let mut problems = Vec::new();
    for line in defconfig.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let unset = line
            .strip_prefix("# ")
            .and_then(|l| l.strip_suffix(" is not set"));
        if let Some(sym) = unset {
            if let Some(Some(v)) = have.get(sym) {
                problems.push(format!("# {sym} is not set: the .config has {sym}={v}"));
            }
        } else if line.starts_with('#') {
            continue;
        } else if let Some((sym, want)) = line.split_once('=') {
            match have.get(sym) {
                Some(Some(v)) if v == want => {}
                Some(Some(v)) => problems.push(format!("{sym}={want}: changed to {sym}={v}")),
                Some(None) => problems.push(format!("{sym}={want}: dropped (# {sym} is not set)")),
                None => problems.push(format!(
                    "{sym}={want}: dropped (absent from the .config: a dependency is unmet)"
                )),
            }
        } else {
            problems.push(format!("not a Kconfig line: {line:?}"));
        }
    }
    problems
}

/// One defconfig through the real Buildroot: the resulting .config, then
/// (when asked) show-info and printvars in the same output directory, in
/// one make run (each run parses every package's .mk: seconds).
struct Run {
    name: String,
    defconfig: String,
    out: PathBuf,
    config: Result<String, String>,
    show_info: Result<String, String>,
    printvars: Result<String, String>,
}

fn run_defconfig(br: &Path, tree: &Path, name: &str, label: &str, info: bool) -> Run {
    let defconfig = fs::read_to_string(tree.join("configs").join(name)).unwrap();
    let out = work_dir(label);
    let not_run = || Err(format!("not run: make {name} failed"));
    let mut run = Run {
        name: name.to_string(),
        defconfig,
        out: out.clone(),
        config: not_run(),
        show_info: not_run(),
        printvars: not_run(),
    };
    let mut timings = Vec::new();
    match br_make(br, &out, tree, &[name]) {
        Ok((_, t)) => {
            timings.push(format!("{name} {:.1} s", t.as_secs_f64()));
            run.config = fs::read_to_string(out.join(".config"))
                .map_err(|e| format!("reading {}/.config: {e}", out.display()));
        }
        Err(e) => run.config = Err(e),
    }
    if run.config.is_ok() && info {
        match br_make(
            br,
            &out,
            tree,
            &["show-info", "printvars", "VARS=OUTPOST_%"],
        ) {
            Ok((stdout, t)) => {
                timings.push(format!("show-info + printvars {:.1} s", t.as_secs_f64()));
                // show-info prints its JSON on one line; printvars follows.
                let (json, vars) = stdout.split_once('\n').unwrap_or((&stdout, ""));
                run.show_info = if json.starts_with('{') && json.trim_end().ends_with('}') {
                    Ok(json.to_string())
                } else {
                    Err(format!("show-info printed no JSON line first:\n{stdout}"))
                };
                run.printvars = Ok(vars.to_string());
            }
            Err(e) => {
                run.show_info = Err(e.clone());
                run.printvars = Err(e);
            }
        }
    }
    println!("buildroot: {}: {}", out.display(), timings.join(", "));
    run
}

/// Every defconfig of the tree, each through Buildroot once per test
/// process (in parallel, distinct O= directories), shared by the tests below.
fn runs() -> &'static [Run] {
    static RUNS: OnceLock<Vec<Run>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let br = buildroot();
        let tree = tree();
        let names = defconfig_names(&tree);
        std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| s.spawn(|| run_defconfig(&br, &tree, n, n, true)))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    })
}

fn defconfig_names(tree: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(tree.join("configs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_defconfig"))
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no *_defconfig in {}",
        tree.join("configs").display()
    );
    names
}

fn dropped_report(run: &Run) -> Option<String> {
    match &run.config {
        Err(e) => Some(format!("{}: {e}", run.name)),
        Ok(config) => {
            let dropped = dropped_symbols(&run.defconfig, config);
            (!dropped.is_empty()).then(|| {
                format!(
                    "{}: Buildroot {}'s Kconfig dropped or changed {} symbol(s) it sets \
                     (.config in {}):\n  {}",
                    run.name,
                    pin("BUILDROOT_VERSION"),
                    dropped.len(),
                    run.out.display(),
                    dropped.join("\n  ")
                )
            })
        }
    }
}

#[test]
fn defconfigs_keep_every_symbol_in_real_buildroot() {
    let failures: Vec<String> = runs().iter().filter_map(dropped_report).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The comparison catches what real Kconfig does to a broken defconfig:
/// without C++ in the musl toolchain Buildroot's Rust is out of reach, and
/// BR2_PACKAGE_OUTPOST_BUILD silently gives way to the choice's other entry.
#[test]
fn real_buildroot_catches_a_dropped_symbol() {
    let s = Scratch::new("no-cxx");
    s.edit("configs/outpost_i586_defconfig", |t| {
        t.replace("BR2_TOOLCHAIN_BUILDROOT_CXX=y\n", "")
    });
    let name = "outpost_i586_defconfig";
    let run = run_defconfig(&buildroot(), &s.0, name, &format!("no-cxx-{name}"), false);
    let report = dropped_report(&run).expect("the broken defconfig passed");
    assert!(
        report.contains("BR2_PACKAGE_OUTPOST_BUILD=y: dropped"),
        "expected BR2_PACKAGE_OUTPOST_BUILD to be reported dropped:\n{report}"
    );
    let _ = fs::remove_dir_all(&run.out);
}

#[test]
fn dropped_symbols_compares_values_and_unset_lines() {
    let defconfig = "BR2_A=y\nBR2_B=\"x\"\n# BR2_C is not set\nBR2_D=y\nBR2_E=y\n# comment\n";
    let config = "BR2_A=y\nBR2_B=\"y\"\nBR2_C=y\n# BR2_D is not set\n";
    assert_eq!(
        dropped_symbols(defconfig, config),
        [
            "BR2_B=\"x\": changed to BR2_B=\"y\"",
            "# BR2_C is not set: the .config has BR2_C=y",
            "BR2_D=y: dropped (# BR2_D is not set)",
            "BR2_E=y: dropped (absent from the .config: a dependency is unmet)",
        ]
    );
    assert!(dropped_symbols(defconfig, "BR2_A=y\nBR2_B=\"x\"\nBR2_D=y\nBR2_E=y\n").is_empty());
}

/// `show-info` JSON as `name -> (version, dependencies)`, read by Python's
/// json module (the test already needs Python for check.py).
fn packages(json: &str) -> BTreeMap<String, (String, Vec<String>)> {
    let script = "import json, sys\n\
        for name, p in sorted(json.load(sys.stdin).items()):\n\
        \x20   print(name, p.get('version') or '', ' '.join(p.get('dependencies') or []), sep='\\t')\n";
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running python3");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), json.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "show-info is not the JSON expected:\n{}\n{json}",
        text(&o)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.split('\t');
            let name = f.next().unwrap().to_string();
            let version = f.next().unwrap_or("").to_string();
            let deps = f
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect();
            (name, (version, deps))
        })
        .collect()
}

/// The show-info package a defconfig symbol selects, if it is one:
/// `BR2_PACKAGE_[HOST_]X` with a package/x directory in Buildroot or the
/// tree, `BR2_TARGET_ROOTFS_X` (fs/x), `BR2_TARGET_X` (boot/x), the kernel.
fn package_of(sym: &str, br: &Path, tree: &Path) -> Option<String> {
    let dir = |s: &str| s.to_lowercase().replace('_', "-");
    if sym == "BR2_LINUX_KERNEL" {
        return Some("linux".into());
    }
    if let Some(rest) = sym.strip_prefix("BR2_PACKAGE_") {
        let (host, name) = match rest.strip_prefix("HOST_") {
            Some(n) => ("host-", dir(n)),
            None => ("", dir(rest)),
        };
        let known =
            br.join("package").join(&name).is_dir() || tree.join("package").join(&name).is_dir();
        return known.then(|| format!("{host}{name}"));
    }
    if let Some(rest) = sym.strip_prefix("BR2_TARGET_ROOTFS_") {
        return br
            .join("fs")
            .join(dir(rest))
            .is_dir()
            .then(|| format!("rootfs-{}", dir(rest)));
    }
    let rest = sym.strip_prefix("BR2_TARGET_")?;
    br.join("boot").join(dir(rest)).is_dir().then(|| dir(rest))
}

/// `OUTPOST_VERSION = x` and the like from outpost.mk (first assignment).
fn mk_value(var: &str) -> String {
    let mk = fs::read_to_string(tree().join("package/outpost/outpost.mk")).unwrap();
    mk.lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == var).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("outpost.mk sets no {var}"))
}

/// Does the defconfig build outpostd with Buildroot's Rust?
fn builds_with_rust(run: &Run) -> bool {
    kconfig_values(&run.defconfig).get("BR2_PACKAGE_OUTPOST_BUILD") == Some(&Some("y".into()))
}

#[test]
fn show_info_lists_the_expected_packages() {
    let br = buildroot();
    let tree = tree();
    let readme = fs::read_to_string(tree.join("readme.txt")).unwrap();
    let outpost_version = mk_value("OUTPOST_VERSION");
    let mut problems = Vec::new();
    for run in runs() {
        let name = &run.name;
        let json = match &run.show_info {
            Ok(j) => j,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let pkgs = packages(json);
        let values = kconfig_values(&run.defconfig);
        let mut want: Vec<(String, Option<String>)> = Vec::new();
        for (sym, val) in &values {
            let Some(pkg) = package_of(sym, &br, &tree) else {
                continue;
            };
            match val.as_deref() {
                Some("y") => want.push((pkg, None)),
                None if pkgs.contains_key(&pkg) => problems.push(format!(
                    "{name}: # {sym} is not set, yet show-info lists {pkg}"
                )),
                _ => {}
            }
        }
        want.push(("outpost".into(), Some(outpost_version.clone())));
        if let Some(Some(v)) = values.get("BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE") {
            want.push(("linux".into(), Some(v.trim_matches('"').to_string())));
        }
        for (pkg, version) in DOCUMENTED_VERSIONS {
            if pkgs.contains_key(*pkg) {
                want.push((pkg.to_string(), Some(version.to_string())));
            }
        }
        for (pkg, version) in want {
            match (pkgs.get(&pkg), version) {
                (None, _) => problems.push(format!("{name}: show-info does not list {pkg}")),
                (Some((have, _)), Some(v)) if *have != v => {
                    problems.push(format!("{name}: show-info has {pkg} {have}, expected {v}"))
                }
                _ => {}
            }
        }
        let rust_dep = pkgs
            .get("outpost")
            .is_some_and(|(_, deps)| deps.iter().any(|d| d == "host-rustc"));
        if builds_with_rust(run) != rust_dep {
            problems.push(format!(
                "{name}: outpost {} on host-rustc, but the defconfig {} BR2_PACKAGE_OUTPOST_BUILD",
                if rust_dep {
                    "depends"
                } else {
                    "does not depend"
                },
                if builds_with_rust(run) {
                    "sets"
                } else {
                    "does not set"
                },
            ));
        }
        if builds_with_rust(run) {
            // Buildroot's cargo builds outpostd and outpost-core: their
            // rust-version must not be newer than Buildroot's Rust.
            let rust = pkgs
                .iter()
                .find(|(p, (v, _))| p.starts_with("host-rust") && !v.is_empty())
                .map(|(_, (v, _))| v.clone());
            for krate in ["firmware/outpostd", "firmware/core"] {
                let wants = crate_rust_version(krate);
                match &rust {
                    Some(have) if version_tuple(have) >= version_tuple(&wants) => {}
                    Some(have) => problems.push(format!(
                        "{name}: {krate} needs Rust {wants} (rust-version), Buildroot has {have}"
                    )),
                    None => problems.push(format!("{name}: show-info lists no host Rust version")),
                }
            }
        }
        if !builds_with_rust(run) && pkgs.keys().any(|p| p.starts_with("host-rust")) {
            problems.push(format!(
                "{name}: installs no Rust-built outpostd, yet pulls in Buildroot's Rust"
            ));
        }
        println!(
            "buildroot: {name}: {}",
            pkgs.iter()
                .filter(|(p, (v, _))| !p.starts_with("host-") && !v.is_empty())
                .map(|(p, (v, _))| format!("{p} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // What the readme says is what Buildroot builds.
    for (pkg, version) in DOCUMENTED_VERSIONS {
        if !readme.contains(&format!("{pkg} {version}")) {
            problems.push(format!("readme.txt does not say {pkg} {version}"));
        }
    }
    for run in runs() {
        if let Some(Some(v)) =
            kconfig_values(&run.defconfig).get("BR2_LINUX_KERNEL_CUSTOM_VERSION_VALUE")
        {
            let v = v.trim_matches('"');
            if !readme.contains(&format!("Linux {v}")) {
                problems.push(format!("readme.txt does not say Linux {v} ({})", run.name));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `printvars` output as `name -> value`; define blocks span several lines.
fn printvars(out: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in out.lines() {
        let start = line
            .split_once('=')
            .filter(|(k, _)| k.starts_with("OUTPOST_") && !k.contains(char::is_whitespace));
        if let Some((k, v)) = start {
            vars.insert(k.to_string(), v.to_string());
            last = Some(k.to_string());
        } else if let Some(k) = &last {
            let v = vars.get_mut(k).unwrap();
            v.push('\n');
            v.push_str(line);
        }
    }
    vars
}

#[test]
fn printvars_shows_the_outpost_package() {
    let tree = tree();
    let mut problems = Vec::new();
    for run in runs() {
        let name = &run.name;
        let vars = match &run.printvars {
            Ok(v) => printvars(v),
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut expect = |var: &str, ok: &dyn Fn(&str) -> bool, what: String| match vars.get(var) {
            None => problems.push(format!("{name}: printvars shows no {var}")),
            Some(v) if !ok(v) => problems.push(format!("{name}: {var}={v}, expected {what}")),
            Some(_) => {}
        };
        let version = mk_value("OUTPOST_VERSION");
        expect("OUTPOST_VERSION", &|v| v == version, version.clone());
        expect("OUTPOST_SITE_METHOD", &|v| v == "local", "local".into());
        let site = format!("{}/..", tree.display());
        expect("OUTPOST_SITE", &|v| v == site, site.clone());
        let license = mk_value("OUTPOST_LICENSE");
        expect(
            "OUTPOST_LICENSE",
            &|v| v.starts_with(&license),
            format!("{license}…"),
        );
        let installed = format!("{}/target/sbin/outpostd", run.out.display());
        expect(
            "OUTPOST_INSTALL_TARGET_CMDS",
            &|v| v.contains(&installed),
            format!("an install to {installed}"),
        );
        if builds_with_rust(run) {
            expect(
                "OUTPOST_SUBDIR",
                &|v| v == "firmware/outpostd",
                "firmware/outpostd".into(),
            );
            expect(
                "OUTPOST_DEPENDENCIES",
                &|v| v.split_whitespace().any(|d| d == "host-rustc"),
                "host-rustc among them".into(),
            );
            // The `firmware` profile: outpost.mk's overrides come after
            // Buildroot's own CARGO_PROFILE_RELEASE_* settings, so they win.
            for (key, want) in [
                ("OPT_LEVEL", "z"),
                ("LTO", "true"),
                ("CODEGEN_UNITS", "1"),
                ("PANIC", "abort"),
            ] {
                let var = format!("CARGO_PROFILE_RELEASE_{key}=");
                let last = |v: &str| {
                    v.rsplit(&var)
                        .next()
                        .filter(|_| v.contains(&var))
                        .and_then(|rest| rest.split_whitespace().next())
                        .map(|w| w.trim_matches('"').to_string())
                };
                expect(
                    "OUTPOST_BUILD_CMDS",
                    &|v| last(v).as_deref() == Some(want),
                    format!("the last {var} to be {want}"),
                );
            }
        } else {
            // The defconfig's path, as make expands it (check.py makes sure
            // the defconfig names one).
            let values = kconfig_values(&run.defconfig);
            let path = values
                .get("BR2_PACKAGE_OUTPOST_PREBUILT_PATH")
                .cloned()
                .flatten()
                .unwrap_or_default()
                .trim_matches('"')
                .replace("$(BR2_EXTERNAL_OUTPOST_PATH)", &tree.display().to_string());
            expect("OUTPOST_PREBUILT_PATH", &|v| v == path, path.clone());
            expect(
                "OUTPOST_DEPENDENCIES",
                &|v| !v.contains("host-rustc"),
                "no host-rustc".into(),
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `rust-version` of the crate at `dir` (relative to the workspace).
fn crate_rust_version(dir: &str) -> String {
    let path = repo_root().join(dir).join("Cargo.toml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| {
            panic!(
                "{}: no `rust-version = \"…\"` line (Buildroot's Rust is checked against it)",
                path.display()
            )
        })
}

/// `1.88.0` → `[1, 88, 0]`, for comparison.
fn version_tuple(v: &str) -> Vec<u32> {
    let mut t: Vec<u32> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    t.resize(3, 0);
    t
}
