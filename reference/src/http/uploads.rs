//! Blob uploads: monolithic, POST+PUT, chunked and streamed PATCH, status,
//! cancel, and cross-repository mounts. Each handler parses the request,
//! calls one `Repository` operation and renders its outcome.

use super::blobs::parse_digest;
use super::response::{self, Body};
use super::{Ctx, HandlerResult, body_stream};
use crate::registry::blob_writer::{APPEND_CHUNK, ChunkBounds};
use crate::registry::error::RegistryError;
use crate::registry::upload_token::UploadState;
use drydock_spec::{Digest, ErrorCode, RepositoryName};
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

/// Where the client continues the upload, with freshly signed state.
fn location(ctx: &Ctx<'_>, id: &str, size: u64, started_ms: u64) -> String {
    let state = UploadState { name: ctx.repo.to_string(), uuid: id.to_owned(), offset: size, started_at: started_ms };
    let token = ctx.registry.tokens.sign(&state);
    format!("/v2/{}/blobs/uploads/{id}?_state={token}", ctx.repo)
}

/// 202 (or 204 for status) with the session's location, size and id.
fn in_progress(ctx: &Ctx<'_>, status: StatusCode, id: &str, size: u64, started_ms: u64) -> Response<Body> {
    let mut r = response::status(status);
    response::set(&mut r, "location", location(ctx, id, size, started_ms));
    response::set(&mut r, "range", range_value(size));
    response::set(&mut r, "docker-upload-uuid", id);
    r
}

fn created(repo: &RepositoryName, d: &Digest) -> Response<Body> {
    let mut r = response::status(StatusCode::CREATED);
    response::set(&mut r, "location", format!("/v2/{repo}/blobs/{d}"));
    response::set(&mut r, "docker-content-digest", d.as_str());
    r
}

/// Checks `_state` against the URL and returns the upload's start time.
fn verify_token(ctx: &Ctx<'_>, id: &str) -> Result<u64, RegistryError> {
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
    Ok(state.started_at)
}

pub(crate) async fn start(ctx: &Ctx<'_>, req: Request<Incoming>) -> HandlerResult {
    let repository = ctx.repository();
    if let Some(mount) = ctx.query.get("mount") {
        let d = parse_digest(mount)?;
        // An invalid `from` mounts nothing: a fresh session follows, as for
        // a blob that is not there.
        let from = ctx.query.get("from").map(|f| RepositoryName::parse(f).ok());
        if !matches!(from, Some(None)) && repository.mount(&d, from.flatten().as_ref()).await?.is_some() {
            return Ok(created(&ctx.repo, &d));
        }
    }
    if let Some(digest) = ctx.query.get("digest") {
        let d = parse_digest(digest)?;
        repository.push_blob(&d, body_stream(req)).await?;
        return Ok(created(&ctx.repo, &d));
    }
    let upload = repository.start_upload().await?;
    Ok(in_progress(ctx, StatusCode::ACCEPTED, &upload.id, 0, millis(upload.started_at)))
}

pub(crate) async fn status(ctx: &Ctx<'_>, id: &str) -> HandlerResult {
    let started = verify_token(ctx, id)?;
    let info = ctx.repository().upload_status(id).await?;
    Ok(in_progress(ctx, StatusCode::NO_CONTENT, id, info.size, started))
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
async fn range_refused(ctx: &Ctx<'_>, id: &str, started: u64, stored: Option<u64>, message: String) -> HandlerResult {
    let size = match stored {
        Some(size) => size,
        None => ctx.repository().upload_status(id).await?.size,
    };
    let mut r = response::error(ErrorCode::RangeInvalid, message);
    response::set(&mut r, "range", range_value(size));
    response::set(&mut r, "location", location(ctx, id, size, started));
    Ok(r)
}

/// The answer to a chunk (of a PATCH or a closing PUT) that did not fit.
async fn chunk_refused(ctx: &Ctx<'_>, id: &str, started: u64, e: RegistryError) -> HandlerResult {
    match e {
        RegistryError::RangeMismatch { requested, stored } => {
            let message = format!("chunk starts at {requested} but the upload holds {stored} bytes");
            range_refused(ctx, id, started, Some(stored), message).await
        }
        e @ RegistryError::ChunkLengthMismatch { .. } => range_refused(ctx, id, started, None, e.to_string()).await,
        e => Err(e),
    }
}

pub(crate) async fn patch(ctx: &Ctx<'_>, id: &str, req: Request<Incoming>) -> HandlerResult {
    let started = verify_token(ctx, id)?;
    let bounds = match chunk_bounds(&req) {
        Ok(b) => b,
        Err(message) => return range_refused(ctx, id, started, None, message).await,
    };
    match ctx.repository().write_upload(id, bounds, body_stream(req)).await {
        Ok(size) => Ok(in_progress(ctx, StatusCode::ACCEPTED, id, size, started)),
        Err(e) => chunk_refused(ctx, id, started, e).await,
    }
}

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The closing PUT; its body, if any, is the final chunk and goes where its
/// `Content-Range` says (out of order: 416, and the upload stays usable).
pub(crate) async fn put(ctx: &Ctx<'_>, id: &str, req: Request<Incoming>) -> HandlerResult {
    let started = verify_token(ctx, id)?;
    let Some(digest) = ctx.query.get("digest") else {
        return Ok(response::error(ErrorCode::DigestInvalid, "the digest query parameter is required"));
    };
    let d = parse_digest(digest)?;
    let bounds = match chunk_bounds(&req) {
        Ok(b) => b,
        Err(message) => return range_refused(ctx, id, started, None, message).await,
    };
    match ctx.repository().commit_upload(id, &d, bounds, body_stream(req)).await {
        Ok(_) => Ok(created(&ctx.repo, &d)),
        Err(e) => chunk_refused(ctx, id, started, e).await,
    }
}

pub(crate) async fn cancel(ctx: &Ctx<'_>, id: &str) -> HandlerResult {
    verify_token(ctx, id)?;
    ctx.repository().cancel_upload(id).await?;
    Ok(response::status(StatusCode::NO_CONTENT))
}
