//! `drydock sim` as a user runs it: the scenario list, a seed range on the
//! real server, a planted bug caught with the command that replays it, and
//! the same seed giving the same trace twice.

use std::process::Command;

fn sim(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_drydock")).arg("sim").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn list_run_catch_and_replay() {
    let (ok, list) = sim(&["list"]);
    assert!(ok);
    for name in [
        "same-blob",
        "tag-race",
        "upload-resume",
        "event-crash",
        "delete-pull",
        "commit-lag",
        "receiver-outage",
        "purge-race",
        "gc-race",
    ] {
        assert!(list.contains(name), "{list}");
    }
    let (ok, out) = sim(&["run", "--scenario", "tag-race", "--seeds", "0..4"]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().last(), Some("4 passed, 0 failed"));

    let (ok, out) = sim(&["run", "--scenario", "upload-resume", "--seeds", "0..3", "--mutant"]);
    assert!(!ok, "{out}");
    assert!(out.contains("replay: drydock sim run --scenario upload-resume --seeds 0..1 --mutant --trace"), "{out}");

    let (_, a) = sim(&["run", "--scenario", "event-crash", "--seeds", "5", "--trace"]);
    let (_, b) = sim(&["run", "--scenario", "event-crash", "--seeds", "5", "--trace"]);
    let timeline = |s: &str| s.lines().take_while(|l| !l.contains("seeds in")).map(str::to_owned).collect::<Vec<_>>();
    assert!(a.contains("fingerprint") && a.contains("crash r1"), "{a}");
    assert_eq!(timeline(&a), timeline(&b));
}
