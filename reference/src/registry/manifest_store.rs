//! Manifests: stored as blobs, linked as revisions, named by tags.

use super::blob_store::BlobStore;
use super::error::{RegistryError, Result};
use super::linked_blob_store::LinkedBlobStore;
use super::manifest_cache::{Cached, ManifestCache};
use super::paths;
use super::referrers::ReferrersStore;
use super::tag_store::TagStore;
use super::validation::ManifestRules;
use crate::storage::StorageDriver;
use bytes::Bytes;
use drydock_spec::manifest::{Descriptor, Role};
use drydock_spec::{Algorithm, Digest, Manifest, RepositoryName, Tag};
use std::sync::Arc;
use std::time::SystemTime;

/// The digest algorithm manifests are addressed by when pushed by tag.
pub const MANIFEST_ALGORITHM: Algorithm = Algorithm::Sha256;

#[derive(Clone)]
pub struct ManifestStore {
    pub(super) driver: Arc<dyn StorageDriver>,
    pub(super) blobs: BlobStore,
    pub(super) layers: LinkedBlobStore,
    pub(super) revisions: LinkedBlobStore,
    pub(super) tags: TagStore,
    pub(super) referrers: ReferrersStore,
    /// Verified bytes of manifests read before (the link is still checked
    /// on every read).
    pub(super) cache: Arc<ManifestCache>,
    /// What a push must satisfy beyond well-formedness.
    pub rules: ManifestRules,
}

/// A stored manifest as served.
pub struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub body: Bytes,
}

impl ManifestStore {
    /// Validates and stores a manifest. `digest_in_url`, when the PUT named a
    /// digest, must match the body; each of `tags` is pointed at it
    /// afterwards (with `if_match`, only if the tag still points there). The
    /// manifest and every blob it needs are touched (as of `now`) and then
    /// found present, so a garbage collection sweeping meanwhile keeps them;
    /// a manifest refused for a missing reference touches nothing.
    pub async fn put(
        &self,
        repo: &RepositoryName,
        manifest: Manifest,
        digest_in_url: Option<&Digest>,
        tags: &[Tag],
        if_match: Option<&Digest>,
        now: SystemTime,
    ) -> Result<Digest> {
        let algorithm = digest_in_url.map_or(MANIFEST_ALGORITHM, Digest::algorithm);
        let digest = manifest.digest(algorithm);
        if let Some(expected) = digest_in_url
            && expected != &digest
        {
            return Err(RegistryError::DigestMismatch { expected: expected.clone(), actual: digest });
        }
        for (_, d) in manifest.references() {
            self.rules.check_urls(d).map_err(|e| RegistryError::ManifestInvalid(e.to_string()))?;
        }
        let required: Vec<(Role, &Descriptor)> =
            manifest.references().filter(|(role, d)| self.rules.must_be_present(*role, d)).collect();
        // Checked first, so a refused manifest costs reads only (no touch
        // file per absent blob); then touched, so a garbage collection
        // sweeping meanwhile keeps them; then checked again, since one
        // could have gone between the first check and its touch.
        self.check_present(repo, &required).await?;
        let wanted = required.iter().map(|(_, d)| &d.digest);
        futures_util::future::try_join_all(std::iter::once(&digest).chain(wanted).map(|d| self.blobs.touch(d, now)))
            .await?;
        self.check_present(repo, &required).await?;
        let subject = manifest.subject.as_ref().map(|s| s.digest.clone());
        // Written before the revision link: a manifest is never visible
        // with a type other than the one it was pushed with.
        if !manifest.is_self_typed() {
            let media_type = Bytes::from_static(manifest.media_type().as_bytes());
            self.driver.put_content(&paths::revision_media_type(repo, &digest), media_type).await?;
        }
        let stored = self.blobs.put(algorithm, Bytes::from(manifest.into_raw())).await?;
        debug_assert_eq!(stored, digest);
        // The referrers entry first: a manifest visible by digest is always
        // visible to the referrers API too.
        if let Some(subject) = &subject {
            self.referrers.add(repo, subject, &digest).await?;
        }
        self.revisions.link(repo, &digest).await?;
        for tag in tags {
            self.tags.put(repo, tag, &digest, if_match).await?;
        }
        Ok(digest)
    }

