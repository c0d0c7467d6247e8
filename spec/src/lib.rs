//! The OCI Distribution protocol as code.
//!
//! Everything here is a *fact of the protocol*: how a digest is spelled and
//! computed, what a repository name may look like, which media types exist,
//! how a manifest names the content it references, which error code goes with
//! which HTTP status. The reference registry, the conformance harness and the
//! simulator all take these facts from this crate, so each is defined once.
//!
//! Nothing here does I/O beyond reading a caller-supplied stream; nothing here
//! knows about HTTP servers or storage.

pub mod digest;
pub mod error_code;
mod hex;
pub mod manifest;
pub mod media_type;
pub mod name;
pub mod notification;
pub mod tarsum;

pub use digest::{Algorithm, Digest, DigestError, Digester, Verifier};
pub use error_code::{ErrorBody, ErrorCode, ErrorInfo};
pub use manifest::{Descriptor, Manifest, ManifestError, ManifestKind};
pub use name::{NameError, Reference, RepositoryName, Tag, TagError};
