//! Manifest reads, writes and deletes, by tag or digest.

use super::query::Query;
use super::response;
use super::{Ctx, HandlerResult};
use crate::registry::error::RegistryError;
use drydock_spec::manifest::MANIFEST_MAX_BYTES;
use drydock_spec::name::ReferenceError;
use drydock_spec::{Digest, ErrorCode, Manifest, Reference, Tag};
use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;

fn parse_reference(s: &str) -> Result<Reference, RegistryError> {
    Reference::parse(s).map_err(|e| match e {
        ReferenceError::Tag(e) => e.into(),
        ReferenceError::Digest(e) => e.into(),
    })
}

/// Whether an `If-None-Match` value names this digest (quoted or not, or `*`).
fn none_match(req: &Request<Incoming>, d: &Digest) -> bool {
    req.headers().get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |tag| {
            let tag = tag.trim().trim_start_matches("W/").trim_matches('"');
            tag == "*" || tag == d.as_str()
        },
    )
}

pub(crate) async fn get(ctx: &Ctx<'_>, reference: &str, req: &Request<Incoming>, with_body: bool) -> HandlerResult {
    // No manifest has a name the tag grammar refuses: reading one finds
    // nothing (OCI 1.1), while writing one is an invalid request.
    let reference = match Reference::parse(reference) {
        Ok(r) => r,
        Err(ReferenceError::Tag(_)) => return Err(RegistryError::ManifestUnknown(reference.to_owned())),
        Err(ReferenceError::Digest(e)) => return Err(e.into()),
    };
    let m = ctx.repository().manifest(&reference, with_body).await?;
    let mut r = if none_match(req, &m.digest) {
        let mut r = response::status(StatusCode::NOT_MODIFIED);
        r.headers_mut().remove(header::CONTENT_LENGTH);
        r
    } else {
        let len = m.body.len();
        let mut r = Response::new(if with_body { response::full(m.body) } else { response::empty() });
        response::set(&mut r, "content-length", len.to_string());
        r
    };
    response::set(&mut r, "content-type", &m.media_type);
    response::set(&mut r, "docker-content-digest", m.digest.as_str());
    response::set(&mut r, "etag", format!("\"{}\"", m.digest));
    Ok(r)
}

pub(crate) async fn put(ctx: &Ctx<'_>, reference: &str, req: Request<Incoming>) -> HandlerResult {
    let reference = parse_reference(reference)?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let if_match = match req.headers().get(header::IF_MATCH).map(|v| v.to_str().map(|s| s.trim().trim_matches('"'))) {
        None => None,
        Some(Ok(s)) => match Digest::parse(s) {
            Ok(d) => Some(d),
            Err(e) => return Ok(response::error(ErrorCode::DigestInvalid, format!("If-Match: {e}"))),
        },
        Some(Err(_)) => return Ok(response::error(ErrorCode::DigestInvalid, "If-Match is not text")),
    };
    let Some(body) = ctx.body_bytes(req, MANIFEST_MAX_BYTES).await? else {
        return Ok(response::error_with_status(
            ErrorCode::ManifestInvalid,
            413,
            format!("manifest exceeds the {MANIFEST_MAX_BYTES}-byte limit"),
        ));
    };
    let manifest = Manifest::parse(body.to_vec(), content_type.as_deref())
        .map_err(|e| RegistryError::ManifestInvalid(e.to_string()))?;
    let subject = manifest.subject.as_ref().map(|s| s.digest.clone());
    let digest_in_url = match &reference {
        Reference::Digest(d) => Some(d),
        Reference::Tag(_) => None,
    };
    let tags = tags_to_set(&reference, &ctx.query)?;
    let d = ctx.repository().put_manifest(manifest, digest_in_url, &tags, if_match.as_ref()).await?;
    let mut r = response::status(StatusCode::CREATED);
    response::set(&mut r, "location", format!("/v2/{}/manifests/{d}", ctx.repo));
    response::set(&mut r, "docker-content-digest", d.as_str());
    if let Some(s) = subject {
        response::set(&mut r, "oci-subject", s.as_str());
    }
    for tag in &tags {
        response::append(&mut r, "oci-tag", tag.as_str());
    }
    Ok(r)
}

/// Most tags one push may set (each costs two storage writes).
pub const TAGS_PER_PUSH_MAX: usize = 64;

/// The tags a push sets: the one in the URL, if any, then every `?tag=`
/// (end-7b), each once. One the grammar refuses fails the whole push before
/// anything is written.
fn tags_to_set(reference: &Reference, query: &Query) -> Result<Vec<Tag>, RegistryError> {
    let mut tags: Vec<Tag> = Vec::new();
    if let Reference::Tag(t) = reference {
        tags.push(t.clone());
    }
    for raw in query.all("tag") {
        let tag = Tag::parse(raw)?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if tags.len() > TAGS_PER_PUSH_MAX {
        return Err(RegistryError::ManifestInvalid(format!(
            "a push may set at most {TAGS_PER_PUSH_MAX} tags; this one names {}",
            tags.len()
        )));
    }
    Ok(tags)
}

pub(crate) async fn delete(ctx: &Ctx<'_>, reference: &str) -> HandlerResult {
    match parse_reference(reference)? {
        Reference::Digest(d) => ctx.repository().delete_manifest(&d).await?,
        Reference::Tag(t) => ctx.repository().delete_tag(&t).await?,
    }
    Ok(response::status(StatusCode::ACCEPTED))
}
