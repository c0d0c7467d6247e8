//! Webhook notifications that are never lost.
//!
//! distribution's pipeline, with its stated caveat (unsent events live in
//! memory) closed:
//!
//! ```text
//! handler ──listener──▶ bridge ──▶ broadcaster ──▶ queue (storage, per endpoint)   ← before the 2xx
//!                                                    │
//!                                   worker (per endpoint): retrying ▶ HTTP endpoint
//! ```
//!
//! - `listener`: successful repository operations → event targets.
//! - `bridge`: adds the request, actor and source → events.
//! - `broadcaster`: one event to every endpoint that does not ignore it.
//! - `queue`: the durable per-endpoint queue in the storage backend.
//! - `worker` + `endpoint`: ordered delivery with threshold/backoff retries.
//! - `metrics`: per-endpoint counters (`/debug/vars`, `/metrics`).

pub mod bridge;
pub mod broadcaster;
pub mod endpoint;
pub mod listener;
pub mod metrics;
pub mod queue;
pub mod worker;

pub use bridge::Bridge;
pub use broadcaster::Broadcaster;
pub use endpoint::{Connector, Io};

use drydock_spec::notification::{Action, Format};
use std::time::Duration;

/// One webhook endpoint's configuration.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Also the endpoint's directory name in storage: `[A-Za-z0-9._-]+`.
    pub name: String,
    pub url: http::Uri,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// Consecutive failures before `backoff` applies.
    pub threshold: u32,
    pub backoff: Duration,
    pub ignored_media_types: Vec<String>,
    pub ignored_actions: Vec<Action>,
    pub format: Format,
    /// Rejections (4xx) of one event before it is dead-lettered; `None`: never.
    pub max_attempts: Option<u32>,
}

impl EndpointConfig {
    pub fn new(name: &str, url: http::Uri) -> EndpointConfig {
        EndpointConfig {
            name: name.to_owned(),
            url,
            headers: Vec::new(),
            timeout: Duration::from_secs(5),
            threshold: 3,
            backoff: Duration::from_secs(1),
            ignored_media_types: Vec::new(),
            ignored_actions: Vec::new(),
            format: Format::V1,
            max_attempts: None,
        }
    }

    /// Whether the name can be a storage path component.
    pub fn valid_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 128
            && !name.starts_with('.')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    }
}
