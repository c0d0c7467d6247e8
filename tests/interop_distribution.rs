//! One storage directory, two registries: Debian's `docker-registry`
//! (distribution 2.8.2) and `drydock serve`, both configured from
//! `fixtures/docker-registry/config.yml`. An image pushed through either is
//! pulled, byte for byte, through the other.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/docker-registry/config.yml");

fn docker_registry(root: &Path) -> (Process, u16) {
    let port = free_port();
    let mut cmd = Command::new("docker-registry");
    cmd.args(["serve", CONFIG])
        .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", root);
    (spawn_listening(&mut cmd, port), port)
}

#[test]
fn storage_written_by_either_registry_is_served_by_the_other() {
    if !require(&["skopeo", "umoci", "docker-registry"]) {
        return;
    }
    let scratch = Scratch::new("interop");
    let root = scratch.0.join("storage");
    std::fs::create_dir_all(&root).unwrap();
    let layout = build_layout(&scratch.0, &["one", "two"], Some("both"));
    let (_distribution, theirs) = docker_registry(&root);
    let (_drydock, ours) = drydock_serve(&["--config", CONFIG], &root);

    // distribution writes, drydock reads.
    skopeo_push(&layout, "one", theirs, "interop/app", false);
    skopeo_push(&layout, "both", theirs, "interop/app", true);
    let pulled = scratch.0.join("pulled-from-drydock");
    skopeo_pull(ours, "interop/app", "one", &pulled, false);
    skopeo_pull(ours, "interop/app", "both", &pulled, true);
    assert_eq!(digest_of(&pulled, "one"), digest_of(&layout, "one"));
    assert_eq!(digest_of(&pulled, "both"), digest_of(&layout, "both"));
    assert_blobs_identical(&pulled, &layout);

    // drydock writes, distribution reads.
    skopeo_push(&layout, "two", ours, "interop/other", false);
    let pulled = scratch.0.join("pulled-from-distribution");
    skopeo_pull(theirs, "interop/other", "two", &pulled, false);
    assert_eq!(digest_of(&pulled, "two"), digest_of(&layout, "two"));
    assert_blobs_identical(&pulled, &layout);
    assert_eq!(skopeo_raw_manifest(theirs, "interop/other", "two"), skopeo_raw_manifest(ours, "interop/other", "two"));
}
