//! The HTTP face of the registry: a hyper service over any byte stream.
//!
//! `serve_connection` takes a connection the caller accepted (a TCP socket,
//! a TLS stream, a turmoil socket), so the same code runs under tokio and in
//! the simulator. Handlers are grouped by resource: `blobs`, `uploads`,
//! `manifests`, `listing`.

mod blobs;
pub mod debug;
pub mod limits;
mod listing;
mod manifests;
pub mod metrics;
mod query;
mod referrers;
pub mod response;
pub mod route;
mod uploads;

use crate::auth::{self, Decision};
use crate::instance::Instance;
use crate::notifications::Bridge;
use crate::registry::error::RegistryError;
use crate::registry::{Registry, Repository};
use bytes::Bytes;
use drydock_spec::ErrorCode;
use drydock_spec::notification::{ActorRecord, RequestRecord, SourceRecord};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use query::Query;
use response::Body;
use route::Route;
use tokio::io::{AsyncRead, AsyncWrite};

pub const API_VERSION_HEADER: &str = "docker-distribution-api-version";
pub const API_VERSION: &str = "registry/2.0";

/// Serves HTTP/1.1 on one connection until the peer closes it. When
/// `shutdown` completes, the request in flight (if any) finishes and the
/// connection then closes.
pub async fn serve_connection<IO, F>(instance: Instance, io: IO, peer: String, shutdown: F) -> Result<(), hyper::Error>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: std::future::Future<Output = ()>,
{
    let limits = instance.limits;
    let service = hyper::service::service_fn(move |req| {
        let instance = instance.clone();
        let peer = peer.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(&instance, req, &peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::pin!(shutdown);
    tokio::select! {
        result = conn.as_mut() => return result,
        () = &mut shutdown => conn.as_mut().graceful_shutdown(),
    }
    conn.await
}

/// One request, start to finish, with its log line. `peer` is the client's
/// address as the caller knows it.
pub async fn handle(instance: &Instance, req: Request<Incoming>, peer: &str) -> Response<Body> {
    use tracing::Instrument;
    let started = tokio::time::Instant::now();
    let _in_flight = instance.metrics.start();
    let id = instance.registry.env.new_uuid();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = Route::parse(&path).map_or("unknown", |r| r.kind());
    let declared_in = content_length(req.headers());
    // Every line logged while handling the request carries its id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = dispatch(instance, req, &id, peer).instrument(span.clone()).await;
    for (name, value) in instance.response_headers.iter() {
        resp.headers_mut().append(name.clone(), value.clone());
    }
    response::set(&mut resp, API_VERSION_HEADER, API_VERSION);
    response::set(&mut resp, "x-request-id", &id);
    let out = content_length(resp.headers());
    let took = started.elapsed();
    instance.metrics.finish(method.as_str(), route, resp.status().as_u16(), took, (declared_in, out));
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            path = %path,
            status = resp.status().as_u16(),
            bytes = out,
            duration_ms = took.as_secs_f64() * 1000.0,
            "request"
        )
    });
    resp
}

fn content_length(headers: &http::HeaderMap) -> u64 {
    headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// What a handler sees of a request.
pub(crate) struct Ctx<'a> {
    pub registry: &'a Registry,
    pub repo: drydock_spec::RepositoryName,
    pub query: Query,
    /// Where the repository reports what it did.
    pub events: Bridge,
    pub limits: limits::ConnectionLimits,
    /// Whether the caller may pull from a repository (`*`: from any, as an
    /// automatic mount needs).
    pub may_pull: &'a (dyn Fn(&str) -> bool + Send + Sync),
}

impl Ctx<'_> {
    /// The request's repository, reporting to this request's bridge.
    pub fn repository(&self) -> Repository<'_> {
        self.registry.repository(self.repo.clone(), &self.events)
    }

    /// The request body as a stream of data chunks, cut off when it stalls
    /// for longer than the body progress timeout.
    pub fn body(
        &self,
        req: Request<Incoming>,
    ) -> impl futures_util::Stream<Item = Result<Bytes, Box<dyn std::error::Error + Send + Sync>>> + Unpin + Send {
        limits::Progress::new(http_body_util::BodyDataStream::new(req.into_body()), self.limits.body_progress_timeout)
    }

    /// The whole body, at most `max` bytes; `Ok(None)` when it is longer.
    pub async fn body_bytes(&self, req: Request<Incoming>, max: usize) -> Result<Option<Bytes>, RegistryError> {
        use futures_util::StreamExt;
        let mut body = self.body(req);
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| RegistryError::Body(std::io::Error::other(e)))?;
            if out.len() + chunk.len() > max {
                return Ok(None);
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Some(out.freeze()))
    }
}

