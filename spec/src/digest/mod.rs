//! Content digests: `algorithm:encoded`, as the OCI image spec defines them.
//!
//! Grammar (image-spec `descriptor.md`):
//!
//! ```text
//! digest              ::= algorithm ":" encoded
//! algorithm           ::= algorithm-component (algorithm-separator algorithm-component)*
//! algorithm-component ::= [a-z0-9]+
//! algorithm-separator ::= [+._-]
//! encoded             ::= [a-zA-Z0-9=_-]+
//! ```
//!
//! Only the registered algorithms `sha256` and `sha512` are accepted; their
//! encoded part must be lowercase hex of exactly the hash's length. A string
//! that fits the grammar but names another algorithm is reported as
//! [`DigestError::UnsupportedAlgorithm`], not as malformed, because the
//! protocol answers the two differently (`UNSUPPORTED` vs `DIGEST_INVALID`).

mod digester;
mod verifier;

pub use digester::{Digester, StateError};
pub use verifier::{Mismatch, Verifier};

use std::fmt;
use std::str::FromStr;

/// A registered digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// Every registered algorithm, in a stable order.
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Sha512];

    /// The name used in the `algorithm:` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the encoded (hex) part.
    pub const fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Looks up a registered algorithm by its name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The digest of empty content under this algorithm.
    pub fn empty_digest(self) -> Digest {
        Digester::new(self).finish()
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, DigestError> {
        if !algorithm_grammar_ok(s) {
            return Err(DigestError::Malformed {
                input: s.to_owned(),
                reason: "the algorithm must be lowercase alphanumeric components joined by '+', '.', '_' or '-'",
            });
        }
        Algorithm::from_name(s).ok_or_else(|| DigestError::UnsupportedAlgorithm(s.to_owned()))
    }
}

/// Why a string is not an acceptable digest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("malformed digest {input:?}: {reason}")]
    Malformed { input: String, reason: &'static str },
    #[error("unsupported digest algorithm {0:?} (registered: sha256, sha512)")]
    UnsupportedAlgorithm(String),
    #[error("invalid {algorithm} digest {input:?}: {reason}")]
    InvalidEncoding { algorithm: Algorithm, input: String, reason: String },
}

/// A validated digest in canonical form (`sha256:<64 lowercase hex>`).
///
/// Equality, ordering and hashing are those of the canonical string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    text: Box<str>,
    algorithm: Algorithm,
}

impl Digest {
    /// Parses and validates a digest string.
    pub fn parse(input: &str) -> Result<Digest, DigestError> {
        let malformed = |reason| DigestError::Malformed { input: input.to_owned(), reason };
        let (alg, encoded) = input.split_once(':').ok_or_else(|| malformed("expected 'algorithm:encoded'"))?;
        if !algorithm_grammar_ok(alg) {
            return Err(malformed(
                "the algorithm must be lowercase alphanumeric components joined by '+', '.', '_' or '-'",
            ));
        }
        if encoded.is_empty() || !encoded.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        {
            return Err(malformed("the encoded part must be one or more of [a-zA-Z0-9=_-]"));
        }
        let algorithm = Algorithm::from_name(alg).ok_or_else(|| DigestError::UnsupportedAlgorithm(alg.to_owned()))?;
        Digest::from_parts(algorithm, encoded).map_err(|reason| DigestError::InvalidEncoding {
            algorithm,
            input: input.to_owned(),
            reason,
        })
    }

    /// Builds a digest from an algorithm and its hex encoding.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Digest, DigestError> {
        Digest::from_parts(algorithm, hex).map_err(|reason| DigestError::InvalidEncoding {
            algorithm,
            input: format!("{algorithm}:{hex}"),
            reason,
        })
    }

    fn from_parts(algorithm: Algorithm, hex: &str) -> Result<Digest, String> {
        if hex.len() != algorithm.hex_len() {
            return Err(format!("expected {} hex characters, found {}", algorithm.hex_len(), hex.len()));
        }
        if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(format!("{c:?} is not a lowercase hex digit"));
        }
        Ok(Digest { text: format!("{algorithm}:{hex}").into_boxed_str(), algorithm })
    }

    /// Builds a digest from raw hash output. Callers are hash implementations
    /// in this crate, which always produce the right length.
    pub(crate) fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        assert_eq!(bytes.len() * 2, algorithm.hex_len(), "hash output length for {algorithm}");
        let mut text = String::with_capacity(algorithm.name().len() + 1 + algorithm.hex_len());
        text.push_str(algorithm.name());
        text.push(':');
        crate::hex::encode_into(bytes, &mut text);
        Digest { text: text.into_boxed_str(), algorithm }
    }

    /// Computes the digest of `data` in one call.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut d = Digester::new(algorithm);
        d.update(data);
        d.finish()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded (hex) part.
    pub fn hex(&self) -> &str {
        &self.text[self.algorithm.name().len() + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn algorithm_grammar_ok(alg: &str) -> bool {
    let mut prev_sep = true; // start behaves as if after a separator: a component must come first
    for b in alg.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => prev_sep = false,
            b'+' | b'.' | b'_' | b'-' if !prev_sep => prev_sep = true,
            _ => return false,
        }
    }
    !prev_sep
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, DigestError> {
        Digest::parse(s)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_SHA256: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_canonical_sha256() {
        let d = Digest::parse(EMPTY_SHA256).unwrap();
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(d.hex().len(), 64);
        assert_eq!(d.to_string(), EMPTY_SHA256);
        assert_eq!(Algorithm::Sha256.empty_digest(), d);
    }

    #[test]
    fn sha512_of_empty_is_the_known_value() {
        assert_eq!(
            Algorithm::Sha512.empty_digest().hex(),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
        );
    }

    #[test]
    fn unknown_algorithm_is_unsupported_not_malformed() {
        assert!(matches!(Digest::parse("sha384:abcd"), Err(DigestError::UnsupportedAlgorithm(a)) if a == "sha384"));
        assert!(matches!(
            Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8"),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn rejects_grammar_violations() {
        for bad in
            ["", "sha256", ":abc", "sha256:", "SHA256:abc", "sha256+:abc", "+sha256:abc", "sha256:ab/c", "sha256:ab c"]
        {
            assert!(matches!(Digest::parse(bad), Err(DigestError::Malformed { .. })), "{bad:?}");
        }
    }

    #[test]
    fn rejects_wrong_length_and_uppercase_hex() {
        let upper = EMPTY_SHA256.to_uppercase().replace("SHA256", "sha256");
        assert!(matches!(Digest::parse(&upper), Err(DigestError::InvalidEncoding { .. })));
        assert!(matches!(Digest::parse("sha256:abcd"), Err(DigestError::InvalidEncoding { .. })));
        let long = format!("{EMPTY_SHA256}0");
        assert!(matches!(Digest::parse(&long), Err(DigestError::InvalidEncoding { .. })));
        let sha512_short = EMPTY_SHA256.replace("sha256", "sha512");
        assert!(matches!(Digest::parse(&sha512_short), Err(DigestError::InvalidEncoding { .. })));
    }

    #[test]
    fn serde_round_trip_validates() {
        let d: Digest = serde_json::from_str(&format!("\"{EMPTY_SHA256}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{EMPTY_SHA256}\""));
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
