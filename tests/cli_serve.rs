//! `drydock serve` as a process: it listens, answers, logs its instance id,
//! and exits cleanly on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

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
