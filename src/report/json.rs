//! `--output json`: the verify report as one JSON document, for scripts.

use serde::Serialize;

use super::{
    ActionReport, CaptureReport, CheckReport, RestoreReport, Status, StepReport, VerifyReport,
};
use crate::check::route::Endpoint;

#[derive(Serialize)]
struct Document<'a> {
    lab: &'a str,
    /// The first engine, as before several hosts.
    engine: Engine<'a>,
    engines: Vec<Engine<'a>>,
    notes: &'a [String],
    /// The lab's findings: `{at: "compose.yaml:12:7", text}`.
    findings: &'a [crate::lab::Finding],
    passed: usize,
    failed: usize,
    errors: usize,
    skipped: usize,
    cancelled: usize,
    duration_ms: f64,
    /// The steady state's checks (the steps' are under `steps`; the counts
    /// above take them all).
    checks: Vec<Check<'a>>,
    steps: Vec<Step<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restore: Option<Restore<'a>>,
    /// The lab as it ran: what `netlab report --html` draws.
    #[serde(skip_serializing_if = "Option::is_none")]
    topology: Option<&'a super::topology::Topology>,
}

#[derive(Serialize)]
struct Step<'a> {
    title: &'a str,
    actions: Vec<Action<'a>>,
    checks: Vec<Check<'a>>,
    duration_ms: f64,
}

#[derive(Serialize)]
struct Action<'a> {
    action: &'a str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<&'a str>,
    outcome: &'static str,
    observation: &'a str,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    engine_ms: Option<f64>,
}

#[derive(Serialize)]
struct Restore<'a> {
    outcome: &'static str,
    actions: Vec<Action<'a>>,
    left: &'a [String],
    duration_ms: f64,
}

/// The figures of a latency or loss check.
#[derive(Serialize)]
struct Measurement {
    sent: u32,
    answered: u32,
    duplicates: u32,
    loss_percent: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    median_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p95_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_ms: Option<f64>,
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
    /// A retry check of a step: milliseconds from the engine's answer to
    /// the step's last action until it passed (its time to recover).
    #[serde(skip_serializing_if = "Option::is_none")]
    recovered_ms: Option<f64>,
    /// The figures of a latency or loss check.
    #[serde(skip_serializing_if = "Option::is_none")]
    measurement: Option<Measurement>,
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
        findings: &report.findings,
        passed: report.passed(),
        failed: report.failed(),
        errors: report.errors(),
        skipped: report.skipped(),
        duration_ms: report.elapsed.as_secs_f64() * 1000.0,
        cancelled: report.cancelled_checks(),
        checks: report.checks.iter().map(check).collect(),
        steps: report.steps.iter().map(step).collect(),
        restore: report.restore.as_ref().map(restore),
        topology: report.topology.as_ref(),
    };
    // Only strings and numbers: serialising cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn outcome(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
        Status::Skipped => "skipped",
        Status::Cancelled => "cancelled",
    }
}

fn check(c: &CheckReport) -> Check<'_> {
    Check {
        title: &c.title,
        kind: c.kind,
        from: &c.source,
        target: &c.target,
        expectation: &c.expectation,
        family: c.family,
        observation: &c.observed,
        outcome: outcome(c.status),
        duration_ms: ms(c.elapsed),
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
        recovered_ms: c.recovered.map(ms),
        measurement: c.measurement.map(|f| Measurement {
            sent: f.sent,
            answered: f.answered,
            duplicates: f.duplicates,
            loss_percent: f.loss,
            min_ms: f.stats.map(|s| ms(s.min)),
            median_ms: f.stats.map(|s| ms(s.median)),
            p95_ms: f.stats.map(|s| ms(s.p95)),
            max_ms: f.stats.map(|s| ms(s.max)),
        }),
    }
}

fn action(a: &ActionReport) -> Action<'_> {
    Action {
        action: a.verb,
        text: &a.text,
        node: a.node.as_deref(),
        network: a.network.as_deref(),
        outcome: a.status.word(),
        observation: &a.observed,
        duration_ms: ms(a.elapsed),
        engine_ms: a.engine_elapsed.map(ms),
    }
}

fn step(s: &StepReport) -> Step<'_> {
    Step {
        title: &s.title,
        actions: s.actions.iter().map(action).collect(),
        checks: s.checks.iter().map(check).collect(),
        duration_ms: ms(s.elapsed),
    }
}

fn restore(r: &RestoreReport) -> Restore<'_> {
    Restore {
        outcome: if r.complete() { "done" } else { "incomplete" },
        actions: r.actions.iter().map(action).collect(),
        left: &r.left,
        duration_ms: ms(r.elapsed),
    }
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

    #[test]
    fn steps_and_the_restore_are_their_own_groups() {
        use super::super::{ActionReport, ActionStatus, RestoreReport, StepReport};
        let mut report = super::super::tests::report(vec![check("steady", true)]);
        let mut recovered = check("back", true);
        recovered.recovered = Some(std::time::Duration::from_millis(1250));
        report.steps = vec![StepReport {
            title: "db restarts".into(),
            actions: vec![ActionReport {
                text: "restart db".into(),
                verb: "restart",
                node: Some("db".into()),
                network: None,
                status: ActionStatus::Done,
                observed: "running".into(),
                elapsed: std::time::Duration::from_millis(800),
                engine_elapsed: Some(std::time::Duration::from_millis(700)),
            }],
            checks: vec![recovered, check("wrong", false)],
            elapsed: std::time::Duration::from_millis(900),
        }];
        report.restore = Some(RestoreReport {
            actions: Vec::new(),
            left: Vec::new(),
            elapsed: std::time::Duration::from_millis(10),
        });
        let v: serde_json::Value = serde_json::from_str(&render(&report)).expect("valid JSON");
        assert_eq!(
            v["checks"].as_array().map(Vec::len),
            Some(1),
            "the steady state's only"
        );
        assert_eq!(
            (v["passed"].as_u64(), v["failed"].as_u64()),
            (Some(2), Some(1)),
            "every check counted"
        );
        assert_eq!(v["steps"][0]["title"], "db restarts");
        assert_eq!(v["steps"][0]["actions"][0]["action"], "restart");
        assert_eq!(v["steps"][0]["actions"][0]["engine_ms"], 700.0);
        assert_eq!(v["steps"][0]["checks"][0]["recovered_ms"], 1250.0);
        assert_eq!(v["restore"]["outcome"], "done");
    }
}
