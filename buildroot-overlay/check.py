#!/usr/bin/env python3
"""Checks the Outpost BR2_EXTERNAL tree on a machine without Buildroot.

It stands in for what Buildroot's `make outpost_i486_defconfig` would
reject, for machines without the Buildroot tree (the project's tests also
run the defconfigs, show-info and printvars through the real Buildroot
2026.02.3: tests/tests/buildroot_overlay.rs):

- every Config.in parses with kconfiglib, inside a harness that stubs the
  Buildroot symbols the tree refers to (each must exist in
  buildroot-symbols.txt, the list generated from the pinned release);
- every BR2_ symbol a defconfig names exists in that release or in this
  tree, the tree's own options keep the values the defconfig gives them
  once their dependencies are evaluated, and every file a defconfig names
  inside the tree exists;
- package/outpost/outpost.mk uses only OUTPOST_-prefixed variables, the
  cargo-package variables Buildroot documents, the workspace's version,
  and a hash for each licence file;
- the genimage layouts carry the files syslinux.cfg boots.

Usage: check.py [--tree DIR] [--source DIR]
  --tree    the BR2_EXTERNAL tree (default: this script's directory)
  --source  the Outpost source tree OUTPOST_SITE names (default: TREE/..)
Prints every problem found and exits 1 if there was any.
"""

import argparse
import hashlib
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path

import kconfiglib

EXT_VAR = "BR2_EXTERNAL_OUTPOST_PATH"
EXT_REF = "$(" + EXT_VAR + ")"

# Stand-ins for Buildroot symbols whose value, not just existence, decides
# what the tree offers. Buildroot 2026.02.3 package/rustc/Config.in.host:
# BR2_PACKAGE_HOST_RUSTC_TARGET_ARCH_SUPPORTS is "default y if
# BR2_PACKAGE_HOST_RUSTC_TARGET_TIER2_PLATFORMS" ("default y if BR2_x86_i586
# && BR2_TOOLCHAIN_USES_MUSL", the only 32-bit x86 musl case below i686; a
# Buildroot musl toolchain uses musl) and "depends on BR2_INSTALL_LIBSTDCPP ||
# !BR2_TOOLCHAIN_USES_MUSL", which BR2_TOOLCHAIN_BUILDROOT_CXX selects.
# tests/tests/buildroot_overlay.rs runs the defconfigs through the real
# Kconfig too; this model only makes the same mistake visible without it.
MODELLED = {
    "BR2_PACKAGE_HOST_RUSTC_TARGET_ARCH_SUPPORTS": (
        "\tbool\n\tdefault y if BR2_x86_i586 && BR2_TOOLCHAIN_BUILDROOT_MUSL"
        " && BR2_TOOLCHAIN_BUILDROOT_CXX\n"
    ),
}
MODEL_INPUTS = ["BR2_x86_i586", "BR2_TOOLCHAIN_BUILDROOT_MUSL", "BR2_TOOLCHAIN_BUILDROOT_CXX"]

# The cargo-package variables Buildroot 2026.02.3 documents
# (docs/manual/adding-packages-cargo.adoc), on top of the generic ones.
CARGO_VARS = {"SUBDIR", "CARGO_ENV", "CARGO_BUILD_OPTS", "CARGO_INSTALL_OPTS"}
REQUIRED_MK = {
    "OUTPOST_VERSION",
    "OUTPOST_SITE",
    "OUTPOST_SITE_METHOD",
    "OUTPOST_LICENSE",
    "OUTPOST_LICENSE_FILES",
}

SYM_RE = re.compile(r"\bBR2_[A-Za-z0-9_]+\b")
DEF_RE = re.compile(r"^\s*(?:menu)?config\s+(BR2_[A-Za-z0-9_]+)", re.M)


class Problems:
    """Collects every problem so one run reports them all."""

    def __init__(self):
        self.items = []

    def add(self, where, what):
        self.items.append(f"{where}: {what}")


