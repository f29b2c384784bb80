#!/bin/sh
# Buildroot post-image script (BR2_ROOTFS_POST_IMAGE_SCRIPT): lays out the
# boot media the way mkoutpost does (image/src/media.rs): a FAT volume
# labelled OUTPOST holding syslinux.cfg, bzImage, initramfs and a fresh
# 512-byte entropy seed, as a 2.88 MB floppy and as a CompactFlash/IDE disk
# (SYSLINUX's MBR, one active FAT12 partition from sector 63).
#
# Buildroot runs it from its top directory with BINARIES_DIR, BUILD_DIR and
# BR2_CONFIG set. SYSLINUX itself is installed by the build machine's
# `syslinux` (the mtools installer; Debian package syslinux): Buildroot
# builds SYSLINUX's boot code (mbr.bin) but removes that host installer.
set -eu

: "${BINARIES_DIR:?post-image.sh runs from Buildroot (BINARIES_DIR unset)}"
board_dir=$(cd "$(dirname "$0")" && pwd)

# The same numbers as image/src/media.rs: sector 63 is the second track of
# a 16-head, 63-sector geometry.
cf_partition_offset=$((63 * 512))

if ! command -v syslinux >/dev/null 2>&1; then
    echo "post-image.sh: the build machine needs SYSLINUX's mtools installer (Debian: apt-get install syslinux mtools)" >&2
    exit 1
fi

# Buildroot compresses with plain `xz -9` (a 64 MiB dictionary); the
# kernel's decoder needs the whole dictionary in RAM and a 16 MB router
# panics. Recompress with mkoutpost's settings (initramfs.rs XZ_ARGS).
xz --check=crc32 --lzma2=preset=9e,dict=1MiB --threads=1 -c \
    "$BINARIES_DIR/rootfs.cpio" > "$BINARIES_DIR/initramfs"

cp "$board_dir/syslinux.cfg" "$BINARIES_DIR/syslinux.cfg"

# Every image gets its own seed: two routers must never credit the same
# bytes to their random pools. outpostd replaces it at boot.
head -c 512 /dev/urandom > "$BINARIES_DIR/random.seed"

for cfg in genimage-floppy.cfg genimage-cf.cfg; do
    support/scripts/genimage.sh -c "$board_dir/$cfg"
done

syslinux --install "$BINARIES_DIR/floppy2880.img"
syslinux --install --offset "$cf_partition_offset" "$BINARIES_DIR/cf.img"

echo "Outpost boot media: $BINARIES_DIR/floppy2880.img $BINARIES_DIR/cf.img"
