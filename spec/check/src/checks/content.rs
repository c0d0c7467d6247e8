use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_error, expect_header_eq, expect_status, fail, image_manifest};
use drydock_spec::media_type::{
    DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_EMPTY, OCI_INDEX, OCI_MANIFEST,
};
use drydock_spec::{Algorithm, Digest};
use http::Method;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "content/docker-schema2",
            "Docker Image Manifest V2 Schema 2",
            Oci10,
            "a Docker schema2 manifest and manifest list are stored and served with their types",
            docker_types
        ),
        check!(
            "content/nested-index",
            "image-spec §Image Index",
            Oci10,
            "an index whose child is another index",
            nested_index
        ),
        check!(
            "content/index-child-unknown",
            "spec §Pushing manifests",
            Oci10,
            "an index naming an unknown child manifest is refused",
            index_child_unknown
        ),
        check!(
            "content/artifact",
            "image-spec §Guidelines for artifact usage",
            Oci11,
            "an artifact manifest (artifactType, empty config) round-trips",
            artifact
        ),
        check!(
            "content/large-annotations",
            "image-spec §Annotations",
            Oci10,
            "a manifest with 256 KiB of annotations round-trips",
            large_annotations
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

async fn docker_types(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("docker-types");
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer = ctx.unique_bytes("layer", 300);
    let config_d = ctx.push_blob(&repo, &config).await?;
    let layer_d = ctx.push_blob(&repo, &layer).await?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "digest": config_d, "size": config.len()},
        "layers": [{"mediaType": DOCKER_LAYER_GZIP, "digest": layer_d, "size": layer.len()}],
    }))
    .unwrap();
    let m_d = Digest::of(Algorithm::Sha256, &manifest);
    expect_status(&ctx.put_manifest(&repo, "amd64", DOCKER_MANIFEST, &manifest).await?, &[201])?;
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": DOCKER_MANIFEST_LIST,
        "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": m_d, "size": manifest.len(), "platform": {"architecture": "amd64", "os": "linux"}}],
    }))
    .unwrap();
    expect_status(&ctx.put_manifest(&repo, "multi", DOCKER_MANIFEST_LIST, &list).await?, &[201])?;
    for (tag, mt, body) in [("amd64", DOCKER_MANIFEST, &manifest), ("multi", DOCKER_MANIFEST_LIST, &list)] {
        let r = ctx.req(Method::GET, &format!("/v2/{repo}/manifests/{tag}"), &[("accept", mt)], vec![]).await?;
        expect_status(&r, &[200])?;
        expect_header_eq(&r, "content-type", mt)?;
        if r.body[..] != body[..] {
            return Err(fail(&r, "served bytes differ from the pushed ones"));
        }
    }
    Ok(())
}

async fn nested_index(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("nested-index");
    let (image, image_d) = ctx.push_image(&repo, "image").await?;
    let inner = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": image_d, "size": image.len()}],
    }))
    .unwrap();
    let inner_d = Digest::of(Algorithm::Sha256, &inner);
    expect_status(&ctx.put_manifest(&repo, "inner", OCI_INDEX, &inner).await?, &[201])?;
    let outer = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_INDEX, "digest": inner_d, "size": inner.len()}],
    }))
    .unwrap();
    expect_status(&ctx.put_manifest(&repo, "outer", OCI_INDEX, &outer).await?, &[201])?;
    let r = ctx.req(Method::GET, &format!("/v2/{repo}/manifests/outer"), &[("accept", OCI_INDEX)], vec![]).await?;
    expect_status(&r, &[200])?;
    if r.body[..] != outer[..] {
        return Err(fail(&r, "the nested index is not served byte for byte"));
    }
    Ok(())
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

async fn artifact(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("artifact");
    let empty = ctx.push_blob(&repo, b"{}").await?;
    let payload = ctx.unique_bytes("sbom", 200);
    let payload_d = ctx.push_blob(&repo, &payload).await?;
    let mut m: serde_json::Value =
        serde_json::from_slice(&image_manifest(&empty, 2, &[(payload_d, payload.len())], None)).unwrap();
    m["artifactType"] = "application/vnd.example.sbom+json".into();
    m["config"]["mediaType"] = OCI_EMPTY.into();
    m["layers"][0]["mediaType"] = "application/spdx+json".into();
    let body = serde_json::to_vec(&m).unwrap();
    expect_status(&ctx.put_manifest(&repo, "sbom", OCI_MANIFEST, &body).await?, &[201])?;
    let r = ctx.get_manifest(&repo, "sbom").await?;
    expect_status(&r, &[200])?;
    if r.body[..] != body[..] {
        return Err(fail(&r, "the artifact manifest is not served byte for byte"));
    }
    Ok(())
}

async fn large_annotations(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("annotations");
    let (base, _) = ctx.push_image(&repo, "base").await?;
    let mut m: serde_json::Value = serde_json::from_slice(&base).unwrap();
    m["annotations"] = serde_json::json!({"org.example.notes": "n".repeat(256 * 1024)});
    let body = serde_json::to_vec(&m).unwrap();
    expect_status(&ctx.put_manifest(&repo, "annotated", OCI_MANIFEST, &body).await?, &[201])?;
    let r = ctx.get_manifest(&repo, "annotated").await?;
    expect_status(&r, &[200])?;
    if r.body[..] != body[..] {
        return Err(fail(&r, "the annotated manifest is not served byte for byte"));
    }
    Ok(())
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
