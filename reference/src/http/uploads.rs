//! Blob uploads: monolithic, POST+PUT, chunked and streamed PATCH, status,
//! cancel, and cross-repository mounts. Each handler parses the request,
//! calls one `Repository` operation and renders its outcome.

use super::blobs::parse_digest;
use super::response::{self, Body};
use super::{Ctx, HandlerResult};
use crate::registry::blob_writer::{APPEND_CHUNK, ChunkBounds, DEFAULT_UPLOAD_ALGORITHM, UploadRef};
use crate::registry::error::RegistryError;
use crate::registry::upload_token::UploadState;
use drydock_spec::{Algorithm, Digest, ErrorCode, RepositoryName};
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use std::time::UNIX_EPOCH;

/// `Range` value for an upload holding `size` bytes (`0-0` when empty, as
/// distribution answers).
fn range_value(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn millis(t: std::time::SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// What the signed upload state tells a request about its upload.
#[derive(Clone, Copy)]
struct Session<'a> {
    id: &'a str,
    /// Milliseconds since the Unix epoch.
    started_ms: u64,
    algorithm: Algorithm,
}

impl<'a> Session<'a> {
    fn upload(self) -> UploadRef<'a> {
        UploadRef { id: self.id, algorithm: self.algorithm }
    }
}

/// Where the client continues the upload, with freshly signed state.
fn location(ctx: &Ctx<'_>, session: Session<'_>, size: u64) -> String {
    let id = session.id;
    let state = UploadState {
        name: ctx.repo.to_string(),
        uuid: id.to_owned(),
        offset: size,
        started_at: session.started_ms,
        algorithm: (session.algorithm != DEFAULT_UPLOAD_ALGORITHM).then(|| session.algorithm.name().to_owned()),
    };
    let token = ctx.registry.tokens.sign(&state);
    format!("/v2/{}/blobs/uploads/{id}?_state={token}", ctx.repo)
}

/// 202 (or 204 for status) with the session's location, size and id.
fn in_progress(ctx: &Ctx<'_>, status: StatusCode, session: Session<'_>, size: u64) -> Response<Body> {
    let mut r = response::status(status);
    response::set(&mut r, "location", location(ctx, session, size));
    response::set(&mut r, "range", range_value(size));
    response::set(&mut r, "docker-upload-uuid", session.id);
    r
}

fn created(repo: &RepositoryName, d: &Digest) -> Response<Body> {
    let mut r = response::status(StatusCode::CREATED);
    response::set(&mut r, "location", format!("/v2/{repo}/blobs/{d}"));
    response::set(&mut r, "docker-content-digest", d.as_str());
    r
}

/// Checks `_state` against the URL and returns what it says of the upload.
fn verify_token<'a>(ctx: &Ctx<'_>, id: &'a str) -> Result<Session<'a>, RegistryError> {
    // Ids are ours (uuids); anything else never reaches a storage path.
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(RegistryError::UploadUnknown(id.to_owned()));
    }
    let token =
        ctx.query.get("_state").ok_or_else(|| RegistryError::UploadInvalid("missing upload state (_state)".into()))?;
    let state = ctx.registry.tokens.verify(token).map_err(|e| RegistryError::UploadInvalid(e.to_string()))?;
    if state.name != ctx.repo.as_str() || state.uuid != id {
        return Err(RegistryError::UploadInvalid("upload state belongs to another upload".into()));
    }
    let algorithm = match state.algorithm.as_deref() {
        None => DEFAULT_UPLOAD_ALGORITHM,
        Some(name) => Algorithm::from_name(name)
            .ok_or_else(|| RegistryError::UploadInvalid(format!("upload state names unknown algorithm {name:?}")))?,
    };
    Ok(Session { id, started_ms: state.started_at, algorithm })
}

/// The algorithm a new upload is hashed with: `?digest-algorithm=` (end-4c)
/// or the default. One the registry does not implement is refused before
/// the client sends a byte.
fn requested_algorithm(ctx: &Ctx<'_>) -> Result<Algorithm, RegistryError> {
    match ctx.query.get("digest-algorithm") {
        None => Ok(DEFAULT_UPLOAD_ALGORITHM),
        Some(name) => Algorithm::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            RegistryError::UnsupportedAlgorithm(format!(
                "digest-algorithm {name:?} is not one this registry hashes with ({})",
                known.join(", ")
            ))
        }),
    }
}

pub(crate) async fn start(ctx: &Ctx<'_>, req: Request<Incoming>) -> HandlerResult {
    let repository = ctx.repository();
    let algorithm = requested_algorithm(ctx)?;
    if let Some(mount) = ctx.query.get("mount") {
        let d = parse_digest(mount)?;
        // An invalid `from` mounts nothing: a fresh session follows, as for
        // a blob that is not there.
        // So does a mount the caller may not make: `from` must be a
        // repository it may pull, and an automatic mount (no `from`) needs
        // leave to pull from anywhere.
        let from = ctx.query.get("from").map(|f| RepositoryName::parse(f).ok());
        let permitted = match &from {
            Some(Some(source)) => (ctx.may_pull)(source.as_str()),
            Some(None) => false,
            None => (ctx.may_pull)("*"),
        };
        if permitted && repository.mount(&d, from.flatten().as_ref()).await?.is_some() {
            return Ok(created(&ctx.repo, &d));
        }
    }
    if let Some(digest) = ctx.query.get("digest") {
        let d = parse_digest(digest)?;
        repository.push_blob(&d, ctx.body(req)).await?;
        return Ok(created(&ctx.repo, &d));
    }
    let upload = repository.start_upload().await?;
    let session = Session { id: &upload.id, started_ms: millis(upload.started_at), algorithm };
    Ok(in_progress(ctx, StatusCode::ACCEPTED, session, 0))
}

