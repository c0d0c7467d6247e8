//! A driver over a local directory, laid out exactly as distribution's
//! `filesystem` driver lays out `rootdirectory`, so either registry can serve
//! the other's data.
//!
//! Atomic replacement: write a temporary file beside the target, fsync it,
//! rename it over the target, fsync the directory. A crash at any moment
//! leaves the old object or the new one. Not used by the simulator (which
//! injects its own storage), so tokio's blocking-pool file I/O is fine here.

use super::cached_read::Cached;
use super::{Capabilities, FileInfo, ObjectWriter, Result, StorageDriver, StorageError, check_path};
use async_trait::async_trait;
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

/// Prefix of temporary files; never a valid registry path component.
const TEMP_PREFIX: &str = ".tmp-";
/// Times a write starts over because its directory was removed as empty
/// under it (`remove_empty_dir` racing a writer).
const PARENT_RACE_RETRIES: u32 = 8;
/// Bytes an [`ObjectWriter`] gathers before each write to its file.
const WRITER_BUFFER: usize = 1 << 20;

pub struct FilesystemDriver {
    root: PathBuf,
    temp_counter: AtomicU64,
}

impl FilesystemDriver {
    pub fn new(root: impl Into<PathBuf>) -> FilesystemDriver {
        FilesystemDriver { root: root.into(), temp_counter: AtomicU64::new(0) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> Result<PathBuf> {
        check_path(path)?;
        Ok(self.root.join(&path[1..]))
    }

    /// A fresh temporary file's path beside `full`.
    fn temporary(&self, full: &Path) -> PathBuf {
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let name = full.file_name().expect("checked paths have a name").to_string_lossy();
        full.with_file_name(format!("{TEMP_PREFIX}{}-{n}-{name}", std::process::id()))
    }

    /// Writes `content` to a temporary file beside `full` and makes it
    /// durable, then hands its path to `publish` (which must move or link
    /// it into place). Retries when the directory is removed as empty
    /// under it.
    async fn write_then<F, Fut>(&self, path: &str, content: &[u8], publish: F) -> Result<()>
    where
        F: Fn(PathBuf, PathBuf) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<()>>,
    {
        let full = self.full(path)?;
        let parent = full.parent().expect("checked paths have a parent").to_owned();
        let mut attempt = 0;
        loop {
            let temp = self.temporary(&full);
            let result = async {
                tokio::fs::create_dir_all(&parent).await?;
                let mut f = tokio::fs::File::create(&temp).await?;
                f.write_all(content).await?;
                f.sync_all().await?;
                drop(f);
                publish(temp.clone(), full.clone()).await?;
                sync_dir(&parent).await
            }
            .await;
            match result {
                Ok(()) => return Ok(()),
                // The parent was removed as empty between our steps (NotFound,
                // or AlreadyExists from create_dir_all seeing it vanish
                // mid-call): write again.
                Err(e)
                    if (e.kind() == std::io::ErrorKind::NotFound
                        || (e.kind() == std::io::ErrorKind::AlreadyExists && !full.exists()))
                        && attempt < PARENT_RACE_RETRIES =>
                {
                    attempt += 1
                }
                Err(e) => {
                    let _ = tokio::fs::remove_file(&temp).await;
                    return Err(match e.kind() {
                        std::io::ErrorKind::AlreadyExists => StorageError::AlreadyExists(path.to_owned()),
                        _ => io_err(path)(e),
                    });
                }
            }
        }
    }
}

/// A temporary file beside the object, renamed over it on commit.
struct FileWriter {
    file: tokio::io::BufWriter<tokio::fs::File>,
    temp: PathBuf,
    full: PathBuf,
    path: String,
    size: u64,
}

#[async_trait]
impl ObjectWriter for FileWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.file.write_all(&data).await.map_err(io_err(&self.path))?;
        self.size += data.len() as u64;
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> Result<u64> {
        let result = async {
            self.file.flush().await?;
            self.file.get_ref().sync_all().await?;
            tokio::fs::rename(&self.temp, &self.full).await?;
            sync_dir(self.full.parent().expect("checked paths have a parent")).await
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&self.temp).await;
            return Err(io_err(&self.path)(e));
        }
        Ok(self.size)
    }

    async fn abort(self: Box<Self>) {
        let _ = tokio::fs::remove_file(&self.temp).await;
    }
}

fn io_err(path: &str) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            StorageError::NotFound(path.to_owned())
        } else {
            StorageError::Io { path: path.to_owned(), source }
        }
    }
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

async fn create_parent(file: &Path) -> std::io::Result<()> {
    match file.parent() {
        Some(parent) => tokio::fs::create_dir_all(parent).await,
        None => Ok(()),
    }
}

