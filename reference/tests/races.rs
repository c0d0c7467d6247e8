//! Requests racing on one upload, and the blob store's invariant under them:
//! a blob in the store always hashes to its digest, and a 2xx on a commit
//! means exactly the verified bytes are stored. Real TCP, both drivers, many
//! rounds: each race used to corrupt the store in most rounds.

mod common;

use bytes::Bytes;
use common::{Reply, push_blob, send, send_body, start};
use drydock_reference::storage::{Capabilities, FilesystemDriver, InMemoryDriver, StorageDriver};
use drydock_spec::{Algorithm, Digest};
use http::{Method, StatusCode};
use http_body_util::StreamBody;
use hyper::body::Frame;
use std::net::SocketAddr;
use std::sync::Arc;

/// Rounds of each race per driver.
const ROUNDS: usize = 30;

/// Where a race runs: one instance, or two sharing storage.
struct World {
    name: &'static str,
    /// Where most requests go.
    addr: SocketAddr,
    /// Where the racing request goes: `addr` itself, or a second instance
    /// over the same storage.
    other: SocketAddr,
    storage: Arc<dyn StorageDriver>,
}

/// Each driver (in-memory, filesystem, in-memory as an object store with
/// and without conditional writes), with one instance and with two
/// instances sharing the storage (and the upload secret).
async fn instances(test: &str) -> Vec<World> {
    // No append, no rename: uploads kept as segments.
    let objects = |conditional_writes| -> Arc<dyn StorageDriver> {
        Arc::new(InMemoryDriver::with_capabilities(Capabilities { appends: false, conditional_writes }))
    };
    let disk = |n: u32| -> Arc<dyn StorageDriver> {
        let dir = std::env::temp_dir().join(format!("drydock-races-{}-{test}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Arc::new(FilesystemDriver::new(dir))
    };
    let worlds = [
        ("inmemory", Arc::new(InMemoryDriver::new()) as Arc<dyn StorageDriver>, false),
        ("inmemory, 2 instances", Arc::new(InMemoryDriver::new()), true),
        ("filesystem", disk(1), false),
        ("filesystem, 2 instances", disk(2), true),
        ("object store, 2 instances", objects(true), true),
        ("object store without conditional writes, 2 instances", objects(false), true),
    ];
    let mut out = Vec::new();
    for (seed, (name, storage, two)) in (11..).zip(worlds) {
        let addr = start(storage.clone(), seed, b"s").await;
        let other = if two { start(storage.clone(), seed + 100, b"s").await } else { addr };
        out.push(World { name, addr, other, storage });
    }
    out
}

fn content(round: usize, len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(round as u8) ^ salt).collect()
}

/// Starts an upload holding `first`; returns its location.
async fn upload_with(addr: SocketAddr, repo: &str, first: &[u8]) -> String {
    let r = send(addr, Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(addr, Method::PATCH, r.header("location"), &[], first).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    r.header("location").to_owned()
}

fn close(location: &str, d: &Digest) -> String {
    format!("{location}&digest={d}")
}

/// Whatever the repository serves for `d` hashes to `d`; `Some(bytes)` if it
/// serves it at all.
async fn served(addr: SocketAddr, repo: &str, d: &Digest) -> Option<Bytes> {
    let r = send(addr, Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[], b"").await;
    match r.status {
        StatusCode::OK => {
            assert_eq!(&Digest::of(d.algorithm(), &r.body), d, "{repo} serves {} bytes that are not {d}", r.body.len());
            Some(r.body)
        }
        StatusCode::NOT_FOUND => None,
        other => panic!("GET of {d} in {repo}: {other}"),
    }
}

/// The same content pushed cleanly elsewhere must read back intact.
async fn clean_repush(addr: SocketAddr, data: &[u8]) {
    let d = push_blob(addr, "race/clean", data).await;
    assert_eq!(served(addr, "race/clean", &d).await.as_deref(), Some(data), "a clean push of {d} reads back wrong");
}

fn assert_answer(r: &Reply, allowed: &[(StatusCode, &str)], what: &str) {
    if r.status.is_success() {
        return;
    }
    let code = r.error_code();
    assert!(allowed.iter().any(|(s, c)| *s == r.status && *c == code), "{what}: {} {code}", r.status);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_patch_racing_the_closing_put_never_poisons_the_store() {
    for World { name: driver, addr, other, .. } in instances("patch-put").await {
        for round in 0..ROUNDS {
            let first = content(round, 4096, 1);
            let more = content(round, 1024, 2);
            let d = Digest::of(Algorithm::Sha256, &first);
            let loc = upload_with(addr, "race/r1", &first).await;
            let closing = close(&loc, &d);
            let (patch, put) =
                tokio::join!(send(other, Method::PATCH, &loc, &[], &more), send(addr, Method::PUT, &closing, &[], b""));
            assert_answer(&patch, &[(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN")], "racing PATCH");
            assert_answer(&put, &[(StatusCode::BAD_REQUEST, "DIGEST_INVALID")], "closing PUT");
            assert!(
                !(patch.status.is_success() && put.status.is_success()),
                "{driver} round {round}: both the PATCH and the PUT were acknowledged, so acknowledged bytes are in no blob"
            );
            let stored = served(addr, "race/r1", &d).await;
            assert_eq!(stored.is_some(), put.status == StatusCode::CREATED, "{driver} round {round}");
            clean_repush(addr, &first).await;
        }
    }
}

/// PUT is idempotent: both may succeed, or the second find the upload gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_closing_puts_on_one_upload_store_it_once_intact() {
    for World { name: driver, addr, other, .. } in instances("put-put").await {
        for round in 0..ROUNDS {
            let data = content(round, 8192, 3);
            let d = Digest::of(Algorithm::Sha256, &data);
            let loc = upload_with(addr, "race/r2", &data).await;
            let closing = close(&loc, &d);
            let (a, b) =
                tokio::join!(send(addr, Method::PUT, &closing, &[], b""), send(other, Method::PUT, &closing, &[], b""));
            for r in [&a, &b] {
                assert_answer(r, &[(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN")], "racing closing PUT");
            }
            let created = [&a, &b].iter().filter(|r| r.status == StatusCode::CREATED).count();
            assert!(created >= 1, "{driver} round {round}: {} and {}", a.status, b.status);
            assert_eq!(served(addr, "race/r2", &d).await.as_deref(), Some(&data[..]), "{driver} round {round}");
            clean_repush(addr, &data).await;
        }
    }
}

/// Upload ids still in `repo`'s storage.
async fn leftover_uploads(driver: &dyn StorageDriver, repo: &str) -> Vec<String> {
    driver.list(&format!("/docker/registry/v2/repositories/{repo}/_uploads")).await.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_patch_racing_cancel_leaves_nothing_behind() {
    for World { name: driver, addr, other, storage } in instances("patch-cancel").await {
        for round in 0..ROUNDS {
            let loc = upload_with(addr, "race/r3", &content(round, 2048, 4)).await;
            let more = content(round, 512, 5);
            let (patch, cancel) =
                tokio::join!(send(addr, Method::PATCH, &loc, &[], &more), send(other, Method::DELETE, &loc, &[], b""));
            assert_answer(&patch, &[(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN")], "PATCH racing cancel");
            assert_eq!(cancel.status, StatusCode::NO_CONTENT, "{driver} round {round}");
            let r = send(addr, Method::GET, &loc, &[], b"").await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{driver} round {round}: a cancelled upload lives on");
            let left = leftover_uploads(storage.as_ref(), "race/r3").await;
            assert!(left.is_empty(), "{driver} round {round}: a cancelled upload left {left:?} in storage");
        }
    }
}

/// Frames of a body whose length is not announced.
type Frames = futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, std::io::Error>>>;

/// A body sent with `Transfer-Encoding: chunked` (no `Content-Length`).
fn chunked(data: Vec<u8>) -> StreamBody<Frames> {
    let frames: Vec<_> = data.chunks(7).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
    StreamBody::new(futures_util::stream::iter(frames))
}

#[tokio::test]
async fn a_chunk_whose_length_differs_from_its_content_range_appends_nothing() {
    for World { name: driver, addr, .. } in instances("chunk-length").await {
        let loc = upload_with(addr, "race/r4", b"0123456789").await;
        for (range, len) in [("10-19", 100), ("10-109", 10), ("10-19", 11), ("10-19", 9)] {
            let r = send_body(addr, Method::PATCH, &loc, &[("content-range", range)], chunked(vec![b'x'; len])).await;
            assert_eq!(
                (r.status, r.error_code().as_str()),
                (StatusCode::RANGE_NOT_SATISFIABLE, "RANGE_INVALID"),
                "{driver}: Content-Range {range} with a {len}-byte body"
            );
            assert_eq!(r.header("range"), "0-9", "{driver}: Content-Range {range} with a {len}-byte body");
        }
        let r = send(addr, Method::GET, &loc, &[], b"").await;
        assert_eq!(r.header("range"), "0-9", "{driver}: refused chunks were appended");
        // A body that matches its range is taken.
        let r = send_body(addr, Method::PATCH, &loc, &[("content-range", "10-19")], chunked(vec![b'x'; 10])).await;
        assert_eq!((r.status, r.header("range")), (StatusCode::ACCEPTED, "0-19"), "{driver}");
    }
}

#[tokio::test]
async fn a_cut_monolithic_post_leaves_nothing_behind() {
    for World { name: driver, addr, storage, .. } in instances("cut-post").await {
        let data = content(0, 100_000, 6);
        let d = Digest::of(Algorithm::Sha256, &data);
        let head = format!(
            "POST /v2/race/r5/blobs/uploads/?digest={d} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            data.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(&data[..40_000]);
        {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(&request).await.unwrap();
            s.shutdown().await.unwrap();
            // The server closes the connection once it has dealt with the cut.
            let mut answer = Vec::new();
            let _ = s.read_to_end(&mut answer).await;
        }
        let left = leftover_uploads(storage.as_ref(), "race/r5").await;
        assert!(left.is_empty(), "{driver}: a cut POST left {left:?} in storage");
        assert_eq!(served(addr, "race/r5", &d).await.map(|b| b.len()), None, "{driver}");
        // A whole push afterwards works.
        assert_eq!(push_blob(addr, "race/r5", &data).await, d);
    }
}

/// GETs `path` on a one-request connection and reads until the server
/// closes it: the status and whatever body bytes arrived (a download the
/// server cuts short is not an error here).
async fn download(addr: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let split = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    (status, out[split + 4..].to_vec())
}

/// Writes `bytes` as the stored content of `d` and links it into `repo`, as
/// damage from outside (a disk, another program) would leave it.
async fn plant(storage: &dyn StorageDriver, repo: &str, d: &Digest, bytes: Vec<u8>) {
    let hex = d.hex();
    let data = format!("/docker/registry/v2/blobs/{}/{}/{hex}/data", d.algorithm(), &hex[..2]);
    storage.put_content(&data, Bytes::from(bytes)).await.unwrap();
    let link = format!("/docker/registry/v2/repositories/{repo}/_layers/{}/{hex}/link", d.algorithm());
    storage.put_content(&link, Bytes::from(d.to_string())).await.unwrap();
}

#[tokio::test]
async fn a_blob_that_does_not_match_its_digest_is_never_served_and_a_push_repairs_it() {
    for World { name: driver, addr, storage, .. } in instances("damaged").await {
        // Small: answered as missing.
        let genuine = content(0, 4096, 7);
        let d = Digest::of(Algorithm::Sha256, &genuine);
        plant(storage.as_ref(), "race/r6", &d, content(0, 5120, 8)).await;
        for method in [Method::GET, Method::HEAD] {
            let r = send(addr, method.clone(), &format!("/v2/race/r6/blobs/{d}"), &[], b"").await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{driver}: {method} of a damaged blob");
        }
        push_blob(addr, "race/r6", &genuine).await;
        assert_eq!(served(addr, "race/r6", &d).await.as_deref(), Some(&genuine[..]), "{driver}: not repaired");

        // Large: the download never completes.
        let genuine = content(1, 3 << 20, 9);
        let d = Digest::of(Algorithm::Sha256, &genuine);
        let mut damaged = genuine.clone();
        damaged[2 << 20] ^= 0xff;
        plant(storage.as_ref(), "race/r6", &d, damaged).await;
        let (status, body) = download(addr, &format!("/v2/race/r6/blobs/{d}")).await;
        assert!(
            status != 200 || body.len() < genuine.len(),
            "{driver}: a damaged 3 MiB blob was served whole ({status}, {} bytes)",
            body.len()
        );
        push_blob(addr, "race/r6", &genuine).await;
        assert_eq!(served(addr, "race/r6", &d).await.as_deref(), Some(&genuine[..]), "{driver}: not repaired");
    }
}

#[tokio::test]
async fn a_damaged_manifest_is_not_served() {
    for World { name: driver, addr, storage, .. } in instances("damaged-manifest").await {
        let config = push_blob(addr, "race/r7", b"{}").await;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [],
        }))
        .unwrap();
        let r = send(
            addr,
            Method::PUT,
            "/v2/race/r7/manifests/t",
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            &manifest,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let d = Digest::of(Algorithm::Sha256, &manifest);
        let hex = d.hex();
        let mut damaged = manifest.clone();
        damaged.extend_from_slice(b"  ");
        let path = format!("/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]);
        storage.put_content(&path, Bytes::from(damaged)).await.unwrap();
        for reference in ["t".to_owned(), d.to_string()] {
            let r = send(addr, Method::GET, &format!("/v2/race/r7/manifests/{reference}"), &[], b"").await;
            assert_eq!(
                (r.status, r.error_code().as_str()),
                (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
                "{driver}: damaged manifest served by {reference}"
            );
        }
    }
}
