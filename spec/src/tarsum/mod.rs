//! Docker's tarsum: a content identifier for layer tarballs that depends on
//! the files and their metadata, not on how the tar stream was laid out.
//!
//! Per entry, a fresh hash takes the selected header fields as `key ‖ value`
//! strings, then the entry's body. The per-entry hex sums are sorted and the
//! final hash is `H(extra ‖ sum₁ ‖ sum₂ ‖ …)`, printed as
//! `<label>+<hash>:<hex>` (e.g. `tarsum.v1+sha256:…`).
//!
//! Header values are read the way Go's `archive/tar` reads them (the tool that
//! defined tarsum), so sums agree with docker's for the same archive: PAX
//! records override the ustar fields, numbers are decimal, `uname`/`gname` are
//! hashed as empty strings (docker's behaviour since 2018; see
//! [`Options::legacy_owner_names`]).

mod gzip;
mod header;

use std::io::{BufRead, BufReader, Read};

/// Which header selection a sum uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `tarsum`: name, mode, uid, gid, size, mtime, typeflag, linkname,
    /// uname, gname, devmajor, devminor.
    V0,
    /// `tarsum.v1`: V0 without mtime, plus the sorted extended attributes.
    V1,
    /// `tarsum.dev`: currently the same selection as V1.
    Dev,
}

impl Version {
    pub const ALL: [Version; 3] = [Version::V0, Version::V1, Version::Dev];

    /// The label before `+` in the printed sum.
    pub const fn label(self) -> &'static str {
        match self {
            Version::V0 => "tarsum",
            Version::V1 => "tarsum.v1",
            Version::Dev => "tarsum.dev",
        }
    }

    /// The short name used on the command line: `v0`, `v1`, `dev`.
    pub const fn short_name(self) -> &'static str {
        match self {
            Version::V0 => "v0",
            Version::V1 => "v1",
            Version::Dev => "dev",
        }
    }
}

/// The hash a tarsum is computed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hash {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub const fn name(self) -> &'static str {
        match self {
            Hash::Md5 => "md5",
            Hash::Sha1 => "sha1",
            Hash::Sha224 => "sha224",
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
            Hash::Sha512 => "sha512",
        }
    }
}

impl From<crate::Algorithm> for Hash {
    fn from(a: crate::Algorithm) -> Hash {
        match a {
            crate::Algorithm::Sha256 => Hash::Sha256,
            crate::Algorithm::Sha512 => Hash::Sha512,
        }
    }
}

/// How to compute a sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub version: Version,
    pub hash: Hash,
    /// Hash `uname`/`gname` with their values, as docker did before 2018
    /// (moby a422774e59). Off by default: current docker hashes them empty.
    pub legacy_owner_names: bool,
}

impl Options {
    pub fn new(version: Version, hash: Hash) -> Options {
        Options { version, hash, legacy_owner_names: false }
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::new(Version::V1, Hash::Sha256)
    }
}

/// A computed tarsum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarSum {
    pub version: Version,
    pub hash: Hash,
    /// Lowercase hex of the final hash.
    pub hex: String,
    /// Number of tar entries summed.
    pub entries: usize,
}

impl std::fmt::Display for TarSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}+{}:{}", self.version.label(), self.hash.name(), self.hex)
    }
}

/// Why a stream could not be summed.
#[derive(Debug, thiserror::Error)]
pub enum TarSumError {
    #[error("reading the tar stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("tar entry {index}: {reason}")]
    Header { index: usize, reason: String },
}

/// Size of the buffer entry bodies are hashed through.
const BODY_CHUNK: usize = 256 * 1024;

/// Sums an uncompressed tar stream.
pub fn sum<R: Read>(reader: R, extra: Option<&[u8]>, options: Options) -> Result<TarSum, TarSumError> {
    match options.hash {
        Hash::Md5 => sum_with::<md5::Md5, R>(reader, extra, options),
        Hash::Sha1 => sum_with::<sha1::Sha1, R>(reader, extra, options),
        Hash::Sha224 => sum_with::<sha2::Sha224, R>(reader, extra, options),
        Hash::Sha256 => sum_with::<sha2::Sha256, R>(reader, extra, options),
        Hash::Sha384 => sum_with::<sha2::Sha384, R>(reader, extra, options),
        Hash::Sha512 => sum_with::<sha2::Sha512, R>(reader, extra, options),
    }
}

