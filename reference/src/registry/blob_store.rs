//! The global content-addressable store. Nothing outside the registry layer
//! reaches it directly: repositories see blobs only through their links
//! (`linked_blob_store`), so a blob pushed to one repository is invisible to
//! another until linked there.
//!
//! Invariant: a blob in the store hashes to its digest. Content enters only
//! through [`BlobStore::adopt`] (bytes a commit sealed and verified),
//! [`BlobStore::adopt_segments`] (an object store's sealed upload, verified
//! in the same pass that copies it) and
//! [`BlobStore::put`] (small content hashed here), and adoption *replaces*
//! what is there, so the next push of the genuine bytes repairs a blob
//! damaged from outside. Reads re-check where it is cheap: content read
//! whole is verified before it is used, and [`VerifiedRead`] withholds the
//! last piece of a whole-blob download until the digest is confirmed. A
//! blob found not to match is answered as missing and logged; it is never
//! deleted here (a commit may be replacing it with the genuine bytes at that
//! very moment).

use super::paths;
use super::piece_record::{PIECE_BYTES, PIECE_RECORDS_BYTES, PieceHasher, PieceRecord, PieceRecorder, PieceRecords};
use super::upload_data::{SealedRead, SegmentList};
use crate::storage::sequential_read::SequentialRead;
use crate::storage::{Result, StorageDriver};
use bytes::Bytes;
use drydock_spec::{Algorithm, Digest, Digester};
use std::sync::Arc;
use std::time::SystemTime;

/// Blobs up to this size are read whole and verified before a byte is
/// served, so a damaged one is answered as missing. Larger ones are verified
/// as they stream (see [`VerifiedRead`]).
pub const VERIFY_WHOLE_MAX: u64 = 1 << 20;
/// Bytes read per storage call when a segmented upload is copied in.
const ADOPT_PIECE: usize = 4 << 20;

#[derive(Clone)]
pub struct BlobStore {
    driver: Arc<dyn StorageDriver>,
    records: Arc<PieceRecords>,
}

impl BlobStore {
    pub fn new(driver: Arc<dyn StorageDriver>) -> BlobStore {
        BlobStore { driver, records: Arc::new(PieceRecords::new(PIECE_RECORDS_BYTES)) }
    }

    /// What an earlier whole read proved about `d`'s content, if this
    /// process still holds it.
    pub fn record(&self, d: &Digest) -> Option<Arc<PieceRecord>> {
        self.records.get(d)
    }

    /// Keeps what a push proved about `d`'s content: the piece hashes of the
    /// bytes that hashed to `d`. Only blobs read by pieces need one.
    pub fn keep_record(&self, d: &Digest, record: PieceRecord) {
        if record.size() > VERIFY_WHOLE_MAX {
            self.records.insert(d, record);
        }
    }

