//! One object read front to back in pieces the caller chooses.
//!
//! On a filesystem each piece is one `read_at`. On an object store each
//! `read_at` is a request with its own round trip (and, on AWS, its own
//! charge), so a large blob read piece by piece spends most of its time
//! waiting: there the read is one streamed request per [`READ_WINDOW`]
//! ([`StorageDriver::read_stream`]). A stream that breaks after delivering
//! something (a connection reset, the request timeout reached under a slow
//! client) is reopened where it stopped; after [`MAX_BARREN_STREAMS`] in a
//! row that fail before delivering anything, the read fails.

use super::{ByteStream, Result, StorageDriver};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use std::sync::Arc;

/// Bytes one streamed request covers at most. Large enough that requests
/// are few (16 per GiB), small enough that one lasts well within the
/// store's request timeout at any sane download speed.
pub const READ_WINDOW: u64 = 64 << 20;
/// Streams in a row that may fail before delivering anything before the
/// read fails (the store's client already retried each request's start).
const MAX_BARREN_STREAMS: u32 = 2;

pub struct SequentialRead {
    driver: Arc<dyn StorageDriver>,
    path: String,
    /// The next byte `take` hands out.
    pos: u64,
    /// Where the read stops (exclusive).
    end: u64,
    /// Bytes received past `pos`, not yet handed out.
    held: Bytes,
    stream: Option<Open>,
    /// Whether the driver streams (it said no once: `read_at` from then on).
    streams: bool,
    /// Streams that failed in a row without delivering a byte.
    barren: u32,
    /// The `resume-at-window-start` mutant: where the next stream opens.
    #[cfg(feature = "sim-mutants")]
    reopen_at: Option<u64>,
    #[cfg(feature = "sim-mutants")]
    resume_at_window_start: bool,
}

impl SequentialRead {
    /// Reads `path` from `start` up to `end` (exclusive; an object shorter
    /// than that ends the read early).
    pub fn new(driver: Arc<dyn StorageDriver>, path: String, start: u64, end: u64) -> SequentialRead {
        SequentialRead {
            driver,
            path,
            pos: start,
            end,
            held: Bytes::new(),
            stream: None,
            streams: true,
            barren: 0,
            #[cfg(feature = "sim-mutants")]
            reopen_at: None,
            #[cfg(feature = "sim-mutants")]
            resume_at_window_start: false,
        }
    }

    /// The `resume-at-window-start` mutant (see `Mutants`).
    #[cfg(feature = "sim-mutants")]
    pub(crate) fn resuming_at_window_start(mut self) -> SequentialRead {
        self.resume_at_window_start = true;
        self
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The next `want` bytes (capped at the end of the read); fewer only
    /// where the object ends.
    pub async fn take(&mut self, want: usize) -> Result<Bytes> {
        let want = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX).min(want);
        if want == 0 {
            return Ok(Bytes::new());
        }
        let mut gathered: Option<BytesMut> = None;
        loop {
            let have = gathered.as_ref().map_or(0, BytesMut::len);
            if !self.held.is_empty() {
                let n = self.held.len().min(want - have);
                let piece = self.held.split_to(n);
                self.pos += n as u64;
                match &mut gathered {
                    // The common case on a stream of large chunks: no copy.
                    None if n == want => return Ok(piece),
                    None => gathered = Some(BytesMut::from(&piece[..])),
                    Some(buf) => buf.extend_from_slice(&piece),
                }
                if have + n == want {
                    return Ok(gathered.map(BytesMut::freeze).unwrap_or_default());
                }
                continue;
            }
            match self.fill(want - have).await? {
                Filled::Held => {}
                Filled::Direct(bytes) => {
                    self.pos += bytes.len() as u64;
                    return Ok(match gathered {
                        None => bytes,
                        Some(mut buf) => {
                            buf.extend_from_slice(&bytes);
                            buf.freeze()
                        }
                    });
                }
                Filled::Ended => return Ok(gathered.map(BytesMut::freeze).unwrap_or_default()),
            }
        }
    }