#[async_trait]
impl StorageDriver for FilesystemDriver {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::FILES
    }

    async fn get_content(&self, path: &str) -> Result<Bytes> {
        let full = self.full(path)?;
        match super::cached_read::read(&full) {
            Some(Cached::Content(content)) => Ok(Bytes::from(content)),
            Some(Cached::NotFound) => Err(StorageError::NotFound(path.to_owned())),
            None => tokio::fs::read(&full).await.map(Bytes::from).map_err(io_err(path)),
        }
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<()> {
        self.write_then(path, &content, |temp, full| async move { tokio::fs::rename(temp, full).await }).await
    }

    async fn put_content_new(&self, path: &str, content: Bytes) -> Result<()> {
        // A hard link refuses an existing name, atomically.
        self.write_then(path, &content, |temp, full| async move {
            let linked = tokio::fs::hard_link(&temp, full).await;
            let _ = tokio::fs::remove_file(&temp).await;
            linked
        })
        .await
    }

    /// Under an exclusive lock on the object's directory, so every process
    /// sharing the root serialises its conditional replacements there.
    async fn replace_if(&self, path: &str, expected: Option<&[u8]>, content: Bytes) -> Result<bool> {
        let full = self.full(path)?;
        let parent = full.parent().expect("checked paths have a parent").to_owned();
        tokio::fs::create_dir_all(&parent).await.map_err(io_err(path))?;
        let dir = tokio::fs::File::open(&parent).await.map_err(io_err(path))?.into_std().await;
        let locked = tokio::task::spawn_blocking(move || dir.lock().map(|()| dir)).await;
        let dir = locked.map_err(|e| StorageError::Io { path: path.to_owned(), source: std::io::Error::other(e) })?;
        let _held = dir.map_err(io_err(path))?;
        if let Some(expected) = expected {
            match tokio::fs::read(&full).await {
                Ok(current) if current == expected => {}
                Ok(_) => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(io_err(path)(e)),
            }
        }
        self.put_content(path, content).await?;
        Ok(true)
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn ObjectWriter>> {
        let full = self.full(path)?;
        create_parent(&full).await.map_err(io_err(path))?;
        let temp = self.temporary(&full);
        let file = tokio::fs::File::create(&temp).await.map_err(io_err(path))?;
        Ok(Box::new(FileWriter {
            file: tokio::io::BufWriter::with_capacity(WRITER_BUFFER, file),
            temp,
            full,
            path: path.to_owned(),
            size: 0,
        }))
    }

    async fn read_at(&self, path: &str, offset: u64, max: usize) -> Result<Bytes> {
        let full = self.full(path)?;
        // One trip to the blocking pool per piece (open and positioned
        // reads), not one per step as `tokio::fs` takes them.
        let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            use std::io::{Read as _, Seek as _};
            let mut f = std::fs::File::open(&full)?;
            let want = usize::try_from(f.metadata()?.len().saturating_sub(offset)).unwrap_or(usize::MAX).min(max);
            f.seek(std::io::SeekFrom::Start(offset))?;
            // Into spare capacity: no zeroing a buffer about to be filled.
            let mut buf = Vec::with_capacity(want);
            f.take(want as u64).read_to_end(&mut buf)?;
            Ok(buf)
        })
        .await
        .map_err(|e| StorageError::Io { path: path.to_owned(), source: std::io::Error::other(e) })?;
        Ok(Bytes::from(read.map_err(io_err(path))?))
    }

    /// Walks the whole root: temporaries can sit beside any object. Only
    /// files named as this driver names its temporaries, and older than
    /// `cutoff` (no write takes that long), are removed.
    async fn remove_stale_temporaries(&self, cutoff: std::time::SystemTime) -> Result<u64> {
        let mut removed = 0;
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            let shown = dir.display().to_string();
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                // Removed while we walked (an upload finished, a tag went).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&shown)(e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(io_err(&shown))? {
                let Ok(kind) = entry.file_type().await else { continue };
                if kind.is_dir() {
                    dirs.push(entry.path());
                    continue;
                }
                if !kind.is_file() || !entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                    continue;
                }
                let stale = entry.metadata().await.and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
                if stale && tokio::fs::remove_file(entry.path()).await.is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    async fn remove_empty_dir(&self, path: &str) -> Result<bool> {
        let full = self.full(path)?;
        match tokio::fs::remove_dir(&full).await {
            Ok(()) => Ok(true),
            // Not empty (a writer's temp file counts), already gone, or not a directory.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::DirectoryNotEmpty
                        | std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(io_err(path)(e)),
        }
    }

    async fn append(&self, path: &str, offset: u64, data: Bytes) -> Result<u64> {
        self.append_parts(path, offset, vec![data]).await
    }

    async fn append_parts(&self, path: &str, offset: u64, parts: Vec<Bytes>) -> Result<u64> {
        let full = self.full(path)?;
        let owned_path = path.to_owned();
        // The size check and the write happen under an exclusive advisory
        // lock, so appenders in any process sharing the directory serialise.
        let appended = tokio::task::spawn_blocking(move || -> Result<u64> {
            let locked_append = || -> std::io::Result<std::result::Result<u64, u64>> {
                let mut f = std::fs::OpenOptions::new().append(true).open(&full)?;
                f.lock()?;
                let actual = f.metadata()?.len();
                if actual != offset {
                    return Ok(Err(actual));
                }
                let len = write_all_vectored(&mut f, &parts)?;
                f.sync_data()?;
                Ok(Ok(actual + len))
            };
            match locked_append().map_err(io_err(&owned_path))? {
                Ok(size) => Ok(size),
                Err(actual) => Err(StorageError::SizeMismatch { path: owned_path, expected: offset, actual }),
            }
        })
        .await;
        appended.map_err(|e| StorageError::Io { path: path.to_owned(), source: std::io::Error::other(e) })?
    }

    async fn truncate(&self, path: &str, size: u64) -> Result<()> {
        let full = self.full(path)?;
        let result = async {
            let f = tokio::fs::OpenOptions::new().write(true).open(&full).await?;
            f.set_len(size).await?;
            f.sync_all().await
        }
        .await;
        result.map_err(io_err(path))
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let full = self.full(path)?;
        let m = tokio::fs::metadata(&full).await.map_err(io_err(path))?;
        Ok(FileInfo { size: if m.is_dir() { 0 } else { m.len() }, is_dir: m.is_dir() })
    }

    async fn list(&self, path: &str) -> Result<Vec<String>> {
        let full = if path == "/" { self.root.clone() } else { self.full(path)? };
        let mut dir = tokio::fs::read_dir(&full).await.map_err(io_err(path))?;
        let mut names = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(io_err(path))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(TEMP_PREFIX) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (src, dst) = (self.full(from)?, self.full(to)?);
        tokio::fs::metadata(&src).await.map_err(io_err(from))?;
        let result = async {
            create_parent(&dst).await?;
            tokio::fs::rename(&src, &dst).await?;
            sync_dir(dst.parent().expect("checked paths have a parent")).await
        }
        .await;
        result.map_err(io_err(to))
    }

    async fn delete(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        let m = tokio::fs::symlink_metadata(&full).await.map_err(io_err(path))?;
        if !m.is_dir() {
            return tokio::fs::remove_file(&full).await.map_err(io_err(path));
        }
        let mut attempt = 0;
        loop {
            match tokio::fs::remove_dir_all(&full).await {
                Ok(()) => return Ok(()),
                // A writer added to the tree while it was being removed:
                // remove again, so the delete takes what was there.
                Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && attempt < PARENT_RACE_RETRIES => {
                    attempt += 1
                }
                // Removed by someone else meanwhile: gone, as asked.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(io_err(path)(e)),
            }
        }
    }
}

