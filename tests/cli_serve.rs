//! `drydock serve` as a process: it listens, answers, logs its instance id,
//! and exits cleanly on SIGTERM.

mod common;

use common::{Process, free_port, spawn_listening};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn serves_and_shuts_down_on_sigterm() {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--storage", "memory", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut answer = None;
    for _ in 0..200 {
        answer = get(port, "/v2/");
        if answer.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let answer = answer.expect("server never answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("docker-distribution-api-version: registry/2.0"));

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("instance_id"), "{log}");
    assert!(log.contains("status=200"), "{log}");
}

fn start(args: &[&str]) -> (Process, u16) {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
    cmd.arg("serve").args(args).args(["--storage", "memory", "--addr", &format!("127.0.0.1:{port}")]);
    (spawn_listening(&mut cmd, port), port)
}

#[test]
fn a_tls_client_hello_on_the_plain_port_is_answered_or_closed_at_once() {
    let (_server, port) = start(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // A hang here is what clients that probe https first suffer from.
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The start of a TLS 1.2 ClientHello record.
    s.write_all(&[0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03]).unwrap();
    s.write_all(&[0u8; 40]).unwrap();
    let mut buf = Vec::new();
    let result = s.read_to_end(&mut buf);
    assert!(result.is_ok(), "the server left the probe hanging: {result:?}");
}

#[tokio::test]
async fn serves_https_when_a_certificate_is_configured() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls;

    let dir = std::env::temp_dir().join(format!("drydock-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let config = dir.join("drydock.toml");
    std::fs::write(
        &config,
        format!("[tls]\ncertificate = {:?}\nkey = {:?}\n", dir.join("cert.pem"), dir.join("key.pem")),
    )
    .unwrap();
    let (_server, port) = start(&["--config", config.to_str().unwrap()]);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"GET /v2/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut out = String::new();
    tls.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn accepts_a_distribution_config_yml() {
    let dir = std::env::temp_dir().join(format!("drydock-yml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let yml = dir.join("config.yml");
    std::fs::write(&yml, "version: 0.1\nlog:\n  level: info\nstorage:\n  inmemory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:1\n").unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["serve", "--config", yml.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let child = Process(child);
    for _ in 0..200 {
        if get(port, "/v2/").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    let mut child = child;
    let mut log = String::new();
    child.0.stdout.take().unwrap().read_to_string(&mut log).unwrap();
    assert!(log.contains("key=log"), "the ignored key is named: {log}");
    assert!(log.contains("storage=\"inmemory\""), "{log}");
    std::fs::remove_dir_all(&dir).unwrap();
}
