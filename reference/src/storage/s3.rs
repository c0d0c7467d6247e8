//! A driver over an S3 bucket (AWS, or any store speaking its API: Garage,
//! MinIO, Ceph), through `object_store`. Keys are laid out as
//! distribution's `s3` driver lays them out (`rootdirectory` + the path,
//! without the leading `/`), so either registry can serve the other's
//! bucket.
//!
//! What S3 gives and what it does not (see [`Capabilities`]):
//! - A PUT is atomic and durable when answered; so is a completed multipart
//!   upload ([`ObjectWriter`]).
//! - No append and no rename: uploads are kept as segments by the registry
//!   (`registry::upload_data`), and `rename` is a copy then a delete.
//! - Conditional writes (`If-None-Match: *`) only where the store honours
//!   them. [`S3Driver::connect`] probes the bucket and reports what it found
//!   ([`S3Driver::conditional_writes`]); drydock never assumes them.
//! - "Directories" are key prefixes: `stat` of one is a listing, and
//!   deleting one deletes every key under it.

use super::{ByteStream, Capabilities, FileInfo, ObjectWriter, Result, StorageDriver, StorageError, check_path};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as Key;
use object_store::{
    ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion, WriteMultipart,
};
use std::sync::Arc;
use std::time::Duration;

/// The smallest part S3 takes in a multipart upload (but the last).
pub const MIN_CHUNK_SIZE: usize = 5 << 20;
/// distribution's default `chunksize`.
pub const DEFAULT_CHUNK_SIZE: usize = 10 << 20;
/// The largest part S3 takes.
pub const MAX_CHUNK_SIZE: usize = 5 << 30;
/// The most parts S3 takes in one multipart upload: an object written
/// through a writer is at most this many chunks.
pub const MAX_PARTS: u64 = 10_000;
/// Parts of one object uploaded at once: a writer holds up to this many
/// chunks (plus the one filling) in memory.
pub const PARTS_IN_FLIGHT: usize = 2;
/// Memory all of a driver's large-object writers together may hold in
/// chunks waiting to be sent; a writer that cannot get its share within
/// [`WRITER_MEMORY_WAIT`] fails (the client sees 503 and retries).
pub const WRITERS_MEMORY: usize = 256 << 20;
pub const WRITER_MEMORY_WAIT: Duration = Duration::from_secs(30);
/// A writer gathers this much before it takes a share of
/// [`WRITERS_MEMORY`]: small objects cost nothing from it.
const UNCOUNTED_BYTES: usize = 1 << 20;
/// One request to the store, from sending to the last byte of the answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Opening a connection to the store.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries of a failed request (5xx, throttling, a dropped connection), and
/// how long they may go on in all.
pub const MAX_RETRIES: usize = 6;
pub const RETRY_TIMEOUT: Duration = Duration::from_secs(60);
/// Times a conditional replacement reads again after losing to another
/// writer whose content still matched.
const REPLACE_ATTEMPTS: usize = 8;

