//! `drydock gc` on the storage of a running `drydock serve`: a grace keeps a
//! blob pushed a moment ago; `--dry-run` changes nothing; `--grace 0s`
//! removes exactly the unreferenced blobs and the image stays pullable;
//! `--delete-untagged` removes an untagged manifest and keeps the tagged one.

mod common;

use common::{Scratch, drydock_serve, http, push_blob};
use std::process::Command;

fn push(port: u16, data: &[u8]) -> String {
    push_blob(port, "gc/app", data)
}

fn gc(root: &std::path::Path, args: &[&str]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_drydock")).arg("gc").arg("--root").arg(root).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn collects_only_unreferenced_blobs_and_respects_the_grace() {
    let scratch = Scratch::new("cli-gc");
    let (_server, port) = drydock_serve(&[], &scratch.0);
    let config = push(port, b"{}");
    let layer = push(port, b"a layer");
    let orphan = push(port, b"pushed, never referenced");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 7}],
    }))
    .unwrap();
    let (status, answer) =
        http(port, "PUT", "/v2/gc/app/manifests/v1", "application/vnd.oci.image.manifest.v1+json", &manifest);
    assert_eq!(status, 201, "{answer}");

    let kept = gc(&scratch.0, &["--grace", "1h"]);
    assert!(kept.ends_with("3 referenced, removed 0 (0 bytes), 1 unreferenced kept within the 1h grace\n"), "{kept}");
    let dry = gc(&scratch.0, &["--grace", "0s", "--dry-run"]);
    assert_eq!(dry.lines().next().unwrap(), format!("would remove {orphan} (24 bytes)"));
    assert_eq!(http(port, "HEAD", &format!("/v2/gc/app/blobs/{orphan}"), "x", b"").0, 200);

    let swept = gc(&scratch.0, &["--grace", "0s"]);
    assert_eq!(swept.lines().next().unwrap(), format!("removed {orphan} (24 bytes)"), "{swept}");
    assert_eq!(http(port, "HEAD", &format!("/v2/gc/app/blobs/{orphan}"), "x", b"").0, 404);
    for d in [&config, &layer] {
        assert_eq!(http(port, "GET", &format!("/v2/gc/app/blobs/{d}"), "x", b"").0, 200, "{d}");
    }
    let (status, _) = http(port, "GET", "/v2/gc/app/manifests/v1", "x", b"");
    assert_eq!(status, 200);

    // An untagged manifest goes with --delete-untagged; the tagged one stays.
    let mut untagged: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    untagged["annotations"] = serde_json::json!({"untagged": "yes"});
    let untagged = serde_json::to_vec(&untagged).unwrap();
    let d = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, &untagged).to_string();
    let oci = "application/vnd.oci.image.manifest.v1+json";
    assert_eq!(http(port, "PUT", &format!("/v2/gc/app/manifests/{d}"), oci, &untagged).0, 201);
    let out = gc(&scratch.0, &["--grace", "0s", "--delete-untagged"]);
    assert_eq!(out.lines().next().unwrap(), format!("removed untagged manifest gc/app@{d}"), "{out}");
    assert_eq!(http(port, "GET", &format!("/v2/gc/app/manifests/{d}"), oci, b"").0, 404);
    assert_eq!(http(port, "GET", "/v2/gc/app/manifests/v1", oci, b"").0, 200);
}

#[test]
fn offline_commands_refuse_a_root_that_does_not_exist() {
    let scratch = Scratch::new("cli-gc-typo");
    let typo = scratch.0.join("typo");
    for command in [&["gc", "--root"][..], &["events", "list", "--root"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_drydock")).args(command).arg(&typo).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains("does not exist"), "{command:?}: {stderr}");
        assert!(!typo.exists(), "{command:?} must not create the root");
    }
}