    /// Gets more bytes at `pos` (nothing is held): into `held` from the
    /// stream, or `want` of them straight from `read_at` on a driver that
    /// does not stream.
    async fn fill(&mut self, want: usize) -> Result<Filled> {
        loop {
            if !self.streams {
                let bytes = self.driver.read_at(&self.path, self.pos, want).await?;
                return Ok(if bytes.is_empty() { Filled::Ended } else { Filled::Direct(bytes) });
            }
            if self.pos >= self.end {
                return Ok(Filled::Ended);
            }
            let open = match &mut self.stream {
                Some(open) => open,
                None => {
                    let len = (self.end - self.pos).min(READ_WINDOW);
                    #[cfg(feature = "sim-mutants")]
                    let at = self.reopen_at.take().unwrap_or(self.pos);
                    #[cfg(not(feature = "sim-mutants"))]
                    let at = self.pos;
                    match self.driver.read_stream(&self.path, at, len).await? {
                        Some(stream) => self.stream.insert(Open { stream, opened_at: self.pos, end: self.pos + len }),
                        None => {
                            self.streams = false;
                            continue;
                        }
                    }
                }
            };
            match open.stream.next().await {
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => {
                    self.barren = 0;
                    let room = usize::try_from(open.end - self.pos).unwrap_or(usize::MAX);
                    self.held = if chunk.len() > room { chunk.slice(..room) } else { chunk };
                    return Ok(Filled::Held);
                }
                Some(Err(e)) => {
                    let delivered = self.pos > open.opened_at;
                    #[cfg(feature = "sim-mutants")]
                    if self.resume_at_window_start {
                        self.reopen_at = Some(open.opened_at);
                    }
                    self.stream = None;
                    self.barren = if delivered { 0 } else { self.barren + 1 };
                    if self.barren > MAX_BARREN_STREAMS {
                        return Err(e);
                    }
                    tracing::debug!(path = %self.path, at = self.pos, error = %e, "storage stream broke; reopened where it stopped");
                }
                None => {
                    let window_done = self.pos >= open.end;
                    self.stream = None;
                    if !window_done {
                        // The object ends before the window did.
                        return Ok(Filled::Ended);
                    }
                }
            }
        }
    }
}

/// A stream the driver opened at `opened_at`, covering up to `end`; it
/// delivers from `pos + held.len()`.
struct Open {
    stream: ByteStream,
    opened_at: u64,
    end: u64,
}

