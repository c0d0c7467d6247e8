//! What a check is, what it sees, and the helpers checks share.

use crate::client::{Client, ClientError, Reply, Sent};
use bytes::Bytes;
use drydock_spec::{Algorithm, Digest};
use http::{Method, StatusCode};
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Which version of the spec's requirements apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Profile {
    #[serde(rename = "oci-1.0")]
    Oci10,
    #[serde(rename = "oci-1.1")]
    Oci11,
    /// The spec's main branch: the next release, whose behaviours the
    /// official conformance suite already tests.
    #[serde(rename = "oci-next")]
    OciNext,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::Oci10, Profile::Oci11, Profile::OciNext];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Oci10 => "oci-1.0",
            Profile::Oci11 => "oci-1.1",
            Profile::OciNext => "oci-next",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// The response as a report shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Seen {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The first bytes of the body, lossily as text.
    pub body_excerpt: String,
}

/// Why a check did not pass.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Failure {
    /// What was expected and what happened instead.
    pub message: String,
    pub request: Option<Sent>,
    pub response: Option<Seen>,
}

/// How a check ends when it does not pass.
#[derive(Debug)]
pub enum Stop {
    Fail(Box<Failure>),
    Skip(String),
}

pub type Verdict = Result<(), Stop>;

/// Bytes of a response body kept in a report.
const EXCERPT: usize = 600;

pub fn seen(r: &Reply) -> Seen {
    let mut headers: Vec<(String, String)> =
        r.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("(binary)").to_owned())).collect();
    headers.sort();
    let excerpt = String::from_utf8_lossy(&r.body[..r.body.len().min(EXCERPT)]).into_owned();
    Seen { status: r.status.as_u16(), headers, body_excerpt: excerpt }
}

/// Fails the check with `message`, showing the exchange `r`.
pub fn fail(r: &Reply, message: impl Into<String>) -> Stop {
    Stop::Fail(Box::new(Failure { message: message.into(), request: Some(r.sent.clone()), response: Some(seen(r)) }))
}

pub fn fail_plain(message: impl Into<String>) -> Stop {
    Stop::Fail(Box::new(Failure { message: message.into(), request: None, response: None }))
}

pub fn skip(reason: impl Into<String>) -> Stop {
    Stop::Skip(reason.into())
}

impl From<ClientError> for Stop {
    fn from(e: ClientError) -> Stop {
        fail_plain(format!("request failed: {e}"))
    }
}

pub fn expect_status(r: &Reply, expected: &[u16]) -> Verdict {
    if expected.contains(&r.status.as_u16()) {
        Ok(())
    } else {
        let want: Vec<String> = expected.iter().map(u16::to_string).collect();
        Err(fail(r, format!("expected status {}, got {}", want.join(" or "), r.status.as_u16())))
    }
}

/// A protocol error: the status and `{"errors":[{"code":…}]}` with one of
/// `codes`, the whole body in the spec's shape (see [`error_body_problem`]).
pub fn expect_error(r: &Reply, statuses: &[u16], codes: &[&str]) -> Verdict {
    expect_status(r, statuses)?;
    if let Some(problem) = error_body_problem(&r.body) {
        return Err(fail(r, format!("expected a JSON error body with code {}: {problem}", codes.join(" or "))));
    }
    match r.error_code() {
        Some(code) if codes.contains(&code.as_str()) => Ok(()),
        Some(code) => Err(fail(r, format!("expected error code {}, got {code}", codes.join(" or ")))),
        None => Err(fail(r, format!("expected a JSON error body with code {}", codes.join(" or ")))),
    }
}

/// What is wrong with an error body, by the spec's §Error Codes: an object
/// whose `errors` is a non-empty array of objects, each with a `code` of
/// uppercase letters and underscores, and a `message` that is a string
/// when present (`detail` may be anything).
pub fn error_body_problem(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Some(format!("the body is not JSON ({e})")),
    };
    let Some(errors) = v.get("errors").and_then(|e| e.as_array()) else {
        return Some("the body has no \"errors\" array".into());
    };
    if errors.is_empty() {
        return Some("\"errors\" is empty".into());
    }
    for (i, e) in errors.iter().enumerate() {
        let Some(code) = e.get("code").and_then(|c| c.as_str()) else {
            return Some(format!("errors[{i}] has no string \"code\""));
        };
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            return Some(format!("errors[{i}].code {code:?} is not uppercase letters and underscores"));
        }
        if e.get("message").is_some_and(|m| !m.is_string()) {
            return Some(format!("errors[{i}].message is not a string"));
        }
    }
    None
}

