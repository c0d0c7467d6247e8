//! drydock's OCI image (`scripts/build-image`) proves its own loop: built
//! twice from one binary it has one digest; pushed with skopeo into a
//! running `drydock serve` and pulled back, it is unpacked with umoci and
//! run under chroot as its own non-root user — `drydock check` from the
//! image's filesystem against the registry it came from, and the image's
//! entrypoint and command serving a registry from its data volume. (podman
//! cannot start containers in this sandbox: it refuses their setrlimit.)

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

const BUILD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-image");

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).trim() == "0"
}

/// Builds the image of the test binary into `out`; its manifest digest.
fn build(out: &Path) -> String {
    let printed = run(Command::new(BUILD)
        .args(["--binary", env!("CARGO_BIN_EXE_drydock"), "--tag", "test", "--out"])
        .arg(out)
        .env("SOURCE_DATE_EPOCH", "1700000000"));
    let digest = digest_of(out, "test");
    assert!(printed.contains(&digest), "{printed}");
    digest
}

fn blob(layout: &Path, digest: &str) -> serde_json::Value {
    json(&layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:")))
}

#[test]
fn the_image_is_reproducible_pushes_pulls_and_runs_as_its_own_user() {
    if !require(&["umoci", "skopeo", "chroot"]) {
        return;
    }
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: the image's files belong to two users");
        eprintln!("skipped: scripts/build-image needs root");
        return;
    }
    let scratch = Scratch::new("image");
    let (a, b) = (scratch.0.join("a"), scratch.0.join("b"));
    let digest = build(&a);
    assert_eq!(build(&b), digest, "two builds of one binary differ");

    // What the image says about itself.
    let manifest = blob(&a, &digest);
    let config = blob(&a, manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(config["config"]["User"], "65532:65532");
    assert!(config["config"]["ExposedPorts"]["5000/tcp"].is_object(), "{config}");
    assert!(config["config"]["Volumes"]["/var/lib/drydock"].is_object(), "{config}");
    assert_eq!(config["config"]["Labels"]["org.opencontainers.image.title"], "drydock");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");

    // Into a registry and back.
    let (_registry, port) = drydock_serve(&[], &scratch.0.join("storage"));
    skopeo_push(&a, "test", port, "drydock/drydock", false);
    let pulled = scratch.0.join("pulled");
    skopeo_pull(port, "drydock/drydock", "test", &pulled, false);
    assert_eq!(digest_of(&pulled, "test"), digest);
    let bundle = scratch.0.join("bundle");
    run(Command::new("umoci").args(["unpack", "--image", &format!("{}:test", pulled.display())]).arg(&bundle));
    let rootfs = bundle.join("rootfs");

    // `drydock check` from the image, as its user, against where it came from.
    let url = format!("http://127.0.0.1:{port}");
    let out = Command::new("chroot")
        .arg("--userspec=65532:65532")
        .arg(&rootfs)
        .args(["/usr/local/bin/drydock", "check", &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains(" 0 failed"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    // The image's own entrypoint and command, on loopback instead of every address.
    let mut argv: Vec<String> = config["config"]["Entrypoint"]
        .as_array()
        .unwrap()
        .iter()
        .chain(config["config"]["Cmd"].as_array().unwrap())
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let inner = free_port();
    let addr = argv.iter().position(|a| a == "0.0.0.0:5000").expect("the command listens on port 5000");
    argv[addr] = format!("127.0.0.1:{inner}");
    let mut serve = Command::new("chroot");
    serve.arg("--userspec=65532:65532").arg(&rootfs).args(&argv);
    let _inside = spawn_listening(&mut serve, inner);
    let pushed = push_blob(inner, "from/the-image", b"stored by the image's own registry");
    let (status, _) = http(inner, "GET", &format!("/v2/from/the-image/blobs/{pushed}"), "x", b"");
    assert_eq!(status, 200);
    let data = rootfs.join("var/lib/drydock/docker/registry/v2/blobs");
    let owner = run(Command::new("stat").args(["-c", "%u"]).arg(&data));
    assert_eq!(owner.trim(), "65532", "the volume is written by the image's user");
}
