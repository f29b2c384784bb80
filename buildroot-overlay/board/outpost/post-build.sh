#!/bin/sh
# Buildroot post-build script (BR2_ROOTFS_POST_BUILD_SCRIPT): makes the
# target tree match what mkoutpost puts in its initramfs around the shared
# rootfs overlay (image/src/initramfs.rs and build.rs), so both build paths
# boot the same way. Buildroot calls it with TARGET_DIR as $1.
set -eu

target=${1:?usage: post-build.sh TARGET_DIR}

# Git keeps only the executable bit, so the overlay's shadow arrives
# world-readable; mkoutpost installs it 0600 (initramfs.rs PRIVATE_FILES).
chmod 0600 "$target/etc/shadow"

# mkoutpost's skeleton directories (initramfs.rs SKELETON_DIRS): outpostd
# and pppd write below them, and /mnt is where the boot medium goes.
for d in dev proc sys run mnt var etc/outpost etc/ppp usr/bin usr/sbin; do
    mkdir -p "$target/$d"
done
mkdir -p "$target/tmp" "$target/root"
chmod 1777 "$target/tmp"
chmod 0700 "$target/root"

# The kernel runs /init from the initramfs; mkoutpost links it to busybox,
# whose init reads the overlay's inittab (that mounts devtmpfs itself).
# With /init present, Buildroot's cpio step adds no init script of its own.
ln -sfn /bin/busybox "$target/init"

# outpostd is the router's only service: it starts from the overlay's
# inittab, so Buildroot's SysV start scripts (syslogd, klogd, ...) would
# only take RAM and flash.
rm -f "$target"/etc/init.d/S[0-9]*

# outpost_i586_defconfig enables C++ in the toolchain only because
# Buildroot's Rust requires it with musl (BR2_TOOLCHAIN_BUILDROOT_CXX for
# BR2_PACKAGE_HOST_RUSTC_TARGET_ARCH_SUPPORTS), and that installs libstdc++
# (about 2 MB) in the target, which nothing of the router links: drop it
# unless some other file of the image names it (a C++ package added later).
if ls "$target"/usr/lib/libstdc++.so* >/dev/null 2>&1 \
    && ! grep -rqF --exclude='libstdc++.so*' 'libstdc++.so' "$target"; then
    rm -f "$target"/usr/lib/libstdc++.so*
fi

if [ ! -x "$target/sbin/outpostd" ]; then
    echo "post-build.sh: $target/sbin/outpostd is missing (enable BR2_PACKAGE_OUTPOST)" >&2
    exit 1
fi
