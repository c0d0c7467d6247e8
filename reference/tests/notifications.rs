//! Webhook notifications end to end: drydock's envelope against the one
//! distribution 2.8.2 sends for the same workload, delivery through failures
//! with exact metrics, threshold/backoff timing under paused time, ignore
//! rules, and dead-lettering.

mod common;

use async_trait::async_trait;
use bytes::Bytes;
use drydock_reference::notifications::{Connector, EndpointConfig, Io};
use drydock_reference::storage::{InMemoryDriver, StorageDriver};
use drydock_reference::{Clock, Env, Instance, InstanceConfig};
use drydock_spec::notification::{Action, Format};
use drydock_spec::{Algorithm, Digest};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

struct WallClock;
impl Clock for WallClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }
}

struct Tcp;
#[async_trait]
impl Connector for Tcp {
    async fn connect(&self, host: &str, port: u16) -> std::io::Result<Box<dyn Io>> {
        Ok(Box::new(tokio::net::TcpStream::connect((host, port)).await?))
    }
}

async fn start(mut instance: Instance) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    instance.source_addr = listener.local_addr().unwrap().to_string();
    instance.notifications.start_workers(Arc::new(Tcp)).await.unwrap();
    common::serve_on(listener, instance)
}

async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, http::HeaderMap) {
    let r = common::send(addr, method, path, headers, &body).await;
    (r.status, r.headers)
}

fn registry_with(endpoints: Vec<EndpointConfig>) -> Instance {
    instance(Arc::new(InMemoryDriver::new()), [3; 32], endpoints)
}

fn instance(driver: Arc<dyn StorageDriver>, seed: [u8; 32], endpoints: Vec<EndpointConfig>) -> Instance {
    let env = Env::new(Arc::new(WallClock), seed);
    Instance::new(InstanceConfig { endpoints, ..InstanceConfig::new(driver, env, b"k") })
}

