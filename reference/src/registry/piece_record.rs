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

fn pieces_in(size: u64) -> usize {
    usize::try_from(size.div_ceil(PIECE_BYTES as u64)).unwrap_or(usize::MAX)
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
