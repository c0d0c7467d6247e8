//! What a verified read learned about a large blob: the BLAKE3 hash of each
//! [`PIECE_BYTES`] piece of the bytes that hashed to its digest.
//!
//! A download must never hand out bytes that do not hash to the blob's
//! digest, but SHA-256 runs at one core's speed, below the wire's. So the
//! first whole read of a blob hashes it with both: SHA-256 proves the bytes
//! are the blob, and the piece hashes, taken of the same bytes, are kept.
//! Later reads check each piece against its recorded hash (BLAKE3 is several
//! times faster), so they hand out only the bytes already proven, and a
//! damaged piece is caught before any of it leaves, ranges included.
//!
//! A push makes the record too: the bytes a push hashes to prove its digest
//! are the bytes it stores, so [`PieceHasher`] takes the piece hashes of the
//! same bytes as they go by, and the first read is already checked by
//! pieces.
//!
//! A record is a fact about a digest's content, not about the copy in
//! storage, so it never goes stale: a delete, a re-push or damage changes
//! nothing it says.

use super::bounded_cache::BoundedCache;
use bytes::Bytes;
use drydock_spec::Digest;
use std::collections::VecDeque;
use std::sync::Arc;

/// Bytes per piece: reads of a blob with a record go piece by piece.
pub const PIECE_BYTES: usize = 1 << 20;
/// Bytes of records kept, at most (32 bytes per MiB of blob: 16 MiB records
/// half a TiB of blobs).
pub const PIECE_RECORDS_BYTES: usize = 16 << 20;

/// The piece hashes of one blob.
#[derive(Debug)]
pub struct PieceRecord {
    size: u64,
    pieces: Vec<[u8; 32]>,
}

impl PieceRecord {
    /// The blob's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether `bytes` are exactly piece `index` of the blob.
    pub fn holds(&self, index: usize, bytes: &[u8]) -> bool {
        self.pieces.get(index).is_some_and(|h| *h == piece_hash(bytes))
    }
}

fn piece_hash(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// Pieces a recorder may have waiting for their hash at once: what the
/// record costs a download in memory, at most.
pub const HASHES_IN_FLIGHT: usize = 4;

/// Builds a record from a read that goes through the blob in order, whole
/// pieces at a time. Each piece is hashed in a task of its own, beside the
/// reader's SHA-256 (on another core when the runtime has one), at most
/// [`HASHES_IN_FLIGHT`] at a time.
#[derive(Debug, Default)]
pub struct PieceRecorder {
    size: u64,
    hashed: Vec<[u8; 32]>,
    hashing: VecDeque<tokio::task::JoinHandle<[u8; 32]>>,
    /// Set once a piece came that was not whole (only the last may be), or
    /// a hash was lost: no record.
    ended: bool,
    broken: bool,
}

impl PieceRecorder {
    /// Takes the next piece. A read that does not go piece by piece makes
    /// no record.
    pub async fn piece(&mut self, bytes: Bytes) {
        if self.broken || self.ended || bytes.len() > PIECE_BYTES {
            self.broken = true;
            self.hashing.clear();
            return;
        }
        self.ended = bytes.len() < PIECE_BYTES;
        self.size += bytes.len() as u64;
        while self.hashing.len() >= HASHES_IN_FLIGHT {
            self.settle_oldest().await;
        }
        self.hashing.push_back(tokio::spawn(async move { piece_hash(&bytes) }));
    }

    async fn settle_oldest(&mut self) {
        if let Some(task) = self.hashing.pop_front() {
            match task.await {
                Ok(hash) => self.hashed.push(hash),
                Err(_) => self.broken = true,
            }
        }
    }

    /// The record, once every piece of a `size`-byte blob was taken.
    pub async fn finish(mut self, size: u64) -> Option<PieceRecord> {
        while !self.hashing.is_empty() {
            self.settle_oldest().await;
        }
        let whole = !self.broken && self.size == size && self.hashed.len() == pieces_in(size);
        whole.then_some(PieceRecord { size, pieces: self.hashed })
    }
}

/// Takes a blob's bytes front to back, in chunks of any size, and keeps the
/// hash of each whole piece: the record of a push, taken beside the digest
/// that proves it.
#[derive(Clone)]
pub struct PieceHasher {
    pieces: Vec<[u8; 32]>,
    /// The piece being hashed, `size % PIECE_BYTES` bytes into it.
    current: blake3::Hasher,
    size: u64,
}

impl Default for PieceHasher {
    fn default() -> PieceHasher {
        PieceHasher { pieces: Vec::new(), current: blake3::Hasher::new(), size: 0 }
    }
}

impl std::fmt::Debug for PieceHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PieceHasher").field("size", &self.size).finish_non_exhaustive()
    }
}

