//! Checking a stream against the digest a client promised.

use super::{Digest, Digester};

/// The content did not hash to the expected digest.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("content digest {actual} does not match expected {expected}")]
pub struct Mismatch {
    pub expected: Digest,
    pub actual: Digest,
}

/// Hashes a stream with the expected digest's algorithm and compares at the end.
#[derive(Clone, Debug)]
pub struct Verifier {
    expected: Digest,
    digester: Digester,
}

impl Verifier {
    pub fn new(expected: Digest) -> Verifier {
        Verifier { digester: Digester::new(expected.algorithm()), expected }
    }

    /// Continues from a digester that has already consumed part of the stream.
    pub fn resume(expected: Digest, digester: Digester) -> Result<Verifier, Mismatch> {
        if digester.algorithm() != expected.algorithm() {
            return Err(Mismatch { actual: digester.current(), expected });
        }
        Ok(Verifier { expected, digester })
    }

    pub fn update(&mut self, data: &[u8]) {
        self.digester.update(data);
    }

    pub fn len(&self) -> u64 {
        self.digester.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digester.is_empty()
    }

    /// Ends the stream: `Ok` with the digest if it matches.
    pub fn verify(self) -> Result<Digest, Mismatch> {
        let actual = self.digester.finish();
        if actual == self.expected { Ok(actual) } else { Err(Mismatch { expected: self.expected, actual }) }
    }
}

impl std::io::Write for Verifier {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    #[test]
    fn accepts_matching_and_rejects_other_content() {
        let expected = Digest::of(Algorithm::Sha512, b"layer bytes");
        let mut v = Verifier::new(expected.clone());
        v.update(b"layer ");
        v.update(b"bytes");
        assert_eq!(v.verify().unwrap(), expected);

        let mut v = Verifier::new(expected.clone());
        v.update(b"layer bytez");
        let err = v.verify().unwrap_err();
        assert_eq!(err.expected, expected);
        assert_eq!(err.actual, Digest::of(Algorithm::Sha512, b"layer bytez"));
    }

    #[test]
    fn resume_requires_same_algorithm() {
        let expected = Digest::of(Algorithm::Sha256, b"x");
        assert!(Verifier::resume(expected.clone(), Digester::new(Algorithm::Sha512)).is_err());
        let mut d = Digester::new(Algorithm::Sha256);
        d.update(b"x");
        assert!(Verifier::resume(expected, d).unwrap().verify().is_ok());
    }
}
