use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_header, expect_header_eq, expect_status, fail, fail_plain};
use drydock_spec::{Algorithm, Digest};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn checks() -> Vec<Check> {
    vec![
        check!(
            "robustness/retried-patch",
            "spec §Pushing a blob in chunks",
            Oci10,
            "a PATCH sent twice does not duplicate bytes",
            retried_patch
        ),
        check!(
            "robustness/cut-mid-patch",
            "spec §Pushing a blob in chunks (resuming)",
            Oci10,
            "a connection cut mid-PATCH; the upload resumes from the status GET",
            cut_mid_patch
        ),
        check!(
            "robustness/short-body",
            "RFC 9112 §6.3 (message body length)",
            Oci10,
            "a body shorter than its Content-Length stores nothing and gets no 5xx",
            short_body
        ),
        check!(
            "robustness/chunk-length-vs-range",
            "spec §Pushing a blob in chunks",
            Oci10,
            "a chunk whose body is longer or shorter than its Content-Range is refused and appends nothing",
            chunk_length_vs_range
        ),
        check!(
            "robustness/chunk-min-length",
            "spec §Pushing a blob in chunks (OCI-Chunk-Min-Length)",
            Oci11,
            "OCI-Chunk-Min-Length, when announced, is a positive integer",
            chunk_min_length
        ),
    ]
}

async fn retried_patch(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("retried-patch");
    let data = ctx.unique_bytes("blob", 20);
    let location = ctx.start_upload(&repo).await?;
    let r = ctx.patch_chunk(&location, 0, &data[..10]).await?;
    expect_status(&r, &[202])?;
    let location = Ctx::path_of(expect_header(&r, "location")?);
    let again = ctx.patch_chunk(&location, 0, &data[..10]).await?;
    let status = ctx.get(&location).await?;
    expect_header_eq(&status, "range", "0-9")
        .map_err(|_| fail(&again, "after the same chunk was sent twice the upload no longer holds exactly 10 bytes"))?;
    let d = Digest::of(Algorithm::Sha256, &data);
    let location = Ctx::path_of(expect_header(&status, "location")?);
    let r = ctx
        .req(
            Method::PUT,
            &Ctx::with_query(&location, "digest", d.as_str()),
            &[("content-type", "application/octet-stream")],
            data[10..].to_vec(),
        )
        .await?;
    expect_status(&r, &[201])
}

/// Sends a request's head and only part of its body, then closes.
async fn send_truncated(
    ctx: &Ctx,
    method: &str,
    path: &str,
    declared: usize,
    body: &[u8],
) -> Result<(), crate::harness::Stop> {
    let mut io = ctx.client.connect().await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n",
        ctx.client.target.authority()
    );
    io.write_all(head.as_bytes()).await.map_err(|e| fail_plain(format!("writing: {e}")))?;
    io.write_all(body).await.map_err(|e| fail_plain(format!("writing: {e}")))?;
    io.flush().await.map_err(|e| fail_plain(format!("writing: {e}")))?;
    let _ = io.shutdown().await;
    // Whatever the server says (or nothing), it must not hang.
    let mut sink = Vec::new();
    match tokio::time::timeout(crate::client::REQUEST_TIMEOUT, io.read_to_end(&mut sink)).await {
        Err(_) => Err(fail_plain("the server kept the connection open after the client stopped sending")),
        Ok(_) => {
            if sink.starts_with(b"HTTP/1.1 5") {
                return Err(fail_plain(format!(
                    "a truncated body got a 5xx: {}",
                    String::from_utf8_lossy(&sink[..sink.len().min(200)])
                )));
            }
            Ok(())
        }
    }
}

async fn cut_mid_patch(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("cut-patch");
    let data = ctx.unique_bytes("blob", 4000);
    let location = ctx.start_upload(&repo).await?;
    send_truncated(ctx, "PATCH", &location, data.len(), &data[..1500]).await?;
    let (stored, location) = stored(ctx, &location).await?;
    if stored > 1500 {
        return Err(fail_plain(format!("the upload claims {stored} bytes but only 1500 were sent")));
    }
    let r = ctx.patch_chunk(&location, stored, &data[stored..]).await?;
    expect_status(&r, &[202])?;
    let d = Digest::of(Algorithm::Sha256, &data);
    let location = Ctx::path_of(expect_header(&r, "location")?);
    let r = ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[], vec![]).await?;
    expect_status(&r, &[201])?;
    let back = ctx.get(&format!("/v2/{repo}/blobs/{d}")).await?;
    if back.body[..] != data[..] {
        return Err(fail(&back, "the resumed blob is not byte for byte what was sent"));
    }
    Ok(())
}

