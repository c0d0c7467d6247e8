//! Per request: turns targets into events carrying the request, actor and
//! source, and records them through the broadcaster before the handler
//! answers.

use super::Broadcaster;
use super::listener::Listener;
use crate::env::Env;
use crate::registry::Registry;
use crate::registry::error::Result;
use drydock_spec::notification::{Action, ActorRecord, Event, RequestRecord, SourceRecord, Target};

pub struct Bridge {
    #[cfg(feature = "sim-mutants")]
    mutants: crate::mutants::Mutants,
    broadcaster: Broadcaster,
    env: Env,
    request: RequestRecord,
    source: SourceRecord,
    base: String,
}

impl Bridge {
    /// The bridge for one request to `registry`; `base` is `scheme://host`
    /// for the URLs in events.
    pub fn for_request(registry: &Registry, request: RequestRecord, base: String) -> Bridge {
        Bridge {
            #[cfg(feature = "sim-mutants")]
            mutants: registry.mutants.clone(),
            broadcaster: registry.notifications.clone(),
            env: registry.env.clone(),
            request,
            source: SourceRecord { addr: registry.source_addr.clone(), instance_id: registry.instance_id.clone() },
            base,
        }
    }

    pub fn listener(&self) -> Listener<'_> {
        Listener { base: &self.base }
    }

    /// Records one event; returns once it is durable.
    pub async fn emit(&self, action: Action, target: Target) -> Result<()> {
        if self.broadcaster.is_empty() {
            return Ok(());
        }
        let now = self.env.now();
        let event = Event {
            id: self.env.new_uuid(),
            timestamp: humantime::format_rfc3339_nanos(now).to_string(),
            action,
            target,
            request: self.request.clone(),
            actor: ActorRecord::default(),
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
