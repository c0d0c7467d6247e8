//! The registry's HTTP API over real TCP connections.

mod common;

use common::{memory, push_blob, raw, send, start};
use drydock_reference::storage::{FilesystemDriver, InMemoryDriver, StorageDriver};
use drydock_reference::{Instance, InstanceConfig};
use drydock_spec::{Algorithm, Digest};
use http::{Method, StatusCode};
use std::sync::Arc;

#[tokio::test]
async fn base_endpoint_announces_the_api() {
    let addr = memory().await;
    let r = send(addr, Method::GET, "/v2/", &[], b"").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("docker-distribution-api-version"), "registry/2.0");
}

#[tokio::test]
async fn monolithic_push_then_pull_with_ranges() {
    for driver in [
        Arc::new(InMemoryDriver::new()) as Arc<dyn StorageDriver>,
        Arc::new(FilesystemDriver::new(std::env::temp_dir().join(format!("drydock-api-{}", std::process::id())))),
    ] {
        let addr = start(driver, 2, b"s").await;
        let data = b"0123456789abcdef";
        let d = push_blob(addr, "lib/app", data).await;
        let r = send(addr, Method::GET, &format!("/v2/lib/app/blobs/{d}"), &[], b"").await;
        assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &data[..]));
        assert_eq!(r.header("content-length"), "16");
        let r = send(addr, Method::HEAD, &format!("/v2/lib/app/blobs/{d}"), &[], b"").await;
        assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
        assert_eq!(r.header("content-length"), "16");
        let r = send(addr, Method::GET, &format!("/v2/lib/app/blobs/{d}"), &[("range", "bytes=4-7")], b"").await;
        assert_eq!((r.status, &r.body[..]), (StatusCode::PARTIAL_CONTENT, &b"4567"[..]));
        assert_eq!(r.header("content-range"), "bytes 4-7/16");
        let r = send(addr, Method::GET, &format!("/v2/lib/app/blobs/{d}"), &[("range", "bytes=10-")], b"").await;
        assert_eq!(&r.body[..], b"abcdef");
        let r = send(addr, Method::GET, &format!("/v2/lib/app/blobs/{d}"), &[("range", "bytes=16-20")], b"").await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.header("content-range"), "bytes */16");
        assert_eq!(r.header("content-length"), r.body.len().to_string());
        // Not linked into another repository, so not visible there.
        let r = send(addr, Method::GET, &format!("/v2/other/blobs/{d}"), &[], b"").await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::NOT_FOUND, "BLOB_UNKNOWN"));
    }
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(format!("drydock-api-{}", std::process::id())));
}

#[tokio::test]
async fn chunked_upload_with_out_of_order_chunk_and_status() {
    let addr = memory().await;
    let r = send(addr, Method::POST, "/v2/a/blobs/uploads/", &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(r.header("range"), "0-0");
    let loc = r.header("location").to_owned();
    let r = send(addr, Method::PATCH, &loc, &[("content-range", "0-4")], b"hello").await;
    assert_eq!((r.status, r.header("range")), (StatusCode::ACCEPTED, "0-4"));
    let loc = r.header("location").to_owned();
    let r = send(addr, Method::PATCH, &loc, &[("content-range", "9-11")], b"xyz").await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("range"), "0-4");
    let r = send(addr, Method::GET, &loc, &[], b"").await;
    assert_eq!((r.status, r.header("range")), (StatusCode::NO_CONTENT, "0-4"));
    // A streamed chunk without Content-Range, then the final PUT with the rest.
    let r = send(addr, Method::PATCH, &loc, &[], b" wor").await;
    assert_eq!(r.header("range"), "0-8");
    let d = Digest::of(Algorithm::Sha256, b"hello world");
    let loc = r.header("location").to_owned();
    let r = send(addr, Method::PUT, &format!("{loc}&digest={d}"), &[], b"ld").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = send(addr, Method::GET, &format!("/v2/a/blobs/{d}"), &[], b"").await;
    assert_eq!(&r.body[..], b"hello world");
    // The session is gone once committed.
    let r = send(addr, Method::GET, &loc, &[], b"").await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN"));
}

