//! The operator's listener, apart from the registry's port (distribution's
//! `http.debug.addr`): `/debug/vars` (expvar-style JSON), `/metrics`
//! (Prometheus text: requests and notifications) and `/debug/health`
//! (whether storage answers). Nothing here is served on the public port.

use super::response::{self, Body};
use crate::instance::Instance;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// Serves the debug endpoints on one connection.
pub async fn serve_debug_connection<IO>(instance: Instance, io: IO) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = instance.limits;
    let service = hyper::service::service_fn(move |req| {
        let instance = instance.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&instance, req).await) }
    });
    hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service)
        .await
}

async fn handle(instance: &Instance, req: Request<Incoming>) -> Response<Body> {
    if req.method() != Method::GET {
        return response::status(StatusCode::METHOD_NOT_ALLOWED);
    }
    match req.uri().path() {
        "/debug/vars" => {
            let mut vars = crate::notifications::metrics::expvar(&instance.notifications.metrics());
            let driver = &instance.registry.driver;
            let caps = driver.capabilities();
            vars["storage"] = serde_json::json!({
                "driver": driver.name(),
                "appends": caps.appends,
                "conditional_writes": caps.conditional_writes,
                "cross_instance": crate::storage::cross_instance_guarantees(caps),
            });
            response::json(StatusCode::OK, &vars)
        }
        "/metrics" => {
            let mut text = instance.metrics.prometheus();
            text.push_str(&instance.storage_metrics.prometheus(instance.registry.driver.name()));
            text.push_str(&crate::notifications::metrics::prometheus(&instance.notifications.metrics()));
            let mut r = Response::new(response::full(text));
            response::set(&mut r, "content-type", "text/plain; version=0.0.4");
            r
        }
        "/debug/health" => {
            // Storage answers for the registry's root (an empty store too).
            match instance.registry.driver.stat(crate::registry::paths::ROOT).await {
                Ok(_) => response::json(StatusCode::OK, &serde_json::json!({})),
                Err(e) if e.is_not_found() => response::json(StatusCode::OK, &serde_json::json!({})),
                Err(e) => {
                    let key = format!("storagedriver_{}", instance.registry.driver.name());
                    response::json(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({ key: e.to_string() }))
                }
            }
        }
        _ => response::status(StatusCode::NOT_FOUND),
    }
}
