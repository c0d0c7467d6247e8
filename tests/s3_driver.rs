//! The S3 driver on a real distributed store: the three-node Garage cluster
//! (`scripts/garage-cluster`). It passes the suite every driver passes, its
//! start-up probe tells what the store honours, and what one node
//! acknowledges the others serve.

mod common;

use bytes::Bytes;
use common::Scratch;
use common::garage::{Cluster, available};
use drydock_reference::storage::s3::{S3Config, S3Driver};
use drydock_reference::storage::{StorageDriver, suite};
use std::sync::Arc;

/// How long Garage's listing on one node may lag a deletion made through
/// another (seen: up to about 2 s on a loaded machine).
const LISTING_LAG_BOUND_SECS: u64 = 15;

fn config(cluster: &Cluster, node: usize, root: &str) -> S3Config {
    S3Config {
        endpoint: Some(cluster.endpoints[node].clone()),
        root: root.to_owned(),
        access_key: Some(cluster.access_key.clone()),
        secret_key: Some(cluster.secret_key.clone()),
        path_style: true,
        secure: false,
        ..S3Config::new(&cluster.bucket, &cluster.region)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_s3_driver_passes_the_driver_suite_on_garage() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("s3-driver-suite");
    let cluster = Cluster::start(&scratch.0);
    let driver = S3Driver::connect(&config(&cluster, 0, "suite"), "suite-0").await.unwrap();
    // Garage 2.5 ignores If-None-Match on PUT; the probe must see that, not
    // assume conditional writes.
    assert!(!driver.conditional_writes(), "the probe claims Garage honours conditional writes");
    suite::run(Arc::new(driver)).await;
    // The suite cleans up after itself. What it deleted is gone for every
    // node at once; Garage's listings on the other nodes may still show a
    // just-deleted key for a moment (the registry never relies on a listing
    // to tell that something is gone), so they get a bounded while to agree.
    for key in cluster.keys(1, "suite/") {
        assert_eq!(cluster.s3(1, "HEAD", &key, &[], None).0, 404, "{key} outlived the suite");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(LISTING_LAG_BOUND_SECS);
    loop {
        let left = cluster.keys(1, "suite/");
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "listed {LISTING_LAG_BOUND_SECS} s after the suite deleted them: {left:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[tokio::test]
async fn the_layout_is_distributions_and_roots_keep_registries_apart() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("s3-driver-layout");
    let cluster = Cluster::start(&scratch.0);
    let bare = S3Driver::connect(&config(&cluster, 0, ""), "layout-0").await.unwrap();
    let rooted = S3Driver::connect(&config(&cluster, 1, "/team/a/"), "layout-1").await.unwrap();
    bare.put_content("/docker/registry/v2/x", Bytes::from_static(b"bare")).await.unwrap();
    rooted.put_content("/docker/registry/v2/x", Bytes::from_static(b"rooted")).await.unwrap();
    // Keys as distribution's s3 driver writes them: rootdirectory + path.
    assert_eq!(cluster.s3(2, "GET", "docker/registry/v2/x", &[], None), (200, b"bare".to_vec()));
    assert_eq!(cluster.s3(2, "GET", "team/a/docker/registry/v2/x", &[], None), (200, b"rooted".to_vec()));
    assert_eq!(rooted.list("/").await.unwrap(), ["docker"]);
    assert_eq!(bare.list("/docker/registry/v2").await.unwrap(), ["x"]);
    // A large object written through one node, as a multipart upload, reads
    // back through another.
    let other = S3Driver::connect(&config(&cluster, 2, ""), "layout-2").await.unwrap();
    let big: Vec<u8> = (0..(13u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut w = bare.writer("/big").await.unwrap();
    for piece in big.chunks(3 << 20) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    assert_eq!(w.commit().await.unwrap(), big.len() as u64);
    assert_eq!(other.stat("/big").await.unwrap().size, big.len() as u64);
    assert!(other.read_at("/big", 5 << 20, 1 << 20).await.unwrap() == big[5 << 20..6 << 20]);
    for d in [&bare as &dyn StorageDriver, &rooted] {
        d.delete("/docker").await.unwrap();
    }
    other.delete("/big").await.unwrap();
}

#[tokio::test]
async fn a_bucket_the_credentials_cannot_write_stops_the_start() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("s3-driver-refused");
    let cluster = Cluster::start(&scratch.0);
    let wrong = S3Config { secret_key: Some("0".repeat(64)), ..config(&cluster, 0, "") };
    let err = S3Driver::connect(&wrong, "refused").await.err().expect("a wrong secret connects");
    assert!(err.contains("refused a write"), "{err}");
    let missing = S3Config { bucket: "no-such-bucket".into(), ..config(&cluster, 0, "") };
    assert!(S3Driver::connect(&missing, "missing").await.is_err());
}
