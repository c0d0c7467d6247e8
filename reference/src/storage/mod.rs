//! Storage drivers: the only place registry data touches a backend.
//!
//! A driver stores opaque objects under `/`-separated paths. The registry
//! never assumes more than this trait promises; every driver must pass the
//! shared suite in [`suite`].
//!
//! Guarantees every driver gives:
//! - `put_content` is atomic: a reader (or a crash) sees the old object or
//!   the new one, never a torn one; on success the object is durable.
//! - A [`ObjectWriter`] from `writer` publishes nothing until its `commit`,
//!   which replaces the object atomically and durably; `abort` (or a crash)
//!   leaves the path as it was. Large objects are written this way.
//! - `delete` removes an object or a whole subtree; deleting nothing is
//!   `NotFound`.
//! - `put_content_new` creates an object only if the path holds none, and
//!   `replace_if` replaces one only if it holds what the caller expects,
//!   *across instances where [`Capabilities::conditional_writes`] says so*;
//!   elsewhere the first is a plain put (a concurrent writer at the same
//!   path may win) and the second holds within one process only.
//!
//! Guarantees only drivers with [`Capabilities::appends`] give (a
//! filesystem, memory; not an object store, which has neither append nor
//! rename — uploads are then kept as immutable segments, see
//! `registry::upload_data`):
//! - `append` adds bytes to the end of an existing object only if the
//!   object is exactly as long as the caller believes, atomically with
//!   respect to other appends; it returns the new size and on success the
//!   bytes are durable. Two writers that both saw the same size cannot both
//!   append (found by `drydock sim`, upload-resume: a held PATCH and its
//!   resumed copy both landing duplicated bytes). It never creates the
//!   object: an append racing the object's removal or move fails instead of
//!   leaving a fresh object behind.
//! - `rename` replaces the destination atomically. (Object stores copy,
//!   then delete the source: a crash between leaves both, and readers may
//!   see the destination before the source goes. Only the notification
//!   queue's dead letters move this way there, where a duplicate is safe.)

mod cached_read;
mod filesystem;
mod inmemory;
pub mod instrumented;
#[cfg(feature = "s3")]
pub mod s3;
pub mod sequential_read;
pub mod suite;

pub use filesystem::FilesystemDriver;
pub use inmemory::InMemoryDriver;

use async_trait::async_trait;
use bytes::Bytes;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("path not found: {0}")]
    NotFound(String),
    #[error("invalid storage path {0:?}")]
    InvalidPath(String),
    #[error("{path} holds {actual} bytes, not the {expected} an append expected")]
    SizeMismatch { path: String, expected: u64, actual: u64 },
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("this storage backend cannot {op} ({path})")]
    Unsupported { op: &'static str, path: String },
    #[error("{path} would exceed the {limit} bytes the store takes in one object")]
    TooLarge { path: String, limit: u64 },
    #[error("storage I/O on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound(_))
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// What `stat` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub size: u64,
    pub is_dir: bool,
}

/// What a backend offers beyond storing whole objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `append`, `truncate` and an atomic `rename` work.
    pub appends: bool,
    /// `put_content_new` really refuses to replace an existing object
    /// (a filesystem, memory; object stores that honour `If-None-Match`).
    pub conditional_writes: bool,
}

impl Capabilities {
    /// A filesystem's: everything.
    pub const FILES: Capabilities = Capabilities { appends: true, conditional_writes: true };
}

/// One property of a registry whose instances share a store: whether it
/// holds there, and what that means. Said at start-up and in `/debug/vars`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Guarantee {
    pub name: &'static str,
    pub holds: bool,
    pub detail: &'static str,
}

/// What holds across instances sharing a store with `caps`.
pub fn cross_instance_guarantees(caps: Capabilities) -> Vec<Guarantee> {
    let one_append = caps.appends || caps.conditional_writes;
    vec![
        Guarantee {
            name: "blob-integrity",
            holds: true,
            detail: "a blob is stored only as bytes checked against its digest, whichever instance commits it",
        },
        Guarantee {
            name: "uploads-on-any-instance",
            holds: true,
            detail: "an upload started on one instance continues and commits on any other",
        },
        Guarantee {
            name: "one-append-per-offset",
            holds: one_append,
            detail: match one_append {
                true => "two instances appending to one upload at once: one wins, the other answers 416",
                false => {
                    "the store ignores conditional writes: two instances appending to one upload at the same offset both succeed, the last write wins, and the commit's digest check refuses the mixed bytes (the client pushes again)"
                }
            },
        },
        Guarantee {
            name: "tag-if-match",
            holds: caps.conditional_writes,
            detail: match caps.conditional_writes {
                true => "If-Match on a manifest push by tag holds across instances",
                false => {
                    "the store ignores conditional writes: If-Match on a manifest push by tag holds within one instance only (two instances can both pass the check)"
                }
            },
        },
    ]
}

/// A streamed read's chunks ([`StorageDriver::read_stream`]).
pub type ByteStream = futures_util::stream::BoxStream<'static, Result<Bytes>>;

/// A large object being written: nothing is visible until [`commit`].
///
/// [`commit`]: ObjectWriter::commit
#[async_trait]
pub trait ObjectWriter: Send {
    /// Adds bytes at the end of what is written so far.
    async fn write(&mut self, data: Bytes) -> Result<()>;
    /// Publishes what was written as the object, replacing any there,
    /// atomically and durably. Returns its size.
    async fn commit(self: Box<Self>) -> Result<u64>;
    /// Throws what was written away; the path is left as it was. A writer
    /// dropped without either leaves debris for the driver's own clean-up
    /// (`remove_stale_temporaries`, an object store's lifecycle rules).
    async fn abort(self: Box<Self>);
}

