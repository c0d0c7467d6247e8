//! `drydock serve`: run the reference registry on a TCP port.
//!
//! Everything the registry takes from the OS is decided here and passed in:
//! the listener, the system clock, an entropy-seeded random source.

use crate::config::{self, Config, Loaded, StorageKind};
use anyhow::Context;
use drydock_reference::{Clock, Env, Instance, InstanceConfig};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file: drydock's TOML, or distribution's `config.yml`
    /// (by extension `.yml`/`.yaml`).
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

pub(crate) struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

fn load(args: &Args) -> anyhow::Result<Loaded> {
    let mut loaded = match &args.config {
        Some(path) => config::load(path)?,
        None => Loaded { config: Config::default(), ignored: Vec::new() },
    };
    let config = &mut loaded.config;
    if let Some(a) = &args.addr {
        config.addr = a.clone();
    }
    if let Some(r) = &args.root {
        config.root = r.clone();
    }
    if let Some(s) = args.storage {
        config.storage = s;
    }
    Ok(loaded)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let loaded = load(&args)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match loaded.config.log_format {
        config::LogFormat::Text => {
            tracing_subscriber::fmt().with_ansi(std::io::stdout().is_terminal()).with_env_filter(filter).init()
        }
        config::LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
    }
    for key in &loaded.ignored {
        tracing::warn!(key = %key, "configuration key not supported by drydock; ignored");
    }
    // Before any thread of the runtime allocates.
    heap::one_arena();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().max_blocking_threads(BLOCKING_THREADS).enable_all().build()?;
    runtime.block_on(serve(loaded.config))?;
    Ok(ExitCode::SUCCESS)
}

/// Threads for blocking filesystem calls (every `tokio::fs` call takes
/// one while it runs); past this many, calls wait for a free one instead of
/// starting more threads.
const BLOCKING_THREADS: usize = 64;