/// Where the bucket is and how to reach it; distribution's `storage.s3`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// The store's URL for anything but AWS (`regionendpoint`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// A key prefix all registry data lives under (`rootdirectory`).
    #[serde(default)]
    pub root: String,
    /// Static credentials; without them, the standard chain (`AWS_*`
    /// variables, web identity, instance metadata).
    #[serde(default)]
    pub access_key: Option<String>,
    #[serde(default)]
    pub secret_key: Option<String>,
    #[serde(default)]
    pub session_token: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`
    /// (`forcepathstyle`; most stores besides AWS need it).
    #[serde(default)]
    pub path_style: bool,
    /// `false`: plain HTTP to the endpoint (`secure`).
    #[serde(default = "yes")]
    pub secure: bool,
    /// Accept any certificate from the endpoint (`skipverify`).
    #[serde(default)]
    pub skip_verify: bool,
    /// Part size of multipart uploads (`chunksize`).
    #[serde(default = "default_chunk_size")]
    pub chunk_size: usize,
    /// Server-side encryption (`encrypt`): SSE-S3, or SSE-KMS with `key_id`.
    #[serde(default)]
    pub encrypt: bool,
    #[serde(default)]
    pub key_id: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_chunk_size() -> usize {
    DEFAULT_CHUNK_SIZE
}

impl S3Config {
    /// A configuration naming only where the bucket is.
    pub fn new(bucket: impl Into<String>, region: impl Into<String>) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            region: region.into(),
            endpoint: None,
            root: String::new(),
            access_key: None,
            secret_key: None,
            session_token: None,
            path_style: false,
            secure: true,
            skip_verify: false,
            chunk_size: DEFAULT_CHUNK_SIZE,
            encrypt: false,
            key_id: None,
        }
    }

    /// Refuses settings that cannot work.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.bucket.is_empty() {
            return Err("s3: bucket is empty".into());
        }
        if self.region.is_empty() {
            return Err("s3: region is empty".into());
        }
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return Err(format!(
                "s3: chunk size {} is outside what S3 takes ({MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE})",
                self.chunk_size
            ));
        }
        if self.access_key.is_some() != self.secret_key.is_some() {
            return Err("s3: give both an access key and a secret key, or neither".into());
        }
        if self.key_id.is_some() && !self.encrypt {
            return Err("s3: a KMS key id is given but encryption is off".into());
        }
        if let Some(endpoint) = &self.endpoint {
            let scheme_ok = match self.secure {
                true => endpoint.starts_with("https://") || !endpoint.contains("://"),
                false => endpoint.starts_with("http://") || !endpoint.contains("://"),
            };
            if !scheme_ok {
                return Err(format!("s3: endpoint {endpoint} does not match secure = {}", self.secure));
            }
        }
        Ok(())
    }

    fn endpoint_url(&self) -> Option<String> {
        self.endpoint.as_ref().map(|e| match e.contains("://") {
            true => e.clone(),
            false => format!("{}://{e}", if self.secure { "https" } else { "http" }),
        })
    }
}

pub struct S3Driver {
    store: Arc<AmazonS3>,
    /// Key prefix, without slashes at either end ("" for none).
    root: String,
    chunk_size: usize,
    conditional_writes: bool,
    /// Bytes of [`WRITERS_MEMORY`] not held by a writer.
    memory: Arc<tokio::sync::Semaphore>,
}

impl S3Driver {
    /// Connects to the bucket and probes it: that it can be written, read
    /// and deleted with these credentials, and whether it honours
    /// conditional writes. `probe_name` must be unique to this start (the
    /// probe writes `_drydock/probe/<probe_name>` under the root).
    pub async fn connect(config: &S3Config, probe_name: &str) -> std::result::Result<S3Driver, String> {
        config.check()?;
        // reqwest takes rustls' process-wide provider; drydock uses ring
        // everywhere. (Already installed is fine.)
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = ClientOptions::new()
            .with_timeout(REQUEST_TIMEOUT)
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_allow_http(!config.secure)
            .with_allow_invalid_certificates(config.skip_verify);
        let retry = RetryConfig { max_retries: MAX_RETRIES, retry_timeout: RETRY_TIMEOUT, ..Default::default() };
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_client_options(options)
            .with_retry(retry)
            // Over TLS the body's hash in the signature adds nothing but a
            // pass of SHA-256 over every byte (the registry hashes blobs
            // itself); over plain HTTP it is the only check in transit.
            .with_unsigned_payload(config.secure);
        if let Some(endpoint) = config.endpoint_url() {
            builder = builder.with_endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&config.access_key, &config.secret_key) {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret);
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
        if config.encrypt {
            builder = match &config.key_id {
                Some(key) => builder.with_sse_kms_encryption(key),
                None => {
                    let sse: AmazonS3ConfigKey =
                        "aws_server_side_encryption".parse().expect("object_store names this key");
                    builder.with_config(sse, "AES256")
                }
            };
        }
        let store = builder.build().map_err(|e| format!("s3: {e}"))?;
        let mut driver = S3Driver {
            store: Arc::new(store),
            root: config.root.trim_matches('/').to_owned(),
            chunk_size: config.chunk_size,
            conditional_writes: false,
            memory: Arc::new(tokio::sync::Semaphore::new(WRITERS_MEMORY)),
        };
        driver.conditional_writes = driver.probe(probe_name).await?;
        Ok(driver)
    }

    /// Whether the store refused to create an object over an existing one.
    pub fn conditional_writes(&self) -> bool {
        self.conditional_writes
    }

    /// Writes, reads, re-creates and deletes a probe object; returns
    /// whether the re-creation was refused.
    async fn probe(&self, name: &str) -> std::result::Result<bool, String> {
        let path = format!("/_drydock/probe/{name}");
        let key = self.key(&path).map_err(|e| e.to_string())?;
        let fail = |what: &str, e: object_store::Error| format!("s3: the bucket refused a {what}: {e}");
        let create = PutOptions { mode: PutMode::Create, ..Default::default() };
        self.store
            .put_opts(&key, PutPayload::from_static(b"first"), create.clone())
            .await
            .map_err(|e| fail("write", e))?;
        let second = self.store.put_opts(&key, PutPayload::from_static(b"second"), create).await;
        let read = self.store.get(&key).await.map_err(|e| fail("read", e))?.bytes().await;
        let read = read.map_err(|e| fail("read", e))?;
        self.store.delete(&key).await.map_err(|e| fail("delete", e))?;
        match second {
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                if read != "first" {
                    return Err("s3: the store refused a conditional write but replaced the object anyway".into());
                }
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(e) => Err(fail("conditional write", e)),
        }
    }

    fn key(&self, path: &str) -> Result<Key> {
        check_path(path)?;
        Ok(match self.root.is_empty() {
            true => Key::from(path.trim_start_matches('/')),
            false => Key::from(format!("{}{path}", self.root)),
        })
    }

    /// `path` as a directory's key (the registry root `/` included).
    fn dir_key(&self, path: &str) -> Result<Option<Key>> {
        if path == "/" {
            return Ok((!self.root.is_empty()).then(|| Key::from(self.root.as_str())));
        }
        self.key(path).map(Some)
    }
}

impl S3Driver {
    /// A GET of `len` bytes from `offset`, answered once the store has
    /// started answering; `None` if the object ends at or before `offset`.
    async fn get_range(&self, path: &str, offset: u64, len: u64) -> Result<Option<object_store::GetResult>> {
        let key = self.key(path)?;
        let range = GetRange::Bounded(offset..offset.saturating_add(len));
        let options = GetOptions { range: Some(range), ..Default::default() };
        match self.store.get_opts(&key, options).await {
            Ok(got) => Ok(Some(got)),
            Err(object_store::Error::NotFound { .. }) => Err(StorageError::NotFound(path.to_owned())),
            // S3 refuses a range that starts at or past the end (416): there
            // is nothing there, if the object is.
            Err(e) => match self.stat(path).await {
                Ok(info) if !info.is_dir && info.size <= offset => Ok(None),
                _ => Err(storage_err(path, e)),
            },
        }
    }
}

/// The largest object a writer with parts of `chunk_size` can complete.
fn largest_object(chunk_size: usize) -> u64 {
    chunk_size as u64 * MAX_PARTS
}

fn storage_err(path: &str, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound(path.to_owned()),
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            StorageError::AlreadyExists(path.to_owned())
        }
        e => StorageError::Io { path: path.to_owned(), source: std::io::Error::other(e) },
    }
}

/// An object gathered in memory up to one chunk, then a multipart upload.
struct S3Writer {
    store: Arc<AmazonS3>,
    key: Key,
    path: String,
    chunk_size: usize,
    /// Bytes not yet handed to a part (all of them while `upload` is none).
    pending: BytesMut,
    upload: Option<WriteMultipart>,
    size: u64,
    memory: Arc<tokio::sync::Semaphore>,
    /// This writer's share of [`WRITERS_MEMORY`].
    held: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl S3Writer {
    /// Holds at least `bytes` of the drivers' writer memory.
    async fn hold(&mut self, bytes: usize) -> Result<()> {
        let have = self.held.as_ref().map_or(0, |h| h.num_permits());
        if have >= bytes {
            return Ok(());
        }
        let want = u32::try_from(bytes - have).unwrap_or(u32::MAX);
        let more = tokio::time::timeout(WRITER_MEMORY_WAIT, self.memory.clone().acquire_many_owned(want)).await;
        let more = more
            .map_err(|_| StorageError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("no writer memory came free in time; try again"),
            })?
            .expect("the writer memory is never closed");
        match self.held.as_mut() {
            Some(h) => h.merge(more),
            None => self.held = Some(more),
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectWriter for S3Writer {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let limit = largest_object(self.chunk_size);
        if self.size + data.len() as u64 > limit {
            return Err(StorageError::TooLarge { path: self.path.clone(), limit });
        }
        self.size += data.len() as u64;
        if self.upload.is_none() {
            let gathered = self.pending.len() + data.len();
            if gathered > UNCOUNTED_BYTES {
                self.hold(self.chunk_size).await?;
            }
            if gathered <= self.chunk_size {
                self.pending.extend_from_slice(&data);
                return Ok(());
            }
            // The chunk filling, and the ones on their way.
            self.hold(self.chunk_size * (PARTS_IN_FLIGHT + 1)).await?;
            let upload = self.store.put_multipart(&self.key).await.map_err(|e| storage_err(&self.path, e))?;
            let mut upload = WriteMultipart::new_with_chunk_size(upload, self.chunk_size);
            upload.put(std::mem::take(&mut self.pending).freeze());
            self.upload = Some(upload);
        }
        let upload = self.upload.as_mut().expect("started above");
        upload.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(|e| storage_err(&self.path, e))?;
        upload.put(data);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<u64> {
        let S3Writer { store, key, path, pending, upload, size, held, .. } = *self;
        match upload {
            None => store.put(&key, PutPayload::from(pending.freeze())).await.map(|_| ()),
            Some(upload) => upload.finish().await.map(|_| ()),
        }
        .map_err(|e| storage_err(&path, e))?;
        drop(held);
        Ok(size)
    }

    async fn abort(self: Box<Self>) {
        if let Some(upload) = self.upload
            && let Err(e) = upload.abort().await
        {
            tracing::warn!(path = %self.path, error = %e, "aborting a multipart upload failed; the bucket's lifecycle rules must remove it");
        }
    }
}

#[async_trait]
impl StorageDriver for S3Driver {
    fn name(&self) -> &'static str {
        "s3"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { appends: false, conditional_writes: self.conditional_writes }
    }

    async fn get_content(&self, path: &str) -> Result<Bytes> {
        let key = self.key(path)?;
        let got = self.store.get(&key).await.map_err(|e| storage_err(path, e))?;
        got.bytes().await.map_err(|e| storage_err(path, e))
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<()> {
        let key = self.key(path)?;
        self.store.put(&key, PutPayload::from(content)).await.map(|_| ()).map_err(|e| storage_err(path, e))
    }

    async fn put_content_new(&self, path: &str, content: Bytes) -> Result<()> {
        let key = self.key(path)?;
        let mode = if self.conditional_writes { PutMode::Create } else { PutMode::Overwrite };
        let options = PutOptions { mode, ..Default::default() };
        self.store
            .put_opts(&key, PutPayload::from(content), options)
            .await
            .map(|_| ())
            .map_err(|e| storage_err(path, e))
    }

    /// `If-Match` on the ETag read with the content, where the store
    /// honours it; else a read, a compare and a plain put (serialised only
    /// within this process, by the caller).
    async fn replace_if(&self, path: &str, expected: Option<&[u8]>, content: Bytes) -> Result<bool> {
        let key = self.key(path)?;
        let Some(expected) = expected else {
            self.put_content(path, content).await?;
            return Ok(true);
        };
        for _ in 0..REPLACE_ATTEMPTS {
            let got = match self.store.get(&key).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(storage_err(path, e)),
            };
            let version = UpdateVersion { e_tag: got.meta.e_tag.clone(), version: got.meta.version.clone() };
            if got.bytes().await.map_err(|e| storage_err(path, e))? != expected {
                return Ok(false);
            }
            if !self.conditional_writes {
                self.put_content(path, content).await?;
                return Ok(true);
            }
            let options = PutOptions { mode: PutMode::Update(version), ..Default::default() };
            match self.store.put_opts(&key, PutPayload::from(content.clone()), options).await {
                Ok(_) => return Ok(true),
                // Rewritten since it was read (perhaps with the same
                // content): look again.
                Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(storage_err(path, e)),
            }
        }
        Err(StorageError::Io {
            path: path.to_owned(),
            source: std::io::Error::other(format!("rewritten by others {REPLACE_ATTEMPTS} times in a row")),
        })
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn ObjectWriter>> {
        let key = self.key(path)?;
        Ok(Box::new(S3Writer {
            store: self.store.clone(),
            key,
            path: path.to_owned(),
            chunk_size: self.chunk_size,
            pending: BytesMut::new(),
            upload: None,
            size: 0,
            memory: self.memory.clone(),
            held: None,
        }))
    }

    async fn read_at(&self, path: &str, offset: u64, max: usize) -> Result<Bytes> {
        if max == 0 {
            return self.stat(path).await.map(|_| Bytes::new());
        }
        match self.get_range(path, offset, max as u64).await? {
            Some(got) => got.bytes().await.map_err(|e| storage_err(path, e)),
            None => Ok(Bytes::new()),
        }
    }

    async fn read_stream(&self, path: &str, offset: u64, len: u64) -> Result<Option<ByteStream>> {
        let got = match len {
            0 => None,
            _ => self.get_range(path, offset, len).await?,
        };
        let path = path.to_owned();
        Ok(Some(match got {
            Some(got) => got.into_stream().map_err(move |e| storage_err(&path, e)).boxed(),
            None => futures_util::stream::empty().boxed(),
        }))
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let key = self.key(path)?;
        match self.store.head(&key).await {
            Ok(meta) => Ok(FileInfo { size: meta.size, is_dir: false }),
            Err(object_store::Error::NotFound { .. }) => {
                // A "directory": some key lies below it.
                let mut below = self.store.list(Some(&key));
                match below.next().await {
                    Some(Ok(_)) => Ok(FileInfo { size: 0, is_dir: true }),
                    Some(Err(e)) => Err(storage_err(path, e)),
                    None => Err(StorageError::NotFound(path.to_owned())),
                }
            }
            Err(e) => Err(storage_err(path, e)),
        }
    }

    async fn size(&self, path: &str) -> Result<u64> {
        let key = self.key(path)?;
        self.store.head(&key).await.map(|meta| meta.size).map_err(|e| storage_err(path, e))
    }

    async fn list(&self, path: &str) -> Result<Vec<String>> {
        let prefix = self.dir_key(path)?;
        let listed = self.store.list_with_delimiter(prefix.as_ref()).await.map_err(|e| storage_err(path, e))?;
        let mut names: Vec<String> = listed
            .common_prefixes
            .iter()
            .chain(listed.objects.iter().map(|o| &o.location))
            .filter_map(|k| k.filename().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() && path != "/" {
            return Err(StorageError::NotFound(path.to_owned()));
        }
        Ok(names)
    }

    async fn list_sizes(&self, path: &str) -> Result<Vec<(String, u64)>> {
        let prefix = self.dir_key(path)?;
        let listed = self.store.list_with_delimiter(prefix.as_ref()).await.map_err(|e| storage_err(path, e))?;
        let mut sized: Vec<(String, u64)> =
            listed.objects.iter().filter_map(|o| o.location.filename().map(|n| (n.to_owned(), o.size))).collect();
        sized.sort();
        Ok(sized)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (src, dst) = (self.key(from)?, self.key(to)?);
        self.store.copy(&src, &dst).await.map_err(|e| storage_err(from, e))?;
        self.store.delete(&src).await.map_err(|e| storage_err(from, e))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let key = self.key(path)?;
        // The registry never keeps an object and a "directory" of the same
        // name, so an object found is all there is to delete (and the
        // listing, slow on some stores when it finds nothing, is spared).
        // S3 answers a DELETE of nothing with success: HEAD tells.
        match self.store.head(&key).await {
            Ok(_) => return self.store.delete(&key).await.map_err(|e| storage_err(path, e)),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage_err(path, e)),
        }
        let below: Vec<Key> = self
            .store
            .list(Some(&key))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| storage_err(path, e))?;
        if below.is_empty() {
            return Err(StorageError::NotFound(path.to_owned()));
        }
        let doomed = futures_util::stream::iter(below.into_iter().map(Ok)).boxed();
        let mut deletes = self.store.delete_stream(doomed);
        while let Some(deleted) = deletes.next().await {
            match deleted {
                // Removed by someone else meanwhile: gone, as asked.
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(storage_err(path, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that already holds `size` bytes, on a store never reached.
    fn writer_at(size: u64) -> S3Writer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = AmazonS3Builder::new()
            .with_bucket_name("b")
            .with_region("r")
            .with_endpoint("http://127.0.0.1:9")
            .with_allow_http(true)
            .build()
            .unwrap();
        S3Writer {
            store: Arc::new(store),
            key: Key::from("k"),
            path: "/k".to_owned(),
            chunk_size: MIN_CHUNK_SIZE,
            pending: BytesMut::new(),
            upload: None,
            size,
            memory: Arc::new(tokio::sync::Semaphore::new(WRITERS_MEMORY)),
            held: None,
        }
    }

    #[tokio::test]
    async fn a_write_past_ten_thousand_parts_is_refused_before_it_is_sent() {
        let limit = MIN_CHUNK_SIZE as u64 * MAX_PARTS;
        let mut w = writer_at(limit - 3);
        let refused = w.write(Bytes::from_static(b"four")).await.unwrap_err();
        assert!(matches!(refused, StorageError::TooLarge { limit: l, .. } if l == limit), "{refused}");
        assert_eq!(w.size, limit - 3);
        // Exactly up to the limit is taken (gathered, nothing sent yet).
        let mut w = writer_at(limit - 3);
        w.write(Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(w.size, limit);
    }
}
