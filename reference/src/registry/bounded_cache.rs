//! A map from digest to something learned about that digest's content, held
//! within a byte budget: the oldest entries go first.
//!
//! Only facts that can never go stale belong here: a digest names its
//! content forever, so what was verified about the content stays true
//! whatever later happens to the copy in storage.

use drydock_spec::Digest;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

#[derive(Default)]
struct Inner<V> {
    /// Ordered by digest, seeded by nothing: the simulation's runs stay
    /// deterministic.
    entries: BTreeMap<Digest, (V, usize)>,
    /// Insertion order, oldest first: what is evicted first.
    order: VecDeque<Digest>,
    bytes: usize,
}

pub struct BoundedCache<V> {
    limit: usize,
    inner: Mutex<Inner<V>>,
}

impl<V: Clone> BoundedCache<V> {
    pub fn new(limit: usize) -> BoundedCache<V> {
        BoundedCache { limit, inner: Mutex::new(Inner { entries: BTreeMap::new(), order: VecDeque::new(), bytes: 0 }) }
    }

    pub fn get(&self, digest: &Digest) -> Option<V> {
        self.lock().entries.get(digest).map(|(v, _)| v.clone())
    }

    /// Keeps `value`, which occupies `weight` bytes, for `digest`; evicts the
    /// oldest entries beyond the limit. A value heavier than the whole limit
    /// is not kept, and a digest already held keeps its first value.
    pub fn insert(&self, digest: &Digest, value: V, weight: usize) {
        if weight > self.limit {
            return;
        }
        let mut inner = self.lock();
        if inner.entries.contains_key(digest) {
            return;
        }
        while inner.bytes + weight > self.limit {
            let Some(oldest) = inner.order.pop_front() else { break };
            if let Some((_, w)) = inner.entries.remove(&oldest) {
                inner.bytes -= w;
            }
        }
        inner.bytes += weight;
        inner.order.push_back(digest.clone());
        inner.entries.insert(digest.clone(), (value, weight));
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_spec::Algorithm;

    #[test]
    fn keeps_within_its_limit_evicting_the_oldest() {
        let cache = BoundedCache::new(10);
        let [a, b, c, big] = [b"a", b"b", b"c", b"d"].map(|s| Digest::of(Algorithm::Sha256, s));
        cache.insert(&a, 'a', 4);
        cache.insert(&b, 'b', 4);
        assert!(cache.get(&a).is_some() && cache.get(&b).is_some());
        cache.insert(&c, 'c', 4);
        assert!(cache.get(&a).is_none(), "the oldest goes first");
        assert_eq!(cache.get(&c), Some('c'));
        cache.insert(&big, 'd', 11);
        assert!(cache.get(&big).is_none() && cache.get(&b).is_some(), "too big to keep; nothing evicted for it");
        cache.insert(&b, 'x', 4);
        assert_eq!(cache.get(&b), Some('b'), "the first value stays");
        assert_eq!(cache.bytes(), 8);
    }
}
