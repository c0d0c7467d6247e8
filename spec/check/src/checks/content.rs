use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_error, expect_status, fail};
use drydock_spec::media_type::{OCI_INDEX, OCI_MANIFEST};
use drydock_spec::{Algorithm, Digest};

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "content/index-child-unknown",
            "spec §Pushing manifests",
            Oci10,
            "an index naming an unknown child manifest is refused",
            index_child_unknown
        ),
        check!(
            "content/oversized-manifest",
            "spec §Pushing manifests (size limits)",
            Oci10,
            "a 5 MiB manifest is stored or refused with 413, never a 5xx",
            oversized
        ),
        check!(
            "content/tag-length-limit",
            "spec §Pulling manifests (tag grammar)",
            Oci10,
            "a 128-character tag works; a 129-character one is refused with a 4xx",
            tag_limits
        ),
    ]
}

async fn index_child_unknown(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("index-child-unknown");
    ctx.push_image(&repo, "image").await?;
    let missing = Digest::of(Algorithm::Sha256, &ctx.unique_bytes("no such manifest", 20));
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": missing, "size": 20}],
    }))
    .unwrap();
    let r = ctx.put_manifest(&repo, "broken", OCI_INDEX, &index).await?;
    expect_error(&r, &[400, 404], &["MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "MANIFEST_INVALID"])
}

async fn oversized(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("oversized");
    let (base, _) = ctx.push_image(&repo, "base").await?;
    let mut m: serde_json::Value = serde_json::from_slice(&base).unwrap();
    m["annotations"] = serde_json::json!({"org.example.padding": "p".repeat(5 << 20)});
    let body = serde_json::to_vec(&m).unwrap();
    let r = ctx.put_manifest(&repo, "huge", OCI_MANIFEST, &body).await?;
    match r.status.as_u16() {
        201 => Ok(()),
        413 => Ok(()),
        s => Err(fail(&r, format!("expected 201 (stored) or 413 (too large), got {s}"))),
    }
}

async fn tag_limits(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("tag-limits");
    let (body, _) = ctx.push_image(&repo, "base").await?;
    let longest = format!("t{}", "x".repeat(127));
    expect_status(&ctx.put_manifest(&repo, &longest, OCI_MANIFEST, &body).await?, &[201])?;
    let too_long = format!("t{}", "x".repeat(128));
    let r = ctx.put_manifest(&repo, &too_long, OCI_MANIFEST, &body).await?;
    if !r.status.is_client_error() {
        return Err(fail(&r, format!("a 129-character tag should be refused with a 4xx, got {}", r.status.as_u16())));
    }
    Ok(())
}
