//! Results: the console lines, and the same data as JSON and JUnit XML.

use crate::harness::Failure;
use serde::Serialize;
use std::time::Duration;

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    /// Failed, and listed in the expected-failures file.
    Expected,
    Skipped,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub id: String,
    pub section: String,
    pub title: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Why it was skipped, or why its failure is expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub duration_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub registry: String,
    pub profile: String,
    pub results: Vec<CheckResult>,
    /// Throughput and latency figures, with `--load`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load: Option<crate::load::LoadResult>,
}

impl Report {
    pub fn count(&self, status: &Status) -> usize {
        self.results.iter().filter(|r| &r.status == status).count()
    }

    /// `N passed, N failed, N skipped` — expected failures count as failed
    /// here and are named separately.
    pub fn summary(&self) -> String {
        let failed = self.count(&Status::Failed) + self.count(&Status::Expected);
        format!("{} passed, {failed} failed, {} skipped", self.count(&Status::Passed), self.count(&Status::Skipped))
    }

    /// Whether the run counts as a success: nothing failed unexpectedly.
    pub fn ok(&self) -> bool {
        self.count(&Status::Failed) == 0
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize")
    }

    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
        let mut report = quick_junit::Report::new("drydock-check");
        let mut suite = TestSuite::new(self.registry.clone());
        for r in &self.results {
            let status = match r.status {
                Status::Passed => TestCaseStatus::success(),
                Status::Skipped => {
                    let mut s = TestCaseStatus::skipped();
                    if let Some(reason) = &r.reason {
                        s.set_message(reason.clone());
                    }
                    s
                }
                Status::Failed | Status::Expected => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    if let Some(f) = &r.failure {
                        s.set_message(f.message.clone());
                        s.set_description(describe(f));
                    }
                    s
                }
            };
            let mut case = TestCase::new(r.id.clone(), status);
            case.set_classname(r.section.clone());
            case.set_time(Duration::from_millis(r.duration_ms));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
        report.to_string().expect("JUnit reports serialize")
    }
}

/// The exchange behind a failure, as text.
pub fn describe(f: &Failure) -> String {
    let mut out = format!("{}\n", f.message);
    if let Some(req) = &f.request {
        out.push_str(&format!("  request:  {} {} ({} body bytes)\n", req.method, req.path, req.body_len));
        for (k, v) in &req.headers {
            out.push_str(&format!("            {k}: {v}\n"));
        }
    }
    if let Some(resp) = &f.response {
        out.push_str(&format!("  response: {}\n", resp.status));
        for (k, v) in &resp.headers {
            out.push_str(&format!("            {k}: {v}\n"));
        }
        if !resp.body_excerpt.is_empty() {
            out.push_str(&format!("            body: {}\n", resp.body_excerpt.replace('\n', " ")));
        }
    }
    out
}

impl Report {
    /// One self-contained HTML page: summary, a row per check, failures unfolded.
    pub fn to_html(&self) -> String {
        let mut rows = String::new();
        for r in &self.results {
            let (class, label) = match r.status {
                Status::Passed => ("pass", "PASS"),
                Status::Failed => ("fail", "FAIL"),
                Status::Expected => ("xfail", "XFAIL"),
                Status::Skipped => ("skip", "SKIP"),
            };
            let detail = match (&r.failure, &r.reason) {
                (Some(f), reason) => format!(
                    "<details{}><summary>{}</summary><pre>{}</pre>{}</details>",
                    if r.status == Status::Failed { " open" } else { "" },
                    escape(&f.message),
                    escape(&describe(f)),
                    reason.as_ref().map(|x| format!("<p>expected: {}</p>", escape(x))).unwrap_or_default()
                ),
                (None, Some(reason)) => escape(reason),
                (None, None) => String::new(),
            };
            rows.push_str(&format!(
                "<tr class=\"{class}\"><td>{label}</td><td><code>{}</code><br><small>{}</small></td><td>{}</td><td>{}</td></tr>\n",
                escape(&r.id),
                escape(&r.title),
                escape(&r.section),
                detail
            ));
        }
        format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drydock check: {registry}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; }}
td {{ border-top: 1px solid #ddd; padding: .4em .6em; vertical-align: top; }}
tr.pass td:first-child {{ color: #1a7f37; }} tr.fail td:first-child {{ color: #cf222e; font-weight: bold; }}
tr.xfail td:first-child {{ color: #9a6700; }} tr.skip td:first-child {{ color: #6e7781; }}
pre {{ white-space: pre-wrap; background: #f6f8fa; padding: .6em; }}
</style></head><body>
<h1>drydock check</h1>
<p><code>{registry}</code>, profile {profile}: <strong>{summary}</strong></p>
{load}<table>
{rows}</table>
</body></html>
"#,
            registry = escape(&self.registry),
            profile = escape(&self.profile),
            summary = escape(&self.summary()),
            load = self.load.as_ref().map(|l| format!("<pre>{}</pre>\n", escape(&l.to_string()))).unwrap_or_default(),
        )
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
