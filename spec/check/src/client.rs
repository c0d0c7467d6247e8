//! A small HTTP/1.1 client for talking to the registry under test: one
//! connection per request (plain or TLS), raw bytes in and out, and the
//! authentication the registry asks for (basic, or the bearer-token flow
//! announced by `WWW-Authenticate`).

use crate::auth::Auth;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

/// Longest a single exchange may take before the check fails as a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read into memory.
pub const BODY_LIMIT: usize = 64 << 20;

/// What was sent.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sent {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
}

/// What came back.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub sent: Sent,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first error code of a protocol error body.
    pub fn error_code(&self) -> Option<String> {
        self.json()?.get("errors")?.get(0)?.get("code")?.as_str().map(str::to_owned)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS: {0}")]
    Tls(std::io::Error),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    #[error("bad URL: {0}")]
    Url(String),
}

/// The registry's address.
#[derive(Clone, Debug)]
pub struct Target {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, ClientError> {
        let uri: http::Uri = url.parse().map_err(|_| ClientError::Url(url.to_owned()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(ClientError::Url(format!("{url}: expected http:// or https://"))),
        };
        let host = uri.host().ok_or_else(|| ClientError::Url(url.to_owned()))?.trim_matches(['[', ']']).to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Target { https, host, port })
    }

    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Clone)]
pub struct Client {
    pub target: Target,
    tls: Option<tokio_rustls::TlsConnector>,
    pub auth: Arc<Auth>,
}

impl Client {
    pub fn new(target: Target, auth: Auth) -> Client {
        Client::with_roots(target, auth, Vec::new())
    }

    /// A client that also trusts `extra_roots` (DER certificates), for
    /// registries behind a private CA.
    pub fn with_roots(
        target: Target,
        auth: Auth,
        extra_roots: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
    ) -> Client {
        let tls = target.https.then(|| {
            let mut roots = tokio_rustls::rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for cert in extra_roots {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            tokio_rustls::TlsConnector::from(Arc::new(config))
        });
        Client { target, tls, auth: Arc::new(auth) }
    }

    /// Sends a request, answering an authentication challenge once.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let scope_hint = path.to_owned();
        let auth = self.auth.header_for(&scope_hint).await;
        let reply = self.send_raw(method.clone(), path, headers, body.clone(), auth.as_deref()).await?;
        if reply.status == StatusCode::UNAUTHORIZED
            && let Some(challenge) = reply.header("www-authenticate").map(str::to_owned)
            && let Some(auth) = self.auth.answer(&challenge, &scope_hint).await
        {
            return self.send_raw(method, path, headers, body, Some(&auth)).await;
        }
        Ok(reply)
    }

    /// One exchange on a fresh connection, exactly as given.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        authorization: Option<&str>,
    ) -> Result<Reply, ClientError> {
        let exchange = self.exchange(method, path, headers, body, authorization);
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout(REQUEST_TIMEOUT)),
        }
    }

    /// Opens a connection to the registry (TLS if the target is https).
    pub async fn connect(&self) -> Result<Box<dyn crate::Io>, ClientError> {
        let authority = self.target.authority();
        let tcp = tokio::net::TcpStream::connect((self.target.host.as_str(), self.target.port))
            .await
            .map_err(|e| ClientError::Connect(authority.clone(), e))?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => Ok(Box::new(tcp)),
            Some(tls) => {
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from(self.target.host.clone())
                    .map_err(|e| ClientError::Url(e.to_string()))?;
                Ok(Box::new(tls.connect(name, tcp).await.map_err(ClientError::Tls)?))
            }
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        authorization: Option<&str>,
    ) -> Result<Reply, ClientError> {
        let io = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut sent_headers: Vec<(String, String)> = Vec::new();
        let mut req = Request::builder().method(method.clone()).uri(path).header("host", self.target.authority());
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("user-agent")) {
            req = req.header("user-agent", concat!("drydock-check/", env!("CARGO_PKG_VERSION")));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
            sent_headers.push(((*k).to_owned(), (*v).to_owned()));
        }
        if let Some(a) = authorization {
            req = req.header("authorization", a);
            sent_headers.push(("authorization".into(), "(redacted)".into()));
        }
        let body_len = body.len();
        let req = req.body(Full::new(body)).map_err(|e| ClientError::Http(e.to_string()))?;
        let resp = sender.send_request(req).await.map_err(|e| ClientError::Http(e.to_string()))?;
        let (parts, incoming) = resp.into_parts();
        let body = if method == Method::HEAD {
            Bytes::new()
        } else {
            Limited::new(incoming, BODY_LIMIT).collect().await.map_err(|e| ClientError::Http(e.to_string()))?.to_bytes()
        };
        driver.abort();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
            sent: Sent { method: method.to_string(), path: path.to_owned(), headers: sent_headers, body_len },
        })
    }
}
