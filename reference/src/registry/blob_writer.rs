//! Blob uploads, spooled to the storage backend so that any instance sharing
//! the storage can continue an upload another one started.
//!
//! Per upload: the bytes so far (`data`, or segments on an object store:
//! see [`super::upload_data`]), `startedat` (RFC 3339) and
//! `hashstates/<algorithm>/<offset>` (the digester state after `offset`
//! bytes; not kept for segmented uploads, whose commit hashes the bytes as
//! it copies them). The algorithm is the upload's, chosen when it starts (sha256
//! unless the client asked for another, `?digest-algorithm=`); the caller
//! names it on every write and commit (it travels in the signed upload
//! state), so no request reads it back from storage.
//! The stored size of `data` is the only truth about progress. A request that
//! dies mid-body leaves appended bytes without a matching hash state; the
//! next request notices and re-hashes from the start, so a state is never
//! trusted for bytes it did not see.
//!
//! Invariants kept here:
//! - Bytes are appended only at the size the request found (the driver's
//!   conditional append), so stored bytes never change once written and a
//!   state saved at offset `n` describes the first `n` bytes for good.
//! - Appends never create `data`: `start` does. An append to an upload that
//!   was cancelled, purged or sealed fails instead of resurrecting it.
//! - A commit *seals* the upload before verifying it: `data` is renamed to
//!   `sealed`, which no append can reach, and the bytes verified are the
//!   bytes then adopted into the blob store. (Verifying `data` in place and
//!   renaming it afterwards let an append slip in between: bytes that did
//!   not match their digest were stored under it.)
//! - A chunk with a declared length is taken whole or not at all.

use super::error::{RegistryError, Result};
use super::paths;
use super::piece_record::{PENDING_RECORDS_BYTES, PendingRecords, PieceHasher, PieceRecord};
use super::upload_data::{SegmentList, UploadData};
use crate::storage::{StorageDriver, StorageError};
use bytes::{Bytes, BytesMut};
use drydock_spec::{Algorithm, Digest, Digester, RepositoryName};
use futures_util::{Stream, StreamExt};
use std::sync::Arc;
use std::time::SystemTime;

/// Bytes gathered from a request body before one durable append: large
/// enough that fsyncs are rare, small enough to bound memory per upload.
pub const APPEND_CHUNK: usize = 4 << 20;
/// Bytes all uploads together may hold in memory before appending them. A
/// request that cannot get more appends what it holds instead of growing;
/// a chunk that must be taken whole reserves its length first (and waits,
/// up to [`BUFFER_WAIT_MAX`], for that much to be free).
pub const UPLOAD_BUFFER_BUDGET: usize = 256 << 20;
/// How long a chunk of declared length waits for buffer space.
pub const BUFFER_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(30);
/// Body frames shorter than this are packed together into buffers of this
/// size (a copy) instead of kept as they came: a body of tiny frames then
/// costs no more than one entry per this many bytes.
const PACK_BELOW: usize = 16 << 10;
/// Bytes read per storage call when re-hashing an upload.
const REHASH_CHUNK: usize = 1 << 20;
/// The algorithm an upload is hashed with as it arrives unless its client
/// chose another.
pub const DEFAULT_UPLOAD_ALGORITHM: Algorithm = Algorithm::Sha256;

/// What is known about an upload in progress.
#[derive(Clone, Debug)]
pub struct UploadInfo {
    pub id: String,
    pub size: u64,
    pub started_at: SystemTime,
}

/// An upload as a request names it: its id and the algorithm its bytes are
/// hashed with as they arrive.
#[derive(Clone, Copy, Debug)]
pub struct UploadRef<'a> {
    pub id: &'a str,
    pub algorithm: Algorithm,
}

/// Where a chunk must go, as its request declared it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkBounds {
    /// The body must begin exactly where the stored data ends.
    pub start: Option<u64>,
    /// The body must be exactly this long. It is then buffered whole before
    /// anything is appended, so it must not exceed [`APPEND_CHUNK`]; a body
    /// whose length the transport already guarantees (`Content-Length`)
    /// needs no declared length.
    pub length: Option<u64>,
}

