//! The QEMU harness (placeholder until it lands).
