//! `drydock serve`: run the reference registry on a TCP port.
//!
//! Everything the registry takes from the OS is decided here and passed in:
//! the listener, the system clock, an entropy-seeded random source.

use anyhow::Context;
use drydock_reference::storage::{FilesystemDriver, InMemoryDriver, StorageDriver};
use drydock_reference::{Clock, Env, Registry};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    Filesystem,
    Memory,
}

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen address (overrides the file's `addr`).
    #[arg(long)]
    addr: Option<String>,
    /// Storage root for the filesystem driver (overrides `root`).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Storage driver (overrides `storage`).
    #[arg(long, value_enum)]
    storage: Option<StorageKind>,
}

/// The configuration file. Every key is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listen address.
    addr: String,
    /// `filesystem` or `memory`.
    storage: StorageKind,
    /// Root directory of filesystem storage.
    root: PathBuf,
    /// Whether blob and manifest deletes are allowed.
    delete: bool,
    /// Secret that signs upload state; instances sharing storage must share
    /// it. Unset: a random secret per process (uploads cannot move between
    /// instances).
    secret: Option<String>,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    shutdown_grace_secs: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "127.0.0.1:5000".into(),
            storage: StorageKind::Filesystem,
            root: PathBuf::from("./drydock-data"),
            delete: true,
            secret: None,
            shutdown_grace_secs: 30,
        }
    }
}

struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

fn load(args: &Args) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(a) = &args.addr {
        config.addr = a.clone();
    }
    if let Some(r) = &args.root {
        config.root = r.clone();
    }
    if let Some(s) = args.storage {
        config.storage = s;
    }
    Ok(config)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = load(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

fn entropy<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("reading OS entropy: {e}"))?;
    Ok(b)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let driver: Arc<dyn StorageDriver> = match config.storage {
        StorageKind::Filesystem => {
            std::fs::create_dir_all(&config.root).with_context(|| format!("creating {}", config.root.display()))?;
            Arc::new(FilesystemDriver::new(&config.root))
        }
        StorageKind::Memory => Arc::new(InMemoryDriver::new()),
    };
    let env = Env::new(Arc::new(SystemClock), entropy()?);
    let secret = match &config.secret {
        Some(s) => s.as_bytes().to_vec(),
        None => entropy::<32>()?.to_vec(),
    };
    let registry = Registry::new(driver, env.clone(), &secret, config.delete);
    let listener =
        tokio::net::TcpListener::bind(&config.addr).await.with_context(|| format!("binding {}", config.addr))?;
    tracing::info!(
        instance_id = %env.new_uuid(),
        addr = %listener.local_addr()?,
        storage = registry.driver.name(),
        root = %display_root(&config),
        delete_enabled = config.delete,
        "drydock registry listening"
    );

    let graceful = inflight::Tracker::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let registry = registry.clone();
                let guard = graceful.enter();
                let mut stop = stop_rx.clone();
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                tokio::spawn(async move {
                    if let Err(e) = drydock_reference::http::serve_connection(registry, stream, stopped).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    drop(guard);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    if tokio::time::timeout(grace, graceful.wait()).await.is_err() {
        tracing::warn!("grace period over; closing remaining connections");
    }
    Ok(())
}

fn display_root(config: &Config) -> String {
    match config.storage {
        StorageKind::Filesystem => Path::new(&config.root).display().to_string(),
        StorageKind::Memory => "-".into(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Counting in-flight connections so shutdown can wait for them.
mod inflight {
    use std::sync::Arc;
    use tokio::sync::watch;

    #[derive(Clone)]
    pub struct Tracker {
        tx: Arc<watch::Sender<usize>>,
    }

    impl Default for Tracker {
        fn default() -> Tracker {
            Tracker { tx: Arc::new(watch::channel(0).0) }
        }
    }

    pub struct Guard(Arc<watch::Sender<usize>>);

    impl Tracker {
        pub fn enter(&self) -> Guard {
            self.tx.send_modify(|n| *n += 1);
            Guard(self.tx.clone())
        }

        pub async fn wait(&self) {
            let mut rx = self.tx.subscribe();
            let _ = rx.wait_for(|n| *n == 0).await;
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.send_modify(|n| *n -= 1);
        }
    }
}