/// An upload sealed and verified by a commit.
#[derive(Debug)]
pub enum Sealed {
    /// `path` holds exactly the `size` bytes whose digest was checked, and
    /// nothing can append to it: adopt it. `record` holds their piece
    /// hashes if this instance took every one of them as it appended them.
    Verified { path: String, size: u64, record: Option<PieceRecord> },
    /// The sealed segments of an upload on an object store, not yet hashed:
    /// they are verified as they are copied into the blob store, and
    /// published there only if they hash to the digest.
    Segments(SegmentList),
    /// An earlier attempt at this commit (one that failed after adopting,
    /// or one racing this one) already moved the bytes into the blob store,
    /// where they are `size` bytes long.
    Adopted { size: u64 },
}

#[derive(Clone)]
pub struct BlobWriter {
    driver: Arc<dyn StorageDriver>,
    data: UploadData,
    /// Bytes of [`UPLOAD_BUFFER_BUDGET`] not held by a request.
    memory: Arc<tokio::sync::Semaphore>,
    /// Piece hashes of the uploads in progress here, taken as their bytes
    /// are appended (see `piece_record`).
    records: Arc<PendingRecords>,
    #[cfg(feature = "sim-mutants")]
    pub(crate) mutants: crate::mutants::Mutants,
}

impl BlobWriter {
    pub fn new(driver: Arc<dyn StorageDriver>) -> BlobWriter {
        BlobWriter::with_budget(driver, UPLOAD_BUFFER_BUDGET)
    }

    /// A writer whose uploads together buffer at most `budget` bytes.
    pub fn with_budget(driver: Arc<dyn StorageDriver>, budget: usize) -> BlobWriter {
        BlobWriter {
            data: UploadData::new(driver.clone()),
            driver,
            memory: Arc::new(tokio::sync::Semaphore::new(budget)),
            records: Arc::new(PendingRecords::new(PENDING_RECORDS_BYTES)),
            #[cfg(feature = "sim-mutants")]
            mutants: Default::default(),
        }
    }

    /// Whether uploads are kept as segments (an object store's layout).
    pub fn segmented(&self) -> bool {
        self.data.segmented()
    }

    /// Bytes of the buffer budget free now.
    pub fn buffer_free(&self) -> usize {
        self.memory.available_permits()
    }

    pub async fn start(&self, repo: &RepositoryName, id: &str, now: SystemTime) -> Result<UploadInfo> {
        // Milliseconds: a purge with a short age must not see a fresh upload as
        // up to a second older than it is (found by `drydock sim`, purge-race).
        // `startedat` first: purge removes upload directories without one.
        let stamp = humantime::format_rfc3339_millis(now).to_string();
        self.driver.put_content(&paths::upload_started_at(repo, id), Bytes::from(stamp)).await?;
        self.data.create(repo, id).await?;
        Ok(UploadInfo { id: id.to_owned(), size: 0, started_at: now })
    }

