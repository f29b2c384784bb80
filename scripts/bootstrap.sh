#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12 machine
# of this project's kind, idempotently: apt packages, ziglang from PyPI, a
# deb-src entry derived from the machine's own apt configuration, and the
# pinned Debian source packages (downloaded once into the source cache).
#
# Usage: scripts/bootstrap.sh            (as root; safe to run again)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/versions.sh
. "$here/versions.sh"

stamp_dir="${OUTPOST_CACHE:-$HOME/.cache/outpost}"
mkdir -p "$stamp_dir"

log() { printf 'bootstrap: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_PACKAGES=(
    # Rust for the target: Debian's toolchain ships the std sources -Zbuild-std needs
    rustc-web cargo-web rust-web-src
    # C builds (kernel, busybox, dropbear, pppd) and their helpers
    build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils file
    dpkg-dev libclang-dev
    linux-source-6.1
    # QEMU for images (system) and for the ISA proof (user)
    qemu-system-x86 qemu-user
    # boot media
    syslinux syslinux-common mtools
    # fsck.fat: the power-cut test checks the medium after the cuts
    dosfstools
    # host-side firewall checks (nft list ruleset) and namespaces
    nftables iproute2
    # buildroot-overlay checks
    shellcheck
)

# 1. deb-src entry, derived from the machine's own deb stanza (no host name in the repo).
src_list=/etc/apt/sources.list.d/outpost-deb-src.sources
if [ ! -f "$src_list" ]; then
    main_sources=/etc/apt/sources.list.d/debian.sources
    if [ -f "$main_sources" ]; then
        log "adding deb-src entries derived from $main_sources"
        sed -n '/^Types:/,/^$/p' "$main_sources" \
            | sed 's/^Types: deb$/Types: deb-src/' \
            | as_root tee "$src_list.tmp" >/dev/null
        as_root mv "$src_list.tmp" "$src_list"
    elif [ -f /etc/apt/sources.list ]; then
        log "adding deb-src lines derived from /etc/apt/sources.list"
        grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' \
            | as_root tee /etc/apt/sources.list.d/outpost-deb-src.list >/dev/null
        as_root touch "$src_list"
    else
        echo "bootstrap: no apt sources found to derive a deb-src entry from" >&2
        exit 1
    fi
    rm -f "$stamp_dir/apt-updated"
fi

# 2. apt packages (update once per bootstrap when something is missing).
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ] || [ ! -f "$stamp_dir/apt-updated" ]; then
    log "apt-get update"
    as_root apt-get update -qq
    touch "$stamp_dir/apt-updated"
fi
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 3. zig (C compiler + musl for x86 at any -mcpu), from PyPI.
PY="${OUTPOST_PYTHON:-$(command -v python3)}"
if ! "$PY" -c 'import ziglang' 2>/dev/null; then
    log "pip install ziglang"
    "$PY" -m pip install -q "ziglang==$ZIGLANG_VERSION" || "$PY" -m pip install -q ziglang
fi
# 3b. kconfiglib for the buildroot-overlay checks.
if ! "$PY" -c 'import kconfiglib' 2>/dev/null; then
    log "pip install kconfiglib"
    "$PY" -m pip install -q kconfiglib
fi

# 4. Debian source packages, pinned, into the source cache.
src_dir="${OUTPOST_CACHE:-$HOME/.cache/outpost}/sources"
mkdir -p "$src_dir"
for pkg in "busybox=$BUSYBOX_DEB_VERSION" "dropbear=$DROPBEAR_DEB_VERSION" "ppp=$PPP_DEB_VERSION"; do
    name="${pkg%%=*}"; ver="${pkg#*=}"
    dsc="$src_dir/${name}_${ver#*:}.dsc"
    if [ ! -f "$dsc" ]; then
        log "apt-get source --download-only $pkg"
        (cd "$src_dir" && apt-get source -qq --download-only "$pkg")
    fi
done

log "ok"
