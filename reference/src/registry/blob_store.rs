//! The global content-addressable store. Nothing outside the registry layer
//! reaches it directly: repositories see blobs only through their links
//! (`linked_blob_store`), so a blob pushed to one repository is invisible to
//! another until linked there.
//!
//! Invariant: a blob in the store hashes to its digest. Content enters only
//! through [`BlobStore::adopt`] (bytes a commit sealed and verified) and
//! [`BlobStore::put`] (small content hashed here), and adoption *replaces*
//! what is there, so the next push of the genuine bytes repairs a blob
//! damaged from outside. Reads re-check where it is cheap: content read
//! whole is verified before it is used, and [`VerifiedRead`] withholds the
//! last piece of a whole-blob download until the digest is confirmed. A
//! blob found not to match is answered as missing and logged; it is never
//! deleted here (a commit may be replacing it with the genuine bytes at that
//! very moment).

use super::paths;
use crate::storage::{Result, StorageDriver};
use bytes::Bytes;
use drydock_spec::{Algorithm, Digest, Digester};
use std::sync::Arc;
use std::time::SystemTime;

/// Blobs up to this size are read whole and verified before a byte is
/// served, so a damaged one is answered as missing. Larger ones are verified
/// as they stream (see [`VerifiedRead`]).
pub const VERIFY_WHOLE_MAX: u64 = 1 << 20;

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

    /// The whole blob if it is stored and hashes to `d`; `None` if it is
    /// missing or damaged (logged). Only for small blobs.
    pub async fn get_verified(&self, d: &Digest) -> Result<Option<Bytes>> {
        match self.driver.get_content(&paths::blob_data(d)).await {
            Ok(body) if Digest::of(d.algorithm(), &body) == *d => Ok(Some(body)),
            Ok(body) => {
                report_damage(d, body.len() as u64);
                Ok(None)
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The whole blob as stored, unchecked: the `serve-unverified` mutant.
    #[cfg(feature = "sim-mutants")]
    pub(crate) async fn get_unverified(&self, d: &Digest) -> Result<Bytes> {
        self.driver.get_content(&paths::blob_data(d)).await
    }

    /// Stores small content (manifests) and returns its digest. Content
    /// already present and intact is not rewritten.
    pub async fn put(&self, algorithm: Algorithm, content: Bytes) -> Result<Digest> {
        let d = Digest::of(algorithm, &content);
        if self.size(&d).await? != Some(content.len() as u64) || self.get_verified(&d).await?.is_none() {
            self.driver.put_content(&paths::blob_data(&d), content).await?;
        }
        Ok(d)
    }

    /// Moves sealed, verified upload bytes into place as `d`, replacing
    /// whatever is stored there: the same bytes if that blob is intact, and
    /// its repair if not.
    pub async fn adopt(&self, sealed: &str, d: &Digest) -> Result<()> {
        self.driver.rename(sealed, &paths::blob_data(d)).await
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

fn report_damage(d: &Digest, size: u64) {
    tracing::error!(digest = %d, size, "stored blob does not hash to its digest; answered as missing until a push replaces it");
}

/// A whole blob read piece by piece, hashed on the way: the last piece is
/// handed out only once the digest is confirmed, so a damaged blob's
/// download never completes.
pub struct VerifiedRead {
    blobs: BlobStore,
    digest: Digest,
    size: u64,
    digester: Digester,
    /// Off only for the simulator's `serve-unverified` mutant.
    verify: bool,
}

/// Why a [`VerifiedRead`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    #[error("blob {0} ended early at byte {1}")]
    Short(Digest, u64),
    #[error("blob {0} does not hash to its digest")]
    Damaged(Digest),
}

impl VerifiedRead {
    pub fn new(blobs: BlobStore, digest: Digest, size: u64) -> VerifiedRead {
        VerifiedRead { digester: Digester::new(digest.algorithm()), blobs, digest, size, verify: true }
    }

    #[cfg(feature = "sim-mutants")]
    pub(crate) fn unverified(mut self) -> VerifiedRead {
        self.verify = false;
        self
    }

    /// The next piece of at most `max` bytes; `None` once the whole blob has
    /// been handed out.
    pub async fn next(&mut self, max: usize) -> std::result::Result<Option<Bytes>, ReadError> {
        let pos = self.digester.len();
        if pos >= self.size {
            return Ok(None);
        }
        let want = usize::try_from(self.size - pos).unwrap_or(usize::MAX).min(max);
        let piece = self.blobs.read_at(&self.digest, pos, want).await?;
        if piece.is_empty() {
            return Err(ReadError::Short(self.digest.clone(), pos));
        }
        self.digester.update(&piece);
        if self.verify && self.digester.len() >= self.size && self.digester.clone().finish() != self.digest {
            report_damage(&self.digest, self.digester.len());
            return Err(ReadError::Damaged(self.digest.clone()));
        }
        Ok(Some(piece))
    }
}
