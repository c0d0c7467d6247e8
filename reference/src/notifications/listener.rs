//! Successful repository operations, as event targets. The HTTP handlers call
//! these after an operation has succeeded and before they answer; a failed
//! operation never reaches here, so it produces no event.

use drydock_spec::notification::{BLOB_MEDIA_TYPE, Target};
use drydock_spec::{Digest, RepositoryName};

/// Builds targets; `base` is `scheme://host` for the `url` field.
pub struct Listener<'a> {
    pub base: &'a str,
}

impl Listener<'_> {
    pub fn blob(&self, repo: &RepositoryName, digest: &Digest, size: u64) -> Target {
        Target {
            media_type: Some(BLOB_MEDIA_TYPE.to_owned()),
            size: Some(size),
            digest: Some(digest.to_string()),
            length: Some(size),
            repository: repo.to_string(),
            url: Some(format!("{}/v2/{repo}/blobs/{digest}", self.base)),
            ..Target::default()
        }
    }

    pub fn mounted_blob(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        size: u64,
        from: Option<&RepositoryName>,
    ) -> Target {
        Target { from_repository: from.map(|f| f.to_string()), ..self.blob(repo, digest, size) }
    }

    pub fn manifest(
        &self,
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
            url: Some(format!("{}/v2/{repo}/manifests/{digest}", self.base)),
            tag: tag.map(str::to_owned),
            ..Target::default()
        }
    }

    pub fn deleted(&self, repo: &RepositoryName, digest: &Digest) -> Target {
        Target { digest: Some(digest.to_string()), repository: repo.to_string(), ..Target::default() }
    }

    pub fn deleted_tag(&self, repo: &RepositoryName, tag: &str) -> Target {
        Target { repository: repo.to_string(), tag: Some(tag.to_owned()), ..Target::default() }
    }
}
