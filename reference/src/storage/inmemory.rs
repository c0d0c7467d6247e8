//! A driver that keeps everything in memory: tests, the simulator, and
//! `drydock serve --storage memory`. Deterministic: a `BTreeMap` orders all
//! listings.

use super::{ByteStream, Capabilities, FileInfo, ObjectWriter, Result, StorageDriver, StorageError, check_path};
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Bytes per chunk of a streamed read: deliberately not a power of two.
const STREAM_CHUNK: usize = 100_000;

type Objects = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

pub struct InMemoryDriver {
    objects: Objects,
    capabilities: Capabilities,
}

impl Default for InMemoryDriver {
    fn default() -> InMemoryDriver {
        InMemoryDriver::with_capabilities(Capabilities::FILES)
    }
}

impl InMemoryDriver {
    pub fn new() -> InMemoryDriver {
        InMemoryDriver::default()
    }

    /// A driver offering only `capabilities`: without appends it behaves as
    /// an object store does (the registry then keeps uploads as segments),
    /// without conditional writes `put_content_new` replaces.
    pub fn with_capabilities(capabilities: Capabilities) -> InMemoryDriver {
        InMemoryDriver { objects: Objects::default(), capabilities }
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        lock(&self.objects)
    }

    /// Every object at or below `path`, in order (what an object store's
    /// recursive listing shows).
    pub fn keys_under(&self, path: &str) -> Vec<String> {
        let prefix = dir_prefix(path);
        self.objects()
            .range(path.to_owned()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(path))
            .filter(|k| *k == path || k.starts_with(&prefix))
            .cloned()
            .collect()
    }

    fn appendable(&self, op: &'static str, path: &str) -> Result<()> {
        check_path(path)?;
        if self.capabilities.appends { Ok(()) } else { Err(StorageError::Unsupported { op, path: path.to_owned() }) }
    }
}

fn lock(objects: &Objects) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
    // A panic while holding the lock cannot leave a map half-updated: every
    // critical section is a single map operation.
    objects.lock().unwrap_or_else(|p| p.into_inner())
}

/// Gathers the object, then inserts it whole.
struct MemoryWriter {
    objects: Objects,
    path: String,
    content: Vec<u8>,
}

#[async_trait]
impl ObjectWriter for MemoryWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.content.extend_from_slice(&data);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<u64> {
        let size = self.content.len() as u64;
        lock(&self.objects).insert(self.path, self.content);
        Ok(size)
    }

    async fn abort(self: Box<Self>) {}
}

fn dir_prefix(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/'))
}

