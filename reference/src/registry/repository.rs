//! One repository's protocol operations, each a whole method: commit an
//! upload, mount, put or delete a manifest, delete a tag, list tags. Each
//! owns its entire sequence — touch, verify, adopt, link, clean up, delete
//! policy — and reports its event to the listener it was made with before
//! returning. HTTP handlers only parse, call one of these, and render.

use super::Registry;
use super::blob_store::{VERIFY_WHOLE_MAX, VerifiedRead};
use super::blob_writer::{ChunkBounds, Sealed, UploadInfo, UploadRef};
use super::error::{RegistryError, Result};
use super::listener::{Listener, RepositoryEvent};
use super::manifest_store::StoredManifest;
use super::referrers::Referrer;
use super::{paths, tag_store::TagStore};
use bytes::Bytes;
use drydock_spec::{Digest, Manifest, Reference, RepositoryName, Tag};
use futures_util::{Stream, StreamExt};

/// A blob as a repository holds it.
pub struct Blob {
    pub digest: Digest,
    pub size: u64,
    /// The whole content, verified, for blobs up to [`VERIFY_WHOLE_MAX`];
    /// larger ones are streamed (and verified as they stream).
    pub content: Option<Bytes>,
}

/// A repository of `registry`, reporting to `listener`.
pub struct Repository<'a> {
    registry: &'a Registry,
    name: RepositoryName,
    listener: &'a dyn Listener,
}

impl Registry {
    pub fn repository<'a>(&'a self, name: RepositoryName, listener: &'a dyn Listener) -> Repository<'a> {
        Repository { registry: self, name, listener }
    }
}

