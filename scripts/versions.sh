# Pinned versions of everything the firmware is built from. Sourced by
# scripts/bootstrap.sh; read by mkoutpost (image/src/sources.rs) so the
# build cache keys change whenever a pin does. Format: plain KEY=VALUE lines.
BUSYBOX_DEB_VERSION=1:1.35.0-4+deb12u1
DROPBEAR_DEB_VERSION=2022.83-1+deb12u3
PPP_DEB_VERSION=2.4.9-1+1.1
ZIGLANG_VERSION=0.17.1
# Buildroot LTS the buildroot-overlay tree is checked against (its test runs
# the real Kconfig); bootstrap.sh unpacks this tarball into the cache.
BUILDROOT_VERSION=2026.02.3
BUILDROOT_SHA256=bec7bcdaa4f16cb117960ca40451f07a147f38d91318fed99bbd2e15244f161e
