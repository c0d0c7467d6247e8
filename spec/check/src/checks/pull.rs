use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_error, expect_header_eq, expect_status, fail, skip};
use drydock_spec::{Algorithm, Digest};
use http::Method;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "pull/blob/get-200",
            "spec §Pulling blobs (end-2)",
            Oci10,
            "a pushed blob is served byte for byte",
            blob_get
        ),
        check!(
            "pull/blob/head-200",
            "spec §Checking if content exists (end-2)",
            Oci10,
            "HEAD on a blob: 200, its Content-Length, no body",
            blob_head
        ),
        check!(
            "pull/blob/unknown-404",
            "spec §Pulling blobs, §Error codes",
            Oci10,
            "an unknown blob: 404 BLOB_UNKNOWN",
            blob_unknown
        ),
        check!(
            "pull/blob/range-206",
            "spec §Pulling blobs (Range)",
            Oci10,
            "Range: bytes=a-b answers 206 with Content-Range",
            blob_range
        ),
        check!(
            "pull/blob/range-416",
            "spec §Pulling blobs (Range)",
            Oci10,
            "an unsatisfiable Range answers 416",
            blob_range_unsatisfiable
        ),
        check!(
            "pull/blob/range-forms",
            "spec §Pulling blobs (Range); main-branch conformance",
            OciNext,
            "every form of byte range (a-b, a-, -n, 0-0, the last byte, a suffix past the start, an end past the blob, any unit case) answers 206 with its bytes; a reversed, empty-suffix or out-of-blob range 416",
            blob_range_forms
        ),
        check!(
            "pull/blob/range-ignored",
            "RFC 9110 §14.2 (Range)",
            Oci10,
            "a Range in a unit the registry does not know is ignored (200, the whole blob); a malformed one ignored or 416",
            blob_range_ignored
        ),
        check!(
            "pull/blob/range-multi",
            "RFC 9110 §14.2, §14.6 (multiple ranges)",
            Oci10,
            "several ranges at once: the whole blob (200), a multipart/byteranges 206 holding each, or one range covering them",
            blob_range_multi
        ),
        check!(
            "pull/manifest/by-tag",
            "spec §Pulling manifests (end-3)",
            Oci10,
            "a manifest by tag: same bytes, Content-Type, Docker-Content-Digest",
            manifest_by_tag
        ),
        check!(
            "pull/manifest/by-digest",
            "spec §Pulling manifests (end-3)",
            Oci10,
            "a manifest by digest: same bytes",
            manifest_by_digest
        ),
        check!(
            "pull/manifest/head",
            "spec §Checking if content exists (end-3)",
            Oci10,
            "HEAD on a manifest: 200 with Content-Length",
            manifest_head
        ),
        check!(
            "pull/manifest/unknown-404",
            "spec §Pulling manifests, §Error codes",
            Oci10,
            "an unknown manifest: 404 MANIFEST_UNKNOWN",
            manifest_unknown
        ),
        check!(
            "pull/manifest/invalid-tag-404",
            "spec §Pulling manifests (1.1 conformance suite)",
            Oci11,
            "a tag the grammar refuses names no manifest: GET and HEAD 404 MANIFEST_UNKNOWN; a PUT to it stays 400",
            manifest_invalid_tag
        ),
    ]
}

async fn blob_get(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("pull-blob");
    let data = ctx.unique_bytes("blob", 4096);
    let d = ctx.push_blob(&repo, &data).await?;
    let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    expect_status(&r, &[200])?;
    if r.body[..] != data[..] {
        return Err(fail(
            &r,
            format!(
                "body is {} bytes with digest {}, expected {d}",
                r.body.len(),
                Digest::of(Algorithm::Sha256, &r.body)
            ),
        ));
    }
    Ok(())
}

