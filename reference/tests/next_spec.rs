//! Behaviours of the distribution spec's next release (and of the main
//! branch's conformance suite), over real TCP connections: foreign layers,
//! sparse manifests, `digest-algorithm` on upload start, tags on a push by
//! digest.

mod common;

use common::{memory, push_blob, send};
use drydock_reference::registry::paths;
use drydock_reference::registry::validation::{IndexChildren, ManifestRules};
use drydock_reference::storage::{InMemoryDriver, StorageDriver};
use drydock_reference::{Instance, InstanceConfig};
use drydock_spec::{Algorithm, Digest};
use http::{Method, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const ND_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
const FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

async fn with_rules(rules: ManifestRules) -> (SocketAddr, Arc<dyn StorageDriver>) {
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let env = drydock_reference::Env::new(Arc::new(common::TestClock), [9; 32]);
    let config = InstanceConfig { manifest_rules: rules, ..InstanceConfig::new(driver.clone(), env, b"s") };
    (common::serve(Instance::new(config)).await, driver)
}

fn image(config: (&Digest, usize), layers: &[serde_json::Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
        "layers": layers,
    }))
    .unwrap()
}

fn foreign_layer(media_type: &str, seed: &[u8], urls: &[&str]) -> serde_json::Value {
    let d = Digest::of(Algorithm::Sha256, seed);
    let mut v = serde_json::json!({"mediaType": media_type, "digest": d, "size": 123_456});
    if !urls.is_empty() {
        v["urls"] = serde_json::json!(urls);
    }
    v
}

async fn put(addr: SocketAddr, path: &str, media_type: &str, body: &[u8]) -> common::Reply {
    send(addr, Method::PUT, path, &[("content-type", media_type)], body).await
}

#[tokio::test]
async fn foreign_layers_are_accepted_unpushed_and_the_image_pulls() {
    let addr = memory().await;
    let config = push_blob(addr, "win", b"{}").await;
    let layer = push_blob(addr, "win", b"ordinary layer").await;
    let body = image(
        (&config, 2),
        &[
            foreign_layer(ND_GZIP, b"base", &["https://store.example.com/blobs/base"]),
            foreign_layer(FOREIGN, b"docker base", &["https://mcr.example/base"]),
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 14}),
        ],
    );
    let r = put(addr, "/v2/win/manifests/ltsc", OCI_MANIFEST, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let d = Digest::of(Algorithm::Sha256, &body);
    for reference in ["ltsc", d.as_str()] {
        for method in [Method::GET, Method::HEAD] {
            let r = send(addr, method, &format!("/v2/win/manifests/{reference}"), &[], b"").await;
            assert_eq!((r.status, r.header("docker-content-digest")), (StatusCode::OK, d.as_str()));
        }
    }
    let r = send(addr, Method::GET, "/v2/win/tags/list", &[], b"").await;
    assert_eq!(r.json()["tags"], serde_json::json!(["ltsc"]));
    // A foreign layer that does not say where to fetch it must be here.
    let nowhere = image((&config, 2), &[foreign_layer(ND_GZIP, b"nowhere", &[])]);
    let r = put(addr, "/v2/win/manifests/nowhere", OCI_MANIFEST, &nowhere).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"));
    // URLs must be http(s), without a fragment.
    let ftp = image((&config, 2), &[foreign_layer(ND_GZIP, b"ftp", &["ftp://store.example.com/x"])]);
    let r = put(addr, "/v2/win/manifests/ftp", OCI_MANIFEST, &ftp).await;
    assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID"));
    // An ordinary layer is never excused by its urls.
    let mut plain = foreign_layer("application/vnd.oci.image.layer.v1.tar+gzip", b"absent", &["https://x.example/a"]);
    plain["size"] = 6.into();
    let r = put(addr, "/v2/win/manifests/plain", OCI_MANIFEST, &image((&config, 2), &[plain])).await;
    assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn url_rules_allow_and_deny() {
    let rules = ManifestRules {
        urls_allow: vec![regex::Regex::new(r"^https://mcr\.example/").unwrap()],
        urls_deny: vec![regex::Regex::new(r"/private/").unwrap()],
        ..ManifestRules::default()
    };
    let (addr, _) = with_rules(rules).await;
    let config = push_blob(addr, "win", b"{}").await;
    let allowed = image((&config, 2), &[foreign_layer(FOREIGN, b"a", &["https://mcr.example/a"])]);
    assert_eq!(put(addr, "/v2/win/manifests/ok", OCI_MANIFEST, &allowed).await.status, StatusCode::CREATED);
    for (tag, url) in [("elsewhere", "https://other.example/a"), ("private", "https://mcr.example/private/a")] {
        let body = image((&config, 2), &[foreign_layer(FOREIGN, tag.as_bytes(), &[url])]);
        let r = put(addr, &format!("/v2/win/manifests/{tag}"), OCI_MANIFEST, &body).await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_INVALID"), "{url}");
        let stored = Digest::of(Algorithm::Sha256, &body);
        let r = send(addr, Method::GET, &format!("/v2/win/manifests/{stored}"), &[], b"").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "a refused manifest leaves nothing");
    }
}

