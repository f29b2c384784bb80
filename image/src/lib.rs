//! `mkoutpost`'s library: the host build pipeline. Each component module
//! builds one artefact through the content-addressed [`cache`].
pub mod busybox;
pub mod cache;
pub mod cpu;
pub mod dropbear;
pub mod error;
pub mod exec;
pub mod kernel;
pub mod pppd;
pub mod sources;
pub mod zig;
