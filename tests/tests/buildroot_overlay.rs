//! Checks of the Buildroot BR2_EXTERNAL tree (`buildroot-overlay/`) that run
//! without Buildroot: `check.py` (kconfiglib parse of every Config.in,
//! defconfig symbols against the pinned release's list, outpost.mk naming
//! and version, genimage layouts), shellcheck on its scripts, and the
//! one-source-of-truth proof that mkoutpost's initramfs, kernel and busybox
//! configuration and boot-medium config are the tree's files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    Command::new(python())
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
        let dir = std::env::temp_dir().join(format!("outpost-br-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&dir);
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
