#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12 machine
# of this project's kind, idempotently: apt packages, ziglang from PyPI, a
# deb-src entry derived from the machine's own apt configuration, the
# pinned Debian source packages (downloaded once into the source cache), and
# the pinned Buildroot tree (unpacked once into the cache, for the
# buildroot-overlay test).
#
# Usage: scripts/bootstrap.sh            (as root; safe to run again)
#   OUTPOST_CACHE               cache directory (default ~/.cache/outpost)
#   OUTPOST_BUILDROOT_TARBALL   buildroot-$BUILDROOT_VERSION.tar.xz, if it is
#                               not in ../shared/buildroot/ next to the
#                               checkout or in /work/shared/buildroot/
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
# Only shellcheck -x follows it; plain shellcheck would add an SC1091 note.
# shellcheck source=scripts/versions.sh disable=SC1091
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
    # the interop test: ssh-keygen for the stock server's OpenSSH host key
    # (the Debian machine's own packages come through a private i386 apt
    # in the cache, mkoutpost::debian, never installed here)
    openssh-client
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

# 5. Buildroot, the whole tree of the pinned release, for the buildroot-overlay
#    test (its defconfigs through the real Kconfig, show-info, printvars). Its
#    sources cannot be fetched here: the tarball is a file on this machine.
#    Unpacked into a temporary directory and renamed into place with a stamp
#    holding the tarball's sha256, so an interrupted unpack is never used and a
#    second run does nothing.
cache_dir="${OUTPOST_CACHE:-$HOME/.cache/outpost}"
br_name="buildroot-$BUILDROOT_VERSION"
br_dir="$cache_dir/$br_name"
br_stamp="$br_dir/.outpost-sha256"
if [ "$(cat "$br_stamp" 2>/dev/null)" != "$BUILDROOT_SHA256" ]; then
    repo="$(cd "$here/.." && pwd)"
    if [ -n "${OUTPOST_BUILDROOT_TARBALL:-}" ]; then
        candidates=("$OUTPOST_BUILDROOT_TARBALL")
    else
        candidates=("$repo/../shared/buildroot/$br_name.tar.xz"
                    "/work/shared/buildroot/$br_name.tar.xz")
    fi
    tarball=
    for c in "${candidates[@]}"; do
        if [ -f "$c" ]; then tarball="$c"; break; fi
    done
    if [ -z "$tarball" ]; then
        {
            echo "bootstrap: $br_name.tar.xz (Buildroot $BUILDROOT_VERSION, the whole tree) not found; looked at:"
            printf '  %s\n' "${candidates[@]}"
            echo "set OUTPOST_BUILDROOT_TARBALL to its path (sha256 $BUILDROOT_SHA256)"
        } >&2
        exit 1
    fi
    sum="$(sha256sum "$tarball" | cut -d' ' -f1)"
    if [ "$sum" != "$BUILDROOT_SHA256" ]; then
        echo "bootstrap: $tarball has sha256 $sum, scripts/versions.sh pins $BUILDROOT_SHA256 (BUILDROOT_SHA256)" >&2
        exit 1
    fi
    log "unpacking $tarball into $br_dir"
    # Leftovers of unpacks killed more than an hour ago.
    find "$cache_dir" -maxdepth 1 -name ".$br_name.tmp.*" -mmin +60 -exec rm -rf {} + 2>/dev/null || true
    br_tmp="$(mktemp -d "$cache_dir/.$br_name.tmp.XXXXXX")"
    trap 'rm -rf "$br_tmp"' EXIT
    tar -xJf "$tarball" -C "$br_tmp"
    if [ ! -f "$br_tmp/$br_name/Makefile" ]; then
        echo "bootstrap: $tarball does not unpack to $br_name/" >&2
        exit 1
    fi
    echo "$BUILDROOT_SHA256" > "$br_tmp/$br_name/.outpost-sha256"
    # A tree without a matching stamp (another release's, or made by hand) is
    # moved aside first: the rename below needs the name free.
    if [ -e "$br_dir" ]; then
        mv "$br_dir" "$br_tmp/old"
    fi
    mv "$br_tmp/$br_name" "$br_dir"
    rm -rf "$br_tmp"
    trap - EXIT
fi

log "ok"
