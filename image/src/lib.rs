//! `mkoutpost`'s library: the host build pipeline. Each component module
//! builds one artefact through the content-addressed [`cache`].
pub mod cache;
pub mod cpu;
pub mod error;
pub mod exec;
pub mod kernel;
pub mod sources;
pub mod zig;
