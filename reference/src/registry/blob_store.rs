//! The global content-addressable store. Nothing outside the registry layer
//! reaches it directly: repositories see blobs only through their links
//! (`linked_blob_store`), so a blob pushed to one repository is invisible to
//! another until linked there.

use super::paths;
use crate::storage::{Result, StorageDriver};
use bytes::Bytes;
use drydock_spec::{Algorithm, Digest};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Clone)]
pub struct BlobStore {
    driver: Arc<dyn StorageDriver>,
}

impl BlobStore {
    pub fn new(driver: Arc<dyn StorageDriver>) -> BlobStore {
        BlobStore { driver }
    }

    /// Size of the stored blob, or `None`.
    pub async fn size(&self, d: &Digest) -> Result<Option<u64>> {
        match self.driver.stat(&paths::blob_data(d)).await {
            Ok(info) if !info.is_dir => Ok(Some(info.size)),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn read_at(&self, d: &Digest, offset: u64, max: usize) -> Result<Bytes> {
        self.driver.read_at(&paths::blob_data(d), offset, max).await
    }

    pub async fn get(&self, d: &Digest) -> Result<Bytes> {
        self.driver.get_content(&paths::blob_data(d)).await
    }

    /// Stores small content (manifests) and returns its digest. Content
    /// already present is not rewritten.
    pub async fn put(&self, algorithm: Algorithm, content: Bytes) -> Result<Digest> {
        let d = Digest::of(algorithm, &content);
        if self.size(&d).await?.is_none() {
            self.driver.put_content(&paths::blob_data(&d), content).await?;
        }
        Ok(d)
    }

    /// Moves a verified upload into place (or drops it if the content is
    /// already stored: same digest, same bytes).
    pub async fn adopt(&self, upload_data: &str, d: &Digest) -> Result<()> {
        if self.size(d).await?.is_some() {
            return Ok(());
        }
        self.driver.rename(upload_data, &paths::blob_data(d)).await
    }

    /// Records that `d` is wanted as of `now` (see `gc`).
    pub async fn touch(&self, d: &Digest, now: SystemTime) -> Result<()> {
        super::gc::touch(self.driver.as_ref(), d, now).await
    }

    pub async fn delete(&self, d: &Digest) -> Result<()> {
        let path = paths::blob_data(d);
        self.driver.delete(path.trim_end_matches("/data")).await
    }
}