async fn short_body(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("short-body");
    let data = ctx.unique_bytes("blob", 1000);
    let d = Digest::of(Algorithm::Sha256, &data);
    let location = ctx.start_upload(&repo).await?;
    send_truncated(ctx, "PUT", &Ctx::with_query(&location, "digest", d.as_str()), data.len(), &data[..400]).await?;
    let r = ctx.req(Method::HEAD, &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await?;
    expect_status(&r, &[404])
}

async fn chunk_min_length(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("chunk-min");
    let r = ctx.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], vec![]).await?;
    expect_status(&r, &[202])?;
    match r.header("oci-chunk-min-length") {
        None => Err(crate::harness::skip("no OCI-Chunk-Min-Length announced (it is optional)")),
        Some(v) if v.parse::<u64>().is_ok_and(|n| n > 0) => Ok(()),
        Some(v) => Err(fail(&r, format!("OCI-Chunk-Min-Length {v:?} is not a positive integer"))),
    }
}

/// Sends a PATCH whose body goes out with `Transfer-Encoding: chunked` (no
/// `Content-Length`, so only `Content-Range` says how long it is); the
/// answer's status code.
async fn patch_chunked(ctx: &Ctx, location: &str, range: &str, body: &[u8]) -> Result<u16, crate::harness::Stop> {
    let writing = |e: std::io::Error| fail_plain(format!("writing the chunked PATCH: {e}"));
    let mut io = ctx.client.connect().await?;
    let mut request = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n\
         Content-Range: {range}\r\nTransfer-Encoding: chunked\r\n\r\n",
        ctx.client.target.authority()
    )
    .into_bytes();
    for piece in body.chunks(64) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    io.write_all(&request).await.map_err(writing)?;
    io.flush().await.map_err(writing)?;
    let mut answer = Vec::new();
    match tokio::time::timeout(crate::client::REQUEST_TIMEOUT, io.read_to_end(&mut answer)).await {
        Err(_) => return Err(fail_plain("no answer to a chunked PATCH")),
        Ok(Err(e)) if answer.is_empty() => return Err(fail_plain(format!("reading the answer: {e}"))),
        Ok(_) => {}
    }
    std::str::from_utf8(answer.get(9..12).unwrap_or_default()).ok().and_then(|s| s.parse().ok()).ok_or_else(|| {
        fail_plain(format!("not an HTTP answer: {:?}", String::from_utf8_lossy(&answer[..answer.len().min(80)])))
    })
}

/// How many bytes the upload at `location` holds, by its status.
async fn stored(ctx: &Ctx, location: &str) -> Result<(usize, String), crate::harness::Stop> {
    let r = ctx.get(location).await?;
    expect_status(&r, &[204])?;
    let range = expect_header(&r, "range")?;
    let end = range.split_once('-').and_then(|(_, end)| end.parse::<usize>().ok());
    let size = match end {
        Some(0) if range == "0-0" => 0,
        Some(end) => end + 1,
        None => return Err(fail(&r, "the Range header is not start-end")),
    };
    Ok((size, Ctx::path_of(r.header("location").unwrap_or(location))))
}

async fn chunk_length_vs_range(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("chunk-length");
    let data = ctx.unique_bytes("data", 20);
    let location = ctx.upload_with(&repo, &data[..10]).await?;
    for (range, len) in [("10-19", 100), ("10-109", 10), ("10-19", 11), ("10-19", 9)] {
        let status = patch_chunked(ctx, &location, range, &vec![b'x'; len]).await?;
        let what = format!("Content-Range {range} with a {len}-byte chunked body answered {status}");
        let r = ctx.get(&location).await?;
        if r.status != 204 {
            return Err(fail(&r, format!("{what}; the upload's status then answers {}, not 204", r.status.as_u16())));
        }
        let (size, _) = stored(ctx, &location).await?;
        if (200..300).contains(&status) || size != 10 {
            return Err(fail_plain(format!("{what} and the upload now holds {size} bytes (10 before)")));
        }
    }
    // A chunk that matches its range is taken, and the blob is whole.
    let (_, location) = stored(ctx, &location).await?;
    let status = patch_chunked(ctx, &location, "10-19", &data[10..]).await?;
    if status != 202 {
        return Err(fail_plain(format!("a chunked PATCH matching its Content-Range 10-19 answered {status}")));
    }
    let (size, location) = stored(ctx, &location).await?;
    if size != 20 {
        return Err(fail_plain(format!("after a 10-byte chunk the upload holds {size} bytes, not 20")));
    }
    let d = Digest::of(Algorithm::Sha256, &data);
    let r = ctx.req(Method::PUT, &Ctx::with_query(&location, "digest", d.as_str()), &[], vec![]).await?;
    expect_status(&r, &[201])
}
