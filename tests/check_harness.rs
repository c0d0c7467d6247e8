//! `drydock check` against real registries: drydock itself (everything
//! passes), Debian's docker-registry and go-containerregistry's registry
//! (their known departures, and only those, fail), and a deliberately broken
//! registry — a proxy in front of drydock that breaks one behaviour — where
//! the check for that behaviour fails.

mod common;

use bytes::Bytes;
use common::{Process, Scratch, drydock_serve, free_port, require, spawn_listening};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::process::Command;

fn check(url: &str, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_drydock")).args(["check", url]).args(extra).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("")
}

#[test]
fn drydock_passes_every_check() {
    let scratch = Scratch::new("check-drydock");
    let (_server, port) = drydock_serve(&[], &scratch.0.join("storage"));
    let json = scratch.0.join("report.json");
    let junit = scratch.0.join("report.xml");
    let (ok, out) = check(
        &format!("http://127.0.0.1:{port}"),
        &["--profile", "oci-next", "--json", json.to_str().unwrap(), "--junit", junit.to_str().unwrap()],
    );
    assert!(ok, "{out}");
    let total = drydock_check::all_checks().len();
    // drydock announces no OCI-Chunk-Min-Length (it takes chunks of any size), the one optional
    // feature whose check skips.
    assert_eq!(last_line(&out), format!("{} passed, 0 failed, 1 skipped", total - 1), "{out}");
    assert!(out.contains("SKIP  robustness/chunk-min-length"), "{out}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["results"].as_array().unwrap().len(), total);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite") && xml.contains("push/chunked/201"), "{xml}");

    // Under load, every byte is still verified and the figures are printed.
    let (ok, out) = check(
        &format!("http://127.0.0.1:{port}"),
        &[
            "--only",
            "base/v2-200",
            "--load",
            "--load-blobs",
            "12",
            "--load-size",
            "65536",
            "--load-concurrency",
            "4",
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(ok && out.contains("PASS  load/push-pull") && out.contains("MiB/s"), "{out}");
    assert_eq!(last_line(&out), "2 passed, 0 failed, 0 skipped");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["load"]["push"]["requests"], 12);
    assert_eq!(report["load"]["pull"]["bytes"], 12 * 65536);
}

/// Sparse manifests are optional: the check passes drydock refusing them
/// (the default) and drydock storing them (when configured to); a recording
/// proxy shows which behaviour each run met.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_manifests_either_way() {
    let scratch = Scratch::new("check-sparse");
    let config = scratch.0.join("drydock.toml");
    std::fs::write(
        &config,
        "[validation.manifests]\nlayers = \"none\"\n[validation.manifests.indexes]\nplatforms = \"none\"\n",
    )
    .unwrap();
    let (_sparse, sparse) = drydock_serve(&["--config", config.to_str().unwrap()], &scratch.0.join("sparse"));
    let (_plain, plain) = drydock_serve(&[], &scratch.0.join("plain"));
    for (upstream, status) in [(sparse, 201), (plain, 400)] {
        let seen = Seen::default();
        let port = proxy_recording(upstream, Break::None, seen.clone()).await;
        let (ok, out) = tokio::task::spawn_blocking(move || {
            let only = ["--only", "content/sparse-image", "--only", "content/sparse-index"];
            check(&format!("http://127.0.0.1:{port}"), &[&["--profile", "oci-next"][..], &only].concat())
        })
        .await
        .unwrap();
        assert!(ok && last_line(&out).ends_with(" passed, 0 failed, 0 skipped"), "{out}");
        assert!(out.contains("PASS  content/sparse-index/get-by-digest/sha512"), "{out}");
        let seen = seen.lock().unwrap();
        for tag in ["sparse-image", "sparse-index"] {
            let put = seen.iter().find(|(m, p, _)| m == "PUT" && p.ends_with(&format!("/manifests/{tag}")));
            assert_eq!(put.map(|(_, _, s)| *s), Some(status), "{tag} against {upstream}: {seen:?}");
        }
    }
}

