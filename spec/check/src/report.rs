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

    /// `N passed, N failed, N skipped`, and `, N expected` when failures
    /// were expected (`--expect-failures`): those are not counted as failed.
    pub fn summary(&self) -> String {
        let (passed, failed, skipped) =
            (self.count(&Status::Passed), self.count(&Status::Failed), self.count(&Status::Skipped));
        match self.count(&Status::Expected) {
            0 => format!("{passed} passed, {failed} failed, {skipped} skipped"),
            expected => format!("{passed} passed, {failed} failed, {skipped} skipped, {expected} expected"),
        }
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
    /// The report as one HTML page: failures first (then expected
    /// failures, skips, passes, each in run order), long URLs and bodies
    /// wrapped.
    pub fn to_html(&self) -> String {
        let rank = |s: &Status| match s {
            Status::Failed => 0,
            Status::Expected => 1,
            Status::Skipped => 2,
            Status::Passed => 3,
        };
        let mut ordered: Vec<&CheckResult> = self.results.iter().collect();
        ordered.sort_by_key(|r| rank(&r.status));
        let mut rows = String::new();
        for r in ordered {
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
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
td {{ border-top: 1px solid #ddd; padding: .4em .6em; vertical-align: top; overflow-wrap: anywhere; }}
td:first-child {{ width: 4em; }} td:nth-child(2) {{ width: 30%; }} td:nth-child(3) {{ width: 20%; }}
tr.pass td:first-child {{ color: #1a7f37; }} tr.fail td:first-child {{ color: #cf222e; font-weight: bold; }}
tr.xfail td:first-child {{ color: #9a6700; }} tr.skip td:first-child {{ color: #6e7781; }}
pre {{ white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f8fa; padding: .6em; }}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn result(id: &str, status: Status) -> CheckResult {
        let failure = matches!(status, Status::Failed | Status::Expected).then(|| Failure {
            message: format!("{id} went wrong"),
            request: None,
            response: None,
        });
        CheckResult {
            id: id.into(),
            section: "spec".into(),
            title: "t".into(),
            status,
            failure,
            reason: None,
            duration_ms: 0,
        }
    }

    fn report(results: Vec<CheckResult>) -> Report {
        Report { registry: "http://r".into(), profile: "oci-1.1".into(), results, load: None }
    }

    #[test]
    fn the_summary_names_expected_failures_apart() {
        let r = report(vec![result("a", Status::Passed), result("b", Status::Failed), result("c", Status::Skipped)]);
        assert_eq!(r.summary(), "1 passed, 1 failed, 1 skipped");
        let r = report(vec![result("a", Status::Passed), result("b", Status::Expected), result("c", Status::Expected)]);
        assert_eq!(r.summary(), "1 passed, 0 failed, 0 skipped, 2 expected");
        assert!(r.ok());
    }

    #[test]
    fn the_html_page_puts_failures_first_and_wraps() {
        let r = report(vec![
            result("pass/one", Status::Passed),
            result("skip/one", Status::Skipped),
            result("xfail/one", Status::Expected),
            result("fail/one", Status::Failed),
            result("fail/two", Status::Failed),
        ]);
        let page = r.to_html();
        let at = |id: &str| page.find(&format!("<code>{id}</code>")).unwrap_or_else(|| panic!("{id} missing"));
        let order = ["fail/one", "fail/two", "xfail/one", "skip/one", "pass/one"].map(at);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(page.contains("overflow-wrap: anywhere"));
    }
}
