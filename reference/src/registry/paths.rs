//! The storage layout, compatible with distribution's (`docker/registry/v2`).
//!
//! ```text
//! <root>/docker/registry/v2/
//!   blobs/<alg>/<first two hex>/<hex>/data            content, addressed by digest
//!   repositories/<name>/
//!     _layers/<alg>/<hex>/link                        blobs this repository may serve
//!     _manifests/revisions/<alg>/<hex>/link           manifests this repository holds
//!     _manifests/revisions/<alg>/<hex>/mediatype      (drydock) the pushed type of a body without mediaType
//!     _manifests/tags/<tag>/current/link              what the tag points at now
//!     _manifests/tags/<tag>/index/<alg>/<hex>/link    every digest the tag has pointed at
//!     _uploads/<id>/{data,startedat,hashstates/<alg>/<offset>}
//!     _uploads/<id>/sealed                            data, moved aside by a commit
//!     _referrers/<alg>/<subject hex>/<alg>/<referrer hex>/link   manifests whose subject it is
//! ```
//!
//! Components next to user names start with `_`, which no repository-name
//! component can, so `library/_layers` can never collide with a repository.

use drydock_spec::{Algorithm, Digest, RepositoryName, Tag};

pub const ROOT: &str = "/docker/registry/v2";

pub fn repositories() -> String {
    format!("{ROOT}/repositories")
}

pub fn blob_data(d: &Digest) -> String {
    format!("{ROOT}/blobs/{}/{}/{}/data", d.algorithm(), &d.hex()[..2], d.hex())
}

pub fn repository(repo: &RepositoryName) -> String {
    format!("{ROOT}/repositories/{repo}")
}

pub fn layer_link(repo: &RepositoryName, d: &Digest) -> String {
    format!("{ROOT}/repositories/{repo}/_layers/{}/{}/link", d.algorithm(), d.hex())
}

pub fn revision_link(repo: &RepositoryName, d: &Digest) -> String {
    format!("{ROOT}/repositories/{repo}/_manifests/revisions/{}/{}/link", d.algorithm(), d.hex())
}

/// The media type a manifest was pushed with, kept only when its body does
/// not name one (distribution drops it and serves such a manifest as OCI).
pub fn revision_media_type(repo: &RepositoryName, d: &Digest) -> String {
    format!("{ROOT}/repositories/{repo}/_manifests/revisions/{}/{}/mediatype", d.algorithm(), d.hex())
}

pub fn revisions_dir(repo: &RepositoryName, alg: Algorithm) -> String {
    format!("{ROOT}/repositories/{repo}/_manifests/revisions/{alg}")
}

pub fn tags_dir(repo: &RepositoryName) -> String {
    format!("{ROOT}/repositories/{repo}/_manifests/tags")
}

pub fn tag_dir(repo: &RepositoryName, tag: &Tag) -> String {
    format!("{ROOT}/repositories/{repo}/_manifests/tags/{tag}")
}

pub fn tag_current_link(repo: &RepositoryName, tag: &Tag) -> String {
    format!("{}/current/link", tag_dir(repo, tag))
}

pub fn tag_index_link(repo: &RepositoryName, tag: &Tag, d: &Digest) -> String {
    format!("{}/index/{}/{}/link", tag_dir(repo, tag), d.algorithm(), d.hex())
}

pub fn upload_dir(repo: &RepositoryName, id: &str) -> String {
    format!("{ROOT}/repositories/{repo}/_uploads/{id}")
}

pub fn upload_data(repo: &RepositoryName, id: &str) -> String {
    format!("{}/data", upload_dir(repo, id))
}

/// Where a commit moves `data` before verifying it: no append reaches it
/// there.
pub fn upload_sealed(repo: &RepositoryName, id: &str) -> String {
    format!("{}/sealed", upload_dir(repo, id))
}

/// Where a segmented upload (see `upload_data`) keeps its segments.
pub fn upload_segments(repo: &RepositoryName, id: &str) -> String {
    format!("{}/segments", upload_dir(repo, id))
}

/// A segment, named by its offset, zero-padded so names sort as offsets do.
pub fn upload_segment(repo: &RepositoryName, id: &str, offset: u64) -> String {
    format!("{}/{offset:020}", upload_segments(repo, id))
}

/// Written when a segmented upload's commit begins: appends stop.
pub fn upload_sealing(repo: &RepositoryName, id: &str) -> String {
    format!("{}/sealing", upload_dir(repo, id))
}

/// The segments a segmented upload's commit takes.
pub fn upload_seal(repo: &RepositoryName, id: &str) -> String {
    format!("{}/seal", upload_dir(repo, id))
}

pub fn upload_started_at(repo: &RepositoryName, id: &str) -> String {
    format!("{}/startedat", upload_dir(repo, id))
}

pub fn upload_hash_states(repo: &RepositoryName, id: &str, alg: Algorithm) -> String {
    format!("{}/hashstates/{alg}", upload_dir(repo, id))
}

pub fn upload_hash_state(repo: &RepositoryName, id: &str, alg: Algorithm, offset: u64) -> String {
    format!("{}/{offset}", upload_hash_states(repo, id, alg))
}

pub fn referrers_dir(repo: &RepositoryName, subject: &Digest) -> String {
    format!("{ROOT}/repositories/{repo}/_referrers/{}/{}", subject.algorithm(), subject.hex())
}

pub fn referrer_link(repo: &RepositoryName, subject: &Digest, referrer: &Digest) -> String {
    format!("{}/{}/{}/link", referrers_dir(repo, subject), referrer.algorithm(), referrer.hex())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_distribution() {
        let repo = RepositoryName::parse("library/ubuntu").unwrap();
        let d = Algorithm::Sha256.empty_digest();
        assert_eq!(
            blob_data(&d),
            "/docker/registry/v2/blobs/sha256/e3/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/data"
        );
        assert_eq!(
            layer_link(&repo, &d),
            "/docker/registry/v2/repositories/library/ubuntu/_layers/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/link"
        );
        let tag = Tag::parse("latest").unwrap();
        assert_eq!(
            tag_current_link(&repo, &tag),
            "/docker/registry/v2/repositories/library/ubuntu/_manifests/tags/latest/current/link"
        );
    }
}
