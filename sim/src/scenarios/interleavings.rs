//! Generated interleavings: no story, just every upload and push operation
//! thrown at two instances sharing storage, by several clients at once, on
//! shared uploads and shared content. The seed draws each client's next
//! operation, its instance and its arguments:
//!
//! POST (bare, monolithic, mount; sha256 or sha512 content, uploads hashed
//! as they arrive with either algorithm), PATCH with and without `Content-Range`
//! (in order and out of it), status GET, closing PUT with and without a
//! body and with right, partial or wrong digests, cancel, duplicate sends,
//! pairs of operations racing on one upload, connections cut mid-body,
//! manifest PUTs by tag and digest (sha256 or sha512), manifest and blob
//! deletes, reads. One content is larger than a piece, so pushes of it keep
//! piece records and reads of it are checked against them.
//!
//! The oracle is the universal one every run answers to (`ledger`): every
//! blob in the store and every blob served hashes to its digest, every
//! acknowledged write is still there unless a delete of it was sent, no 5xx
//! but 503, no panic. And once the clients are done, every acknowledged blob
//! no one deleted is pulled from both instances and must answer 200 (an
//! instance may hold beliefs about a blob — a piece record — that storage
//! does not show). Nothing here knows which race breaks what.

use super::{Mutant, RunConfig, Scenario};
use crate::net::{Client, Reply};
use crate::storage::StorageFaults;
use drydock_reference::registry::blob_store::VERIFY_WHOLE_MAX;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOSTS: [&str; 2] = ["r1", "r2"];
const REPOS: [&str; 2] = ["gen/a", "gen/b"];
const CLIENTS: usize = 3;
/// Operations each client issues.
const OPS: usize = 40;
const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

pub fn scenario() -> Scenario {
    Scenario {
        name: "interleavings",
        description: "generated interleavings of every upload and push operation on shared uploads and content across instances",
        origin: "drydock#10: a PATCH racing the closing PUT stored bytes that did not match their digest (distribution 2.8.2 too); no hand-written scenario saw it",
        mutant: Mutant::CommitWithoutSeal,
        catch_within: 10,
        run,
        generated_ops: Some(OPS),
        storage: None,
    }
}

/// The same workload on an object store that ignores conditional writes,
/// where uploads are segments and a commit copies them in.
pub fn s3_scenario() -> Scenario {
    Scenario {
        name: "s3-interleavings",
        description: "generated interleavings on S3's model without conditional writes: uploads as segments, commits copying them into the blob store",
        origin: "drydock#14: on object stores there is no rename, so a commit copies the upload; a copy that trusts the digest the client claims stores bytes under a digest they do not match",
        mutant: Mutant::AdoptSegmentsUnverified,
        catch_within: 10,
        run,
        generated_ops: Some(OPS),
        storage: Some(crate::storage::StorageModel::S3Unconditional),
    }
}

/// The content clients push: the second is a prefix of the first, so a
/// closing PUT for "what was sent so far" races appends of the rest. The last
/// is larger than [`VERIFY_WHOLE_MAX`]: a push of it keeps a piece record
/// where one instance saw every byte, and reads of it are checked by pieces.
fn pool(seed: u64) -> Vec<Vec<u8>> {
    let bytes = |len: usize, salt: u64| -> Vec<u8> {
        (0..len).map(|i| ((i as u64).wrapping_mul(2_654_435_761) ^ seed ^ salt) as u8).collect()
    };
    let first = bytes(6_000 + (seed % 7) as usize * 300, 1);
    let prefix = first[..4_096].to_vec();
    let large = bytes(2 * VERIFY_WHOLE_MAX as usize + 300_000 + (seed % 5) as usize * 9_000, 4);
    vec![first, prefix, bytes(9_000, 2), bytes(1_500, 3), large]
}

/// The most one PATCH carries: small contents go in many pieces, the large
/// one in a few (a third of it at most), so its uploads finish within a run.
fn most_per_patch(content_len: usize) -> usize {
    (content_len / 3).max(2_500)
}

/// An upload some client started; any client may act on it.
#[derive(Clone)]
struct Upload {
    location: String,
    content: usize,
    /// What the last answer said the upload holds.
    sent: usize,
    /// The algorithm the upload was started with (`?digest-algorithm=`).
    algorithm: Algorithm,
}

struct World {
    pool: Vec<Vec<u8>>,
    uploads: Mutex<Vec<Upload>>,
}

struct Actor {
    client: Client,
    rng: ChaCha8Rng,
    world: Arc<World>,
}

