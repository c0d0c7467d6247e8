//! A driver that times every operation of the driver it wraps: latency
//! histograms and error counts per operation, for `/metrics`.

use super::{ByteStream, Capabilities, FileInfo, ObjectWriter, Result, StorageDriver};
use crate::http::metrics::Histogram;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct StorageMetrics {
    /// Operation → (latency, errors).
    ops: Mutex<BTreeMap<&'static str, (Histogram, u64)>>,
}

impl StorageMetrics {
    fn observe<T>(&self, op: &'static str, started: tokio::time::Instant, result: &Result<T>) {
        let mut ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let (h, errors) = ops.entry(op).or_default();
        h.observe(started.elapsed());
        // Not-found is an answer, not a failure of the backend.
        if result.as_ref().is_err_and(|e| !e.is_not_found()) {
            *errors += 1;
        }
    }

    pub fn prometheus(&self, driver: &str) -> String {
        let mut out = String::new();
        let ops = self.ops.lock().unwrap_or_else(|p| p.into_inner());
        let name = "drydock_storage_operation_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Storage driver operations, by operation.\n# TYPE {name} histogram");
        for (op, (h, _)) in ops.iter() {
            h.render(&mut out, name, &format!("driver=\"{driver}\",op=\"{op}\""));
        }
        let name = "drydock_storage_errors_total";
        let _ =
            writeln!(out, "# HELP {name} Storage operations that failed (not-found excepted).\n# TYPE {name} counter");
        for (op, (_, errors)) in ops.iter() {
            let _ = writeln!(out, "{name}{{driver=\"{driver}\",op=\"{op}\"}} {errors}");
        }
        out
    }
}

pub struct Instrumented {
    inner: Arc<dyn StorageDriver>,
    pub metrics: Arc<StorageMetrics>,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn StorageDriver>) -> Instrumented {
        Instrumented { inner, metrics: Arc::default() }
    }
}

macro_rules! timed {
    ($self:ident, $op:literal, $call:expr) => {{
        let started = tokio::time::Instant::now();
        let result = $call.await;
        $self.metrics.observe($op, started, &result);
        result
    }};
}

#[async_trait]
impl StorageDriver for Instrumented {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn put_content_new(&self, path: &str, content: Bytes) -> Result<()> {
        timed!(self, "put_content_new", self.inner.put_content_new(path, content))
    }
    async fn replace_if(&self, path: &str, expected: Option<&[u8]>, content: Bytes) -> Result<bool> {
        timed!(self, "replace_if", self.inner.replace_if(path, expected, content))
    }
    async fn writer(&self, path: &str) -> Result<Box<dyn ObjectWriter>> {
        timed!(self, "writer", self.inner.writer(path))
    }
    async fn size(&self, path: &str) -> Result<u64> {
        timed!(self, "size", self.inner.size(path))
    }
    async fn list_sizes(&self, path: &str) -> Result<Vec<(String, u64)>> {
        timed!(self, "list_sizes", self.inner.list_sizes(path))
    }
    async fn get_content(&self, path: &str) -> Result<Bytes> {
        timed!(self, "get_content", self.inner.get_content(path))
    }
    async fn put_content(&self, path: &str, content: Bytes) -> Result<()> {
        timed!(self, "put_content", self.inner.put_content(path, content))
    }
    async fn read_at(&self, path: &str, offset: u64, max: usize) -> Result<Bytes> {
        timed!(self, "read_at", self.inner.read_at(path, offset, max))
    }
    async fn read_stream(&self, path: &str, offset: u64, len: u64) -> Result<Option<ByteStream>> {
        // Timed up to the store's answer; the bytes flow at the reader's pace.
        timed!(self, "read_stream", self.inner.read_stream(path, offset, len))
    }
    async fn append(&self, path: &str, offset: u64, data: Bytes) -> Result<u64> {
        timed!(self, "append", self.inner.append(path, offset, data))
    }
    async fn append_parts(&self, path: &str, offset: u64, parts: Vec<Bytes>) -> Result<u64> {
        timed!(self, "append", self.inner.append_parts(path, offset, parts))
    }
    async fn truncate(&self, path: &str, size: u64) -> Result<()> {
        timed!(self, "truncate", self.inner.truncate(path, size))
    }
    async fn stat(&self, path: &str) -> Result<FileInfo> {
        timed!(self, "stat", self.inner.stat(path))
    }
    async fn list(&self, path: &str) -> Result<Vec<String>> {
        timed!(self, "list", self.inner.list(path))
    }
    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        timed!(self, "rename", self.inner.rename(from, to))
    }
    async fn delete(&self, path: &str) -> Result<()> {
        timed!(self, "delete", self.inner.delete(path))
    }
    async fn remove_stale_temporaries(&self, cutoff: std::time::SystemTime) -> Result<u64> {
        timed!(self, "remove_stale_temporaries", self.inner.remove_stale_temporaries(cutoff))
    }
    async fn remove_empty_dir(&self, path: &str) -> Result<bool> {
        timed!(self, "remove_empty_dir", self.inner.remove_empty_dir(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::InMemoryDriver;

    #[tokio::test]
    async fn times_each_operation_and_counts_real_failures() {
        let d = Instrumented::new(Arc::new(InMemoryDriver::new()));
        d.put_content("/a/b", Bytes::from_static(b"x")).await.unwrap();
        d.get_content("/a/b").await.unwrap();
        assert!(d.get_content("/a/missing").await.is_err());
        assert!(d.get_content("relative").await.is_err());
        let text = d.metrics.prometheus("inmemory");
        assert!(
            text.contains(
                "drydock_storage_operation_duration_seconds_count{driver=\"inmemory\",op=\"get_content\"} 3\n"
            ),
            "{text}"
        );
        assert!(text.contains("drydock_storage_errors_total{driver=\"inmemory\",op=\"get_content\"} 1\n"), "{text}");
        assert!(text.contains("drydock_storage_errors_total{driver=\"inmemory\",op=\"put_content\"} 0\n"), "{text}");
    }
}
