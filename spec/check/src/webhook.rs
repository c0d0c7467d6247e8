//! `--webhook-listen`: a receiver for the registry's notifications, and the
//! check that every push, mount and delete the harness made produced a
//! well-formed event (distribution's envelope, v1 or v2, or CloudEvents).

use crate::harness::{Failure, Op};
use drydock_spec::notification::{CLOUDEVENTS_JSON, CloudEvent, EVENTS_V1, EVENTS_V2, Envelope, Event};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long after the last check events may take to arrive, by default.
pub const DELIVERY_WAIT: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Received {
    events: Vec<Event>,
    /// Deliveries that were not a well-formed envelope, with why.
    malformed: Vec<String>,
}

#[derive(Clone)]
pub struct Receiver {
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    pub async fn start(addr: SocketAddr) -> std::io::Result<Receiver> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let receiver = Receiver { received: Arc::default() };
        let shared = receiver.received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let shared = shared.clone();
                        async move {
                            let content_type = req
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned();
                            let body = req.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                            let mut r = shared.lock().unwrap_or_else(|p| p.into_inner());
                            match parse(&content_type, &body) {
                                Ok(events) => r.events.extend(events),
                                Err(why) => r.malformed.push(why),
                            }
                            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(bytes::Bytes::new())))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(receiver)
    }

    /// Waits for an event for every operation; the check's verdict.
    pub async fn verify(&self, ops: &[Op], wait: Duration) -> Result<(), Failure> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let missing: Vec<&Op> = {
                let r = self.received.lock().unwrap_or_else(|p| p.into_inner());
                ops.iter().filter(|op| !r.events.iter().any(|e| matches(e, op))).collect()
            };
            let malformed = self.received.lock().unwrap_or_else(|p| p.into_inner()).malformed.clone();
            if !malformed.is_empty() {
                return Err(failure(format!(
                    "{} deliveries were not well-formed: {}",
                    malformed.len(),
                    malformed.join("; ")
                )));
            }
            if missing.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let list: Vec<String> = missing
                    .iter()
                    .take(10)
                    .map(|op| {
                        format!(
                            "{} {}{}",
                            op.action,
                            op.repository,
                            op.digest.as_ref().or(op.tag.as_ref()).map(|x| format!(" {x}")).unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(failure(format!(
                    "{} of {} acknowledged operations produced no event within {wait:?}, e.g. {}",
                    missing.len(),
                    ops.len(),
                    list.join(", ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn failure(message: String) -> Failure {
    Failure { message, request: None, response: None }
}

fn matches(e: &Event, op: &Op) -> bool {
    e.action.name() == op.action
        && e.target.repository == op.repository
        && (op.digest.is_none() || e.target.digest == op.digest)
        && (op.tag.is_none() || e.target.tag == op.tag)
}

/// The events in one delivery, checked against the envelope's rules.
fn parse(content_type: &str, body: &[u8]) -> Result<Vec<Event>, String> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let events = match essence {
        EVENTS_V1 | EVENTS_V2 => serde_json::from_slice::<Envelope>(body).map_err(|e| format!("envelope: {e}"))?.events,
        CLOUDEVENTS_JSON => {
            vec![serde_json::from_slice::<CloudEvent>(body).map_err(|e| format!("CloudEvent: {e}"))?.data]
        }
        other => return Err(format!("unexpected Content-Type {other:?}")),
    };
    for e in &events {
        if e.id.is_empty() {
            return Err("an event without an id".into());
        }
        if !well_formed_time(&e.timestamp) {
            return Err(format!("event {}: timestamp {:?} is not RFC 3339", e.id, e.timestamp));
        }
        if e.target.repository.is_empty() || e.request.method.is_empty() {
            return Err(format!("event {}: target.repository and request.method are required", e.id));
        }
        if e.action.name() != "delete"
            && (e.target.digest.is_none() || e.target.media_type.is_none() || e.target.url.is_none())
        {
            return Err(format!("event {}: a {} event needs target.digest, mediaType and url", e.id, e.action.name()));
        }
    }
    Ok(events)
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`
fn well_formed_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (s.ends_with('Z') || s.ends_with('z') || s[19..].contains(['+', '-']))
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps() {
        assert!(super::well_formed_time("2026-11-27T22:29:39.149141544Z"));
        assert!(super::well_formed_time("2026-11-27T22:29:39+01:00"));
        assert!(!super::well_formed_time("yesterday"));
    }
}