/// Sums a gzip-compressed tar stream. Decompression runs on a second thread
/// so that inflating and hashing overlap; the result equals [`sum`] of the
/// decompressed bytes.
pub fn sum_gzip<R: Read + Send>(reader: R, extra: Option<&[u8]>, options: Options) -> Result<TarSum, TarSumError> {
    gzip::with_pipelined_decoder(reader, |plain| sum(plain, extra, options))
}

/// Sums a tar stream that may or may not be gzip-compressed, telling the two
/// apart by the gzip magic bytes.
pub fn sum_detect<R: Read + Send>(reader: R, extra: Option<&[u8]>, options: Options) -> Result<TarSum, TarSumError> {
    let mut buffered = BufReader::with_capacity(BODY_CHUNK, reader);
    if buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]) {
        sum_gzip(buffered, extra, options)
    } else {
        sum(buffered, extra, options)
    }
}

fn sum_with<D, R>(reader: R, extra: Option<&[u8]>, options: Options) -> Result<TarSum, TarSumError>
where
    D: digest::Digest,
    R: Read,
{
    let mut archive = tar::Archive::new(reader);
    let mut entry_sums: Vec<EntrySum> = Vec::new();
    let mut fields = Vec::with_capacity(512);
    let mut body = vec![0u8; BODY_CHUNK];
    for (index, entry) in archive.entries()?.enumerate() {
        let mut entry = entry?;
        let bad = |reason: String| TarSumError::Header { index, reason };
        let h = header::GoHeader::read(&mut entry).map_err(bad)?;
        fields.clear();
        h.select(options, &mut fields);
        let mut hasher = D::new();
        hasher.update(&fields);
        loop {
            let n = entry.read(&mut body)?;
            if n == 0 {
                break;
            }
            hasher.update(&body[..n]);
        }
        entry_sums.push(EntrySum { name: h.clean_name(), sum: crate::hex::encode(&hasher.finalize()) });
    }
    let entries = entry_sums.len();
    let ordered = order_sums(entry_sums);
    let mut total = D::new();
    if let Some(extra) = extra {
        total.update(extra);
    }
    for s in &ordered {
        total.update(s.as_bytes());
    }
    Ok(TarSum { version: options.version, hash: options.hash, hex: crate::hex::encode(&total.finalize()), entries })
}

struct EntrySum {
    /// The entry's path, normalised the way docker compares paths.
    name: Vec<u8>,
    sum: String,
}

/// Orders per-entry sums for the final hash: by sum, except that entries
/// sharing a path (an archive that overwrites a file) keep their archive
/// order among the places they occupy. Docker sorts with a comparator that
/// mixes the two rules; this is its result whenever that comparator is a
/// consistent order, and a deterministic one (never a panic) when it is not.
fn order_sums(mut entries: Vec<EntrySum>) -> Vec<String> {
    use std::collections::HashMap;
    let mut slots: Vec<usize> = (0..entries.len()).collect();
    slots.sort_by(|&a, &b| entries[a].sum.cmp(&entries[b].sum).then(a.cmp(&b)));
    let mut by_name: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (slot, &entry) in slots.iter().enumerate() {
        by_name.entry(&entries[entry].name).or_default().push(slot);
    }
    let mut order = slots.clone();
    for group in by_name.values().filter(|g| g.len() > 1) {
        let mut members: Vec<usize> = group.iter().map(|&slot| slots[slot]).collect();
        members.sort_unstable(); // archive order
        for (&slot, member) in group.iter().zip(members) {
            order[slot] = member;
        }
    }
    order.into_iter().map(|i| std::mem::take(&mut entries[i].sum)).collect()
}
