//! The HTTP endpoint sink: one POST per event, with the endpoint's headers,
//! format and timeout, over a connection from an injected [`Connector`] (TCP
//! and TLS in `drydock serve`, simulated links in the simulator). TLS is the
//! connector's business, so this crate carries no TLS stack.

use super::EndpointConfig;
use async_trait::async_trait;
use bytes::Bytes;
use drydock_spec::notification::Event;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to an endpoint.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// Opens connections to `host:port`.
#[async_trait]
pub trait Connector: Send + Sync + 'static {
    async fn connect(&self, host: &str, port: u16) -> std::io::Result<Box<dyn Io>>;

    /// A TLS connection to `host:port`, the server's certificate verified
    /// for `host`. Connectors without TLS refuse.
    async fn connect_tls(&self, host: &str, port: u16) -> std::io::Result<Box<dyn Io>> {
        let _ = (host, port);
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "this connector cannot open TLS connections"))
    }
}

/// Why a delivery got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("HTTP exchange: {0}")]
    Http(#[from] hyper::Error),
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("endpoint URL {0} is not an http:// or https:// URL")]
    Url(String),
}

#[derive(Clone)]
pub struct HttpEndpoint {
    config: Arc<EndpointConfig>,
    connector: Arc<dyn Connector>,
}

impl HttpEndpoint {
    pub fn new(config: Arc<EndpointConfig>, connector: Arc<dyn Connector>) -> HttpEndpoint {
        HttpEndpoint { config, connector }
    }

    /// POSTs one event; the endpoint's answer, or why there was none.
    pub async fn deliver(&self, event: &Event) -> Result<StatusCode, DeliveryError> {
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.exchange(event)).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::Timeout(timeout)),
        }
    }

    async fn exchange(&self, event: &Event) -> Result<StatusCode, DeliveryError> {
        let url = &self.config.url;
        let bad_url = || DeliveryError::Url(url.to_string());
        let tls = match url.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad_url()),
        };
        let host = url.host().ok_or_else(bad_url)?;
        let port = url.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let io =
            if tls { self.connector.connect_tls(host, port).await } else { self.connector.connect(host, port).await };
        let io = io.map_err(|e| DeliveryError::Connect(format!("{host}:{port}"), e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let body = self.config.format.render(event);
        let authority = url.authority().map(|a| a.as_str()).unwrap_or(host);
        let mut req = Request::post(url.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, self.config.format.content_type())
            .header(http::header::USER_AGENT, concat!("drydock/", env!("CARGO_PKG_VERSION")))
            .header(http::header::CONTENT_LENGTH, body.len());
        for (k, v) in &self.config.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|_| bad_url())?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        // Drain the answer so the connection closes cleanly.
        let _ = resp.into_body().collect().await;
        driver.abort();
        Ok(status)
    }
}
