//! Token authentication as distribution implements it (`auth.token`):
//! clients fetch a JWT from the `realm` for the scope a 401 challenge named,
//! and present it as `Authorization: Bearer …`. A token is accepted when it
//! is signed (RS256/384/512, ES256/384, EdDSA) by a key whose certificate
//! is in `rootcertbundle`, names this registry's `issuer` and `service`
//! (audience), and is within its `nbf`..`exp` as of the registry's clock.
//! Its `access` claims grant actions per resource. A token whose header
//! names a `kid` is verified with that key only: the id distribution
//! (libtrust) gives a public key, which token services such as docker_auth,
//! GitLab's and `drydock token` put there (see [`key_id`]).

use super::scope::{Action, Scope};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Seconds of clock difference tolerated on `exp` and `nbf` (distribution
/// allows a minute).
pub const LEEWAY_SECS: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum TokenSetupError {
    #[error("reading rootcertbundle {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("rootcertbundle {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("rootcertbundle {0} holds no certificate")]
    Empty(PathBuf),
}

/// A verifying key from the bundle, with the algorithms it may verify.
struct TrustedKey {
    id: String,
    key: DecodingKey,
    algorithms: &'static [Algorithm],
}

pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    keys: Vec<TrustedKey>,
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    #[serde(default)]
    sub: String,
    #[serde(default, deserialize_with = "one_or_many")]
    aud: Vec<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    #[serde(default)]
    access: Vec<AccessEntry>,
}

#[derive(serde::Deserialize)]
struct AccessEntry {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match <OneOrMany as serde::Deserialize>::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// What a presented token is worth.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Valid, and grants every needed scope.
    Granted { subject: String },
    /// Valid, but grants less than needed on a resource it names: the
    /// issuer decided, asking again will not help.
    Refused { subject: String },
    /// Valid, but silent about a needed resource: the client may ask for a
    /// token with that scope.
    Insufficient,
    /// Not a token this registry accepts.
    Invalid(String),
}

impl TokenAuth {
    pub fn load(realm: &str, service: &str, issuer: &str, bundle: &Path) -> Result<TokenAuth, TokenSetupError> {
        let pem = std::fs::read(bundle).map_err(|source| TokenSetupError::Read { path: bundle.into(), source })?;
        let bad = |reason: String| TokenSetupError::Certificate { path: bundle.into(), reason };
        let mut keys = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(&pem) {
            let block = block.map_err(|e| bad(format!("not PEM: {e}")))?;
            if block.label != "CERTIFICATE" {
                continue;
            }
            let cert = block.parse_x509().map_err(|e| bad(format!("not a certificate: {e}")))?;
            let spki = cert.public_key();
            let raw = spki.subject_public_key.data.as_ref();
            let oid = spki.algorithm.algorithm.to_id_string();
            let (key, algorithms): (DecodingKey, &'static [Algorithm]) = match oid.as_str() {
                "1.2.840.113549.1.1.1" => {
                    (DecodingKey::from_rsa_der(raw), &[Algorithm::RS256, Algorithm::RS384, Algorithm::RS512])
                }
                "1.2.840.10045.2.1" => (DecodingKey::from_ec_der(raw), &[Algorithm::ES256, Algorithm::ES384]),
                "1.3.101.112" => (DecodingKey::from_ed_der(raw), &[Algorithm::EdDSA]),
                other => return Err(bad(format!("a certificate's key type {other} is not RSA, ECDSA or Ed25519"))),
            };
            keys.push(TrustedKey { id: key_id(spki.raw), key, algorithms });
        }
        if keys.is_empty() {
            return Err(TokenSetupError::Empty(bundle.into()));
        }
        Ok(TokenAuth { realm: realm.into(), service: service.into(), issuer: issuer.into(), keys })
    }

    /// The challenge for a request needing `needed` (`error` as RFC 6750).
    pub fn challenge(&self, needed: &[Scope], error: Option<&str>) -> String {
        let mut c = format!("Bearer realm=\"{}\",service=\"{}\"", self.realm, self.service);
        if !needed.is_empty() {
            let scopes: Vec<String> = needed.iter().map(ToString::to_string).collect();
            c.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
        }
        if let Some(e) = error {
            c.push_str(&format!(",error=\"{e}\""));
        }
        c
    }

