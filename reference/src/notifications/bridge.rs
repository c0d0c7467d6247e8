//! Per request: the [`Listener`] a repository reports to. Turns repository
//! events into notification events carrying the request, actor and source,
//! and records them through the broadcaster before the handler answers.

use super::Broadcaster;
use super::listener::target;
use crate::env::Env;
use crate::registry::error::Result;
use crate::registry::listener::{Listener, RepositoryEvent};
use async_trait::async_trait;
use drydock_spec::RepositoryName;
use drydock_spec::notification::{ActorRecord, Event, RequestRecord, SourceRecord};

pub struct Bridge {
    #[cfg(feature = "sim-mutants")]
    pub(crate) mutants: crate::mutants::Mutants,
    broadcaster: Broadcaster,
    env: Env,
    request: RequestRecord,
    actor: ActorRecord,
    source: SourceRecord,
    base: String,
}

impl Bridge {
    /// The bridge for one request by `actor`; `base` is `scheme://host` for
    /// the URLs in events.
    pub fn new(
        broadcaster: Broadcaster,
        env: Env,
        request: RequestRecord,
        actor: ActorRecord,
        source: SourceRecord,
        base: String,
    ) -> Bridge {
        Bridge {
            #[cfg(feature = "sim-mutants")]
            mutants: broadcaster.mutants.clone(),
            broadcaster,
            env,
            request,
            actor,
            source,
            base,
        }
    }
}

#[async_trait]
impl Listener for Bridge {
    /// Records one event; returns once it is durable.
    async fn record(&self, repo: &RepositoryName, event: RepositoryEvent) -> Result<()> {
        if self.broadcaster.is_empty() {
            return Ok(());
        }
        let (action, target) = target(&self.base, repo, &event);
        let now = self.env.now();
        let event = Event {
            id: self.env.new_uuid(),
            timestamp: humantime::format_rfc3339_nanos(now).to_string(),
            action,
            target,
            request: self.request.clone(),
            actor: self.actor.clone(),
            source: self.source.clone(),
        };
        #[cfg(feature = "sim-mutants")]
        if self.mutants.event_after_response() {
            // Wrong on purpose: the client may get its 2xx before this runs.
            let broadcaster = self.broadcaster.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                let _ = broadcaster.write(&event, now).await;
            });
            return Ok(());
        }
        self.broadcaster.write(&event, now).await
    }
}