#[test]
fn every_push_and_delete_reaches_the_webhook_listener() {
    let scratch = Scratch::new("check-webhook");
    let hook = free_port();
    let config = scratch.0.join("drydock.toml");
    std::fs::write(
        &config,
        format!("[[notifications.endpoints]]\nname = \"check\"\nurl = \"http://127.0.0.1:{hook}/events\"\nthreshold = 1\nbackoff = \"50ms\"\n"),
    )
    .unwrap();
    let (_server, port) = drydock_serve(&["--config", config.to_str().unwrap()], &scratch.0.join("storage"));
    let listen = format!("127.0.0.1:{hook}");
    let html = scratch.0.join("report.html");
    let (ok, out) =
        check(&format!("http://127.0.0.1:{port}"), &["--webhook-listen", &listen, "--html", html.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("PASS  notifications/every-push-and-delete"), "{out}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!doctype html>") && page.contains("notifications/every-push-and-delete"));

    // A registry that sends nothing fails the notification check.
    let (_quiet, quiet_port) = drydock_serve(&[], &scratch.0.join("quiet"));
    let other = free_port();
    let (ok, out) = check(
        &format!("http://127.0.0.1:{quiet_port}"),
        &["--only", "push/post-put", "--webhook-listen", &format!("127.0.0.1:{other}"), "--webhook-wait", "1"],
    );
    assert!(!ok && out.contains("FAIL  notifications/every-push-and-delete"), "{out}");
}

#[test]
fn docker_registry_fails_only_its_known_departures() {
    if !require(&["docker-registry"]) {
        return;
    }
    let scratch = Scratch::new("check-distribution");
    let root = scratch.0.join("storage");
    std::fs::create_dir_all(&root).unwrap();
    let port = free_port();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/docker-registry/config.yml");
    let expected = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/docker-registry/expected-failures.txt");
    let mut cmd = Command::new("docker-registry");
    cmd.args(["serve", config])
        .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", &root);
    let _registry: Process = spawn_listening(&mut cmd, port);
    fails_only_its_known_departures(port, expected, 8);
}

/// go-containerregistry's registry (built by scripts/install-test-deps from
/// Debian's source): a third, independent implementation, far from the
/// spec — its departures are reported once each, not cascaded.
#[test]
fn ggcr_registry_fails_only_its_known_departures() {
    let binary = std::env::var_os("DRYDOCK_GGCR_REGISTRY").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/drydock-test-tools/registry-ggcr")
    });
    if !binary.exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must have {binary:?} (scripts/install-test-deps builds it)");
        eprintln!("skipped: {binary:?} not built");
        return;
    }
    let port = free_port();
    let mut cmd = Command::new(&binary);
    cmd.args(["-addr", &format!("127.0.0.1:{port}")]);
    let _registry: Process = spawn_listening(&mut cmd, port);
    let expected = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/ggcr-registry/expected-failures.txt");
    // One check at a time: its blobs are one store across repositories, so
    // sets running at once would delete the shared `{}` blob under each
    // other (`management/delete/blob-in-one-repository` shows that once).
    fails_only_its_known_departures(port, expected, 1);
}

/// `drydock check` against the registry on `port` (`jobs` at once) fails
/// only what `expected` lists, and everything it lists fails (except
/// departures marked "sometimes:").
fn fails_only_its_known_departures(port: u16, expected: &str, jobs: usize) {
    let jobs = jobs.to_string();
    let (ok, out) = check(
        &format!("http://127.0.0.1:{port}"),
        &["--profile", "oci-next", "--jobs", &jobs, "--expect-failures", expected],
    );
    assert!(ok, "only expected failures may fail:\n{out}");
    let listed = drydock_check::parse_expected_failures(&std::fs::read_to_string(expected).unwrap());
    // A departure that shows only in some runs (a race lost now and then)
    // is marked "sometimes:"; every other listed one must fail every time.
    let xfailed: Vec<&str> =
        out.lines().filter_map(|l| l.split_once("XFAIL ")).filter_map(|(_, rest)| rest.split(' ').next()).collect();
    for (id, _) in listed.iter().filter(|(_, why)| !why.starts_with("sometimes:")) {
        assert!(
            xfailed.iter().any(|x| x == id || (id.contains('*') && drydock_check::matches(id, x))),
            "{id} is listed as an expected failure but nothing it names failed:\n{out}"
        );
    }
    assert!(!out.contains("] FAIL "), "{out}");
}

