//! Where an upload's bytes wait for their commit: the one part of the
//! storage layout with two shapes, chosen by what the backend can do.
//!
//! - **Appended** (filesystem, memory): one `data` object grown by the
//!   driver's conditional append. Sealing renames it to `sealed`, which no
//!   append reaches; adoption renames that into the blob store.
//! - **Segmented** (object stores, which have neither append nor rename):
//!   each append is a new immutable object `segments/<offset>`, created only
//!   if absent where the store has conditional writes. The upload's size is
//!   where its segments, listed in order, stop joining up. Sealing writes a
//!   `sealing` marker (appends that find it fail) and then `seal`, the list
//!   of segments the commit takes; adoption copies exactly those into the
//!   blob store through a check of the digest, publishing only if they hash
//!   to it ([`super::blob_store::BlobStore::adopt_segments`]).
//!
//! On a store without conditional writes two appenders that saw the same
//! size can both write the segment at it, and the last one wins. Segments
//! then stop joining up (the upload is refused as invalid) or hold another
//! appender's bytes; either way the commit's digest check refuses them, so
//! nothing unverified is ever adopted.

use super::blob_writer::APPEND_CHUNK;
use super::error::{RegistryError, Result};
use super::paths;
use crate::storage::sequential_read::SequentialRead;
use crate::storage::{StorageDriver, StorageError};
use bytes::Bytes;
use drydock_spec::RepositoryName;
use std::sync::Arc;

/// How many segments one upload may have: every status check lists them
/// all (one request per thousand on S3).
pub const MAX_SEGMENTS: usize = 10_000;
/// The most an upload can hold through PATCH on an object store: appends
/// are at most [`APPEND_CHUNK`] each, one segment apiece. (A monolithic PUT
/// streams straight into place instead, up to the store's object limit.)
pub const MAX_SEGMENTED_UPLOAD_BYTES: u64 = MAX_SEGMENTS as u64 * APPEND_CHUNK as u64;
/// Segments looked up one by one before the upload is listed instead.
const WALK_SEGMENTS: usize = 8;

/// The segments a sealed upload consists of, in order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SegmentList {
    /// Each segment's full storage path and size.
    pub segments: Vec<(String, u64)>,
}

impl SegmentList {
    pub fn size(&self) -> u64 {
        self.segments.iter().map(|(_, n)| n).sum()
    }
}

/// The upload layout a driver calls for.
#[derive(Clone)]
pub(crate) struct UploadData {
    driver: Arc<dyn StorageDriver>,
    segmented: bool,
}

impl UploadData {
    pub fn new(driver: Arc<dyn StorageDriver>) -> UploadData {
        let segmented = !driver.capabilities().appends;
        UploadData { driver, segmented }
    }

    pub fn segmented(&self) -> bool {
        self.segmented
    }

    /// Makes a fresh upload's (empty) data.
    pub async fn create(&self, repo: &RepositoryName, id: &str) -> Result<()> {
        if !self.segmented {
            self.driver.put_content(&paths::upload_data(repo, id), Bytes::new()).await?;
        }
        // Segmented: no segments is an empty upload.
        Ok(())
    }

    /// Bytes stored so far; `NotFound` once the upload is sealed (or, in
    /// the appended layout, gone).
    pub async fn size(&self, repo: &RepositoryName, id: &str) -> Result<u64> {
        if !self.segmented {
            return Ok(self.driver.size(&paths::upload_data(repo, id)).await?);
        }
        if self.exists(&paths::upload_sealing(repo, id)).await? {
            return Err(StorageError::NotFound(paths::upload_sealing(repo, id)).into());
        }
        Ok(self.segments(repo, id).await?.size())
    }

