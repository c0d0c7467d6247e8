//! Per-endpoint delivery counters, readable as expvar-style JSON
//! (`/debug/vars`) and Prometheus text (`/metrics`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct EndpointMetrics {
    /// Events recorded for this endpoint and not yet delivered or dead-lettered.
    pub pending: AtomicI64,
    /// Events recorded for this endpoint.
    pub events: AtomicU64,
    /// Deliveries answered 2xx.
    pub successes: AtomicU64,
    /// Deliveries answered with another status.
    pub failures: AtomicU64,
    /// Deliveries that got no answer (connection refused, timeout, …).
    pub errors: AtomicU64,
    /// Events moved to the dead-letter record.
    pub dead_letters: AtomicU64,
    /// Answers by HTTP status, e.g. `"200 OK"`.
    statuses: Mutex<BTreeMap<String, u64>>,
}

/// A point-in-time copy, for tests and rendering.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub pending: i64,
    pub events: u64,
    pub successes: u64,
    pub failures: u64,
    pub errors: u64,
    #[serde(rename = "deadLetters")]
    pub dead_letters: u64,
    pub statuses: BTreeMap<String, u64>,
}

impl EndpointMetrics {
    pub fn status(&self, code: http::StatusCode) {
        let key = format!("{} {}", code.as_u16(), code.canonical_reason().unwrap_or(""));
        *self.statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(key.trim_end().to_owned()).or_default() += 1;
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            pending: self.pending.load(Relaxed),
            events: self.events.load(Relaxed),
            successes: self.successes.load(Relaxed),
            failures: self.failures.load(Relaxed),
            errors: self.errors.load(Relaxed),
            dead_letters: self.dead_letters.load(Relaxed),
            statuses: self.statuses.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

/// `{"registry":{"notifications":{"endpoints":[{"name","url","metrics"}]}}}`
pub fn expvar(endpoints: &[(String, String, Snapshot)]) -> serde_json::Value {
    let list: Vec<serde_json::Value> =
        endpoints.iter().map(|(name, url, m)| serde_json::json!({"name": name, "url": url, "metrics": m})).collect();
    serde_json::json!({"registry": {"notifications": {"endpoints": list}}})
}

/// A metric's name, help text and how to read it from a snapshot.
type Family<T> = (&'static str, &'static str, fn(&Snapshot) -> T);

/// Prometheus text exposition format.
pub fn prometheus(endpoints: &[(String, String, Snapshot)]) -> String {
    let mut out = String::new();
    let gauges: [Family<i64>; 1] = [("drydock_notifications_pending", "Events waiting for delivery.", |m| m.pending)];
    let counters: [Family<u64>; 5] = [
        ("drydock_notifications_events_total", "Events recorded for the endpoint.", |m| m.events),
        ("drydock_notifications_successes_total", "Deliveries answered 2xx.", |m| m.successes),
        ("drydock_notifications_failures_total", "Deliveries answered with a non-2xx status.", |m| m.failures),
        ("drydock_notifications_errors_total", "Deliveries that got no answer.", |m| m.errors),
        ("drydock_notifications_dead_letters_total", "Events moved to the dead-letter record.", |m| m.dead_letters),
    ];
    for (name, help, get) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (endpoint, _, m) in endpoints {
            let _ = writeln!(out, "{name}{{endpoint=\"{}\"}} {}", escape(endpoint), get(m));
        }
    }
    for (name, help, get) in counters {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for (endpoint, _, m) in endpoints {
            let _ = writeln!(out, "{name}{{endpoint=\"{}\"}} {}", escape(endpoint), get(m));
        }
    }
    let name = "drydock_notifications_responses_total";
    let _ = writeln!(out, "# HELP {name} Endpoint answers by HTTP status.\n# TYPE {name} counter");
    for (endpoint, _, m) in endpoints {
        for (status, n) in &m.statuses {
            let code = status.split(' ').next().unwrap_or(status);
            let _ = writeln!(out, "{name}{{endpoint=\"{}\",code=\"{code}\"}} {n}", escape(endpoint));
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_formats() {
        let m = EndpointMetrics::default();
        m.events.fetch_add(3, Relaxed);
        m.successes.fetch_add(2, Relaxed);
        m.status(http::StatusCode::OK);
        m.status(http::StatusCode::OK);
        m.status(http::StatusCode::SERVICE_UNAVAILABLE);
        let list = vec![("ci".to_owned(), "http://x/".to_owned(), m.snapshot())];
        let v = expvar(&list);
        assert_eq!(v["registry"]["notifications"]["endpoints"][0]["metrics"]["statuses"]["200 OK"], 2);
        let text = prometheus(&list);
        assert!(text.contains("drydock_notifications_events_total{endpoint=\"ci\"} 3\n"), "{text}");
        assert!(text.contains("drydock_notifications_responses_total{endpoint=\"ci\",code=\"503\"} 1\n"), "{text}");
    }
}
