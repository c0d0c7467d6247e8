//! Helpers for tests that drive real programs: `drydock serve`, skopeo,
//! umoci, Debian's docker-registry.

#![allow(dead_code)] // each test binary uses its own subset

pub mod auth;
pub mod garage;
pub mod receiver;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Whether the tools exist; outside CI a missing tool skips the test (said
/// on stderr), under CI it fails it.
pub fn require(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !have(t)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI must have {missing:?} (scripts/install-test-deps installs them)");
    eprintln!("skipped: {missing:?} not installed");
    false
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child process killed and reaped when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nothing listens on, never handed out before in this test process.
/// A port is released as soon as it is found, so without the record two tests
/// running in parallel could be given the same one before either server binds
/// it: both `spawn_listening` calls then see the one that won, and the loser's
/// test talks to the other test's server.
pub fn free_port() -> u16 {
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

/// Two different free ports.
pub fn two_free_ports() -> (u16, u16) {
    (free_port(), free_port())
}

/// Spawns `cmd` and waits until `port` accepts connections.
pub fn spawn_listening(cmd: &mut Command, port: u16) -> Process {
    let mut process =
        Process(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}")));
    for _ in 0..400 {
        if let Ok(Some(status)) = process.0.try_wait() {
            panic!("{cmd:?} exited ({status}) before listening on {port}");
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return process;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("{cmd:?} never listened on {port}");
}

pub fn drydock_serve(extra: &[&str], root: &Path) -> (Process, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
    cmd.arg("serve").args(extra).args(["--addr", &format!("127.0.0.1:{port}"), "--root"]).arg(root);
    (spawn_listening(&mut cmd, port), port)
}

/// `drydock serve --config FILE` on a free port.
pub fn drydock_serve_config(config: &Path) -> (Process, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
    cmd.args(["serve", "--config", config.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")]);
    (spawn_listening(&mut cmd, port), port)
}

/// One HTTP/1.1 exchange with `127.0.0.1:port` on a fresh connection:
/// the status code and the whole answer.
pub fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    exchange(port, method, path, &[("Content-Type", content_type)], body)
}

/// [`http`] with an `Authorization` header (`Basic …`, `Bearer …`).
pub fn http_auth(port: u16, method: &str, path: &str, authorization: &str, body: &[u8]) -> (u16, String) {
    exchange(port, method, path, &[("Authorization", authorization)], body)
}

/// One exchange with any headers (see [`http`]).
pub fn exchange(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    (answer[9..12].parse().unwrap(), answer)
}

/// Pushes `data` as a blob of `repo` with one monolithic POST, which must
/// answer 201; returns its digest.
pub fn push_blob(port: u16, repo: &str, data: &[u8]) -> String {
    let digest = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, data).to_string();
    let path = format!("/v2/{repo}/blobs/uploads/?digest={digest}");
    let (status, answer) = http(port, "POST", &path, "application/octet-stream", data);
    assert_eq!(status, 201, "{answer}");
    digest
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("drydock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Builds an OCI layout at `dir/layout` with one two-layer image per tag
/// and, if `index_tag` is given, an index over all of them under that tag.
pub fn build_layout(dir: &Path, tags: &[&str], index_tag: Option<&str>) -> PathBuf {
    let layout = dir.join("layout");
    run(Command::new("umoci").args(["init", "--layout"]).arg(&layout));
    for tag in tags {
        let image = format!("{}:{tag}", layout.display());
        run(Command::new("umoci").args(["new", "--image", &image]));
        for layer in ["base", "app"] {
            let file = dir.join(format!("{tag}-{layer}.txt"));
            std::fs::write(&file, format!("{layer} layer built for {tag}\n")).unwrap();
            run(Command::new("umoci")
                .args(["insert", "--rootless", "--image", &image])
                .arg(&file)
                .arg(format!("/{layer}.txt")));
        }
    }
    if let Some(index_tag) = index_tag {
        let mut index = json(&layout.join("index.json"));
        let children: Vec<serde_json::Value> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let arch = m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap().to_owned();
                serde_json::json!({"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
                                   "platform": {"os": "linux", "architecture": arch}})
            })
            .collect();
        let multi = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children
        }))
        .unwrap();
        let d = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, &multi);
        std::fs::write(layout.join("blobs/sha256").join(d.hex()), &multi).unwrap();
        index["manifests"].as_array_mut().unwrap().push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": d.as_str(), "size": multi.len(),
            "annotations": {"org.opencontainers.image.ref.name": index_tag}
        }));
        std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    }
    layout
}