/// How the proxy breaks the registry behind it.
#[derive(Clone, Copy, Debug)]
enum Break {
    None,
    DropApiVersion,
    WrongContentRange,
    UnsortedTags,
    DropOciSubject,
    AcceptOutOfOrderChunk,
    /// Answers reads of a manifest by an invalid tag with 400, as if it were
    /// a bad request rather than a manifest that does not exist.
    InvalidTagAs400,
    /// Drops `OCI-Tag` from answers to pushes with `?tag=`.
    DropOciTag,
    /// Answers with a sha256 `Docker-Content-Digest` where the registry
    /// said sha512 (as if it re-addressed sha512 content).
    Sha512AsSha256,
    /// Refuses manifests with non-distributable layers as if the layers had
    /// to be pushed.
    RefuseForeignLayers,
    /// Claims sparse manifests were stored when the registry refused them.
    AcceptSparse,
    /// Opens uploads for digest algorithms the registry refused.
    AcceptUnknownAlgorithm,
    /// Claims refused manifest pushes succeeded.
    AcceptRefusedManifest,
    /// Answers upload cancels without cancelling anything.
    IgnoreCancel,
    /// Turns automatic mounts into upload sessions that do not exist.
    BogusMountSession,
    /// Serves manifests as `application/json`.
    ManifestAsJson,
    /// Sends `ETag` on GET answers only.
    EtagOnlyOnGet,
    /// Reads only the first `Accept` line and the first type of a list.
    FirstAcceptLineOnly,
    /// Leaves the first entry out of every referrers list.
    DropFirstReferrer,
    /// Claims `OCI-Filters-Applied: artifactType` without filtering.
    ClaimFilterUnfiltered,
    /// Drops `Range` from requests while advertising `Accept-Ranges: bytes`.
    IgnoreRange,
    /// Lists a tag that was never pushed.
    GhostTag,
    /// Answers DELETE 202 without deleting anything.
    DeleteNothing,
    /// Corrupts one byte of every blob body larger than 1 MiB.
    FlipBlobByte,
    /// Lowercases error codes (`manifest_unknown`), off the spec's grammar.
    LowercaseErrorCodes,
    /// Answers 500 to a manifest URL whose digest is malformed.
    MalformedDigestAs500,
    /// Remembers every digest deleted anywhere and answers reads of it,
    /// in any repository, with 404 ever after.
    Tombstones,
    /// Answers a Range in a unit other than bytes with 416.
    UnknownRangeUnitAs416,
    /// Forwards only the first of several ranges.
    FirstRangeOnly,
    /// Demands a bearer token (served at /token for user:secret) on /v2/ paths.
    RequireBearer(u16),
}

const TOKEN: &str = "test-token";

