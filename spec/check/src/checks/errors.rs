use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_error, expect_status, fail};
use drydock_spec::media_type::OCI_MANIFEST;
use http::Method;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "errors/name-invalid",
            "spec §Error codes (NAME_INVALID)",
            Oci10,
            "an invalid repository name: 400 NAME_INVALID",
            name_invalid
        ),
        check!(
            "errors/digest-invalid",
            "spec §Error codes (DIGEST_INVALID)",
            Oci10,
            "a malformed digest in a blob URL: 400 DIGEST_INVALID",
            digest_invalid
        ),
        check!(
            "errors/manifest-digest-invalid",
            "spec §Error codes (DIGEST_INVALID); main-branch conformance",
            Oci10,
            "a malformed digest in a manifest URL (bad hex, short, unknown algorithm, uppercase): 400 DIGEST_INVALID on GET, HEAD, PUT and DELETE",
            manifest_digest_invalid
        ),
        check!(
            "errors/path-traversal",
            "spec §Content (robustness)",
            Oci10,
            "a name with '..' is refused with a 4xx, never served",
            path_traversal
        ),
        check!(
            "errors/huge-name",
            "spec §Pulling manifests (name limits)",
            Oci10,
            "a 300-byte name: a 4xx, never a 5xx",
            huge_name
        ),
        check!(
            "errors/name-unknown",
            "spec §Error codes (NAME_UNKNOWN)",
            Oci10,
            "tags of a repository that does not exist: 404 NAME_UNKNOWN",
            name_unknown
        ),
        check!(
            "errors/upload-unknown",
            "spec §Error codes (BLOB_UPLOAD_UNKNOWN)",
            Oci10,
            "an upload id the registry never issued: a 4xx upload error",
            upload_unknown
        ),
    ]
}

async fn name_invalid(ctx: &Ctx) -> Verdict {
    let r = ctx.get(&format!("/v2/{}/Invalid_Name/tags/list", ctx.namespace)).await?;
    expect_error(&r, &[400], &["NAME_INVALID"])
}

async fn digest_invalid(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("digest-invalid");
    ctx.push_blob(&repo, &ctx.unique_bytes("x", 10)).await?;
    let r = ctx.get(&format!("/v2/{repo}/blobs/sha256:not-hex")).await?;
    expect_error(&r, &[400], &["DIGEST_INVALID"])
}

async fn manifest_digest_invalid(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("manifest-digest-invalid");
    let (body, _) = ctx.push_image(&repo, "base").await?;
    let upper = format!("sha256:{}", "D".repeat(64));
    let malformed = ["sha256:not-hex", "sha256:abcd", "md5:d41d8cd98f00b204e9800998ecf8427e", upper.as_str()];
    for reference in malformed {
        let path = format!("/v2/{repo}/manifests/{reference}");
        for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            let (headers, payload) = match method {
                Method::PUT => (vec![("content-type", OCI_MANIFEST)], body.clone()),
                _ => (vec![("accept", OCI_MANIFEST)], Vec::new()),
            };
            let r = ctx.req(method.clone(), &path, &headers, payload).await?;
            match method {
                Method::HEAD => expect_status(&r, &[400])?,
                _ => expect_error(&r, &[400], &["DIGEST_INVALID"])?,
            }
        }
    }
    Ok(())
}

async fn path_traversal(ctx: &Ctx) -> Verdict {
    let r = ctx.req(Method::GET, &format!("/v2/{}/../../etc/tags/list", ctx.namespace), &[], vec![]).await?;
    if r.status.is_success() || r.status.is_server_error() {
        return Err(fail(&r, format!("expected a 4xx, got {}", r.status.as_u16())));
    }
    Ok(())
}

async fn huge_name(ctx: &Ctx) -> Verdict {
    let name = format!("{}/{}", ctx.namespace, "a".repeat(300));
    let r = ctx.get(&format!("/v2/{name}/tags/list")).await?;
    if !r.status.is_client_error() {
        return Err(fail(&r, format!("expected a 4xx, got {}", r.status.as_u16())));
    }
    expect_status(&r, &[400, 404])
}

async fn name_unknown(ctx: &Ctx) -> Verdict {
    let r = ctx
        .get(&format!(
            "/v2/{}/never-created-{}/tags/list",
            ctx.namespace,
            ctx.repo("x").rsplit('-').next().unwrap_or("0")
        ))
        .await?;
    expect_error(&r, &[404], &["NAME_UNKNOWN"])
}

async fn upload_unknown(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("upload-unknown");
    ctx.push_blob(&repo, &ctx.unique_bytes("x", 10)).await?;
    let r = ctx.get(&format!("/v2/{repo}/blobs/uploads/00000000-0000-4000-8000-000000000000")).await?;
    expect_error(&r, &[400, 404], &["BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"])
}
