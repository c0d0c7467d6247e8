//! `drydock events`: the operator's view of undeliverable notifications.
//! Works on the storage a registry uses (same `--config`/`--root`), whether
//! or not the registry is running; a running registry delivers replayed
//! events within a second.

use crate::config;
use anyhow::bail;
use drydock_reference::notifications::queue::EventQueue;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
    /// The registry's configuration file (TOML or distribution's config.yml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Storage root (overrides the file's).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List dead-lettered events (and how many are pending) per endpoint.
    List {
        /// Only this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Put dead-lettered events back in their endpoint's queue.
    Replay {
        /// The endpoint whose dead letters to replay.
        #[arg(long)]
        endpoint: String,
        /// Keys to replay (from `list`); none means all.
        keys: Vec<String>,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = config::load_offline(args.config.as_deref(), args.root.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let driver = config.driver(crate::cmd::serve::entropy()?).await?;
        // The configured endpoints and every queue the storage holds (an
        // endpoint removed from the configuration may still hold events;
        // with only --root, the storage is all there is to go by).
        let mut names: Vec<String> = config.endpoints()?.into_iter().map(|e| e.name).collect();
        match driver.list(drydock_reference::notifications::queue::ROOT).await {
            Ok(found) => names.extend(found),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        names.sort();
        names.dedup();
        let queue = |name: &str| EventQueue::new(driver.clone(), name, "cli");
        match &args.command {
            Command::List { endpoint } => {
                for name in names.iter().filter(|n| endpoint.as_ref().is_none_or(|e| e == *n)) {
                    let q = queue(name);
                    let dead = q.dead().await?;
                    println!("endpoint {name}: {} pending, {} dead-lettered", q.count_pending().await?, dead.len());
                    for d in dead {
                        let t = &d.event.target;
                        let what = t
                            .tag
                            .as_deref()
                            .map(|tag| format!(":{tag}"))
                            .or(t.digest.as_ref().map(|d| format!("@{d}")));
                        println!(
                            "  {}  {}  {} {}{}",
                            d.key,
                            d.event.id,
                            d.event.action.name(),
                            t.repository,
                            what.unwrap_or_default()
                        );
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Replay { endpoint, keys } => {
                if !names.contains(endpoint) {
                    bail!("no endpoint named {endpoint:?} in the configuration or the storage");
                }
                let q = queue(endpoint);
                let keys: Vec<String> =
                    if keys.is_empty() { q.dead().await?.into_iter().map(|d| d.key).collect() } else { keys.clone() };
                for key in &keys {
                    q.replay(key).await?;
                }
                println!("replayed {} event(s) for endpoint {endpoint}", keys.len());
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
