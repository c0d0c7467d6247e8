//! Token authentication end to end, with `drydock token` as the token
//! service: the 401 challenge names realm, service and scope; `drydock
//! check` and skopeo run the bearer flow with credentials; a token is held
//! to its signer, issuer, audience and scopes (403 where it names the
//! repository but grants less, 401 insufficient_scope where it is silent);
//! a mount needs leave to pull the source.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn drydock(args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_drydock")).args(args))
}

struct Setup {
    _token_service: auth::TokenService,
    _registry: Process,
    port: u16,
    key: std::path::PathBuf,
}

fn setup(scratch: &Path) -> Setup {
    let service = auth::token_service(scratch);
    let (registry, port) = auth::token_registry(scratch, &service);
    let key = service.key.clone();
    Setup { _token_service: service, _registry: registry, port, key }
}

fn issue(key: &Path, scopes: &[&str]) -> String {
    let mut args = vec!["token", "issue", "--issuer", "test-issuer", "--service", "test-registry", "--subject", "bob"];
    let key = key.to_str().unwrap().to_owned();
    args.extend(["--key", &key]);
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    drydock(&args).trim().to_owned()
}

fn bearer(port: u16, method: &str, path: &str, token: &str) -> (u16, String) {
    bearer_body(port, method, path, token, b"")
}

fn bearer_body(port: u16, method: &str, path: &str, token: &str, body: &[u8]) -> (u16, String) {
    http_auth(port, method, path, &format!("Bearer {token}"), body)
}

#[test]
fn the_bearer_flow_with_drydock_as_token_service() {
    let scratch = Scratch::new("auth-token");
    let s = setup(&scratch.0);
    let (status, answer) = http(s.port, "GET", "/v2/a/tags/list", "x", b"");
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer.contains("Bearer realm=\"http://127.0.0.1:")
            && answer.contains("service=\"test-registry\",scope=\"repository:a:pull\""),
        "{answer}"
    );
    let url = format!("http://127.0.0.1:{}", s.port);
    let out = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["check", &url, "--only", "base/", "--only", "push/chunked/201", "--only", "pull/manifest/by-tag"])
        .args(["--only", "push/mount/from-201", "--username", "alice", "--password", "wonderland"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.ends_with("5 passed, 0 failed, 0 skipped\n"), "{stdout}");
    let out = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["check", &url, "--only", "base/v2-200", "--username", "alice", "--password", "wrong"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong password gets no token");
}

#[test]
fn a_token_is_held_to_its_signer_issuer_and_scopes() {
    let scratch = Scratch::new("auth-token-scopes");
    let s = setup(&scratch.0);
    let pull_a = issue(&s.key, &["repository:a:pull"]);
    assert_eq!(bearer(s.port, "GET", "/v2/a/tags/list", &pull_a).0, 404, "allowed: the repository is just empty");
    let (status, answer) = bearer(s.port, "POST", "/v2/a/blobs/uploads/", &pull_a);
    assert_eq!(status, 403, "pull only, push asked: {answer}");
    assert!(answer.contains("DENIED"), "{answer}");
    // RFC 6750: the 403 names the scope needed, for a client to ask for it.
    assert!(
        answer.contains("error=\"insufficient_scope\"") && answer.contains("scope=\"repository:a:pull,push\""),
        "{answer}"
    );
    let (status, answer) = bearer(s.port, "GET", "/v2/b/tags/list", &pull_a);
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer.contains("error=\"insufficient_scope\"") && answer.contains("scope=\"repository:b:pull\""),
        "{answer}"
    );
    // Signed by a key the registry does not trust.
    let (other_key, other_cert) = (scratch.0.join("other.pem"), scratch.0.join("other-cert.pem"));
    drydock(&["token", "keygen", "--key", other_key.to_str().unwrap(), "--cert", other_cert.to_str().unwrap()]);
    let forged = issue(&other_key, &["repository:a:pull"]);
    let (status, answer) = bearer(s.port, "GET", "/v2/a/tags/list", &forged);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("error=\"invalid_token\""), "{answer}");
    // Its key id names no trusted key; without the id, the signature fails.
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, forged.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"].as_str().map(|k| k.split(':').count()), Some(12), "{header}");
    // A token for another registry.
    let mut args = vec!["token", "issue", "--issuer", "test-issuer", "--service", "elsewhere", "--subject", "bob"];
    let key = s.key.to_str().unwrap().to_owned();
    args.extend(["--key", &key, "--scope", "repository:a:pull"]);
    let elsewhere = drydock(&args).trim().to_owned();
    assert_eq!(bearer(s.port, "GET", "/v2/a/tags/list", &elsewhere).0, 401);
    // A mount needs leave to pull the source: without it, an upload session.
    let push_all = issue(&s.key, &["repository:src:pull,push", "repository:dst:pull,push"]);
    let data = b"mountable";
    let d = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, data);
    let (status, _) = bearer_body(s.port, "POST", &format!("/v2/src/blobs/uploads/?digest={d}"), &push_all, data);
    assert_eq!(status, 201);
    let path = format!("/v2/dst/blobs/uploads/?mount={d}&from=src");
    // Silent about the source: asked to come back with it, as the challenge names it.
    let dst_only = issue(&s.key, &["repository:dst:pull,push"]);
    let (status, answer) = bearer(s.port, "POST", &path, &dst_only);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("scope=\"repository:dst:pull,push repository:src:pull\""), "{answer}");
    // The issuer refused pull on the source: no mount, an upload session.
    let no_pull = issue(&s.key, &["repository:dst:pull,push", "repository:src:push"]);
    assert_eq!(bearer(s.port, "POST", &path, &no_pull).0, 202, "no pull on src: no mount");
    assert_eq!(bearer(s.port, "POST", &path, &push_all).0, 201);
    // Automatic mounts would reach repositories the token does not name.
    assert_eq!(bearer(s.port, "POST", &format!("/v2/dst/blobs/uploads/?mount={d}"), &push_all).0, 202);
}