async fn blob_head(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("head-blob");
    let data = ctx.unique_bytes("blob", 777);
    let d = ctx.push_blob(&repo, &data).await?;
    let r = ctx.req(Method::HEAD, &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await?;
    expect_status(&r, &[200])?;
    expect_header_eq(&r, "content-length", "777")
}

async fn blob_unknown(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("unknown-blob");
    ctx.push_blob(&repo, &ctx.unique_bytes("x", 10)).await?;
    let d = Digest::of(Algorithm::Sha256, &ctx.unique_bytes("never pushed", 10));
    let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    expect_error(&r, &[404], &["BLOB_UNKNOWN"])
}

async fn blob_range(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("range");
    let data = ctx.unique_bytes("blob", 100);
    let d = ctx.push_blob(&repo, &data).await?;
    let r = ctx.req(Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[("range", "bytes=10-19")], vec![]).await?;
    if r.status.as_u16() == 200 {
        return Err(skip("the registry ignores Range (allowed: range support is optional)"));
    }
    expect_status(&r, &[206])?;
    expect_header_eq(&r, "content-range", "bytes 10-19/100")?;
    if r.body[..] != data[10..20] {
        return Err(fail(&r, "206 body is not bytes 10-19 of the blob"));
    }
    Ok(())
}

async fn blob_range_unsatisfiable(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("range-416");
    let data = ctx.unique_bytes("blob", 100);
    let d = ctx.push_blob(&repo, &data).await?;
    let r = ctx.req(Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[("range", "bytes=200-300")], vec![]).await?;
    if r.status.as_u16() == 200 {
        return Err(skip("the registry ignores Range (allowed: range support is optional)"));
    }
    expect_status(&r, &[416])
}

async fn blob_range_forms(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("range-forms");
    let data = ctx.unique_bytes("blob", 2048);
    let d = ctx.push_blob(&repo, &data).await?;
    // (Range, the bytes it selects; None: unsatisfiable.)
    let forms: [(&str, Option<(usize, usize)>); 11] = [
        ("bytes=500-1499", Some((500, 1499))),
        ("bytes=500-", Some((500, 2047))),
        ("bytes=-500", Some((1548, 2047))),
        ("bytes=2000-5000", Some((2000, 2047))),
        ("bytes=0-0", Some((0, 0))),
        ("bytes=2047-", Some((2047, 2047))),
        // A suffix longer than the blob selects all of it.
        ("bytes=-5000", Some((0, 2047))),
        // Units compare case-insensitively (RFC 9110 §14.1).
        ("Bytes=10-19", Some((10, 19))),
        ("bytes=500-0", None),
        ("bytes=5000-10000", None),
        ("bytes=-0", None),
    ];
    for (range, selects) in forms {
        let r = ctx.req(Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[("range", range)], vec![]).await?;
        let Some((first, last)) = selects else {
            expect_status(&r, &[416])?;
            continue;
        };
        if r.status == 200 {
            return Err(fail(
                &r,
                format!("{range}: the whole blob came back; the main-branch suite requires range support"),
            ));
        }
        expect_status(&r, &[206])?;
        let exact = format!("bytes {first}-{last}/2048");
        let unknown_total = format!("bytes {first}-{last}/*");
        if !matches!(r.header("content-range"), Some(v) if v == exact || v == unknown_total) {
            return Err(fail(&r, format!("{range}: Content-Range should be {exact}")));
        }
        if r.header("content-length") != Some((last - first + 1).to_string().as_str())
            || r.body[..] != data[first..=last]
        {
            return Err(fail(&r, format!("{range}: the body should be bytes {first}-{last} of the blob")));
        }
    }
    Ok(())
}

async fn blob_range_ignored(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("range-ignored");
    let data = ctx.unique_bytes("blob", 1000);
    let d = ctx.push_blob(&repo, &data).await?;
    for (range, may_refuse) in [("items=0-9", false), ("bytes=abc", true), ("bytes=", true)] {
        let r = ctx.req(Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[("range", range)], vec![]).await?;
        if may_refuse && r.status == 416 {
            continue;
        }
        expect_status(&r, &[200])?;
        if r.body[..] != data[..] {
            return Err(fail(&r, format!("Range: {range} must be ignored: the whole blob, byte for byte")));
        }
    }
    Ok(())
}

async fn blob_range_multi(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("range-multi");
    let data = ctx.unique_bytes("blob", 1000);
    let d = ctx.push_blob(&repo, &data).await?;
    let r = ctx.req(Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[("range", "bytes=0-9,500-509")], vec![]).await?;
    match r.status.as_u16() {
        200 if r.body[..] == data[..] => Ok(()),
        200 => Err(fail(&r, "a 200 must carry the whole blob")),
        206 if r.header("content-type").is_some_and(|t| t.starts_with("multipart/byteranges")) => {
            for (first, last) in [(0, 9), (500, 509)] {
                let part = format!("bytes {first}-{last}/1000");
                let at = r.body.windows(part.len()).position(|w| w.eq_ignore_ascii_case(part.as_bytes()));
                let holds = at.is_some_and(|at| r.body[at..].windows(10).any(|w| w == &data[first..=last]));
                if !holds {
                    return Err(fail(&r, format!("the multipart answer lacks part {part} with its bytes")));
                }
            }
            Ok(())
        }
        206 => {
            let covers = r.header("content-range").and_then(|v| v.strip_prefix("bytes ")).and_then(|v| {
                let (span, _) = v.split_once('/')?;
                let (a, b) = span.split_once('-')?;
                Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
            });
            match covers {
                Some((a, b)) if a == 0 && (509..1000).contains(&b) && r.body[..] == data[a..=b] => Ok(()),
                _ => Err(fail(&r, "a single-part 206 must cover both ranges with their bytes")),
            }
        }
        s => Err(fail(&r, format!("expected 200 or 206, got {s}"))),
    }
}

async fn manifest_by_tag(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("pull-manifest");
    let (body, d) = ctx.push_image(&repo, "v1").await?;
    let r = ctx.get_manifest(&repo, "v1").await?;
    expect_status(&r, &[200])?;
    if r.body[..] != body[..] {
        return Err(fail(&r, "served manifest bytes differ from the pushed ones"));
    }
    expect_header_eq(&r, "content-type", drydock_spec::media_type::OCI_MANIFEST)?;
    expect_header_eq(&r, "docker-content-digest", d.as_str())
}

async fn manifest_by_digest(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("pull-digest");
    let (body, d) = ctx.push_image(&repo, "v1").await?;
    let r = ctx.get_manifest(&repo, d.as_str()).await?;
    expect_status(&r, &[200])?;
    if r.body[..] != body[..] {
        return Err(fail(&r, "served manifest bytes differ from the pushed ones"));
    }
    Ok(())
}

async fn manifest_head(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("head-manifest");
    let (body, _) = ctx.push_image(&repo, "v1").await?;
    let r = ctx
        .req(
            Method::HEAD,
            &format!("/v2/{repo}/manifests/v1"),
            &[("accept", drydock_spec::media_type::OCI_MANIFEST)],
            vec![],
        )
        .await?;
    expect_status(&r, &[200])?;
    expect_header_eq(&r, "content-length", &body.len().to_string())
}

async fn manifest_invalid_tag(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("invalid-tag");
    let (body, _) = ctx.push_image(&repo, "v1").await?;
    let path = format!("/v2/{repo}/manifests/.INVALID_MANIFEST_NAME");
    let r = ctx.get_manifest(&repo, ".INVALID_MANIFEST_NAME").await?;
    expect_error(&r, &[404], &["MANIFEST_UNKNOWN"])?;
    let accept = [("accept", drydock_spec::media_type::OCI_MANIFEST)];
    let r = ctx.req(Method::HEAD, &path, &accept, vec![]).await?;
    expect_status(&r, &[404])?;
    let r = ctx.put_manifest(&repo, ".INVALID_MANIFEST_NAME", drydock_spec::media_type::OCI_MANIFEST, &body).await?;
    expect_status(&r, &[400])
}

async fn manifest_unknown(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("unknown-manifest");
    ctx.push_image(&repo, "v1").await?;
    let r = ctx.get_manifest(&repo, "no-such-tag").await?;
    expect_error(&r, &[404], &["MANIFEST_UNKNOWN"])
}