    /// Appends `parts`, in order, at `offset`, which must be the stored
    /// size. Returns the new size.
    pub async fn append(&self, repo: &RepositoryName, id: &str, offset: u64, parts: Vec<Bytes>) -> Result<u64> {
        let len = parts.iter().map(|p| p.len() as u64).sum::<u64>();
        if !self.segmented {
            let appended = self.driver.append_parts(&paths::upload_data(repo, id), offset, parts).await;
            return append_outcome(id, offset, appended);
        }
        if len == 0 {
            return Ok(offset);
        }
        let bytes = crate::storage::join(parts);
        if offset + len > MAX_SEGMENTED_UPLOAD_BYTES {
            return Err(RegistryError::UploadInvalid(format!(
                "upload {id} would pass {MAX_SEGMENTED_UPLOAD_BYTES} bytes, the most an upload in chunks holds on this object store; push the blob in one PUT instead"
            )));
        }
        let segment = paths::upload_segment(repo, id, offset);
        match self.driver.put_content_new(&segment, bytes).await {
            Ok(()) => {}
            Err(StorageError::AlreadyExists(_)) => {
                let stored = self.size(repo, id).await?;
                return Err(RegistryError::RangeMismatch { requested: offset, stored });
            }
            Err(e) => return Err(e.into()),
        }
        // Appends never create an upload, nor reach a sealed one: a segment
        // written once sealing began may or may not be in the seal, so it is
        // not acknowledged (the commit's digest check decides about it); one
        // written into a removed upload goes again. Sealing is looked at
        // first: a commit that finishes removes `startedat` before the
        // marker, so a marker gone by now means `startedat` is gone too —
        // looked at the other way round, a removal between the two looks
        // would pass both, and acknowledge bytes that are in no blob.
        if self.exists(&paths::upload_sealing(repo, id)).await? {
            return Err(RegistryError::UploadUnknown(id.to_owned()));
        }
        if !self.exists(&paths::upload_started_at(repo, id)).await? {
            let _ = self.driver.delete(&segment).await;
            return Err(RegistryError::UploadUnknown(id.to_owned()));
        }
        Ok(offset + len)
    }

    /// Reads up to `max` bytes of the (unsealed) data from `offset`.
    pub async fn read(&self, repo: &RepositoryName, id: &str, offset: u64, max: usize) -> Result<Bytes> {
        if !self.segmented {
            return Ok(self.driver.read_at(&paths::upload_data(repo, id), offset, max).await?);
        }
        read_segments(self.driver.as_ref(), &self.segments(repo, id).await?, offset, max).await
    }

