//! The timeline of one run: sim time, host, and what happened. Two runs of
//! the same (scenario, seed) produce the same lines, so the fingerprint (a
//! sha256 of them) proves determinism.

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Trace {
    lines: Arc<Mutex<Vec<String>>>,
    /// Answers no correct registry gives: 5xx other than 503 (storage
    /// unavailable). Every run's oracle reports them.
    server_errors: Arc<Mutex<Vec<String>>>,
    /// What was acknowledged and served, for the universal oracle.
    ledger: crate::ledger::Ledger,
}

impl Trace {
    /// Records a line from inside a host, stamped with the simulation clock.
    pub fn record(&self, host: &str, what: impl AsRef<str>) {
        self.record_at(turmoil::sim_elapsed().unwrap_or_default(), host, what);
    }

    /// Records a line at simulation time `t` (for the driver outside hosts).
    pub fn record_at(&self, t: std::time::Duration, host: &str, what: impl AsRef<str>) {
        let line = format!("{:>9.3}ms {host:<10} {}", t.as_secs_f64() * 1000.0, what.as_ref());
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    /// Notes an answer that breaks the "no 500 for client errors" rule.
    pub fn server_error(&self, what: String) {
        self.server_errors.lock().unwrap_or_else(|p| p.into_inner()).push(what);
    }

    pub fn ledger(&self) -> &crate::ledger::Ledger {
        &self.ledger
    }

    pub fn server_errors(&self) -> Vec<String> {
        self.server_errors.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The first 16 hex digits of the sha256 of every line.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for l in self.lines() {
            h.update(l.as_bytes());
            h.update(b"\n");
        }
        h.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}
