//! One bucket of the three-node Garage cluster, two registries: Debian's
//! `docker-registry` (distribution 2.8.2, its `s3` driver) and `drydock
//! serve`, both started from one distribution `config.yml` and each talking
//! to a different node. An image pushed through either is pulled, byte for
//! byte, through the other, and each deletes what the other wrote.

mod common;

use common::garage::{Cluster, available};
use common::*;
use std::path::Path;
use std::process::Command;

/// Distribution's configuration for the cluster's bucket through node
/// `node`, under `rootdirectory: /interop`.
fn config(dir: &Path, cluster: &Cluster, node: usize) -> std::path::PathBuf {
    let yaml = format!(
        "version: 0.1
log:
  level: warn
storage:
  s3:
    bucket: {bucket}
    region: {region}
    regionendpoint: {endpoint}
    forcepathstyle: true
    secure: false
    v4auth: true
    accesskey: {access}
    secretkey: {secret}
    rootdirectory: /interop
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:5001
  secret: drydock-interop-s3-secret
",
        bucket = cluster.bucket,
        region = cluster.region,
        endpoint = cluster.endpoints[node],
        access = cluster.access_key,
        secret = cluster.secret_key,
    );
    let path = dir.join(format!("config-{node}.yml"));
    std::fs::write(&path, yaml).unwrap();
    path
}

fn docker_registry(config: &Path) -> (Process, u16) {
    let port = free_port();
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(config).env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"));
    // The AWS SDK inside distribution 2.8.2 panics at start-up on
    // AWS_CA_BUNDLE (its HTTP transport cannot take one), which some
    // machines set for everything; the endpoint is plain HTTP anyway.
    cmd.env_remove("AWS_CA_BUNDLE");
    (spawn_listening(&mut cmd, port), port)
}

fn drydock(config: &Path) -> (Process, u16) {
    drydock_serve_config(config)
}

fn manifest_status(port: u16, repo: &str, digest: &str) -> u16 {
    exchange(
        port,
        "HEAD",
        &format!("/v2/{repo}/manifests/{digest}"),
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .0
}

#[test]
fn a_bucket_written_by_either_registry_is_served_by_the_other() {
    if !available() || !require(&["skopeo", "umoci", "docker-registry"]) {
        return;
    }
    let scratch = Scratch::new("interop-s3");
    let cluster = Cluster::start(&scratch.0.join("garage"));
    let layout = build_layout(&scratch.0, &["one", "two", "three"], Some("both"));
    let (_distribution, theirs) = docker_registry(&config(&scratch.0, &cluster, 0));
    let (_drydock, ours) = drydock(&config(&scratch.0, &cluster, 1));

    // distribution writes, drydock reads; drydock writes, distribution
    // reads: its multipart blobs, its links, its tags.
    images_cross_both_ways(&scratch.0, &layout, theirs, ours);

    // Each deletes a manifest the other wrote; both then agree it is gone.
    let (one, two) = (digest_of(&layout, "one"), digest_of(&layout, "two"));
    assert_eq!(exchange(ours, "DELETE", &format!("/v2/interop/app/manifests/{one}"), &[], b"").0, 202);
    assert_eq!(exchange(theirs, "DELETE", &format!("/v2/interop/other/manifests/{two}"), &[], b"").0, 202);
    for port in [ours, theirs] {
        assert_eq!(manifest_status(port, "interop/app", &one), 404, "port {port}");
        assert_eq!(manifest_status(port, "interop/other", &two), 404, "port {port}");
    }
    // What neither deleted still pulls from both.
    skopeo_push(&layout, "three", theirs, "interop/app", false);
    for (port, name) in [(ours, "three-from-drydock"), (theirs, "three-from-distribution")] {
        let pulled = scratch.0.join(name);
        skopeo_pull(port, "interop/app", "three", &pulled, false);
        assert_eq!(digest_of(&pulled, "three"), digest_of(&layout, "three"));
    }
    // Everything sits under the shared root, in distribution's layout.
    let keys = cluster.keys(2, "interop/docker/registry/v2/repositories/interop/app/_manifests/tags/");
    assert!(keys.iter().any(|k| k.ends_with("/tags/three/current/link")), "{keys:?}");
}
