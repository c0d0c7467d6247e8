//! Registry-level failures, each tied to the protocol error code it answers.

use crate::storage::StorageError;
use drydock_spec::{Digest, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("blob {0} is not known to this repository")]
    BlobUnknown(Digest),
    #[error("upload {0} is not known (cancelled, finished, or never started)")]
    UploadUnknown(String),
    #[error("{0}")]
    UploadInvalid(String),
    #[error("chunk starts at byte {requested}, but the upload holds {stored} bytes")]
    RangeMismatch { requested: u64, stored: u64 },
    #[error("the chunk declared {declared} bytes but its body carried {received}")]
    ChunkLengthMismatch { declared: u64, received: u64 },
    #[error("{0}")]
    UnsupportedAlgorithm(String),
    #[error("content digest {actual} does not match the declared {expected}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("declared size {declared} does not match the {actual} bytes received")]
    SizeMismatch { declared: u64, actual: u64 },
    #[error("manifest {0} is not known to this repository")]
    ManifestUnknown(String),
    #[error("{0}")]
    ManifestInvalid(String),
    #[error("manifest references {0}, which this repository does not hold")]
    ManifestBlobUnknown(Digest),
    #[error("tag {tag} no longer points at {expected}")]
    PreconditionFailed { tag: String, expected: String },
    #[error("deletes are disabled on this registry")]
    DeletesDisabled,
    #[error("the registry is in read-only mode: nothing can be pushed, mounted or deleted")]
    ReadOnly,
    /// A shared resource stayed exhausted for longer than the wait allows.
    #[error("{0}; try again")]
    Busy(String),
    #[error("repository {0} is not known")]
    NameUnknown(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    InvalidDigest(#[from] drydock_spec::DigestError),
    #[error(transparent)]
    InvalidTag(#[from] drydock_spec::TagError),
    #[error("reading the request body: {0}")]
    Body(std::io::Error),
}

impl RegistryError {
    /// The protocol error code; `None` for conditions answered without one
    /// (a failed precondition is a bare 412).
    pub fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            RegistryError::BlobUnknown(_) => ErrorCode::BlobUnknown,
            RegistryError::UploadUnknown(_) => ErrorCode::BlobUploadUnknown,
            RegistryError::UploadInvalid(_) => ErrorCode::BlobUploadInvalid,
            RegistryError::RangeMismatch { .. } | RegistryError::ChunkLengthMismatch { .. } => ErrorCode::RangeInvalid,
            RegistryError::DigestMismatch { .. } | RegistryError::UnsupportedAlgorithm(_) => ErrorCode::DigestInvalid,
            RegistryError::SizeMismatch { .. } => ErrorCode::SizeInvalid,
            RegistryError::ManifestUnknown(_) => ErrorCode::ManifestUnknown,
            RegistryError::ManifestInvalid(_) => ErrorCode::ManifestInvalid,
            RegistryError::ManifestBlobUnknown(_) => ErrorCode::ManifestBlobUnknown,
            RegistryError::NameUnknown(_) => ErrorCode::NameUnknown,
            RegistryError::DeletesDisabled | RegistryError::ReadOnly => ErrorCode::Unsupported,
            RegistryError::Busy(_) => ErrorCode::TooManyRequests,
            RegistryError::Storage(e) if e.is_not_found() => ErrorCode::NameUnknown,
            RegistryError::Storage(StorageError::TooLarge { .. }) => ErrorCode::BlobUploadInvalid,
            RegistryError::Storage(_) => ErrorCode::Unavailable,
            RegistryError::Body(_) => ErrorCode::SizeInvalid,
            RegistryError::InvalidDigest(_) => ErrorCode::DigestInvalid,
            RegistryError::InvalidTag(_) => ErrorCode::TagInvalid,
            RegistryError::PreconditionFailed { .. } => return None,
        })
    }
}

pub type Result<T> = std::result::Result<T, RegistryError>;
