use crate::check;
use crate::harness::{
    Check, Ctx, Verdict, expect_error, expect_header, expect_header_eq, expect_status, fail, image_manifest, skip,
};
use drydock_spec::media_type::OCI_MANIFEST;
use drydock_spec::{Algorithm, Digest};
use http::Method;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "push/post-put/201",
            "spec §Pushing a blob monolithically (POST then PUT, end-4a, end-6)",
            Oci10,
            "POST then PUT with the whole blob: 202, then 201 with Location",
            post_put
        ),
        check!(
            "push/monolithic/single-post",
            "spec §Pushing a blob monolithically (single POST, end-4b)",
            Oci10,
            "POST ?digest= with the blob: 201 (or 202 where unsupported)",
            single_post
        ),
        check!(
            "push/chunked/201",
            "spec §Pushing a blob in chunks (end-5, end-6)",
            Oci10,
            "PATCH chunks with Content-Range, then PUT: 201 and the exact bytes",
            chunked
        ),
        check!(
            "push/chunked/out-of-order-416",
            "spec §Pushing a blob in chunks",
            Oci10,
            "a chunk that does not start at the current offset: 416",
            out_of_order
        ),
        check!(
            "push/chunked/final-out-of-order-416",
            "spec §Pushing a blob in chunks (main branch: final chunk out of order)",
            OciNext,
            "a closing PUT whose chunk does not start at the current offset: 416, and the upload stays usable",
            final_out_of_order
        ),
        check!(
            "push/upload/status-204",
            "spec §Pushing a blob in chunks (end-13)",
            Oci10,
            "GET on an upload: 204 with Range and Location",
            upload_status
        ),
        check!(
            "push/upload/cancel",
            "Docker Registry HTTP API v2 §Canceling an Upload",
            Oci10,
            "DELETE on an upload ends it; the session is then unknown",
            upload_cancel
        ),
        check!(
            "push/digest-mismatch-400",
            "spec §Pushing blobs, §Error codes",
            Oci10,
            "a PUT whose digest does not match: 400 DIGEST_INVALID, nothing stored",
            digest_mismatch
        ),
        check!("push/zero-length", "spec §Pushing blobs", Oci10, "an empty blob is stored and served", zero_length),
        check!(
            "push/sha512",
            "image-spec §Digests (sha512 registered)",
            Oci11,
            "a blob pushed with a sha512 digest",
            sha512
        ),
        check!(
            "push/mount/from-201",
            "spec §Mounting a blob from another repository (end-11)",
            Oci10,
            "mount with from= of a blob the source holds: 201, readable",
            mount_from
        ),
        check!(
            "push/mount/unknown-202",
            "spec §Mounting a blob from another repository",
            Oci10,
            "mount of an unknown blob falls back to a 202 upload session",
            mount_unknown
        ),
        check!(
            "push/mount/without-from",
            "spec §Mounting a blob from another repository (1.1: automatic content discovery)",
            Oci11,
            "mount without from: 201 and the blob readable here, or 202 and a usable upload session",
            mount_without_from
        ),
        check!(
            "push/manifest/by-tag-201",
            "spec §Pushing manifests (end-7)",
            Oci10,
            "PUT a manifest by tag: 201, Location, digest of the bytes sent",
            manifest_put
        ),
        check!(
            "push/manifest/blob-unknown",
            "spec §Pushing manifests",
            Oci10,
            "a manifest referencing an unknown blob: 400 MANIFEST_BLOB_UNKNOWN",
            manifest_blob_unknown
        ),
        check!(
            "push/manifest/invalid-json",
            "spec §Pushing manifests, §Error codes",
            Oci10,
            "a manifest that is not JSON: 400 MANIFEST_INVALID",
            manifest_invalid
        ),
        check!(
            "push/manifest/digest-mismatch-400",
            "spec §Pushing Manifests",
            Oci10,
            "a manifest whose body does not hash to the digest it is pushed by: 400, nothing stored",
            manifest_digest_mismatch
        ),
    ]
}