impl PieceHasher {
    /// Bytes taken so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Memory the hasher holds, about: what a bounded set of them counts.
    pub fn weight(&self) -> usize {
        std::mem::size_of::<PieceHasher>() + self.pieces.capacity() * 32
    }

    /// Takes the next bytes of the blob.
    pub fn update(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let into = (self.size % PIECE_BYTES as u64) as usize;
            let take = (PIECE_BYTES - into).min(bytes.len());
            self.current.update(&bytes[..take]);
            self.size += take as u64;
            bytes = &bytes[take..];
            if into + take == PIECE_BYTES {
                self.pieces.push(*self.current.finalize().as_bytes());
                self.current.reset();
            }
        }
    }

    /// The record of the bytes taken. The caller must have proven that
    /// exactly these bytes hash to the digest it keeps the record under.
    pub fn finish(mut self) -> PieceRecord {
        if !self.size.is_multiple_of(PIECE_BYTES as u64) {
            self.pieces.push(*self.current.finalize().as_bytes());
        }
        debug_assert_eq!(self.pieces.len(), pieces_in(self.size));
        PieceRecord { size: self.size, pieces: self.pieces }
    }
}

fn pieces_in(size: u64) -> usize {
    usize::try_from(size.div_ceil(PIECE_BYTES as u64)).unwrap_or(usize::MAX)
}

/// Bytes of unfinished push records (uploads in progress here) kept, at
/// most: about two thousand uploads at once, or fewer very large ones.
pub const PENDING_RECORDS_BYTES: usize = 8 << 20;

/// The piece hashers of uploads in progress on this instance, by upload id,
/// within a byte budget (the longest untouched go first). A request that
/// goes on where an earlier one here stopped takes its hasher back; one
/// that finds none (the upload began elsewhere, or was evicted) makes no
/// record, and the blob's first read proves its pieces instead.
pub struct PendingRecords {
    limit: usize,
    inner: std::sync::Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    /// By upload id, with when each was put back (ordered by id, seeded by
    /// nothing: the simulation stays deterministic).
    hashers: std::collections::BTreeMap<String, (PieceHasher, u64)>,
    bytes: usize,
    clock: u64,
}

impl PendingRecords {
    pub fn new(limit: usize) -> PendingRecords {
        PendingRecords { limit, inner: Default::default() }
    }

    /// The hasher of upload `id` if it has taken exactly its first `size`
    /// bytes; any other is dropped (the upload went on elsewhere).
    pub fn take(&self, id: &str, size: u64) -> Option<PieceHasher> {
        self.remove(id).filter(|hasher| hasher.size() == size)
    }

    /// The hasher of upload `id`, whatever it has taken.
    pub fn remove(&self, id: &str) -> Option<PieceHasher> {
        let mut inner = self.lock();
        let (hasher, _) = inner.hashers.remove(id)?;
        inner.bytes -= hasher.weight();
        Some(hasher)
    }

    /// Keeps `hasher` for upload `id`'s next request.
    pub fn put(&self, id: &str, hasher: PieceHasher) {
        let weight = hasher.weight();
        if weight > self.limit {
            return;
        }
        self.remove(id);
        let mut inner = self.lock();
        while inner.bytes + weight > self.limit {
            let oldest = inner.hashers.iter().min_by_key(|(_, (_, at))| *at).map(|(id, _)| id.clone());
            let Some((old, _)) = oldest.and_then(|id| inner.hashers.remove(&id)) else { break };
            inner.bytes -= old.weight();
        }
        inner.clock += 1;
        let at = inner.clock;
        inner.bytes += weight;
        inner.hashers.insert(id.to_owned(), (hasher, at));
    }