fn bridge(instance: &Instance, req: &Request<Incoming>, request_id: &str, peer: &str, actor: Option<String>) -> Bridge {
    let header = |name: http::header::HeaderName| {
        req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let host = header(http::header::HOST);
    let request = RequestRecord {
        id: request_id.to_owned(),
        addr: peer.to_owned(),
        host: host.clone(),
        method: req.method().to_string(),
        useragent: header(http::header::USER_AGENT),
    };
    let base = format!(
        "{}://{}",
        instance.scheme,
        if host.is_empty() { instance.source_addr.as_str() } else { host.as_str() }
    );
    let source = SourceRecord { addr: instance.source_addr.clone(), instance_id: instance.instance_id.clone() };
    let actor = ActorRecord { name: actor };
    Bridge::new(instance.notifications.clone(), instance.registry.env.clone(), request, actor, source, base)
}

fn query(req: &Request<Incoming>) -> Query {
    Query::parse(req.uri().query())
}

async fn dispatch(instance: &Instance, req: Request<Incoming>, request_id: &str, peer: &str) -> Response<Body> {
    let registry = &instance.registry;
    let Some(route) = Route::parse(req.uri().path()) else {
        return response::error_with_status(ErrorCode::Unsupported, 404, "no such endpoint");
    };
    let method = req.method().clone();
    let authorization: Option<String> =
        req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let authorization = authorization.as_deref();
    let needed = auth::scope::needed(&route, &method);
    // A mount would also pull its source.
    let mount_source = match (&route, &method) {
        (Route::UploadStart { .. }, &Method::POST) => {
            let q = query(&req);
            q.get("mount").and(q.get("from")).filter(|f| route::repository(f).is_ok()).cloned()
        }
        _ => None,
    };
    let wanted: Vec<auth::scope::Scope> =
        mount_source.iter().map(|f| auth::scope::Scope::repository(f, &[auth::scope::Action::Pull])).collect();
    let actor = match instance.access.decide(authorization, &needed, &wanted, instance.registry.env.now()) {
        Decision::Allowed { actor } => actor,
        Decision::Challenge { www_authenticate } => {
            let mut r = response::error(ErrorCode::Unauthorized, "authentication required");
            response::set(&mut r, "www-authenticate", www_authenticate);
            return r;
        }
        Decision::Denied { actor, www_authenticate } => {
            let mut r = response::error(ErrorCode::Denied, format!("{actor} may not do this"));
            if let Some(challenge) = www_authenticate {
                response::set(&mut r, "www-authenticate", challenge);
            }
            return r;
        }
    };
    match route {
        Route::Base => match method {
            Method::GET | Method::HEAD => response::json(StatusCode::OK, &serde_json::json!({})),
            _ => not_allowed(),
        },
        Route::Catalog => match method {
            Method::GET => listing::catalog(registry, &query(&req)).await.unwrap_or_else(into_response),
            _ => not_allowed(),
        },
        route => {
            let name = route.name().expect("repository routes carry a name");
            let repo = match route::repository(name) {
                Ok(r) => r,
                Err(e) => return response::error(ErrorCode::NameInvalid, e.to_string()),
            };
            let events = bridge(instance, &req, request_id, peer, actor);
            let access = &instance.access;
            let now = registry.env.now();
            let may_pull = move |source: &str| {
                if source == "*" {
                    // Only where every caller may pull everything.
                    return access.grants_everything_to_anyone_allowed();
                }
                let pull = [auth::scope::Scope::repository(source, &[auth::scope::Action::Pull])];
                matches!(access.decide(authorization, &pull, &[], now), Decision::Allowed { .. })
            };
            let ctx = Ctx { registry, repo, query: query(&req), events, limits: instance.limits, may_pull: &may_pull };
            let writes = matches!(method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
            if writes && let Err(e) = ctx.repository().writes_allowed() {
                return into_response(e);
            }
            let result = match (route, method) {
                (Route::Tags { .. }, Method::GET) => listing::tags(&ctx).await,
                (Route::Manifest { reference, .. }, Method::GET) => manifests::get(&ctx, &reference, &req, true).await,
                (Route::Manifest { reference, .. }, Method::HEAD) => {
                    manifests::get(&ctx, &reference, &req, false).await
                }
                (Route::Manifest { reference, .. }, Method::PUT) => manifests::put(&ctx, &reference, req).await,
                (Route::Manifest { reference, .. }, Method::DELETE) => manifests::delete(&ctx, &reference).await,
                (Route::Blob { digest, .. }, Method::GET) => blobs::get(&ctx, &digest, &req, true).await,
                (Route::Blob { digest, .. }, Method::HEAD) => blobs::get(&ctx, &digest, &req, false).await,
                (Route::Blob { digest, .. }, Method::DELETE) => blobs::delete(&ctx, &digest).await,
                (Route::UploadStart { .. }, Method::POST) => uploads::start(&ctx, req).await,
                (Route::Upload { id, .. }, Method::GET) => uploads::status(&ctx, &id).await,
                (Route::Upload { id, .. }, Method::PATCH) => uploads::patch(&ctx, &id, req).await,
                (Route::Upload { id, .. }, Method::PUT) => uploads::put(&ctx, &id, req).await,
                (Route::Upload { id, .. }, Method::DELETE) => uploads::cancel(&ctx, &id).await,
                (Route::Referrers { digest, .. }, Method::GET) => referrers::get(&ctx, &digest).await,
                _ => return not_allowed(),
            };
            result.unwrap_or_else(into_response)
        }
    }
}

fn not_allowed() -> Response<Body> {
    response::error(ErrorCode::Unsupported, "method not allowed on this endpoint")
}

/// Maps a registry failure to its protocol response.
pub(crate) fn into_response(e: RegistryError) -> Response<Body> {
    match (&e, e.code()) {
        (RegistryError::PreconditionFailed { .. }, _) => {
            response::error_with_status(ErrorCode::ManifestInvalid, 412, e.to_string())
        }
        (_, Some(ErrorCode::Unavailable)) => {
            tracing::error!(error = %e, "storage failure");
            response::error(ErrorCode::Unavailable, "storage backend failed; try again")
        }
        (_, Some(code)) => response::error(code, e.to_string()),
        (_, None) => response::error(ErrorCode::Unknown, e.to_string()),
    }
}

pub(crate) type HandlerResult = Result<Response<Body>, RegistryError>;
