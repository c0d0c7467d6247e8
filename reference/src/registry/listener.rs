//! What a repository reports about the operations it completes: the seam
//! through which events leave the registry layer (distribution's
//! `notifications.Listen` idea). A [`super::Repository`] is handed a
//! listener when it is made, and every operation that succeeds reports to it
//! before returning, so no operation can forget its event and the registry
//! layer knows nothing about webhooks.

use super::error::Result;
use async_trait::async_trait;
use drydock_spec::{Digest, RepositoryName, Tag};

/// One completed repository operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepositoryEvent {
    BlobPushed {
        digest: Digest,
        size: u64,
    },
    BlobMounted {
        digest: Digest,
        size: u64,
        from: Option<RepositoryName>,
    },
    BlobPulled {
        digest: Digest,
        size: u64,
    },
    BlobDeleted {
        digest: Digest,
    },
    ManifestPushed {
        media_type: String,
        digest: Digest,
        size: u64,
        tag: Option<Tag>,
    },
    /// `tag` is the reference the manifest was asked for by, if a tag.
    ManifestPulled {
        media_type: String,
        digest: Digest,
        size: u64,
        tag: Option<Tag>,
    },
    ManifestDeleted {
        digest: Digest,
    },
    TagDeleted {
        tag: Tag,
    },
}

/// Receives the events of one repository's operations.
#[async_trait]
pub trait Listener: Send + Sync {
    /// Called once an operation has succeeded and before it is acknowledged.
    /// An error fails the operation (the storage is changed, but the client
    /// hears of a failure and retries): an event that cannot be recorded is
    /// never acknowledged.
    async fn record(&self, repo: &RepositoryName, event: RepositoryEvent) -> Result<()>;
}

/// A listener that drops every event (offline tools, tests).
pub struct NoListener;

#[async_trait]
impl Listener for NoListener {
    async fn record(&self, _: &RepositoryName, _: RepositoryEvent) -> Result<()> {
        Ok(())
    }
}