    /// Every required reference is in the repository at its declared size.
    async fn check_present(&self, repo: &RepositoryName, required: &[(Role, &Descriptor)]) -> Result<()> {
        for (role, d) in required {
            let present = match role {
                Role::Config | Role::Layer => self.layers.size(repo, &d.digest).await?,
                Role::Manifest => self.revisions.size(repo, &d.digest).await?,
                Role::Subject => continue,
            };
            match present {
                Some(size) if size == d.size => {}
                Some(size) => {
                    return Err(RegistryError::ManifestInvalid(format!(
                        "descriptor {} declares size {} but the stored content is {size} bytes",
                        d.digest, d.size
                    )));
                }
                None => return Err(RegistryError::ManifestBlobUnknown(d.digest.clone())),
            }
        }
        Ok(())
    }

    pub async fn get(&self, repo: &RepositoryName, digest: &Digest) -> Result<StoredManifest> {
        let cached = match self.cache.get(digest) {
            // The bytes are in hand: only the repository's link is asked.
            Some(cached) => {
                if !self.revisions.linked(repo, digest).await? {
                    return Err(RegistryError::ManifestUnknown(digest.to_string()));
                }
                cached
            }
            None => {
                if self.revisions.size(repo, digest).await?.is_none() {
                    return Err(RegistryError::ManifestUnknown(digest.to_string()));
                }
                // A damaged manifest is answered as missing (and logged).
                let Some(body) = self.blobs.get_verified(digest).await? else {
                    return Err(RegistryError::ManifestUnknown(digest.to_string()));
                };
                let self_type = match Manifest::parse(body.to_vec(), None) {
                    Ok(m) if m.is_self_typed() => Some(m.media_type().to_owned()),
                    _ => None,
                };
                let cached = Cached { body, self_type };
                self.cache.insert(digest, cached.clone());
                cached
            }
        };
        let media_type = match cached.self_type {
            Some(t) => t,
            // The type it was pushed with, where the body does not say.
            None => match self.driver.get_content(&paths::revision_media_type(repo, digest)).await {
                Ok(t) => String::from_utf8_lossy(&t).into_owned(),
                Err(e) if e.is_not_found() => drydock_spec::media_type::OCI_MANIFEST.to_owned(),
                Err(e) => return Err(e.into()),
            },
        };
        Ok(StoredManifest { digest: digest.clone(), media_type, body: cached.body })
    }

    /// The cached bytes of `digest` as served, without asking storage
    /// anything (for the `cached-manifest-skips-link` mutant only).
    #[cfg(feature = "sim-mutants")]
    pub fn cached(&self, digest: &Digest) -> Option<StoredManifest> {
        let cached = self.cache.get(digest)?;
        let media_type = cached.self_type?;
        Some(StoredManifest { digest: digest.clone(), media_type, body: cached.body })
    }

    pub async fn resolve_tag(&self, repo: &RepositoryName, tag: &Tag) -> Result<Digest> {
        self.tags.get(repo, tag).await?.ok_or_else(|| RegistryError::ManifestUnknown(tag.to_string()))
    }

    /// Deletes a manifest revision and every tag that points at it; returns
    /// those tags.
    pub async fn delete(&self, repo: &RepositoryName, digest: &Digest) -> Result<Vec<Tag>> {
        if self.revisions.size(repo, digest).await?.is_none() {
            return Err(RegistryError::ManifestUnknown(digest.to_string()));
        }
        let tags = self.tags.tags_for(repo, digest).await?;
        for tag in &tags {
            self.tags.delete(repo, tag).await?;
        }
        self.revisions.unlink(repo, digest).await?;
        if let Some(body) = self.blobs.get_verified(digest).await?
            && let Ok(m) = Manifest::parse(body.to_vec(), None)
            && let Some(subject) = &m.subject
        {
            self.referrers.remove(repo, &subject.digest, digest).await?;
        }
        Ok(tags)
    }
}