    /// Size of the stored blob, or `None`.
    pub async fn size(&self, d: &Digest) -> Result<Option<u64>> {
        match self.driver.size(&paths::blob_data(d)).await {
            Ok(size) => Ok(Some(size)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn read_at(&self, d: &Digest, offset: u64, max: usize) -> Result<Bytes> {
        self.driver.read_at(&paths::blob_data(d), offset, max).await
    }

    /// Reads blob `d` front to back from `start` up to `end`.
    pub fn sequential(&self, d: &Digest, start: u64, end: u64) -> SequentialRead {
        SequentialRead::new(self.driver.clone(), paths::blob_data(d), start, end)
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

    /// Copies a sealed segmented upload into place as `d`, hashing it on the
    /// way, and publishes it (replacing whatever is there) only if it
    /// hashes to `d`: the bytes checked are by construction the bytes
    /// stored, with no rename to trust. Returns the size.
    pub async fn adopt_segments(&self, list: &SegmentList, d: &Digest) -> super::error::Result<u64> {
        self.copy_segments(list, d, true).await
    }

    /// Copies segments in without checking them: the
    /// `adopt-segments-unverified` mutant.
    #[cfg(feature = "sim-mutants")]
    pub(crate) async fn adopt_segments_unverified(&self, list: &SegmentList, d: &Digest) -> super::error::Result<u64> {
        self.copy_segments(list, d, false).await
    }

    async fn copy_segments(&self, list: &SegmentList, d: &Digest, verify: bool) -> super::error::Result<u64> {
        let size = list.size();
        let mut writer = self.driver.writer(&paths::blob_data(d)).await?;
        let mut digester = Digester::new(d.algorithm());
        let mut pieces = PieceHasher::default();
        let mut sealed = SealedRead::new(self.driver.clone(), list);
        let mut next = if size > 0 { Some(sealed.next(ADOPT_PIECE).await) } else { None };
        while let Some(piece) = next.take() {
            let piece = match piece {
                Ok(piece) if !piece.is_empty() => piece,
                Ok(_) => break,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            };
            digester.update(&piece);
            pieces.update(&piece);
            // The next piece is fetched while this one is written.
            let (written, fetched) = if digester.len() < size {
                let (w, r) = futures_util::future::join(writer.write(piece), sealed.next(ADOPT_PIECE)).await;
                (w, Some(r))
            } else {
                (writer.write(piece).await, None)
            };
            if let Err(e) = written {
                writer.abort().await;
                return Err(e.into());
            }
            next = fetched;
        }
        let size = publish_if_matches(writer, digester, d, verify).await?;
        if verify {
            self.keep_record(d, pieces.finish());
        }
        Ok(size)
    }

    /// Writes a whole blob straight from a request body, hashing it on the
    /// way, and publishes it (replacing whatever is there) only if it hashes
    /// to `d`; a body that fails midway publishes nothing. Returns the size.
    pub async fn put_stream<S, E>(&self, d: &Digest, body: S) -> super::error::Result<u64>
    where
        S: futures_util::Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.put_stream_checked(d, body, true).await
    }

    /// `put_stream` publishing whatever came, for the simulator's
    /// `whole-body-unverified` mutant.
    #[cfg(feature = "sim-mutants")]
    pub(crate) async fn put_stream_unverified<S, E>(&self, d: &Digest, body: S) -> super::error::Result<u64>
    where
        S: futures_util::Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.put_stream_checked(d, body, false).await
    }

    async fn put_stream_checked<S, E>(&self, d: &Digest, mut body: S, verify: bool) -> super::error::Result<u64>
    where
        S: futures_util::Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        use futures_util::StreamExt;
        let mut writer = self.driver.writer(&paths::blob_data(d)).await?;
        let mut digester = Digester::new(d.algorithm());
        let mut pieces = PieceHasher::default();
        while let Some(chunk) = body.next().await {
            let written = match chunk {
                Ok(chunk) => {
                    digester.update(&chunk);
                    pieces.update(&chunk);
                    writer.write(chunk).await.map_err(super::error::RegistryError::from)
                }
                Err(e) => Err(super::error::RegistryError::Body(std::io::Error::other(e.into()))),
            };
            if let Err(e) = written {
                writer.abort().await;
                return Err(e);
            }
        }
        let size = publish_if_matches(writer, digester, d, verify).await?;
        self.keep_record(d, pieces.finish());
        Ok(size)
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

/// Publishes what `writer` holds as blob `d` if it hashed to `d` (or
/// unchecked, for the `adopt-segments-unverified` mutant); else throws it
/// away. Returns the size.
async fn publish_if_matches(
    writer: Box<dyn crate::storage::ObjectWriter>,
    digester: Digester,
    d: &Digest,
    verify: bool,
) -> super::error::Result<u64> {
    let actual = digester.finish();
    if verify && actual != *d {
        writer.abort().await;
        return Err(super::error::RegistryError::DigestMismatch { expected: d.clone(), actual });
    }
    Ok(writer.commit().await?)
}

fn report_damage(d: &Digest, size: u64) {
    tracing::error!(digest = %d, size, "stored blob does not hash to its digest; answered as missing until a push replaces it");
}

/// A blob (or a range of it) read piece by piece, checked on the way.
///
/// A whole read without a [`PieceRecord`] hashes everything with the
/// digest's algorithm and withholds the last piece until the digest is
/// confirmed, so a damaged blob's download never completes; it records the
/// pieces as it goes. A read with a record checks every piece before handing
/// any of it out. A range without a record is not checked: that would take
/// reading the whole blob.
pub struct VerifiedRead {
    blobs: BlobStore,
    digest: Digest,
    size: u64,
    /// The next byte to hand out, and the end of the read.
    pos: u64,
    end: u64,
    check: Check,
    /// Where the bytes come from: whole pieces where they are checked.
    source: SequentialRead,
}

enum Check {
    Digest(Box<(Digester, PieceRecorder)>),
    Record(Arc<PieceRecord>),
    /// A range of a blob with no record; and the simulator's
    /// `serve-unverified` mutant.
    Unchecked,
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
    /// The whole `size`-byte blob `digest`.
    pub fn whole(blobs: BlobStore, digest: Digest, size: u64) -> VerifiedRead {
        let check = match blobs.record(&digest) {
            Some(record) => Check::Record(record),
            None => Check::Digest(Box::new((Digester::new(digest.algorithm()), PieceRecorder::default()))),
        };
        VerifiedRead::new(blobs, digest, size, 0, size, check)
    }

    /// Bytes `start..end` of the `size`-byte blob `digest`.
    pub fn range(blobs: BlobStore, digest: Digest, size: u64, start: u64, end: u64) -> VerifiedRead {
        debug_assert!(start <= end && end <= size);
        let check = blobs.record(&digest).map_or(Check::Unchecked, Check::Record);
        VerifiedRead::new(blobs, digest, size, start, end, check)
    }

    fn new(blobs: BlobStore, digest: Digest, size: u64, start: u64, end: u64, check: Check) -> VerifiedRead {
        // Checked pieces are read whole: from the start of the first one to
        // the end of the last.
        let piece = PIECE_BYTES as u64;
        let (from, to) = match check {
            Check::Unchecked => (start, end),
            _ => (start - start % piece, end.div_ceil(piece).saturating_mul(piece).min(size)),
        };
        let source = blobs.sequential(&digest, from, to);
        VerifiedRead { blobs, digest, size, pos: start, end, check, source }
    }

    #[cfg(feature = "sim-mutants")]
    pub(crate) fn unverified(self) -> VerifiedRead {
        VerifiedRead::new(self.blobs, self.digest, self.size, self.pos, self.end, Check::Unchecked)
    }

    /// The `resume-at-window-start` mutant (see `Mutants`).
    #[cfg(feature = "sim-mutants")]
    pub(crate) fn resuming_at_window_start(mut self) -> VerifiedRead {
        self.source = self.source.resuming_at_window_start();
        self
    }

    /// The `verified-once` mutant: a blob with a record is served as
    /// stored, as if having been verified once proved it forever.
    #[cfg(feature = "sim-mutants")]
    pub(crate) fn trusting_records(self) -> VerifiedRead {
        match self.check {
            Check::Record(_) => self.unverified(),
            _ => self,
        }
    }

    /// The next piece, at most [`PIECE_BYTES`]; `None` once the read is
    /// done.
    pub async fn next(&mut self) -> std::result::Result<Option<Bytes>, ReadError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let piece = PIECE_BYTES as u64;
        let (index, at) = (self.pos / piece, self.pos % piece);
        let out = match &self.check {
            Check::Unchecked => {
                debug_assert_eq!(self.source.position(), self.pos);
                self.source.take(PIECE_BYTES).await?
            }
            Check::Record(record) => {
                let record = record.clone();
                let bytes = self.read_piece(index).await?;
                if !record.holds(index as usize, &bytes) {
                    report_damage(&self.digest, self.size);
                    return Err(ReadError::Damaged(self.digest.clone()));
                }
                let upto = (self.end - index * piece).min(bytes.len() as u64);
                bytes.slice(at as usize..upto as usize)
            }
            Check::Digest(_) => {
                let bytes = self.read_piece(index).await?;
                self.hash(&bytes).await?;
                bytes
            }
        };
        if out.is_empty() {
            return Err(ReadError::Short(self.digest.clone(), self.pos));
        }
        self.pos += out.len() as u64;
        Ok(Some(out))
    }

    /// Feeds the digest check one piece; at the last, confirms the digest
    /// and keeps the record of the pieces.
    async fn hash(&mut self, bytes: &Bytes) -> std::result::Result<(), ReadError> {
        let Check::Digest(state) = &mut self.check else { return Ok(()) };
        let (digester, recorder) = &mut **state;
        recorder.piece(bytes.clone()).await;
        digester.update(bytes);
        if digester.len() < self.size {
            return Ok(());
        }
        if digester.clone().finish() != self.digest {
            report_damage(&self.digest, digester.len());
            return Err(ReadError::Damaged(self.digest.clone()));
        }
        if let Check::Digest(state) = std::mem::replace(&mut self.check, Check::Unchecked)
            && let Some(record) = state.1.finish(self.size).await
        {
            self.blobs.records.insert(&self.digest, record);
        }
        Ok(())
    }

    /// Piece `index`, whole: short only if storage holds less than the
    /// blob's size.
    async fn read_piece(&mut self, index: u64) -> std::result::Result<Bytes, ReadError> {
        let from = index * PIECE_BYTES as u64;
        debug_assert_eq!(self.source.position(), from);
        let want = usize::try_from(self.size - from).unwrap_or(usize::MAX).min(PIECE_BYTES);
        let bytes = self.source.take(want).await?;
        if bytes.len() < want {
            return Err(ReadError::Short(self.digest.clone(), from + bytes.len() as u64));
        }
        Ok(bytes)
    }
}
