//! A three-node Garage cluster on loopback (`scripts/garage-cluster`),
//! stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Cluster {
    dir: PathBuf,
    /// Each node's S3 endpoint (`http://127.0.0.1:PORT`).
    pub endpoints: Vec<String>,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/garage-cluster")
}

/// Where `scripts/install-test-deps` installs Garage.
pub fn binary() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".cache/drydock-test-tools/garage/bin/garage")
}

/// Whether Garage is installed; outside CI a missing one skips the test (said
/// on stderr), under CI it fails it.
pub fn available() -> bool {
    if binary().exists() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI must have Garage (scripts/install-test-deps installs it)");
    eprintln!("skipped: Garage not installed at {}", binary().display());
    false
}

impl Cluster {
    /// Starts the cluster in `dir` and waits until every node serves the
    /// bucket.
    pub fn start(dir: &Path) -> Cluster {
        // One start at a time in a test process: the script picks free ports
        // and releases them before Garage binds them, so two clusters
        // starting together could pick the same one.
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A start that fails stops what it started (the script's ERR trap).
        let out = Command::new(script()).arg("start").arg(dir).env("GARAGE", binary()).output().unwrap();
        assert!(
            out.status.success(),
            "garage-cluster start failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::fs::read_to_string(dir.join("env")).unwrap();
        let value = |key: &str| -> String {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("{key} missing from the cluster's env"))
                .trim_matches('"')
                .to_owned()
        };
        Cluster {
            endpoints: value("GARAGE_ENDPOINTS").split(' ').map(str::to_owned).collect(),
            region: value("GARAGE_REGION"),
            access_key: value("GARAGE_ACCESS_KEY"),
            secret_key: value("GARAGE_SECRET_KEY"),
            bucket: value("GARAGE_BUCKET"),
            dir: dir.to_owned(),
        }
    }

    /// One signed S3 request to node `node` with curl: the status and the
    /// body. `key` is the object's key in the bucket ("" for the bucket).
    pub fn s3(&self, node: usize, method: &str, key: &str, headers: &[&str], body: Option<&[u8]>) -> (u16, Vec<u8>) {
        let url = format!("{}/{}/{key}", self.endpoints[node], self.bucket);
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30"]);
        // A HEAD told by -X would wait for a body that never comes.
        if method == "HEAD" {
            cmd.arg("--head");
        } else {
            cmd.args(["-X", method]);
        }
        cmd.arg("--aws-sigv4")
            .arg(format!("aws:amz:{}:s3", self.region))
            .arg("--user")
            .arg(format!("{}:{}", self.access_key, self.secret_key))
            // curl signs this header when it is given; S3 wants it present.
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]);
        for h in headers {
            cmd.args(["-H", h]);
        }
        let scratch = self.dir.join("request-body");
        if let Some(body) = body {
            std::fs::write(&scratch, body).unwrap();
            cmd.arg("--data-binary").arg(format!("@{}", scratch.display()));
        }
        let out = cmd.arg(&url).output().unwrap();
        assert!(out.status.success(), "curl {method} {url}: {}", String::from_utf8_lossy(&out.stderr));
        let mut answer = out.stdout;
        let split = answer.iter().rposition(|&b| b == b'\n').unwrap();
        let status = std::str::from_utf8(&answer[split + 1..]).unwrap().trim().parse().unwrap();
        answer.truncate(split);
        (status, answer)
    }
}

impl Cluster {
    /// The keys node `node` lists under `prefix` (first page: enough for
    /// what a test leaves).
    pub fn keys(&self, node: usize, prefix: &str) -> Vec<String> {
        let query = format!("?list-type=2&prefix={}", prefix.replace('/', "%2F"));
        let (status, listing) = self.s3(node, "GET", &query, &[], None);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&listing));
        let listing = String::from_utf8(listing).unwrap();
        listing.split("<Key>").skip(1).map(|rest| rest.split("</Key>").next().unwrap().to_owned()).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).status();
    }
}
