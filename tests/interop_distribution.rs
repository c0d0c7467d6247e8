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

    // distribution writes, drydock reads; drydock writes, distribution reads.
    images_cross_both_ways(&scratch.0, &layout, theirs, ours);
}