async fn post_put(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("post-put");
    let data = ctx.unique_bytes("blob", 2048);
    let d = Digest::of(Algorithm::Sha256, &data);
    let location = ctx.start_upload(&repo).await?;
    let r = ctx
        .req(
            Method::PUT,
            &Ctx::with_query(&location, "digest", d.as_str()),
            &[("content-type", "application/octet-stream")],
            data,
        )
        .await?;
    expect_status(&r, &[201])?;
    expect_header(&r, "location")?;
    Ok(())
}

async fn single_post(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("single-post");
    let data = ctx.unique_bytes("blob", 512);
    let d = Digest::of(Algorithm::Sha256, &data);
    let r = ctx
        .req(
            Method::POST,
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            &[("content-type", "application/octet-stream")],
            data.clone(),
        )
        .await?;
    if r.status.as_u16() == 202 {
        return Err(skip("single-POST uploads are not supported (the spec allows answering 202)"));
    }
    expect_status(&r, &[201])?;
    let back = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    if back.body[..] != data[..] {
        return Err(fail(&back, "the blob pushed with a single POST is not served back"));
    }
    Ok(())
}

async fn chunked(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("chunked");
    let data = ctx.unique_bytes("blob", 3000);
    let d = Digest::of(Algorithm::Sha256, &data);
    let mut location = ctx.start_upload(&repo).await?;
    for (start, chunk) in [(0usize, &data[..1200]), (1200, &data[1200..2500])] {
        let r = ctx.patch_chunk(&location, start, chunk).await?;
        expect_status(&r, &[202])?;
        expect_header_eq(&r, "range", &format!("0-{}", start + chunk.len() - 1))?;
        location = Ctx::path_of(expect_header(&r, "location")?);
    }
    let r = ctx
        .req(
            Method::PUT,
            &Ctx::with_query(&location, "digest", d.as_str()),
            &[("content-type", "application/octet-stream")],
            data[2500..].to_vec(),
        )
        .await?;
    expect_status(&r, &[201])?;
    let back = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    if back.body[..] != data[..] {
        return Err(fail(&back, "the chunked blob is not served back byte for byte"));
    }
    Ok(())
}

async fn out_of_order(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("out-of-order");
    let location = ctx.start_upload(&repo).await?;
    let r = ctx.patch_chunk(&location, 0, &[b'a'; 10]).await?;
    expect_status(&r, &[202])?;
    let location = Ctx::path_of(expect_header(&r, "location")?);
    let r = ctx.patch_chunk(&location, 20, &[b'b'; 10]).await?;
    expect_status(&r, &[416])
}

async fn final_out_of_order(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("final-out-of-order");
    let data = ctx.unique_bytes("blob", 30);
    let d = Digest::of(Algorithm::Sha256, &data);
    let location = ctx.upload_with(&repo, &data[..10]).await?;
    let close = |location: &str| Ctx::with_query(location, "digest", d.as_str());
    let final_chunk = |start: usize| {
        let range = format!("{start}-{}", data.len() - 1);
        let len = (data.len() - start).to_string();
        (range, len)
    };
    let (range, len) = final_chunk(20);
    let headers = [("content-range", range.as_str()), ("content-length", len.as_str())];
    let r = ctx.req(Method::PUT, &close(&location), &headers, data[20..].to_vec()).await?;
    expect_status(&r, &[416])?;
    let r = ctx.get(&location).await?;
    expect_status(&r, &[204])?;
    expect_header_eq(&r, "range", "0-9")?;
    let location = Ctx::path_of(expect_header(&r, "location")?);
    let (range, len) = final_chunk(10);
    let headers = [("content-range", range.as_str()), ("content-length", len.as_str())];
    let r = ctx.req(Method::PUT, &close(&location), &headers, data[10..].to_vec()).await?;
    expect_status(&r, &[201])?;
    let back = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    if back.body[..] != data[..] {
        return Err(fail(&back, "the blob finished after a refused final chunk is not what was sent"));
    }
    Ok(())
}