pub fn expect_header<'r>(r: &'r Reply, name: &str) -> Result<&'r str, Stop> {
    r.header(name).ok_or_else(|| fail(r, format!("expected a {name} header")))
}

pub fn expect_header_eq(r: &Reply, name: &str, value: &str) -> Verdict {
    match r.header(name) {
        Some(v) if v == value => Ok(()),
        Some(v) => Err(fail(r, format!("expected {name}: {value}, got {v}"))),
        None => Err(fail(r, format!("expected {name}: {value}, got no {name} header"))),
    }
}

/// `Docker-Content-Digest` must name `d` when present; under `oci-next` it
/// must be present (the main-branch suite, with its digest-header switch on,
/// requires it on every blob and manifest answer).
pub fn expect_digest(ctx: &Ctx, r: &Reply, d: &Digest) -> Verdict {
    match r.header("docker-content-digest") {
        Some(got) if got == d.as_str() => Ok(()),
        Some(got) => Err(fail(r, format!("Docker-Content-Digest is {got}, expected {d}"))),
        None if ctx.profile >= Profile::OciNext => Err(fail(r, format!("expected Docker-Content-Digest: {d}"))),
        None => Ok(()),
    }
}

/// Everything a check needs: the client, its namespace, and what to clean up.
pub struct Ctx {
    pub client: Client,
    pub namespace: String,
    pub profile: Profile,
    run: String,
    counter: AtomicU64,
    cleanup: Mutex<Vec<(String, String)>>,
    /// Every push, mount and delete the registry acknowledged, for the
    /// notification check.
    ops: Mutex<Vec<Op>>,
}

/// An acknowledged operation that should produce an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub action: &'static str,
    pub repository: String,
    pub digest: Option<String>,
    pub tag: Option<String>,
}

impl Ctx {
    pub fn new(client: Client, namespace: &str, profile: Profile, run: &str) -> Ctx {
        Ctx {
            client,
            namespace: namespace.trim_end_matches('/').to_owned(),
            profile,
            run: run.to_owned(),
            counter: AtomicU64::new(0),
            cleanup: Mutex::default(),
            ops: Mutex::default(),
        }
    }

    /// A fresh repository for one check, inside the namespace.
    pub fn repo(&self, label: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{}/{label}-{}-{n}", self.namespace, self.run)
    }

    /// Content unique to this run, so no two runs share blobs.
    pub fn unique_bytes(&self, label: &str, len: usize) -> Vec<u8> {
        let seed = format!("drydock-check {} {label} {}", self.run, self.counter.fetch_add(1, Ordering::Relaxed));
        seeded_bytes(&seed, len)
    }

    /// The run's id: content built from it is unique to the run.
    pub fn run_id(&self) -> &str {
        &self.run
    }

    pub async fn req(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, Stop> {
        let reply = self.client.send(method, path, headers, body.into()).await?;
        if let Some(op) = observed_op(&reply) {
            self.ops.lock().unwrap_or_else(|p| p.into_inner()).push(op);
        }
        Ok(reply)
    }

    /// The operations recorded so far.
    pub fn ops(&self) -> Vec<Op> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub async fn get(&self, path: &str) -> Result<Reply, Stop> {
        self.req(Method::GET, path, &[], Bytes::new()).await
    }

    /// A `Location` made into a request path (absolute URLs keep only their path).
    pub fn path_of(location: &str) -> String {
        match location.find("://") {
            Some(i) => location[i + 3..].find('/').map_or("/".to_owned(), |p| location[i + 3 + p..].to_owned()),
            None => location.to_owned(),
        }
    }

    /// `path` with `key=value` appended to its query.
    pub fn with_query(path: &str, key: &str, value: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        let pair: String = form_urlencoded::Serializer::new(String::new()).append_pair(key, value).finish();
        format!("{path}{sep}{pair}")
    }

    /// Sends `chunk` as the bytes starting at `start` of an upload
    /// (`Content-Range: start-end`); the reply (caller checks it).
    pub async fn patch_chunk(&self, location: &str, start: usize, chunk: &[u8]) -> Result<Reply, Stop> {
        let range = format!("{start}-{}", (start + chunk.len()).saturating_sub(1));
        let len = chunk.len().to_string();
        let headers = [
            ("content-type", "application/octet-stream"),
            ("content-range", range.as_str()),
            ("content-length", len.as_str()),
        ];
        self.req(Method::PATCH, location, &headers, Bytes::copy_from_slice(chunk)).await
    }

    /// GET a manifest as an OCI client asks for one.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Reply, Stop> {
        let accept = [("accept", drydock_spec::media_type::OCI_MANIFEST)];
        self.req(Method::GET, &format!("/v2/{repo}/manifests/{reference}"), &accept, Bytes::new()).await
    }

