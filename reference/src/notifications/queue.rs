//! The durable per-endpoint event queue, kept in the storage backend so that
//! it survives crashes and is shared by every instance on that storage.
//!
//! ```text
//! /drydock/notifications/<endpoint>/pending/<minute>/<key>   waiting for delivery
//! /drydock/notifications/<endpoint>/dead/<key>               given up on (see `drydock events`)
//! ```
//!
//! A key is `<unix millis, 13 digits>-<instance id>-<sequence, 10 digits>`:
//! lexical order is recording order (per instance exactly, across instances
//! by wall clock). Pending events are bucketed by minute so that reading the
//! oldest ones lists one small directory, not the whole backlog: memory stays
//! bounded however long an endpoint is down.

use crate::registry::error::Result;
use crate::storage::{StorageDriver, StorageError};
use bytes::Bytes;
use drydock_spec::notification::Event;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub const ROOT: &str = "/drydock/notifications";
/// Width of a pending bucket.
const BUCKET_MILLIS: u64 = 60_000;

#[derive(Clone)]
pub struct EventQueue {
    driver: Arc<dyn StorageDriver>,
    endpoint: String,
    instance: String,
    sequence: Arc<AtomicU64>,
}

/// A recorded event and where it lives.
#[derive(Clone, Debug)]
pub struct Queued {
    pub key: String,
    pub event: Event,
}

fn not_found_is_empty<T: Default>(r: std::result::Result<T, StorageError>) -> std::result::Result<T, StorageError> {
    match r {
        Err(e) if e.is_not_found() => Ok(T::default()),
        other => other,
    }
}

impl EventQueue {
    pub fn new(driver: Arc<dyn StorageDriver>, endpoint: &str, instance: &str) -> EventQueue {
        EventQueue {
            driver,
            endpoint: endpoint.to_owned(),
            instance: instance.to_owned(),
            sequence: Arc::new(AtomicU64::new(0)),
        }
    }

    fn pending_root(&self) -> String {
        format!("{ROOT}/{}/pending", self.endpoint)
    }

    fn dead_root(&self) -> String {
        format!("{ROOT}/{}/dead", self.endpoint)
    }

    fn bucket_of(key: &str) -> &str {
        &key[..13.min(key.len())]
    }

    fn pending_path(&self, key: &str) -> String {
        let millis: u64 = Self::bucket_of(key).parse().unwrap_or(0);
        format!("{}/{:010}/{key}", self.pending_root(), millis / BUCKET_MILLIS)
    }

    /// Records an event durably; returns its key.
    pub async fn record(&self, event: &Event, now: SystemTime) -> Result<String> {
        let millis = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let key = format!("{millis:013}-{}-{seq:010}", self.instance);
        let body = serde_json::to_vec(event).expect("events serialize");
        self.driver.put_content(&self.pending_path(&key), Bytes::from(body)).await?;
        Ok(key)
    }

    /// The oldest pending event, if any.
    pub async fn oldest(&self) -> Result<Option<Queued>> {
        let root = self.pending_root();
        for bucket in not_found_is_empty(self.driver.list(&root).await)? {
            let dir = format!("{root}/{bucket}");
            let keys = not_found_is_empty(self.driver.list(&dir).await)?;
            let Some(key) = keys.into_iter().next() else {
                // An emptied bucket; remove it so listings stay short. Only if
                // still empty: a recorder may be writing into it right now.
                let _ = self.driver.remove_empty_dir(&dir).await;
                continue;
            };
            let path = format!("{dir}/{key}");
            match self.driver.get_content(&path).await {
                Ok(body) => match serde_json::from_slice(&body) {
                    Ok(event) => return Ok(Some(Queued { key, event })),
                    Err(_) => {
                        // Unreadable: keep it for an operator, out of the way.
                        let _ = self.driver.rename(&path, &format!("{}/{key}", self.dead_root())).await;
                        continue;
                    }
                },
                // Delivered by another instance meanwhile.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Number of pending events (walks the backlog; for start-up and tests).
    pub async fn count_pending(&self) -> Result<u64> {
        let root = self.pending_root();
        let mut n = 0;
        for bucket in not_found_is_empty(self.driver.list(&root).await)? {
            n += not_found_is_empty(self.driver.list(&format!("{root}/{bucket}")).await)?.len() as u64;
        }
        Ok(n)
    }

    /// Removes a delivered event.
    pub async fn ack(&self, key: &str) -> Result<()> {
        match self.driver.delete(&self.pending_path(key)).await {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Moves an event to the dead-letter record.
    pub async fn dead_letter(&self, key: &str) -> Result<()> {
        match self.driver.rename(&self.pending_path(key), &format!("{}/{key}", self.dead_root())).await {
            Err(e) if !e.is_not_found() => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Dead-lettered events, oldest first.
    pub async fn dead(&self) -> Result<Vec<Queued>> {
        let mut out = Vec::new();
        for key in not_found_is_empty(self.driver.list(&self.dead_root()).await)? {
            let body = self.driver.get_content(&format!("{}/{key}", self.dead_root())).await?;
            if let Ok(event) = serde_json::from_slice(&body) {
                out.push(Queued { key, event });
            }
        }
        Ok(out)
    }

    /// Puts a dead-lettered event back at its original place in the queue.
    pub async fn replay(&self, key: &str) -> Result<()> {
        Ok(self.driver.rename(&format!("{}/{key}", self.dead_root()), &self.pending_path(key)).await?)
    }
}