async fn upload_status(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("upload-status");
    let location = ctx.start_upload(&repo).await?;
    let r = ctx.patch_chunk(&location, 0, b"hello").await?;
    expect_status(&r, &[202])?;
    let location = Ctx::path_of(expect_header(&r, "location")?);
    let r = ctx.get(&location).await?;
    expect_status(&r, &[204])?;
    expect_header_eq(&r, "range", "0-4")?;
    expect_header(&r, "location")?;
    Ok(())
}

async fn upload_cancel(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("upload-cancel");
    let location = ctx.start_upload(&repo).await?;
    let r = ctx.req(Method::DELETE, &location, &[], vec![]).await?;
    expect_status(&r, &[204])?;
    let r = ctx.get(&location).await?;
    expect_error(&r, &[404], &["BLOB_UPLOAD_UNKNOWN"])
}

async fn digest_mismatch(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("digest-mismatch");
    let claimed = Digest::of(Algorithm::Sha256, &ctx.unique_bytes("claimed", 10));
    let location = ctx.start_upload(&repo).await?;
    let r = ctx
        .req(
            Method::PUT,
            &Ctx::with_query(&location, "digest", claimed.as_str()),
            &[("content-type", "application/octet-stream")],
            ctx.unique_bytes("actual", 10),
        )
        .await?;
    expect_error(&r, &[400], &["DIGEST_INVALID"])?;
    let head = ctx.req(Method::HEAD, &format!("/v2/{repo}/blobs/{claimed}"), &[], vec![]).await?;
    expect_status(&head, &[404])
}

async fn zero_length(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("zero-length");
    let d = ctx.push_blob(&repo, b"").await?;
    let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    expect_status(&r, &[200])?;
    if !r.body.is_empty() {
        return Err(fail(&r, "the empty blob came back with content"));
    }
    Ok(())
}

async fn sha512(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("sha512");
    let data = ctx.unique_bytes("blob", 600);
    let d = ctx.push_blob_as(&repo, &data, Algorithm::Sha512).await?;
    let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    expect_status(&r, &[200])?;
    if r.body[..] != data[..] {
        return Err(fail(&r, "the sha512 blob is not served back"));
    }
    Ok(())
}

async fn mount_from(ctx: &Ctx) -> Verdict {
    let source = ctx.repo("mount-source");
    let target = ctx.repo("mount-target");
    let data = ctx.unique_bytes("blob", 800);
    let d = ctx.push_blob(&source, &data).await?;
    let r = ctx.req(Method::POST, &format!("/v2/{target}/blobs/uploads/?mount={d}&from={source}"), &[], vec![]).await?;
    expect_status(&r, &[201])?;
    let back = ctx.get(&format!("/v2/{target}/blobs/{d}")).await?;
    expect_status(&back, &[200])
}

async fn mount_unknown(ctx: &Ctx) -> Verdict {
    let source = ctx.repo("mount-source");
    let target = ctx.repo("mount-target");
    ctx.push_blob(&source, &ctx.unique_bytes("present", 10)).await?;
    let d = Digest::of(Algorithm::Sha256, &ctx.unique_bytes("absent", 10));
    let r = ctx.req(Method::POST, &format!("/v2/{target}/blobs/uploads/?mount={d}&from={source}"), &[], vec![]).await?;
    expect_status(&r, &[202])?;
    expect_header(&r, "location")?;
    Ok(())
}

