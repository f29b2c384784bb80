//! Outpost's pure logic, shared by the router agent `outpostd` and the host
//! tool `mkoutpost`: the config model ([`config`]), its validation, and the
//! plans computed from a valid config ([`plan`], [`ruleset`]). Nothing in
//! this crate touches the kernel, the file system beyond reading a config
//! (and the separate identity-file check), or the network.

pub mod config;
pub mod diagnostic;
pub mod hardware;
pub mod keyfiles;
pub mod keys;
pub mod net;
pub mod openssh_key;
pub mod plan;
pub mod raw;
pub mod ruleset;
pub mod ruleset_eval;
pub mod site;
pub mod validate;

pub use config::{Config, ConfigError};