fn index(children: &[(&Digest, usize, &str)]) -> Vec<u8> {
    let manifests: Vec<serde_json::Value> = children
        .iter()
        .map(|(d, size, arch)| {
            serde_json::json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size,
                "platform": {"os": "linux", "architecture": arch}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}))
        .unwrap()
}

#[tokio::test]
async fn sparse_indexes_and_images_by_setting() {
    let absent = Digest::of(Algorithm::Sha256, b"arm64 image never pushed");
    for (rules, sparse_index, sparse_image) in [
        (ManifestRules::default(), false, false),
        (ManifestRules { index_children: IndexChildren::None, ..ManifestRules::default() }, true, false),
        (ManifestRules { sparse_layers: true, ..ManifestRules::default() }, false, true),
    ] {
        let (addr, _) = with_rules(rules).await;
        let config = push_blob(addr, "app", b"{}").await;
        let layer = push_blob(addr, "app", b"layer").await;
        let amd64 = image(
            (&config, 2),
            &[
                serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 5}),
            ],
        );
        let amd64_d = Digest::of(Algorithm::Sha256, &amd64);
        assert_eq!(
            put(addr, &format!("/v2/app/manifests/{amd64_d}"), OCI_MANIFEST, &amd64).await.status,
            StatusCode::CREATED
        );
        let idx = index(&[(&amd64_d, amd64.len(), "amd64"), (&absent, 1024, "arm64")]);
        let r = put(addr, "/v2/app/manifests/multi", OCI_INDEX, &idx).await;
        if sparse_index {
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
            let r = send(addr, Method::GET, "/v2/app/manifests/multi", &[], b"").await;
            assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &idx[..]));
            let r = send(addr, Method::GET, &format!("/v2/app/manifests/{absent}"), &[], b"").await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "the missing platform stays missing");
        } else {
            assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN"));
        }
        let missing_layer = Digest::of(Algorithm::Sha256, b"layer never pushed");
        let thin = image(
            (&config, 2),
            &[
                serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": missing_layer, "size": 9}),
            ],
        );
        let r = put(addr, "/v2/app/manifests/thin", OCI_MANIFEST, &thin).await;
        if sparse_image {
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        } else {
            assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
        }
        // The config is never optional.
        let no_config = image((&missing_layer, 9), &[]);
        let r = put(addr, "/v2/app/manifests/hollow", OCI_MANIFEST, &no_config).await;
        assert_eq!(r.error_code(), "MANIFEST_BLOB_UNKNOWN");
    }
}

