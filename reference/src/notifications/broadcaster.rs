//! One event to every endpoint: recorded in each endpoint's durable queue
//! (skipping endpoints that ignore it), then the endpoint's worker is woken.
//! Recording is all the request path waits for; delivery happens elsewhere,
//! so a slow endpoint never slows a push or another endpoint.

use super::EndpointConfig;
use super::endpoint::{Connector, HttpEndpoint};
use super::metrics::{EndpointMetrics, Snapshot};
use super::queue::EventQueue;
use super::worker::Worker;
use crate::registry::error::Result;
use crate::storage::StorageDriver;
use drydock_spec::notification::Event;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::SystemTime;
use tokio::sync::Notify;

/// Tries at reading each endpoint's backlog before a start fails: a single
/// backend hiccup must not keep an instance down.
const START_ATTEMPTS: u32 = 5;
const START_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

struct Endpoint {
    config: Arc<EndpointConfig>,
    queue: EventQueue,
    metrics: Arc<EndpointMetrics>,
    wake: Arc<Notify>,
}

#[derive(Clone)]
pub struct Broadcaster {
    endpoints: Arc<Vec<Endpoint>>,
    #[cfg(feature = "sim-mutants")]
    pub(crate) mutants: crate::mutants::Mutants,
}

impl Broadcaster {
    pub fn new(driver: Arc<dyn StorageDriver>, instance_id: &str, configs: Vec<EndpointConfig>) -> Broadcaster {
        let endpoints = configs
            .into_iter()
            .map(|c| Endpoint {
                queue: EventQueue::new(driver.clone(), &c.name, instance_id),
                config: Arc::new(c),
                metrics: Arc::default(),
                wake: Arc::default(),
            })
            .collect();
        Broadcaster {
            endpoints: Arc::new(endpoints),
            #[cfg(feature = "sim-mutants")]
            mutants: Default::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Records `event` durably for every endpoint that wants it.
    pub async fn write(&self, event: &Event, now: SystemTime) -> Result<()> {
        for e in self.endpoints.iter() {
            if ignores(&e.config, event) {
                continue;
            }
            e.queue.record(event, now).await?;
            e.metrics.events.fetch_add(1, Relaxed);
            e.metrics.pending.fetch_add(1, Relaxed);
            e.wake.notify_one();
        }
        Ok(())
    }

    /// Starts one delivery worker per endpoint (call once per process). The
    /// pending gauge starts from what storage already holds; a backend that
    /// cannot be read after `START_ATTEMPTS` tries fails the start.
    pub async fn start_workers(&self, connector: Arc<dyn Connector>) -> Result<()> {
        for e in self.endpoints.iter() {
            let mut attempt = 1;
            let backlog = loop {
                match e.queue.count_pending().await {
                    Ok(n) => break n,
                    Err(err) if attempt < START_ATTEMPTS => {
                        tracing::warn!(endpoint = %e.config.name, error = %err, attempt, "reading the event queue failed; retrying");
                        tokio::time::sleep(START_RETRY).await;
                        attempt += 1;
                    }
                    Err(err) => return Err(err),
                }
            };
            e.metrics.pending.fetch_add(backlog as i64, Relaxed);
            let worker = Worker {
                config: e.config.clone(),
                queue: e.queue.clone(),
                endpoint: HttpEndpoint::new(e.config.clone(), connector.clone()),
                metrics: e.metrics.clone(),
                wake: e.wake.clone(),
                #[cfg(feature = "sim-mutants")]
                mutants: self.mutants.clone(),
            };
            tokio::spawn(worker.run());
        }
        Ok(())
    }

    /// `(name, url, metrics)` for every endpoint, in configuration order.
    pub fn metrics(&self) -> Vec<(String, String, Snapshot)> {
        self.endpoints.iter().map(|e| (e.config.name.clone(), redacted(&e.config.url), e.metrics.snapshot())).collect()
    }

    /// The queue of the named endpoint (for `drydock events`).
    pub fn queue(&self, name: &str) -> Option<&EventQueue> {
        self.endpoints.iter().find(|e| e.config.name == name).map(|e| &e.queue)
    }

    pub fn endpoint_names(&self) -> Vec<String> {
        self.endpoints.iter().map(|e| e.config.name.clone()).collect()
    }
}

/// An endpoint URL as operators may see it: a password in the userinfo and
/// every query value (tokens travel there) replaced by `***`.
pub fn redacted(url: &http::Uri) -> String {
    let mut out = String::new();
    if let Some(scheme) = url.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(authority) = url.authority() {
        let text = authority.as_str();
        match text.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                let hidden = if userinfo.contains(':') { ":***" } else { "" };
                out.push_str(&format!("{user}{hidden}@{host}"));
            }
            None => out.push_str(text),
        }
    }
    out.push_str(url.path());
    if let Some(q) = url.query() {
        let pairs: Vec<String> = q.split('&').map(|p| format!("{}=***", p.split('=').next().unwrap_or(""))).collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

fn ignores(config: &EndpointConfig, event: &Event) -> bool {
    config.ignored_actions.contains(&event.action)
        || event.target.media_type.as_ref().is_some_and(|mt| config.ignored_media_types.iter().any(|i| i == mt))
}

#[cfg(test)]
mod redaction_tests {
    use super::redacted;

    #[test]
    fn secrets_in_endpoint_urls_are_hidden() {
        let r = |u: &str| redacted(&u.parse().unwrap());
        assert_eq!(
            r("https://hook:s3cret@ci.example:8443/events?token=abc&x=1"),
            "https://hook:***@ci.example:8443/events?token=***&x=***"
        );
        assert_eq!(r("http://ci.example/events"), "http://ci.example/events");
        assert_eq!(r("http://user@ci.example/"), "http://user@ci.example/");
    }
}