#[tokio::test]
async fn digest_mismatch_stores_nothing() {
    let addr = memory().await;
    let wrong = Digest::of(Algorithm::Sha256, b"other");
    let r = send(addr, Method::POST, &format!("/v2/a/blobs/uploads/?digest={wrong}"), &[], b"content").await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    let r = send(addr, Method::HEAD, &format!("/v2/a/blobs/{wrong}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sha512_and_zero_length_blobs() {
    let addr = memory().await;
    let d = Digest::of(Algorithm::Sha512, b"");
    let r = send(addr, Method::POST, &format!("/v2/a/blobs/uploads/?digest={d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(addr, Method::GET, &format!("/v2/a/blobs/{d}"), &[], b"").await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
}

#[tokio::test]
async fn tampered_or_foreign_upload_state_is_refused() {
    let addr = memory().await;
    let r = send(addr, Method::POST, "/v2/a/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").to_owned();
    let (path, token) = loc.split_once("?_state=").unwrap();
    let (body, sig) = token.split_once('.').unwrap();
    let forged = format!("{path}?_state={}A.{sig}", &body[..body.len() - 1]);
    let r = send(addr, Method::PATCH, &forged, &[], b"data").await;
    assert_eq!(r.error_code(), "BLOB_UPLOAD_INVALID");
    // The real session is untouched.
    let r = send(addr, Method::GET, &loc, &[], b"").await;
    assert_eq!(r.header("range"), "0-0");
    // Another repository's URL with this token.
    let r = send(addr, Method::PATCH, &loc.replace("/v2/a/", "/v2/b/"), &[], b"data").await;
    assert_eq!(r.error_code(), "BLOB_UPLOAD_INVALID");
}

#[tokio::test]
async fn an_upload_started_on_one_instance_finishes_on_another() {
    let shared: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let a = start(shared.clone(), 3, b"shared-secret").await;
    let b = start(shared, 4, b"shared-secret").await;
    let r = send(a, Method::POST, "/v2/x/blobs/uploads/", &[], b"").await;
    let r = send(b, Method::PATCH, r.header("location"), &[], b"first half, ").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let d = Digest::of(Algorithm::Sha256, b"first half, second half");
    let r = send(a, Method::PUT, &format!("{}&digest={d}", r.header("location")), &[], b"second half").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(b, Method::GET, &format!("/v2/x/blobs/{d}"), &[], b"").await;
    assert_eq!(&r.body[..], b"first half, second half");
}

fn image_manifest(config: &Digest, config_len: usize, layer: &Digest, layer_len: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_len},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_len}],
    }))
    .unwrap()
}

