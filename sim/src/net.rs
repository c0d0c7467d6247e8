//! The simulated network's endpoints: an HTTP client for workloads, the
//! connector registries use to reach webhook receivers, a receiver host, and
//! a registry host.

use crate::Mutant;
use crate::trace::Trace;
use async_trait::async_trait;
use bytes::Bytes;
use drydock_reference::notifications::{Connector, EndpointConfig, Io};
use drydock_reference::storage::StorageDriver;
use drydock_reference::{Clock, Env, Instance, InstanceConfig};
use drydock_spec::notification::{Envelope, Event};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Registry port on every registry host.
pub const REGISTRY_PORT: u16 = 5000;
/// Webhook port on every receiver host.
pub const RECEIVER_PORT: u16 = 9000;
/// How long a client waits for one answer, unless told otherwise.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Simulated wall clock: a fixed epoch plus simulated time.
pub struct SimClock;

impl Clock for SimClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + turmoil::sim_elapsed().unwrap_or_default()
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

/// A workload's client: one connection per request, every exchange traced.
#[derive(Clone)]
pub struct Client {
    pub name: String,
    pub trace: Trace,
    /// How long it waits for one answer before giving up on it.
    pub timeout: Duration,
}

impl Client {
    pub fn new(name: impl Into<String>, trace: Trace) -> Client {
        Client { name: name.into(), trace, timeout: CLIENT_TIMEOUT }
    }

    pub async fn send(
        &self,
        host: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let exchange = self.exchange(host, method.clone(), path, headers, body, false);
        let result = tokio::time::timeout(self.timeout, exchange).await.unwrap_or_else(|_| Err("timed out".to_owned()));
        self.note(host, &method, path, &result);
        result
    }

    /// Like `send`, but holds the link to `host` once the connection is up:
    /// the request waits in the network until someone calls
    /// `turmoil::release`, long after this client has stopped waiting for
    /// it. The connection stays open (as behind a stalled proxy), so the
    /// request does arrive then.
    pub async fn send_held(
        &self,
        host: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Reply, String> {
        let (me, owned_host, owned_path, m) = (self.clone(), host.to_owned(), path.to_owned(), method.clone());
        let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let exchange = tokio::spawn(async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let late = me.exchange(&owned_host, m.clone(), &owned_path, &headers, body, true).await;
            let answer = late.as_ref().map(|r| r.status.as_u16().to_string()).unwrap_or_else(|e| e.clone());
            me.trace.record(&me.name, format!("the held {m} to {owned_host} finally got: {answer}"));
            late
        });
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("timed out; the request is still held in the network".to_owned()),
        };
        self.note(host, &method, path, &result);
        result
    }

    /// Sends the head of a request announcing `body`'s full length, then
    /// only its first `cut_at` bytes, and closes the connection: a client
    /// that died mid-upload.
    pub async fn send_cut(&self, host: &str, method: Method, path: &str, body: &[u8], cut_at: usize) {
        use tokio::io::AsyncWriteExt;
        let sent = async {
            let mut stream = turmoil::net::TcpStream::connect((host, REGISTRY_PORT)).await?;
            let head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n", body.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body[..cut_at.min(body.len())]).await?;
            stream.flush().await?;
            // Give the bytes time to arrive before the connection drops.
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<_, std::io::Error>(())
        };
        let outcome = match sent.await {
            Ok(()) => "cut".to_owned(),
            Err(e) => format!("error: {e}"),
        };
        let short: String = path.chars().take(90).collect();
        self.trace
            .record(&self.name, format!("{method} {host}{short} after {cut_at} of {} bytes -> {outcome}", body.len()));
    }

    /// Traces an exchange; notes answers no correct registry gives.
    fn note(&self, host: &str, method: &Method, path: &str, result: &Result<Reply, String>) {
        self.trace.ledger().observe(host, method, path, result);
        let short: String = path.chars().take(90).collect();
        match result {
            Ok(r) => {
                self.trace.record(&self.name, format!("{method} {host}{short} -> {}", r.status.as_u16()));
                if r.status.is_server_error() && r.status != StatusCode::SERVICE_UNAVAILABLE {
                    self.trace.server_error(format!("{method} {host}{short} answered {}", r.status.as_u16()));
                }
            }
            Err(e) => self.trace.record(&self.name, format!("{method} {host}{short} -> error: {e}")),
        }
    }

    async fn exchange(
        &self,
        host: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        hold: bool,
    ) -> Result<Reply, String> {
        let stream = turmoil::net::TcpStream::connect((host, REGISTRY_PORT)).await.map_err(|e| e.to_string())?;
        if hold {
            self.trace.record(&self.name, format!("fault: link to {host} held"));
            turmoil::hold(self.name.as_str(), host);
        }
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut req = Request::builder().method(method).uri(path).header("host", host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply { status: parts.status, headers: parts.headers, body })
    }
}

/// Registries reach receivers over simulated TCP.
pub struct SimConnector;

#[async_trait]
impl Connector for SimConnector {
    async fn connect(&self, host: &str, port: u16) -> std::io::Result<Box<dyn Io>> {
        Ok(Box::new(turmoil::net::TcpStream::connect((host, port)).await?))
    }
}

