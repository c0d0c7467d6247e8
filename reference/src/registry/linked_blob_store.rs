//! A repository's view of the blob store: a blob exists for the repository
//! only if the repository links it *and* the content is stored. Two kinds of
//! links use this: layers (`_layers`) and manifest revisions.

use super::blob_store::BlobStore;
use super::paths;
use crate::storage::{Result, StorageDriver};
use bytes::Bytes;
use drydock_spec::{Digest, RepositoryName};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Layer,
    Revision,
}

#[derive(Clone)]
pub struct LinkedBlobStore {
    driver: Arc<dyn StorageDriver>,
    blobs: BlobStore,
    kind: LinkKind,
}

impl LinkedBlobStore {
    pub fn new(driver: Arc<dyn StorageDriver>, blobs: BlobStore, kind: LinkKind) -> LinkedBlobStore {
        LinkedBlobStore { driver, blobs, kind }
    }

    fn link_path(&self, repo: &RepositoryName, d: &Digest) -> String {
        match self.kind {
            LinkKind::Layer => paths::layer_link(repo, d),
            LinkKind::Revision => paths::revision_link(repo, d),
        }
    }

    /// Size of the blob as this repository sees it.
    pub async fn size(&self, repo: &RepositoryName, d: &Digest) -> Result<Option<u64>> {
        match self.driver.get_content(&self.link_path(repo, d)).await {
            Ok(target) if target.as_ref() == d.as_str().as_bytes() => self.blobs.size(d).await,
            Ok(_) => Ok(None), // a link that names other content is not a link to this
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the repository links `d`, from the link alone (not whether
    /// the blob it names is still there: see [`Self::size`]).
    pub async fn linked(&self, repo: &RepositoryName, d: &Digest) -> Result<bool> {
        match self.driver.get_content(&self.link_path(repo, d)).await {
            Ok(target) => Ok(target.as_ref() == d.as_str().as_bytes()),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn link(&self, repo: &RepositoryName, d: &Digest) -> Result<()> {
        self.driver.put_content(&self.link_path(repo, d), Bytes::from(d.to_string())).await
    }

    /// Removes the link; `false` if there was none.
    pub async fn unlink(&self, repo: &RepositoryName, d: &Digest) -> Result<bool> {
        let link = self.link_path(repo, d);
        match self.driver.delete(link.trim_end_matches("/link")).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}
