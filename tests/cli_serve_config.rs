//! `drydock serve` with distribution's configuration as operators write it:
//! settings drydock cannot honour stop it before it listens; Debian's stock
//! file (less its auth) starts with its `:5000` address and `REGISTRY_…`
//! overrides; read-only mode and custom headers apply to every request.

mod common;

use common::{Scratch, free_port, http, http_auth, push_blob, spawn_listening};
use std::process::Command;

fn drydock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_drydock"))
}

#[test]
fn unsafe_settings_stop_startup_naming_each_key() {
    let scratch = Scratch::new("serve-refuses");
    let config = scratch.0.join("config.yml");
    std::fs::write(
        &config,
        "version: 0.1\nstorage:\n  azure:\n    accountname: a\n  maintenance:\n    readonly:\n      enabled: true\nauth:\n  silly:\n    realm: https://auth.example/token\n    service: registry\nproxy:\n  remoteurl: https://registry-1.docker.io\n",
    )
    .unwrap();
    let port = free_port();
    let out = drydock()
        .args(["serve", "--config", config.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for key in ["storage.azure", "auth.silly", "proxy"] {
        assert!(stderr.contains(key), "{key} not named:\n{stderr}");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "it must never have listened");
    // Through the environment too.
    std::fs::write(scratch.0.join("empty.yml"), "version: 0.1\n").unwrap();
    let out2 = drydock()
        .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "--config"])
        .arg(scratch.0.join("empty.yml"))
        .env("REGISTRY_AUTH_SILLY_REALM", "https://auth.example/token")
        .output()
        .unwrap();
    assert!(!out2.status.success() && String::from_utf8_lossy(&out2.stderr).contains("auth.silly"));
}

#[test]
fn debians_stock_file_starts_with_environment_overrides_and_its_basic_auth() {
    let scratch = Scratch::new("serve-stock");
    let stock = std::fs::read_to_string("/etc/docker/registry/config.yml").unwrap_or_else(|_| {
        // The file as Debian ships it, for machines without the package.
        "version: 0.1\nlog:\n  fields:\n    service: registry\nstorage:\n  cache:\n    blobdescriptor: inmemory\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\n  delete:\n    enabled: true\nhttp:\n  addr: :5000\n  headers:\n    X-Content-Type-Options: [nosniff]\nauth:\n  htpasswd:\n    realm: basic-realm\n    path: /etc/docker/registry\nhealth:\n  storagedriver:\n    enabled: true\n    interval: 10s\n    threshold: 3\n".to_owned()
    });
    let config = scratch.0.join("config.yml");
    std::fs::write(&config, stock).unwrap();
    let htpasswd = scratch.0.join("htpasswd");
    std::fs::write(&htpasswd, format!("admin:{}\n", bcrypt::hash("hunter2", 4).unwrap())).unwrap();
    let port = free_port();
    let root = scratch.0.join("storage");
    let mut cmd = drydock();
    cmd.args(["serve", "--config", config.to_str().unwrap()])
        .env("REGISTRY_HTTP_ADDR", format!(":{port}"))
        .env("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", &root)
        .env("REGISTRY_AUTH_HTPASSWD_PATH", &htpasswd);
    let _server = spawn_listening(&mut cmd, port);
    let (status, answer) = http(port, "GET", "/v2/", "x", b"");
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("www-authenticate: Basic realm=\"basic-realm\""), "{answer}");
    let data = b"served from the stock configuration";
    let d = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, data);
    let basic =
        format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "admin:hunter2"));
    let (status, _) = http_auth(port, "POST", &format!("/v2/stock/app/blobs/uploads/?digest={d}"), &basic, data);
    assert_eq!(status, 201);
    let (status, answer) = http_auth(port, "GET", &format!("/v2/stock/app/blobs/{d}"), &basic, b"");
    assert_eq!(status, 200, "{answer}");
    assert!(answer.to_ascii_lowercase().contains("x-content-type-options: nosniff"), "{answer}");
    assert!(root.join("docker/registry/v2/blobs").is_dir(), "the overridden root holds the blob");
    // The stock path (a directory) is unusable: drydock does not start.
    let out = drydock()
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("REGISTRY_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", &root)
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("htpasswd"));
}

