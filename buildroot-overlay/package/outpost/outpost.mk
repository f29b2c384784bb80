################################################################################
#
# outpost
#
################################################################################

# The Outpost source tree this BR2_EXTERNAL tree lives in: its workspace
# version, built from the checkout (no release tarball to download).
OUTPOST_VERSION = 0.1.0
OUTPOST_SITE = $(BR2_EXTERNAL_OUTPOST_PATH)/..
OUTPOST_SITE_METHOD = local
OUTPOST_LICENSE = GPL-3.0-or-later
OUTPOST_LICENSE_FILES = LICENSE

# Build artefacts of the project's own pipeline are not sources: keep them
# out of the rsync'ed copy (they can be gigabytes).
OUTPOST_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude=/target --exclude='/target-*' --exclude=/out --exclude=/.ci

ifeq ($(BR2_PACKAGE_OUTPOST_PREBUILT),y)

# i486: Buildroot's Rust has no i486 target, so install the outpostd the
# project's own toolchain built (see readme.txt).
OUTPOST_PREBUILT_PATH = $(call qstrip,$(BR2_PACKAGE_OUTPOST_PREBUILT_PATH))

ifeq ($(BR_BUILDING),y)
ifeq ($(OUTPOST_PREBUILT_PATH),)
$(error BR2_PACKAGE_OUTPOST_PREBUILT_PATH is empty: name the outpostd binary to install (see the Outpost readme.txt))
endif
endif

define OUTPOST_BUILD_CMDS
	test -f $(OUTPOST_PREBUILT_PATH) || { \
		echo "outpost: prebuilt outpostd $(OUTPOST_PREBUILT_PATH) not found (see the Outpost readme.txt)" >&2; \
		exit 1; }
endef

define OUTPOST_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(OUTPOST_PREBUILT_PATH) $(TARGET_DIR)/sbin/outpostd
endef

$(eval $(generic-package))

else # BR2_PACKAGE_OUTPOST_PREBUILT

# The agent's crate inside the workspace; cargo finds the workspace's
# Cargo.lock and the .cargo/config.toml written below by walking up.
OUTPOST_SUBDIR = firmware/outpostd
OUTPOST_CARGO_BUILD_OPTS = --bin outpostd

# The project's `firmware` profile (workspace Cargo.toml), expressed as
# overrides of the release profile cargo-package builds with: outpostd
# must fit on a floppy next to the kernel. These come after Buildroot's
# own CARGO_PROFILE_RELEASE_* settings on the command line, so they win.
OUTPOST_CARGO_ENV = \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
	CARGO_PROFILE_RELEASE_LTO=true \
	CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
	CARGO_PROFILE_RELEASE_PANIC=abort

# A local site is rsync'ed, not downloaded, so the cargo download
# post-process never vendors its crates. Do what it does
# (support/download/cargo-post-process) once host-rustc is installed, so
# the infrastructure's `cargo build --offline --locked` finds them.
define OUTPOST_VENDOR_CRATES
	mkdir -p $(@D)/.cargo $(BR_CARGO_HOME)
	cd $(@D) && PATH=$(BR_PATH) CARGO_HOME=$(BR_CARGO_HOME) \
		flock $(BR_CARGO_HOME)/.br-lock \
		cargo vendor --manifest-path Cargo.toml --locked VENDOR \
		> $(@D)/.cargo/config.toml
endef
OUTPOST_PRE_BUILD_HOOKS += OUTPOST_VENDOR_CRATES

# cargo install would put every binary in /usr/bin; the router's inittab
# starts /sbin/outpostd.
OUTPOST_PROFILE_DIR = $(if $(BR2_ENABLE_DEBUG),debug,release)
define OUTPOST_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 \
		$(@D)/target/$(RUSTC_TARGET_NAME)/$(OUTPOST_PROFILE_DIR)/outpostd \
		$(TARGET_DIR)/sbin/outpostd
endef

$(eval $(cargo-package))

endif # BR2_PACKAGE_OUTPOST_PREBUILT
