//! Simulated storage: the in-memory driver behind seeded faults — latency,
//! errors, list-after-write lag, appends torn by a crash — and the storage
//! mutants: drivers that break the contract in ways real backends have.

use async_trait::async_trait;
use bytes::Bytes;
use drydock_reference::storage::{
    ByteStream, Capabilities, FileInfo, InMemoryDriver, ObjectWriter, Result, StorageDriver, StorageError,
};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use crate::trace::Trace;

/// What can go wrong, drawn from the run's seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct StorageFaults {
    /// Chance in 10,000 that an operation fails.
    pub error_per_10k: u32,
    /// Upper bound of the latency added to each operation.
    pub max_latency: Duration,
    /// Chance in 10,000 that a streamed read breaks off partway (after a
    /// seeded number of its chunks; before the first only at the error
    /// rate).
    pub stream_breaks_per_10k: u32,
    /// The store answers "slow down" past this many operations in one
    /// millisecond (0: never), as S3 does per prefix past its request
    /// rates; the client backs off and tries again a few times, as S3
    /// clients do, then fails the operation.
    pub throttle_per_ms: u32,
    /// A listing misses objects written less than this long ago.
    pub list_lag: Duration,
    /// An append lands in two steps, so a host that crashes mid-append
    /// leaves only a prefix of it (the write was never acknowledged).
    pub torn_appends: bool,
    /// The backend is an object store (S3's model): no append, no atomic
    /// rename (a copy, then a delete), so uploads are kept as segments.
    pub objects: bool,
    /// With `objects`: creating an object refuses to replace one (S3 and
    /// others honour `If-None-Match`; some stores ignore it).
    pub conditional_writes: bool,
    /// Mutant: a tag's `current/link` is replaced by delete-then-write.
    pub non_atomic_tags: bool,
    /// Mutant: deleting a tag's directory is acknowledged but not done.
    pub lost_tag_deletes: bool,
    /// Mutant: `stat` answers from a listing of the parent, as
    /// distribution's S3 driver did, so list lag hides fresh objects.
    pub stat_via_list: bool,
    /// Mutant: `rename` copies piece by piece, then deletes the source (a
    /// cross-device rename fallback): the destination is visible, and short,
    /// while the copy runs, and two copies to one destination interleave.
    pub non_atomic_moves: bool,
}

/// The backend a run's storage behaves as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StorageModel {
    /// A filesystem: conditional append, atomic rename, create-only writes.
    #[default]
    Files,
    /// S3 as AWS serves it today: no append, no rename (copy then delete),
    /// conditional writes (`If-None-Match`) honoured.
    S3,
    /// An S3-compatible store that ignores conditional writes (Garage 2.5,
    /// older MinIO and Ceph): a create replaces what is there.
    S3Unconditional,
}

impl StorageModel {
    pub const ALL: [StorageModel; 3] = [StorageModel::Files, StorageModel::S3, StorageModel::S3Unconditional];

    pub fn name(self) -> &'static str {
        match self {
            StorageModel::Files => "files",
            StorageModel::S3 => "s3",
            StorageModel::S3Unconditional => "s3-unconditional",
        }
    }

    pub fn parse(name: &str) -> Option<StorageModel> {
        StorageModel::ALL.into_iter().find(|m| m.name() == name)
    }

    /// `faults` on this backend.
    pub fn apply(self, faults: StorageFaults) -> StorageFaults {
        match self {
            StorageModel::Files => faults,
            StorageModel::S3 | StorageModel::S3Unconditional => StorageFaults {
                objects: true,
                conditional_writes: self == StorageModel::S3,
                stream_breaks_per_10k: faults.stream_breaks_per_10k.max(S3_STREAM_BREAKS),
                throttle_per_ms: if faults.throttle_per_ms == 0 { S3_THROTTLE_PER_MS } else { faults.throttle_per_ms },
                ..faults
            },
        }
    }
}

/// On the S3 models, the chance in 10,000 that a streamed read breaks off
/// (connections reset, requests time out under slow readers): often, so
/// every run meets some.
const S3_STREAM_BREAKS: u32 = 2_000;
/// On the S3 models, operations per millisecond before the store throttles:
/// bursts meet it, steady work does not.
const S3_THROTTLE_PER_MS: u32 = 4;
/// Backoffs of a throttled operation before it fails: 1, 2, 4 ms.
const THROTTLE_RETRIES: u32 = 3;
/// The largest chunk a simulated stream delivers at once.
const STREAM_CHUNK_MAX: usize = 32 << 10;

/// Bytes per piece when the non-atomic-move mutant copies an object.
const MOVE_PIECE: usize = 8 << 10;

type Created = Arc<Mutex<BTreeMap<String, tokio::time::Instant>>>;