#[test]
fn skopeo_pushes_and_pulls_through_the_token_flow() {
    if !require(&["skopeo", "umoci"]) {
        return;
    }
    let scratch = Scratch::new("auth-token-skopeo");
    let layout = build_layout(&scratch.0, &["amd64"], None);
    let s = setup(&scratch.0);
    let target = format!("docker://127.0.0.1:{}/token/app:amd64", s.port);
    let source = format!("oci:{}:amd64", layout.display());
    let copy = |args: &[&str], from: &str, to: &str| {
        Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--preserve-digests"])
            .args(args)
            .args([from, to])
            .output()
            .unwrap()
    };
    assert!(!copy(&["--dest-tls-verify=false"], &source, &target).status.success(), "anonymous push refused");
    let pushed = copy(&["--dest-tls-verify=false", "--dest-creds", "alice:wonderland"], &source, &target);
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    let pulled = scratch.0.join("pulled");
    let dest = format!("oci:{}:amd64", pulled.display());
    let ok = copy(&["--src-tls-verify=false", "--src-creds", "alice:wonderland"], &target, &dest);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(digest_of(&pulled, "amd64"), digest_of(&layout, "amd64"));
}

/// The tokens `drydock token` issues are the tokens distribution expects:
/// Debian's docker-registry (2.8.2) and drydock, configured from one
/// `config.yml` with `auth.token` and sharing one storage directory, each
/// take skopeo's push and serve the other's pull through the same service.
#[test]
fn distribution_and_drydock_take_the_same_tokens() {
    if !require(&["skopeo", "umoci", "docker-registry"]) {
        return;
    }
    let scratch = Scratch::new("auth-token-distribution");
    let layout = build_layout(&scratch.0, &["one", "two"], None);
    let service = auth::token_service(&scratch.0);
    let root = scratch.0.join("storage");
    std::fs::create_dir_all(&root).unwrap();
    let config = scratch.0.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:5001\n  secret: shared-secret\n\
             auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            root.display(),
            service.realm,
            auth::SERVICE,
            auth::ISSUER,
            service.cert.display()
        ),
    )
    .unwrap();
    let theirs = free_port();
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(&config).env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{theirs}"));
    let _distribution = spawn_listening(&mut cmd, theirs);
    let (_drydock, ours) = drydock_serve_config(&config);
    let creds = format!("{}:{}", auth::ALICE.0, auth::ALICE.1);
    let copy = |from: String, to: String| {
        run(Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--preserve-digests", "--src-tls-verify=false"])
            .args(["--dest-tls-verify=false", "--src-creds", &creds, "--dest-creds", &creds])
            .args([from, to]));
    };
    for (tag, push_to, pull_from) in [("one", theirs, ours), ("two", ours, theirs)] {
        copy(format!("oci:{}:{tag}", layout.display()), format!("docker://127.0.0.1:{push_to}/shared/app:{tag}"));
        let pulled = scratch.0.join(format!("pulled-{tag}"));
        copy(format!("docker://127.0.0.1:{pull_from}/shared/app:{tag}"), format!("oci:{}:{tag}", pulled.display()));
        assert_eq!(digest_of(&pulled, tag), digest_of(&layout, tag));
    }
    // Both refuse the anonymous.
    for port in [theirs, ours] {
        assert_eq!(http(port, "GET", "/v2/shared/app/tags/list", "x", b"").0, 401);
    }
}
