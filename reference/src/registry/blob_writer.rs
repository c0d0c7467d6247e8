//! Blob uploads, spooled to the storage backend so that any instance sharing
//! the storage can continue an upload another one started.
//!
//! Per upload: `data` (the bytes so far), `startedat` (RFC 3339) and
//! `hashstates/sha256/<offset>` (the digester state after `offset` bytes).
//! The stored size of `data` is the only truth about progress. A request that
//! dies mid-body leaves appended bytes without a matching hash state; the
//! next request notices and re-hashes from the start, so a state is never
//! trusted for bytes it did not see.

use super::error::{RegistryError, Result};
use super::paths;
use crate::storage::{StorageDriver, StorageError};
use bytes::{Bytes, BytesMut};
use drydock_spec::{Algorithm, Digest, Digester, RepositoryName};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use std::time::SystemTime;

/// Bytes gathered from a request body before one durable append: large
/// enough that fsyncs are rare, small enough to bound memory per upload.
pub const APPEND_CHUNK: usize = 4 << 20;
/// Bytes read per storage call when re-hashing an upload.
const REHASH_CHUNK: usize = 1 << 20;
/// The algorithm uploads are hashed with as they arrive.
const SPOOL_ALGORITHM: Algorithm = Algorithm::Sha256;

/// What is known about an upload in progress.
#[derive(Clone, Debug)]
pub struct UploadInfo {
    pub id: String,
    pub size: u64,
    pub started_at: SystemTime,
}

#[derive(Clone)]
pub struct BlobWriter {
    driver: Arc<dyn StorageDriver>,
}

impl BlobWriter {
    pub fn new(driver: Arc<dyn StorageDriver>) -> BlobWriter {
        BlobWriter { driver }
    }

    pub async fn start(&self, repo: &RepositoryName, id: &str, now: SystemTime) -> Result<UploadInfo> {
        // Milliseconds: a purge with a short age must not see a fresh upload as
        // up to a second older than it is (found by `drydock sim`, purge-race).
        let stamp = humantime::format_rfc3339_millis(now).to_string();
        self.driver.put_content(&paths::upload_started_at(repo, id), Bytes::from(stamp)).await?;
        self.driver.append(&paths::upload_data(repo, id), 0, Bytes::new()).await?;
        Ok(UploadInfo { id: id.to_owned(), size: 0, started_at: now })
    }

    pub async fn status(&self, repo: &RepositoryName, id: &str) -> Result<UploadInfo> {
        let stamp = match self.driver.get_content(&paths::upload_started_at(repo, id)).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Err(RegistryError::UploadUnknown(id.to_owned())),
            Err(e) => return Err(e.into()),
        };
        let started_at = std::str::from_utf8(&stamp)
            .ok()
            .and_then(|s| humantime::parse_rfc3339(s.trim()).ok())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let size = match self.driver.stat(&paths::upload_data(repo, id)).await {
            Ok(info) => info.size,
            Err(e) if e.is_not_found() => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(UploadInfo { id: id.to_owned(), size, started_at })
    }

    /// Appends a body to the upload. With `expected_start`, the body must
    /// begin exactly where the stored data ends. Returns the new size.
    pub async fn write<S, E>(
        &self,
        repo: &RepositoryName,
        id: &str,
        expected_start: Option<u64>,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let info = self.status(repo, id).await?;
        if let Some(start) = expected_start
            && start != info.size
        {
            return Err(RegistryError::RangeMismatch { requested: start, stored: info.size });
        }
        let mut digester = self.digester_at(repo, id, info.size).await?;
        let size = self.spool(repo, id, info.size, &mut digester, body).await?;
        if size != info.size {
            self.save_state(repo, id, &digester, info.size).await?;
        }
        Ok(size)
    }