/// Notes when an object came into existence (overwrites keep the date).
fn note_created(created: &Created, path: &str) {
    created.lock().unwrap_or_else(|p| p.into_inner()).entry(path.to_owned()).or_insert_with(tokio::time::Instant::now);
}

/// A large object's writer whose commit counts as the object's creation.
struct FaultyWriter {
    inner: Box<dyn ObjectWriter>,
    created: Option<(Created, String)>,
}

#[async_trait]
impl ObjectWriter for FaultyWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.inner.write(data).await
    }
    async fn commit(self: Box<Self>) -> Result<u64> {
        let size = self.inner.commit().await?;
        if let Some((created, path)) = &self.created {
            note_created(created, path);
        }
        Ok(size)
    }
    async fn abort(self: Box<Self>) {
        self.inner.abort().await
    }
}

pub struct FaultyStorage {
    inner: InMemoryDriver,
    faults: StorageFaults,
    rng: Mutex<ChaCha8Rng>,
    /// When each existing object was created (kept only under list lag).
    created: Created,
    /// Serialises torn appends.
    appending: tokio::sync::Mutex<()>,
    /// The current millisecond of simulated time and the operations in it.
    window: Mutex<(u128, u32)>,
    trace: Trace,
}

impl FaultyStorage {
    pub fn new(seed: u64, faults: StorageFaults, trace: Trace) -> FaultyStorage {
        let inner = match faults.objects {
            true => InMemoryDriver::with_capabilities(Capabilities {
                appends: false,
                conditional_writes: faults.conditional_writes,
            }),
            false => InMemoryDriver::new(),
        };
        FaultyStorage {
            inner,
            faults,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ 0x0570_7a6e)),
            created: Created::default(),
            appending: tokio::sync::Mutex::new(()),
            window: Mutex::new((0, 0)),
            trace,
        }
    }

    /// The stored objects themselves, past every fault (for audits after
    /// the run).
    pub fn contents(&self) -> &InMemoryDriver {
        &self.inner
    }

    fn roll(&self, per_10k: u32) -> bool {
        per_10k > 0 && self.rng.lock().unwrap_or_else(|p| p.into_inner()).next_u32() % 10_000 < per_10k
    }

    async fn before(&self, op: &str, path: &str) -> Result<()> {
        let max = self.faults.max_latency.as_micros() as u64;
        if max > 0 {
            let micros = self.rng.lock().unwrap_or_else(|p| p.into_inner()).next_u64() % max;
            tokio::time::sleep(Duration::from_micros(micros)).await;
        }
        self.throttle(op, path).await?;
        if self.roll(self.faults.error_per_10k) {
            self.trace.record("storage", format!("fault: {op} {path} fails"));
            return Err(StorageError::Io {
                path: path.to_owned(),
                source: std::io::Error::other("injected storage fault"),
            });
        }
        Ok(())
    }

    /// Counts the operation against this millisecond's budget; past it,
    /// backs off and tries again, and fails after [`THROTTLE_RETRIES`].
    async fn throttle(&self, op: &str, path: &str) -> Result<()> {
        if self.faults.throttle_per_ms == 0 {
            return Ok(());
        }
        for attempt in 0..=THROTTLE_RETRIES {
            let now = turmoil::sim_elapsed().unwrap_or_default().as_millis();
            let admitted = {
                let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
                if window.0 != now {
                    *window = (now, 0);
                }
                window.1 += 1;
                window.1 <= self.faults.throttle_per_ms
            };
            if admitted {
                return Ok(());
            }
            if attempt == THROTTLE_RETRIES {
                break;
            }
            self.trace.record("storage", format!("fault: {op} {path} throttled (slow down), retried"));
            tokio::time::sleep(Duration::from_millis(1 << attempt)).await;
        }
        self.trace.record("storage", format!("fault: {op} {path} throttled {THROTTLE_RETRIES} times; fails"));
        Err(StorageError::Io {
            path: path.to_owned(),
            source: std::io::Error::other("503 SlowDown: reduce your request rate"),
        })
    }

    fn jitter(&self, max: Duration) -> Duration {
        let max = max.as_micros().max(1) as u64;
        Duration::from_micros(self.rng.lock().unwrap_or_else(|p| p.into_inner()).next_u64() % max)
    }

    /// Names in `path` a listing shows now. As on an object store with
    /// list-after-write lag, an object appears in listings only once it is
    /// `list_lag` old, and a "directory" once any object under it has.
    fn visible(&self, path: &str, names: Vec<String>) -> Vec<String> {
        if self.faults.list_lag.is_zero() {
            return names;
        }
        let now = tokio::time::Instant::now();
        let created = self.created.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = format!("{}/", path.trim_end_matches('/'));
        names
            .into_iter()
            .filter(|n| {
                let child = format!("{prefix}{n}");
                let under = format!("{child}/");
                created
                    .range(child.clone()..)
                    .take_while(|(p, _)| p.starts_with(&child))
                    .filter(|(p, _)| **p == child || p.starts_with(&under))
                    .any(|(_, t)| now - *t >= self.faults.list_lag)
            })
            .collect()
    }

    /// Notes when an object came into existence (overwrites keep the date).
    fn created(&self, path: &str) {
        if !self.faults.list_lag.is_zero() {
            note_created(&self.created, path);
        }
    }

    /// Forgets `path` and everything under it.
    fn removed(&self, path: &str) {
        if !self.faults.list_lag.is_zero() {
            let under = format!("{path}/");
            let mut created = self.created.lock().unwrap_or_else(|p| p.into_inner());
            created.retain(|p, _| p != path && !p.starts_with(&under));
        }
    }
}