enum Filled {
    /// `held` has bytes.
    Held,
    /// Bytes from `read_at`, not yet counted in `pos`.
    Direct(Bytes),
    /// The object ends at `pos`.
    Ended,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Capabilities, FileInfo, InMemoryDriver, ObjectWriter, StorageError};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// An object store whose streams break: each of the first `breaks`
    /// streams opened fails after delivering `after` bytes.
    struct Breaking {
        inner: InMemoryDriver,
        after: usize,
        breaks: Mutex<usize>,
        opened: Mutex<Vec<u64>>,
    }

    #[async_trait]
    impl StorageDriver for Breaking {
        fn name(&self) -> &'static str {
            "breaking"
        }
        fn capabilities(&self) -> Capabilities {
            self.inner.capabilities()
        }
        async fn get_content(&self, p: &str) -> Result<Bytes> {
            self.inner.get_content(p).await
        }
        async fn put_content(&self, p: &str, c: Bytes) -> Result<()> {
            self.inner.put_content(p, c).await
        }
        async fn put_content_new(&self, p: &str, c: Bytes) -> Result<()> {
            self.inner.put_content_new(p, c).await
        }
        async fn replace_if(&self, p: &str, e: Option<&[u8]>, c: Bytes) -> Result<bool> {
            self.inner.replace_if(p, e, c).await
        }
        async fn writer(&self, p: &str) -> Result<Box<dyn ObjectWriter>> {
            self.inner.writer(p).await
        }
        async fn read_at(&self, p: &str, o: u64, m: usize) -> Result<Bytes> {
            self.inner.read_at(p, o, m).await
        }
        async fn read_stream(&self, p: &str, o: u64, l: u64) -> Result<Option<ByteStream>> {
            self.opened.lock().unwrap().push(o);
            let stream = self.inner.read_stream(p, o, l).await?.expect("an object store streams");
            let break_this = {
                let mut breaks = self.breaks.lock().unwrap();
                let some = *breaks > 0;
                *breaks = breaks.saturating_sub(1);
                some
            };
            if !break_this {
                return Ok(Some(stream));
            }
            let all: Vec<Bytes> = stream.map(|c| c.unwrap()).collect().await;
            let joined: Bytes = all.concat().into();
            let head = joined.slice(..self.after.min(joined.len()));
            let broken = StorageError::Io { path: p.to_owned(), source: std::io::Error::other("connection reset") };
            Ok(Some(futures_util::stream::iter([Ok(head), Err(broken)]).boxed()))
        }
        async fn stat(&self, p: &str) -> Result<FileInfo> {
            self.inner.stat(p).await
        }
        async fn list(&self, p: &str) -> Result<Vec<String>> {
            self.inner.list(p).await
        }
        async fn rename(&self, f: &str, t: &str) -> Result<()> {
            self.inner.rename(f, t).await
        }
        async fn delete(&self, p: &str) -> Result<()> {
            self.inner.delete(p).await
        }
    }

    async fn breaking(after: usize, breaks: usize, content: &Bytes) -> Arc<Breaking> {
        let inner = InMemoryDriver::with_capabilities(Capabilities { appends: false, conditional_writes: true });
        inner.put_content("/o", content.clone()).await.unwrap();
        Arc::new(Breaking { inner, after, breaks: Mutex::new(breaks), opened: Mutex::default() })
    }

    fn content() -> Bytes {
        (0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>().into()
    }

    #[tokio::test]
    async fn a_stream_that_breaks_after_delivering_is_reopened_where_it_stopped() {
        let content = content();
        let driver = breaking(70_000, 3, &content).await;
        let mut read = SequentialRead::new(driver.clone(), "/o".to_owned(), 10, content.len() as u64);
        let mut got = Vec::new();
        loop {
            let piece = read.take(1 << 16).await.unwrap();
            if piece.is_empty() {
                break;
            }
            got.extend_from_slice(&piece);
        }
        assert!(got == content[10..]);
        assert_eq!(*driver.opened.lock().unwrap(), [10, 70_010, 140_010, 210_010]);
    }

    #[tokio::test]
    async fn streams_that_keep_breaking_before_delivering_fail_the_read() {
        let content = content();
        // Two barren breaks in a row are survived...
        let driver = breaking(0, 2, &content).await;
        let mut read = SequentialRead::new(driver.clone(), "/o".to_owned(), 0, content.len() as u64);
        assert!(read.take(10).await.unwrap() == content[..10]);
        assert_eq!(*driver.opened.lock().unwrap(), [0, 0, 0]);
        // ...a third is not.
        let driver = breaking(0, 3, &content).await;
        let mut read = SequentialRead::new(driver.clone(), "/o".to_owned(), 0, content.len() as u64);
        assert!(matches!(read.take(10).await, Err(StorageError::Io { .. })));
        assert_eq!(*driver.opened.lock().unwrap(), [0, 0, 0]);
    }

    #[tokio::test]
    async fn a_read_spanning_windows_opens_one_stream_per_window() {
        let content: Bytes = vec![7u8; (READ_WINDOW + 5) as usize].into();
        let driver = breaking(0, 0, &content).await;
        let mut read = SequentialRead::new(driver.clone(), "/o".to_owned(), 0, content.len() as u64);
        let mut total = 0;
        loop {
            let piece = read.take(4 << 20).await.unwrap();
            if piece.is_empty() {
                break;
            }
            total += piece.len();
        }
        assert_eq!(total, content.len());
        assert_eq!(*driver.opened.lock().unwrap(), [0, READ_WINDOW]);
    }
}
