//! Digest algorithms other than sha256: every way of pushing a blob, with a
//! sha512 digest, and `?digest-algorithm=` on the POST that starts an
//! upload (end-4c).

use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_digest, expect_error, expect_header, expect_status, fail};
use drydock_spec::{Algorithm, Digest};
use http::Method;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "push/sha512/every-method",
            "image-spec §Digests; main-branch conformance (blobs per algorithm)",
            OciNext,
            "sha512 blobs pushed by single POST, POST+PUT, chunks, a streamed PATCH and a mount, and the empty and {} blobs: each served under its sha512 digest",
            every_method
        ),
        check!(
            "push/digest-algorithm/sha512",
            "spec §Pushing a blob in chunks (digest-algorithm, end-4c)",
            OciNext,
            "an upload started with ?digest-algorithm=sha512 takes chunks and closes with a sha512 digest",
            declared_sha512
        ),
        check!(
            "push/digest-algorithm/unknown-400",
            "spec §Pushing a blob in chunks (digest-algorithm, end-4c)",
            OciNext,
            "an upload started with an algorithm the registry does not know: 400 before any byte is sent",
            unknown_algorithm
        ),
    ]
}

const OCTETS: (&str, &str) = ("content-type", "application/octet-stream");

/// The blob is there under `d`: HEAD and GET agree with the bytes and name
/// the digest (when they name one).
async fn served(ctx: &Ctx, repo: &str, d: &Digest, bytes: &[u8]) -> Verdict {
    for method in [Method::HEAD, Method::GET] {
        let r = ctx.req(method.clone(), &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await?;
        expect_status(&r, &[200])?;
        expect_digest(ctx, &r, d)?;
        if method == Method::GET && r.body[..] != bytes[..] {
            return Err(fail(&r, format!("{d} reads back other bytes")));
        }
    }
    Ok(())
}

/// A closing PUT must answer 201 naming the digest it was given.
fn created(ctx: &Ctx, r: &crate::client::Reply, d: &Digest) -> Verdict {
    expect_status(r, &[201])?;
    expect_digest(ctx, r, d)
}

async fn every_method(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("sha512-methods");
    let blob = |label: &str| {
        let bytes = ctx.unique_bytes(label, 1500);
        (Digest::of(Algorithm::Sha512, &bytes), bytes)
    };
    // A single POST carrying the blob (202 means "not supported": then PUT).
    let (d, bytes) = blob("single post");
    let r = ctx.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={d}"), &[OCTETS], bytes.clone()).await?;
    expect_status(&r, &[201, 202])?;
    if r.status == 202 {
        let location = Ctx::path_of(expect_header(&r, "location")?);
        let r =
            ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[OCTETS], bytes.clone()).await?;
        created(ctx, &r, &d)?;
    } else {
        created(ctx, &r, &d)?;
    }
    served(ctx, &repo, &d, &bytes).await?;
    // POST, then PUT with the whole blob.
    let (d, bytes) = blob("post put");
    let location = ctx.start_upload(&repo).await?;
    let r = ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[OCTETS], bytes.clone()).await?;
    created(ctx, &r, &d)?;
    served(ctx, &repo, &d, &bytes).await?;
    // Three chunks, the last carried by the closing PUT.
    let (d, bytes) = blob("chunks");
    let mut location = ctx.start_upload(&repo).await?;
    for start in [0, 500] {
        let r = ctx.patch_chunk(&location, start, &bytes[start..start + 500]).await?;
        expect_status(&r, &[202])?;
        location = Ctx::path_of(expect_header(&r, "location")?);
    }
    let r = ctx
        .req(
            Method::PUT,
            &Ctx::with_query(&location, "digest", d.as_str()),
            &[OCTETS, ("content-range", "1000-1499")],
            bytes[1000..].to_vec(),
        )
        .await?;
    created(ctx, &r, &d)?;
    served(ctx, &repo, &d, &bytes).await?;
    // One streamed PATCH (no Content-Range), then an empty closing PUT.
    let (d, bytes) = blob("stream");
    let location = ctx.start_upload(&repo).await?;
    let r = ctx.req(Method::PATCH, &location, &[OCTETS], bytes.clone()).await?;
    expect_status(&r, &[202])?;
    let location = Ctx::path_of(expect_header(&r, "location")?);
    let r = ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[], vec![]).await?;
    created(ctx, &r, &d)?;
    served(ctx, &repo, &d, &bytes).await?;
    // Well-known contents: the empty blob and `{}`.
    for bytes in [Vec::new(), b"{}".to_vec()] {
        let d = Digest::of(Algorithm::Sha512, &bytes);
        let location = ctx.start_upload(&repo).await?;
        let r =
            ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[OCTETS], bytes.clone()).await?;
        created(ctx, &r, &d)?;
        served(ctx, &repo, &d, &bytes).await?;
    }
    // A mount of the streamed one into another repository.
    let target = ctx.repo("sha512-mount");
    let r = ctx.req(Method::POST, &format!("/v2/{target}/blobs/uploads/?mount={d}&from={repo}"), &[], vec![]).await?;
    created(ctx, &r, &d)?;
    served(ctx, &target, &d, &bytes).await
}

async fn declared_sha512(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("digest-algorithm");
    let bytes = ctx.unique_bytes("declared sha512", 3000);
    let d = Digest::of(Algorithm::Sha512, &bytes);
    let r = ctx.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest-algorithm=sha512"), &[], vec![]).await?;
    expect_status(&r, &[202])?;
    let mut location = Ctx::path_of(expect_header(&r, "location")?);
    for start in [0, 1000, 2000] {
        let r = ctx.patch_chunk(&location, start, &bytes[start..start + 1000]).await?;
        expect_status(&r, &[202])?;
        location = Ctx::path_of(expect_header(&r, "location")?);
    }
    let r = ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[], vec![]).await?;
    created(ctx, &r, &d)?;
    served(ctx, &repo, &d, &bytes).await
}

async fn unknown_algorithm(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("digest-algorithm");
    let r = ctx
        .req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest-algorithm=drydock-unknown"), &[], vec![])
        .await?;
    expect_error(&r, &[400], &["DIGEST_INVALID", "UNSUPPORTED"])
}
