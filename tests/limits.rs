//! Limits and timeouts of `drydock serve`, against misbehaving clients:
//! headers sent too slowly (slowloris), connections left idle, an upload
//! body that stalls, many stalled uploads (memory bounded, and given back),
//! more connections than the cap, and a process out of file descriptors. Each test waits for the server to act (bounded waits),
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

/// The resident memory of process `pid`, in bytes (Linux's /proc).
fn resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().trim().trim_end_matches("kB").trim();
    kib.parse::<u64>().unwrap() * 1024
}

/// The most `pid` holds while sampled for a second (the server reads what
/// the stalled clients sent as it arrives; this only waits for it to land).
fn peak_resident(pid: u32) -> u64 {
    (0..10)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            resident(pid)
        })
        .max()
        .unwrap()
}

/// Starts `n` uploads whose PATCH sends `each` bytes of a body declared
/// twice as long, then sends nothing more.
fn stalled_uploads(port: u16, n: usize, each: usize) -> Vec<TcpStream> {
    let bytes = vec![7u8; each];
    (0..n)
        .map(|_| {
            let (status, answer) = http(port, "POST", "/v2/stall/blobs/uploads/", "x", b"");
            assert_eq!(status, 202, "{answer}");
            let location = answer.lines().find_map(|l| l.strip_prefix("location: ")).unwrap().trim().to_owned();
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            let head = format!("PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", 2 * each);
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&bytes).unwrap();
            s
        })
        .collect()
}

/// 80 uploads stall with 3 MiB each (under the 4 MiB append chunk, so each
/// would hold all of it), three rounds over: together they hold no more
/// than the configured upload buffer plus a read buffer per connection, and
/// once they have ended the memory goes back to the OS (the server trims
/// its heap every few seconds; `serve.rs`, `heap`).
#[test]
fn stalled_uploads_hold_bounded_memory_and_give_it_back() {
    const BUDGET: u64 = 32 << 20;
    const UPLOADS: usize = 80;
    const EACH: usize = 3 << 20;
    const ROUNDS: usize = 3;
    /// hyper's read buffer tops out near 400 KiB per connection.
    const PER_CONNECTION: u64 = 1 << 20;
    /// The runtime, the allocator's own bookkeeping and kept free memory.
    const SLACK: u64 = 64 << 20;
    /// What may stay above the starting point once everything has ended.
    const RETURNED: u64 = 32 << 20;
    let scratch = Scratch::new("limits-stall-memory");
    let (server, port) = serve_with(&scratch, &format!("upload_buffer_bytes = {BUDGET}\n"));
    let pid = server.0.id();
    let baseline = resident(pid);
    for round in 0..ROUNDS {
        let stalled = stalled_uploads(port, UPLOADS, EACH);
        let held = peak_resident(pid).saturating_sub(baseline);
        let bound = BUDGET + UPLOADS as u64 * PER_CONNECTION + SLACK;
        assert!(
            held <= bound,
            "round {round}: {UPLOADS} stalled uploads of {EACH} bytes hold {} MiB, above {} MiB",
            held >> 20,
            bound >> 20
        );
        drop(stalled);
        // The server sees each connection end at once (EOF) and appends
        // what it held; the next request is served after that.
        assert_eq!(http(port, "GET", "/v2/", "x", b"").0, 200);
    }
    // Bounded wait: many times the trim interval, not a speed target.
    let sent = (ROUNDS * UPLOADS * EACH) as u64;
    let mut kept = u64::MAX;
    for _ in 0..60 {
        kept = resident(pid).saturating_sub(baseline);
        if kept <= RETURNED {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        kept <= RETURNED,
        "{} MiB still held 30 s after {} MiB of stalled uploads ended (at most {} MiB may stay)",
        kept >> 20,
        sent >> 20,
        RETURNED >> 20
    );
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
