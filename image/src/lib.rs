//! `mkoutpost`'s library: the host build pipeline. Each component module
//! builds one artefact through the content-addressed [`cache`].
pub mod agent;
pub mod build;
pub mod busybox;
pub mod cache;
pub mod cpio;
pub mod cpu;
pub mod debian;
pub mod dropbear;
pub mod error;
pub mod exec;
pub mod files;
pub mod initramfs;
pub mod kernel;
pub mod keys;
pub mod media;
pub mod pppd;
pub mod rehearse;
pub mod run;
pub mod site;
pub mod sources;
pub mod zig;