    /// Judges the token in `authorization` against `needed`, as of `now`.
    pub fn judge(&self, authorization: Option<&str>, needed: &[Scope], now: SystemTime) -> Verdict {
        let Some(token) = authorization.and_then(|a| a.trim().strip_prefix("Bearer ")).map(str::trim) else {
            return Verdict::Invalid("no bearer token".into());
        };
        let claims = match self.verify(token) {
            Ok(c) => c,
            Err(why) => return Verdict::Invalid(why),
        };
        let now = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        if claims.exp.is_none_or(|exp| now > exp + LEEWAY_SECS) {
            return Verdict::Invalid("the token has expired (or has no exp)".into());
        }
        if claims.nbf.is_some_and(|nbf| now + LEEWAY_SECS < nbf) {
            return Verdict::Invalid("the token is not valid yet".into());
        }
        if claims.iss != self.issuer {
            return Verdict::Invalid(format!("issuer {:?} is not {:?}", claims.iss, self.issuer));
        }
        if !claims.aud.contains(&self.service) {
            return Verdict::Invalid(format!("the token is not for service {:?}", self.service));
        }
        for scope in needed {
            let entries: Vec<&AccessEntry> =
                claims.access.iter().filter(|e| e.kind == scope.kind && e.name == scope.name).collect();
            if entries.is_empty() {
                return Verdict::Insufficient;
            }
            let granted =
                |a: Action| entries.iter().any(|e| e.actions.iter().any(|g| g == "*" || Action::parse(g) == Some(a)));
            if !scope.actions.iter().all(|a| *a == Action::All && granted(Action::All) || granted(*a)) {
                return Verdict::Refused { subject: claims.sub };
            }
        }
        Verdict::Granted { subject: claims.sub }
    }

    fn verify(&self, token: &str) -> Result<Claims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        let mut validation = Validation::new(header.alg);
        // Time and audience are checked by `judge`, against the registry's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let candidates: Vec<&TrustedKey> = match &header.kid {
            Some(kid) => self.keys.iter().filter(|k| &k.id == kid).collect(),
            None => self.keys.iter().collect(),
        };
        if candidates.is_empty() {
            return Err(format!("signed by key {:?}, which is not in rootcertbundle", header.kid.unwrap_or_default()));
        }
        let mut last = String::from("no trusted key can verify this algorithm");
        for k in candidates.into_iter().filter(|k| k.algorithms.contains(&header.alg)) {
            match jsonwebtoken::decode::<Claims>(token, &k.key, &validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = format!("signature or claims refused: {e}"),
            }
        }
        Err(last)
    }
}

/// The id distribution's libtrust gives a public key, and token services
/// put in a token's `kid`: the first 240 bits of the SHA-256 of the key's
/// DER SubjectPublicKeyInfo in base32, as twelve groups of four joined by
/// `:`. distribution 2.8 refuses a token without it.
pub fn key_id(spki_der: &[u8]) -> String {
    let hash = sha2::Sha256::digest(spki_der);
    let b32 = base32(&hash[..30]);
    let groups: Vec<&str> =
        b32.as_bytes().chunks(4).map(|g| std::str::from_utf8(g).expect("base32 is ASCII")).collect();
    groups.join(":")
}

/// RFC 4648 base32 without padding.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u16, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u16::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((acc >> bits) & 31)]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[usize::from((acc << (5 - bits)) & 31)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc_4648_vectors() {
        // RFC 4648 section 10, padding dropped.
        for (input, want) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn key_ids_are_twelve_groups_of_four_and_follow_the_key() {
        let a = key_id(b"one key");
        assert_eq!(a.len(), 12 * 4 + 11, "{a}");
        assert!(
            a.split(':')
                .all(|g| g.len() == 4 && g.bytes().all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c))),
            "{a}"
        );
        assert_ne!(a, key_id(b"another key"));
    }
}