#[async_trait]
impl StorageDriver for InMemoryDriver {
    fn name(&self) -> &'static str {
        "inmemory"
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn get_content(&self, path: &str) -> Result<Bytes> {
        check_path(path)?;
        self.objects().get(path).map(|v| Bytes::copy_from_slice(v)).ok_or_else(|| StorageError::NotFound(path.into()))
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<()> {
        check_path(path)?;
        self.objects().insert(path.to_owned(), content.to_vec());
        Ok(())
    }

    async fn put_content_new(&self, path: &str, content: Bytes) -> Result<()> {
        check_path(path)?;
        let mut objects = self.objects();
        if self.capabilities.conditional_writes && objects.contains_key(path) {
            return Err(StorageError::AlreadyExists(path.to_owned()));
        }
        objects.insert(path.to_owned(), content.to_vec());
        Ok(())
    }

    async fn replace_if(&self, path: &str, expected: Option<&[u8]>, content: Bytes) -> Result<bool> {
        check_path(path)?;
        let mut objects = self.objects();
        if let Some(expected) = expected
            && objects.get(path).map(Vec::as_slice) != Some(expected)
        {
            return Ok(false);
        }
        objects.insert(path.to_owned(), content.to_vec());
        Ok(true)
    }

    /// As an object store (without appends), reads stream, in chunks
    /// unrelated to the reader's pieces, as a network answer arrives.
    async fn read_stream(&self, path: &str, offset: u64, len: u64) -> Result<Option<ByteStream>> {
        check_path(path)?;
        if self.capabilities.appends {
            return Ok(None);
        }
        let objects = self.objects();
        let object = objects.get(path).ok_or_else(|| StorageError::NotFound(path.into()))?;
        let from = usize::try_from(offset).unwrap_or(usize::MAX).min(object.len());
        let to = usize::try_from(offset.saturating_add(len)).unwrap_or(usize::MAX).min(object.len());
        let range = Bytes::copy_from_slice(&object[from..to]);
        let chunks: Vec<Result<Bytes>> = (0..range.len())
            .step_by(STREAM_CHUNK)
            .map(|at| Ok(range.slice(at..(at + STREAM_CHUNK).min(range.len()))))
            .collect();
        Ok(Some(Box::pin(futures_util::stream::iter(chunks))))
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn ObjectWriter>> {
        check_path(path)?;
        Ok(Box::new(MemoryWriter { objects: self.objects.clone(), path: path.to_owned(), content: Vec::new() }))
    }

    async fn read_at(&self, path: &str, offset: u64, max: usize) -> Result<Bytes> {
        check_path(path)?;
        let objects = self.objects();
        let v = objects.get(path).ok_or_else(|| StorageError::NotFound(path.into()))?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(v.len());
        let end = start.saturating_add(max).min(v.len());
        Ok(Bytes::copy_from_slice(&v[start..end]))
    }

    async fn append(&self, path: &str, offset: u64, data: Bytes) -> Result<u64> {
        self.appendable("append", path)?;
        let mut objects = self.objects();
        let v = objects.get_mut(path).ok_or_else(|| StorageError::NotFound(path.into()))?;
        if v.len() as u64 != offset {
            return Err(StorageError::SizeMismatch { path: path.to_owned(), expected: offset, actual: v.len() as u64 });
        }
        v.extend_from_slice(&data);
        Ok(v.len() as u64)
    }

    async fn truncate(&self, path: &str, size: u64) -> Result<()> {
        self.appendable("truncate", path)?;
        let mut objects = self.objects();
        let v = objects.get_mut(path).ok_or_else(|| StorageError::NotFound(path.into()))?;
        v.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        Ok(())
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        check_path(path)?;
        let objects = self.objects();
        if let Some(v) = objects.get(path) {
            return Ok(FileInfo { size: v.len() as u64, is_dir: false });
        }
        let prefix = dir_prefix(path);
        if objects.range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix)) {
            return Ok(FileInfo { size: 0, is_dir: true });
        }
        Err(StorageError::NotFound(path.into()))
    }

    async fn list(&self, path: &str) -> Result<Vec<String>> {
        if path != "/" {
            check_path(path)?;
        }
        let prefix = if path == "/" { "/".to_owned() } else { dir_prefix(path) };
        let objects = self.objects();
        let mut names: Vec<String> = objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(k, _)| k[prefix.len()..].split('/').next().map(str::to_owned))
            .collect();
        names.dedup();
        if names.is_empty() {
            return Err(StorageError::NotFound(path.into()));
        }
        Ok(names)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        check_path(from)?;
        check_path(to)?;
        let mut objects = self.objects();
        let v = objects.remove(from).ok_or_else(|| StorageError::NotFound(from.into()))?;
        objects.insert(to.to_owned(), v);
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<()> {
        check_path(path)?;
        let mut objects = self.objects();
        let prefix = dir_prefix(path);
        let doomed: Vec<String> = objects
            .range(path.to_owned()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(path))
            .filter(|k| *k == path || k.starts_with(&prefix))
            .cloned()
            .collect();
        if doomed.is_empty() {
            return Err(StorageError::NotFound(path.into()));
        }
        for k in doomed {
            objects.remove(&k);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn passes_the_driver_suite() {
        super::super::suite::run(std::sync::Arc::new(super::InMemoryDriver::new())).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn passes_the_driver_suite_as_an_object_store() {
        for conditional_writes in [true, false] {
            let caps = super::Capabilities { appends: false, conditional_writes };
            super::super::suite::run(std::sync::Arc::new(super::InMemoryDriver::with_capabilities(caps))).await;
        }
    }
}
