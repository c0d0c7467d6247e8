//! Simulated storage: the in-memory driver behind seeded faults — latency,
//! errors, list-after-write lag — and, as a mutant, non-atomic tag writes.

use async_trait::async_trait;
use bytes::Bytes;
use drydock_reference::storage::{FileInfo, InMemoryDriver, Result, StorageDriver, StorageError};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::trace::Trace;

/// What can go wrong, drawn from the run's seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageFaults {
    /// Chance in 10,000 that an operation fails.
    pub error_per_10k: u32,
    /// Upper bound of the latency added to each operation.
    pub max_latency: Duration,
    /// A listing misses objects written less than this long ago.
    pub list_lag: Duration,
    /// Mutant: a tag's `current/link` is replaced by delete-then-write.
    pub non_atomic_tags: bool,
    /// Mutant: deleting a tag's directory is acknowledged but not done.
    pub lost_tag_deletes: bool,
}

pub struct FaultyStorage {
    inner: InMemoryDriver,
    faults: StorageFaults,
    rng: Mutex<ChaCha8Rng>,
    written: Mutex<HashMap<String, tokio::time::Instant>>,
    trace: Trace,
}

impl FaultyStorage {
    pub fn new(seed: u64, faults: StorageFaults, trace: Trace) -> FaultyStorage {
        FaultyStorage {
            inner: InMemoryDriver::new(),
            faults,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0x0570_7a6e)),
            written: Mutex::default(),
            trace,
        }
    }

    fn roll(&self, per_10k: u32) -> bool {
        per_10k > 0 && self.rng.lock().unwrap_or_else(|p| p.into_inner()).next_u32() % 10_000 < per_10k
    }

    async fn before(&self, op: &str, path: &str) -> Result<()> {
        let max = self.faults.max_latency.as_micros() as u64;
        if max > 0 {
            let micros = self.rng.lock().unwrap_or_else(|p| p.into_inner()).next_u64() % max;
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
        if self.roll(self.faults.error_per_10k) {
            self.trace.record("storage", format!("fault: {op} {path} fails"));
            return Err(StorageError::Io {
                path: path.to_owned(),
                source: std::io::Error::other("injected storage fault"),
            });
        }
        Ok(())
    }

    fn wrote(&self, path: &str) {
        if !self.faults.list_lag.is_zero() {
            self.written.lock().unwrap_or_else(|p| p.into_inner()).insert(path.to_owned(), tokio::time::Instant::now());
        }
    }
}

#[async_trait]
impl StorageDriver for FaultyStorage {
    fn name(&self) -> &'static str {
        "sim"
    }

    async fn get_content(&self, path: &str) -> Result<Bytes> {
        self.before("get", path).await?;
        self.inner.get_content(path).await
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<()> {
        self.before("put", path).await?;
        if self.faults.non_atomic_tags && path.ends_with("/current/link") {
            // Wrong on purpose: readers can observe the tag missing.
            let _ = self.inner.delete(path).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.inner.put_content(path, content).await?;
        self.wrote(path);
        Ok(())
    }

    async fn read_at(&self, path: &str, offset: u64, max: usize) -> Result<Bytes> {
        self.before("read", path).await?;
        self.inner.read_at(path, offset, max).await
    }

    async fn append(&self, path: &str, data: &[u8]) -> Result<u64> {
        self.before("append", path).await?;
        let n = self.inner.append(path, data).await?;
        self.wrote(path);
        Ok(n)
    }

    async fn truncate(&self, path: &str, size: u64) -> Result<()> {
        self.before("truncate", path).await?;
        self.inner.truncate(path, size).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        self.before("stat", path).await?;
        self.inner.stat(path).await
    }

    async fn list(&self, path: &str) -> Result<Vec<String>> {
        self.before("list", path).await?;
        let names = self.inner.list(path).await?;
        if self.faults.list_lag.is_zero() {
            return Ok(names);
        }
        let now = tokio::time::Instant::now();
        let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = format!("{}/", path.trim_end_matches('/'));
        Ok(names
            .into_iter()
            .filter(|n| {
                let child = format!("{prefix}{n}");
                // A name is listed once every object under it is old enough.
                !written.iter().any(|(p, t)| {
                    (p == &child || p.starts_with(&format!("{child}/"))) && now - *t < self.faults.list_lag
                })
            })
            .collect())
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.before("rename", from).await?;
        self.inner.rename(from, to).await?;
        self.wrote(to);
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.before("delete", path).await?;
        if self.faults.lost_tag_deletes && path.contains("/_manifests/tags/") {
            // Wrong on purpose: the tag survives its acknowledged delete.
            return Ok(());
        }
        self.inner.delete(path).await
    }
}
