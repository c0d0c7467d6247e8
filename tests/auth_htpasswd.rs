//! htpasswd basic auth end to end: skopeo pushes and pulls with
//! credentials and is refused without; `drydock check --username
//! --password` passes through it; every answer without valid credentials is
//! a 401 carrying the challenge, and nothing is stored by a refused request.

mod common;

use common::*;
use std::process::Command;

#[test]
fn every_endpoint_asks_for_credentials_and_takes_valid_ones() {
    let scratch = Scratch::new("auth-basic");
    let (_server, port) = auth::htpasswd_registry(&scratch.0);
    let data = b"a blob nobody may push anonymously";
    let d = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, data);
    for (method, path) in [
        ("GET", "/v2/".to_owned()),
        ("GET", "/v2/_catalog".to_owned()),
        ("GET", "/v2/a/tags/list".to_owned()),
        ("HEAD", format!("/v2/a/blobs/{d}")),
        ("POST", format!("/v2/a/blobs/uploads/?digest={d}")),
        ("PUT", "/v2/a/manifests/latest".to_owned()),
        ("DELETE", format!("/v2/a/blobs/{d}")),
    ] {
        let (status, answer) = http(port, method, &path, "application/octet-stream", data);
        assert_eq!(status, 401, "{method} {path}: {answer}");
        assert!(answer.contains("www-authenticate: Basic realm=\"drydock test\""), "{answer}");
        if method != "HEAD" {
            assert!(answer.contains("UNAUTHORIZED"), "{answer}");
        }
    }
    // A refused push stored nothing.
    let basic =
        format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "alice:wonderland"));
    let (status, _) = http_auth(port, "HEAD", &format!("/v2/a/blobs/{d}"), &basic, b"");
    assert_eq!(status, 404);
    let url = format!("http://127.0.0.1:{port}");
    let check = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(["check", &url, "--only", "base/", "--only", "push/chunked/201", "--only", "pull/manifest/by-tag"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, out) = check(&["--username", "alice", "--password", "wonderland"]);
    assert!(ok && out.ends_with("4 passed, 0 failed, 0 skipped\n"), "{out}");
    let (ok, out) = check(&["--username", "alice", "--password", "looking-glass"]);
    assert!(!ok && out.contains("got 401"), "wrong password:\n{out}");
    let (ok, out) = check(&[]);
    assert!(!ok && out.contains("got 401"), "no credentials:\n{out}");
}

#[test]
fn skopeo_logs_in_to_push_and_pull() {
    if !require(&["skopeo", "umoci"]) {
        return;
    }
    let scratch = Scratch::new("auth-skopeo");
    let layout = build_layout(&scratch.0, &["amd64"], None);
    let (_server, port) = auth::htpasswd_registry(&scratch.0);
    let target = format!("docker://127.0.0.1:{port}/auth/app:amd64");
    let copy = |args: &[&str], from: &str, to: &str| {
        Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--preserve-digests"])
            .args(args)
            .args([from, to])
            .output()
            .unwrap()
    };
    let source = format!("oci:{}:amd64", layout.display());
    let refused = copy(&["--dest-tls-verify=false"], &source, &target);
    assert!(!refused.status.success(), "an anonymous push must be refused");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("401") || stderr.to_lowercase().contains("unauthorized"), "{stderr}");
    let pushed = copy(&["--dest-tls-verify=false", "--dest-creds", "bob:builder"], &source, &target);
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let pulled = scratch.0.join("pulled");
    let dest = format!("oci:{}:amd64", pulled.display());
    let anonymous = copy(&["--src-tls-verify=false"], &target, &dest);
    assert!(!anonymous.status.success(), "an anonymous pull must be refused");
    let ok = copy(&["--src-tls-verify=false", "--src-creds", "alice:wonderland"], &target, &dest);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(digest_of(&pulled, "amd64"), digest_of(&layout, "amd64"));
    assert_blobs_identical(&pulled, &layout);
}
