//! Request metrics in Prometheus form: requests by method, route and
//! status; latency histograms by route; bytes in and out; requests in
//! flight. Kept in memory, served on the debug listener.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Latencies in [`LATENCY_BUCKETS`].
#[derive(Default)]
pub struct Histogram {
    /// Count per bucket (not cumulative), then the overflow.
    buckets: [u64; LATENCY_BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn observe(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|b| secs <= *b).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket] += 1;
        self.sum += secs;
        self.count += 1;
    }

    /// The `_bucket`, `_sum` and `_count` lines of series `name{labels}`.
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i];
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Default)]
pub struct RequestMetrics {
    /// (method, route, status) → requests.
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    in_flight: AtomicI64,
}

/// Counts a request in flight until dropped.
pub struct InFlight<'a>(&'a RequestMetrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl RequestMetrics {
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    /// Records a finished request. `route` is the endpoint's name (never
    /// the path, which would make a series per repository).
    pub fn finish(&self, method: &str, route: &'static str, status: u16, took: Duration, bytes: (u64, u64)) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((method.to_owned(), route, status))
            .or_default() += 1;
        self.latency.lock().unwrap_or_else(|p| p.into_inner()).entry(route).or_default().observe(took);
        self.bytes_in.fetch_add(bytes.0, Relaxed);
        self.bytes_out.fetch_add(bytes.1, Relaxed);
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let name = "drydock_http_requests_total";
        let _ = writeln!(out, "# HELP {name} Requests answered, by method, route and status.\n# TYPE {name} counter");
        for ((method, route, status), n) in self.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "{name}{{method=\"{method}\",route=\"{route}\",code=\"{status}\"}} {n}");
        }
        let name = "drydock_http_request_duration_seconds";
        let _ =
            writeln!(out, "# HELP {name} Time from request to response headers, by route.\n# TYPE {name} histogram");
        for (route, h) in self.latency.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            h.render(&mut out, name, &format!("route=\"{route}\""));
        }
        for (name, help, v) in [
            (
                "drydock_http_request_bytes_total",
                "Request body bytes declared by Content-Length.",
                self.bytes_in.load(Relaxed),
            ),
            (
                "drydock_http_response_bytes_total",
                "Response body bytes declared by Content-Length.",
                self.bytes_out.load(Relaxed),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        }
        let name = "drydock_http_requests_in_flight";
        let _ = writeln!(
            out,
            "# HELP {name} Requests being handled.\n# TYPE {name} gauge\n{name} {}",
            self.in_flight.load(Relaxed)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_histograms_and_in_flight() {
        let m = RequestMetrics::default();
        let a = m.start();
        m.finish("GET", "blob", 200, Duration::from_millis(3), (0, 100));
        m.finish("GET", "blob", 200, Duration::from_secs(20), (0, 50));
        m.finish("PUT", "manifest", 201, Duration::from_millis(40), (300, 0));
        let text = m.prometheus();
        assert!(text.contains("drydock_http_requests_total{method=\"GET\",route=\"blob\",code=\"200\"} 2\n"), "{text}");
        assert!(
            text.contains("drydock_http_request_duration_seconds_bucket{route=\"blob\",le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("drydock_http_request_duration_seconds_bucket{route=\"blob\",le=\"10\"} 1\n"), "{text}");
        assert!(
            text.contains("drydock_http_request_duration_seconds_bucket{route=\"blob\",le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("drydock_http_request_bytes_total 300\n")
                && text.contains("drydock_http_response_bytes_total 150\n")
        );
        assert!(text.contains("drydock_http_requests_in_flight 1\n"));
        drop(a);
        assert!(m.prometheus().contains("drydock_http_requests_in_flight 0\n"));
    }
}
