//! Repository events as notification targets: what distribution's
//! repository listener turns each completed operation into. The registry
//! layer reports [`RepositoryEvent`]s; only successful operations are ever
//! reported, so a failed one produces no event.

use crate::registry::listener::RepositoryEvent;
use drydock_spec::notification::{Action, BLOB_MEDIA_TYPE, Target};
use drydock_spec::{Digest, RepositoryName};

/// The action and target of `event` in `repo`; `base` is `scheme://host`
/// for the `url` field.
pub fn target(base: &str, repo: &RepositoryName, event: &RepositoryEvent) -> (Action, Target) {
    match event {
        RepositoryEvent::BlobPushed { digest, size } => (Action::Push, blob(base, repo, digest, *size)),
        RepositoryEvent::BlobMounted { digest, size, from } => (
            Action::Mount,
            Target { from_repository: from.as_ref().map(|f| f.to_string()), ..blob(base, repo, digest, *size) },
        ),
        RepositoryEvent::BlobPulled { digest, size } => (Action::Pull, blob(base, repo, digest, *size)),
        RepositoryEvent::BlobDeleted { digest } | RepositoryEvent::ManifestDeleted { digest } => (
            Action::Delete,
            Target { digest: Some(digest.to_string()), repository: repo.to_string(), ..Target::default() },
        ),
        RepositoryEvent::ManifestPushed { media_type, digest, size, tag } => {
            (Action::Push, manifest(base, repo, media_type, digest, *size, tag.as_ref().map(|t| t.as_str())))
        }
        RepositoryEvent::ManifestPulled { media_type, digest, size, tag } => {
            (Action::Pull, manifest(base, repo, media_type, digest, *size, tag.as_ref().map(|t| t.as_str())))
        }
        RepositoryEvent::TagDeleted { tag } => {
            (Action::Delete, Target { repository: repo.to_string(), tag: Some(tag.to_string()), ..Target::default() })
        }
    }
}

fn blob(base: &str, repo: &RepositoryName, digest: &Digest, size: u64) -> Target {
    Target {
        media_type: Some(BLOB_MEDIA_TYPE.to_owned()),
        size: Some(size),
        digest: Some(digest.to_string()),
        length: Some(size),
        repository: repo.to_string(),
        url: Some(format!("{base}/v2/{repo}/blobs/{digest}")),
        ..Target::default()
    }
}

fn manifest(
    base: &str,
    repo: &RepositoryName,
    media_type: &str,
    digest: &Digest,
    size: u64,
    tag: Option<&str>,
) -> Target {
    Target {
        media_type: Some(media_type.to_owned()),
        size: Some(size),
        digest: Some(digest.to_string()),
        length: Some(size),
        repository: repo.to_string(),
        url: Some(format!("{base}/v2/{repo}/manifests/{digest}")),
        tag: tag.map(str::to_owned),
        ..Target::default()
    }
}
