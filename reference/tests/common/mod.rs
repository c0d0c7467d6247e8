//! What the HTTP tests share: an instance on a loopback port and a small
//! client that speaks to it over real TCP.
#![allow(dead_code)] // each test binary uses its own subset

use bytes::Bytes;
use drydock_reference::storage::{InMemoryDriver, StorageDriver};
use drydock_reference::{Clock, Env, Instance, InstanceConfig};
use drydock_spec::{Algorithm, Digest};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

pub struct TestClock;
impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
    }
}

/// Starts an instance on a loopback port; returns its address.
pub async fn start(driver: Arc<dyn StorageDriver>, seed: u8, secret: &[u8]) -> SocketAddr {
    serve(Instance::new(InstanceConfig::new(driver, Env::new(Arc::new(TestClock), [seed; 32]), secret))).await
}

/// Serves `instance` on a loopback port; returns its address.
pub async fn serve(instance: Instance) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    serve_on(listener, instance)
}

/// Serves `instance` on `listener` (bound by a caller that needed its
/// address first); returns that address.
pub fn serve_on(listener: tokio::net::TcpListener, instance: Instance) -> SocketAddr {
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, peer) = listener.accept().await.unwrap();
            tokio::spawn(drydock_reference::http::serve_connection(
                instance.clone(),
                stream,
                peer.to_string(),
                std::future::pending(),
            ));
        }
    });
    addr
}

/// Serves `instance`'s debug endpoints on a loopback port; returns its address.
pub async fn serve_debug(instance: Instance) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(drydock_reference::http::debug::serve_debug_connection(instance.clone(), stream));
        }
    });
    addr
}

pub async fn memory() -> SocketAddr {
    start(Arc::new(InMemoryDriver::new()), 1, b"s").await
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap().to_owned()
    }
}

pub async fn send(addr: SocketAddr, method: Method, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    send_body(addr, method, path, headers, Full::new(Bytes::copy_from_slice(body))).await
}

/// Like `send`, with any body (a stream without a known length goes out
/// with `Transfer-Encoding: chunked`).
pub async fn send_body<B>(addr: SocketAddr, method: Method, path: &str, headers: &[(&str, &str)], body: B) -> Reply
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(path).header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender.send_request(req.body(body).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    Reply { status: parts.status, headers: parts.headers, body: body.collect().await.unwrap().to_bytes() }
}

pub async fn push_blob(addr: SocketAddr, repo: &str, data: &[u8]) -> Digest {
    let d = Digest::of(Algorithm::Sha256, data);
    let r = send(addr, Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={d}"), &[], data).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.header("docker-content-digest"), d.as_str());
    d
}

/// Sends raw bytes on a fresh connection and returns everything the server
/// answers before closing (requests here carry `Connection: close`).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