/// A token endpoint: `{"token": …}` for basic credentials user:secret.
fn token_reply(req: &http::request::Parts) -> Option<http::Response<Full<Bytes>>> {
    if req.uri.path() != "/token" {
        return None;
    }
    let ok = req.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Basic dXNlcjpzZWNyZXQ=");
    let (status, body) = if ok { (200, format!(r#"{{"token":"{TOKEN}"}}"#)) } else { (401, String::new()) };
    let mut r = http::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    Some(r)
}

/// Every exchange a proxy forwarded: method, path, status.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String, u16)>>>;

/// Forwards every request to `upstream`, then breaks the answer as told.
async fn proxy(upstream: u16, mode: Break) -> u16 {
    proxy_recording(upstream, mode, Seen::default()).await
}

/// [`proxy`], recording each exchange in `seen`.
async fn proxy_recording(upstream: u16, mode: Break, seen: Seen) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mode = match mode {
        Break::RequireBearer(_) => Break::RequireBearer(port),
        other => other,
    };
    // Digests deleted through this proxy (for `Break::Tombstones`).
    let tombstones: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>> = Default::default();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            let tombstones = tombstones.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    let tombstones = tombstones.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let invalid_tag_read =
                            parts.uri.path().contains("/manifests/.") && parts.method != http::Method::PUT;
                        let path = parts.uri.path().to_owned();
                        let query = parts.uri.query().unwrap_or_default().to_owned();
                        let method = parts.method.clone();
                        let manifest_put = method == http::Method::PUT && path.contains("/manifests/");
                        let reply = |status: u16, body: &'static [u8]| {
                            let mut r = http::Response::new(Full::new(Bytes::from_static(body)));
                            *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                            Ok(r)
                        };
                        match mode {
                            Break::RefuseForeignLayers
                                if manifest_put
                                    && (body.windows(16).any(|w| w == b"nondistributable")
                                        || body.windows(12).any(|w| w == b"foreign.diff")) =>
                            {
                                return reply(
                                    400,
                                    br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown"}]}"#,
                                );
                            }
                            Break::IgnoreCancel
                                if method == http::Method::DELETE && path.contains("/blobs/uploads/") =>
                            {
                                return reply(204, b"");
                            }
                            _ => {}
                        }
                        if let Break::RequireBearer(own_port) = mode {
                            if let Some(r) = token_reply(&parts) {
                                return Ok(r);
                            }
                            let bearer = format!("Bearer {TOKEN}");
                            if parts.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str())
                            {
                                let mut r = http::Response::new(Full::new(Bytes::from_static(
                                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                                )));
                                *r.status_mut() = http::StatusCode::UNAUTHORIZED;
                                let challenge = format!(
                                    r#"Bearer realm="http://127.0.0.1:{own_port}/token",service="test",scope="repository:x:pull,push""#
                                );
                                r.headers_mut().insert("www-authenticate", challenge.parse().unwrap());
                                return Ok(r);
                            }
                        }
                        let up = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(up)).await?;
                        tokio::spawn(conn);
                        let mut parts = parts;
                        let manifest_read = path.contains("/manifests/") && method != http::Method::PUT;
                        match mode {
                            Break::FirstAcceptLineOnly
                                if manifest_read
                                    && (parts.headers.get_all("accept").iter().count() > 1
                                        || parts
                                            .headers
                                            .get("accept")
                                            .is_some_and(|v| v.as_bytes().contains(&b','))) =>
                            {
                                return reply(
                                    404,
                                    br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                                );
                            }
                            Break::IgnoreRange => {
                                parts.headers.remove("range");
                            }
                            Break::DeleteNothing
                                if method == http::Method::DELETE && !path.contains("/blobs/uploads/") =>
                            {
                                return reply(202, b"");
                            }
                            Break::MalformedDigestAs500 => {
                                let reference = path.rsplit_once("/manifests/").map_or("", |(_, r)| r);
                                if reference.contains(':') && drydock_spec::Digest::parse(reference).is_err() {
                                    return reply(500, br#"{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}"#);
                                }
                            }
                            Break::ClaimFilterUnfiltered if path.contains("/referrers/") => {
                                parts.uri = path.parse().unwrap();
                            }
                            Break::Tombstones => {
                                let digest = path.rsplit('/').next().unwrap_or_default().to_owned();
                                let reading = method == http::Method::GET || method == http::Method::HEAD;
                                if reading && tombstones.lock().unwrap().contains(&digest) {
                                    return reply(404, br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"deleted"}]}"#);
                                }
                                if method == http::Method::DELETE && digest.contains(':') {
                                    tombstones.lock().unwrap().insert(digest);
                                }
                            }
                            Break::UnknownRangeUnitAs416
                                if parts.headers.get("range").is_some_and(|r| !r.as_bytes().starts_with(b"bytes")) =>
                            {
                                return reply(416, b"");
                            }
                            Break::FirstRangeOnly => {
                                let first = parts
                                    .headers
                                    .get("range")
                                    .and_then(|r| r.to_str().ok())
                                    .and_then(|r| r.split_once(',').map(|(first, _)| first.to_owned()));
                                if let Some(first) = first {
                                    parts.headers.insert("range", first.parse().unwrap());
                                }
                            }
                            _ => {}
                        }
                        let forwarded = http::Request::from_parts(parts, Full::new(body));
                        let resp = sender.send_request(forwarded).await?;
                        let (mut parts, body) = resp.into_parts();
                        let mut body = body.collect().await?.to_bytes();
                        match mode {
                            Break::None | Break::RequireBearer(_) => {}
                            Break::DropApiVersion => {
                                parts.headers.remove("docker-distribution-api-version");
                            }
                            Break::WrongContentRange => {
                                if parts.status == 206 {
                                    parts.headers.insert("content-range", "bytes 0-9/100".parse().unwrap());
                                }
                            }
                            Break::UnsortedTags => {
                                if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body)
                                    && let Some(tags) = v.get_mut("tags").and_then(|t| t.as_array_mut())
                                {
                                    tags.reverse();
                                    body = Bytes::from(serde_json::to_vec(&v).unwrap());
                                    parts.headers.insert("content-length", body.len().into());
                                }
                            }
                            Break::DropOciSubject => {
                                parts.headers.remove("oci-subject");
                            }
                            Break::AcceptOutOfOrderChunk => {
                                if parts.status == 416 {
                                    parts.status = http::StatusCode::ACCEPTED;
                                }
                            }
                            Break::DropOciTag => {
                                parts.headers.remove("oci-tag");
                            }
                            Break::Sha512AsSha256 => {
                                let dcd = parts.headers.get("docker-content-digest").and_then(|v| v.to_str().ok());
                                if let Some(d) = dcd.filter(|d| d.starts_with("sha512:")) {
                                    let fake = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, d.as_bytes());
                                    parts.headers.insert("docker-content-digest", fake.as_str().parse().unwrap());
                                }
                            }
                            Break::AcceptSparse => {
                                if manifest_put && path.contains("/manifests/sparse-") && parts.status == 400 {
                                    parts.status = http::StatusCode::CREATED;
                                }
                            }
                            Break::AcceptUnknownAlgorithm => {
                                if method == http::Method::POST
                                    && query.contains("digest-algorithm=")
                                    && parts.status == 400
                                {
                                    parts.status = http::StatusCode::ACCEPTED;
                                }
                            }
                            Break::AcceptRefusedManifest => {
                                if manifest_put && parts.status == 400 {
                                    parts.status = http::StatusCode::CREATED;
                                    body = Bytes::new();
                                    parts.headers.insert("content-length", 0.into());
                                }
                            }
                            Break::BogusMountSession => {
                                if method == http::Method::POST
                                    && query.contains("mount=")
                                    && !query.contains("from=")
                                    && parts.status == 201
                                {
                                    parts.status = http::StatusCode::ACCEPTED;
                                    let bogus = path.replace("/blobs/uploads/", "/blobs/uploads/00000000-bogus");
                                    parts.headers.insert("location", bogus.parse().unwrap());
                                }
                            }
                            Break::ManifestAsJson => {
                                if path.contains("/manifests/") && parts.status == 200 {
                                    parts.headers.insert("content-type", "application/json".parse().unwrap());
                                }
                            }
                            Break::EtagOnlyOnGet => {
                                if method == http::Method::HEAD {
                                    parts.headers.remove("etag");
                                }
                            }
                            Break::IgnoreRange => {
                                if path.contains("/blobs/") {
                                    parts.headers.insert("accept-ranges", "bytes".parse().unwrap());
                                }
                            }
                            Break::ClaimFilterUnfiltered => {
                                if path.contains("/referrers/") && query.contains("artifactType=") {
                                    parts.headers.insert("oci-filters-applied", "artifactType".parse().unwrap());
                                }
                            }
                            Break::DropFirstReferrer | Break::GhostTag | Break::LowercaseErrorCodes => {
                                let rewrite = match mode {
                                    Break::DropFirstReferrer => path.contains("/referrers/"),
                                    Break::GhostTag => path.ends_with("/tags/list"),
                                    _ => parts.status.as_u16() >= 400,
                                };
                                if rewrite && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) {
                                    let referrers = v.get_mut("manifests").and_then(|m| m.as_array_mut());
                                    match (mode, referrers) {
                                        (Break::DropFirstReferrer, Some(list))
                                            if path.contains("/referrers/") && !list.is_empty() =>
                                        {
                                            list.remove(0);
                                        }
                                        (Break::GhostTag, _) => {
                                            if let Some(tags) = v.get_mut("tags").and_then(|t| t.as_array_mut()) {
                                                tags.push("ghost".into());
                                            }
                                        }
                                        (Break::LowercaseErrorCodes, _) => {
                                            for e in
                                                v.get_mut("errors").and_then(|e| e.as_array_mut()).into_iter().flatten()
                                            {
                                                let code = e["code"].as_str().unwrap_or_default().to_lowercase();
                                                e["code"] = code.into();
                                            }
                                        }
                                        _ => {}
                                    }
                                    body = Bytes::from(serde_json::to_vec(&v).unwrap());
                                    parts.headers.insert("content-length", body.len().into());
                                }
                            }
                            Break::FlipBlobByte => {
                                if path.contains("/blobs/") && body.len() > 1 << 20 {
                                    let mut flipped = body.to_vec();
                                    flipped[1000] ^= 0xff;
                                    body = Bytes::from(flipped);
                                }
                            }
                            Break::Tombstones | Break::UnknownRangeUnitAs416 | Break::FirstRangeOnly => {}
                            Break::RefuseForeignLayers
                            | Break::IgnoreCancel
                            | Break::FirstAcceptLineOnly
                            | Break::DeleteNothing
                            | Break::MalformedDigestAs500 => {}
                            Break::InvalidTagAs400 => {
                                if invalid_tag_read && parts.status == 404 {
                                    parts.status = http::StatusCode::BAD_REQUEST;
                                    body = Bytes::from_static(
                                        br#"{"errors":[{"code":"TAG_INVALID","message":"invalid tag"}]}"#,
                                    );
                                    parts.headers.insert("content-length", body.len().into());
                                }
                            }
                        }
                        seen.lock().unwrap().push((method.to_string(), path, parts.status.as_u16()));
                        Ok::<_, hyper::Error>(http::Response::from_parts(parts, Full::new(body)))
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_catches_the_breakage_it_is_for() {
    let scratch = Scratch::new("check-broken");
    let (_server, upstream) = drydock_serve(&[], &scratch.0.join("storage"));
    let cases = [
        (Break::DropApiVersion, "base/api-version-header"),
        (Break::WrongContentRange, "pull/blob/range-206"),
        (Break::WrongContentRange, "pull/blob/range-forms"),
        (Break::UnsortedTags, "discovery/tags/list"),
        (Break::DropOciSubject, "discovery/referrers/subject"),
        (Break::AcceptOutOfOrderChunk, "push/chunked/out-of-order-416"),
        (Break::AcceptOutOfOrderChunk, "push/chunked/final-out-of-order-416"),
        (Break::InvalidTagAs400, "pull/manifest/invalid-tag-404"),
        (Break::DropOciSubject, "content/artifacts-with-subject/push-by-digest"),
        (Break::DropOciTag, "content/image/push-tag-param"),
        (Break::Sha512AsSha256, "content/index/push-blobs/sha512"),
        (Break::Sha512AsSha256, "push/sha512/every-method"),
        (Break::Sha512AsSha256, "push/digest-algorithm/sha512"),
        (Break::RefuseForeignLayers, "content/non-distributable/push-by-digest"),
        (Break::RefuseForeignLayers, "content/docker-foreign-layers/push-by-digest"),
        (Break::AcceptSparse, "content/sparse-image/push-by-tag"),
        (Break::AcceptSparse, "content/sparse-index/push-by-tag"),
        (Break::AcceptUnknownAlgorithm, "push/digest-algorithm/unknown-400"),
        (Break::AcceptRefusedManifest, "push/manifest/digest-mismatch-400"),
        (Break::IgnoreCancel, "push/upload/cancel"),
        (Break::BogusMountSession, "push/mount/without-from"),
        (Break::ManifestAsJson, "content/image-uncompressed/get-by-tag"),
        (Break::ManifestAsJson, "content/nested-index/head-by-digest"),
        (Break::ManifestAsJson, "content/docker-manifest-list/accept-clients"),
        (Break::EtagOnlyOnGet, "content/image/head-get-agree"),
        (Break::FirstAcceptLineOnly, "content/index/accept-clients"),
        (Break::DropFirstReferrer, "content/artifacts-with-subject/referrers"),
        (Break::ClaimFilterUnfiltered, "content/index-with-subject/referrers-filter"),
        (Break::IgnoreRange, "content/big-layer/blob-range"),
        (Break::IgnoreRange, "pull/blob/range-forms"),
        (Break::GhostTag, "content/empty-index/tag-list"),
        (Break::DeleteNothing, "content/image/delete-manifest"),
        (Break::DeleteNothing, "content/many-layers/delete-blob"),
        (Break::DeleteNothing, "content/empty-blobs/delete-tag"),
        (Break::FlipBlobByte, "content/big-layer/blob-get"),
        (Break::LowercaseErrorCodes, "errors/name-unknown"),
        (Break::LowercaseErrorCodes, "content/artifact/delete-blob"),
        (Break::MalformedDigestAs500, "errors/manifest-digest-invalid"),
        (Break::ManifestAsJson, "content/index/get-by-digest"),
        (Break::ManifestAsJson, "content/artifact/head-by-tag"),
        (Break::Sha512AsSha256, "content/image/blob-head/sha512"),
        (Break::Tombstones, "content/image/repush"),
        (Break::Tombstones, "management/delete/blob-in-one-repository"),
        (Break::UnknownRangeUnitAs416, "pull/blob/range-ignored"),
        (Break::FirstRangeOnly, "pull/blob/range-multi"),
    ];
    // Every check passes through a faithful proxy (one run for all)...
    let clean = proxy(upstream, Break::None).await;
    let mut args = vec!["--profile".to_owned(), "oci-next".to_owned(), "--jobs".to_owned(), "8".to_owned()];
    args.extend(cases.iter().flat_map(|(_, id)| ["--only".to_owned(), (*id).to_owned()]));
    let (ok, out) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        check(&format!("http://127.0.0.1:{clean}"), &args)
    })
    .await
    .unwrap();
    assert!(ok && last_line(&out).ends_with(" passed, 0 failed, 0 skipped"), "through a faithful proxy:\n{out}");
    // ...and fails through the proxy that breaks what it is for.
    for (mode, id) in cases {
        let broken = proxy(upstream, mode).await;
        let (ok, out) = tokio::task::spawn_blocking(move || {
            check(&format!("http://127.0.0.1:{broken}"), &["--profile", "oci-next", "--only", id])
        })
        .await
        .unwrap();
        assert!(!ok, "{mode:?} should fail {id}:\n{out}");
        assert!(out.contains(&format!("FAIL  {id} ")), "{mode:?}:\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_flow() {
    let scratch = Scratch::new("check-bearer");
    let (_server, upstream) = drydock_serve(&[], &scratch.0.join("storage"));
    let port = proxy(upstream, Break::RequireBearer(0)).await;
    let url = format!("http://127.0.0.1:{port}");
    let only = ["--only", "base/v2-200", "--only", "push/chunked/201"];
    let with_creds: Vec<&str> = only.iter().copied().chain(["--username", "user", "--password", "secret"]).collect();
    let (ok, out) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || check(&url, &with_creds)
    })
    .await
    .unwrap();
    assert!(ok && last_line(&out) == "2 passed, 0 failed, 0 skipped", "{out}");
    let (ok, out) = tokio::task::spawn_blocking(move || check(&url, &only)).await.unwrap();
    assert!(!ok && out.contains("expected status 200, got 401"), "without credentials:\n{out}");
}