/// Waits (in real time) until `cond` holds.
async fn eventually(what: &str, mut cond: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The workload of `fixtures/notifications/workload.json`, as `capture.py` performs it.
async fn run_workload(addr: SocketAddr) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/notifications");
    let w: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("workload.json")).unwrap()).unwrap();
    let ua = w["user_agent"].as_str().unwrap();
    let repo = w["repository"].as_str().unwrap();
    let tag = w["tag"].as_str().unwrap();
    let mount_to = w["mount_to"].as_str().unwrap();
    let layer = w["layer"].as_str().unwrap().as_bytes().to_vec();
    let config = w["config"].as_str().unwrap().as_bytes().to_vec();
    let agent = [("user-agent", ua)];
    let push_blob = async |data: Vec<u8>| {
        let d = Digest::of(Algorithm::Sha256, &data);
        let (_, h) = send(addr, Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &agent, vec![]).await;
        let loc = h["location"].to_str().unwrap().to_owned();
        let (status, _) = send(
            addr,
            Method::PUT,
            &format!("{loc}&digest={d}"),
            &[agent[0], ("content-type", "application/octet-stream")],
            data,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        d
    };
    let layer_d = push_blob(layer.clone()).await;
    let config_d = push_blob(config.clone()).await;
    // The same bytes capture.py sends (Python's compact json.dumps, keys in this order).
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_d}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let manifest_d = Digest::of(Algorithm::Sha256, manifest.as_bytes());
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let (s, _) = send(
        addr,
        Method::PUT,
        &format!("/v2/{repo}/manifests/{tag}"),
        &[agent[0], ("content-type", oci)],
        manifest.into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) =
        send(addr, Method::GET, &format!("/v2/{repo}/manifests/{tag}"), &[agent[0], ("accept", oci)], vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = send(addr, Method::GET, &format!("/v2/{repo}/blobs/{layer_d}"), &agent, vec![]).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        send(addr, Method::POST, &format!("/v2/{mount_to}/blobs/uploads/?mount={layer_d}&from={repo}"), &agent, vec![])
            .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = send(addr, Method::DELETE, &format!("/v2/{repo}/manifests/{manifest_d}"), &agent, vec![]).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = send(addr, Method::DELETE, &format!("/v2/{mount_to}/blobs/{layer_d}"), &agent, vec![]).await;
    assert_eq!(s, StatusCode::ACCEPTED);
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// Compares one drydock event with distribution's, field by field.
fn compare(ours: &serde_json::Value, theirs: &serde_json::Value, name: &str) {
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(ours), keys(theirs), "{name}: event fields");
    assert_eq!(ours["action"], theirs["action"], "{name}: action");
    assert!(is_uuid(ours["id"].as_str().unwrap()), "{name}: id");
    assert!(humantime::parse_rfc3339(ours["timestamp"].as_str().unwrap()).is_ok(), "{name}: timestamp");
    // Target: every field equal, but the url's host (each registry's own port).
    let (mut t_ours, mut t_theirs) = (ours["target"].clone(), theirs["target"].clone());
    for t in [&mut t_ours, &mut t_theirs] {
        if let Some(url) = t.get("url").and_then(|u| u.as_str()).map(str::to_owned) {
            let path = url.split_once("/v2/").map(|(_, p)| p.to_owned()).unwrap();
            assert!(url.starts_with("http://127.0.0.1:"), "{name}: {url}");
            t["url"] = serde_json::Value::String(path);
        }
    }
    assert_eq!(keys(&t_ours), keys(&t_theirs), "{name}: target fields");
    assert_eq!(t_ours, t_theirs, "{name}: target");
    assert_eq!(keys(&ours["request"]), keys(&theirs["request"]), "{name}: request fields");
    for field in ["method", "useragent"] {
        assert_eq!(ours["request"][field], theirs["request"][field], "{name}: request.{field}");
    }
    assert!(ours["request"]["addr"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert_eq!(ours["actor"], theirs["actor"], "{name}: actor");
    assert_eq!(keys(&ours["source"]), keys(&theirs["source"]), "{name}: source fields");
    assert!(is_uuid(ours["source"]["instanceID"].as_str().unwrap()));
}

#[tokio::test]
async fn envelopes_match_distribution_field_by_field() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/notifications/distribution-2.8.2");
    let mut captured: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    captured.sort();

    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoint = EndpointConfig::new("fixture", format!("{}/events", receiver.uri()).parse().unwrap());
    let addr = start(registry_with(vec![endpoint])).await;
    run_workload(addr).await;
    eventually("every envelope", async || receiver.received_requests().await.unwrap().len() >= captured.len()).await;
    let got = receiver.received_requests().await.unwrap();
    assert_eq!(got.len(), captured.len());
    let content_type = std::fs::read_to_string(fixtures.join("content-type.txt")).unwrap();
    for (req, path) in got.iter().zip(&captured) {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(req.headers["content-type"].to_str().unwrap(), content_type.trim(), "{name}");
        let ours: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        assert_eq!(ours["events"].as_array().unwrap().len(), 1, "{name}");
        compare(&ours["events"][0], &theirs["events"][0], &name);
    }
}

#[tokio::test]
async fn a_failing_endpoint_gets_every_event_in_order_once_it_recovers() {
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(503))
        .up_to_n_times(4)
        .with_priority(1)
        .mount(&receiver)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let mut endpoint = EndpointConfig::new("flaky", format!("{}/hook", receiver.uri()).parse().unwrap());
    endpoint.threshold = 2;
    endpoint.backoff = Duration::from_millis(20);
    endpoint.headers.push(("authorization".into(), "Bearer t".into()));
    let registry = registry_with(vec![endpoint]);
    let broadcaster = registry.notifications.clone();
    let debug = common::serve_debug(registry.clone()).await;
    let addr = start(registry).await;
    let mut digests = Vec::new();
    for i in 0..5u8 {
        let data = vec![i; 100 + usize::from(i)];
        let d = Digest::of(Algorithm::Sha256, &data);
        let (s, _) = send(addr, Method::POST, &format!("/v2/flaky/blobs/uploads/?digest={d}"), &[], data).await;
        assert_eq!(s, StatusCode::CREATED);
        digests.push(d.to_string());
    }
    eventually("delivery", async || broadcaster.metrics()[0].2.successes == 5).await;
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests.len(), 9, "4 refused attempts, then 5 deliveries");
    assert!(requests.iter().all(|r| r.headers["authorization"] == "Bearer t"));
    let delivered: Vec<(String, String)> = requests[4..]
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            (
                v["events"][0]["target"]["digest"].as_str().unwrap().to_owned(),
                v["events"][0]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(delivered.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(), digests, "in acknowledgement order");
    // The refused event kept its id across retries.
    let first: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(first["events"][0]["id"].as_str().unwrap(), delivered[0].1);
    let m = &broadcaster.metrics()[0].2;
    assert_eq!((m.pending, m.events, m.successes, m.failures, m.errors, m.dead_letters), (0, 5, 5, 4, 0, 0));
    assert_eq!(m.statuses.get("503 Service Unavailable"), Some(&4));
    assert_eq!(m.statuses.get("200 OK"), Some(&5));
    // Served to operators as well, on the debug listener only.
    let metrics = common::send(debug, Method::GET, "/metrics", &[], b"").await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(text.contains("drydock_notifications_successes_total{endpoint=\"flaky\"} 5"), "{text}");
    assert!(
        text.contains("drydock_http_requests_total{method=\"POST\",route=\"upload_start\",code=\"201\"} 5"),
        "{text}"
    );
    let storage = "drydock_storage_operation_duration_seconds_count{driver=\"inmemory\",op=\"append\"}";
    assert!(text.contains(storage), "{text}");
    assert!(text.contains("drydock_storage_errors_total{driver=\"inmemory\",op=\"append\"} 0"), "{text}");
    let (s, _) = send(addr, Method::GET, "/metrics", &[], vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not on the registry's port");
    let health = common::send(debug, Method::GET, "/debug/health", &[], b"").await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn ignore_rules_and_dead_letters() {
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::body_string_contains("\"action\": \"delete\""))
        .respond_with(wiremock::ResponseTemplate::new(400))
        .with_priority(1)
        .mount(&receiver)
        .await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&receiver)
        .await;
    let mut endpoint = EndpointConfig::new("strict", format!("{}/", receiver.uri()).parse().unwrap());
    endpoint.ignored_actions = vec![Action::Pull];
    endpoint.ignored_media_types = vec!["application/vnd.oci.image.manifest.v1+json".into()];
    endpoint.max_attempts = Some(3);
    endpoint.threshold = 100;
    endpoint.format = Format::V2;
    let registry = registry_with(vec![endpoint]);
    let broadcaster = registry.notifications.clone();
    let addr = start(registry).await;
    let data = b"blob".to_vec();
    let d = Digest::of(Algorithm::Sha256, &data);
    send(addr, Method::POST, &format!("/v2/s/blobs/uploads/?digest={d}"), &[], data.clone()).await;
    send(addr, Method::GET, &format!("/v2/s/blobs/{d}"), &[], vec![]).await; // pull: ignored
    send(addr, Method::DELETE, &format!("/v2/s/blobs/{d}"), &[], vec![]).await; // rejected thrice
    send(addr, Method::POST, &format!("/v2/s/blobs/uploads/?digest={d}"), &[], data).await; // after it
    eventually("dead letter and the push after it", async || {
        let m = &broadcaster.metrics()[0].2;
        m.dead_letters == 1 && m.successes == 2
    })
    .await;
    let m = &broadcaster.metrics()[0].2;
    assert_eq!((m.events, m.failures, m.pending), (3, 3, 0));
    let requests = receiver.received_requests().await.unwrap();
    assert_eq!(requests[0].headers["content-type"], drydock_spec::notification::EVENTS_V2);
    let queue = broadcaster.queue("strict").unwrap();
    let dead = queue.dead().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event.action, Action::Delete);
}