/// Writes every part, in order, with as few `writev` calls as the kernel
/// allows. Returns the bytes written.
fn write_all_vectored(f: &mut std::fs::File, parts: &[Bytes]) -> std::io::Result<u64> {
    use std::io::{IoSlice, Write as _};
    let mut slices: Vec<IoSlice<'_>> = parts.iter().filter(|p| !p.is_empty()).map(|p| IoSlice::new(p)).collect();
    let mut rest = &mut slices[..];
    let mut written = 0u64;
    while !rest.is_empty() {
        match f.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn passes_the_driver_suite() {
        let dir = std::env::temp_dir().join(format!("drydock-fs-suite-{}", std::process::id()));
        super::super::suite::run(std::sync::Arc::new(FilesystemDriver::new(&dir))).await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn temporaries_a_crash_left_are_removed_once_stale() {
        let dir = std::env::temp_dir().join(format!("drydock-fs-temps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let d = FilesystemDriver::new(&dir);
        d.put_content("/a/b/link", Bytes::from_static(b"kept")).await.unwrap();
        // What a process killed between writing and renaming leaves.
        let crashed = dir.join(format!("a/b/{TEMP_PREFIX}4242-7-link"));
        std::fs::write(&crashed, b"half").unwrap();
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&crashed).unwrap().set_modified(hour_ago).unwrap();
        // A write in flight right now: too young to be stale.
        let in_flight = dir.join(format!("a/{TEMP_PREFIX}4243-1-x"));
        std::fs::write(&in_flight, b"writing").unwrap();
        // An ordinary object that is merely old stays.
        let old_object = dir.join("a/old");
        std::fs::write(&old_object, b"object").unwrap();
        std::fs::File::options().write(true).open(&old_object).unwrap().set_modified(hour_ago).unwrap();

        let cutoff = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(d.remove_stale_temporaries(cutoff).await.unwrap(), 1);
        assert!(!crashed.exists());
        assert!(in_flight.exists() && old_object.exists());
        assert_eq!(d.get_content("/a/b/link").await.unwrap(), "kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
