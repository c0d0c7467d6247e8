//! The simulator's own proof: every scenario is deterministic and passes on
//! the real server, and every planted bug is caught within the number of
//! seeds its scenario documents.

use drydock_sim::{Mutant, run, scenarios};

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

#[test]
fn every_planted_bug_is_caught() {
    for s in scenarios::all().into_iter().filter(|s| s.mutant != Mutant::None) {
        let caught = (0..s.catch_within).find(|&seed| !run(&s, seed, true).passed());
        assert!(caught.is_some(), "{}: mutant {} survived {} seeds", s.name, s.mutant.name(), s.catch_within);
    }
}
