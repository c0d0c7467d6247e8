//! Limits and timeouts of `drydock serve`, against misbehaving clients:
//! headers sent too slowly (slowloris), connections left idle, an upload
//! body that stalls, more connections than the cap, and a process out of
//! file descriptors. Each test waits for the server to act (bounded waits),
//! never asserts how fast it did.

mod common;

use common::{Scratch, free_port, http, spawn_listening};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn serve_with(scratch: &Scratch, limits: &str) -> (common::Process, u16) {
    let config = scratch.0.join("drydock.toml");
    std::fs::write(&config, format!("[limits]\n{limits}")).unwrap();
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
    cmd.args(["serve", "--config", config.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}"), "--root"])
        .arg(scratch.0.join("storage"));
    (spawn_listening(&mut cmd, port), port)
}

/// Whether the server closed `s` (EOF or reset), reading and discarding
/// whatever it sent first. `within` only keeps a broken server from hanging
/// the test: it is many times the timeout under test, not a speed target.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let end = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn slow_headers_and_idle_connections_are_closed() {
    let scratch = Scratch::new("limits-slowloris");
    let (_server, port) = serve_with(&scratch, "header_read_timeout = \"1s\"\n");
    let mut slow: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").unwrap();
            s
        })
        .collect();
    for (i, s) in slow.iter_mut().enumerate() {
        assert!(closed_within(s, Duration::from_secs(15)), "slow connection {i} was held open");
    }
    // A connection that finished a request and then sits idle goes too.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(15)), "an idle keep-alive connection was held open");
    // The server still serves.
    assert_eq!(http(port, "GET", "/v2/", "x", b"").0, 200);
}

#[test]
fn a_stalled_upload_ends_and_keeps_what_was_appended() {
    let scratch = Scratch::new("limits-stall");
    let (_server, port) = serve_with(&scratch, "body_progress_timeout = \"1s\"\n");
    let (status, answer) = http(port, "POST", "/v2/stall/blobs/uploads/", "x", b"");
    assert_eq!(status, 202, "{answer}");
    let location = answer.lines().find_map(|l| l.strip_prefix("location: ")).unwrap().trim().to_owned();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
    )
    .unwrap();
    s.write_all(&[7u8; 40_000]).unwrap();
    // ...and nothing more, with the connection left open.
    assert!(closed_within(&mut s, Duration::from_secs(15)), "a stalled body was waited on forever");
    let (status, answer) = http(port, "GET", &location, "x", b"");
    assert_eq!(status, 204, "{answer}");
    assert!(answer.contains("range: 0-39999"), "the 40,000 bytes that arrived are kept:\n{answer}");
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let scratch = Scratch::new("limits-cap");
    let (_server, port) = serve_with(&scratch, "max_connections = 2\n");
    let held: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut buf = [0u8; 512];
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            assert!(s.read(&mut buf).unwrap() > 0);
            s
        })
        .collect();
    let mut third = TcpStream::connect(("127.0.0.1", port)).unwrap();
    third.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    third.set_read_timeout(Some(Duration::from_millis(700))).unwrap();
    let mut buf = [0u8; 512];
    assert!(third.read(&mut buf).is_err(), "a third connection was served beyond the cap of 2");
    drop(held);
    third.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let n = third.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "served once a slot was free");
}

#[test]
fn out_of_descriptors_it_backs_off_quietly_and_recovers() {
    let scratch = Scratch::new("limits-emfile");
    let port = free_port();
    let log = scratch.0.join("serve.log");
    let drydock = env!("CARGO_BIN_EXE_drydock");
    let root = scratch.0.join("storage");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -n 48 && exec {drydock} serve --addr 127.0.0.1:{port} --root {}", root.display()))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let child = common::Process(cmd.spawn().unwrap());
    let up = (0..400).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the server never listened");
    // Far more connections than the process has descriptors for.
    let flood: Vec<TcpStream> = (0..120).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect();
    std::thread::sleep(Duration::from_secs(3));
    let logged = std::fs::metadata(&log).unwrap().len();
    assert!(logged < 64 * 1024, "{logged} bytes of log in 3 s of exhaustion: a hot loop");
    drop(flood);
    let served = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::panic::catch_unwind(|| http(port, "GET", "/v2/", "x", b"").0).is_ok_and(|s| s == 200)
    });
    assert!(served, "not serving again after the flood ended");
    drop(child);
}