/// A storage backend.
#[async_trait]
pub trait StorageDriver: Send + Sync + 'static {
    /// A short name for logs (`filesystem`, `inmemory`).
    fn name(&self) -> &'static str;

    /// What this backend offers beyond whole objects.
    fn capabilities(&self) -> Capabilities;

    /// The whole object. Only for small objects (links, states, manifests).
    async fn get_content(&self, path: &str) -> Result<Bytes>;

    /// Replaces the object atomically and durably.
    async fn put_content(&self, path: &str, content: Bytes) -> Result<()>;

    /// Creates the object atomically and durably; `AlreadyExists` if there
    /// is one, where the backend has conditional writes (else it replaces).
    async fn put_content_new(&self, path: &str, content: Bytes) -> Result<()>;

    /// Replaces the object with `content` if it holds exactly `expected`
    /// now (`None`: whatever it holds, or nothing), atomically with respect
    /// to every other `replace_if` on the path — across processes and
    /// instances where [`Capabilities::conditional_writes`] says so, else
    /// only within this process (the caller serialises). `Ok(false)`, and
    /// nothing written, if it held something else or nothing.
    async fn replace_if(&self, path: &str, expected: Option<&[u8]>, content: Bytes) -> Result<bool>;

    /// Starts writing an object too large to hold whole.
    async fn writer(&self, path: &str) -> Result<Box<dyn ObjectWriter>>;

    /// Up to `max` bytes starting at `offset`; empty at or past the end.
    async fn read_at(&self, path: &str, offset: u64, max: usize) -> Result<Bytes>;

    /// `len` bytes from `offset` (fewer where the object ends) as one
    /// stream, where a request per piece would cost a round trip each
    /// (object stores); `None` where `read_at` piece by piece is as good,
    /// and the caller reads so. Read through
    /// [`sequential_read::SequentialRead`].
    async fn read_stream(&self, path: &str, offset: u64, len: u64) -> Result<Option<ByteStream>> {
        let _ = (path, offset, len);
        Ok(None)
    }

    /// Appends to the existing object, durably, if and only if it is `offset`
    /// bytes long; else `SizeMismatch`, writing nothing (`NotFound` if it
    /// does not exist; nothing is created). Returns the new size. Takes `Bytes` so a driver can hand
    /// the data to another thread without copying it.
    /// Only where [`Capabilities::appends`]; elsewhere `Unsupported`.
    async fn append(&self, path: &str, offset: u64, data: Bytes) -> Result<u64> {
        let _ = (offset, data);
        Err(StorageError::Unsupported { op: "append", path: path.to_owned() })
    }

    /// [`StorageDriver::append`] of `parts`, in order, as one append. A
    /// driver that can write several buffers at once (a file's `writev`)
    /// overrides it so a request's body is never copied into one buffer
    /// first; by default the parts are joined (no copy for one part).
    async fn append_parts(&self, path: &str, offset: u64, parts: Vec<Bytes>) -> Result<u64> {
        self.append(path, offset, join(parts)).await
    }

    /// Shortens the object to `size` bytes (undoing a torn append).
    /// Only where [`Capabilities::appends`]; elsewhere `Unsupported`.
    async fn truncate(&self, path: &str, size: u64) -> Result<()> {
        let _ = size;
        Err(StorageError::Unsupported { op: "truncate", path: path.to_owned() })
    }

    async fn stat(&self, path: &str) -> Result<FileInfo>;

    /// The size of the object at `path`; `NotFound` if there is none (a
    /// directory is not an object). One request on an object store, where
    /// `stat` of something absent costs a listing too.
    async fn size(&self, path: &str) -> Result<u64> {
        match self.stat(path).await? {
            FileInfo { is_dir: false, size } => Ok(size),
            FileInfo { is_dir: true, .. } => Err(StorageError::NotFound(path.to_owned())),
        }
    }

    /// Names (not full paths) of the direct children of a directory, sorted.
    async fn list(&self, path: &str) -> Result<Vec<String>>;

    /// Names and sizes of the objects directly in a directory (not its
    /// subdirectories), sorted by name. One request on an object store.
    async fn list_sizes(&self, path: &str) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for name in self.list(path).await? {
            match self.size(&format!("{}/{name}", path.trim_end_matches('/'))).await {
                Ok(size) => out.push((name, size)),
                // Removed since the listing: not there.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Moves an object, replacing the destination atomically.
    async fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// Removes an object or a subtree.
    async fn delete(&self, path: &str) -> Result<()>;

    /// Removes what interrupted writes left behind (temporary files of a
    /// process that crashed mid-write) last modified before `cutoff`;
    /// returns how many. Drivers that write in place have none.
    async fn remove_stale_temporaries(&self, cutoff: std::time::SystemTime) -> Result<u64> {
        let _ = cutoff;
        Ok(0)
    }

    /// Removes a directory only if it holds nothing, atomically with respect
    /// to writers adding to it; `false` if it was not empty (or is absent).
    /// Drivers without real directories have nothing to remove.
    async fn remove_empty_dir(&self, path: &str) -> Result<bool> {
        check_path(path)?;
        Ok(false)
    }
}

/// Checks a driver path: absolute, no empty, `.` or `..` components.
pub(crate) fn check_path(path: &str) -> Result<()> {
    let ok = path.starts_with('/')
        && path.len() > 1
        && path[1..].split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
    if ok { Ok(()) } else { Err(StorageError::InvalidPath(path.to_owned())) }
}

/// `parts` as one buffer: the one part itself, or a copy of them all.
pub fn join(mut parts: Vec<Bytes>) -> Bytes {
    match parts.len() {
        1 => parts.pop().unwrap_or_default(),
        _ => Bytes::from(parts.concat()),
    }
}
