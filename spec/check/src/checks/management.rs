use crate::check;
use crate::harness::{Check, Ctx, Stop, Verdict, expect_status, fail, skip};
use drydock_spec::media_type::OCI_MANIFEST;
use http::Method;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "management/delete/manifest",
            "spec §Deleting manifests (end-9)",
            Oci10,
            "DELETE a manifest by digest: 202, then 404 at once",
            delete_manifest
        ),
        check!(
            "management/delete/blob",
            "spec §Deleting blobs (end-10)",
            Oci10,
            "DELETE a blob: 202, then 404 at once",
            delete_blob
        ),
        check!(
            "management/delete/blob-in-one-repository",
            "spec §Deleting blobs (end-10): a blob is deleted from the repository named",
            Oci10,
            "a blob deleted in one repository is still served by another that holds it",
            delete_blob_in_one_repository
        ),
        check!(
            "management/delete/tag",
            "spec §Deleting tags (end-9)",
            Oci11,
            "DELETE a tag: 202; the tag is gone, the manifest stays",
            delete_tag
        ),
    ]
}

/// Deletes are optional: a registry that refuses them gets a skip.
fn deletes_disabled(r: &crate::client::Reply) -> Option<Stop> {
    (r.status.as_u16() == 405 || r.error_code().as_deref() == Some("UNSUPPORTED"))
        .then(|| skip("deletes are disabled on this registry"))
}

async fn delete_manifest(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("delete-manifest");
    let (_, d) = ctx.push_image(&repo, "v1").await?;
    let r = ctx.req(Method::DELETE, &format!("/v2/{repo}/manifests/{d}"), &[], vec![]).await?;
    if let Some(s) = deletes_disabled(&r) {
        return Err(s);
    }
    expect_status(&r, &[202])?;
    let r = ctx.get_manifest(&repo, d.as_str()).await?;
    expect_status(&r, &[404])
}

async fn delete_blob(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("delete-blob");
    let d = ctx.push_blob(&repo, &ctx.unique_bytes("blob", 64)).await?;
    let r = ctx.req(Method::DELETE, &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await?;
    if let Some(s) = deletes_disabled(&r) {
        return Err(s);
    }
    expect_status(&r, &[202])?;
    let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    expect_status(&r, &[404])
}

async fn delete_tag(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("delete-tag");
    let (body, d) = ctx.push_image(&repo, "keep").await?;
    expect_status(&ctx.put_manifest(&repo, "drop", OCI_MANIFEST, &body).await?, &[201])?;
    let r = ctx.req(Method::DELETE, &format!("/v2/{repo}/manifests/drop"), &[], vec![]).await?;
    if let Some(s) = deletes_disabled(&r) {
        return Err(s);
    }
    expect_status(&r, &[202])?;
    let r = ctx.get_manifest(&repo, "drop").await?;
    expect_status(&r, &[404])?;
    let r = ctx.get_manifest(&repo, d.as_str()).await?;
    expect_status(&r, &[200])
}

async fn delete_blob_in_one_repository(ctx: &Ctx) -> Verdict {
    let (a, b) = (ctx.repo("delete-blob-a"), ctx.repo("delete-blob-b"));
    let data = ctx.unique_bytes("shared blob", 500);
    let d = ctx.push_blob(&a, &data).await?;
    ctx.push_blob(&b, &data).await?;
    let r = ctx.req(Method::DELETE, &format!("/v2/{a}/blobs/{d}"), &[], vec![]).await?;
    if let Some(s) = deletes_disabled(&r) {
        return Err(s);
    }
    expect_status(&r, &[202])?;
    let gone = ctx.req(Method::HEAD, &format!("/v2/{a}/blobs/{d}"), &[], vec![]).await?;
    expect_status(&gone, &[404])?;
    let kept = ctx.get(&format!("/v2/{b}/blobs/{d}")).await?;
    if kept.status != 200 || kept.body[..] != data[..] {
        return Err(fail(&kept, format!("deleting {d} from {a} must leave {b}'s copy: 200 and its bytes")));
    }
    Ok(())
}