def buildroot_symbols(tree):
    text = (tree / "buildroot-symbols.txt").read_text()
    return {l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")}


def config_in_files(tree):
    return sorted(p for p in tree.rglob("Config.in*") if p.is_file())


def tree_symbols(tree):
    """(defined, referenced) BR2_ symbols of the tree's Config.in files."""
    defined, referenced = set(), set()
    for p in config_in_files(tree):
        text = p.read_text()
        defined |= set(DEF_RE.findall(text))
        # Help texts are prose: only the Kconfig lines name symbols.
        for line in kconfig_lines(text):
            referenced |= set(SYM_RE.findall(line))
    return defined, referenced - {EXT_VAR}


def kconfig_lines(text):
    """Lines of a Kconfig file outside help blocks."""
    out, in_help, help_indent = [], False, 0
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_help:
            if stripped == "" or indent > help_indent:
                continue
            in_help = False
        if stripped in ("help", "---help---"):
            in_help, help_indent = True, indent
            continue
        if stripped.startswith("#"):
            continue
        out.append(line)
    return out


def write_harness(tree, stubs, workdir):
    lines = ['mainmenu "Outpost BR2_EXTERNAL check"', ""]
    lines += [f"config {EXT_VAR}", "\tstring", f'\tdefault "{tree}"', ""]
    for s in sorted(stubs):
        if s in MODELLED:
            lines += [f"config {s}", MODELLED[s]]
        else:
            lines += [f"config {s}", f'\tbool "{s} (Buildroot stub)"', ""]
    lines += ['menu "External options"', f'source "{tree}/Config.in"', "endmenu", ""]
    path = Path(workdir) / "Config.in.harness"
    path.write_text("\n".join(lines))
    return path


def load_kconfig(tree, stubs, problems):
    os.environ[EXT_VAR] = str(tree)
    with tempfile.TemporaryDirectory() as d:
        harness = write_harness(tree, stubs, d)
        try:
            kconf = kconfiglib.Kconfig(str(harness), warn_to_stderr=False)
        except kconfiglib.KconfigError as e:
            problems.add("Config.in", f"does not parse: {e}")
            return None
    for w in kconf.warnings:
        problems.add("Config.in", f"kconfiglib: {w}")
    return kconf


def parse_defconfig(path, problems):
    """{symbol: value} with 'n' for `# X is not set`."""
    values = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        where = f"{path.name}:{n}"
        if not line.strip():
            continue
        m = re.fullmatch(r"# (BR2_[A-Za-z0-9_]+) is not set", line)
        if m:
            sym, val = m.group(1), "n"
        elif line.startswith("#"):
            continue
        else:
            m = re.fullmatch(r"(BR2_[A-Za-z0-9_]+)=(.*)", line)
            if not m:
                problems.add(where, f"not a Kconfig assignment: {line!r}")
                continue
            sym, val = m.group(1), m.group(2)
            if val.startswith('"'):
                if not (len(val) >= 2 and val.endswith('"')):
                    problems.add(where, f"unterminated string for {sym}")
                    continue
                val = val[1:-1]
        if sym in values:
            problems.add(where, f"{sym} is set twice")
        values[sym] = val
    return values


def check_defconfig(path, tree, br_syms, defined, stubs, problems):
    values = parse_defconfig(path, problems)
    name = path.name
    for sym in values:
        if sym not in br_syms and sym not in defined:
            problems.add(name, f"{sym} exists neither in the pinned Buildroot release nor in this tree")

    # The tree's own options, evaluated with Buildroot's values stubbed in.
    kconf = load_kconfig(tree, stubs, Problems())
    if kconf is not None:
        for sym in stubs:
            if sym in values and sym not in MODELLED:
                kconf.syms[sym].set_value(values[sym])
        for sym in stubs:
            if sym in MODEL_INPUTS and sym not in values:
                kconf.syms[sym].set_value("n")
        for sym, val in values.items():
            if sym in defined:
                kconf.syms[sym].set_value(val)
        for sym, val in values.items():
            if sym in defined and kconf.syms[sym].str_value != val:
                problems.add(
                    name,
                    f"{sym}={val} does not hold once dependencies are evaluated "
                    f"(it becomes {kconf.syms[sym].str_value!r}: "
                    f"depends on {kconfiglib.expr_str(kconf.syms[sym].direct_dep)})",
                )

    # Files the defconfig names inside this tree.
    for sym, val in values.items():
        for word in val.split():
            if word.startswith(EXT_REF + "/") and not word.startswith(EXT_REF + "/../"):
                rel = word[len(EXT_REF) + 1 :]
                if not (tree / rel).exists():
                    problems.add(name, f"{sym} names {rel}, which is not in the tree")

    # What makes it an Outpost image.
    cpu = "i486" if values.get("BR2_x86_i486") == "y" else "i586" if values.get("BR2_x86_i586") == "y" else None
    if cpu is None:
        problems.add(name, "selects neither BR2_x86_i486 nor BR2_x86_i586")
    elif cpu not in name:
        problems.add(name, f"selects {cpu}, which its name does not say")
    want = {
        "BR2_i386": "y",
        "BR2_TOOLCHAIN_BUILDROOT_MUSL": "y",
        "BR2_PACKAGE_OUTPOST": "y",
        "BR2_PACKAGE_DROPBEAR": "y",
        "BR2_PACKAGE_PPPD": "y",
        "BR2_LINUX_KERNEL": "y",
        "BR2_TARGET_ROOTFS_CPIO": "y",
        "BR2_TARGET_ROOTFS_CPIO_XZ": "y",
        "BR2_ROOTFS_OVERLAY": f"{EXT_REF}/board/outpost/rootfs-overlay",
        "BR2_PACKAGE_BUSYBOX_CONFIG": f"{EXT_REF}/board/outpost/busybox.config",
    }
    for sym, val in want.items():
        if values.get(sym) != val:
            problems.add(name, f"wants {sym}={val!r}, has {values.get(sym)!r}")
    if cpu:
        frags = values.get("BR2_LINUX_KERNEL_CONFIG_FRAGMENT_FILES", "").split()
        expected = [
            f"{EXT_REF}/board/outpost/linux.fragment",
            f"{EXT_REF}/board/outpost/linux-{cpu}.fragment",
        ]
        if frags != expected:
            problems.add(name, f"kernel fragments should be {expected}, are {frags}")


def parse_mk(text):
    """(assigned variable names, {name: value of its last plain assignment})."""
    names, values = set(), {}
    continued, in_define = False, False
    for line in text.splitlines():
        # Continuation lines and define bodies hold values, not assignments.
        was_continued, continued = continued, line.endswith("\\")
        if was_continued:
            continue
        if in_define:
            in_define = line.strip() != "endef"
            continue
        m = re.match(r"^\s*define\s+([A-Za-z0-9_]+)", line)
        if m:
            names.add(m.group(1))
            in_define = True
            continue
        m = re.match(r"^\s*([A-Za-z0-9_]+)\s*(\+=|:=|\?=|=)\s*(.*)$", line)
        if m and not line.lstrip().startswith("#"):
            names.add(m.group(1))
            if m.group(2) != "+=":
                values[m.group(1)] = m.group(3).rstrip("\\").strip()
    return names, values


def check_package(tree, source, problems):
    pkg = tree / "package" / "outpost"
    mk_path = pkg / "outpost.mk"
    where = "package/outpost/outpost.mk"
    text = mk_path.read_text()
    names, values = parse_mk(text)
    for n in sorted(names):
        if not n.startswith("OUTPOST_"):
            problems.add(where, f"variable {n} lacks the package's OUTPOST_ prefix")
        elif n.startswith("OUTPOST_CARGO_") and n[len("OUTPOST_"):] not in CARGO_VARS:
            problems.add(where, f"{n} is not a cargo-package variable Buildroot knows")
    for n in sorted(REQUIRED_MK - names):
        problems.add(where, f"{n} is not set")
    if "$(eval $(cargo-package))" not in text:
        problems.add(where, "does not use $(eval $(cargo-package))")
    if values.get("OUTPOST_SITE_METHOD") != "local":
        problems.add(where, "OUTPOST_SITE_METHOD should be local (the source tree around it)")
    if values.get("OUTPOST_SITE") != f"{EXT_REF}/..":
        problems.add(where, f"OUTPOST_SITE should be {EXT_REF}/..")
    if values.get("OUTPOST_LICENSE") != "GPL-3.0-or-later":
        problems.add(where, "OUTPOST_LICENSE should be GPL-3.0-or-later")

    cargo = tomllib.loads((source / "Cargo.toml").read_text())
    ws_version = cargo.get("workspace", {}).get("package", {}).get("version")
    if values.get("OUTPOST_VERSION") != ws_version:
        problems.add(where, f"OUTPOST_VERSION {values.get('OUTPOST_VERSION')} differs from the workspace's {ws_version}")

    subdir = values.get("OUTPOST_SUBDIR")
    if subdir is None:
        problems.add(where, "OUTPOST_SUBDIR should name the outpostd crate")
    else:
        manifest = source / subdir / "Cargo.toml"
        if not manifest.is_file():
            problems.add(where, f"OUTPOST_SUBDIR {subdir} has no Cargo.toml")
        else:
            crate = tomllib.loads(manifest.read_text()).get("package", {}).get("name")
            if crate != "outpostd":
                problems.add(where, f"OUTPOST_SUBDIR {subdir} is crate {crate}, not outpostd")
    if "--bin outpostd" not in values.get("OUTPOST_CARGO_BUILD_OPTS", ""):
        problems.add(where, "OUTPOST_CARGO_BUILD_OPTS should build only --bin outpostd")
    if "$(TARGET_DIR)/sbin/outpostd" not in text:
        problems.add(where, "does not install /sbin/outpostd (the inittab starts it there)")

    hashes = {}
    for line in (pkg / "outpost.hash").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "sha256":
            hashes[parts[2]] = parts[1]
    for lic in values.get("OUTPOST_LICENSE_FILES", "").split():
        if lic not in hashes:
            problems.add("package/outpost/outpost.hash", f"no sha256 for licence file {lic}")
            continue
        path = source / lic
        if not path.is_file():
            problems.add(where, f"licence file {lic} is missing at the top of the source tree")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != hashes[lic]:
            problems.add("package/outpost/outpost.hash", f"sha256 of {lic} does not match")


def check_external(tree, problems):
    desc = (tree / "external.desc").read_text()
    if not re.search(r"^name:\s*OUTPOST\s*$", desc, re.M):
        problems.add("external.desc", "should say `name: OUTPOST`")
    if "package/*/*.mk" not in (tree / "external.mk").read_text():
        problems.add("external.mk", "should include the tree's package/*/*.mk")


def check_genimage(tree, problems):
    cfg = (tree / "board/outpost/syslinux.cfg").read_text()
    booted = {
        m.group(2).lstrip("/")
        for m in re.finditer(r"^\s*(LINUX|KERNEL|INITRD)\s+(\S+)", cfg, re.M | re.I)
    }
    if not booted:
        problems.add("board/outpost/syslinux.cfg", "names no kernel or initrd")
    for g in ("genimage-floppy.cfg", "genimage-cf.cfg"):
        text = (tree / "board/outpost" / g).read_text()
        files = set(re.findall(r'"([^"]+)"', text))
        for f in sorted(booted | {"syslinux.cfg"}):
            if f not in files:
                problems.add(f"board/outpost/{g}", f"does not put {f} on the medium")
        if 'label = "OUTPOST"' not in text:
            problems.add(f"board/outpost/{g}", "the FAT volume must be labelled OUTPOST")


def main():
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, default=here)
    ap.add_argument("--source", type=Path)
    args = ap.parse_args()
    tree = args.tree.resolve()
    source = (args.source or tree.parent).resolve()

    problems = Problems()
    br_syms = buildroot_symbols(tree)
    defined, referenced = tree_symbols(tree)
    stubs = referenced - defined
    for s in sorted(stubs - br_syms):
        problems.add("Config.in", f"refers to {s}, which the pinned Buildroot release does not define")
    stubs |= set(MODEL_INPUTS)
    # Defconfig values of Buildroot symbols are only needed as stubs when a
    # tree option depends on them; the stubs above cover exactly those.
    load_kconfig(tree, stubs, problems)
    for d in sorted((tree / "configs").glob("*_defconfig")):
        check_defconfig(d, tree, br_syms, defined, stubs, problems)
    check_external(tree, problems)
    check_package(tree, source, problems)
    check_genimage(tree, problems)

    for p in problems.items:
        print(p)
    n = len(list((tree / "configs").glob("*_defconfig")))
    if problems.items:
        print(f"{len(problems.items)} problem(s) in {tree}")
        return 1
    print(f"ok: {len(config_in_files(tree))} Config.in, {n} defconfigs, outpost.mk, genimage layouts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
