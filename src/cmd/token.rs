//! `drydock token`: a small token service for `auth.token`, so the whole
//! bearer flow runs locally — a signing key and its certificate (the
//! registry's `rootcertbundle`), single tokens, and a `/token` endpoint for
//! the users of an htpasswd file.
//!
//! Policy of `serve`: any user the htpasswd file names is granted every
//! scope it asks for (the file says who, as with `auth.htpasswd`). Finer
//! policies belong to a real token service; the registry enforces whatever
//! the token grants.

use anyhow::{Context, bail};
use base64::Engine;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Signer {
    /// PEM private key (PKCS#8 ECDSA P-256) that signs tokens.
    #[arg(long)]
    key: PathBuf,
    /// The `iss` of every token (the registry's `auth.token.issuer`).
    #[arg(long)]
    issuer: String,
    /// The registry the tokens are for (`aud`; its `auth.token.service`).
    #[arg(long)]
    service: String,
    /// How long a token is valid.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    ttl: Duration,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Write a new signing key and its self-signed certificate.
    Keygen {
        #[arg(long)]
        key: PathBuf,
        /// The certificate: the registry's `auth.token.rootcertbundle`.
        #[arg(long)]
        cert: PathBuf,
    },
    /// Print one token for a subject and its scopes.
    Issue {
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        subject: String,
        /// `repository:<name>:<actions>` or `registry:catalog:*`; repeat for more.
        #[arg(long)]
        scope: Vec<String>,
    },
    /// Serve `/token` (the registry's `auth.token.realm`) to htpasswd users.
    Serve {
        #[command(flatten)]
        signer: Signer,
        /// Users allowed a token (bcrypt htpasswd).
        #[arg(long)]
        htpasswd: PathBuf,
        #[arg(long, default_value = "127.0.0.1:5001")]
        addr: String,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Keygen { key, cert } => {
            let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
            let params = rcgen::CertificateParams::new(vec!["drydock-token".to_owned()])?;
            let certificate = params.self_signed(&pair)?;
            std::fs::write(&key, pair.serialize_pem()).with_context(|| format!("writing {}", key.display()))?;
            std::fs::write(&cert, certificate.pem()).with_context(|| format!("writing {}", cert.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Issue { signer, subject, scope } => {
            let access = scope.iter().map(|s| access_entry(s)).collect::<anyhow::Result<Vec<_>>>()?;
            println!("{}", sign(&signer, &subject, access, SystemTime::now())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { signer, htpasswd, addr } => {
            let users = drydock_reference::auth::htpasswd::Htpasswd::load(&htpasswd, "drydock token")?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(signer, users, addr))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One `access` claim from a scope string.
fn access_entry(scope: &str) -> anyhow::Result<serde_json::Value> {
    let (kind, rest) = scope.split_once(':').with_context(|| format!("scope {scope:?} is not type:name:actions"))?;
    let (name, actions) = rest.rsplit_once(':').with_context(|| format!("scope {scope:?} is not type:name:actions"))?;
    if !matches!(kind, "repository" | "registry") || name.is_empty() {
        bail!("scope {scope:?}: the type is repository or registry, and a name is needed");
    }
    let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
    Ok(serde_json::json!({"type": kind, "name": name, "actions": actions}))
}

fn sign(signer: &Signer, subject: &str, access: Vec<serde_json::Value>, now: SystemTime) -> anyhow::Result<String> {
    let pem = std::fs::read(&signer.key).with_context(|| format!("reading {}", signer.key.display()))?;
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).context("the key must be a PKCS#8 ECDSA P-256 PEM")?;
    let public = rcgen::KeyPair::from_pem(std::str::from_utf8(&pem)?).context("the key must be a PKCS#8 PEM")?;
    let now = now.duration_since(SystemTime::UNIX_EPOCH)?.as_secs();
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("reading OS entropy: {e}"))?;
    let claims = serde_json::json!({
        "iss": signer.issuer, "sub": subject, "aud": signer.service,
        "iat": now, "nbf": now, "exp": now + signer.ttl.as_secs(),
        "jti": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id),
        "access": access,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    // distribution finds the verifying key by this id, and refuses a token without one.
    header.kid = Some(drydock_reference::auth::token::key_id(&rcgen::PublicKeyData::subject_public_key_info(&public)));
    Ok(jsonwebtoken::encode(&header, &claims, &key)?)
}

async fn serve(signer: Signer, users: drydock_reference::auth::htpasswd::Htpasswd, addr: String) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
    eprintln!("drydock token service on {}", listener.local_addr()?);
    let shared = std::sync::Arc::new((signer, users));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(a) => a,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&shared.0, &shared.1, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: u16, body: serde_json::Value) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("content-type", http::HeaderValue::from_static("application/json"));
    r
}

fn answer(
    signer: &Signer,
    users: &drydock_reference::auth::htpasswd::Htpasswd,
    req: &http::Request<hyper::body::Incoming>,
) -> http::Response<Full<Bytes>> {
    if req.uri().path() != "/token" {
        return reply(404, serde_json::json!({"details": "not found"}));
    }
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok());
    let Some(user) = users.authenticate(authorization) else {
        let mut r = reply(401, serde_json::json!({"details": "credentials required"}));
        r.headers_mut().insert("www-authenticate", http::HeaderValue::from_static("Basic realm=\"drydock token\""));
        return r;
    };
    let query: Vec<(String, String)> =
        form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes()).into_owned().collect();
    if let Some((_, s)) = query.iter().find(|(k, _)| k == "service")
        && s != &signer.service
    {
        return reply(
            400,
            serde_json::json!({"details": format!("this service issues tokens for {}", signer.service)}),
        );
    }
    let mut access = Vec::new();
    for (_, scope) in query.iter().filter(|(k, _)| k == "scope") {
        // A scope parameter may hold several, space-separated.
        for one in scope.split(' ').filter(|s| !s.is_empty()) {
            match access_entry(one) {
                Ok(a) => access.push(a),
                Err(e) => return reply(400, serde_json::json!({"details": e.to_string()})),
            }
        }
    }
    let now = SystemTime::now();
    match sign(signer, &user, access, now) {
        Ok(token) => reply(
            200,
            serde_json::json!({
                "token": token, "access_token": token, "expires_in": signer.ttl.as_secs(),
                "issued_at": humantime::format_rfc3339_seconds(now).to_string(),
            }),
        ),
        Err(e) => reply(500, serde_json::json!({"details": e.to_string()})),
    }
}
