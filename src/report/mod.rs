//! What netlab tells the user: the verify report (one line per check, then
//! `N passed, M failed`), the `up` summary and the `ls` table. The report
//! goes to stdout; progress and diagnostics go to stderr.

use std::fmt::Write as _;
use std::time::Duration;

pub mod graph;
pub mod json;
pub mod junit;
pub mod progress;

#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub title: String,
    pub kind: &'static str,
    pub source: String,
    /// What the check aims at, in the lab file's words (`web:7000`).
    pub target: String,
    /// What was expected, in words (`open`, `[web]`).
    pub expectation: String,
    pub passed: bool,
    pub observed: String,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub lab: String,
    /// Docker's version and API version.
    pub engine: (String, String),
    pub checks: Vec<CheckReport>,
    pub elapsed: Duration,
}

impl VerifyReport {
    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.checks.len() - self.passed()
    }

    pub fn human(&self) -> String {
        let width = |f: fn(&CheckReport) -> &str| {
            self.checks
                .iter()
                .map(|c| f(c).chars().count())
                .max()
                .unwrap_or(0)
        };
        let (title_w, observed_w) = (width(|c| &c.title), width(|c| &c.observed));
        let mut out = String::new();
        for c in &self.checks {
            let _ = writeln!(
                out,
                "{}  {}  {}  {:>7}",
                if c.passed { "PASS" } else { "FAIL" },
                pad(&c.title, title_w),
                pad(&c.observed, observed_w),
                format_elapsed(c.elapsed),
            );
        }
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

fn pad(s: &str, width: usize) -> String {
    format!("{s}{}", " ".repeat(width.saturating_sub(s.chars().count())))
}

/// `1 network`, `2 networks`.
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

pub fn format_elapsed(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Left-aligned columns, two spaces apart.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i + 1 == r.len() {
                    cell.clone()
                } else {
                    format!("{cell}{}", " ".repeat(widths[i] - cell.chars().count()))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(super) fn check(title: &str, passed: bool) -> CheckReport {
        CheckReport {
            title: title.into(),
            kind: "tcp",
            source: "client".into(),
            target: "web:7000".into(),
            expectation: "open".into(),
            passed,
            observed: "open".into(),
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn human_report_aligns_and_counts() {
        let r = VerifyReport {
            lab: "x".into(),
            engine: ("20.10".into(), "1.41".into()),
            checks: vec![check("short", true), check("a longer title", false)],
            elapsed: Duration::from_secs(1),
        };
        assert_eq!(
            r.human(),
            "PASS  short           open     3 ms\nFAIL  a longer title  open     3 ms\n1 passed, 1 failed\n"
        );
    }

    #[test]
    fn table_pads_all_but_the_last_column() {
        let t = table(&[
            vec!["LAB".into(), "NODES".into()],
            vec!["bridge-basic".into(), "5".into()],
        ]);
        assert_eq!(t, "LAB           NODES\nbridge-basic  5\n");
    }

    #[test]
    fn elapsed_switches_to_seconds() {
        assert_eq!(format_elapsed(Duration::from_millis(1500)), "1.50 s");
        assert_eq!(format_elapsed(Duration::from_micros(2400)), "2 ms");
    }
}