impl Actor {
    fn pick(&mut self, n: usize) -> usize {
        (self.rng.next_u32() as usize) % n
    }

    /// A content to push or read: now and then the large one.
    fn content(&mut self) -> usize {
        let large = self.world.pool.len() - 1;
        if self.pick(10) == 0 { large } else { self.pick(large) }
    }

    fn host(&mut self) -> &'static str {
        HOSTS[self.pick(HOSTS.len())]
    }

    fn repo(&mut self) -> &'static str {
        REPOS[self.pick(REPOS.len())]
    }

    fn digest(&self, content: usize) -> Digest {
        Digest::of(Algorithm::Sha256, &self.world.pool[content])
    }

    /// Mostly sha256; now and then sha512.
    fn algorithm(&mut self) -> Algorithm {
        if self.pick(4) == 0 { Algorithm::Sha512 } else { Algorithm::Sha256 }
    }

    /// The digest of a content under a drawn algorithm.
    fn any_digest(&mut self, content: usize) -> Digest {
        let world = self.world.clone();
        self.any_digest_of(&world.pool[content])
    }

    fn any_digest_of(&mut self, bytes: &[u8]) -> Digest {
        let alg = self.algorithm();
        Digest::of(alg, bytes)
    }

    /// A random upload in progress (as far as anyone knows), by index.
    fn upload(&mut self) -> Option<(usize, Upload)> {
        let uploads = self.world.uploads.lock().unwrap();
        if uploads.is_empty() {
            return None;
        }
        let i = (self.rng.next_u32() as usize) % uploads.len();
        Some((i, uploads[i].clone()))
    }

    /// Learns where an upload stands from an answer about it.
    fn learn(&self, i: usize, r: &Result<Reply, String>) {
        let Ok(r) = r else { return };
        let mut uploads = self.world.uploads.lock().unwrap();
        let Some(u) = uploads.get_mut(i) else { return };
        if let Some(loc) = r.header("location").filter(|_| r.status == 202 || r.status == 204 || r.status == 416) {
            u.location = loc;
        }
        if let Some(end) = r.header("range").and_then(|v| v.split('-').nth(1)?.parse::<usize>().ok()) {
            u.sent = if end == 0 && r.status != 416 && u.sent <= 1 { u.sent.min(end) } else { end + 1 };
        }
    }

    /// Starts an upload of a drawn content (any client may act on it from
    /// now on). Its index.
    async fn start(&mut self) -> Option<usize> {
        let content = self.content();
        self.start_of(content).await
    }

    async fn start_of(&mut self, content: usize) -> Option<usize> {
        let (host, repo) = (self.host(), self.repo());
        let algorithm = self.algorithm();
        let path = match algorithm {
            Algorithm::Sha256 => format!("/v2/{repo}/blobs/uploads/"),
            other => format!("/v2/{repo}/blobs/uploads/?digest-algorithm={other}"),
        };
        let r = self.client.send(host, Method::POST, &path, &[], vec![]).await;
        let r = r.ok()?;
        let location = r.header("location").filter(|_| r.status == 202)?;
        let mut uploads = self.world.uploads.lock().unwrap();
        uploads.push(Upload { location, content, sent: 0, algorithm });
        Some(uploads.len() - 1)
    }

    /// A push as clients make one: an upload started, its content sent in
    /// two to four PATCHes in order, then the closing PUT — each step on a
    /// drawn instance, while the other clients may act on the same upload.
    /// Steps go on from where the last answer (to anyone) left the upload.
    /// Half of them push the large content: its pieces are recorded only
    /// where one instance took every append.
    async fn chunked_push(&mut self) {
        let content = if self.pick(2) == 0 { self.world.pool.len() - 1 } else { self.content() };
        let Some(i) = self.start_of(content).await else { return };
        let world = self.world.clone();
        let patches = 2 + self.pick(3);
        for left in (1..=patches).rev() {
            let u = world.uploads.lock().unwrap()[i].clone();
            let data = &world.pool[u.content];
            let start = u.sent.min(data.len());
            if start == data.len() {
                break;
            }
            let len = (data.len() - start).div_ceil(left);
            let headers = [("content-range".to_owned(), format!("{start}-{}", start + len - 1))];
            let host = self.host();
            let r = self.send(host, Method::PATCH, &u.location, &headers, data[start..start + len].to_vec()).await;
            self.learn(i, &r);
        }
        let u = world.uploads.lock().unwrap()[i].clone();
        let data = &world.pool[u.content];
        let (digest, rest) = (Digest::of(u.algorithm, data), data[u.sent.min(data.len())..].to_vec());
        let host = self.host();
        let _ = self.send(host, Method::PUT, &format!("{}&digest={digest}", u.location), &[], rest).await;
    }

    /// A PATCH for upload `u`: the next piece, or one out of order, with or
    /// without `Content-Range`.
    fn patch(&mut self, u: &Upload) -> (String, Vec<(String, String)>, Vec<u8>) {
        let world = self.world.clone();
        let data = &world.pool[u.content];
        let start = match self.pick(5) {
            0 => self.pick(data.len()), // out of order
            _ => u.sent.min(data.len()),
        };
        let len = (1 + self.pick(most_per_patch(data.len()))).min(data.len().saturating_sub(start)).max(1);
        let piece = data.get(start..start + len).map(<[u8]>::to_vec).unwrap_or_else(|| vec![0; len]);
        let mut headers = vec![];
        if self.pick(3) > 0 {
            headers.push(("content-range".to_owned(), format!("{start}-{}", start + piece.len() - 1)));
        }
        (u.location.clone(), headers, piece)
    }

    /// A closing PUT for upload `u`: usually the digest of its content,
    /// with the rest as the body or not; sometimes the digest of what was
    /// sent so far, or a wrong one. Usually in the upload's algorithm,
    /// sometimes in the other.
    fn close(&mut self, u: &Upload) -> (String, Vec<u8>) {
        let world = self.world.clone();
        let data = &world.pool[u.content];
        let sent = u.sent.min(data.len());
        let alg = if self.pick(5) == 0 { self.algorithm() } else { u.algorithm };
        let (digest, body) = match self.pick(7) {
            0 | 1 => (Digest::of(alg, data), data[sent..].to_vec()),
            2 | 3 => (Digest::of(alg, data), vec![]),
            4 => (Digest::of(alg, &data[..sent]), vec![]),
            // The rest, one byte short: a body that does not complete the blob.
            5 => (Digest::of(alg, data), data[sent..].get(1..).unwrap_or_default().to_vec()),
            _ => (Digest::of(alg, &world.pool[(u.content + 1) % world.pool.len()]), vec![]),
        };
        (format!("{}&digest={digest}", u.location), body)
    }

    async fn send(
        &self,
        host: &str,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.client.send(host, method, path, &headers, body).await
    }

    async fn step(&mut self) {
        match self.pick(100) {
            0..8 => {
                self.start().await;
            }
            8..12 => self.chunked_push().await,
            12..30 => {
                let Some((i, u)) = self.upload() else { return self.chunked_push().await };
                let (loc, headers, piece) = self.patch(&u);
                let host = self.host();
                let r = self.send(host, Method::PATCH, &loc, &headers, piece).await;
                self.learn(i, &r);
            }
            30..36 => {
                let Some((i, u)) = self.upload() else { return };
                let host = self.host();
                let r = self.client.send(host, Method::GET, &u.location, &[], vec![]).await;
                self.learn(i, &r);
            }
            36..48 => {
                let Some((_, u)) = self.upload() else { return };
                let (path, body) = self.close(&u);
                let host = self.host();
                let _ = self.client.send(host, Method::PUT, &path, &[], body).await;
            }
            48..52 => {
                let Some((_, u)) = self.upload() else { return };
                let host = self.host();
                let _ = self.client.send(host, Method::DELETE, &u.location, &[], vec![]).await;
            }
            52..68 => self.race().await,
            68..72 => {
                // A client dying mid-body: a PATCH or a monolithic POST cut.
                let (host, repo, content) = (self.host(), self.repo(), self.content());
                let data = self.world.pool[content].clone();
                let cut = self.pick(data.len());
                if let (0, Some((_, u))) = (self.pick(2), self.upload()) {
                    self.client.send_cut(host, Method::PATCH, &u.location, &data, cut).await;
                } else {
                    let path = format!("/v2/{repo}/blobs/uploads/?digest={}", self.any_digest(content));
                    self.client.send_cut(host, Method::POST, &path, &data, cut).await;
                }
            }
            72..80 => {
                let (host, repo, content) = (self.host(), self.repo(), self.content());
                let path = format!("/v2/{repo}/blobs/uploads/?digest={}", self.any_digest(content));
                let _ = self.client.send(host, Method::POST, &path, &[], self.world.pool[content].clone()).await;
            }
            80..84 => {
                let (host, to, content) = (self.host(), self.repo(), self.content());
                let from = if to == REPOS[0] { REPOS[1] } else { REPOS[0] };
                let path = format!("/v2/{to}/blobs/uploads/?mount={}&from={from}", self.any_digest(content));
                let _ = self.client.send(host, Method::POST, &path, &[], vec![]).await;
            }
            84..91 => self.manifest().await,
            91..93 => {
                let (host, repo, content) = (self.host(), self.repo(), self.content());
                let path = format!("/v2/{repo}/blobs/{}", self.any_digest(content));
                let _ = self.client.send(host, Method::DELETE, &path, &[], vec![]).await;
            }
            _ => {
                let (host, repo, content) = (self.host(), self.repo(), self.content());
                let path = format!("/v2/{repo}/blobs/{}", self.any_digest(content));
                let _ = self.client.send(host, Method::GET, &path, &[], vec![]).await;
            }
        }
    }

    /// Two operations on one upload at once, each on a random instance.
    async fn race(&mut self) {
        let Some((i, u)) = self.upload() else { return self.chunked_push().await };
        let (h1, h2) = (self.host(), self.host());
        let patch = self.patch(&u);
        let (close, rest) = self.close(&u);
        let (a, b) = match self.pick(6) {
            0 | 1 => tokio::join!(
                self.send(h1, Method::PATCH, &patch.0, &patch.1, patch.2.clone()),
                self.send(h2, Method::PUT, &close, &[], rest),
            ),
            2 => tokio::join!(
                self.send(h1, Method::PUT, &close, &[], rest.clone()),
                self.send(h2, Method::PUT, &close, &[], rest.clone()),
            ),
            3 => tokio::join!(
                self.send(h1, Method::PATCH, &patch.0, &patch.1, patch.2.clone()),
                self.send(h2, Method::DELETE, &u.location, &[], vec![]),
            ),
            4 => tokio::join!(
                self.send(h1, Method::PATCH, &patch.0, &patch.1, patch.2.clone()),
                self.send(h2, Method::PATCH, &patch.0, &patch.1, patch.2.clone()),
            ),
            _ => tokio::join!(
                self.send(h1, Method::PUT, &close, &[], rest),
                self.send(h2, Method::DELETE, &u.location, &[], vec![]),
            ),
        };
        self.learn(i, &a);
        self.learn(i, &b);
    }

    /// An image of two pool contents, by tag or by digest.
    async fn manifest(&mut self) {
        let (host, repo) = (self.host(), self.repo());
        let (config, layer) = (self.content(), self.content());
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": self.digest(config), "size": self.world.pool[config].len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": self.digest(layer), "size": self.world.pool[layer].len()}],
        }))
        .unwrap();
        let d = self.any_digest_of(&body);
        let reference = match self.pick(3) {
            0 => d.to_string(),
            n => format!("t{n}"),
        };
        let path = format!("/v2/{repo}/manifests/{reference}");
        let headers = [("content-type", OCI)];
        let _ = self.client.send(host, Method::PUT, &path, &headers, body).await;
        if self.pick(6) == 0 {
            let host = self.host();
            let _ = self.client.send(host, Method::DELETE, &format!("/v2/{repo}/manifests/{d}"), &[], vec![]).await;
        }
    }
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let mut sim = crate::builder(cfg.seed).build();
    let faults = StorageFaults { error_per_10k: 15, max_latency: Duration::from_millis(3), ..Default::default() };
    let storage = cfg.storage(faults);
    for name in HOSTS {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let world = Arc::new(World { pool: pool(cfg.seed), uploads: Mutex::default() });
    let ops = cfg.budget.unwrap_or(OPS);
    let done = Arc::new(AtomicUsize::new(0));
    for c in 0..CLIENTS {
        let name = format!("gen{c}");
        let mut actor = Actor {
            client: Client::new(name.clone(), cfg.trace.clone()),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_mul(1_000_003).wrapping_add(c as u64)),
            world: world.clone(),
        };
        let done = done.clone();
        sim.client(name, async move {
            for _ in 0..ops {
                actor.step().await;
            }
            done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
    }
    let unreadable = Arc::new(Mutex::new(Vec::new()));
    let (reader, found) = (Client::new("reader", cfg.trace.clone()), unreadable.clone());
    sim.client("reader", async move {
        while done.load(Ordering::SeqCst) < CLIENTS {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        *found.lock().unwrap() = super::read_back(&reader, &HOSTS).await;
        Ok(())
    });
    match sim.run() {
        Ok(()) => unreadable.lock().unwrap().clone(),
        Err(e) => vec![format!("simulation failed: {e}")],
    }
}