    /// Finishes the upload: appends any last body, checks the digest, moves
    /// the content into the blob store path and removes the upload. On a
    /// digest mismatch nothing is stored and the upload is removed.
    pub async fn finish<S, E>(
        &self,
        repo: &RepositoryName,
        id: &str,
        expected: &Digest,
        body: S,
    ) -> Result<(u64, String)>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let size = self.write(repo, id, None, body).await?;
        let actual = if expected.algorithm() == SPOOL_ALGORITHM {
            self.digester_at(repo, id, size).await?.finish()
        } else {
            self.rehash(repo, id, size, expected.algorithm()).await?.finish()
        };
        if &actual != expected {
            self.cancel(repo, id).await?;
            return Err(RegistryError::DigestMismatch { expected: expected.clone(), actual });
        }
        Ok((size, paths::upload_data(repo, id)))
    }

    pub async fn cancel(&self, repo: &RepositoryName, id: &str) -> Result<()> {
        match self.driver.delete(&paths::upload_dir(repo, id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Err(RegistryError::UploadUnknown(id.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Ids of the uploads in progress in `repo`.
    pub async fn ids(&self, repo: &RepositoryName) -> Result<Vec<String>> {
        match self.driver.list(&format!("{}/_uploads", paths::repository(repo))).await {
            Ok(ids) => Ok(ids),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    async fn spool<S, E>(
        &self,
        repo: &RepositoryName,
        id: &str,
        mut size: u64,
        digester: &mut Digester,
        mut body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let data = paths::upload_data(repo, id);
        let mut pending = BytesMut::new();
        loop {
            let next = body.next().await;
            let done = match next {
                Some(Ok(chunk)) => {
                    pending.extend_from_slice(&chunk);
                    false
                }
                Some(Err(e)) => {
                    // Keep what arrived intact: it is durable and the client
                    // can resume from the reported size.
                    if !pending.is_empty() {
                        let chunk = pending.split().freeze();
                        self.append(&data, size, chunk.clone()).await?;
                        digester.update(&chunk);
                        self.save_state(repo, id, digester, size).await?;
                    }
                    return Err(RegistryError::Body(std::io::Error::other(e.into())));
                }
                None => true,
            };
            if pending.len() >= APPEND_CHUNK || (done && !pending.is_empty()) {
                let chunk = pending.split().freeze();
                size = self.append(&data, size, chunk.clone()).await?;
                digester.update(&chunk);
            }
            if done {
                return Ok(size);
            }
        }
    }

    /// Appends at `offset` only. If another request appended meanwhile, this
    /// one's bytes no longer continue the upload: nothing is written and the
    /// client learns the real size (416).
    async fn append(&self, data_path: &str, offset: u64, bytes: Bytes) -> Result<u64> {
        match self.driver.append(data_path, offset, bytes).await {
            Ok(size) => Ok(size),
            Err(StorageError::SizeMismatch { actual, .. }) => {
                Err(RegistryError::RangeMismatch { requested: offset, stored: actual })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn save_state(&self, repo: &RepositoryName, id: &str, d: &Digester, previous: u64) -> Result<()> {
        let path = paths::upload_hash_state(repo, id, SPOOL_ALGORITHM, d.len());
        self.driver.put_content(&path, Bytes::from(d.save())).await?;
        if previous != d.len() {
            let _ = self.driver.delete(&paths::upload_hash_state(repo, id, SPOOL_ALGORITHM, previous)).await;
        }
        Ok(())
    }

    /// The digester after `size` bytes: the saved state if there is one for
    /// exactly that size, else a re-hash of the stored data.
    async fn digester_at(&self, repo: &RepositoryName, id: &str, size: u64) -> Result<Digester> {
        if size == 0 {
            return Ok(Digester::new(SPOOL_ALGORITHM));
        }
        match self.driver.get_content(&paths::upload_hash_state(repo, id, SPOOL_ALGORITHM, size)).await {
            Ok(state) => match Digester::restore(&state) {
                Ok(d) if d.len() == size => return Ok(d),
                _ => {}
            },
            Err(e) if !e.is_not_found() => return Err(e.into()),
            Err(_) => {}
        }
        self.rehash(repo, id, size, SPOOL_ALGORITHM).await
    }

    async fn rehash(&self, repo: &RepositoryName, id: &str, size: u64, alg: Algorithm) -> Result<Digester> {
        let data = paths::upload_data(repo, id);
        let mut d = Digester::new(alg);
        while d.len() < size {
            let want = usize::try_from(size - d.len()).unwrap_or(usize::MAX).min(REHASH_CHUNK);
            let chunk = self.driver.read_at(&data, d.len(), want).await?;
            if chunk.is_empty() {
                return Err(RegistryError::UploadInvalid(format!("upload {id} shrank while being read")));
            }
            d.update(&chunk);
        }
        Ok(d)
    }
}
