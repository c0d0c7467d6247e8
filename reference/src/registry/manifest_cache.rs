//! Verified manifest bytes kept in memory, by digest.
//!
//! A manifest's bytes never change for its digest, so once read and
//! verified they can be served again without reading and hashing the blob. The cache answers only "what are the bytes of this
//! digest": whether the repository still holds the manifest is asked of
//! storage on every request, so a delete (on any instance) is seen at once.

use bytes::Bytes;
use drydock_spec::Digest;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

/// Bytes of manifests kept, at most.
pub const MANIFEST_CACHE_BYTES: usize = 32 << 20;

/// A cached manifest: its bytes and, when the body names it, its media type
/// (a body without `mediaType` is typed per repository, from storage).
#[derive(Clone)]
pub struct Cached {
    pub body: Bytes,
    pub self_type: Option<String>,
}

#[derive(Default)]
struct Inner {
    /// Ordered by digest, seeded by nothing: the simulation's runs stay
    /// deterministic.
    entries: BTreeMap<Digest, Cached>,
    /// Insertion order, oldest first: what is evicted first.
    order: VecDeque<Digest>,
    bytes: usize,
}

pub struct ManifestCache {
    limit: usize,
    inner: Mutex<Inner>,
}

impl ManifestCache {
    pub fn new(limit: usize) -> ManifestCache {
        ManifestCache { limit, inner: Mutex::default() }
    }

    pub fn get(&self, digest: &Digest) -> Option<Cached> {
        self.lock().entries.get(digest).cloned()
    }

    /// Keeps `entry` for `digest`; the caller has verified that the bytes
    /// hash to it. Evicts the oldest entries beyond the limit; a manifest
    /// larger than the whole limit is not kept.
    pub fn insert(&self, digest: &Digest, entry: Cached) {
        debug_assert_eq!(&Digest::of(digest.algorithm(), &entry.body), digest, "only verified bytes are cached");
        let size = entry.body.len();
        if size > self.limit {
            return;
        }
        let mut inner = self.lock();
        if inner.entries.contains_key(digest) {
            return;
        }
        while inner.bytes + size > self.limit {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some(evicted) = inner.entries.remove(&oldest) {
                inner.bytes -= evicted.body.len();
            }
        }
        inner.bytes += size;
        inner.order.push_back(digest.clone());
        inner.entries.insert(digest.clone(), entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_spec::Algorithm;

    fn entry(body: &[u8]) -> (Digest, Cached) {
        (Digest::of(Algorithm::Sha256, body), Cached { body: Bytes::copy_from_slice(body), self_type: None })
    }

    #[test]
    fn keeps_within_its_limit_evicting_the_oldest() {
        let cache = ManifestCache::new(10);
        let (a, ea) = entry(b"aaaa");
        let (b, eb) = entry(b"bbbb");
        let (c, ec) = entry(b"cccc");
        cache.insert(&a, ea);
        cache.insert(&b, eb);
        assert!(cache.get(&a).is_some() && cache.get(&b).is_some());
        cache.insert(&c, ec);
        assert!(cache.get(&a).is_none(), "the oldest goes first");
        assert_eq!(cache.get(&c).unwrap().body, &b"cccc"[..]);
        let (big, ebig) = entry(b"more than ten bytes");
        cache.insert(&big, ebig);
        assert!(cache.get(&big).is_none() && cache.get(&b).is_some(), "too big to keep; nothing evicted for it");
        assert!(cache.lock().bytes <= 10);
    }
}