/// An endpoint inside the test process: each connection is an in-memory
/// pipe to a tiny HTTP server that records when it was called.
struct InProcess {
    calls: Arc<std::sync::Mutex<Vec<tokio::time::Instant>>>,
    status: StatusCode,
}

#[async_trait]
impl Connector for InProcess {
    async fn connect(&self, _host: &str, _port: u16) -> std::io::Result<Box<dyn Io>> {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let calls = self.calls.clone();
        let status = self.status;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_req| {
                calls.lock().unwrap().push(tokio::time::Instant::now());
                async move {
                    let mut r = http::Response::new(Full::new(Bytes::new()));
                    *r.status_mut() = status;
                    Ok::<_, std::convert::Infallible>(r)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(server), service).await;
        });
        Ok(Box::new(client))
    }
}

#[tokio::test(start_paused = true)]
async fn threshold_then_backoff_under_paused_time() {
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut endpoint = EndpointConfig::new("slow", "http://receiver.invalid/".parse().unwrap());
    endpoint.threshold = 3;
    endpoint.backoff = Duration::from_secs(30);
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let registry = instance(driver, [5; 32], vec![endpoint]);
    let event = drydock_spec::notification::Event {
        id: "e".into(),
        timestamp: "2027-01-15T08:00:00Z".into(),
        action: Action::Push,
        target: Default::default(),
        request: Default::default(),
        actor: Default::default(),
        source: Default::default(),
    };
    registry.notifications.write(&event, SystemTime::UNIX_EPOCH).await.unwrap();
    registry
        .notifications
        .start_workers(Arc::new(InProcess { calls: calls.clone(), status: StatusCode::SERVICE_UNAVAILABLE }))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(95)).await;
    let calls = calls.lock().unwrap().clone();
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    // Three attempts back to back (up to the threshold), then one per backoff.
    assert_eq!(
        gaps,
        [Duration::ZERO, Duration::ZERO, Duration::from_secs(30), Duration::from_secs(30), Duration::from_secs(30)]
    );
    assert_eq!(registry.notifications.metrics()[0].2.failures, 6);
}