pub(crate) fn entropy<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("reading OS entropy: {e}"))?;
    Ok(b)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let driver = config.driver(entropy()?).await?;
    let env = Env::new(Arc::new(SystemClock), entropy()?);
    let secret = match &config.secret {
        Some(s) => s.as_bytes().to_vec(),
        None => entropy::<32>()?.to_vec(),
    };
    let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
    // Everything the configuration names is checked before anything listens.
    let access = config.auth.access()?;
    let limits = config.limits.connection()?;
    let (manifest_rules, endpoints) = (config.validation.to_rules()?, config.endpoints()?);
    let response_headers = config.response_headers()?;
    let addr = config::listen_addr(&config.addr);
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
    let instance = Instance::new(InstanceConfig {
        delete_enabled: config.delete,
        read_only: config.read_only,
        response_headers,
        access,
        limits,
        upload_buffer: config.limits.upload_buffer_bytes,
        automatic_mount: config.automatic_mount,
        manifest_rules,
        endpoints,
        source_addr: listener.local_addr()?.to_string(),
        scheme: if tls.is_some() { "https" } else { "http" },
        ..InstanceConfig::new(driver, env, &secret)
    });
    let connector = TcpConnector { tls: tls::connector(config.notifications.ca_certificate.as_deref())? };
    instance.notifications.start_workers(Arc::new(connector)).await?;
    tracing::info!(
        instance_id = %instance.instance_id,
        addr = %listener.local_addr()?,
        storage = instance.registry.driver.name(),
        root = %display_root(&config),
        delete_enabled = config.delete,
        read_only = config.read_only,
        auth = if config.auth.htpasswd.is_some() { "htpasswd" } else { "none" },
        tls = tls.is_some(),
        notification_endpoints = instance.notifications.endpoint_names().len(),
        "drydock registry listening"
    );
    // Said plainly, never assumed: what holds when several instances share
    // this storage.
    for g in drydock_reference::storage::cross_instance_guarantees(instance.registry.driver.capabilities()) {
        match g.holds {
            true => tracing::info!(guarantee = g.name, "across instances: {}", g.detail),
            false => tracing::warn!(guarantee = g.name, "across instances: {}", g.detail),
        }
    }
    // A read-only registry changes nothing, maintenance included.
    if config.upload_purge.enabled && !config.read_only {
        let (age, interval) = (config.upload_purge.age, config.upload_purge.interval);
        let registry = instance.registry.clone();
        tokio::spawn(drydock_reference::registry::purge::run_periodically(registry, age, interval));
    }
    if config.gc.enabled && !config.read_only {
        use drydock_reference::registry::gc;
        let options =
            gc::Options { grace: config.gc.grace, dry_run: false, delete_untagged: config.gc.delete_untagged };
        tokio::spawn(gc::run_periodically(instance.registry.clone(), options, config.gc.interval));
    }

    tokio::spawn(heap::trim_periodically());

    if let Some(addr) = &config.debug_addr {
        let addr = config::listen_addr(addr);
        let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding debug {addr}"))?;
        let bound = listener.local_addr()?;
        tracing::info!(addr = %bound, "debug listener: /debug/vars, /metrics, /debug/health");
        tokio::spawn(serve_debug(listener, instance.clone()));
    }

    let graceful = inflight::Tracker::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.limits.max_connections));
    let mut backoff = AcceptBackoff::default();
    loop {
        // At the connection cap, stop accepting: new clients wait in the
        // kernel's backlog instead of costing memory here.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => {
                        backoff.reset();
                        a
                    }
                    Err(e) => {
                        // Out of descriptors (or another transient failure):
                        // wait, growing the pause, and say so once per pause
                        // rather than spinning on the same error.
                        let pause = backoff.next();
                        tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed; pausing");
                        tokio::time::sleep(pause).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let instance = instance.clone();
                let guard = graceful.enter();
                let mut stop = stop_rx.clone();
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                let tls = tls.clone();
                tokio::spawn(async move {
                    let result = match tls {
                        None => drydock_reference::http::serve_connection(instance, stream, peer.to_string(), stopped).await,
                        Some(acceptor) => match tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => drydock_reference::http::serve_connection(instance, stream, peer.to_string(), stopped).await,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                Ok(())
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                Ok(())
                            }
                        },
                    };
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    drop(guard);
                    drop(slot);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    let _ = stop_tx.send(true);
    let grace = config.shutdown_grace;
    if tokio::time::timeout(grace, graceful.wait()).await.is_err() {
        tracing::warn!("grace period over; closing remaining connections");
    }
    Ok(())
}

