use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_status, fail, fail_plain};
use drydock_spec::{Algorithm, Digest, media_type::OCI_MANIFEST};
use http::Method;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "consistency/read-your-writes",
            "spec §Pushing manifests (consistency beyond the spec)",
            Oci10,
            "a tag moved five times reads back the latest value each time",
            read_your_writes
        ),
        check!(
            "consistency/head-implies-get",
            "spec §Checking if content exists",
            Oci10,
            "HEAD 200 on blobs and manifests implies GET 200 with the same length",
            head_implies_get
        ),
        check!(
            "concurrency/parallel-chunked",
            "spec §Pushing a blob in chunks (robustness beyond the spec)",
            Oci10,
            "interleaved chunked uploads keep their bytes apart",
            parallel_chunked
        ),
        check!(
            "concurrency/pull-during-push",
            "spec §Pulling blobs (robustness beyond the spec)",
            Oci10,
            "pulls of a stored image succeed while other pushes run",
            pull_during_push
        ),
    ]
}

async fn read_your_writes(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("ryw");
    let (base, _) = ctx.push_image(&repo, "seed").await?;
    for i in 0..5 {
        let mut m: serde_json::Value = serde_json::from_slice(&base).unwrap();
        m["annotations"] = serde_json::json!({"round": i.to_string()});
        let body = serde_json::to_vec(&m).unwrap();
        expect_status(&ctx.put_manifest(&repo, "moving", OCI_MANIFEST, &body).await?, &[201])?;
        let r = ctx.get_manifest(&repo, "moving").await?;
        expect_status(&r, &[200])?;
        if r.body[..] != body[..] {
            return Err(fail(&r, format!("round {i}: the tag does not read back what was just written")));
        }
    }
    Ok(())
}

async fn head_implies_get(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("head-get");
    let (manifest, d) = ctx.push_image(&repo, "v1").await?;
    let blob = ctx.unique_bytes("blob", 321);
    let blob_d = ctx.push_blob(&repo, &blob).await?;
    for (path, len) in
        [(format!("/v2/{repo}/blobs/{blob_d}"), blob.len()), (format!("/v2/{repo}/manifests/{d}"), manifest.len())]
    {
        let head = ctx.req(Method::HEAD, &path, &[("accept", OCI_MANIFEST)], vec![]).await?;
        expect_status(&head, &[200])?;
        let get = ctx.req(Method::GET, &path, &[("accept", OCI_MANIFEST)], vec![]).await?;
        expect_status(&get, &[200])?;
        if get.body.len() != len || head.header("content-length") != Some(&len.to_string()) {
            return Err(fail(&get, format!("HEAD and GET disagree on {path}: expected {len} bytes")));
        }
    }
    Ok(())
}

async fn parallel_chunked(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("parallel-chunked");
    let blobs: Vec<Vec<u8>> = (0..4).map(|i| ctx.unique_bytes(&format!("blob{i}"), 3000)).collect();
    let mut locations = Vec::new();
    for _ in &blobs {
        locations.push(ctx.start_upload(&repo).await?);
    }
    // Round-robin the chunks so the uploads interleave.
    for part in 0..3 {
        let sends = blobs
            .iter()
            .zip(&locations)
            .map(|(data, loc)| ctx.patch_chunk(loc, part * 1000, &data[part * 1000..(part + 1) * 1000]));
        let replies = futures_util::future::join_all(sends).await;
        for (reply, loc) in replies.into_iter().zip(locations.iter_mut()) {
            let r = reply?;
            expect_status(&r, &[202])?;
            *loc = Ctx::path_of(r.header("location").ok_or_else(|| fail(&r, "expected a location header"))?);
        }
    }
    for (data, loc) in blobs.iter().zip(&locations) {
        let d = Digest::of(Algorithm::Sha256, data);
        let r = ctx.req(Method::PUT, &Ctx::with_query(loc, "digest", d.as_str()), &[], vec![]).await?;
        expect_status(&r, &[201])?;
    }
    Ok(())
}

async fn pull_during_push(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("pull-during-push");
    let (manifest, d) = ctx.push_image(&repo, "stable").await?;
    let pushes = (0..4).map(|i| {
        let repo = repo.clone();
        async move { ctx.push_blob(&repo, &ctx.unique_bytes(&format!("busy{i}"), 200_000)).await.map(|_| ()) }
    });
    let manifest = &manifest;
    let pulls = (0..4).map(|_| {
        let path = format!("/v2/{repo}/manifests/{d}");
        async move {
            let r = ctx.req(Method::GET, &path, &[("accept", OCI_MANIFEST)], vec![]).await?;
            if r.status.as_u16() != 200 || r.body[..] != manifest[..] {
                return Err(fail(&r, "a pull during pushes did not return the stored manifest"));
            }
            Ok(())
        }
    });
    let (pushed, pulled) =
        futures_util::future::join(futures_util::future::join_all(pushes), futures_util::future::join_all(pulls)).await;
    for r in pushed.into_iter().chain(pulled) {
        r?;
    }
    if ctx.get(&format!("/v2/{repo}/tags/list")).await?.status.as_u16() != 200 {
        return Err(fail_plain("the tag list is unavailable after the concurrent pushes"));
    }
    Ok(())
}