async fn mount_without_from(ctx: &Ctx) -> Verdict {
    let source = ctx.repo("mount-source");
    let target = ctx.repo("mount-target");
    let data = ctx.unique_bytes("blob", 600);
    let d = ctx.push_blob(&source, &data).await?;
    let r = ctx.req(Method::POST, &format!("/v2/{target}/blobs/uploads/?mount={d}"), &[], vec![]).await?;
    expect_status(&r, &[201, 202])?;
    if r.status == 201 {
        // Automatic content discovery: the blob must really be here now.
        let back = ctx.get(&format!("/v2/{target}/blobs/{d}")).await?;
        expect_status(&back, &[200])?;
        if back.body[..] != data[..] {
            return Err(fail(&back, "the automatically mounted blob reads back other bytes"));
        }
        return Ok(());
    }
    // No automatic mounts: a session to push the blob into.
    let location = Ctx::path_of(expect_header(&r, "location")?);
    let r = ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[], data).await?;
    expect_status(&r, &[201])
}

async fn manifest_put(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("manifest-put");
    let config = ctx.unique_bytes("config", 40);
    let layer = ctx.unique_bytes("layer", 90);
    let config_d = ctx.push_blob(&repo, &config).await?;
    let layer_d = ctx.push_blob(&repo, &layer).await?;
    let body = image_manifest(&config_d, config.len(), &[(layer_d, layer.len())], None);
    let r = ctx.put_manifest(&repo, "latest", drydock_spec::media_type::OCI_MANIFEST, &body).await?;
    expect_status(&r, &[201])?;
    expect_header(&r, "location")?;
    expect_header_eq(&r, "docker-content-digest", Digest::of(Algorithm::Sha256, &body).as_str())
}

async fn manifest_blob_unknown(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("manifest-blob-unknown");
    let config = ctx.unique_bytes("config", 40);
    let config_d = ctx.push_blob(&repo, &config).await?;
    let missing = Digest::of(Algorithm::Sha256, &ctx.unique_bytes("missing", 10));
    let body = image_manifest(&config_d, config.len(), &[(missing, 10)], None);
    let r = ctx.put_manifest(&repo, "broken", drydock_spec::media_type::OCI_MANIFEST, &body).await?;
    expect_error(&r, &[400], &["MANIFEST_BLOB_UNKNOWN"])
}

async fn manifest_invalid(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("manifest-invalid");
    ctx.push_blob(&repo, &ctx.unique_bytes("x", 10)).await?;
    let r = ctx.put_manifest(&repo, "bad", drydock_spec::media_type::OCI_MANIFEST, b"{this is not json").await?;
    expect_error(&r, &[400], &["MANIFEST_INVALID"])
}

async fn manifest_digest_mismatch(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("digest-mismatch");
    let config = ctx.unique_bytes("config", 40);
    let layer = ctx.unique_bytes("layer", 300);
    let config_d = ctx.push_blob(&repo, &config).await?;
    let layer_d = ctx.push_blob(&repo, &layer).await?;
    let manifest = image_manifest(&config_d, config.len(), &[(layer_d, layer.len())], None);
    let d = Digest::of(Algorithm::Sha256, &manifest);
    let mut body = manifest;
    body.extend_from_slice(b"  ");
    let path = format!("/v2/{repo}/manifests/{d}");
    let r = ctx.req(Method::PUT, &path, &[("content-type", OCI_MANIFEST)], body.clone()).await?;
    if r.status == 201 {
        ctx.note_manifest(&repo, &d);
        return Err(fail(&r, "bytes that do not hash to the digest in the URL must be refused (400)"));
    }
    expect_status(&r, &[400])?;
    let back = ctx.get(&path).await?;
    if back.status != 404 {
        return Err(fail(&back, "nothing may be stored under the digest of a refused push"));
    }
    let padded = Digest::of(Algorithm::Sha256, &body);
    let back = ctx.get(&format!("/v2/{repo}/manifests/{padded}")).await?;
    if back.status != 404 {
        return Err(fail(&back, format!("the refused bytes were stored under their own digest {padded}")));
    }
    Ok(())
}
