//! Deterministic simulation of registries, clients, webhook receivers and
//! storage under injected faults (`drydock sim`).
//!
//! A run is a `(scenario, seed)` pair: turmoil runs every host in one
//! process on simulated network and time; the seed draws every fault
//! (network latency, storage errors and stalls, list lag, crash moments) and
//! seeds every registry's random source. The same pair gives the same trace,
//! line for line; [`Outcome::fingerprint`] proves it.
//!
//! - `net`: hosts (registry, webhook receiver) and the workload client.
//! - `storage`: the shared backend with seeded faults and storage mutants.
//! - `scenarios`: worlds, workloads and oracles; each names the real bug it
//!   comes from and the wrong server variant it must catch.
//! - `trace`: the timeline and its fingerprint.

pub mod ledger;
pub mod net;
pub mod scenarios;
pub mod storage;
pub mod trace;

pub use scenarios::{Mutant, RunConfig, Scenario};
pub use storage::StorageModel;

use drydock_reference::notifications::EndpointConfig;
use std::sync::Arc;
use std::time::Duration;

/// Simulated time a run may take before it counts as hung.
pub const SIM_DURATION: Duration = Duration::from_secs(120);

/// The turmoil world every scenario starts from: seeded, with latency.
pub fn builder(seed: u64) -> turmoil::Builder {
    let mut b = turmoil::Builder::new();
    b.rng_seed(seed)
        .simulation_duration(SIM_DURATION)
        .tick_duration(Duration::from_millis(1))
        .min_message_latency(Duration::from_micros(200))
        .max_message_latency(Duration::from_millis(2 + seed % 5));
    b
}

/// Steps `sim` by hand until every client has finished, calling
/// `chaos(sim, step)` after each step (steps count from 1) so a scenario can
/// crash, restart, partition and repair hosts at seeded moments. Returns the
/// steps taken and how the simulation ended.
pub fn drive<'a>(
    sim: &mut turmoil::Sim<'a>,
    mut chaos: impl FnMut(&mut turmoil::Sim<'a>, usize),
) -> (usize, Result<(), String>) {
    let mut step = 0;
    loop {
        match sim.step() {
            Ok(true) => return (step, Ok(())),
            Ok(false) => {}
            Err(e) => return (step, Err(e.to_string())),
        }
        step += 1;
        chaos(sim, step);
    }
}

/// Steps `sim` until `done()` holds, at most `steps` times (hosts such as
/// webhook workers keep working after the clients have finished).
pub fn settle(sim: &mut turmoil::Sim<'_>, steps: usize, mut done: impl FnMut() -> bool) {
    for _ in 0..steps {
        if done() || sim.step().is_err() {
            return;
        }
    }
}

/// A registry host sharing `storage`, with the run's mutant switched on
/// when the scenario's mutant is a server flag (storage mutants are the
/// scenario's to set on its `FaultyStorage`).
pub fn registry_host(
    name: &str,
    storage: Arc<dyn drydock_reference::storage::StorageDriver>,
    cfg: &RunConfig,
    endpoints: Vec<EndpointConfig>,
) -> net::RegistryHost {
    net::RegistryHost {
        name: name.to_owned(),
        storage,
        secret: b"sim-shared-secret".to_vec(),
        seed: cfg.seed,
        endpoints,
        mutant: cfg.mutant_kind.filter(|_| cfg.mutant),
        purge: None,
        gc: None,
        trace: cfg.trace.clone(),
    }
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub scenario: String,
    pub seed: u64,
    pub mutant: bool,
    /// Operations per client, when the run was shrunk (or asked) to fewer
    /// than the scenario's own number.
    pub budget: Option<usize>,
    /// The backend a replay must ask for: `Files` for the default, and for
    /// a scenario with a backend of its own (its name says which).
    pub storage: StorageModel,
    pub violations: Vec<String>,
    pub fingerprint: String,
    pub trace: Vec<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let mutant = if self.mutant { " --mutant" } else { "" };
        let budget = self.budget.map(|b| format!(" --budget {b}")).unwrap_or_default();
        let storage = match self.storage {
            StorageModel::Files => String::new(),
            other => format!(" --storage {}", other.name()),
        };
        format!(
            "drydock sim run --scenario {} --seeds {}..{}{mutant}{budget}{storage} --trace",
            self.scenario,
            self.seed,
            self.seed + 1
        )
    }
}

thread_local! {
    /// Panics on this thread during the current run (each run owns its
    /// thread while it lasts: turmoil is single-threaded).
    static PANICS: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// Routes panics on a thread that is running a simulation into that run's
/// violations (a registry task that panics is otherwise swallowed by its
/// runtime, and the client only sees a dropped connection). Other threads
/// keep the default behaviour.
fn watch_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let recorded = PANICS.with(|p| match p.borrow_mut().as_mut() {
                Some(panics) => {
                    panics.push(info.to_string());
                    true
                }
                None => false,
            });
            if !recorded {
                previous(info);
            }
        }));
    });
}

/// Runs one `(scenario, seed)`.
pub fn run(scenario: &Scenario, seed: u64, mutant: bool) -> Outcome {
    run_with_budget(scenario, seed, mutant, None, StorageModel::Files)
}

/// The shortest replay of a failing run of a generated scenario: the same
/// seed with the fewest operations per client that still fails (each
/// client's operations are a prefix of the full run's). `None` if the
/// scenario is not generated or the seed passes.
pub fn shrink(scenario: &Scenario, seed: u64, mutant: bool, storage: StorageModel) -> Option<Outcome> {
    let most = scenario.generated_ops?;
    (1..=most).map(|budget| run_with_budget(scenario, seed, mutant, Some(budget), storage)).find(|o| !o.passed())
}

/// Runs one `(scenario, seed)` with at most `budget` operations per client
/// in a generated workload, on `storage` (unless the scenario has its own).
pub fn run_with_budget(
    scenario: &Scenario,
    seed: u64,
    mutant: bool,
    budget: Option<usize>,
    storage: StorageModel,
) -> Outcome {
    let storage = scenario.storage.unwrap_or(storage);
    let cfg =
        RunConfig { seed, mutant, mutant_kind: Some(scenario.mutant), budget, storage, trace: trace::Trace::default() };
    watch_panics();
    PANICS.with(|p| *p.borrow_mut() = Some(Vec::new()));
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (scenario.run)(&cfg)));
    let panics = PANICS.with(|p| p.borrow_mut().take()).unwrap_or_default();
    let mut violations = ran.unwrap_or_else(|_| vec!["the simulation itself panicked".to_owned()]);
    violations.extend(panics.into_iter().map(|p| format!("a panic: {p}")));
    violations.extend(
        cfg.trace.server_errors().into_iter().map(|e| format!("a server error no client input justifies: {e}")),
    );
    violations.extend(cfg.trace.ledger().violations());
    violations.extend(cfg.trace.ledger().audit());
    Outcome {
        scenario: scenario.name.to_owned(),
        seed,
        mutant,
        budget: budget.filter(|_| scenario.generated_ops.is_some()),
        storage: if scenario.storage.is_some() { StorageModel::Files } else { storage },
        violations,
        fingerprint: cfg.trace.fingerprint(),
        trace: cfg.trace.lines(),
    }
}

pub fn scenario(name: &str) -> Option<Scenario> {
    scenarios::all().into_iter().find(|s| s.name == name)
}
