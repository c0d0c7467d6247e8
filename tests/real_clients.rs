//! Real clients against `drydock serve`: skopeo pushes OCI layouts built by
//! umoci (one image, and a multi-platform index) and pulls them back; every
//! digest and byte must survive the round trip.
//!
//! Needs `skopeo` and `umoci` (Debian packages; `scripts/test` installs them).
//! Without them the test says so and passes, except under CI, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(root: &Path) -> (Server, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Wrapped at once so the process is killed and reaped on every path.
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_drydock"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--root"])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, port);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("drydock serve did not start");
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Builds an OCI layout with two single-file images (`amd64`, `arm64`) and an
/// index (`multi`) over both.
fn build_layout(dir: &Path) {
    let layout = dir.join("layout");
    run(Command::new("umoci").args(["init", "--layout"]).arg(&layout));
    for (tag, text) in [("amd64", "built for amd64\n"), ("arm64", "built for arm64\n")] {
        let image = format!("{}:{tag}", layout.display());
        run(Command::new("umoci").args(["new", "--image", &image]));
        let file = dir.join(format!("{tag}.txt"));
        std::fs::write(&file, text).unwrap();
        run(Command::new("umoci")
            .args(["insert", "--rootless", "--image", &image])
            .arg(&file)
            .arg(format!("/{tag}.txt")));
    }
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
        "annotations": {"org.opencontainers.image.ref.name": "multi"}
    }));
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn digest_of(layout: &Path, tag: &str) -> String {
    let index = json(&layout.join("index.json"));
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{tag} not in {}", layout.display()))
}

#[test]
fn skopeo_round_trips_images_and_indexes() {
    if !(have("skopeo") && have("umoci")) {
        assert!(std::env::var_os("CI").is_none(), "CI must have skopeo and umoci (scripts/install-test-deps)");
        eprintln!("skipped: skopeo/umoci not installed");
        return;
    }
    let dir: PathBuf = std::env::temp_dir().join(format!("drydock-real-clients-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    build_layout(&dir);
    let (_server, port) = start_server(&dir.join("registry"));
    let layout = dir.join("layout");
    let pulled = dir.join("pulled");
    for (tag, all) in [("amd64", false), ("multi", true)] {
        let remote = format!("docker://127.0.0.1:{port}/drydock/test:{tag}");
        let mut push = Command::new("skopeo");
        push.args(["--insecure-policy", "copy", "--preserve-digests", "--dest-tls-verify=false"]);
        if all {
            push.arg("--all");
        }
        run(push.arg(format!("oci:{}:{tag}", layout.display())).arg(&remote));
        let raw = run(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &remote]));
        let served = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, raw.as_bytes());
        assert_eq!(served.as_str(), digest_of(&layout, tag), "{tag}: served manifest bytes differ");
        let mut pull = Command::new("skopeo");
        pull.args(["--insecure-policy", "copy", "--preserve-digests", "--src-tls-verify=false"]);
        if all {
            pull.arg("--all");
        }
        run(pull.arg(&remote).arg(format!("oci:{}:{tag}", pulled.display())));
        assert_eq!(digest_of(&pulled, tag), digest_of(&layout, tag));
    }
    // Every blob pulled back is byte-identical to the one pushed.
    for entry in std::fs::read_dir(pulled.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let original = std::fs::read(layout.join("blobs/sha256").join(entry.file_name())).unwrap();
        assert_eq!(std::fs::read(entry.path()).unwrap(), original, "{:?}", entry.file_name());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
