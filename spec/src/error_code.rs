//! The protocol's error codes, their HTTP statuses and the JSON error body.
//!
//! The OCI table (`BLOB_UNKNOWN` … `TOOMANYREQUESTS`) plus the codes
//! distribution added. Statuses follow distribution, which clients were
//! written against: e.g. `BLOB_UPLOAD_INVALID` is 404 there, not 400.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = ($code:literal, $status:literal, $message:literal), )*) => {
        /// An error code of the distribution protocol.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode { $( $(#[$doc])* $variant, )* }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The identifier carried in the JSON body, e.g. `BLOB_UNKNOWN`.
            pub const fn code(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status that accompanies this code.
            pub const fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The default human-readable message.
            pub const fn message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $message,)* }
            }
        }
    };
}

error_codes! {
    BlobUnknown = ("BLOB_UNKNOWN", 404, "blob unknown to registry"),
    BlobUploadInvalid = ("BLOB_UPLOAD_INVALID", 404, "blob upload invalid"),
    BlobUploadUnknown = ("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"),
    DigestInvalid = ("DIGEST_INVALID", 400, "provided digest did not match uploaded content"),
    ManifestBlobUnknown = ("MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry"),
    ManifestInvalid = ("MANIFEST_INVALID", 400, "manifest invalid"),
    ManifestUnknown = ("MANIFEST_UNKNOWN", 404, "manifest unknown to registry"),
    NameInvalid = ("NAME_INVALID", 400, "invalid repository name"),
    NameUnknown = ("NAME_UNKNOWN", 404, "repository name not known to registry"),
    SizeInvalid = ("SIZE_INVALID", 400, "provided length did not match content length"),
    Unauthorized = ("UNAUTHORIZED", 401, "authentication required"),
    Denied = ("DENIED", 403, "requested access to the resource is denied"),
    Unsupported = ("UNSUPPORTED", 405, "the operation is unsupported"),
    TooManyRequests = ("TOOMANYREQUESTS", 429, "too many requests"),
    // distribution's additions
    TagInvalid = ("TAG_INVALID", 400, "manifest tag did not match URI"),
    ManifestUnverified = ("MANIFEST_UNVERIFIED", 400, "manifest failed signature verification"),
    RangeInvalid = ("RANGE_INVALID", 416, "invalid content range"),
    PaginationNumberInvalid = ("PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"),
    Unavailable = ("UNAVAILABLE", 503, "service unavailable"),
    Unknown = ("UNKNOWN", 500, "unknown error"),
}

impl ErrorCode {
    /// Looks a code up by its identifier.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// Whether the OCI Distribution Spec itself defines this code.
    pub fn is_oci(self) -> bool {
        ErrorCode::ALL.iter().position(|&c| c == self).is_some_and(|i| i < 14)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One entry of an error body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorInfo {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

/// `{"errors":[{"code","message","detail"}]}`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub errors: Vec<ErrorInfo>,
}

impl ErrorBody {
    /// A body with one error; `detail` may be `Value::Null` for none.
    pub fn single(code: ErrorCode, message: impl Into<String>, detail: serde_json::Value) -> ErrorBody {
        ErrorBody { errors: vec![ErrorInfo { code: code.code().to_owned(), message: message.into(), detail }] }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("error bodies always serialize")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::BTreeSet::new();
        for &c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate {c}");
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            assert!((400..600).contains(&c.status()));
        }
        assert!(ErrorCode::TooManyRequests.is_oci());
        assert!(!ErrorCode::TagInvalid.is_oci());
        assert_eq!(ErrorCode::RangeInvalid.status(), 416);
    }

    #[test]
    fn body_shape() {
        let b = ErrorBody::single(ErrorCode::BlobUnknown, "nope", serde_json::json!({"digest": "x"}));
        let v: serde_json::Value = serde_json::from_slice(&b.to_json()).unwrap();
        assert_eq!(v, serde_json::json!({"errors":[{"code":"BLOB_UNKNOWN","message":"nope","detail":{"digest":"x"}}]}));
        let b = ErrorBody::single(ErrorCode::Denied, "no", serde_json::Value::Null);
        assert_eq!(b.to_json(), br#"{"errors":[{"code":"DENIED","message":"no"}]}"#);
    }
}