    /// Starts an upload session; its location path.
    pub async fn start_upload(&self, repo: &str) -> Result<String, Stop> {
        let r = self.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], Bytes::new()).await?;
        expect_status(&r, &[202])?;
        Ok(Self::path_of(expect_header(&r, "location")?))
    }

    /// Starts an upload holding `first` (one PATCH); its location path.
    pub async fn upload_with(&self, repo: &str, first: &[u8]) -> Result<String, Stop> {
        let location = self.start_upload(repo).await?;
        let r = self.patch_chunk(&location, 0, first).await?;
        expect_status(&r, &[202])?;
        Ok(r.header("location").map(Self::path_of).unwrap_or(location))
    }

    /// Pushes a blob with POST then PUT; returns its digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> Result<Digest, Stop> {
        self.push_blob_as(repo, data, Algorithm::Sha256).await
    }

    pub async fn push_blob_as(&self, repo: &str, data: &[u8], alg: Algorithm) -> Result<Digest, Stop> {
        let d = Digest::of(alg, data);
        let location = self.start_upload(repo).await?;
        let r = self
            .req(
                Method::PUT,
                &Self::with_query(&location, "digest", d.as_str()),
                &[("content-type", "application/octet-stream")],
                Bytes::copy_from_slice(data),
            )
            .await?;
        expect_status(&r, &[201])?;
        self.note_blob(repo, &d);
        Ok(d)
    }

    /// Pushes a manifest; the reply (caller checks it).
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Result<Reply, Stop> {
        let r = self
            .req(
                Method::PUT,
                &format!("/v2/{repo}/manifests/{reference}"),
                &[("content-type", media_type)],
                Bytes::copy_from_slice(body),
            )
            .await?;
        if r.status.is_success() {
            self.note_manifest(repo, &Digest::of(Algorithm::Sha256, body));
        }
        Ok(r)
    }

    /// Pushes a small image (config + one layer) and its manifest by `tag`;
    /// returns (manifest body, manifest digest).
    pub async fn push_image(&self, repo: &str, tag: &str) -> Result<(Vec<u8>, Digest), Stop> {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","drydock":"{}"}}"#, self.run).into_bytes();
        let layer = self.unique_bytes("layer", 1500);
        let config_d = self.push_blob(repo, &config).await?;
        let layer_d = self.push_blob(repo, &layer).await?;
        let manifest = image_manifest(&config_d, config.len(), &[(layer_d, layer.len())], None);
        let r = self.put_manifest(repo, tag, drydock_spec::media_type::OCI_MANIFEST, &manifest).await?;
        expect_status(&r, &[201])?;
        let d = Digest::of(Algorithm::Sha256, &manifest);
        Ok((manifest, d))
    }

    pub(crate) fn note_blob(&self, repo: &str, d: &Digest) {
        self.cleanup.lock().unwrap_or_else(|p| p.into_inner()).push((format!("/v2/{repo}/blobs/{d}"), String::new()));
    }

    /// Remembers a manifest to delete when the run ends.
    pub(crate) fn note_manifest(&self, repo: &str, d: &Digest) {
        self.cleanup
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((format!("/v2/{repo}/manifests/{d}"), String::new()));
    }

    /// Deletes everything the checks pushed (manifests first); returns how
    /// many deletes the registry accepted.
    pub async fn clean_up(&self) -> usize {
        let mut items = std::mem::take(&mut *self.cleanup.lock().unwrap_or_else(|p| p.into_inner()));
        items.sort_by_key(|(path, _)| !path.contains("/manifests/"));
        items.dedup();
        let mut accepted = 0;
        for (path, _) in items {
            if let Ok(r) = self.client.send(Method::DELETE, &path, &[], Bytes::new()).await
                && r.status == StatusCode::ACCEPTED
            {
                accepted += 1;
            }
        }
        accepted
    }
}

/// `len` bytes determined by `seed` (hex text of a SHA-256 chain).
pub fn seeded_bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut block = Digest::of(Algorithm::Sha256, seed.as_bytes()).hex().as_bytes().to_vec();
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Digest::of(Algorithm::Sha256, &block).hex().as_bytes().to_vec();
    }
    out.truncate(len);
    out
}