pub(crate) async fn status(ctx: &Ctx<'_>, id: &str) -> HandlerResult {
    let session = verify_token(ctx, id)?;
    let info = ctx.repository().upload_status(id).await?;
    Ok(in_progress(ctx, StatusCode::NO_CONTENT, session, info.size))
}

/// `Content-Range` as clients send it: `start-end` or `bytes start-end`.
fn content_range(req: &Request<Incoming>) -> Result<Option<(u64, u64)>, ()> {
    let Some(v) = req.headers().get(header::CONTENT_RANGE) else { return Ok(None) };
    let s = v.to_str().map_err(|_| ())?.trim();
    let s = s.strip_prefix("bytes").map(str::trim_start).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    let (a, b) = s.split_once('-').ok_or(())?;
    let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| ())?, b.trim().parse().map_err(|_| ())?);
    if b < a { Err(()) } else { Ok(Some((a, b))) }
}

/// Where a chunk must go, from its `Content-Range` and `Content-Length`;
/// why it cannot be taken otherwise.
fn chunk_bounds(req: &Request<Incoming>) -> Result<ChunkBounds, String> {
    let range = content_range(req).map_err(|()| "malformed Content-Range".to_owned())?;
    let length = content_length(req);
    if let (Some((a, b)), Some(len)) = (range, length)
        && b - a + 1 != len
    {
        return Err(format!("Content-Range {a}-{b} disagrees with Content-Length {len}"));
    }
    // With Content-Length the transport holds the body to its length;
    // without it, the length the range declares is checked here, which
    // takes buffering the chunk whole before any of it is appended.
    let declared = range.map(|(a, b)| b - a + 1).filter(|_| length.is_none());
    if let Some(len) = declared
        && len > APPEND_CHUNK as u64
    {
        return Err(format!("a chunk over {APPEND_CHUNK} bytes needs a Content-Length (this one declares {len})"));
    }
    Ok(ChunkBounds { start: range.map(|(a, _)| a), length: declared })
}

/// 416 for a chunk that cannot be taken where it says it goes, with where
/// the upload stands (it stays usable).
async fn range_refused(ctx: &Ctx<'_>, session: Session<'_>, stored: Option<u64>, message: String) -> HandlerResult {
    let size = match stored {
        Some(size) => size,
        None => ctx.repository().upload_status(session.id).await?.size,
    };
    let mut r = response::error(ErrorCode::RangeInvalid, message);
    response::set(&mut r, "range", range_value(size));
    response::set(&mut r, "location", location(ctx, session, size));
    Ok(r)
}

/// The answer to a chunk (of a PATCH or a closing PUT) that did not fit.
async fn chunk_refused(ctx: &Ctx<'_>, session: Session<'_>, e: RegistryError) -> HandlerResult {
    match e {
        RegistryError::RangeMismatch { requested, stored } => {
            let message = format!("chunk starts at {requested} but the upload holds {stored} bytes");
            range_refused(ctx, session, Some(stored), message).await
        }
        e @ RegistryError::ChunkLengthMismatch { .. } => range_refused(ctx, session, None, e.to_string()).await,
        e => Err(e),
    }
}

pub(crate) async fn patch(ctx: &Ctx<'_>, id: &str, req: Request<Incoming>) -> HandlerResult {
    let session = verify_token(ctx, id)?;
    let bounds = match chunk_bounds(&req) {
        Ok(b) => b,
        Err(message) => return range_refused(ctx, session, None, message).await,
    };
    match ctx.repository().write_upload(session.upload(), bounds, ctx.body(req)).await {
        Ok(size) => Ok(in_progress(ctx, StatusCode::ACCEPTED, session, size)),
        Err(e) => chunk_refused(ctx, session, e).await,
    }
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The closing PUT; its body, if any, is the final chunk and goes where its
/// `Content-Range` says (out of order: 416, and the upload stays usable).
pub(crate) async fn put(ctx: &Ctx<'_>, id: &str, req: Request<Incoming>) -> HandlerResult {
    let session = verify_token(ctx, id)?;
    let Some(digest) = ctx.query.get("digest") else {
        return Ok(response::error(ErrorCode::DigestInvalid, "the digest query parameter is required"));
    };
    let d = parse_digest(digest)?;
    let bounds = match chunk_bounds(&req) {
        Ok(b) => b,
        Err(message) => return range_refused(ctx, session, None, message).await,
    };
    match ctx.repository().commit_upload(session.upload(), &d, bounds, ctx.body(req)).await {
        Ok(_) => Ok(created(&ctx.repo, &d)),
        Err(e) => chunk_refused(ctx, session, e).await,
    }
}

pub(crate) async fn cancel(ctx: &Ctx<'_>, id: &str) -> HandlerResult {
    verify_token(ctx, id)?;
    ctx.repository().cancel_upload(id).await?;
    Ok(response::status(StatusCode::NO_CONTENT))
}
