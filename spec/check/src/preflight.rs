//! Before any check runs: is there a registry at the URL, speaking the
//! scheme the URL names? A wrong URL then costs one clear message (and exit
//! status 2) instead of every check failing alike — and a web server that
//! is not a registry cannot pass the checks that only need a 200.
//!
//! A registry answers `GET /v2/` with 200 (or 401 asking for credentials),
//! and an unknown manifest with 404 and a JSON error body. A server that
//! does neither is not one; one that answers plain HTTP where TLS was asked
//! for (or TLS where plain HTTP was) is named with the URL that would work.

use crate::auth::Auth;
use crate::client::{Client, ClientError, Target};
use bytes::Bytes;
use http::{Method, StatusCode};
use tokio_rustls::rustls::Error as TlsError;
use tokio_rustls::rustls::pki_types::CertificateDer;

/// Why the URL names no registry drydock can check.
#[derive(Debug, thiserror::Error)]
pub enum NotARegistry {
    #[error("cannot reach {url}: {cause}")]
    Unreachable { url: String, cause: ClientError },
    #[error("{url}: the registry's certificate is not trusted ({cause}); --ca-cert FILE trusts a private CA")]
    Untrusted { url: String, cause: String },
    #[error("{url} answers plain HTTP, not TLS: use http://{authority}")]
    PlainNotTls { url: String, authority: String },
    #[error("{url} speaks TLS, not plain HTTP: use https://{authority}")]
    TlsNotPlain { url: String, authority: String },
    #[error(
        "{url} is not a registry: GET /v2/ answered {status}{body}; a registry answers 200, or 401 asking for credentials"
    )]
    Base { url: String, status: StatusCode, body: String },
    #[error(
        "{url} is not a registry: GET /v2/ answered 200, but a manifest that does not exist answered {status}{body}, where a registry answers 404 with a JSON error body"
    )]
    NoErrorBody { url: String, status: StatusCode, body: String },
}

/// Probes `client`'s registry (`url` as the user gave it).
pub async fn probe(
    client: &Client,
    url: &str,
    namespace: &str,
    roots: &[CertificateDer<'static>],
) -> Result<(), NotARegistry> {
    let target = client.target.clone();
    let authority = target.authority();
    let unreachable = |cause| NotARegistry::Unreachable { url: url.to_owned(), cause };
    let base = match client.send(Method::GET, "/v2/", &[], Bytes::new()).await {
        Ok(reply) => reply,
        Err(ClientError::Tls(e)) if target.https => {
            if let Some(TlsError::InvalidCertificate(why)) = rustls_error(&e) {
                return Err(NotARegistry::Untrusted { url: url.to_owned(), cause: format!("{why:?}") });
            }
            return Err(if answers_plain_http(&target).await {
                NotARegistry::PlainNotTls { url: url.to_owned(), authority }
            } else {
                unreachable(ClientError::Tls(e))
            });
        }
        Err(e @ (ClientError::Http(_) | ClientError::Timeout(_))) if !target.https => {
            return Err(if speaks_tls(&target, roots).await {
                NotARegistry::TlsNotPlain { url: url.to_owned(), authority }
            } else {
                unreachable(e)
            });
        }
        Err(e) => return Err(unreachable(e)),
    };
    match base.status {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED => return Ok(()),
        status => {
            // Some TLS servers answer a plain request with a 400 of their own.
            if !target.https && status == StatusCode::BAD_REQUEST && speaks_tls(&target, roots).await {
                return Err(NotARegistry::TlsNotPlain { url: url.to_owned(), authority });
            }
            return Err(NotARegistry::Base { url: url.to_owned(), status, body: excerpt(&base.body) });
        }
    }
    let path = format!("/v2/{namespace}/preflight/manifests/drydock-preflight-absent");
    let absent = client.send(Method::GET, &path, &[], Bytes::new()).await.map_err(unreachable)?;
    let error_body = absent.json().is_some_and(|j| j.get("errors").is_some_and(|e| e.is_array()));
    let registry_like = error_body
        || matches!(absent.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
        // A registry whose error bodies depart from the spec is still one
        // (the checks say how it departs) if /v2/ itself says so.
        || base.header("docker-distribution-api-version").is_some()
        || base.json().is_some_and(|j| j.is_object());
    if registry_like {
        Ok(())
    } else {
        Err(NotARegistry::NoErrorBody { url: url.to_owned(), status: absent.status, body: excerpt(&absent.body) })
    }
}

/// Whether the server answers a plain HTTP request at all.
async fn answers_plain_http(target: &Target) -> bool {
    let plain = Target { https: false, ..target.clone() };
    Client::new(plain, Auth::new(None)).send_raw(Method::GET, "/v2/", &[], Bytes::new(), None).await.is_ok()
}

/// Whether the server completes a TLS handshake, or refuses one in TLS's
/// own terms (a certificate not trusted here, an alert).
async fn speaks_tls(target: &Target, roots: &[CertificateDer<'static>]) -> bool {
    let tls = Target { https: true, ..target.clone() };
    match Client::with_roots(tls, Auth::new(None), roots.to_vec()).connect().await {
        Ok(_) => true,
        Err(ClientError::Tls(e)) => {
            matches!(rustls_error(&e), Some(TlsError::InvalidCertificate(_) | TlsError::AlertReceived(_)))
        }
        Err(_) => false,
    }
}

/// The TLS error behind an I/O error from the handshake, if that is what it is.
fn rustls_error(e: &std::io::Error) -> Option<&TlsError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<TlsError>())
}

/// The start of a body, for a message: ` ("…")`, or nothing if empty.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.chars().count() {
        0 => String::new(),
        n if n <= 80 => format!(" ({line:?})"),
        _ => format!(" ({:?}…)", line.chars().take(80).collect::<String>()),
    }
}