    /// Forgets upload `id` (committed or removed).
    pub fn forget(&self, id: &str) {
        self.remove(id);
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Records by digest, within [`PIECE_RECORDS_BYTES`].
pub struct PieceRecords(BoundedCache<Arc<PieceRecord>>);

impl PieceRecords {
    pub fn new(limit: usize) -> PieceRecords {
        PieceRecords(BoundedCache::new(limit))
    }

    pub fn get(&self, digest: &Digest) -> Option<Arc<PieceRecord>> {
        self.0.get(digest)
    }

    /// Keeps `record` for `digest`. The caller has verified that the bytes
    /// the record was taken of hash to `digest`.
    pub fn insert(&self, digest: &Digest, record: PieceRecord) {
        let weight = record.pieces.len() * 32 + 64;
        self.0.insert(digest, Arc::new(record), weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn record_of(data: &[u8]) -> Option<PieceRecord> {
        let mut recorder = PieceRecorder::default();
        for p in data.chunks(PIECE_BYTES) {
            recorder.piece(Bytes::copy_from_slice(p)).await;
        }
        recorder.finish(data.len() as u64).await
    }

    #[tokio::test]
    async fn a_record_holds_exactly_the_pieces_it_was_taken_of() {
        let data: Vec<u8> = (0..PIECE_BYTES * 2 + 10).map(|i| (i % 251) as u8).collect();
        let record = record_of(&data).await.unwrap();
        assert_eq!(record.size(), data.len() as u64);
        for (i, piece) in data.chunks(PIECE_BYTES).enumerate() {
            assert!(record.holds(i, piece));
        }
        let mut flipped = data[PIECE_BYTES..PIECE_BYTES * 2].to_vec();
        flipped[7] ^= 1;
        assert!(!record.holds(1, &flipped), "one flipped bit");
        assert!(!record.holds(2, &data[PIECE_BYTES * 2..PIECE_BYTES * 2 + 9]), "a piece cut short");
        assert!(!record.holds(3, b""), "no piece past the end");
    }

    #[tokio::test]
    async fn a_push_records_the_same_pieces_however_its_bytes_are_cut() {
        let data: Vec<u8> = (0..PIECE_BYTES * 3 + 77).map(|i| (i * 7 % 253) as u8).collect();
        let read = record_of(&data).await.unwrap();
        for cut in [1, 1000, PIECE_BYTES - 1, PIECE_BYTES, PIECE_BYTES + 3, 4 * PIECE_BYTES] {
            let mut hasher = PieceHasher::default();
            for chunk in data.chunks(cut) {
                hasher.update(chunk);
            }
            assert_eq!(hasher.size(), data.len() as u64);
            let pushed = hasher.finish();
            assert_eq!((pushed.size, &pushed.pieces), (read.size, &read.pieces), "cut every {cut} bytes");
        }
        let mut exact = PieceHasher::default();
        exact.update(&data[..PIECE_BYTES * 2]);
        let exact = exact.finish();
        assert_eq!(exact.pieces.len(), 2, "no empty piece after a whole last one");
        assert!(exact.holds(1, &data[PIECE_BYTES..PIECE_BYTES * 2]));
        assert!(PieceHasher::default().finish().pieces.is_empty());
    }

    #[test]
    fn pending_records_go_on_only_where_they_stopped_and_stay_within_their_budget() {
        let mut one = PieceHasher::default();
        one.update(&[1; 10]);
        let weight = one.weight();
        let pending = PendingRecords::new(weight * 2);
        pending.put("a", one.clone());
        assert!(pending.take("a", 9).is_none(), "the upload is elsewhere now");
        assert!(pending.take("a", 10).is_none(), "a mismatch drops it");
        pending.put("a", one.clone());
        assert_eq!(pending.take("a", 10).map(|h| h.size()), Some(10));
        assert!(pending.take("a", 10).is_none(), "taken: one request at a time");
        pending.put("a", one.clone());
        pending.put("b", one.clone());
        pending.put("a", one.clone());
        pending.put("c", one.clone());
        assert!(pending.take("b", 10).is_none(), "the longest untouched went first");
        assert!(pending.take("a", 10).is_some() && pending.take("c", 10).is_some());
        assert_eq!(pending.bytes(), 0);
        pending.put("d", one);
        pending.forget("d");
        assert_eq!(pending.bytes(), 0);
    }

    #[tokio::test]
    async fn only_a_whole_read_in_pieces_makes_a_record() {
        let data = Bytes::from(vec![7u8; PIECE_BYTES + 1]);
        assert!(record_of(&data).await.is_some());
        let mut short = PieceRecorder::default();
        short.piece(data.slice(..PIECE_BYTES)).await;
        assert!(short.finish(data.len() as u64).await.is_none(), "a piece missing");
        let mut uneven = PieceRecorder::default();
        uneven.piece(data.slice(..10)).await;
        uneven.piece(data.slice(10..)).await;
        assert!(uneven.finish(data.len() as u64).await.is_none(), "not cut at piece boundaries");
    }
}
