//! `drydock sim`: list the scenarios, run seeds, replay one with its trace.
//! Each seed is a separate, single-threaded simulation; this command only
//! spreads independent seeds over `--jobs` threads.

use anyhow::{Context, bail};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Name every scenario, what it does, and the bug it comes from.
    List,
    /// Run a scenario over a range of seeds.
    Run {
        #[arg(long)]
        scenario: String,
        /// Seeds as `A..B` (B excluded) or a single seed.
        #[arg(long, default_value = "0..100")]
        seeds: String,
        /// Simulations at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
        /// Print each run's timeline (sim time, host, request, fault).
        #[arg(long)]
        trace: bool,
        /// Run the scenario's deliberately wrong server instead of the real one.
        #[arg(long)]
        mutant: bool,
        /// Operations per client in a generated scenario (replays a shrunk failure).
        #[arg(long)]
        budget: Option<usize>,
        /// Shrink each failure of a generated scenario to the fewest operations
        /// per client that still fail, and print that run's trace.
        #[arg(long)]
        shrink: bool,
        /// The backend storage behaves as: `files` (append, atomic rename),
        /// `s3` (no append, no rename, conditional writes honoured) or
        /// `s3-unconditional` (conditional writes ignored).
        #[arg(long, default_value = "files", value_parser = parse_storage)]
        storage: drydock_sim::StorageModel,
    },
}

fn parse_storage(s: &str) -> Result<drydock_sim::StorageModel, String> {
    drydock_sim::StorageModel::parse(s).ok_or_else(|| {
        let names: Vec<_> = drydock_sim::StorageModel::ALL.iter().map(|m| m.name()).collect();
        format!("no storage model {s:?}; one of {}", names.join(", "))
    })
}

/// Width of the progress bar, in cells.
const BAR_CELLS: usize = 30;

/// Redraws the progress bar on a terminal; elsewhere (CI logs) prints a
/// line at every tenth of the run.
fn progress(done: usize, total: usize, failing: usize) {
    let filled = done * BAR_CELLS / total.max(1);
    let bar =
        format!("[{}{}] {done}/{total} seeds, {failing} failing", "#".repeat(filled), ".".repeat(BAR_CELLS - filled));
    if std::io::stderr().is_terminal() {
        eprint!("\r{bar}");
    } else if done == total || done * 10 / total.max(1) != (done - 1) * 10 / total.max(1) {
        eprintln!("{bar}");
    }
}

fn parse_seeds(s: &str) -> anyhow::Result<std::ops::Range<u64>> {
    match s.split_once("..") {
        Some((a, b)) => {
            let (a, b): (u64, u64) = (a.parse().context("seed range start")?, b.parse().context("seed range end")?);
            if b <= a {
                bail!("empty seed range {s}");
            }
            Ok(a..b)
        }
        None => {
            let a: u64 = s.parse().context("seed")?;
            Ok(a..a + 1)
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::List => {
            for s in drydock_sim::scenarios::all() {
                println!("{:<16} {}", s.name, s.description);
                println!("{:<16} from: {}", "", s.origin);
                let storage = match s.storage {
                    Some(only) => format!("{} only", only.name()),
                    None => {
                        let names: Vec<_> = drydock_sim::StorageModel::ALL.iter().map(|m| m.name()).collect();
                        names.join(", ")
                    }
                };
                println!("{:<16} storage: {storage}", "");
                if s.mutant != drydock_sim::Mutant::None {
                    println!("{:<16} catches: {} within {} seeds", "", s.mutant.name(), s.catch_within);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { scenario, seeds, jobs, trace, mutant, budget, shrink, storage } => {
            let s = drydock_sim::scenario(&scenario)
                .with_context(|| format!("no scenario {scenario:?}; see `drydock sim list`"))?;
            let seeds = parse_seeds(&seeds)?;
            let total = (seeds.end - seeds.start) as usize;
            let next = AtomicU64::new(seeds.start);
            // Seeds finished, counted and drawn under one lock, so the
            // counter never goes backwards between threads.
            let done = Mutex::new(0usize);
            let requests = AtomicUsize::new(0);
            let failures = Mutex::new(Vec::new());
            let started = std::time::Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..jobs.max(1) {
                    scope.spawn(|| {
                        loop {
                            let seed = next.fetch_add(1, Ordering::Relaxed);
                            if seed >= seeds.end {
                                break;
                            }
                            let outcome = drydock_sim::run_with_budget(&s, seed, mutant, budget, storage);
                            requests.fetch_add(
                                outcome.trace.iter().filter(|l| l.contains(" -> ")).count(),
                                Ordering::Relaxed,
                            );
                            if trace {
                                let mut out = std::io::stdout().lock();
                                let _ = writeln!(out, "== {} seed {seed} fingerprint {}", s.name, outcome.fingerprint);
                                for l in &outcome.trace {
                                    let _ = writeln!(out, "{l}");
                                }
                            }
                            if !outcome.passed() {
                                failures.lock().unwrap_or_else(|p| p.into_inner()).push(outcome);
                            }
                            let mut done = done.lock().unwrap_or_else(|p| p.into_inner());
                            *done += 1;
                            let failing = failures.lock().unwrap_or_else(|p| p.into_inner()).len();
                            progress(*done, total, failing);
                        }
                    });
                }
            });
            if std::io::stderr().is_terminal() {
                eprintln!();
            }
            let elapsed = started.elapsed().as_secs_f64().max(1e-9);
            let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
            failures.sort_by_key(|o| o.seed);
            for f in &failures {
                println!("FAIL {} seed {}:", f.scenario, f.seed);
                for v in &f.violations {
                    println!("    {v}");
                }
                println!("    replay: {}", f.replay_command());
                if shrink && let Some(short) = drydock_sim::shrink(&s, f.seed, f.mutant, storage) {
                    let ops = short.budget.unwrap_or_default();
                    println!("    shrunk to {ops} operations per client ({} trace lines):", short.trace.len());
                    for v in &short.violations {
                        println!("      {v}");
                    }
                    for l in &short.trace {
                        println!("      {l}");
                    }
                    println!("    replay: {}", short.replay_command());
                }
            }
            println!(
                "{} seeds in {elapsed:.2}s: {:.0} seeds/min, {:.0} simulated requests/s",
                total,
                total as f64 * 60.0 / elapsed,
                requests.load(Ordering::Relaxed) as f64 / elapsed
            );
            println!("{} passed, {} failed", total - failures.len(), failures.len());
            Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
