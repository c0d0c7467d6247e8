//! Blob reads (with ranges) and deletes.

use super::response::{self, Body};
use super::{Ctx, HandlerResult};
use crate::registry::blob_store::VerifiedRead;
use crate::registry::error::RegistryError;
use drydock_spec::{Digest, ErrorCode};
use futures_util::stream;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};

/// Verified pieces (of [`crate::registry::piece_record::PIECE_BYTES`]) a
/// download may hold ready beyond the one being written: its memory,
/// whatever the blob's size.
pub const PULL_READ_AHEAD: usize = 2;

pub(crate) fn parse_digest(s: &str) -> Result<Digest, RegistryError> {
    Ok(Digest::parse(s)?)
}

/// A requested byte range, resolved against the blob size.
enum Range {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

fn parse_range(value: &str, size: u64) -> Option<Range> {
    // Range units compare case-insensitively (RFC 9110 §14.1).
    let (unit, spec) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    if spec.contains(',') {
        return None; // multiple ranges: serve the whole blob
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    Some(match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let suffix: u64 = b.parse().ok()?;
            if suffix == 0 || size == 0 {
                Range::Unsatisfiable
            } else {
                Range::Part(size.saturating_sub(suffix), size - 1)
            }
        }
        (false, _) => {
            let start: u64 = a.parse().ok()?;
            let end =
                if b.is_empty() { size.saturating_sub(1) } else { b.parse::<u64>().ok()?.min(size.saturating_sub(1)) };
            if start >= size || (!b.is_empty() && b.parse::<u64>().ok()? < start) {
                Range::Unsatisfiable
            } else {
                Range::Part(start, end)
            }
        }
        (true, true) => return None,
    })
}

pub(crate) async fn get(ctx: &Ctx<'_>, digest: &str, req: &Request<Incoming>, with_body: bool) -> HandlerResult {
    let d = parse_digest(digest)?;
    let repository = ctx.repository();
    let blob = repository.blob(&d).await?;
    let size = blob.size;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, size))
        .unwrap_or(Range::Whole);
    let (status, start, end) = match range {
        Range::Whole => (StatusCode::OK, 0, size),
        Range::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Range::Unsatisfiable => {
            let mut r =
                response::error(ErrorCode::RangeInvalid, format!("range not satisfiable for a {size}-byte blob"));
            response::set(&mut r, "content-range", format!("bytes */{size}"));
            return Ok(r);
        }
    };
    if with_body {
        repository.pulled(&blob).await?;
    }
    let body = match (with_body, blob.content.clone()) {
        (false, _) => response::empty(),
        (true, Some(bytes)) => response::full(bytes.slice(start as usize..end as usize)),
        (true, None) if status == StatusCode::OK => stream_verified(repository.read_whole(&blob)),
        (true, None) => stream_verified(repository.read_range(&blob, start, end)),
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    response::set(&mut r, "content-length", (end - start).to_string());
    response::set(&mut r, "content-type", "application/octet-stream");
    response::set(&mut r, "docker-content-digest", d.as_str());
    response::set(&mut r, "etag", format!("\"{d}\""));
    response::set(&mut r, "accept-ranges", "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        response::set(&mut r, "content-range", format!("bytes {start}-{}/{size}", end - 1));
    }
    Ok(r)
}

/// The blob or a range of it, checked as it goes (see [`VerifiedRead`]): a
/// damaged blob's download is cut short. Reading and checking run in a task
/// of their own, [`PULL_READ_AHEAD`] pieces ahead of the connection, so the
/// hash of one piece overlaps the socket write of the one before (on another
/// core when the runtime has one).
fn stream_verified(read: VerifiedRead) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel(PULL_READ_AHEAD);
    tokio::spawn(async move {
        let mut read = read;
        loop {
            let next = match read.next().await {
                Ok(Some(piece)) => Ok(Frame::data(piece)),
                Ok(None) => return,
                Err(e) => Err(std::io::Error::other(e)),
            };
            let failed = next.is_err();
            // A closed channel is a download the client gave up on.
            if tx.send(next).await.is_err() || failed {
                return;
            }
        }
    });
    let chunks = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|piece| (piece, rx)) });
    StreamBody::new(chunks).boxed_unsync()
}

pub(crate) async fn delete(ctx: &Ctx<'_>, digest: &str) -> HandlerResult {
    ctx.repository().delete_blob(&parse_digest(digest)?).await?;
    Ok(response::status(StatusCode::ACCEPTED))
}
