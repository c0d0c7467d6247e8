//! Verified manifest bytes kept in memory, by digest.
//!
//! A manifest's bytes never change for its digest, so once read and
//! verified they can be served again without reading and hashing the
//! blob. The cache answers only "what are the bytes of this digest":
//! whether the repository still holds the manifest is asked of
//! storage on every request, so a delete (on any instance) is seen at once.

use super::bounded_cache::BoundedCache;
use bytes::Bytes;
use drydock_spec::Digest;

/// Bytes of manifests kept, at most.
pub const MANIFEST_CACHE_BYTES: usize = 32 << 20;

/// A cached manifest: its bytes and, when the body names it, its media type
/// (a body without `mediaType` is typed per repository, from storage).
#[derive(Clone)]
pub struct Cached {
    pub body: Bytes,
    pub self_type: Option<String>,
}

pub struct ManifestCache(BoundedCache<Cached>);

impl ManifestCache {
    pub fn new(limit: usize) -> ManifestCache {
        ManifestCache(BoundedCache::new(limit))
    }

    pub fn get(&self, digest: &Digest) -> Option<Cached> {
        self.0.get(digest)
    }

    /// Keeps `entry` for `digest`; the caller has verified that the bytes
    /// hash to it.
    pub fn insert(&self, digest: &Digest, entry: Cached) {
        debug_assert_eq!(&Digest::of(digest.algorithm(), &entry.body), digest, "only verified bytes are cached");
        let weight = entry.body.len();
        self.0.insert(digest, entry, weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_spec::Algorithm;

    #[test]
    fn manifests_are_kept_by_their_size() {
        let cache = ManifestCache::new(10);
        let body = |s: &'static [u8]| Cached { body: Bytes::from_static(s), self_type: None };
        let (a, b) = (Digest::of(Algorithm::Sha256, b"aaaa"), Digest::of(Algorithm::Sha256, b"bbbbbbb"));
        cache.insert(&a, body(b"aaaa"));
        assert_eq!(cache.get(&a).unwrap().body, &b"aaaa"[..]);
        cache.insert(&b, body(b"bbbbbbb"));
        assert!(cache.get(&a).is_none() && cache.get(&b).is_some(), "4 + 7 bytes exceed 10: the older goes");
    }
}
