//! `drydock gc`: one garbage collection over a registry's storage, whether
//! or not the registry is running (see `drydock_reference::registry::gc` for
//! why that is safe with a grace, and why `--grace 0s` is not).

use super::serve::{SystemClock, entropy};
use drydock_reference::registry::gc;
use drydock_reference::{Env, Registry};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// The registry's configuration file (TOML or distribution's config.yml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Storage root (overrides the file's).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Keep unreferenced blobs touched more recently than this (`1h`, `30m`;
    /// default: the file's `[gc] grace`). `0s` removes every unreferenced
    /// blob at once: only with no pushes running.
    #[arg(long, value_parser = humantime::parse_duration)]
    grace: Option<Duration>,
    /// Report what would be removed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also remove manifests no tag reaches (not tagged, not in a kept
    /// index, not a referrer of a kept manifest), once past the grace.
    #[arg(long)]
    delete_untagged: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = crate::config::load_offline(args.config.as_deref(), args.root.as_deref())?;
    let grace = args.grace.unwrap_or(config.gc.grace);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let registry =
            Registry::new(config.driver(entropy()?).await?, Env::new(Arc::new(SystemClock), entropy()?), b"gc", false);
        let options = gc::Options { grace, dry_run: args.dry_run, delete_untagged: args.delete_untagged };
        let report = gc::collect(&registry, &options).await?;
        let verb = if args.dry_run { "would remove" } else { "removed" };
        for (repo, d) in &report.untagged_removed {
            println!("{verb} untagged manifest {repo}@{d}");
        }
        for (d, size) in &report.removed {
            println!("{verb} {d} ({size} bytes)");
        }
        let freed: u64 = report.removed.iter().map(|(_, s)| s).sum();
        let untagged = if args.delete_untagged {
            format!("{verb} {} untagged manifest(s), ", report.untagged_removed.len())
        } else {
            String::new()
        };
        println!(
            "{untagged}{} referenced, {verb} {} ({freed} bytes), {} unreferenced kept within the {} grace",
            report.referenced,
            report.removed.len(),
            report.kept_recent,
            humantime::format_duration(grace)
        );
        Ok(ExitCode::SUCCESS)
    })
}