#[tokio::test]
async fn failed_operations_produce_no_event() {
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoint = EndpointConfig::new("quiet", format!("{}/", receiver.uri()).parse().unwrap());
    let registry = registry_with(vec![endpoint]);
    let broadcaster = registry.notifications.clone();
    let debug = common::serve_debug(registry.clone()).await;
    let addr = start(registry).await;
    let wrong = Digest::of(Algorithm::Sha256, b"not this");
    let (s, _) =
        send(addr, Method::POST, &format!("/v2/q/blobs/uploads/?digest={wrong}"), &[], b"content".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = send(addr, Method::GET, &format!("/v2/q/blobs/{wrong}"), &[], vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = send(addr, Method::DELETE, &format!("/v2/q/manifests/{wrong}"), &[], vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // HEAD is not a pull.
    let data = b"present".to_vec();
    let d = Digest::of(Algorithm::Sha256, &data);
    send(addr, Method::POST, &format!("/v2/q/blobs/uploads/?digest={d}"), &[], data).await;
    let (s, _) = send(addr, Method::HEAD, &format!("/v2/q/blobs/{d}"), &[], vec![]).await;
    assert_eq!(s, StatusCode::OK);
    eventually("the one push", async || broadcaster.metrics()[0].2.successes == 1).await;
    assert_eq!(broadcaster.metrics()[0].2.events, 1);
    let body: serde_json::Value = serde_json::from_slice(&receiver.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body["events"][0]["action"], "push");
    // The counters operators read.
    let stream = tokio::net::TcpStream::connect(debug).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let req = Request::get("/debug/vars").header("host", "x").body(Full::new(Bytes::new())).unwrap();
    let vars = sender.send_request(req).await.unwrap().into_body().collect().await.unwrap().to_bytes();
    let vars: serde_json::Value = serde_json::from_slice(&vars).unwrap();
    let e = &vars["registry"]["notifications"]["endpoints"][0];
    assert_eq!(e["name"], "quiet");
    assert_eq!(e["metrics"]["events"], 1);
    assert_eq!(e["metrics"]["statuses"]["200 OK"], 1);
}

#[tokio::test]
async fn events_name_the_authenticated_actor() {
    use base64::Engine;
    use drydock_reference::auth::{AccessController, htpasswd::Htpasswd};
    let receiver = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let endpoint = EndpointConfig::new("who", format!("{}/", receiver.uri()).parse().unwrap());
    let htpasswd = Htpasswd::parse(&format!("alice:{}", bcrypt::hash("pw", 4).unwrap()), "r").unwrap();
    let env = Env::new(Arc::new(WallClock), [4; 32]);
    let config = InstanceConfig {
        endpoints: vec![endpoint],
        access: AccessController::Htpasswd(htpasswd),
        ..InstanceConfig::new(Arc::new(InMemoryDriver::new()), env, b"k")
    };
    let registry = Instance::new(config);
    let broadcaster = registry.notifications.clone();
    let addr = start(registry).await;
    let data = b"pushed by alice".to_vec();
    let d = Digest::of(Algorithm::Sha256, &data);
    let path = format!("/v2/who/blobs/uploads/?digest={d}");
    let (s, _) = send(addr, Method::POST, &path, &[], data.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "no credentials, no push, no event");
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice:pw"));
    let (s, _) = send(addr, Method::POST, &path, &[("authorization", &basic)], data).await;
    assert_eq!(s, StatusCode::CREATED);
    eventually("the push", async || broadcaster.metrics()[0].2.successes == 1).await;
    let body: serde_json::Value = serde_json::from_slice(&receiver.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body["events"][0]["actor"], serde_json::json!({"name": "alice"}));
    assert_eq!(broadcaster.metrics()[0].2.events, 1);
}
