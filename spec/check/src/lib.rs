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

use futures_util::StreamExt;
use harness::{Ctx, Profile, Run, Stop};
use report::{CheckResult, Report, Status};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A byte stream to the registry.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> Io for T {}

pub use checks::all as all_checks;
pub use checks::markdown as checks_markdown;

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

/// With `*` (any run of characters) the pattern must match the whole id;
/// without, it names the id itself or the ids under it (`push/chunked`
/// selects `push/chunked/201`, not `push/chunked-x`).
pub fn matches(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return id
            .strip_prefix(pattern)
            .is_some_and(|rest| rest.is_empty() || pattern.ends_with('/') || rest.starts_with('/'));
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

/// Parses an expected-failures file: one `check-id  reason…` per line, `#`
/// comments; an id with `*` names every check it matches whole.
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
        .filter(|c| options.only.is_empty() || options.only.iter().any(|p| matches(p, &c.id)))
        .filter(|c| !options.skip.iter().any(|p| matches(p, &c.id)))
        .collect();
    let total = selected.len() + usize::from(receiver.is_some()) + usize::from(options.load.is_some());
    let mut results = Vec::with_capacity(total);
    let mut units = futures_util::stream::iter(units(&selected))
        .map(|unit| run_unit(&ctx, unit, options))
        .buffered(options.jobs.max(1));
    while let Some(unit_results) = units.next().await {
        for r in unit_results {
            on_result(&r, results.len() + 1, total);
            results.push(r);
        }
    }
    drop(units);
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

/// What runs as one task: a check alone, or the selected steps of one
/// sequence (which run in order, sharing state).
enum Unit<'c> {
    Alone(&'c harness::Check, for<'a> fn(&'a Ctx) -> harness::CheckFuture<'a>),
    Steps(&'c Arc<dyn harness::Sequence>, Vec<(&'c harness::Check, usize)>),
}

/// Groups consecutive steps of the same sequence.
fn units(selected: &[harness::Check]) -> Vec<Unit<'_>> {
    let mut out: Vec<Unit<'_>> = Vec::new();
    for c in selected {
        match &c.run {
            Run::Alone(f) => out.push(Unit::Alone(c, *f)),
            Run::Step { sequence, index } => match out.last_mut() {
                Some(Unit::Steps(s, steps)) if Arc::ptr_eq(s, sequence) => steps.push((c, *index)),
                _ => out.push(Unit::Steps(sequence, vec![(c, *index)])),
            },
        }
    }
    out
}

async fn run_unit(ctx: &Ctx, unit: Unit<'_>, options: &Options) -> Vec<CheckResult> {
    let started = tokio::time::Instant::now();
    match unit {
        Unit::Alone(check, f) => {
            let verdict = if check.since > options.profile { None } else { Some(f(ctx).await) };
            vec![result_of(check, verdict, options, started.elapsed())]
        }
        Unit::Steps(sequence, steps) => {
            let wanted: Vec<_> = steps.iter().filter(|(c, _)| c.since <= options.profile).collect();
            let mut verdicts = match wanted.iter().map(|(_, i)| *i).max() {
                Some(last) => sequence.run(ctx, last).await,
                None => Vec::new(),
            };
            // The sequence's time, shared among the steps reported.
            let each = started.elapsed() / u32::try_from(steps.len().max(1)).unwrap_or(u32::MAX);
            steps
                .iter()
                .map(|(c, i)| {
                    let verdict = (c.since <= options.profile).then(|| {
                        let slot = verdicts.get_mut(*i);
                        slot.map_or(Err(harness::skip("the sequence ended before this step")), |v| {
                            std::mem::replace(v, Ok(()))
                        })
                    });
                    result_of(c, verdict, options, each)
                })
                .collect()
        }
    }
}

/// The result of `check` given its verdict (`None`: not in the profile).
fn result_of(
    check: &harness::Check,
    verdict: Option<harness::Verdict>,
    options: &Options,
    took: std::time::Duration,
) -> CheckResult {
    let mut result = CheckResult {
        id: check.id.to_string(),
        section: check.section.to_string(),
        title: check.title.to_string(),
        status: Status::Passed,
        failure: None,
        reason: None,
        duration_ms: took.as_millis() as u64,
    };
    match verdict {
        None => {
            result.status = Status::Skipped;
            result.reason = Some("not required by the selected profile".into());
        }
        Some(Ok(())) => {}
        Some(Err(Stop::Skip(reason))) => {
            result.status = Status::Skipped;
            result.reason = Some(reason);
        }
        Some(Err(Stop::Fail(f))) => {
            result.failure = Some(*f);
            match expected_failure(&options.expected_failures, &check.id) {
                Some(reason) => {
                    result.status = Status::Expected;
                    result.reason = Some(reason.to_owned());
                }
                None => result.status = Status::Failed,
            }
        }
    }
    result
}

/// The reason `id` is expected to fail: a line naming it exactly, or a
/// line whose pattern (with `*`) matches it whole.
pub fn expected_failure<'m>(expected: &'m BTreeMap<String, String>, id: &str) -> Option<&'m str> {
    expected
        .get(id)
        .or_else(|| expected.iter().find(|(p, _)| p.contains('*') && matches(p, id)).map(|(_, why)| why))
        .map(String::as_str)
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
        assert!(matches("push/chunked", "push/chunked/201"));
        assert!(matches("push/chunked/201", "push/chunked/201"));
        assert!(!matches("push/chunk", "push/chunked/201"));
        assert!(matches("content/image/get-by-tag", "content/image/get-by-tag/sha512"));
    }

    #[test]
    fn expected_failures_file() {
        let m = parse_expected_failures(
            "# header\nerrors/name-invalid   answers 404 NAME_UNKNOWN\n\npush/sha512 # no reason\n",
        );
        assert_eq!(m["errors/name-invalid"], "answers 404 NAME_UNKNOWN");
        assert_eq!(m["push/sha512"], "");
        let m = parse_expected_failures("content/*/referrers*  no referrers API\n");
        assert_eq!(expected_failure(&m, "content/image/referrers/sha512"), Some("no referrers API"));
        assert_eq!(expected_failure(&m, "content/image/referrers"), Some("no referrers API"));
        assert_eq!(expected_failure(&m, "discovery/referrers/empty"), None);
    }
}
