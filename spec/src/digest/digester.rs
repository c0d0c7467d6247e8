//! Streaming digests whose state can be saved mid-stream and restored later,
//! possibly by another process: a resumed upload continues hashing where the
//! previous request stopped instead of re-reading what is already stored.

use super::{Algorithm, Digest};
use digest::Digest as _;
use digest::common::hazmat::{SerializableState, SerializedState};
use sha2::{Sha256, Sha512};

/// Leading bytes of a saved state; the last byte is the format version.
const STATE_MAGIC: &[u8; 4] = b"DDS\x01";
const STATE_HEADER_LEN: usize = STATE_MAGIC.len() + 1 + 8;

#[derive(Clone)]
enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

/// An incremental hash over a byte stream for one registered algorithm.
#[derive(Clone)]
pub struct Digester {
    hasher: Hasher,
    len: u64,
}

/// Why a saved digester state could not be restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("digester state is truncated ({0} bytes)")]
    Truncated(usize),
    #[error("digester state has an unknown format marker")]
    BadMagic,
    #[error("digester state names unknown algorithm id {0}")]
    UnknownAlgorithm(u8),
    #[error("digester state for {algorithm} has {found} hash-state bytes, expected {expected}")]
    WrongLength { algorithm: Algorithm, expected: usize, found: usize },
    #[error("digester state is internally inconsistent")]
    Corrupt,
}

impl Digester {
    pub fn new(algorithm: Algorithm) -> Digester {
        let hasher = match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        };
        Digester { hasher, len: 0 }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.hasher {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Number of bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.hasher {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
        self.len += data.len() as u64;
    }

    /// Finishes the stream and returns its digest.
    pub fn finish(self) -> Digest {
        match self.hasher {
            Hasher::Sha256(h) => Digest::from_bytes(Algorithm::Sha256, &h.finalize()),
            Hasher::Sha512(h) => Digest::from_bytes(Algorithm::Sha512, &h.finalize()),
        }
    }

    /// The digest of what was hashed so far, leaving the stream open.
    pub fn current(&self) -> Digest {
        self.clone().finish()
    }

    /// Serializes the state: `magic ‖ algorithm id ‖ length (u64 LE) ‖ hash state`.
    ///
    /// The hash state is sha2's own serialization, so this stays valid as long
    /// as sha2 keeps its format; the magic's version byte changes if ours does.
    pub fn save(&self) -> Vec<u8> {
        let (id, state): (u8, &[u8]) = match &self.hasher {
            Hasher::Sha256(h) => (1, &h.serialize()),
            Hasher::Sha512(h) => (2, &h.serialize()),
        };
        let mut out = Vec::with_capacity(STATE_HEADER_LEN + state.len());
        out.extend_from_slice(STATE_MAGIC);
        out.push(id);
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(state);
        out
    }

    /// Restores a state produced by [`Digester::save`].
    pub fn restore(saved: &[u8]) -> Result<Digester, StateError> {
        if saved.len() < STATE_HEADER_LEN {
            return Err(StateError::Truncated(saved.len()));
        }
        let (header, state) = saved.split_at(STATE_HEADER_LEN);
        if &header[..4] != STATE_MAGIC {
            return Err(StateError::BadMagic);
        }
        let len = u64::from_le_bytes(header[5..13].try_into().expect("8 bytes"));
        let hasher = match header[4] {
            1 => Hasher::Sha256(deserialize::<Sha256>(Algorithm::Sha256, state)?),
            2 => Hasher::Sha512(deserialize::<Sha512>(Algorithm::Sha512, state)?),
            other => return Err(StateError::UnknownAlgorithm(other)),
        };
        if !counters_agree(header[4], state, len) {
            return Err(StateError::Corrupt);
        }
        Ok(Digester { hasher, len })
    }
}

/// sha2's state holds a count of compressed blocks and the fill of the
/// partial block; together they must equal the recorded stream length, or the
/// state was damaged or tampered with.
fn counters_agree(algorithm_id: u8, state: &[u8], len: u64) -> bool {
    use sha2::block_api::{Sha256VarCore, Sha512VarCore};
    let (core_len, counter_len, block) = match algorithm_id {
        1 => (SerializedState::<Sha256VarCore>::default().len(), 8, 64u128),
        _ => (SerializedState::<Sha512VarCore>::default().len(), 16, 128u128),
    };
    let mut counter = [0u8; 16];
    counter[..counter_len].copy_from_slice(&state[core_len - counter_len..core_len]);
    let blocks = u128::from_le_bytes(counter);
    let fill = u128::from(state[core_len]);
    blocks.checked_mul(block).and_then(|b| b.checked_add(fill)) == Some(u128::from(len))
}

fn deserialize<H: SerializableState>(algorithm: Algorithm, state: &[u8]) -> Result<H, StateError> {
    let expected = SerializedState::<H>::default().len();
    let arr = SerializedState::<H>::try_from(state).map_err(|_| StateError::WrongLength {
        algorithm,
        expected,
        found: state.len(),
    })?;
    H::deserialize(&arr).map_err(|_| StateError::Corrupt)
}

impl std::io::Write for Digester {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for Digester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Digester").field("algorithm", &self.algorithm()).field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_restore_mid_stream_matches_one_shot() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        for alg in Algorithm::ALL {
            let mut a = Digester::new(alg);
            a.update(&data[..333]);
            let saved = a.save();
            let mut b = Digester::restore(&saved).unwrap();
            assert_eq!(b.len(), 333);
            b.update(&data[333..]);
            assert_eq!(b.finish(), Digest::of(alg, &data));
        }
    }

    #[test]
    fn restore_rejects_damage() {
        let mut d = Digester::new(Algorithm::Sha256);
        d.update(b"hello");
        let saved = d.save();
        assert_eq!(Digester::restore(&saved[..5]).unwrap_err(), StateError::Truncated(5));
        let mut bad = saved.clone();
        bad[0] = b'X';
        assert_eq!(Digester::restore(&bad).unwrap_err(), StateError::BadMagic);
        let mut bad = saved.clone();
        bad[4] = 9;
        assert_eq!(Digester::restore(&bad).unwrap_err(), StateError::UnknownAlgorithm(9));
        let mut bad = saved.clone();
        bad.pop();
        assert!(matches!(Digester::restore(&bad), Err(StateError::WrongLength { .. })));
        let mut bad = saved.clone();
        bad[5] = 6; // claims 6 bytes hashed, buffer holds 5
        assert_eq!(Digester::restore(&bad).unwrap_err(), StateError::Corrupt);
    }
}
