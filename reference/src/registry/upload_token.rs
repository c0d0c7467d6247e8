//! The upload state handed to clients in `Location`, signed so that any
//! instance sharing the secret can trust it and none can be fooled by a
//! forged one. Format: `base64url(json) "." base64url(hmac-sha256(json))`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    pub name: String,
    pub uuid: String,
    pub offset: u64,
    /// Milliseconds since the Unix epoch.
    pub started_at: u64,
    /// The algorithm the upload is hashed with as it arrives, when not the
    /// default (`?digest-algorithm=` on the POST that started it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("upload state token is malformed")]
    Malformed,
    #[error("upload state token signature does not verify")]
    BadSignature,
}

#[derive(Clone)]
pub struct TokenSigner {
    secret: Vec<u8>,
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> TokenSigner {
        TokenSigner { secret: secret.to_vec() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as KeyInit>::new_from_slice(&self.secret).expect("HMAC takes keys of any length")
    }

    pub fn sign(&self, state: &UploadState) -> String {
        let json = serde_json::to_vec(state).expect("upload state serializes");
        let mut mac = self.mac();
        mac.update(&json);
        format!("{}.{}", B64.encode(&json), B64.encode(mac.finalize().into_bytes()))
    }

    pub fn verify(&self, token: &str) -> Result<UploadState, TokenError> {
        let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let json = B64.decode(body).map_err(|_| TokenError::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(&json);
        mac.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
        serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> UploadState {
        UploadState { name: "a/b".into(), uuid: "u".into(), offset: 42, started_at: 1, algorithm: None }
    }

    #[test]
    fn round_trip_and_tamper() {
        let s = TokenSigner::new(b"secret");
        let t = s.sign(&state());
        assert_eq!(s.verify(&t).unwrap(), state());
        assert_eq!(TokenSigner::new(b"other").verify(&t), Err(TokenError::BadSignature));
        let mut forged = state();
        forged.offset = 0;
        let forged_body = B64.encode(serde_json::to_vec(&forged).unwrap());
        let sig = t.split_once('.').unwrap().1;
        assert_eq!(s.verify(&format!("{forged_body}.{sig}")), Err(TokenError::BadSignature));
        assert_eq!(s.verify("garbage"), Err(TokenError::Malformed));
    }
}