    /// When the upload started; `None` if it has no start time (it was
    /// removed, or is debris of a removal).
    pub async fn started_at(&self, repo: &RepositoryName, id: &str) -> Result<Option<SystemTime>> {
        let stamp = match self.driver.get_content(&paths::upload_started_at(repo, id)).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let started_at = std::str::from_utf8(&stamp)
            .ok()
            .and_then(|s| humantime::parse_rfc3339(s.trim()).ok())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Some(started_at))
    }

    /// The upload as it stands. A sealed (committing) upload is no longer in
    /// progress: `UploadUnknown`.
    pub async fn status(&self, repo: &RepositoryName, id: &str) -> Result<UploadInfo> {
        let unknown = || RegistryError::UploadUnknown(id.to_owned());
        let started_at = self.started_at(repo, id).await?.ok_or_else(unknown)?;
        let size = match self.data.size(repo, id).await {
            Ok(size) => size,
            Err(RegistryError::Storage(e)) if e.is_not_found() => return Err(unknown()),
            Err(e) => return Err(e),
        };
        Ok(UploadInfo { id: id.to_owned(), size, started_at })
    }

    /// Appends a body to the upload within `bounds`. Returns the new size.
    pub async fn write<S, E>(
        &self,
        repo: &RepositoryName,
        upload: UploadRef<'_>,
        bounds: ChunkBounds,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        debug_assert!(bounds.length.is_none_or(|l| l <= APPEND_CHUNK as u64));
        let info = self.status(repo, upload.id).await?;
        if let Some(start) = bounds.start
            && start != info.size
        {
            return Err(RegistryError::RangeMismatch { requested: start, stored: info.size });
        }
        self.spool(repo, upload, info.size, bounds.length, body).await
    }

    /// Closes the upload: appends any last body (within `bounds`: a final
    /// chunk out of order fails with `RangeMismatch` and leaves the upload
    /// as it was), seals the upload, verifies the sealed bytes against
    /// `expected`. On a mismatch the upload is removed and nothing is
    /// stored. The caller adopts the sealed bytes into the blob store (see
    /// [`Sealed`]) and then removes the upload.
    ///
    /// A commit may be retried (a 503 after sealing, a lost answer) or sent
    /// twice at once: one finding the upload already sealed verifies the
    /// sealed bytes itself, taking its body as the repeat of the one the
    /// sealing commit carried; one finding them already adopted only needs
    /// the blob store to hold `expected` (it holds nothing else, verified).
    pub async fn commit<S, E>(
        &self,
        repo: &RepositoryName,
        upload: UploadRef<'_>,
        expected: &Digest,
        bounds: ChunkBounds,
        body: S,
    ) -> Result<Sealed>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let id = upload.id;
        if self.data.segmented() {
            match self.write(repo, upload, bounds, body).await {
                Ok(_) => {}
                // Sealed (or adopted) by an earlier or concurrent commit.
                Err(RegistryError::UploadUnknown(_)) if self.started_at(repo, id).await?.is_some() => {}
                Err(e) => return Err(e),
            }
            return match self.data.seal_segments(repo, id).await {
                Ok(list) => Ok(Sealed::Segments(list)),
                Err(RegistryError::UploadUnknown(_)) => self.adopted(repo, id, expected).await,
                Err(e) => Err(e),
            };
        }
        let sealed = paths::upload_sealed(repo, id);
        match self.write(repo, upload, bounds, body).await {
            Ok(_) => match self.driver.rename(&paths::upload_data(repo, id), &sealed).await {
                Ok(()) => {}
                // Sealed by a commit racing this one: verified below.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            },
            // Sealed (or adopted) by an earlier or concurrent commit.
            Err(RegistryError::UploadUnknown(_)) if self.started_at(repo, id).await?.is_some() => {}
            Err(e) => return Err(e),
        }
        let size = match self.driver.size(&sealed).await {
            Ok(size) => size,
            Err(e) if e.is_not_found() => return self.adopted(repo, id, expected).await,
            Err(e) => return Err(e.into()),
        };
        let actual = match self.digest_of(repo, upload, &sealed, size, expected.algorithm()).await {
            Err(RegistryError::UploadUnknown(_)) => return self.adopted(repo, id, expected).await,
            other => other?,
        };
        if &actual != expected {
            self.discard(repo, id).await;
            return Err(RegistryError::DigestMismatch { expected: expected.clone(), actual });
        }
        // Appends are conditional on the size they find, so bytes once
        // stored never change: hashes this instance took of the first
        // `size` bytes are hashes of exactly the bytes just verified.
        let record = self.pieces_at(id, size).map(PieceHasher::finish);
        Ok(Sealed::Verified { path: sealed, size, record })
    }

    /// On an object store: whether upload `id` holds no bytes yet (see
    /// [`Repository::commit_upload`](super::repository::Repository::commit_upload):
    /// a closing body is then the whole blob).
    pub async fn holds_nothing(&self, repo: &RepositoryName, id: &str) -> Result<bool> {
        self.data.holds_nothing(repo, id).await
    }

    /// On an object store: seals upload `id` as [`BlobWriter::commit`] does,
    /// and says whether the seal holds nothing.
    pub async fn seal_empty(&self, repo: &RepositoryName, id: &str) -> Result<bool> {
        Ok(self.data.seal_segments(repo, id).await?.size() == 0)
    }

    /// The piece hashes this instance took of exactly the first `size`
    /// bytes of upload `id`, if it holds them (the `record-any-offset`
    /// mutant takes them whatever they cover).
    fn pieces_at(&self, id: &str, size: u64) -> Option<PieceHasher> {
        #[cfg(feature = "sim-mutants")]
        if self.mutants.record_any_offset() {
            return self.records.remove(id);
        }
        self.records.take(id, size)
    }

    /// A commit that finds no sealed bytes: another attempt adopted them if
    /// the upload is still there and the blob store holds `expected`.
    async fn adopted(&self, repo: &RepositoryName, id: &str, expected: &Digest) -> Result<Sealed> {
        let unknown = || RegistryError::UploadUnknown(id.to_owned());
        self.started_at(repo, id).await?.ok_or_else(unknown)?;
        match self.driver.size(&paths::blob_data(expected)).await {
            Ok(size) => Ok(Sealed::Adopted { size }),
            Err(e) if e.is_not_found() => Err(unknown()),
            Err(e) => Err(e.into()),
        }
    }

    /// Verifies `data` where it lies, without sealing it: the old commit
    /// order, which the simulator's `commit-without-seal` mutant restores.
    #[cfg(feature = "sim-mutants")]
    pub async fn commit_unsealed<S, E>(
        &self,
        repo: &RepositoryName,
        upload: UploadRef<'_>,
        expected: &Digest,
        body: S,
    ) -> Result<Sealed>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let size = self.write(repo, upload, ChunkBounds::default(), body).await?;
        if self.data.segmented() {
            // The segments as they lie, unsealed.
            return Ok(Sealed::Segments(self.data.segments(repo, upload.id).await?));
        }
        let data = paths::upload_data(repo, upload.id);
        let actual = self.digest_of(repo, upload, &data, size, expected.algorithm()).await?;
        if &actual != expected {
            self.discard(repo, upload.id).await;
            return Err(RegistryError::DigestMismatch { expected: expected.clone(), actual });
        }
        Ok(Sealed::Verified { path: data, size, record: None })
    }

    /// Removes the upload. `startedat` goes first: from that moment the
    /// upload is gone for every request (none acts on an upload without
    /// one), even where the store removes the rest key by key.
    pub async fn cancel(&self, repo: &RepositoryName, id: &str) -> Result<()> {
        self.records.forget(id);
        let existed = match self.driver.delete(&paths::upload_started_at(repo, id)).await {
            Ok(()) => true,
            Err(e) if e.is_not_found() => false,
            Err(e) => return Err(e.into()),
        };
        match self.driver.delete(&paths::upload_dir(repo, id)).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        if existed { Ok(()) } else { Err(RegistryError::UploadUnknown(id.to_owned())) }
    }

    /// Removes the upload if it is still there; a failure is logged and left
    /// to the purge (the upload is abandoned either way).
    pub async fn discard(&self, repo: &RepositoryName, id: &str) {
        match self.cancel(repo, id).await {
            Ok(()) | Err(RegistryError::UploadUnknown(_)) => {}
            Err(e) => tracing::warn!(repository = %repo, upload = id, error = %e, "removing an upload failed"),
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

    /// Streams `body` onto the upload, `size` bytes long now. With `exact`,
    /// the body is gathered whole and appended only if it is exactly that
    /// long.
    async fn spool<S, E>(
        &self,
        repo: &RepositoryName,
        upload: UploadRef<'_>,
        size: u64,
        exact: Option<u64>,
        mut body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let start = size;
        let mut spool = Spool::new(self, repo, upload, size);
        // The budget `pending` holds (see `Gather::held`); a chunk of
        // declared length reserves all of it up front, so no request holds
        // some while waiting for more.
        let mut held = match exact {
            Some(len) => {
                let reserve = self.memory.clone().acquire_many_owned(u32::try_from(len).unwrap_or(u32::MAX));
                match tokio::time::timeout(BUFFER_WAIT_MAX, reserve).await {
                    Ok(permit) => Some(permit.expect("the budget is never closed")),
                    Err(_) => return Err(RegistryError::Busy("no upload buffer space came free in time".into())),
                }
            }
            None => None,
        };
        let mut pending = Gather::default();
        loop {
            let done = match body.next().await {
                Some(Ok(frame)) => {
                    pending.push(frame);
                    match exact {
                        Some(declared) if pending.len() as u64 > declared => {
                            return Err(RegistryError::ChunkLengthMismatch {
                                declared,
                                received: pending.len() as u64,
                            });
                        }
                        Some(_) => {}
                        None => {
                            let have = held.as_ref().map_or(0, |h| h.num_permits());
                            if pending.held() > have {
                                let want = u32::try_from(pending.held() - have).unwrap_or(u32::MAX);
                                match self.memory.clone().try_acquire_many_owned(want) {
                                    Ok(more) => match held.as_mut() {
                                        Some(h) => h.merge(more),
                                        None => held = Some(more),
                                    },
                                    // The budget is spent: write out what is
                                    // held rather than hold more.
                                    Err(_) => {
                                        spool.append(pending.take(), held.take()).await?;
                                        continue;
                                    }
                                }
                            }
                        }
                    }
                    false
                }
                Some(Err(e)) => {
                    // Keep what arrived intact: it is durable and the client
                    // can resume from the reported size. A chunk of declared
                    // length is all or nothing.
                    if !pending.is_empty() && exact.is_none() {
                        spool.append(pending.take(), held.take()).await?;
                    }
                    spool.settle().await?;
                    spool.keep_pieces();
                    if let Some(d) = &spool.digester {
                        self.save_state(repo, upload, d, start).await?;
                    }
                    return Err(RegistryError::Body(std::io::Error::other(e.into())));
                }
                None => true,
            };
            if done
                && let Some(declared) = exact
                && pending.len() as u64 != declared
            {
                return Err(RegistryError::ChunkLengthMismatch { declared, received: pending.len() as u64 });
            }
            let full = exact.is_none() && pending.len() >= APPEND_CHUNK;
            if full || (done && !pending.is_empty()) {
                spool.append(pending.take(), held.take()).await?;
            }
            if done {
                #[cfg(feature = "sim-mutants")]
                if self.mutants.answer_before_durable() {
                    return Ok(spool.size_once_written());
                }
                spool.settle().await?;
                spool.keep_pieces();
                if let Some(d) = &spool.digester {
                    self.save_state(repo, upload, d, start).await?;
                }
                return Ok(spool.size);
            }
        }
    }

    /// Saves the digester state after an append. If the upload was removed
    /// meanwhile (a cancel or a purge racing this request), the write may
    /// have put the removed directory back: remove it again, and the upload
    /// is gone for this request too.
    async fn save_state(
        &self,
        repo: &RepositoryName,
        upload: UploadRef<'_>,
        d: &Digester,
        previous: u64,
    ) -> Result<()> {
        let (id, alg) = (upload.id, upload.algorithm);
        let path = paths::upload_hash_state(repo, id, alg, d.len());
        self.driver.put_content(&path, Bytes::from(d.save())).await?;
        if self.started_at(repo, id).await?.is_none() {
            self.discard(repo, id).await;
            return Err(RegistryError::UploadUnknown(id.to_owned()));
        }
        if previous != d.len() {
            let _ = self.driver.delete(&paths::upload_hash_state(repo, id, alg, previous)).await;
        }
        Ok(())
    }

    /// The digester after `size` bytes: the saved state if there is one for
    /// exactly that size, else a re-hash of the stored data.
    async fn digester_at(&self, repo: &RepositoryName, upload: UploadRef<'_>, size: u64) -> Result<Digester> {
        match self.saved_state(repo, upload, size).await? {
            Some(d) => Ok(d),
            None => self.rehash(repo, upload.id, None, size, upload.algorithm).await,
        }
    }

    /// The digester state saved for exactly `size` bytes, if there is one.
    async fn saved_state(&self, repo: &RepositoryName, upload: UploadRef<'_>, size: u64) -> Result<Option<Digester>> {
        let alg = upload.algorithm;
        if size == 0 {
            return Ok(Some(Digester::new(alg)));
        }
        match self.driver.get_content(&paths::upload_hash_state(repo, upload.id, alg, size)).await {
            Ok(state) => Ok(Digester::restore(&state).ok().filter(|d| d.len() == size && d.algorithm() == alg)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The digest of the `size` bytes at `path` (the upload's data or its
    /// sealed copy: the same bytes), from a saved state where one fits.
    async fn digest_of(
        &self,
        repo: &RepositoryName,
        upload: UploadRef<'_>,
        path: &str,
        size: u64,
        alg: Algorithm,
    ) -> Result<Digest> {
        if alg == upload.algorithm
            && let Some(d) = self.saved_state(repo, upload, size).await?
        {
            return Ok(d.finish());
        }
        Ok(self.rehash(repo, upload.id, Some(path), size, alg).await?.finish())
    }

    /// Hashes the first `size` bytes of the upload's data, or of `sealed`.
    async fn rehash(
        &self,
        repo: &RepositoryName,
        id: &str,
        sealed: Option<&str>,
        size: u64,
        alg: Algorithm,
    ) -> Result<Digester> {
        let mut d = Digester::new(alg);
        while d.len() < size {
            let want = usize::try_from(size - d.len()).unwrap_or(usize::MAX).min(REHASH_CHUNK);
            let read = match sealed {
                Some(path) => self.driver.read_at(path, d.len(), want).await.map_err(RegistryError::from),
                None => self.data.read(repo, id, d.len(), want).await,
            };
            let chunk = match read {
                Ok(chunk) => chunk,
                Err(RegistryError::Storage(e)) if e.is_not_found() => {
                    return Err(RegistryError::UploadUnknown(id.to_owned()));
                }
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Err(RegistryError::UploadInvalid(format!("upload {id} shrank while being read")));
            }
            d.update(&chunk);
        }
        Ok(d)
    }
}

/// A request body's bytes waiting for one append. Frames as the transport
/// delivered them are kept as they came — the append writes them all at
/// once (`StorageDriver::append_parts`), so the body is never copied into
/// one buffer first — except short ones, packed into buffers of
/// [`PACK_BELOW`] bytes so the list stays short whatever the framing.
#[derive(Default)]
struct Gather {
    parts: Vec<Bytes>,
    /// Where short frames are packed.
    packing: BytesMut,
    len: usize,
    /// See [`Gather::held`].
    held: usize,
}

impl Gather {
    fn push(&mut self, frame: Bytes) {
        self.len += frame.len();
        if frame.len() >= PACK_BELOW {
            self.seal_packing();
            self.held += frame.len();
            self.parts.push(frame);
            return;
        }
        if self.packing.capacity() - self.packing.len() < frame.len() {
            self.seal_packing();
            self.packing.reserve(PACK_BELOW);
            self.held += self.packing.capacity();
        }
        self.packing.extend_from_slice(&frame);
    }

    fn seal_packing(&mut self) {
        if !self.packing.is_empty() {
            self.parts.push(std::mem::take(&mut self.packing).freeze());
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Memory held, about: the frames' bytes, and the packing buffers' whole
    /// room (what they really occupy).
    fn held(&self) -> usize {
        self.held
    }

    /// Everything gathered, in order; the gather is empty again.
    fn take(&mut self) -> Vec<Bytes> {
        self.seal_packing();
        (self.len, self.held) = (0, 0);
        std::mem::take(&mut self.parts)
    }
}

/// The appends of one request. Each chunk is written (and made durable) by
/// the driver and hashed in a task of its own while the request gathers the
/// next one, so the body, the hash and the disk all keep moving; at most one
/// append is under way, and appends stay in order at the size the one
/// before them left.
/// What an append left: the new size, the hash of everything so far (if
/// the upload is hashed as it arrives) and its piece hashes (if this
/// instance took them all).
struct Appended {
    size: u64,
    digester: Option<Digester>,
    pieces: Option<PieceHasher>,
}

struct Spool<'a> {
    writer: &'a BlobWriter,
    repo: &'a RepositoryName,
    upload: UploadRef<'a>,
    /// Bytes stored once the append under way (if any) is done.
    size: u64,
    /// The hash of those bytes; `None` until the first append needs it (an
    /// empty body, a closing PUT, costs no state read or re-hash), and
    /// always for segmented uploads (their commit hashes what it copies).
    digester: Option<Digester>,
    /// The upload's piece hashes, if this instance took every byte so far;
    /// looked up at the first append.
    pieces: Option<PieceHasher>,
    appended: bool,
    in_flight: Option<tokio::task::JoinHandle<Result<Appended>>>,
    /// Bytes the append under way is writing.
    #[cfg(feature = "sim-mutants")]
    in_flight_len: u64,
}

impl<'a> Spool<'a> {
    fn new(writer: &'a BlobWriter, repo: &'a RepositoryName, upload: UploadRef<'a>, size: u64) -> Spool<'a> {
        Spool {
            writer,
            repo,
            upload,
            size,
            digester: None,
            pieces: None,
            appended: false,
            in_flight: None,
            #[cfg(feature = "sim-mutants")]
            in_flight_len: 0,
        }
    }

    /// Starts appending `chunk` as soon as the append before it is done.
    /// `held` is the buffer budget the chunk occupies, given back once it is
    /// written.
    async fn append(&mut self, chunk: Vec<Bytes>, held: Option<tokio::sync::OwnedSemaphorePermit>) -> Result<()> {
        self.settle().await?;
        let mut digester = match self.digester.take() {
            Some(d) => Some(d),
            None if self.writer.data.segmented() => None,
            None => Some(self.writer.digester_at(self.repo, self.upload, self.size).await?),
        };
        if !std::mem::replace(&mut self.appended, true) && !self.writer.data.segmented() {
            self.pieces = match self.size {
                0 => Some(PieceHasher::default()),
                size => self.writer.pieces_at(self.upload.id, size),
            };
        }
        let mut pieces = self.pieces.take();
        let (data, repo, id, offset) =
            (self.writer.data.clone(), self.repo.clone(), self.upload.id.to_owned(), self.size);
        #[cfg(feature = "sim-mutants")]
        {
            self.in_flight_len = chunk.iter().map(|p| p.len() as u64).sum();
        }
        self.in_flight = Some(tokio::spawn(async move {
            let hashed = async {
                for part in &chunk {
                    if let Some(d) = digester.as_mut() {
                        d.update(part);
                    }
                    if let Some(p) = pieces.as_mut() {
                        p.update(part);
                    }
                }
            };
            // The write is handed to the driver first, then the hash runs
            // while it proceeds.
            let (written, ()) =
                futures_util::future::join(data.append(&repo, &id, offset, chunk.clone()), hashed).await;
            drop(held);
            Ok(Appended { size: written?, digester, pieces })
        }));
        Ok(())
    }

    /// The size the upload will have once the append under way is done,
    /// without waiting for it (left running on its own): what the
    /// `answer-before-durable` mutant reports.
    #[cfg(feature = "sim-mutants")]
    fn size_once_written(&mut self) -> u64 {
        match self.in_flight.take() {
            Some(_detached) => self.size + self.in_flight_len,
            None => self.size,
        }
    }

    /// Waits for the append under way, if any.
    async fn settle(&mut self) -> Result<()> {
        let Some(task) = self.in_flight.take() else { return Ok(()) };
        let path = paths::upload_dir(self.repo, self.upload.id);
        let joined = task.await.map_err(|e| StorageError::Io { path, source: std::io::Error::other(e) })?;
        let appended = joined?;
        self.size = appended.size;
        self.digester = appended.digester;
        self.pieces = appended.pieces;
        Ok(())
    }

    /// Leaves the piece hashes for the upload's next request here (after
    /// [`Spool::settle`]: they then cover every byte stored).
    fn keep_pieces(&mut self) {
        if let Some(pieces) = self.pieces.take() {
            debug_assert_eq!(pieces.size(), self.size);
            self.writer.records.put(self.upload.id, pieces);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::InMemoryDriver;

    #[test]
    fn a_gather_keeps_frames_in_order_and_packs_short_ones() {
        let frames: Vec<Bytes> = [10, PACK_BELOW, 3, 5, PACK_BELOW * 2, 1, PACK_BELOW - 1, 7]
            .iter()
            .enumerate()
            .map(|(i, &n)| Bytes::from(vec![i as u8; n]))
            .collect();
        let mut g = Gather::default();
        for f in &frames {
            g.push(f.clone());
        }
        let total: usize = frames.iter().map(Bytes::len).sum();
        assert_eq!(g.len(), total);
        let held = g.held();
        assert!(held >= total && held <= total + 4 * PACK_BELOW, "held {held} for {total} bytes");
        let parts = g.take();
        assert!(g.is_empty() && g.held() == 0);
        assert_eq!(parts.concat(), frames.concat(), "the same bytes, in order");
        // The long frames are the very buffers that came (no copy); the
        // short ones between them are packed, a buffer at most
        // `PACK_BELOW` long: [10] [long] [3 5] [long] [1, PACK_BELOW - 1] [7].
        assert_eq!(parts.iter().map(Bytes::len).collect::<Vec<_>>()[4..], [PACK_BELOW, 7]);
        assert_eq!(parts.len(), 6);
        assert_eq!(parts[1].as_ptr(), frames[1].as_ptr());
        assert_eq!(parts[3].as_ptr(), frames[4].as_ptr());
        let mut tiny = Gather::default();
        for _ in 0..100_000 {
            tiny.push(Bytes::from_static(b"x"));
        }
        assert!(tiny.take().len() <= 100_000 / PACK_BELOW + 1, "a body of tiny frames stays a short list");
    }

    #[tokio::test]
    async fn buffered_bytes_stay_within_the_budget_and_are_given_back() {
        let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
        let writer = BlobWriter::with_budget(driver.clone(), 1024);
        let repo = RepositoryName::parse("budget").unwrap();
        writer.start(&repo, "u1", SystemTime::UNIX_EPOCH).await.unwrap();
        let upload = UploadRef { id: "u1", algorithm: Algorithm::Sha256 };
        // Three 600-byte chunks through a 1,024-byte budget: the second does
        // not fit beside the first, so they are written as they come.
        let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(1);
        let mut rx = rx;
        let body = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
        let feeder = {
            let writer = writer.clone();
            tokio::spawn(async move {
                let mut least = usize::MAX;
                for i in 0..3u8 {
                    tx.send(Ok(Bytes::from(vec![i; 600]))).await.unwrap();
                    tokio::task::yield_now().await;
                    least = least.min(writer.buffer_free());
                }
                least
            })
        };
        let size = writer.write(&repo, upload, ChunkBounds::default(), Box::pin(body)).await.unwrap();
        assert_eq!(size, 1800);
        assert!(feeder.await.unwrap() <= 1024);
        assert_eq!(writer.buffer_free(), 1024, "everything held is given back");
        let stored = driver.get_content(&paths::upload_data(&repo, "u1")).await.unwrap();
        let want: Vec<u8> = (0..3u8).flat_map(|i| vec![i; 600]).collect();
        assert_eq!(&stored[..], &want[..]);
        // A chunk of declared length reserves its whole length up front.
        writer.start(&repo, "u2", SystemTime::UNIX_EPOCH).await.unwrap();
        let upload = UploadRef { id: "u2", algorithm: Algorithm::Sha256 };
        let bounds = ChunkBounds { start: Some(0), length: Some(1000) };
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(vec![9u8; 1000]))]);
        assert_eq!(writer.write(&repo, upload, bounds, body).await.unwrap(), 1000);
        assert_eq!(writer.buffer_free(), 1024);
    }
}