/// What a registry host needs; cloned into the host closure, which turmoil
/// calls again when the host restarts.
#[derive(Clone)]
pub struct RegistryHost {
    pub name: String,
    pub storage: Arc<dyn StorageDriver>,
    pub secret: Vec<u8>,
    pub seed: u64,
    pub endpoints: Vec<EndpointConfig>,
    /// The server mutant switched on, if the run plants one.
    pub mutant: Option<Mutant>,
    /// Background upload purge: `(age, interval)`.
    pub purge: Option<(Duration, Duration)>,
    /// Background garbage collection: what it does, and how often.
    pub gc: Option<(drydock_reference::registry::gc::Options, Duration)>,
    pub trace: Trace,
}

impl RegistryHost {
    pub async fn serve(self) -> turmoil::Result {
        // A new instance (and random stream) on every start, as a real restart.
        let boot = turmoil::sim_elapsed().unwrap_or_default().as_nanos() as u64;
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&boot.to_le_bytes());
        let name_mix = self.name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        seed[16..24].copy_from_slice(&name_mix.to_le_bytes());
        let instance = Instance::new(InstanceConfig {
            endpoints: self.endpoints.clone(),
            source_addr: format!("{}:{REGISTRY_PORT}", self.name),
            ..InstanceConfig::new(self.storage.clone(), Env::new(Arc::new(SimClock), seed), &self.secret)
        });
        let m = instance.mutants();
        m.set_upload_offset_from_request(self.mutant == Some(Mutant::UploadOffsetFromRequest));
        m.set_event_after_response(self.mutant == Some(Mutant::EventAfterResponse));
        m.set_give_up_on_down_receiver(self.mutant == Some(Mutant::GiveUpOnDownReceiver));
        m.set_purge_unreadable_uploads(self.mutant == Some(Mutant::PurgeUnreadableUploads));
        m.set_gc_without_grace(self.mutant == Some(Mutant::GcWithoutGrace));
        m.set_commit_without_seal(self.mutant == Some(Mutant::CommitWithoutSeal));
        m.set_serve_unverified(self.mutant == Some(Mutant::ServeUnverified));
        m.set_catalog_skips_below_last(self.mutant == Some(Mutant::CatalogSkipsBelowLast));
        m.set_cached_manifest_skips_link(self.mutant == Some(Mutant::CachedManifestSkipsLink));
        m.set_verified_once(self.mutant == Some(Mutant::VerifiedOnce));
        m.set_adopt_segments_unverified(self.mutant == Some(Mutant::AdoptSegmentsUnverified));
        m.set_resume_at_window_start(self.mutant == Some(Mutant::ResumeAtWindowStart));
        m.set_tag_check_then_put(self.mutant == Some(Mutant::TagCheckThenPut));
        m.set_answer_before_durable(self.mutant == Some(Mutant::AnswerBeforeDurable));
        m.set_record_any_offset(self.mutant == Some(Mutant::RecordAnyOffset));
        m.set_whole_body_unverified(self.mutant == Some(Mutant::WholeBodyUnverified));
        instance.notifications.start_workers(Arc::new(SimConnector)).await.map_err(|e| e.to_string())?;
        self.trace.record(&self.name, format!("start instance {}", instance.instance_id));
        let registry = &instance.registry;
        if let Some((age, interval)) = self.purge {
            tokio::spawn(drydock_reference::registry::purge::run_periodically(registry.clone(), age, interval));
        }
        if let Some((options, interval)) = self.gc.clone() {
            tokio::spawn(drydock_reference::registry::gc::run_periodically(registry.clone(), options, interval));
        }
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", REGISTRY_PORT)).await?;
        loop {
            let (stream, peer) = listener.accept().await?;
            tokio::spawn(drydock_reference::http::serve_connection(
                instance.clone(),
                stream,
                peer.to_string(),
                std::future::pending(),
            ));
        }
    }
}

/// A webhook receiver host: keeps every event it is sent. It can be slow
/// (`delay` before each answer) and refuse its first deliveries with 503.
#[derive(Clone, Default)]
pub struct Receiver {
    pub events: Arc<Mutex<Vec<Event>>>,
    pub delay: Duration,
    pub refuse_first: usize,
    refused: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    /// A receiver that waits `delay` before each answer and refuses its
    /// first `refuse_first` deliveries with 503.
    pub fn new(delay: Duration, refuse_first: usize) -> Receiver {
        Receiver { delay, refuse_first, ..Receiver::default() }
    }
}

impl Receiver {
    pub async fn serve(self) -> turmoil::Result {
        let listener = turmoil::net::TcpListener::bind(("0.0.0.0", RECEIVER_PORT)).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            let me = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let me = me.clone();
                    async move {
                        let body = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                        tokio::time::sleep(me.delay).await;
                        let mut resp = http::Response::new(Full::new(Bytes::new()));
                        if me.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < me.refuse_first {
                            *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                        } else if let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) {
                            me.events.lock().unwrap_or_else(|p| p.into_inner()).extend(envelope.events);
                        }
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    }

    pub fn has_push_of(&self, repo: &str, digest: &str) -> bool {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|e| {
            e.action.name() == "push" && e.target.repository == repo && e.target.digest.as_deref() == Some(digest)
        })
    }
}
