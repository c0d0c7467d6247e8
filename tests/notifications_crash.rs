//! Nothing acknowledged is lost: `drydock serve` killed with SIGKILL while its
//! webhook endpoint is down delivers every acknowledged push after a restart,
//! once the endpoint comes up. And `drydock events` lists and replays what an
//! endpoint kept rejecting.

mod common;

use common::receiver::{Receiver, wait_for};
use common::{Scratch, drydock_serve_config, free_port, push_blob};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;

fn write_config(dir: &Path, receiver_port: u16, extra: &str) -> std::path::PathBuf {
    let path = dir.join("drydock.toml");
    std::fs::write(
        &path,
        format!(
            "root = {:?}\n[[notifications.endpoints]]\nname = \"hook\"\nurl = \"http://127.0.0.1:{receiver_port}/events\"\nthreshold = 1\nbackoff = \"50ms\"\ntimeout = \"1s\"\n{extra}",
            dir.join("storage")
        ),
    )
    .unwrap();
    path
}

fn push(port: u16, data: &[u8]) -> String {
    push_blob(port, "crash/test", data)
}

#[test]
fn acknowledged_pushes_survive_sigkill_while_the_endpoint_is_down() {
    let scratch = Scratch::new("crash");
    let receiver_port = free_port(); // nothing listens there yet
    let config = write_config(&scratch.0, receiver_port, "");
    let (server, port) = drydock_serve_config(&config);
    let pushed: Vec<String> = (0..6u8).map(|i| push(port, &vec![i; 1000 + usize::from(i)])).collect();
    // SIGKILL: no shutdown path runs.
    let mut server = server;
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    drop(server);

    let (_server, _port) = drydock_serve_config(&config);
    let receiver = Receiver::start(receiver_port, 200);
    wait_for("every acknowledged push to be delivered", || receiver.digests().len() >= pushed.len());
    assert_eq!(receiver.digests(), pushed, "each event once, in acknowledgement order");
}

#[test]
fn rejected_events_are_dead_lettered_then_replayed() {
    let scratch = Scratch::new("dead-letters");
    let receiver_port = free_port();
    let receiver = Receiver::start(receiver_port, 422);
    let config = write_config(&scratch.0, receiver_port, "max_attempts = 2\n");
    let (server, port) = drydock_serve_config(&config);
    let pushed = vec![push(port, b"first"), push(port, b"second")];
    let events = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_drydock"))
            .arg("events")
            .args(args)
            .args(["--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    wait_for("both events to be dead-lettered", || events(&["list"]).contains("2 dead-lettered"));
    let listing = events(&["list", "--endpoint", "hook"]);
    assert!(listing.contains("push crash/test@") && listing.contains("0 pending"), "{listing}");
    // With only the storage root, every queue the storage holds is listed.
    let by_root = Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["events", "list", "--root"])
        .arg(scratch.0.join("storage"))
        .output()
        .unwrap();
    let by_root = String::from_utf8(by_root.stdout).unwrap();
    assert!(by_root.contains("endpoint hook: 0 pending, 2 dead-lettered"), "{by_root}");

    receiver.status.store(200, Ordering::SeqCst);
    assert!(events(&["replay", "--endpoint", "hook"]).contains("replayed 2 event(s)"));
    wait_for("the replayed events", || receiver.digests().len() >= 2);
    assert_eq!(receiver.digests(), pushed);
    assert!(events(&["list"]).contains("0 dead-lettered"));
    drop(server);
}
