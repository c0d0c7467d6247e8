//! `drydock check`: verifies a registry against the OCI Distribution Spec by
//! its HTTP behaviour alone.
//!
//! The harness shares declarative facts with the rest of drydock (digest
//! grammar, media types, error-code names) and nothing else: it never calls
//! the reference registry's logic, so a bug there cannot hide itself.
//!
//! - `client`, `auth`: HTTP/1.1 over TCP or TLS, with basic and bearer auth.
//! - `harness`: what a check is and the helpers checks share.
//! - `checks`: the checks, by workflow.
//! - `report`: console, JSON and JUnit output.

pub mod auth;
mod checks;
pub mod client;
pub mod harness;
pub mod load;
pub mod preflight;
pub mod report;
pub mod webhook;

use harness::{Ctx, Profile, Stop};
use report::{CheckResult, Report, Status};
use std::collections::BTreeMap;

/// A byte stream to the registry.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

pub use checks::all as all_checks;

/// How to run.
pub struct Options {
    pub url: String,
    pub namespace: String,
    pub credentials: Option<(String, String)>,
    pub profile: Profile,
    /// Run only checks whose id matches one of these (empty: all).
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// Check id → reason, for failures that are known and accepted.
    pub expected_failures: BTreeMap<String, String>,
    /// Checks running at once.
    pub jobs: usize,
    /// Unique per run; names repositories and content.
    pub run_id: String,
    /// Receive the registry's webhook events here and check them.
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// How long events may take to arrive after the last check.
    pub webhook_wait: std::time::Duration,
    /// Also measure push and pull throughput under load.
    pub load: Option<load::LoadOptions>,
    /// Extra trusted CA certificates (DER) for HTTPS registries.
    pub ca_certs: Vec<tokio_rustls::rustls::pki_types::CertificateDer<'static>>,
}

/// `*` matches any run of characters; otherwise the pattern is a prefix.
pub fn matches(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return id.starts_with(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = id;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else { return false };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else { return false };
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty()
}

/// Parses an expected-failures file: one `check-id  reason…` per line, `#` comments.
pub fn parse_expected_failures(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| l.split_once('#').map_or(l, |(before, _)| before).trim())
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((id, reason)) => (id.to_owned(), reason.trim().to_owned()),
            None => (l.to_owned(), String::new()),
        })
        .collect()
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Client(#[from] client::ClientError),
    /// The URL names no registry (see `preflight`): nothing was checked.
    #[error(transparent)]
    NotARegistry(#[from] preflight::NotARegistry),
}

/// Runs the selected checks; `on_result` sees each result as it completes.
pub async fn run(options: &Options, mut on_result: impl FnMut(&CheckResult, usize, usize)) -> Result<Report, RunError> {
    let receiver = match options.webhook_listen {
        Some(addr) => Some(
            webhook::Receiver::start(addr)
                .await
                .map_err(|e| client::ClientError::Connect(format!("webhook listener {addr}"), e))?,
        ),
        None => None,
    };
    let target = client::Target::parse(&options.url)?;
    let client =
        client::Client::with_roots(target, auth::Auth::new(options.credentials.clone()), options.ca_certs.clone());
    preflight::probe(&client, &options.url, &options.namespace, &options.ca_certs).await?;
    let ctx = Ctx::new(client, &options.namespace, options.profile, &options.run_id);
    let selected: Vec<harness::Check> = all_checks()
        .into_iter()
        .filter(|c| options.only.is_empty() || options.only.iter().any(|p| matches(p, c.id)))
        .filter(|c| !options.skip.iter().any(|p| matches(p, c.id)))
        .collect();
    let total = selected.len() + usize::from(receiver.is_some()) + usize::from(options.load.is_some());
    let mut results = Vec::with_capacity(total);
    for chunk in selected.chunks(options.jobs.max(1)) {
        let runs = chunk.iter().map(|c| run_one(&ctx, c, options));
        for r in futures_util::future::join_all(runs).await {
            on_result(&r, results.len() + 1, total);
            results.push(r);
        }
    }
    let mut load_result = None;
    if let Some(opts) = options.load {
        let started = tokio::time::Instant::now();
        let outcome = load::run(&ctx, opts).await;
        let r = CheckResult {
            id: "load/push-pull".into(),
            section: "spec §Pushing blobs, §Pulling blobs (under load)".into(),
            title: "concurrent pushes and pulls all succeed, byte for byte".into(),
            status: if outcome.is_ok() { Status::Passed } else { Status::Failed },
            failure: outcome.as_ref().err().cloned(),
            reason: None,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        on_result(&r, results.len() + 1, total);
        results.push(r);
        load_result = outcome.ok();
    }
    if let Some(receiver) = &receiver {
        let started = tokio::time::Instant::now();
        let outcome = receiver.verify(&ctx.ops(), options.webhook_wait).await;
        let r = CheckResult {
            id: "notifications/every-push-and-delete".into(),
            section: "distribution notifications (envelope v1/v2), CloudEvents 1.0".into(),
            title: "every acknowledged push, mount and delete produced a well-formed event".into(),
            status: if outcome.is_ok() { Status::Passed } else { Status::Failed },
            failure: outcome.err(),
            reason: None,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        on_result(&r, results.len() + 1, total);
        results.push(r);
    }
    ctx.clean_up().await;
    Ok(Report { registry: options.url.clone(), profile: options.profile.name().into(), results, load: load_result })
}

async fn run_one(ctx: &Ctx, check: &harness::Check, options: &Options) -> CheckResult {
    let started = tokio::time::Instant::now();
    let mut result = CheckResult {
        id: check.id.into(),
        section: check.section.into(),
        title: check.title.into(),
        status: Status::Passed,
        failure: None,
        reason: None,
        duration_ms: 0,
    };
    if check.since > options.profile {
        result.status = Status::Skipped;
        result.reason = Some("not required by the selected profile".into());
        return result;
    }
    match (check.run)(ctx).await {
        Ok(()) => {}
        Err(Stop::Skip(reason)) => {
            result.status = Status::Skipped;
            result.reason = Some(reason);
        }
        Err(Stop::Fail(f)) => {
            result.failure = Some(*f);
            match options.expected_failures.get(check.id) {
                Some(reason) => {
                    result.status = Status::Expected;
                    result.reason = Some(reason.clone());
                }
                None => result.status = Status::Failed,
            }
        }
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches("push/", "push/chunked/201"));
        assert!(matches("push/*/201", "push/chunked/201"));
        assert!(matches("*416", "push/chunked/out-of-order-416"));
        assert!(!matches("pull/", "push/chunked/201"));
        assert!(!matches("push/*/202", "push/chunked/201"));
    }

    #[test]
    fn expected_failures_file() {
        let m = parse_expected_failures(
            "# header\nerrors/name-invalid   answers 404 NAME_UNKNOWN\n\npush/sha512 # no reason\n",
        );
        assert_eq!(m["errors/name-invalid"], "answers 404 NAME_UNKNOWN");
        assert_eq!(m["push/sha512"], "");
    }
}
