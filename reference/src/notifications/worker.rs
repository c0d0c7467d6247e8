//! Delivery: one loop per endpoint takes the oldest recorded event, delivers
//! it, and only then moves on, so events reach an endpoint in the order they
//! were acknowledged. The retrying behaviour is distribution's retrying sink:
//! after `threshold` consecutive failures, wait `backoff` between attempts.

use super::EndpointConfig;
use super::endpoint::HttpEndpoint;
use super::metrics::EndpointMetrics;
use super::queue::EventQueue;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::Notify;

/// How often an idle worker looks for events recorded by other instances.
pub const IDLE_POLL: Duration = Duration::from_secs(1);

/// Retry policy state for one endpoint.
pub struct Retrying {
    threshold: u32,
    backoff: Duration,
    consecutive_failures: u32,
}

impl Retrying {
    pub fn new(threshold: u32, backoff: Duration) -> Retrying {
        Retrying { threshold, backoff, consecutive_failures: 0 }
    }

    pub fn succeeded(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Records a failure; returns how long to wait before the next attempt.
    pub fn failed(&mut self) -> Duration {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures >= self.threshold { self.backoff } else { Duration::ZERO }
    }
}

pub struct Worker {
    pub config: Arc<EndpointConfig>,
    pub queue: EventQueue,
    pub endpoint: HttpEndpoint,
    pub metrics: Arc<EndpointMetrics>,
    pub wake: Arc<Notify>,
    #[cfg(feature = "sim-mutants")]
    pub mutants: crate::mutants::Mutants,
}

impl Worker {
    /// Runs until the task is dropped.
    pub async fn run(self) {
        let mut retrying = Retrying::new(self.config.threshold, self.config.backoff);
        // Consecutive rejections (4xx) of the event at the head of the queue.
        let mut rejections: u32 = 0;
        let mut head: Option<String> = None;
        loop {
            let next = match self.queue.oldest().await {
                Ok(Some(q)) => q,
                Ok(None) => {
                    let _ = tokio::time::timeout(IDLE_POLL, self.wake.notified()).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(endpoint = %self.config.name, error = %e, "reading the event queue failed");
                    tokio::time::sleep(retrying.failed().max(IDLE_POLL)).await;
                    continue;
                }
            };
            if head.as_deref() != Some(next.key.as_str()) {
                head = Some(next.key.clone());
                rejections = 0;
            }
            let wait = match self.endpoint.deliver(&next.event).await {
                Ok(status) if status.is_success() => {
                    self.metrics.successes.fetch_add(1, Relaxed);
                    self.metrics.status(status);
                    retrying.succeeded();
                    match self.queue.ack(&next.key).await {
                        Ok(()) => {
                            self.metrics.pending.fetch_sub(1, Relaxed);
                        }
                        Err(e) => {
                            tracing::warn!(endpoint = %self.config.name, error = %e, "removing a delivered event failed")
                        }
                    }
                    continue;
                }
                Ok(status) => {
                    self.metrics.failures.fetch_add(1, Relaxed);
                    self.metrics.status(status);
                    tracing::debug!(endpoint = %self.config.name, %status, event = %next.event.id, "endpoint refused an event");
                    if status.is_client_error() || self.gives_up_on_down_receivers() {
                        rejections += 1;
                    } else {
                        rejections = 0;
                    }
                    retrying.failed()
                }
                Err(e) => {
                    self.metrics.errors.fetch_add(1, Relaxed);
                    tracing::debug!(endpoint = %self.config.name, error = %e, "delivery failed");
                    rejections = if self.gives_up_on_down_receivers() { rejections + 1 } else { 0 };
                    retrying.failed()
                }
            };
            if self.config.max_attempts.is_some_and(|max| rejections >= max) {
                tracing::warn!(endpoint = %self.config.name, event = %next.event.id, rejections, "event rejected too often; dead-lettered");
                if self.queue.dead_letter(&next.key).await.is_ok() {
                    self.metrics.dead_letters.fetch_add(1, Relaxed);
                    self.metrics.pending.fetch_sub(1, Relaxed);
                }
                retrying.succeeded();
                continue;
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

impl Worker {
    /// Only a receiver that answers 4xx rejects an event; the simulator's
    /// mutant gives up on unreachable ones too.
    fn gives_up_on_down_receivers(&self) -> bool {
        #[cfg(feature = "sim-mutants")]
        if self.mutants.give_up_on_down_receiver() {
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_the_threshold() {
        let mut r = Retrying::new(3, Duration::from_secs(2));
        assert_eq!(r.failed(), Duration::ZERO);
        assert_eq!(r.failed(), Duration::ZERO);
        assert_eq!(r.failed(), Duration::from_secs(2));
        assert_eq!(r.failed(), Duration::from_secs(2));
        r.succeeded();
        assert_eq!(r.failed(), Duration::ZERO);
    }
}