impl Repository<'_> {
    pub fn name(&self) -> &RepositoryName {
        &self.name
    }

    async fn record(&self, event: RepositoryEvent) -> Result<()> {
        self.listener.record(&self.name, event).await
    }

    fn tags_store(&self) -> &TagStore {
        &self.registry.manifests.tags
    }

    /// Refuses every change while the registry is read-only. Each write
    /// operation asks first; the HTTP layer asks too, before it reads a
    /// request body it would only throw away.
    pub fn writes_allowed(&self) -> Result<()> {
        if self.registry.read_only { Err(RegistryError::ReadOnly) } else { Ok(()) }
    }

    fn deletes_allowed(&self) -> Result<()> {
        self.writes_allowed()?;
        if self.registry.delete_enabled { Ok(()) } else { Err(RegistryError::DeletesDisabled) }
    }

    // Uploads.

    /// Opens an upload. The algorithm its bytes are hashed with as they
    /// arrive is chosen by the caller, who names it on every write and
    /// commit (see [`UploadRef`]).
    pub async fn start_upload(&self) -> Result<UploadInfo> {
        self.writes_allowed()?;
        let id = self.registry.env.new_uuid();
        self.registry.uploads.start(&self.name, &id, self.registry.env.now()).await
    }

    pub async fn upload_status(&self, id: &str) -> Result<UploadInfo> {
        self.registry.uploads.status(&self.name, id).await
    }

    /// Appends a chunk within `bounds`; the upload's new size.
    pub async fn write_upload<S, E>(&self, upload: UploadRef<'_>, bounds: ChunkBounds, body: S) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.writes_allowed()?;
        #[cfg(feature = "sim-mutants")]
        let bounds = if self.registry.mutants.upload_offset_from_request() {
            ChunkBounds { start: None, ..bounds }
        } else {
            bounds
        };
        self.registry.uploads.write(&self.name, upload, bounds, body).await
    }

    pub async fn cancel_upload(&self, id: &str) -> Result<()> {
        self.writes_allowed()?;
        self.registry.uploads.cancel(&self.name, id).await
    }

    /// Closes `upload` as blob `digest`: appends the last body, seals and
    /// verifies the upload, touches the blob (for garbage collection),
    /// adopts exactly the verified bytes, links the blob here, removes the
    /// upload, reports the push. Returns the blob's size. (On an object
    /// store, a body into an upload that holds nothing is the whole blob and
    /// goes straight into place instead: `commit_whole_body`.)
    pub async fn commit_upload<S, E>(
        &self,
        upload: UploadRef<'_>,
        digest: &Digest,
        bounds: ChunkBounds,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.writes_allowed()?;
        #[cfg(feature = "sim-mutants")]
        if self.registry.mutants.commit_without_seal() {
            return self.commit_upload_unsealed(upload, digest, body).await;
        }
        if self.registry.uploads.segmented() {
            // Whether a body came at all (then `chain` puts it back).
            type BoxError = Box<dyn std::error::Error + Send + Sync>;
            let mut body = body.map(|item| item.map_err(Into::<BoxError>::into));
            let first = body.next().await;
            let whole = first.is_some()
                && bounds.start.is_none_or(|s| s == 0)
                && self.registry.uploads.holds_nothing(&self.name, upload.id).await?;
            let body = futures_util::stream::iter(first).chain(body);
            if whole {
                return self.commit_whole_body(upload, digest, body).await;
            }
            return self.commit_sealed(upload, digest, bounds, body).await;
        }
        self.commit_sealed(upload, digest, bounds, body).await
    }

    /// On an object store, a closing PUT into an upload that holds nothing
    /// carries the whole blob: it streams straight into place, hashed on the
    /// way and published only if it is `digest`'s, instead of being stored
    /// as segments and copied (twice the writes, and every byte read back).
    /// Then the upload is sealed, and must still hold nothing: a chunk that
    /// another request appended meanwhile is part of the upload's bytes,
    /// which are then more than this body.
    async fn commit_whole_body<S, E>(&self, upload: UploadRef<'_>, digest: &Digest, body: S) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let r = self.registry;
        r.blobs.touch(digest, r.env.now()).await?;
        #[cfg(feature = "sim-mutants")]
        let streamed = if r.mutants.whole_body_unverified() {
            r.blobs.put_stream_unverified(digest, body).await
        } else {
            r.blobs.put_stream(digest, body).await
        };
        #[cfg(not(feature = "sim-mutants"))]
        let streamed = r.blobs.put_stream(digest, body).await;
        let size = match streamed {
            Ok(size) => size,
            Err(e @ RegistryError::DigestMismatch { .. }) => {
                r.uploads.discard(&self.name, upload.id).await;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if !r.uploads.seal_empty(&self.name, upload.id).await? {
            // The blob published is this body's, correct as such; it stays
            // unlinked here (garbage collection's to take).
            r.uploads.discard(&self.name, upload.id).await;
            return Err(RegistryError::UploadInvalid(format!(
                "upload {} took a chunk while its closing PUT carried the whole blob; push it again",
                upload.id
            )));
        }
        self.finish_commit(upload.id, digest, size).await
    }

    /// The commit proper: the last body appended, the upload sealed, its
    /// bytes verified and adopted into the blob store.
    async fn commit_sealed<S, E>(
        &self,
        upload: UploadRef<'_>,
        digest: &Digest,
        bounds: ChunkBounds,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let r = self.registry;
        let sealed = r.uploads.commit(&self.name, upload, digest, bounds, body).await?;
        r.blobs.touch(digest, r.env.now()).await?;
        let size = match sealed {
            Sealed::Verified { path, size, record } => match r.blobs.adopt(&path, digest).await {
                Ok(()) => {
                    if let Some(record) = record {
                        r.blobs.keep_record(digest, record);
                    }
                    size
                }
                // A commit racing this one adopted the same verified bytes.
                Err(e) if e.is_not_found() && r.blobs.size(digest).await? == Some(size) => size,
                Err(e) => return Err(e.into()),
            },
            Sealed::Segments(list) => match self.adopt_segments(&list, digest).await {
                Ok(size) => size,
                // A commit racing this one adopted the segments and removed
                // the upload while this one was copying them.
                Err(RegistryError::Storage(e))
                    if e.is_not_found() && r.blobs.size(digest).await? == Some(list.size()) =>
                {
                    list.size()
                }
                // Bytes that are not the digest's, or segments replaced since
                // the seal: this upload can never commit.
                Err(e @ (RegistryError::DigestMismatch { .. } | RegistryError::UploadInvalid(_))) => {
                    r.uploads.discard(&self.name, upload.id).await;
                    return Err(e);
                }
                Err(e) => return Err(e),
            },
            Sealed::Adopted { size } => size,
        };
        self.finish_commit(upload.id, digest, size).await
    }

    async fn adopt_segments(&self, list: &super::upload_data::SegmentList, digest: &Digest) -> Result<u64> {
        #[cfg(feature = "sim-mutants")]
        if self.registry.mutants.adopt_segments_unverified() {
            return self.registry.blobs.adopt_segments_unverified(list, digest).await;
        }
        self.registry.blobs.adopt_segments(list, digest).await
    }

    async fn finish_commit(&self, id: &str, digest: &Digest, size: u64) -> Result<u64> {
        self.registry.layers.link(&self.name, digest).await?;
        self.registry.uploads.discard(&self.name, id).await;
        self.record(RepositoryEvent::BlobPushed { digest: digest.clone(), size }).await?;
        Ok(size)
    }

    /// The commit as distribution does it, for the `commit-without-seal`
    /// mutant: verify the upload where it lies, then move it into the blob
    /// store unless a blob is already there.
    #[cfg(feature = "sim-mutants")]
    async fn commit_upload_unsealed<S, E>(&self, upload: UploadRef<'_>, digest: &Digest, body: S) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let r = self.registry;
        let sealed = r.uploads.commit_unsealed(&self.name, upload, digest, body).await?;
        r.blobs.touch(digest, r.env.now()).await?;
        let size = match sealed {
            Sealed::Verified { path, size, .. } => {
                if r.blobs.size(digest).await?.is_none() {
                    r.blobs.adopt(&path, digest).await?;
                }
                size
            }
            Sealed::Segments(list) => r.blobs.adopt_segments(&list, digest).await?,
            Sealed::Adopted { .. } => return Err(RegistryError::UploadUnknown(upload.id.to_owned())),
        };
        self.finish_commit(upload.id, digest, size).await
    }

    /// A whole blob in one request: an upload only this request knows, so
    /// any failure (a cut body, a wrong digest) removes it again.
    pub async fn push_blob<S, E>(&self, digest: &Digest, body: S) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let r = self.registry;
        if r.uploads.segmented() {
            // On an object store an upload is segments a commit copies; a
            // body that is the whole blob goes straight into place instead,
            // published only once it has hashed to `digest`.
            self.writes_allowed()?;
            r.blobs.touch(digest, r.env.now()).await?;
            let size = r.blobs.put_stream(digest, body).await?;
            self.registry.layers.link(&self.name, digest).await?;
            self.record(RepositoryEvent::BlobPushed { digest: digest.clone(), size }).await?;
            return Ok(size);
        }
        let upload = self.start_upload().await?;
        // Hashed as it arrives with the digest's own algorithm: verified
        // without a second pass.
        let at = UploadRef { id: &upload.id, algorithm: digest.algorithm() };
        let result = self.commit_upload(at, digest, ChunkBounds::default(), body).await;
        if result.is_err() {
            self.registry.uploads.discard(&self.name, &upload.id).await;
        }
        result
    }

    /// Links `digest` here from `from` (which must hold it) or, without
    /// `from` and with automatic mounts on, from anywhere it is stored. The
    /// blob's size if the link was really made; `None` if it cannot be
    /// mounted.
    pub async fn mount(&self, digest: &Digest, from: Option<&RepositoryName>) -> Result<Option<u64>> {
        self.writes_allowed()?;
        let r = self.registry;
        let available = match from {
            Some(from) => r.layers.size(from, digest).await?.is_some(),
            None if !r.automatic_mount => false,
            None => r.blobs.size(digest).await?.is_some(),
        };
        if !available {
            return Ok(None);
        }
        r.blobs.touch(digest, r.env.now()).await?;
        r.layers.link(&self.name, digest).await?;
        // Gone meanwhile (a collection): the link leads nowhere, so no mount.
        let Some(size) = r.layers.size(&self.name, digest).await? else { return Ok(None) };
        let from = from.cloned();
        self.record(RepositoryEvent::BlobMounted { digest: digest.clone(), size, from }).await?;
        Ok(Some(size))
    }

    // Blobs.

    /// The blob as this repository holds it; `BlobUnknown` if it is not
    /// linked here, not stored, or (small ones) damaged.
    pub async fn blob(&self, digest: &Digest) -> Result<Blob> {
        let unknown = || RegistryError::BlobUnknown(digest.clone());
        let size = self.registry.layers.size(&self.name, digest).await?.ok_or_else(unknown)?;
        #[cfg(feature = "sim-mutants")]
        if self.registry.mutants.serve_unverified()
            || (self.registry.mutants.verified_once() && self.registry.blobs.record(digest).is_some())
        {
            let content =
                if size <= VERIFY_WHOLE_MAX { Some(self.registry.blobs.get_unverified(digest).await?) } else { None };
            return Ok(Blob { digest: digest.clone(), size, content });
        }
        // A record of the genuine content proves a copy of another size
        // damaged without reading it.
        if let Some(record) = self.registry.blobs.record(digest)
            && record.size() != size
        {
            tracing::error!(%digest, size, genuine = record.size(), "stored blob has the wrong size; answered as missing until a push replaces it");
            return Err(unknown());
        }
        let content = if size <= VERIFY_WHOLE_MAX {
            let bytes = self.registry.blobs.get_verified(digest).await?;
            Some(bytes.filter(|b| b.len() as u64 == size).ok_or_else(unknown)?)
        } else {
            None
        };
        Ok(Blob { digest: digest.clone(), size, content })
    }

    /// The whole of a large blob, piece by piece, verified as it goes.
    pub fn read_whole(&self, blob: &Blob) -> VerifiedRead {
        let read = VerifiedRead::whole(self.registry.blobs.clone(), blob.digest.clone(), blob.size);
        self.mutated(read)
    }

    /// Bytes `start..end` of a large blob, verified piece by piece when an
    /// earlier whole read recorded its pieces.
    pub fn read_range(&self, blob: &Blob, start: u64, end: u64) -> VerifiedRead {
        let read = VerifiedRead::range(self.registry.blobs.clone(), blob.digest.clone(), blob.size, start, end);
        self.mutated(read)
    }

    #[cfg_attr(not(feature = "sim-mutants"), allow(clippy::unused_self))]
    fn mutated(&self, read: VerifiedRead) -> VerifiedRead {
        #[cfg(feature = "sim-mutants")]
        {
            if self.registry.mutants.serve_unverified() {
                return read.unverified();
            }
            if self.registry.mutants.verified_once() {
                return read.trusting_records();
            }
            if self.registry.mutants.resume_at_window_start() {
                return read.resuming_at_window_start();
            }
        }
        read
    }

    /// Reports that `blob` is being served.
    pub async fn pulled(&self, blob: &Blob) -> Result<()> {
        self.record(RepositoryEvent::BlobPulled { digest: blob.digest.clone(), size: blob.size }).await
    }

    /// Unlinks the blob from this repository (its content stays for others).
    pub async fn delete_blob(&self, digest: &Digest) -> Result<()> {
        self.deletes_allowed()?;
        let layers = &self.registry.layers;
        if layers.size(&self.name, digest).await?.is_none() || !layers.unlink(&self.name, digest).await? {
            return Err(RegistryError::BlobUnknown(digest.clone()));
        }
        self.record(RepositoryEvent::BlobDeleted { digest: digest.clone() }).await
    }

    // Manifests and tags.

    /// Validates and stores `manifest` (see `ManifestStore::put`), points
    /// each of `tags` at it (with `if_match`, only the one tag it may name,
    /// and only if that tag still points there), reports the push: once per
    /// tag, as if pushed by each, or once untagged. Returns its digest.
    pub async fn put_manifest(
        &self,
        manifest: Manifest,
        digest_in_url: Option<&Digest>,
        tags: &[Tag],
        if_match: Option<&Digest>,
    ) -> Result<Digest> {
        self.writes_allowed()?;
        if if_match.is_some() && tags.len() != 1 {
            return Err(RegistryError::ManifestInvalid(format!(
                "If-Match names what one tag points at; this push sets {} tags",
                tags.len()
            )));
        }
        let (media_type, size) = (manifest.media_type().to_owned(), manifest.raw().len() as u64);
        let now = self.registry.env.now();
        let digest = self.registry.manifests.put(&self.name, manifest, digest_in_url, tags, if_match, now).await?;
        let reported: Vec<Option<Tag>> =
            if tags.is_empty() { vec![None] } else { tags.iter().cloned().map(Some).collect() };
        for tag in reported {
            let event =
                RepositoryEvent::ManifestPushed { media_type: media_type.clone(), digest: digest.clone(), size, tag };
            self.record(event).await?;
        }
        Ok(digest)
    }

    /// The manifest `reference` names; with `pull`, reports it as pulled.
    pub async fn manifest(&self, reference: &Reference, pull: bool) -> Result<StoredManifest> {
        let digest = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => self.registry.manifests.resolve_tag(&self.name, t).await?,
        };
        #[cfg(feature = "sim-mutants")]
        let cached = self
            .registry
            .mutants
            .cached_manifest_skips_link()
            .then(|| self.registry.manifests.cached(&digest))
            .flatten();
        #[cfg(not(feature = "sim-mutants"))]
        let cached = None;
        let m = match cached {
            Some(m) => m,
            None => self.registry.manifests.get(&self.name, &digest).await?,
        };
        if pull {
            let tag = match reference {
                Reference::Tag(t) => Some(t.clone()),
                Reference::Digest(_) => None,
            };
            let (media_type, size) = (m.media_type.clone(), m.body.len() as u64);
            self.record(RepositoryEvent::ManifestPulled { media_type, digest, size, tag }).await?;
        }
        Ok(m)
    }

    /// Deletes a manifest revision and every tag pointing at it, reporting
    /// each.
    pub async fn delete_manifest(&self, digest: &Digest) -> Result<()> {
        self.deletes_allowed()?;
        let tags = self.registry.manifests.delete(&self.name, digest).await?;
        self.record(RepositoryEvent::ManifestDeleted { digest: digest.clone() }).await?;
        for tag in tags {
            self.record(RepositoryEvent::TagDeleted { tag }).await?;
        }
        Ok(())
    }

    /// Removes a tag (the manifest stays).
    pub async fn delete_tag(&self, tag: &Tag) -> Result<()> {
        self.deletes_allowed()?;
        if !self.tags_store().delete(&self.name, tag).await? {
            return Err(RegistryError::ManifestUnknown(tag.to_string()));
        }
        self.record(RepositoryEvent::TagDeleted { tag: tag.clone() }).await
    }

    /// Every tag, sorted; `NameUnknown` if the repository does not exist
    /// (a failing backend is an error of its own, never "unknown").
    pub async fn tags(&self) -> Result<Vec<String>> {
        match self.registry.driver.stat(&paths::repository(&self.name)).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Err(RegistryError::NameUnknown(self.name.to_string())),
            Err(e) => return Err(e.into()),
        }
        self.tags_store().list(&self.name).await
    }

    pub async fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Referrer>> {
        self.registry.manifests.referrers.list(&self.name, subject, artifact_type).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::env;
    use crate::storage::InMemoryDriver;
    use async_trait::async_trait;
    use std::sync::{Arc, Mutex};

    /// Keeps every event; fails every record while `refuse` is set.
    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<(String, RepositoryEvent)>>,
        refuse: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl Listener for Recorder {
        async fn record(&self, repo: &RepositoryName, event: RepositoryEvent) -> Result<()> {
            if self.refuse.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(crate::storage::StorageError::Io {
                    path: "/queue".into(),
                    source: std::io::Error::other("queue unavailable"),
                }
                .into());
            }
            self.events.lock().unwrap().push((repo.to_string(), event));
            Ok(())
        }
    }

    impl Recorder {
        fn take(&self) -> Vec<(String, RepositoryEvent)> {
            std::mem::take(&mut *self.events.lock().unwrap())
        }
    }

    fn registry(delete_enabled: bool) -> Registry {
        Registry::new(Arc::new(InMemoryDriver::new()), env(), b"k", delete_enabled)
    }

    fn body(data: &[u8]) -> impl Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin + Send {
        futures_util::stream::iter(vec![Ok(Bytes::copy_from_slice(data))])
    }

    fn name(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    #[tokio::test]
    async fn a_commit_stores_links_cleans_up_and_reports_once() {
        let (r, events) = (registry(true), Recorder::default());
        let repo = r.repository(name("a/b"), &events);
        let upload = repo.start_upload().await.unwrap();
        let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
        assert_eq!(repo.write_upload(at, ChunkBounds::default(), body(b"hello ")).await.unwrap(), 6);
        let d = Digest::of(drydock_spec::Algorithm::Sha256, b"hello world");
        assert_eq!(repo.commit_upload(at, &d, ChunkBounds::default(), body(b"world")).await.unwrap(), 11);
        assert_eq!(events.take(), [("a/b".to_owned(), RepositoryEvent::BlobPushed { digest: d.clone(), size: 11 })]);
        assert_eq!(repo.blob(&d).await.unwrap().content.as_deref(), Some(&b"hello world"[..]));
        assert!(matches!(repo.upload_status(&upload.id).await, Err(RegistryError::UploadUnknown(_))));
        assert!(r.uploads.ids(&name("a/b")).await.unwrap().is_empty(), "the upload is removed");
    }

    #[tokio::test]
    async fn a_push_keeps_the_pieces_it_proved_only_if_this_instance_took_every_byte() {
        use crate::registry::piece_record::PIECE_BYTES;
        let driver: Arc<dyn crate::storage::StorageDriver> = Arc::new(InMemoryDriver::new());
        let [one, two] = [0, 1].map(|_| Registry::new(driver.clone(), env(), b"k", true));
        let events = Recorder::default();
        let [here, there] = [&one, &two].map(|r| r.repository(name("a"), &events));
        let blob = |n: u8| -> (Vec<u8>, Digest) {
            let data: Vec<u8> = (0..3 * PIECE_BYTES + 5).map(|i| (i % 241) as u8 ^ n).collect();
            let d = Digest::of(drydock_spec::Algorithm::Sha256, &data);
            (data, d)
        };
        let cut = PIECE_BYTES + 7;
        // (first PATCH, second PATCH, closing PUT): which instance takes each.
        let ways: [[&Repository<'_>; 3]; 4] =
            [[&here, &here, &here], [&here, &there, &here], [&there, &here, &here], [&here, &here, &there]];
        for (n, [first, second, commit]) in ways.into_iter().enumerate() {
            let (data, d) = blob(n as u8);
            let upload = first.start_upload().await.unwrap();
            let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
            first.write_upload(at, ChunkBounds::default(), body(&data[..cut])).await.unwrap();
            second.write_upload(at, ChunkBounds::default(), body(&data[cut..])).await.unwrap();
            commit.commit_upload(at, &d, ChunkBounds::default(), body(b"")).await.unwrap();
            let record = one.blobs.record(&d);
            if n == 0 {
                let record = record.expect("every byte appended and committed here");
                assert_eq!(record.size(), data.len() as u64);
                for (i, piece) in data.chunks(PIECE_BYTES).enumerate() {
                    assert!(record.holds(i, piece));
                }
            } else {
                assert!(record.is_none(), "way {n}: some bytes or the commit went through the other instance");
            }
            assert!(two.blobs.record(&d).is_none(), "way {n}");
        }
        // A monolithic push records its pieces too.
        let (data, d) = blob(9);
        here.push_blob(&d, body(&data)).await.unwrap();
        assert!(one.blobs.record(&d).is_some_and(|r| r.holds(3, &data[3 * PIECE_BYTES..])));
    }

    /// A registry on an object store's model: no appends, so uploads are
    /// segments.
    fn segmented_registry() -> Registry {
        let caps = crate::storage::Capabilities { appends: false, conditional_writes: true };
        Registry::new(Arc::new(InMemoryDriver::with_capabilities(caps)), env(), b"k", true)
    }

    #[tokio::test]
    async fn on_an_object_store_a_closing_body_into_an_empty_upload_goes_straight_into_place() {
        let (r, events) = (segmented_registry(), Recorder::default());
        let repo = r.repository(name("a/b"), &events);
        let data = b"the whole blob in the closing PUT";
        let d = Digest::of(drydock_spec::Algorithm::Sha256, data);
        let upload = repo.start_upload().await.unwrap();
        let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
        let size = repo.commit_upload(at, &d, ChunkBounds::default(), body(data)).await.unwrap();
        assert_eq!(size, data.len() as u64);
        assert_eq!(repo.blob(&d).await.unwrap().content.as_deref(), Some(&data[..]));
        assert_eq!(events.take(), [("a/b".to_owned(), RepositoryEvent::BlobPushed { digest: d.clone(), size })]);
        assert!(r.uploads.ids(&name("a/b")).await.unwrap().is_empty(), "the upload is removed");

        // A body that is not the digest's: nothing stored, the upload gone.
        let upload = repo.start_upload().await.unwrap();
        let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
        let wrong = Digest::of(drydock_spec::Algorithm::Sha256, b"other");
        let refused = repo.commit_upload(at, &wrong, ChunkBounds::default(), body(data)).await;
        assert!(matches!(refused, Err(RegistryError::DigestMismatch { .. })), "{refused:?}");
        assert!(matches!(repo.blob(&wrong).await, Err(RegistryError::BlobUnknown(_))));
        assert!(r.uploads.ids(&name("a/b")).await.unwrap().is_empty());
        assert!(events.take().is_empty());
    }

    #[tokio::test]
    async fn on_an_object_store_a_closing_body_cut_midway_leaves_the_upload_as_it_was() {
        use crate::registry::blob_writer::APPEND_CHUNK;
        let (r, events) = (segmented_registry(), Recorder::default());
        let repo = r.repository(name("a"), &events);
        let upload = repo.start_upload().await.unwrap();
        let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
        let d = Digest::of(drydock_spec::Algorithm::Sha256, b"never sent whole");
        // More than one segment's worth arrives, then the client is gone:
        // stored as segments, that much would now be in the upload.
        let cut = futures_util::stream::iter([
            Ok(Bytes::from(vec![7; APPEND_CHUNK + 1])),
            Err(std::io::Error::other("connection reset")),
        ]);
        assert!(repo.commit_upload(at, &d, ChunkBounds::default(), cut).await.is_err());
        assert_eq!(repo.upload_status(&upload.id).await.unwrap().size, 0);
        assert!(matches!(repo.blob(&d).await, Err(RegistryError::BlobUnknown(_))));
        assert!(events.take().is_empty());
    }

    #[tokio::test]
    async fn on_an_object_store_a_closing_body_after_chunks_or_a_seal_commits_the_whole_upload() {
        let (r, events) = (segmented_registry(), Recorder::default());
        let repo = r.repository(name("a"), &events);
        let d = Digest::of(drydock_spec::Algorithm::Sha256, b"hello world");
        // A chunk first: the body is only the rest, committed with it.
        let upload = repo.start_upload().await.unwrap();
        let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
        repo.write_upload(at, ChunkBounds::default(), body(b"hello ")).await.unwrap();
        assert_eq!(repo.commit_upload(at, &d, ChunkBounds::default(), body(b"world")).await.unwrap(), 11);
        assert_eq!(repo.blob(&d).await.unwrap().content.as_deref(), Some(&b"hello world"[..]));
        // A commit retried after an attempt sealed the empty upload and
        // failed: the body is still the whole blob.
        let again = Digest::of(drydock_spec::Algorithm::Sha256, b"again");
        let upload = repo.start_upload().await.unwrap();
        let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
        assert!(r.uploads.seal_empty(&name("a"), &upload.id).await.unwrap());
        assert_eq!(repo.commit_upload(at, &again, ChunkBounds::default(), body(b"again")).await.unwrap(), 5);
        assert_eq!(repo.blob(&again).await.unwrap().content.as_deref(), Some(&b"again"[..]));
    }

    #[tokio::test]
    async fn on_an_object_store_a_chunk_landing_while_the_whole_body_streams_fails_the_commit() {
        let (r, events) = (segmented_registry(), Recorder::default());
        let (repo, other) = (r.repository(name("a"), &events), r.repository(name("a"), &events));
        let d = Digest::of(drydock_spec::Algorithm::Sha256, b"the body");
        let upload = repo.start_upload().await.unwrap();
        let at = UploadRef { id: &upload.id, algorithm: drydock_spec::Algorithm::Sha256 };
        // Another request appends a chunk while the body streams.
        let other = &other;
        let racing = futures_util::stream::unfold(0, |n| async move {
            match n {
                0 => Some((Ok::<_, std::io::Error>(Bytes::from_static(b"the ")), 1)),
                1 => {
                    other.write_upload(at, ChunkBounds::default(), body(b"chunk")).await.unwrap();
                    Some((Ok(Bytes::from_static(b"body")), 2))
                }
                _ => None,
            }
        });
        let refused = repo.commit_upload(at, &d, ChunkBounds::default(), Box::pin(racing)).await;
        assert!(matches!(refused, Err(RegistryError::UploadInvalid(_))), "{refused:?}");
        assert!(matches!(repo.blob(&d).await, Err(RegistryError::BlobUnknown(_))), "not linked here");
        assert!(r.uploads.ids(&name("a")).await.unwrap().is_empty(), "the upload is removed");
        assert!(events.take().is_empty());
    }

    #[tokio::test]
    async fn a_failed_push_stores_nothing_reports_nothing_and_leaves_no_upload() {
        let (r, events) = (registry(true), Recorder::default());
        let repo = r.repository(name("a/b"), &events);
        let wrong = Digest::of(drydock_spec::Algorithm::Sha256, b"other");
        assert!(matches!(repo.push_blob(&wrong, body(b"content")).await, Err(RegistryError::DigestMismatch { .. })));
        assert!(events.take().is_empty());
        assert!(r.uploads.ids(&name("a/b")).await.unwrap().is_empty());
        assert!(matches!(repo.blob(&wrong).await, Err(RegistryError::BlobUnknown(_))));
    }

    #[tokio::test]
    async fn an_event_that_cannot_be_recorded_fails_the_operation() {
        let (r, events) = (registry(true), Recorder::default());
        let repo = r.repository(name("a/b"), &events);
        events.refuse.store(true, std::sync::atomic::Ordering::Relaxed);
        let d = Digest::of(drydock_spec::Algorithm::Sha256, b"x");
        assert!(matches!(repo.push_blob(&d, body(b"x")).await, Err(RegistryError::Storage(_))));
    }

    #[tokio::test]
    async fn mounts_report_their_source_and_need_the_blob_there() {
        let (r, events) = (registry(true), Recorder::default());
        let d = Digest::of(drydock_spec::Algorithm::Sha256, b"layer");
        r.repository(name("src"), &events).push_blob(&d, body(b"layer")).await.unwrap();
        events.take();
        let dst = r.repository(name("dst"), &events);
        assert_eq!(dst.mount(&d, Some(&name("elsewhere"))).await.unwrap(), None);
        assert!(events.take().is_empty(), "a mount that did not happen reports nothing");
        assert_eq!(dst.mount(&d, Some(&name("src"))).await.unwrap(), Some(5));
        let from = Some(name("src"));
        assert_eq!(events.take(), [("dst".to_owned(), RepositoryEvent::BlobMounted { digest: d, size: 5, from })]);
    }

    #[tokio::test]
    async fn manifest_push_pull_and_delete_report_each_step() {
        let (r, events) = (registry(true), Recorder::default());
        let repo = r.repository(name("img"), &events);
        let config = Digest::of(drydock_spec::Algorithm::Sha256, b"{}");
        repo.push_blob(&config, body(b"{}")).await.unwrap();
        let raw = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": drydock_spec::media_type::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [],
        }))
        .unwrap();
        let tag = Tag::parse("v1").unwrap();
        let manifest = Manifest::parse(raw.clone(), None).unwrap();
        events.take();
        let d = repo.put_manifest(manifest, None, std::slice::from_ref(&tag), None).await.unwrap();
        let m = repo.manifest(&Reference::Tag(tag.clone()), true).await.unwrap();
        assert_eq!(m.body, raw);
        repo.manifest(&Reference::Digest(d.clone()), false).await.unwrap();
        repo.delete_manifest(&d).await.unwrap();
        let media_type = drydock_spec::media_type::OCI_MANIFEST.to_owned();
        let size = raw.len() as u64;
        let got: Vec<RepositoryEvent> = events.take().into_iter().map(|(_, e)| e).collect();
        assert_eq!(
            got,
            [
                RepositoryEvent::ManifestPushed {
                    media_type: media_type.clone(),
                    digest: d.clone(),
                    size,
                    tag: Some(tag.clone())
                },
                RepositoryEvent::ManifestPulled { media_type, digest: d.clone(), size, tag: Some(tag.clone()) },
                RepositoryEvent::ManifestDeleted { digest: d.clone() },
                RepositoryEvent::TagDeleted { tag: tag.clone() },
            ]
        );
        assert!(matches!(repo.manifest(&Reference::Tag(tag), false).await, Err(RegistryError::ManifestUnknown(_))));
    }

    #[tokio::test]
    async fn a_manifest_over_missing_blobs_is_refused_and_not_reported() {
        let (r, events) = (registry(true), Recorder::default());
        let repo = r.repository(name("img"), &events);
        let absent = Digest::of(drydock_spec::Algorithm::Sha256, b"absent");
        let raw = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": drydock_spec::media_type::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": absent, "size": 6},
            "layers": [],
        }))
        .unwrap();
        let manifest = Manifest::parse(raw, None).unwrap();
        let refused = repo.put_manifest(manifest, None, &[Tag::parse("t").unwrap()], None).await;
        assert!(matches!(refused, Err(RegistryError::ManifestBlobUnknown(_))));
        assert!(events.take().is_empty());
        assert!(matches!(repo.tags().await, Err(RegistryError::NameUnknown(_))));
    }

    #[tokio::test]
    async fn a_refused_manifest_costs_reads_only() {
        let (r, events) = (registry(true), Recorder::default());
        let repo = r.repository(name("img"), &events);
        let config = Digest::of(drydock_spec::Algorithm::Sha256, b"{}");
        repo.push_blob(&config, body(b"{}")).await.unwrap();
        let before = r.driver.list("/drydock/gc/touched/sha256").await.unwrap().len();
        let layers: Vec<serde_json::Value> = (0..500u32)
            .map(|i| {
                let d = Digest::of(drydock_spec::Algorithm::Sha256, &i.to_be_bytes());
                serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": 4})
            })
            .collect();
        let raw = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": drydock_spec::media_type::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": layers,
        }))
        .unwrap();
        let refused = repo.put_manifest(Manifest::parse(raw, None).unwrap(), None, &[], None).await;
        assert!(matches!(refused, Err(RegistryError::ManifestBlobUnknown(_))));
        let after = r.driver.list("/drydock/gc/touched/sha256").await.unwrap().len();
        assert_eq!(after, before, "no touch file for a manifest that was refused");
    }

    #[tokio::test]
    async fn deletes_follow_the_registry_policy() {
        let (r, events) = (registry(false), Recorder::default());
        let repo = r.repository(name("a"), &events);
        let d = Digest::of(drydock_spec::Algorithm::Sha256, b"keep");
        repo.push_blob(&d, body(b"keep")).await.unwrap();
        events.take();
        assert!(matches!(repo.delete_blob(&d).await, Err(RegistryError::DeletesDisabled)));
        assert!(matches!(repo.delete_tag(&Tag::parse("t").unwrap()).await, Err(RegistryError::DeletesDisabled)));
        assert!(events.take().is_empty());
        assert_eq!(repo.blob(&d).await.unwrap().size, 4);
    }
}
