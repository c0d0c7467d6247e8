//! The reference registry behind `drydock serve`.
//!
//! Follows the classic distribution design: storage drivers, a
//! content-addressable blob store reached only through per-repository links,
//! uploads spooled to storage with HMAC-signed state, manifests through
//! revision and tag stores. Runs unchanged on tokio and inside turmoil: the
//! caller hands it connections, a clock and a random source.

pub mod auth;
pub mod env;
pub mod http;
pub mod instance;
#[cfg(feature = "sim-mutants")]
pub mod mutants;
pub mod notifications;
pub mod registry;
pub mod storage;

pub use env::{Clock, Env};
pub use instance::{Instance, InstanceConfig};
pub use registry::Registry;