    /// The segments as they stand, checked to join up from 0.
    ///
    /// Found by name first: the segment at 0, then the one where it ends,
    /// and so on. Reading an object by name is consistent on every store,
    /// where a listing may lag behind writes (object stores long did) and
    /// costs more than a few lookups on some. An upload of more than
    /// [`WALK_SEGMENTS`] segments is listed, and looked up by name again
    /// past where the listing ends.
    pub async fn segments(&self, repo: &RepositoryName, id: &str) -> Result<SegmentList> {
        let mut segments = Vec::new();
        let mut at = 0u64;
        for _ in 0..WALK_SEGMENTS {
            match self.segment_at(repo, id, at).await? {
                Some(size) => {
                    segments.push((paths::upload_segment(repo, id, at), size));
                    at += size;
                }
                None => return Ok(SegmentList { segments }),
            }
        }
        let dir = paths::upload_segments(repo, id);
        let listed = match self.driver.list_sizes(&dir).await {
            Ok(listed) => listed,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let too_many = || {
            RegistryError::UploadInvalid(format!(
                "upload {id} has more than {MAX_SEGMENTS} segments; push the blob in one PUT instead"
            ))
        };
        if listed.len() > MAX_SEGMENTS {
            return Err(too_many());
        }
        let (mut at, mut segments) = (0u64, Vec::with_capacity(listed.len()));
        for (name, size) in listed {
            if name.parse::<u64>().ok() != Some(at) {
                return Err(RegistryError::UploadInvalid(format!(
                    "upload {id}: its segments do not join up at byte {at} (found {name}); start the upload again"
                )));
            }
            at += size;
            segments.push((format!("{dir}/{name}"), size));
        }
        while let Some(size) = self.segment_at(repo, id, at).await? {
            if segments.len() == MAX_SEGMENTS {
                return Err(too_many());
            }
            segments.push((paths::upload_segment(repo, id, at), size));
            at += size;
        }
        Ok(SegmentList { segments })
    }

    /// The size of the segment starting at `at`, if there is one. An empty
    /// segment is never written; one found empty was replaced by a racing
    /// writer and ends nothing.
    async fn segment_at(&self, repo: &RepositoryName, id: &str, at: u64) -> Result<Option<u64>> {
        match self.driver.size(&paths::upload_segment(repo, id, at)).await {
            Ok(size) if size > 0 => Ok(Some(size)),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Segmented layout: whether the upload holds no bytes — no segments,
    /// or a seal with none (a commit that sealed it and failed after). False
    /// once it is gone.
    pub async fn holds_nothing(&self, repo: &RepositoryName, id: &str) -> Result<bool> {
        debug_assert!(self.segmented);
        if let Some(list) = self.read_seal(&paths::upload_seal(repo, id)).await? {
            return Ok(list.size() == 0);
        }
        if !self.exists(&paths::upload_started_at(repo, id)).await? {
            return Ok(false);
        }
        // Segments join up from 0: none there, none at all (one lookup, not
        // a walk of every segment).
        Ok(self.segment_at(repo, id, 0).await?.is_none())
    }

    /// Seals a segmented upload: no append after this is acknowledged, and
    /// the segments listed now are the ones a commit adopts. A commit that
    /// finds the upload already sealed takes the seal already written.
    pub async fn seal_segments(&self, repo: &RepositoryName, id: &str) -> Result<SegmentList> {
        debug_assert!(self.segmented);
        let seal = paths::upload_seal(repo, id);
        if let Some(list) = self.read_seal(&seal).await? {
            return Ok(list);
        }
        if !self.exists(&paths::upload_started_at(repo, id)).await? {
            return Err(RegistryError::UploadUnknown(id.to_owned()));
        }
        self.driver.put_content(&paths::upload_sealing(repo, id), Bytes::new()).await?;
        let list = self.segments(repo, id).await?;
        // A commit racing this one may have adopted the upload and removed it
        // while this one listed: removal takes `startedat` first, so with it
        // still there the listing saw every segment.
        if !self.exists(&paths::upload_started_at(repo, id)).await? {
            let _ = self.driver.delete(&paths::upload_dir(repo, id)).await;
            return Err(RegistryError::UploadUnknown(id.to_owned()));
        }
        let encoded = serde_json::to_vec(&list).expect("a segment list always encodes");
        match self.driver.put_content_new(&seal, Bytes::from(encoded)).await {
            Ok(()) => Ok(list),
            // A commit racing this one sealed first: take its list.
            Err(StorageError::AlreadyExists(_)) => {
                self.read_seal(&seal).await?.ok_or_else(|| RegistryError::UploadUnknown(id.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn read_seal(&self, seal: &str) -> Result<Option<SegmentList>> {
        match self.driver.get_content(seal).await {
            Ok(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| RegistryError::UploadInvalid(format!("unreadable upload seal {seal}: {e}"))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether an object is at `path`.
    async fn exists(&self, path: &str) -> Result<bool> {
        match self.driver.size(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Reads up to `max` bytes from `offset` of the data `list` describes. A
/// segment shorter than listed (replaced meanwhile) is an invalid upload.
pub async fn read_segments(driver: &dyn StorageDriver, list: &SegmentList, offset: u64, max: usize) -> Result<Bytes> {
    let mut start = 0u64;
    for (path, size) in &list.segments {
        if offset < start + size {
            let within = offset - start;
            let want = usize::try_from(size - within).unwrap_or(usize::MAX).min(max);
            let got = driver.read_at(path, within, want).await?;
            if got.len() != want {
                return Err(RegistryError::UploadInvalid(format!(
                    "upload segment {path} no longer holds the {size} bytes it was sealed with"
                )));
            }
            return Ok(got);
        }
        start += size;
    }
    Ok(Bytes::new())
}

/// A sealed upload's data read front to back, segment by segment (one
/// streamed request per segment window on an object store). A segment
/// shorter than listed (replaced meanwhile) is an invalid upload.
pub struct SealedRead {
    driver: Arc<dyn StorageDriver>,
    segments: std::vec::IntoIter<(String, u64)>,
    current: Option<(SequentialRead, u64, String)>,
}

impl SealedRead {
    pub fn new(driver: Arc<dyn StorageDriver>, list: &SegmentList) -> SealedRead {
        SealedRead { driver, segments: list.segments.clone().into_iter(), current: None }
    }

    /// The next up to `max` bytes; empty at the end.
    pub async fn next(&mut self, max: usize) -> Result<Bytes> {
        loop {
            if self.current.as_ref().is_some_and(|(read, size, _)| read.position() >= *size) {
                self.current = None;
            }
            let (read, size, path) = match &mut self.current {
                Some(current) => current,
                None => match self.segments.next() {
                    Some((path, size)) => {
                        let read = SequentialRead::new(self.driver.clone(), path.clone(), 0, size);
                        self.current.insert((read, size, path))
                    }
                    None => return Ok(Bytes::new()),
                },
            };
            let want = usize::try_from(*size - read.position()).unwrap_or(usize::MAX).min(max);
            if want == 0 {
                continue;
            }
            let got = read.take(want).await?;
            if got.len() != want {
                return Err(RegistryError::UploadInvalid(format!(
                    "upload segment {path} no longer holds the {size} bytes it was sealed with"
                )));
            }
            return Ok(got);
        }
    }
}

/// What an append at `offset` means for the upload. If another request
/// appended meanwhile, this one's bytes no longer continue the upload:
/// nothing is written and the client learns the real size (416). If the
/// upload was sealed or removed meanwhile, it is gone for this request too.
fn append_outcome(id: &str, offset: u64, appended: crate::storage::Result<u64>) -> Result<u64> {
    match appended {
        Ok(size) => Ok(size),
        Err(StorageError::SizeMismatch { actual, .. }) => {
            Err(RegistryError::RangeMismatch { requested: offset, stored: actual })
        }
        Err(e) if e.is_not_found() => Err(RegistryError::UploadUnknown(id.to_owned())),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Capabilities, InMemoryDriver};

    #[tokio::test]
    async fn an_append_past_the_segmented_limit_is_refused_before_anything_is_written() {
        let memory =
            Arc::new(InMemoryDriver::with_capabilities(Capabilities { appends: false, conditional_writes: true }));
        let data = UploadData::new(memory.clone());
        let repo = RepositoryName::parse("big/blob").unwrap();
        let id = "0f0e0d0c-0b0a-4908-8706-050403020100";
        data.create(&repo, id).await.unwrap();
        memory.put_content(&paths::upload_started_at(&repo, id), Bytes::from_static(b"0")).await.unwrap();
        let near = MAX_SEGMENTED_UPLOAD_BYTES - 4;
        let refused = data.append(&repo, id, near, vec![Bytes::from_static(b"12345")]).await.unwrap_err();
        assert!(matches!(&refused, RegistryError::UploadInvalid(m) if m.contains("one PUT")), "{refused}");
        assert!(memory.keys_under(&paths::upload_segments(&repo, id)).is_empty());
        // Up to the limit exactly is an append like any other (here it does
        // not join up, which the size check finds later, not this one).
        assert_eq!(
            data.append(&repo, id, near, vec![Bytes::from_static(b"1234")]).await.unwrap(),
            MAX_SEGMENTED_UPLOAD_BYTES
        );
    }
}