/// Connections to the debug listener, a few at a time (it is for
/// operators and scrapers, not clients).
async fn serve_debug(listener: tokio::net::TcpListener, instance: Instance) {
    const DEBUG_CONNECTIONS_MAX: usize = 16;
    let slots = Arc::new(tokio::sync::Semaphore::new(DEBUG_CONNECTIONS_MAX));
    let mut backoff = AcceptBackoff::default();
    loop {
        let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        match listener.accept().await {
            Ok((stream, _)) => {
                backoff.reset();
                let instance = instance.clone();
                tokio::spawn(async move {
                    let _ = drydock_reference::http::debug::serve_debug_connection(instance, stream).await;
                    drop(slot);
                });
            }
            Err(e) => {
                let pause = backoff.next();
                tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "debug accept failed; pausing");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// Pauses after failed accepts: 10 ms doubling to 1 s, back to the start
/// after a success.
#[derive(Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: std::time::Duration = std::time::Duration::from_millis(10);
    const MAX: std::time::Duration = std::time::Duration::from_secs(1);

    fn next(&mut self) -> std::time::Duration {
        let pause = Self::FIRST.saturating_mul(1 << self.failures.min(7)).min(Self::MAX);
        self.failures += 1;
        pause
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Connections to webhook endpoints.
struct TcpConnector {
    tls: tokio_rustls::TlsConnector,
}

#[async_trait::async_trait]
impl drydock_reference::notifications::Connector for TcpConnector {
    async fn connect(&self, host: &str, port: u16) -> std::io::Result<Box<dyn drydock_reference::notifications::Io>> {
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(Box::new(stream))
    }

    async fn connect_tls(
        &self,
        host: &str,
        port: u16,
    ) -> std::io::Result<Box<dyn drydock_reference::notifications::Io>> {
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(Box::new(self.tls.connect(name, stream).await?))
    }
}

/// TLS termination with rustls.
mod tls {
    use anyhow::Context;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    /// A client that opens a connection but never finishes the handshake
    /// gets this long.
    pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

    /// What https webhook endpoints are verified against: the public web
    /// PKI, plus the certificates in `extra_roots` (a private CA).
    pub fn connector(extra_roots: Option<&std::path::Path>) -> anyhow::Result<tokio_rustls::TlsConnector> {
        let mut roots = tokio_rustls::rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = extra_roots {
            for cert in CertificateDer::pem_file_iter(path).with_context(|| format!("reading {}", path.display()))? {
                let cert = cert.with_context(|| format!("parsing {}", path.display()))?;
                roots.add(cert).with_context(|| format!("{} holds an unusable CA certificate", path.display()))?;
            }
        }
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }

    pub fn acceptor(tls: &crate::config::Tls) -> anyhow::Result<TlsAcceptor> {
        let certs = CertificateDer::pem_file_iter(&tls.certificate)
            .with_context(|| format!("reading {}", tls.certificate.display()))?
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("parsing {}", tls.certificate.display()))?;
        let key = PrivateKeyDer::from_pem_file(&tls.key).with_context(|| format!("reading {}", tls.key.display()))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context("certificate and key do not form a usable pair")?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

fn display_root(config: &Config) -> String {
    match config.storage {
        StorageKind::Filesystem => Path::new(&config.root).display().to_string(),
        StorageKind::Memory => "-".into(),
        StorageKind::S3 => match &config.s3 {
            Some(s3) => format!(
                "s3://{}/{} at {}",
                s3.bucket,
                s3.root.trim_matches('/'),
                s3.endpoint.as_deref().unwrap_or("AWS")
            ),
            None => "-".into(),
        },
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

#[cfg(test)]
mod tests {
    use super::AcceptBackoff;
    use std::time::Duration;

    #[test]
    fn accept_pauses_grow_to_a_second_and_reset() {
        let mut b = AcceptBackoff::default();
        let pauses: Vec<u64> = (0..10).map(|_| b.next().as_millis() as u64).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        b.reset();
        assert_eq!(b.next(), Duration::from_millis(10));
    }
}

/// Heap memory freed by requests goes back to the OS. glibc keeps what a
/// burst frees in its per-thread arenas for reuse (up to the upload buffer
/// budget stayed resident after stalled uploads had ended); `malloc_trim`
/// returns the free pages of every arena. And there is one arena: with one
/// per thread (workers, and the blocking pool's threads that write the
/// uploads), a push's buffers left free memory in each, and the peak of a
/// 1 GiB push was 31–33 MiB; with one, 24 MiB, for the same CPU (small
/// allocations are served from per-thread caches without the arena's lock).
mod heap {
    /// How often freed memory is returned.
    pub const TRIM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

    pub async fn trim_periodically() {
        let mut tick = tokio::time::interval(TRIM_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            trim();
        }
    }

    /// Makes every thread allocate from the one main arena.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    pub fn one_arena() {
        // SAFETY: mallopt takes no pointers; called before other threads
        // exist, it only changes how later arenas are chosen.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }

    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    pub fn one_arena() {}

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn trim() {
        // SAFETY: malloc_trim takes no pointers and may be called at any
        // time from any thread; it only releases free memory.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    fn trim() {}
}
