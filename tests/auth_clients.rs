//! Real clients log in with both schemes: podman and oras (oras-py, the
//! ORAS project's Python client) push and pull through `drydock serve`
//! behind htpasswd basic auth and behind token auth with `drydock token
//! serve`, and are refused without credentials or with wrong ones.
//! (skopeo's logins are in auth_htpasswd.rs and auth_token.rs.)

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// podman without a daemon, in its own storage and credentials file.
struct Podman {
    root: PathBuf,
}

impl Podman {
    fn new(dir: &Path) -> Podman {
        let root = dir.join("podman");
        std::fs::create_dir_all(&root).unwrap();
        // podman wants its credentials file to exist before any login.
        std::fs::write(root.join("auth.json"), "{}").unwrap();
        Podman { root }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("podman")
            .args(["--storage-driver", "vfs", "--root"])
            .arg(self.root.join("storage"))
            .arg("--runroot")
            .arg(self.root.join("run"))
            .args(args)
            .env("REGISTRY_AUTH_FILE", self.root.join("auth.json"))
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "podman {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn refused(&self, args: &[&str]) {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(!out.status.success(), "podman {args:?} should have been refused");
        assert!(stderr.contains("unauthorized") || stderr.contains("401"), "podman {args:?}: {stderr}");
    }
}

/// Logs in, pushes an image, pulls it back by name, logs out; refused
/// before and after, and with a wrong password.
fn podman_round_trip(scratch: &Path, port: u16) {
    let layout = build_layout(scratch, &["amd64"], None);
    let podman = Podman::new(scratch);
    let local = format!("oci:{}:amd64", layout.display());
    let image = podman.ok(&["pull", "-q", &local]).trim().to_owned();
    let remote = format!("127.0.0.1:{port}/clients/podman:v1");
    let host = format!("127.0.0.1:{port}");
    podman.refused(&["push", "--tls-verify=false", &image, &remote]);
    let login =
        |password: &str| podman.run(&["login", "--tls-verify=false", "-u", auth::ALICE.0, "-p", password, &host]);
    assert!(!login("looking-glass").status.success(), "a wrong password must not log in");
    let out = login(auth::ALICE.1);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    podman.ok(&["push", "--tls-verify=false", &image, &remote]);
    podman.ok(&["rmi", "-a", "-f"]);
    podman.ok(&["pull", "--tls-verify=false", &remote]);
    let images = podman.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(images.contains(&format!("{host}/clients/podman:v1 {}", &image[..12])), "{images}");
    podman.ok(&["logout", &host]);
    podman.refused(&["pull", "--tls-verify=false", &remote]);
}

/// The Python interpreter of the virtualenv holding oras-py, which
/// scripts/install-test-deps creates.
fn oras_python() -> Option<PathBuf> {
    let python = std::env::var_os("DRYDOCK_ORAS_PYTHON").map(PathBuf::from).or_else(|| {
        let home = std::env::var_os("HOME")?;
        Some(PathBuf::from(home).join(".cache/drydock-test-tools/oras-py/bin/python"))
    });
    match python {
        Some(p) if p.exists() => Some(p),
        _ => {
            assert!(std::env::var_os("CI").is_none(), "CI must have oras-py (scripts/install-test-deps installs it)");
            eprintln!("skipped: oras-py not installed (scripts/install-test-deps)");
            None
        }
    }
}

fn oras(python: &Path, port: u16, scheme: &str, password: &str, scratch: &Path) -> (i32, String) {
    let file = scratch.join("artifact.txt");
    std::fs::write(&file, format!("an artifact pushed with {scheme} auth\n")).unwrap();
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/oras_roundtrip.py"))
        .arg(format!("127.0.0.1:{port}"))
        .args(["clients/oras:v1", auth::ALICE.0, password, scheme])
        .arg(&file)
        .arg(scratch.join(format!("oras-out-{password}")))
        .current_dir(scratch)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn oras_round_trip(python: &Path, scratch: &Path, port: u16, scheme: &str) {
    let (code, out) = oras(python, port, scheme, "looking-glass", scratch);
    assert_eq!(code, 3, "a wrong password must be refused:\n{out}");
    let (code, out) = oras(python, port, scheme, auth::ALICE.1, scratch);
    assert_eq!(code, 0, "{out}");
    let pulled = scratch.join(format!("oras-out-{}", auth::ALICE.1)).join("artifact.txt");
    assert_eq!(std::fs::read_to_string(pulled).unwrap(), format!("an artifact pushed with {scheme} auth\n"));
}

#[test]
fn podman_logs_in_with_basic_auth() {
    if !require(&["podman", "umoci"]) {
        return;
    }
    let scratch = Scratch::new("clients-podman-basic");
    let (_registry, port) = auth::htpasswd_registry(&scratch.0);
    podman_round_trip(&scratch.0, port);
}

#[test]
fn podman_logs_in_with_token_auth() {
    if !require(&["podman", "umoci"]) {
        return;
    }
    let scratch = Scratch::new("clients-podman-token");
    let service = auth::token_service(&scratch.0);
    let (_registry, port) = auth::token_registry(&scratch.0, &service);
    podman_round_trip(&scratch.0, port);
}

#[test]
fn oras_logs_in_with_basic_auth() {
    let Some(python) = oras_python() else { return };
    let scratch = Scratch::new("clients-oras-basic");
    let (_registry, port) = auth::htpasswd_registry(&scratch.0);
    oras_round_trip(&python, &scratch.0, port, "basic");
}

/// oras asks for a pull-only token first (its first request is a HEAD),
/// then pushes with it: the 403 must name the scope it needs for oras to
/// fetch a wider token.
#[test]
fn oras_logs_in_with_token_auth() {
    let Some(python) = oras_python() else { return };
    let scratch = Scratch::new("clients-oras-token");
    let service = auth::token_service(&scratch.0);
    let (_registry, port) = auth::token_registry(&scratch.0, &service);
    oras_round_trip(&python, &scratch.0, port, "token");
}
