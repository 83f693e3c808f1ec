//! `--output json`: the verify report as one JSON document, for scripts.

use serde::Serialize;

use super::{CaptureReport, Status, VerifyReport};
use crate::check::route::Endpoint;

#[derive(Serialize)]
struct Document<'a> {
    lab: &'a str,
    /// The first engine, as before several hosts.
    engine: Engine<'a>,
    engines: Vec<Engine<'a>>,
    notes: &'a [String],
    passed: usize,
    failed: usize,
    errors: usize,
    skipped: usize,
    duration_ms: f64,
    checks: Vec<Check<'a>>,
    /// The lab as it ran: what `netlab report --html` draws.
    #[serde(skip_serializing_if = "Option::is_none")]
    topology: Option<&'a super::topology::Topology>,
}

#[derive(Serialize)]
struct Engine<'a> {
    host: &'a str,
    version: &'a str,
    api_version: &'a str,
    address: &'a str,
}

#[derive(Serialize)]
struct Check<'a> {
    title: &'a str,
    kind: &'a str,
    from: &'a str,
    target: &'a str,
    expectation: &'a str,
    /// The `family:` the check names.
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'a str>,
    observation: &'a str,
    outcome: &'static str,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    cells: Option<Vec<Cell<'a>>>,
    /// A matrix's rows and columns, in the table's order.
    #[serde(skip_serializing_if = "Option::is_none")]
    table: Option<Table<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capture: Option<Capture<'a>>,
    /// The Docker mechanism behind the outcome, in a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
    /// From where to where, as structured fields.
    endpoints: Endpoints<'a>,
    /// The nodes and networks the check touches.
    touches: Touches<'a>,
}

#[derive(Serialize)]
struct Table<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    port: &'a str,
    rows: &'a [String],
    columns: &'a [String],
}

#[derive(Serialize)]
struct Endpoints<'a> {
    from: &'a Endpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a Endpoint>,
}

#[derive(Serialize)]
struct Touches<'a> {
    nodes: &'a [String],
    networks: &'a [String],
}

/// A recorded check's packets: the one-line summary and every entry.
#[derive(Serialize)]
struct Capture<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<&'a crate::capture::Timeline>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<&'a str>,
}

/// One cell of a matrix.
#[derive(Serialize)]
struct Cell<'a> {
    from: &'a str,
    to: &'a str,
    port: &'a str,
    /// `v4` or `v6`, when the matrix names a family or the cell is reached
    /// over IPv6.
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'static str>,
    expected: String,
    observed: String,
    outcome: &'static str,
    reason: &'a str,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
    /// The same, in a few words: cells of one cause share them.
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<&'a str>,
    /// The lab network of the address the cell's probe aimed at.
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<&'a str>,
}

pub fn render(report: &VerifyReport) -> String {
    let engines: Vec<Engine> = report
        .engines
        .iter()
        .map(|e| Engine {
            host: &e.host,
            version: &e.version,
            api_version: &e.api_version,
            address: &e.address,
        })
        .collect();
    let first = report.engines.first().map(|e| Engine {
        host: &e.host,
        version: &e.version,
        api_version: &e.api_version,
        address: &e.address,
    });
    let doc = Document {
        lab: &report.lab,
        engine: first.unwrap_or(Engine {
            host: "",
            version: "",
            api_version: "",
            address: "",
        }),
        engines,
        notes: &report.notes,
        passed: report.passed(),
        failed: report.failed(),
        errors: report.errors(),
        skipped: report.skipped(),
        duration_ms: report.elapsed.as_secs_f64() * 1000.0,
        checks: report
            .checks
            .iter()
            .map(|c| Check {
                title: &c.title,
                kind: c.kind,
                from: &c.source,
                target: &c.target,
                expectation: &c.expectation,
                family: c.family,
                observation: &c.observed,
                outcome: match c.status {
                    Status::Pass => "pass",
                    Status::Fail => "fail",
                    Status::Error => "error",
                    Status::Skipped => "skipped",
                },
                duration_ms: c.elapsed.as_secs_f64() * 1000.0,
                why: c.why.as_ref().map(|w| w.sentence.as_str()),
                endpoints: Endpoints {
                    from: &c.scope.from,
                    to: c.scope.to.as_ref(),
                },
                touches: Touches {
                    nodes: &c.scope.nodes,
                    networks: &c.scope.networks,
                },
                capture: c.capture.as_ref().map(|cap| match cap {
                    CaptureReport::Recorded { timeline, .. } => Capture {
                        summary: Some(crate::capture::summary(timeline)),
                        timeline: Some(timeline),
                        unavailable: None,
                    },
                    CaptureReport::Unavailable { reason } => Capture {
                        summary: None,
                        timeline: None,
                        unavailable: Some(reason),
                    },
                }),
                table: c.matrix.as_ref().map(|m| Table {
                    title: m.title.as_deref(),
                    port: &m.port,
                    rows: &m.sources,
                    columns: &m.targets,
                }),
                cells: c.matrix.as_ref().map(|m| {
                    m.cells
                        .iter()
                        .map(|cell| Cell {
                            from: &cell.from,
                            to: &cell.to,
                            port: &m.port,
                            family: cell.family.map(|f| f.word()),
                            expected: cell.expected.to_string(),
                            observed: cell.observed.to_string(),
                            outcome: if cell.passed { "pass" } else { "fail" },
                            reason: &cell.reason,
                            duration_ms: cell.elapsed.as_secs_f64() * 1000.0,
                            why: cell.why.as_ref().map(|w| w.sentence.as_str()),
                            cause: cell.why.as_ref().map(|w| w.short.as_str()),
                            network: cell.network.as_deref(),
                        })
                        .collect()
                }),
            })
            .collect(),
        topology: report.topology.as_ref(),
    };
    // Only strings and numbers: serialising cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;
    use super::*;

    #[test]
    fn one_document_with_every_check() {
        let report = super::super::tests::report(vec![check("a", true), check("b", false)]);
        let v: serde_json::Value = serde_json::from_str(&render(&report)).expect("valid JSON");
        assert_eq!(v["lab"], "x");
        assert_eq!(v["engine"]["api_version"], "1.41");
        assert_eq!(
            (v["passed"].as_u64(), v["failed"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(v["checks"][1]["outcome"], "fail");
        assert_eq!(v["checks"][0]["target"], "web:7000");
        assert_eq!(v["checks"][0]["expectation"], "open");
        assert_eq!(v["checks"][0]["observation"], "open");
        assert_eq!(v["checks"][0]["from"], "client");
        assert_eq!(v["checks"][0]["kind"], "tcp");
        assert_eq!(v["skipped"], 0);
        assert!(v["checks"][0].get("family").is_none());
    }

    #[test]
    fn a_skipped_check_and_a_family_are_in_the_document() {
        let mut report = super::super::tests::report(vec![check("a", true), check("b", true)]);
        report.checks[1].status = Status::Skipped;
        report.checks[1].observed = "needs Docker >=27; host local: Docker 20.10.24".into();
        report.checks[0].family = Some("both");
        let v: serde_json::Value = serde_json::from_str(&render(&report)).expect("valid JSON");
        assert_eq!(
            (v["passed"].as_u64(), v["skipped"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(v["checks"][1]["outcome"], "skipped");
        assert_eq!(v["checks"][0]["family"], "both");
        assert!(
            report.human().ends_with("1 passed, 0 failed, 1 skipped\n"),
            "{}",
            report.human()
        );
        assert!(
            report.human().contains("\nSKIPPED  b  needs Docker"),
            "{}",
            report.human()
        );
    }
}
