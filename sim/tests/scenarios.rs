//! The simulator's own proof: every scenario is deterministic and passes on
//! the real server, and every planted bug is caught within the number of
//! seeds its scenario documents.

use drydock_sim::{Mutant, StorageModel, run, run_with_budget, scenarios};

/// Seeds each scenario runs on the real server in the test suite.
const SEEDS: u64 = 4;

#[test]
fn every_scenario_is_deterministic_and_passes() {
    for s in scenarios::all() {
        for seed in 0..SEEDS {
            let a = run(&s, seed, false);
            let b = run(&s, seed, false);
            assert_eq!(a.fingerprint, b.fingerprint, "{} seed {seed}: two runs differ", s.name);
            assert_eq!(a.trace, b.trace);
            assert!(
                a.passed(),
                "{} seed {seed} failed on the real server: {:?}\n{}",
                s.name,
                a.violations,
                a.trace.join("\n")
            );
            assert!(a.trace.len() > 5, "{} seed {seed}: the run did nothing", s.name);
        }
    }
}

/// Every scenario on S3's models (uploads as segments, moves as copies,
/// with and without conditional writes): deterministic, and the real server
/// passes. (Mutants are bugs of one layout; each is caught on its own
/// scenario's backend, below.)
#[test]
fn every_scenario_passes_on_the_object_store_models() {
    for storage in [StorageModel::S3, StorageModel::S3Unconditional] {
        for s in scenarios::all().into_iter().filter(|s| s.storage.is_none()) {
            for seed in 0..SEEDS / 2 {
                let a = run_with_budget(&s, seed, false, None, storage);
                let b = run_with_budget(&s, seed, false, None, storage);
                assert_eq!(
                    a.fingerprint,
                    b.fingerprint,
                    "{} on {} seed {seed}: two runs differ",
                    s.name,
                    storage.name()
                );
                assert!(
                    a.passed(),
                    "{} on {} seed {seed} failed on the real server: {:?}\n{}",
                    s.name,
                    storage.name(),
                    a.violations,
                    a.trace.join("\n")
                );
                assert!(a.replay_command().contains(&format!("--storage {}", storage.name())));
            }
        }
    }
}

#[test]
fn every_planted_bug_is_caught() {
    for s in scenarios::all().into_iter().filter(|s| s.mutant != Mutant::None) {
        let caught = (0..s.catch_within).find(|&seed| !run(&s, seed, true).passed());
        assert!(caught.is_some(), "{}: mutant {} survived {} seeds", s.name, s.mutant.name(), s.catch_within);
    }
}

/// The generated workloads catch planted bugs beyond their own, knowing
/// nothing of them: `interleavings`' chunked pushes and read-back after the
/// run (every acknowledged blob, from every instance) find the stale piece
/// record `push-records` was written for; `s3-interleavings`' closing bodies
/// (one byte short among them) find a whole body streamed into place on an
/// object store without the digest check.
#[test]
fn the_generated_workloads_also_catch_bugs_they_were_not_written_for() {
    for (name, mutant) in
        [("interleavings", Mutant::RecordAnyOffset), ("s3-interleavings", Mutant::WholeBodyUnverified)]
    {
        let mut s = drydock_sim::scenario(name).unwrap();
        s.mutant = mutant;
        let caught = (0..s.catch_within).find(|&seed| !run(&s, seed, true).passed());
        assert!(caught.is_some(), "{name}: {} survived {} seeds", mutant.name(), s.catch_within);
    }
}

#[test]
fn a_generated_failure_shrinks_to_a_shorter_run_that_still_fails() {
    let s = drydock_sim::scenario("interleavings").unwrap();
    let seed = (0..s.catch_within).find(|&seed| !run(&s, seed, true).passed()).expect("the mutant is caught");
    let full = run(&s, seed, true);
    let short = drydock_sim::shrink(&s, seed, true, StorageModel::Files).expect("a failing generated run shrinks");
    assert!(!short.passed());
    let budget = short.budget.expect("a shrunk run records its budget");
    assert!(budget < s.generated_ops.unwrap(), "shrinking kept all {budget} operations");
    assert!(short.trace.len() < full.trace.len());
    assert!(short.replay_command().contains(&format!("--budget {budget}")));
    // The shrunk run replays exactly.
    let again = run_with_budget(&s, seed, true, Some(budget), StorageModel::Files);
    assert_eq!(again.fingerprint, short.fingerprint);
}

/// A world whose server task panics while a client waits on it.
fn panicking_world(cfg: &drydock_sim::RunConfig) -> Vec<String> {
    let mut sim = drydock_sim::builder(cfg.seed).build();
    sim.host("server", || async {
        tokio::spawn(async { panic!("handler bug") });
        std::future::pending::<()>().await;
        Ok(())
    });
    sim.client("client", async {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        Ok(())
    });
    sim.run().err().map(|e| vec![e.to_string()]).unwrap_or_default()
}

#[test]
fn a_panicking_server_task_fails_the_run() {
    let s = scenarios::Scenario {
        name: "panics",
        description: "",
        origin: "",
        mutant: Mutant::None,
        catch_within: 0,
        run: panicking_world,
        generated_ops: None,
        storage: None,
    };
    let outcome = run(&s, 0, false);
    assert!(outcome.violations.iter().any(|v| v.contains("handler bug")), "{:?}", outcome.violations);
    // Panics outside a run are not collected into the next one.
    assert!(run(&scenarios::all()[0], 0, false).passed());
}