#[test]
fn https_with_a_private_ca() {
    let scratch = Scratch::new("check-tls");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(scratch.0.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(scratch.0.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let config = scratch.0.join("drydock.toml");
    std::fs::write(
        &config,
        format!("[tls]\ncertificate = {:?}\nkey = {:?}\n", scratch.0.join("cert.pem"), scratch.0.join("key.pem")),
    )
    .unwrap();
    let (_server, port) = drydock_serve(&["--config", config.to_str().unwrap()], &scratch.0.join("storage"));
    let url = format!("https://localhost:{port}");
    let ca = scratch.0.join("cert.pem");
    let (ok, out) = check(&url, &["--only", "pull/", "--ca-cert", ca.to_str().unwrap()]);
    assert!(ok && out.contains("PASS  pull/blob/range-206"), "{out}");
    let out =
        Command::new(env!("CARGO_BIN_EXE_drydock")).args(["check", &url, "--only", "base/v2-200"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "an unknown CA must not be trusted:\n{said}");
    assert!(said.contains("certificate is not trusted") && said.contains("--ca-cert"), "{said}");
}

/// `drydock check` on a URL with no registry behind it stops before any
/// check, with one message naming why, and exit status 2.
#[test]
fn a_url_with_no_registry_fails_fast_with_one_reason() {
    let fail_fast = |url: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_drydock")).args(["check", url]).output().unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert_eq!(out.status.code(), Some(2), "{url}: {stdout}{stderr}");
        assert!(!stdout.contains("FAIL") && !stdout.contains("PASS"), "{url}: checks ran:\n{stdout}");
        assert_eq!(stderr.lines().count(), 1, "{url}: one message:\n{stderr}");
        stderr
    };
    // Nothing listening.
    let said = fail_fast(&format!("http://127.0.0.1:{}", free_port()));
    assert!(said.contains("cannot reach"), "{said}");

    // A static file server: /v2/ missing, then /v2/ present as a directory.
    let scratch = Scratch::new("check-preflight");
    let site = scratch.0.join("site");
    std::fs::create_dir_all(&site).unwrap();
    let port = free_port();
    let mut files = Command::new("python3");
    files.args(["-m", "http.server", "--bind", "127.0.0.1", &port.to_string()]).current_dir(&site);
    let _files = spawn_listening(&mut files, port);
    let said = fail_fast(&format!("http://127.0.0.1:{port}"));
    assert!(said.contains("is not a registry: GET /v2/ answered 404"), "{said}");
    std::fs::create_dir_all(site.join("v2")).unwrap();
    std::fs::write(site.join("v2/index.html"), "<html>registry? no</html>").unwrap();
    let said = fail_fast(&format!("http://127.0.0.1:{port}"));
    assert!(said.contains("a manifest that does not exist answered 404"), "{said}");

    // The wrong scheme, both ways.
    let (_plain, plain) = drydock_serve(&[], &scratch.0.join("plain"));
    let said = fail_fast(&format!("https://127.0.0.1:{plain}"));
    assert!(said.contains(&format!("use http://127.0.0.1:{plain}")), "{said}");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(scratch.0.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(scratch.0.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let config = scratch.0.join("tls.toml");
    let tls = format!("[tls]\ncertificate = {:?}\nkey = {:?}\n", scratch.0.join("cert.pem"), scratch.0.join("key.pem"));
    std::fs::write(&config, tls).unwrap();
    let (_tls, secure) = drydock_serve(&["--config", config.to_str().unwrap()], &scratch.0.join("tls"));
    let said = fail_fast(&format!("http://127.0.0.1:{secure}"));
    assert!(said.contains(&format!("use https://127.0.0.1:{secure}")), "{said}");
}

/// `--list` needs no registry: every check's id, title and spec section.
#[test]
fn the_list_needs_no_url() {
    let out = Command::new(env!("CARGO_BIN_EXE_drydock")).args(["check", "--list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), drydock_check::all_checks().len());
    assert!(lines.iter().all(|l| l.trim_end().ends_with(']') && l.contains("  [")), "{listed}");
    let without = Command::new(env!("CARGO_BIN_EXE_drydock")).arg("check").output().unwrap();
    assert_eq!(without.status.code(), Some(2), "no URL and no --list is a usage error");
}
