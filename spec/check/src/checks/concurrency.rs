use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_status, fail, fail_plain};
use drydock_spec::{Algorithm, Digest, media_type::OCI_MANIFEST};
use http::Method;

/// Writers racing in each concurrency check.
const WRITERS: usize = 8;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "concurrency/same-blob",
            "spec §Pushing blobs (robustness beyond the spec)",
            Oci10,
            "parallel pushes of one blob all succeed and the blob reads back",
            same_blob
        ),
        check!(
            "concurrency/same-tag",
            "spec §Pushing manifests (robustness beyond the spec)",
            Oci10,
            "parallel PUTs of one tag: it resolves to an acknowledged manifest, and every reader agrees",
            same_tag
        ),
    ]
}

async fn same_blob(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("race-blob");
    let data = ctx.unique_bytes("shared", 50_000);
    let pushes = (0..WRITERS).map(|_| ctx.push_blob(&repo, &data));
    for result in futures_util::future::join_all(pushes).await {
        result?;
    }
    let d = Digest::of(Algorithm::Sha256, &data);
    let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    expect_status(&r, &[200])?;
    if r.body[..] != data[..] {
        return Err(fail(&r, "after parallel pushes the blob does not read back intact"));
    }
    Ok(())
}

async fn same_tag(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("race-tag");
    let (base, _) = ctx.push_image(&repo, "seed").await?;
    // Distinct manifests: same content, different annotations.
    let bodies: Vec<Vec<u8>> = (0..WRITERS)
        .map(|i| {
            let mut m: serde_json::Value = serde_json::from_slice(&base).unwrap();
            m["annotations"] = serde_json::json!({"writer": i.to_string()});
            serde_json::to_vec(&m).unwrap()
        })
        .collect();
    let puts = bodies.iter().map(|b| ctx.put_manifest(&repo, "contended", OCI_MANIFEST, b));
    let mut acknowledged = Vec::new();
    for (reply, body) in futures_util::future::join_all(puts).await.into_iter().zip(&bodies) {
        if reply?.status.as_u16() == 201 {
            acknowledged.push(Digest::of(Algorithm::Sha256, body).to_string());
        }
    }
    if acknowledged.is_empty() {
        return Err(fail_plain("no PUT of the contended tag was acknowledged"));
    }
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = ctx
            .req(Method::HEAD, &format!("/v2/{repo}/manifests/contended"), &[("accept", OCI_MANIFEST)], vec![])
            .await?;
        expect_status(&r, &[200])?;
        seen.push(r.header("docker-content-digest").unwrap_or("").to_owned());
    }
    if !acknowledged.contains(&seen[0]) {
        return Err(fail_plain(format!("the tag resolves to {}, which no acknowledged PUT wrote", seen[0])));
    }
    if seen.iter().any(|s| s != &seen[0]) {
        return Err(fail_plain(format!("readers disagree on the tag: {seen:?}")));
    }
    Ok(())
}