#[tokio::test]
async fn manifests_by_tag_and_digest() {
    let addr = memory().await;
    let config = push_blob(addr, "app", b"{}").await;
    let layer = push_blob(addr, "app", b"layer").await;
    let body = image_manifest(&config, 2, &layer, 5);
    let ct = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
    let r = send(addr, Method::PUT, "/v2/app/manifests/v1", &ct, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let d = Digest::of(Algorithm::Sha256, &body);
    assert_eq!(r.header("docker-content-digest"), d.as_str());
    for reference in ["v1", d.as_str()] {
        let r = send(addr, Method::GET, &format!("/v2/app/manifests/{reference}"), &[], b"").await;
        assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &body[..]));
        assert_eq!(r.header("content-type"), "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(r.header("docker-content-digest"), d.as_str());
    }
    let r = send(addr, Method::GET, "/v2/app/manifests/v1", &[("if-none-match", &format!("\"{d}\""))], b"").await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    // A conditional update against a stale digest fails; against the current one it succeeds.
    let stale = Digest::of(Algorithm::Sha256, b"stale");
    let r =
        send(addr, Method::PUT, "/v2/app/manifests/v1", &[ct[0], ("if-match", &format!("\"{stale}\""))], &body).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED);
    let r = send(addr, Method::PUT, "/v2/app/manifests/v1", &[ct[0], ("if-match", &format!("\"{d}\""))], &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Missing blob.
    let missing = Digest::of(Algorithm::Sha256, b"missing");
    let bad = image_manifest(&config, 2, &missing, 7);
    let r = send(addr, Method::PUT, "/v2/app/manifests/v2", &ct, &bad).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"));
    // Invalid JSON.
    let r = send(addr, Method::PUT, "/v2/app/manifests/v2", &ct, b"{nope").await;
    assert_eq!(r.error_code(), "MANIFEST_INVALID");
    // Tags and catalog.
    let r = send(addr, Method::PUT, "/v2/app/manifests/v0", &ct, &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(addr, Method::GET, "/v2/app/tags/list?n=1", &[], b"").await;
    assert_eq!(r.json(), serde_json::json!({"name": "app", "tags": ["v0"]}));
    assert_eq!(r.header("link"), "</v2/app/tags/list?n=1&last=v0>; rel=\"next\"");
    let r = send(addr, Method::GET, "/v2/app/tags/list?n=1&last=v0", &[], b"").await;
    assert_eq!(r.json()["tags"], serde_json::json!(["v1"]));
    assert!(r.headers.get("link").is_none());
    let r = send(addr, Method::GET, "/v2/app/tags/list?n=0", &[], b"").await;
    assert_eq!(r.json()["tags"], serde_json::json!([]));
    let r = send(addr, Method::GET, "/v2/app/tags/list?n=-1", &[], b"").await;
    assert_eq!(r.error_code(), "PAGINATION_NUMBER_INVALID");
    let r = send(addr, Method::GET, "/v2/_catalog", &[], b"").await;
    assert_eq!(r.json(), serde_json::json!({"repositories": ["app"]}));
    let r = send(addr, Method::GET, "/v2/nothing/tags/list", &[], b"").await;
    assert_eq!(r.error_code(), "NAME_UNKNOWN");
    // Delete by digest: gone at once, tags with it.
    let r = send(addr, Method::DELETE, &format!("/v2/app/manifests/{d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(addr, Method::GET, "/v2/app/manifests/v1", &[], b"").await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"));
    let r = send(addr, Method::GET, &format!("/v2/app/manifests/{d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn mounts_link_only_what_exists() {
    let addr = memory().await;
    let d = push_blob(addr, "src", b"shared layer").await;
    let r = send(addr, Method::POST, &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"), &[], b"").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(addr, Method::GET, &format!("/v2/dst/blobs/{d}"), &[], b"").await;
    assert_eq!(&r.body[..], b"shared layer");
    let unknown = Digest::of(Algorithm::Sha256, b"nobody has this");
    let r = send(addr, Method::POST, &format!("/v2/dst/blobs/uploads/?mount={unknown}&from=src"), &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.header("location").contains("/v2/dst/blobs/uploads/"));
    // Automatic mount (no `from`) of content the registry stores.
    let r = send(addr, Method::POST, &format!("/v2/third/blobs/uploads/?mount={d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn automatic_mounts_can_be_switched_off() {
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let env = drydock_reference::Env::new(Arc::new(common::TestClock), [5; 32]);
    let config = InstanceConfig { automatic_mount: false, ..InstanceConfig::new(driver, env, b"s") };
    let addr = common::serve(Instance::new(config)).await;
    let d = push_blob(addr, "src", b"layer").await;
    // Without `from`: an upload session, as for a blob that is not there.
    let r = send(addr, Method::POST, &format!("/v2/dst/blobs/uploads/?mount={d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(addr, Method::GET, r.header("location"), &[], b"").await;
    assert_eq!((r.status, r.header("range")), (StatusCode::NO_CONTENT, "0-0"));
    let r = send(addr, Method::HEAD, &format!("/v2/dst/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "nothing was linked");
    // Naming the source still mounts.
    let r = send(addr, Method::POST, &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"), &[], b"").await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn bad_names_digests_and_deletes() {
    let addr = memory().await;
    let r = send(addr, Method::GET, "/v2/Bad/tags/list", &[], b"").await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "NAME_INVALID"));
    let r = send(addr, Method::GET, "/v2/a/blobs/sha256:zz", &[], b"").await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"));
    // A tag the grammar refuses names no manifest (OCI 1.1): reads find
    // nothing, a write is a bad request.
    for reference in ["-bad", ".INVALID_MANIFEST_NAME"] {
        let path = format!("/v2/a/manifests/{reference}");
        let r = send(addr, Method::GET, &path, &[], b"").await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"), "{reference}");
        let r = send(addr, Method::HEAD, &path, &[], b"").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{reference}");
        let r =
            send(addr, Method::PUT, &path, &[("content-type", "application/vnd.oci.image.manifest.v1+json")], b"{}")
                .await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "TAG_INVALID"), "{reference}");
    }
    let d = push_blob(addr, "a", b"bye").await;
    let r = send(addr, Method::DELETE, &format!("/v2/a/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(addr, Method::HEAD, &format!("/v2/a/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(addr, Method::DELETE, &format!("/v2/a/blobs/{d}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn referrers_follow_pushes_and_deletes() {
    let addr = memory().await;
    let config = push_blob(addr, "app", b"{}").await;
    let layer = push_blob(addr, "app", b"layer").await;
    let subject_body = image_manifest(&config, 2, &layer, 5);
    let subject = Digest::of(Algorithm::Sha256, &subject_body);
    let ct = [("content-type", "application/vnd.oci.image.manifest.v1+json")];
    // No referrers yet: an empty index, never a 404.
    let r = send(addr, Method::GET, &format!("/v2/app/referrers/{subject}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/vnd.oci.image.index.v1+json");
    assert_eq!(r.json()["manifests"], serde_json::json!([]));
    // A referrer may be pushed before its subject.
    let empty = push_blob(addr, "app", b"{}").await;
    let sbom = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject, "size": subject_body.len()},
        "annotations": {"org.example": "sbom"},
    }))
    .unwrap();
    let sbom_digest = Digest::of(Algorithm::Sha256, &sbom);
    let r = send(addr, Method::PUT, &format!("/v2/app/manifests/{sbom_digest}"), &ct, &sbom).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.header("oci-subject"), subject.as_str());
    let r = send(addr, Method::PUT, "/v2/app/manifests/latest", &ct, &subject_body).await;
    assert_eq!(r.status, StatusCode::CREATED);

    let r = send(addr, Method::GET, &format!("/v2/app/referrers/{subject}"), &[], b"").await;
    assert_eq!(
        r.json()["manifests"],
        serde_json::json!([{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sbom_digest,
            "size": sbom.len(),
            "artifactType": "application/spdx+json",
            "annotations": {"org.example": "sbom"},
        }])
    );
    let r =
        send(addr, Method::GET, &format!("/v2/app/referrers/{subject}?artifactType=application/spdx%2Bjson"), &[], b"")
            .await;
    assert_eq!(r.header("oci-filters-applied"), "artifactType");
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 1);
    let r = send(addr, Method::GET, &format!("/v2/app/referrers/{subject}?artifactType=text/other"), &[], b"").await;
    assert_eq!(r.json()["manifests"], serde_json::json!([]));
    // Deleting the referrer removes it from the index.
    let r = send(addr, Method::DELETE, &format!("/v2/app/manifests/{sbom_digest}"), &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(addr, Method::GET, &format!("/v2/app/referrers/{subject}"), &[], b"").await;
    assert_eq!(r.json()["manifests"], serde_json::json!([]));
    let r = send(addr, Method::GET, "/v2/app/referrers/sha256:nothex", &[], b"").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn upload_ids_never_reach_storage_unchecked() {
    let addr = memory().await;
    for id in ["..", "a%2F..%2F..", "x.y"] {
        let r = send(addr, Method::GET, &format!("/v2/a/blobs/uploads/{id}?_state=x.y"), &[], b"").await;
        assert!(r.status.is_client_error(), "{id}: {}", r.status);
    }
}

#[tokio::test]
async fn what_real_clients_send() {
    let addr = memory().await;
    // A bare POST, then the whole blob in the PUT.
    let r = send(addr, Method::POST, "/v2/c/blobs/uploads/", &[], b"").await;
    let d = Digest::of(Algorithm::Sha256, b"whole blob in the put");
    let r =
        send(addr, Method::PUT, &format!("{}&digest={d}", r.header("location")), &[], b"whole blob in the put").await;
    assert_eq!(r.status, StatusCode::CREATED);

    // A PATCH body with Transfer-Encoding: chunked on a one-request connection.
    let r = send(addr, Method::POST, "/v2/c/blobs/uploads/", &[], b"").await;
    let loc = r.header("location").to_owned();
    let answer = raw(
        addr,
        format!(
            "PATCH {loc} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("range: 0-10"), "{answer}");
    let r = send(addr, Method::GET, &loc, &[], b"").await;
    assert_eq!(r.header("range"), "0-10");

    // Mount parameters percent-encoded.
    let encoded = d.as_str().replace(':', "%3A");
    let r = send(addr, Method::POST, &format!("/v2/e/f/blobs/uploads/?mount={encoded}&from=c"), &[], b"").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(addr, Method::POST, &format!("/v2/g/blobs/uploads/?mount={d}&from=e%2Ff"), &[], b"").await;
    assert_eq!(r.status, StatusCode::CREATED);

    // `Accept` spread over several header lines does not stop a manifest GET.
    let config = push_blob(addr, "c", b"{}").await;
    let body = image_manifest(&config, 2, &d, 21);
    let r = send(
        addr,
        Method::PUT,
        "/v2/c/manifests/t",
        &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let answer = raw(
        addr,
        b"GET /v2/c/manifests/t HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAccept: application/vnd.docker.distribution.manifest.v2+json\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(std::str::from_utf8(&body).unwrap()));
}

#[tokio::test]
async fn a_final_chunk_out_of_order_is_416_and_the_upload_stays_usable() {
    let addr = memory().await;
    let data = b"0123456789abcdefghij";
    let d = Digest::of(Algorithm::Sha256, data);
    let r = send(addr, Method::POST, "/v2/final/blobs/uploads/", &[], b"").await;
    let r = send(addr, Method::PATCH, r.header("location"), &[("content-range", "0-9")], &data[..10]).await;
    assert_eq!((r.status, r.header("range")), (StatusCode::ACCEPTED, "0-9"));
    let loc = r.header("location").to_owned();
    let close = format!("{loc}&digest={d}");
    let r = send(addr, Method::PUT, &close, &[("content-range", "15-19")], &data[15..]).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::RANGE_NOT_SATISFIABLE, "RANGE_INVALID"));
    assert_eq!(r.header("range"), "0-9");
    let r = send(addr, Method::GET, &loc, &[], b"").await;
    assert_eq!((r.status, r.header("range")), (StatusCode::NO_CONTENT, "0-9"), "the upload is still usable");
    let r = send(addr, Method::PUT, &close, &[("content-range", "10-19")], &data[10..]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = send(addr, Method::GET, &format!("/v2/final/blobs/{d}"), &[], b"").await;
    assert_eq!(&r.body[..], data);
}

#[tokio::test]
async fn a_manifest_keeps_the_type_it_was_pushed_with() {
    let addr = memory().await;
    let config = push_blob(addr, "typed", b"{}").await;
    let layer = push_blob(addr, "typed", b"layer").await;
    // Docker schema2 bodies without `mediaType`: the type is the PUT's.
    let body = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 5}],
    }))
    .unwrap();
    for (tag, media_type, body) in [
        ("docker", "application/vnd.docker.distribution.manifest.v2+json", body.clone()),
        ("oci", "application/vnd.oci.image.manifest.v1+json", [&body[..], b" "].concat()),
    ] {
        let r = send(addr, Method::PUT, &format!("/v2/typed/manifests/{tag}"), &[("content-type", media_type)], &body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let d = r.header("docker-content-digest").to_owned();
        for reference in [tag, d.as_str()] {
            for method in [Method::GET, Method::HEAD] {
                let r = send(addr, method, &format!("/v2/typed/manifests/{reference}"), &[], b"").await;
                assert_eq!((r.status, r.header("content-type")), (StatusCode::OK, media_type), "{reference}");
            }
        }
    }
}