#[tokio::test]
async fn digest_algorithm_on_upload_start() {
    let (addr, driver) = with_rules(ManifestRules::default()).await;
    let data = b"hashed with sha512 from its first byte";
    let d = Digest::of(Algorithm::Sha512, data);
    let r = send(addr, Method::POST, "/v2/alg/blobs/uploads/?digest-algorithm=sha512", &[], b"").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(addr, Method::PATCH, r.header("location"), &[("content-range", "0-9")], &data[..10]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let loc = r.header("location").to_owned();
    // The state saved after the chunk is a sha512 state: the upload is
    // hashed with the algorithm asked for, not re-hashed at the end.
    let repo = drydock_spec::RepositoryName::parse("alg").unwrap();
    let uploads = format!("{}/_uploads", paths::repository(&repo));
    let id = &driver.list(&uploads).await.unwrap()[0];
    assert_eq!(driver.list(&format!("{uploads}/{id}/hashstates")).await.unwrap(), ["sha512"]);
    let r = send(addr, Method::PUT, &format!("{loc}&digest={d}"), &[("content-range", "10-37")], &data[10..]).await;
    assert_eq!((r.status, r.header("docker-content-digest")), (StatusCode::CREATED, d.as_str()), "{:?}", r.body);
    let r = send(addr, Method::GET, &format!("/v2/alg/blobs/{d}"), &[], b"").await;
    assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &data[..]));
    // A sha256 digest still verifies an upload hashed with sha512.
    let r = send(addr, Method::POST, "/v2/alg/blobs/uploads/?digest-algorithm=sha512", &[], b"").await;
    let d256 = Digest::of(Algorithm::Sha256, b"other");
    let r = send(addr, Method::PUT, &format!("{}&digest={d256}", r.header("location")), &[], b"other").await;
    assert_eq!(r.status, StatusCode::CREATED);
    // An algorithm the registry does not hash with is refused up front.
    for bad in ["md5", "SHA512", "sha384", ""] {
        let r = send(addr, Method::POST, &format!("/v2/alg/blobs/uploads/?digest-algorithm={bad}"), &[], b"").await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "DIGEST_INVALID"), "{bad:?}");
    }
}

#[tokio::test]
async fn tags_on_a_push_by_digest() {
    let addr = memory().await;
    for alg in [Algorithm::Sha256, Algorithm::Sha512] {
        let repo = format!("tagged-{alg}");
        let config = push_blob(addr, &repo, b"{}").await;
        let body = image((&config, 2), &[]);
        let d = Digest::of(alg, &body);
        let path = format!("/v2/{repo}/manifests/{d}?tag=a&tag=b&tag=a");
        let r = put(addr, &path, OCI_MANIFEST, &body).await;
        assert_eq!((r.status, r.header("docker-content-digest")), (StatusCode::CREATED, d.as_str()), "{:?}", r.body);
        let echoed: Vec<&str> = r.headers.get_all("oci-tag").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(echoed, ["a", "b"]);
        for tag in ["a", "b"] {
            let r = send(addr, Method::GET, &format!("/v2/{repo}/manifests/{tag}"), &[], b"").await;
            assert_eq!((r.status, &r.body[..]), (StatusCode::OK, &body[..]));
            // The digest the manifest was pushed by, sha512 included.
            assert_eq!(r.header("docker-content-digest"), d.as_str());
        }
        let r = send(addr, Method::GET, &format!("/v2/{repo}/tags/list"), &[], b"").await;
        assert_eq!(r.json()["tags"], serde_json::json!(["a", "b"]));
        // One bad tag refuses the whole push; nothing is stored or tagged.
        let other = image((&config, 2), &[]).into_iter().chain(*b" ").collect::<Vec<u8>>();
        let od = Digest::of(alg, &other);
        let r = put(addr, &format!("/v2/{repo}/manifests/{od}?tag=c&tag=-bad"), OCI_MANIFEST, &other).await;
        assert_eq!((r.status, r.error_code().as_str()), (StatusCode::BAD_REQUEST, "TAG_INVALID"));
        let r = send(addr, Method::GET, &format!("/v2/{repo}/manifests/c"), &[], b"").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let r = send(addr, Method::GET, &format!("/v2/{repo}/manifests/{od}"), &[], b"").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}