/// The manifest digest a layout's `index.json` records for `tag`.
pub fn digest_of(layout: &Path, tag: &str) -> String {
    let index = json(&layout.join("index.json"));
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{tag} not in {}", layout.display()))
}

pub fn skopeo_push(layout: &Path, tag: &str, port: u16, repo: &str, all: bool) {
    let mut push = Command::new("skopeo");
    push.args(["--insecure-policy", "copy", "--preserve-digests", "--dest-tls-verify=false"]);
    if all {
        push.arg("--all");
    }
    run(push.arg(format!("oci:{}:{tag}", layout.display())).arg(format!("docker://127.0.0.1:{port}/{repo}:{tag}")));
}

pub fn skopeo_pull(port: u16, repo: &str, tag: &str, layout: &Path, all: bool) {
    let mut pull = Command::new("skopeo");
    pull.args(["--insecure-policy", "copy", "--preserve-digests", "--src-tls-verify=false"]);
    if all {
        pull.arg("--all");
    }
    run(pull.arg(format!("docker://127.0.0.1:{port}/{repo}:{tag}")).arg(format!("oci:{}:{tag}", layout.display())));
}

pub fn skopeo_raw_manifest(port: u16, repo: &str, tag: &str) -> String {
    run(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://127.0.0.1:{port}/{repo}:{tag}"),
    ]))
}

/// Asserts every blob in `pulled` is byte-identical to the same blob in `original`.
pub fn assert_blobs_identical(pulled: &Path, original: &Path) {
    for entry in std::fs::read_dir(pulled.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let want = std::fs::read(original.join("blobs/sha256").join(entry.file_name())).unwrap();
        assert_eq!(std::fs::read(entry.path()).unwrap(), want, "{:?}", entry.file_name());
    }
}

/// What the interop tests share: `one` and the index `both` pushed through
/// the registry on port `theirs` and pulled through `ours` into
/// `interop/app`; `two` pushed through `ours` into `interop/other` and pulled
/// through `theirs`; every pulled blob byte-identical to `layout`'s, and the
/// two registries serving the same manifest bytes.
pub fn images_cross_both_ways(scratch: &Path, layout: &Path, theirs: u16, ours: u16) {
    skopeo_push(layout, "one", theirs, "interop/app", false);
    skopeo_push(layout, "both", theirs, "interop/app", true);
    let pulled = scratch.join("pulled-from-drydock");
    skopeo_pull(ours, "interop/app", "one", &pulled, false);
    skopeo_pull(ours, "interop/app", "both", &pulled, true);
    assert_eq!(digest_of(&pulled, "one"), digest_of(layout, "one"));
    assert_eq!(digest_of(&pulled, "both"), digest_of(layout, "both"));
    assert_blobs_identical(&pulled, layout);

    skopeo_push(layout, "two", ours, "interop/other", false);
    let pulled = scratch.join("pulled-from-distribution");
    skopeo_pull(theirs, "interop/other", "two", &pulled, false);
    assert_eq!(digest_of(&pulled, "two"), digest_of(layout, "two"));
    assert_blobs_identical(&pulled, layout);
    assert_eq!(skopeo_raw_manifest(theirs, "interop/other", "two"), skopeo_raw_manifest(ours, "interop/other", "two"));
}