/// What an acknowledged request did, read from the exchange alone.
fn observed_op(r: &Reply) -> Option<Op> {
    let path = r.sent.path.split('?').next()?;
    let query: std::collections::HashMap<String, String> =
        form_urlencoded::parse(r.sent.path.split_once('?').map_or("", |(_, q)| q).as_bytes()).into_owned().collect();
    let rest = path.strip_prefix("/v2/")?;
    let (method, status) = (r.sent.method.as_str(), r.status.as_u16());
    let split = |marker: &str| rest.rfind(marker).map(|i| (rest[..i].to_owned(), rest[i + marker.len()..].to_owned()));
    let op = |action, repository: String, digest: Option<String>, tag: Option<String>| {
        Some(Op { action, repository, digest, tag })
    };
    if let Some((repo, _)) = split("/blobs/uploads/") {
        let created = status == 201;
        return match (method, query.get("mount"), query.get("digest")) {
            ("POST", Some(d), _) if created => op("mount", repo, Some(d.clone()), None),
            ("POST" | "PUT", _, Some(d)) if created => op("push", repo, Some(d.clone()), None),
            _ => None,
        };
    }
    if let Some((repo, reference)) = split("/manifests/") {
        let digest = r.header("docker-content-digest").map(str::to_owned);
        let is_digest = reference.contains(':');
        return match (method, status) {
            ("PUT", 201) => op("push", repo, digest, None),
            ("DELETE", 202) if is_digest => op("delete", repo, Some(reference), None),
            ("DELETE", 202) => op("delete", repo, None, Some(reference)),
            _ => None,
        };
    }
    if let Some((repo, digest)) = split("/blobs/") {
        return match (method, status) {
            ("DELETE", 202) => op("delete", repo, Some(digest), None),
            _ => None,
        };
    }
    None
}

/// An OCI image manifest over the given config and layers, optionally with a subject.
pub fn image_manifest(
    config: &Digest,
    config_len: usize,
    layers: &[(Digest, usize)],
    subject: Option<(&Digest, usize)>,
) -> Vec<u8> {
    let layers: Vec<serde_json::Value> = layers
        .iter()
        .map(|(d, n)| serde_json::json!({"mediaType": drydock_spec::media_type::OCI_LAYER, "digest": d, "size": n}))
        .collect();
    let mut m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": drydock_spec::media_type::OCI_MANIFEST,
        "config": {"mediaType": drydock_spec::media_type::OCI_CONFIG, "digest": config, "size": config_len},
        "layers": layers,
    });
    if let Some((d, n)) = subject {
        m["subject"] = serde_json::json!({"mediaType": drydock_spec::media_type::OCI_MANIFEST, "digest": d, "size": n});
    }
    serde_json::to_vec(&m).expect("manifests serialize")
}

pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Verdict> + 'a>>;

/// One conformance check.
pub struct Check {
    /// Stable id, e.g. `push/chunked/out-of-order-416`.
    pub id: Cow<'static, str>,
    /// The spec section it enforces.
    pub section: Cow<'static, str>,
    pub title: Cow<'static, str>,
    /// The first profile whose requirements include it.
    pub since: Profile,
    pub run: Run,
}

/// How a check runs.
pub enum Run {
    /// On its own, against fresh repositories.
    Alone(for<'a> fn(&'a Ctx) -> CheckFuture<'a>),
    /// As step `index` of a sequence: checks that share state and run in
    /// order in one task (push, then read, then delete one content set).
    Step { sequence: Arc<dyn Sequence>, index: usize },
}

/// Checks that build on each other. Running step `k` runs every earlier
/// step too (unreported unless selected): a step whose prerequisite's
/// effect did not happen (the content was not stored) is skipped naming
/// it, so one departure is reported once.
pub trait Sequence: Send + Sync {
    /// Runs steps `0..=last`; the verdict of each, in order.
    fn run<'a>(&'a self, ctx: &'a Ctx, last: usize) -> Pin<Box<dyn Future<Output = Vec<Verdict>> + 'a>>;
}

/// Declares a check from an `async fn(&Ctx) -> Verdict`.
#[macro_export]
macro_rules! check {
    ($id:literal, $section:literal, $since:ident, $title:literal, $f:path) => {
        $crate::harness::Check {
            id: ::std::borrow::Cow::Borrowed($id),
            section: ::std::borrow::Cow::Borrowed($section),
            title: ::std::borrow::Cow::Borrowed($title),
            since: $crate::harness::Profile::$since,
            run: $crate::harness::Run::Alone(|ctx| Box::pin($f(ctx))),
        }
    };
}