#[async_trait]
impl StorageDriver for FaultyStorage {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn put_content_new(&self, path: &str, content: Bytes) -> Result<()> {
        self.before("create", path).await?;
        self.inner.put_content_new(path, content).await?;
        self.created(path);
        Ok(())
    }

    async fn replace_if(&self, path: &str, expected: Option<&[u8]>, content: Bytes) -> Result<bool> {
        self.before("replace-if", path).await?;
        if self.faults.non_atomic_tags && path.ends_with("/current/link") {
            // Wrong on purpose: readers can observe the tag missing.
            let _ = self.inner.delete(path).await;
            self.removed(path);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if self.faults.objects && !self.faults.conditional_writes {
            // A store that ignores `If-Match`: the check and the write are
            // two steps another writer can come between.
            if let Some(expected) = expected {
                match self.inner.get_content(path).await {
                    Ok(current) if current == expected => {}
                    Ok(_) => return Ok(false),
                    Err(e) if e.is_not_found() => return Ok(false),
                    Err(e) => return Err(e),
                }
                tokio::time::sleep(Duration::from_micros(100) + self.jitter(Duration::from_millis(1))).await;
            }
            self.inner.put_content(path, content).await?;
            self.created(path);
            return Ok(true);
        }
        let replaced = self.inner.replace_if(path, expected, content).await?;
        if replaced {
            self.created(path);
        }
        Ok(replaced)
    }

    async fn writer(&self, path: &str) -> Result<Box<dyn ObjectWriter>> {
        self.before("writer", path).await?;
        let inner = self.inner.writer(path).await?;
        let created = (!self.faults.list_lag.is_zero()).then(|| (self.created.clone(), path.to_owned()));
        Ok(Box::new(FaultyWriter { inner, created }))
    }

    async fn get_content(&self, path: &str) -> Result<Bytes> {
        self.before("get", path).await?;
        self.inner.get_content(path).await
    }

    async fn put_content(&self, path: &str, content: Bytes) -> Result<()> {
        self.before("put", path).await?;
        if self.faults.non_atomic_tags && path.ends_with("/current/link") {
            // Wrong on purpose: readers can observe the tag missing.
            let _ = self.inner.delete(path).await;
            self.removed(path);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.inner.put_content(path, content).await?;
        self.created(path);
        Ok(())
    }

    async fn read_at(&self, path: &str, offset: u64, max: usize) -> Result<Bytes> {
        self.before("read", path).await?;
        self.inner.read_at(path, offset, max).await
    }

    /// On the object-store models, a streamed read as S3 answers one: the
    /// object as it was when the request was answered, arriving in chunks
    /// with latency between them, and — at the fault rate — breaking off
    /// partway (a reset connection, a request timeout).
    async fn read_stream(&self, path: &str, offset: u64, len: u64) -> Result<Option<ByteStream>> {
        use futures_util::StreamExt;
        self.before("read_stream", path).await?;
        let Some(stream) = self.inner.read_stream(path, offset, len).await? else { return Ok(None) };
        // Re-cut into seeded sizes, as a network delivers them.
        let whole: Vec<Bytes> = stream.map(|c| c.expect("the in-memory driver's streams do not fail")).collect().await;
        let whole = Bytes::from(whole.concat());
        let mut chunks: Vec<Result<Bytes>> = Vec::new();
        let mut at = 0;
        while at < whole.len() {
            let n = (self.jitter(Duration::from_micros(STREAM_CHUNK_MAX as u64)).as_micros() as usize + 1)
                .min(whole.len() - at);
            chunks.push(Ok(whole.slice(at..at + n)));
            at += n;
        }
        // Mostly mid-transfer, after some chunks arrived; rarely (at the
        // error rate) before the first, which the reader survives a few
        // times in a row only.
        let breaks_after = if chunks.len() > 1 && self.roll(self.faults.stream_breaks_per_10k) {
            Some(1 + self.jitter(Duration::from_micros(chunks.len() as u64 - 1)).as_micros() as usize)
        } else {
            self.roll(self.faults.error_per_10k).then_some(0)
        };
        if let Some(n) = breaks_after {
            self.trace.record("storage", format!("fault: read stream of {path} at {offset} breaks after {n} chunks"));
        }
        let delays: Vec<Duration> = chunks.iter().map(|_| self.jitter(self.faults.max_latency / 4)).collect();
        let path = path.to_owned();
        let paced =
            futures_util::stream::iter(chunks.into_iter().zip(delays).enumerate()).then(move |(i, (chunk, delay))| {
                let broken = breaks_after.is_some_and(|n| i >= n);
                let path = path.clone();
                async move {
                    tokio::time::sleep(delay).await;
                    match broken {
                        true => Err(StorageError::Io { path, source: std::io::Error::other("injected stream break") }),
                        false => chunk,
                    }
                }
            });
        // A broken stream ends with its error.
        let mut ended = false;
        let until_broken = paced.take_while(move |item| {
            let go = !ended;
            ended = ended || item.is_err();
            futures_util::future::ready(go)
        });
        Ok(Some(until_broken.boxed()))
    }

    async fn append(&self, path: &str, offset: u64, data: Bytes) -> Result<u64> {
        self.before("append", path).await?;
        if self.faults.torn_appends && data.len() > 1 {
            // Held across both halves, as a file lock is across one write.
            let _one_appender = self.appending.lock().await;
            let (head, tail) = (data.slice(..data.len() / 2), data.slice(data.len() / 2..));
            let mid = self.inner.append(path, offset, head).await?;
            self.created(path);
            // A crash of the calling host here keeps only `head`.
            tokio::time::sleep(Duration::from_micros(500) + self.jitter(Duration::from_millis(2))).await;
            let n = self.inner.append(path, mid, tail).await?;
            self.created(path);
            return Ok(n);
        }
        let n = self.inner.append(path, offset, data).await?;
        self.created(path);
        Ok(n)
    }

    async fn truncate(&self, path: &str, size: u64) -> Result<()> {
        self.before("truncate", path).await?;
        self.inner.truncate(path, size).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        self.before("stat", path).await?;
        let info = self.inner.stat(path).await?;
        if self.faults.stat_via_list && !info.is_dir {
            // Wrong on purpose: an object the lagging listing misses is
            // reported missing.
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            let listed = self.inner.list(parent).await.unwrap_or_default();
            if !self.visible(parent, listed).iter().any(|n| n == name) {
                return Err(StorageError::NotFound(path.to_owned()));
            }
        }
        Ok(info)
    }

    async fn list(&self, path: &str) -> Result<Vec<String>> {
        self.before("list", path).await?;
        let names = self.inner.list(path).await?;
        Ok(self.visible(path, names))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.before("rename", from).await?;
        if self.faults.objects {
            // An object store's move: copy, then delete. Between the two both
            // exist, and a crash keeps both.
            let content = self.inner.get_content(from).await?;
            self.inner.put_content(to, content).await?;
            self.created(to);
            tokio::time::sleep(Duration::from_micros(200) + self.jitter(Duration::from_millis(1))).await;
            self.inner.delete(from).await?;
            self.removed(from);
            return Ok(());
        }
        if self.faults.non_atomic_moves {
            // Wrong on purpose: readers see the destination grow.
            let content = self.inner.get_content(from).await?;
            let _ = self.inner.delete(to).await;
            self.inner.put_content(to, Bytes::new()).await?;
            for piece in content.chunks(MOVE_PIECE) {
                // Plain writes at the end, as a copy loop with O_APPEND does:
                // two copies to one destination interleave.
                let end = self.inner.stat(to).await.map(|i| i.size).unwrap_or(0);
                self.inner.append(to, end, content.slice_ref(piece)).await?;
                self.created(to);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            self.inner.delete(from).await?;
            self.removed(from);
            return Ok(());
        }
        self.inner.rename(from, to).await?;
        self.removed(from);
        self.created(to);
        Ok(())
    }

    async fn delete(&self, path: &str) -> Result<()> {
        self.before("delete", path).await?;
        if self.faults.lost_tag_deletes && path.contains("/_manifests/tags/") {
            // Wrong on purpose: the tag survives its acknowledged delete.
            return Ok(());
        }
        if self.faults.objects {
            // An object store deletes a "directory" key by key: readers see
            // it half gone while that runs.
            let keys = self.inner.keys_under(path);
            if keys.is_empty() {
                return Err(StorageError::NotFound(path.to_owned()));
            }
            for key in keys {
                match self.inner.delete(&key).await {
                    Ok(()) => self.removed(&key),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
                tokio::time::sleep(self.jitter(Duration::from_micros(400))).await;
            }
            return Ok(());
        }
        self.inner.delete(path).await?;
        self.removed(path);
        Ok(())
    }
}
