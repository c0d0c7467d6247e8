//! Requests racing on one upload. A registry must never store bytes under
//! a digest they do not hash to, whatever arrives at the same moment; each
//! race runs many rounds, because a registry that loses it may lose it
//! rarely (Debian's docker-registry 2.8.2: about 1 round in 20 of PATCH
//! against the closing PUT).

use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_status, fail, fail_plain};
use bytes::Bytes;
use drydock_spec::{Algorithm, Digest};
use http::Method;

/// Rounds of each race: enough that a 1-in-20 loss shows with
/// probability above 99.9%.
const ROUNDS: usize = 150;

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "races/patch-vs-closing-put",
            "spec §Pushing a blob in chunks (integrity beyond the spec)",
            Oci10,
            "a PATCH racing the closing PUT never stores bytes that do not match the digest; a clean re-push reads back",
            patch_vs_closing_put
        ),
        check!(
            "races/two-closing-puts",
            "spec §Pushing a blob in chunks (integrity beyond the spec)",
            Oci10,
            "two closing PUTs racing on one upload store the blob once, intact, and never answer 5xx",
            two_closing_puts
        ),
        check!(
            "races/patch-vs-cancel",
            "spec §Canceling an upload (integrity beyond the spec)",
            Oci10,
            "a PATCH racing the upload's cancel never brings the cancelled upload back",
            patch_vs_cancel
        ),
    ]
}

/// If `repo` serves `d`, it must hash to `d`.
async fn served_intact(ctx: &Ctx, repo: &str, d: &Digest, round: usize) -> Verdict {
    let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    if r.status == 200 && Digest::of(d.algorithm(), &r.body) != *d {
        return Err(fail(&r, format!("round {round}: serves {} bytes under {d} that do not hash to it", r.body.len())));
    }
    Ok(())
}

fn no_server_error(r: &crate::client::Reply, round: usize, what: &str) -> Verdict {
    if r.status.is_server_error() {
        return Err(fail(r, format!("round {round}: {what} answered {}", r.status.as_u16())));
    }
    Ok(())
}

async fn patch_vs_closing_put(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("race-patch-put");
    let clean = ctx.repo("race-clean");
    for round in 0..ROUNDS {
        let first = ctx.unique_bytes(&format!("first-{round}"), 4096);
        let more = ctx.unique_bytes(&format!("more-{round}"), 1024);
        let d = Digest::of(Algorithm::Sha256, &first);
        let location = ctx.upload_with(&repo, &first).await?;
        let close = Ctx::with_query(&location, "digest", d.as_str());
        let (patch, put) =
            tokio::join!(ctx.patch_chunk(&location, 4096, &more), ctx.req(Method::PUT, &close, &[], Bytes::new()));
        let (patch, put) = (patch?, put?);
        no_server_error(&patch, round, "the racing PATCH")?;
        no_server_error(&put, round, "the closing PUT")?;
        served_intact(ctx, &repo, &d, round).await?;
        // Whatever the race left, the genuine bytes pushed cleanly must read back.
        ctx.push_blob(&clean, &first).await?;
        let r = ctx.get(&format!("/v2/{clean}/blobs/{d}")).await?;
        expect_status(&r, &[200])?;
        if r.body[..] != first[..] {
            return Err(fail(
                &r,
                format!("round {round}: a clean push of {d} reads back {} other bytes", r.body.len()),
            ));
        }
    }
    Ok(())
}

async fn two_closing_puts(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("race-put-put");
    for round in 0..ROUNDS {
        let data = ctx.unique_bytes(&format!("data-{round}"), 8192);
        let d = Digest::of(Algorithm::Sha256, &data);
        let location = ctx.upload_with(&repo, &data).await?;
        let close = Ctx::with_query(&location, "digest", d.as_str());
        let (a, b) = tokio::join!(
            ctx.req(Method::PUT, &close, &[], Bytes::new()),
            ctx.req(Method::PUT, &close, &[], Bytes::new())
        );
        let (a, b) = (a?, b?);
        no_server_error(&a, round, "a closing PUT")?;
        no_server_error(&b, round, "the other closing PUT")?;
        if a.status != 201 && b.status != 201 {
            return Err(fail(
                &a,
                format!("round {round}: neither closing PUT succeeded ({} and {})", a.status, b.status),
            ));
        }
        let r = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
        expect_status(&r, &[200])?;
        if r.body[..] != data[..] {
            return Err(fail(&r, format!("round {round}: the committed blob reads back {} other bytes", r.body.len())));
        }
    }
    Ok(())
}

async fn patch_vs_cancel(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("race-patch-cancel");
    for round in 0..ROUNDS / 3 {
        let first = ctx.unique_bytes(&format!("cancel-{round}"), 2048);
        let location = ctx.upload_with(&repo, &first).await?;
        let more = ctx.unique_bytes(&format!("after-{round}"), 512);
        let (patch, cancel) = tokio::join!(
            ctx.patch_chunk(&location, 2048, &more),
            ctx.req(Method::DELETE, &location, &[], Bytes::new())
        );
        let (patch, cancel) = (patch?, cancel?);
        no_server_error(&patch, round, "the racing PATCH")?;
        no_server_error(&cancel, round, "the cancel")?;
        if !cancel.status.is_success() {
            continue;
        }
        let r = ctx.get(&location).await?;
        if r.status != 404 {
            return Err(fail_plain(format!(
                "round {round}: the upload was cancelled ({}), yet its status answers {} afterwards",
                cancel.status.as_u16(),
                r.status.as_u16()
            )));
        }
    }
    Ok(())
}