#[test]
fn read_only_mode_refuses_every_write_and_serves_reads() {
    let scratch = Scratch::new("serve-read-only");
    let root = scratch.0.join("storage");
    let writable = scratch.0.join("writable.yml");
    std::fs::write(&writable, format!("storage:\n  filesystem:\n    rootdirectory: {}\n", root.display())).unwrap();
    let port = free_port();
    let mut cmd = drydock();
    cmd.args(["serve", "--config", writable.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")]);
    let server = spawn_listening(&mut cmd, port);
    let d = push_blob(port, "ro/app", b"pushed before the switch");
    drop(server);

    let read_only = scratch.0.join("read-only.yml");
    std::fs::write(
        &read_only,
        format!(
            "storage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    readonly:\n      enabled: true\n",
            root.display()
        ),
    )
    .unwrap();
    let port = free_port();
    let mut cmd = drydock();
    cmd.args(["serve", "--config", read_only.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")]);
    let _server = spawn_listening(&mut cmd, port);
    assert_eq!(http(port, "GET", &format!("/v2/ro/app/blobs/{d}"), "x", b"").0, 200);
    let other = drydock_spec::Digest::of(drydock_spec::Algorithm::Sha256, b"new").to_string();
    for (method, path) in [
        ("POST", "/v2/ro/app/blobs/uploads/".to_owned()),
        ("POST", format!("/v2/ro/app/blobs/uploads/?digest={other}")),
        ("POST", format!("/v2/ro/other/blobs/uploads/?mount={d}&from=ro/app")),
        ("DELETE", format!("/v2/ro/app/blobs/{d}")),
        ("PUT", "/v2/ro/app/manifests/latest".to_owned()),
        ("DELETE", "/v2/ro/app/manifests/latest".to_owned()),
    ] {
        let (status, answer) = http(port, method, &path, "application/vnd.oci.image.manifest.v1+json", b"{}");
        assert_eq!(status, 405, "{method} {path}: {answer}");
        assert!(answer.contains("UNSUPPORTED") && answer.contains("read-only"), "{answer}");
    }
    assert_eq!(http(port, "GET", &format!("/v2/ro/app/blobs/{d}"), "x", b"").0, 200, "reads still work");
}

#[test]
fn debug_listener_apart_secrets_redacted_json_logs_with_request_ids() {
    let scratch = Scratch::new("serve-debug");
    let (port, debug) = common::two_free_ports();
    let config = scratch.0.join("drydock.toml");
    std::fs::write(
        &config,
        format!(
            "root = {:?}\ndebug_addr = \"127.0.0.1:{debug}\"\nlog_format = \"json\"\n[[notifications.endpoints]]\nname = \"hook\"\nurl = \"http://hook:s3cret@127.0.0.1:{}/events?token=abc123\"\nheaders = {{ Authorization = \"Bearer hidden-token\" }}\n",
            scratch.0.join("storage"),
            free_port()
        ),
    )
    .unwrap();
    let log = scratch.0.join("serve.log");
    let mut cmd = drydock();
    cmd.args(["serve", "--config", config.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")])
        .stdout(std::fs::File::create(&log).unwrap());
    let child = common::Process(cmd.stderr(std::process::Stdio::null()).spawn().unwrap());
    let up = (0..400).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(25));
        std::net::TcpStream::connect(("127.0.0.1", debug)).is_ok()
    });
    assert!(up, "the debug listener never listened");
    let d = push_blob(port, "debug/app", b"observed");
    let (status, answer) = http(port, "GET", &format!("/v2/debug/app/blobs/{d}"), "x", b"");
    assert_eq!(status, 200);
    let request_id = answer.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap().trim().to_owned();
    for path in ["/debug/vars", "/metrics", "/debug/health"] {
        assert_eq!(http(port, "GET", path, "x", b"").0, 404, "{path} must not be on the registry's port");
        let (status, answer) = http(debug, "GET", path, "x", b"");
        assert_eq!(status, 200, "{path}: {answer}");
        assert!(
            !answer.contains("s3cret") && !answer.contains("abc123") && !answer.contains("hidden-token"),
            "{answer}"
        );
    }
    let (_, vars) = http(debug, "GET", "/debug/vars", "x", b"");
    assert!(vars.contains("http://hook:***@127.0.0.1:"), "{vars}");
    let (_, metrics) = http(debug, "GET", "/metrics", "x", b"");
    assert!(metrics.contains("drydock_http_requests_total{method=\"GET\",route=\"blob\",code=\"200\"} 1"), "{metrics}");
    drop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("s3cret") && !text.contains("hidden-token"), "a secret reached the log");
    let lines: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let request = lines
        .iter()
        .find(|v| v["fields"]["message"] == "request" && v["fields"]["path"] == format!("/v2/debug/app/blobs/{d}"))
        .unwrap_or_else(|| panic!("no request line in {text}"));
    assert_eq!(request["span"]["request_id"], request_id.as_str(), "{request}");
}
