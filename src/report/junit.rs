//! `--junit FILE`: JUnit XML for CI systems, one test case per check (per
//! cell for a matrix), built with quick-junit. A failure's message says what
//! was expected and what was seen.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{ActionStatus, CellReport, MatrixReport, Status, VerifyReport};

/// `matrix <title> <from>→<to>:<port>/<proto>`
fn cell_case(report: &VerifyReport, m: &MatrixReport, cell: &CellReport) -> TestCase {
    let status = match cell.observed {
        _ if cell.passed => TestCaseStatus::success(),
        '!' => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(format!("could not run: {}", cell.reason));
            s.set_type("engine");
            s
        }
        observed => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "expected {}, saw {observed}: {}",
                cell.expected, cell.reason
            ));
            s.set_type("matrix");
            s
        }
    };
    let title = m
        .title
        .as_deref()
        .map(|t| format!("{t} "))
        .unwrap_or_default();
    let over = cell
        .family
        .map(|f| format!(" over {}", f.name()))
        .unwrap_or_default();
    let mut case = TestCase::new(
        format!("matrix {title}{}→{}:{}{over}", cell.from, cell.to, m.port),
        status,
    );
    case.set_classname(format!("{}.matrix", report.lab));
    case.set_time(cell.elapsed);
    case.set_system_out(cell.reason.clone());
    case
}

/// One suite for the steady state (named after the lab), one per step
/// (named after its title).
pub fn render(report: &VerifyReport) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new(report.lab.as_str());
    suite.set_time(report.elapsed);
    // Notes and findings: the suite's properties and its output, where CI
    // systems show them.
    for f in &report.findings {
        suite.add_property(quick_junit::Property::new("finding", f.to_string()));
    }
    let said: Vec<String> = report
        .notes
        .iter()
        .cloned()
        .chain(report.findings.iter().map(ToString::to_string))
        .collect();
    if !said.is_empty() {
        suite.set_system_out(said.join("\n"));
    }
    add_checks(&mut suite, report, &report.checks);
    let mut junit = Report::new("netlab");
    junit.set_time(report.elapsed);
    junit.add_test_suite(suite);
    for step in &report.steps {
        let mut suite = TestSuite::new(step.title.as_str());
        suite.set_time(step.elapsed);
        // An action that failed is an error of its own: the step's checks
        // were not run because of it.
        for a in step
            .actions
            .iter()
            .filter(|a| a.status == ActionStatus::Error)
        {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(format!("{} failed: {}", a.text, a.observed));
            s.set_type("engine");
            let mut case = TestCase::new(format!("do: {}", a.text), s);
            case.set_classname(format!("{}.step", report.lab));
            case.set_time(a.elapsed);
            suite.add_test_case(case);
        }
        let actions: Vec<String> = step
            .actions
            .iter()
            .map(|a| format!("do: {} ({})", a.text, a.status.word()))
            .collect();
        suite.set_system_out(actions.join("\n"));
        add_checks(&mut suite, report, &step.checks);
        junit.add_test_suite(suite);
    }
    junit.to_string()
}

fn add_checks(suite: &mut TestSuite, report: &VerifyReport, checks: &[super::CheckReport]) {
    for c in checks {
        if let Some(m) = &c.matrix {
            for cell in &m.cells {
                suite.add_test_case(cell_case(report, m, cell));
            }
            continue;
        }
        let status = match c.status {
            Status::Pass => TestCaseStatus::success(),
            Status::Fail => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("expected {}, saw: {}", c.expectation, c.observed));
                s.set_type(c.kind);
                s
            }
            // Not run on this engine, and why.
            Status::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(c.observed.clone());
                s.set_type("requires");
                s
            }
            // Not a finding about the network: the engine or agent failed.
            Status::Error => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                s.set_message(format!("could not run: {}", c.observed));
                s.set_type("engine");
                s
            }
            Status::Cancelled => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(format!("cancelled: {}", c.observed));
                s
            }
        };
        let mut case = TestCase::new(c.title.as_str(), status);
        case.set_classname(format!("{}.{}", report.lab, c.kind));
        case.set_time(c.elapsed);
        case.set_system_out(format!("from {} to {}: {}", c.source, c.target, c.observed));
        suite.add_test_case(case);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::check;
    use super::*;

    #[test]
    fn counts_and_failure_message_read_back() {
        let mut report = super::super::tests::report(vec![
            check("a", true),
            check("b", false),
            check("c", true),
        ]);
        report.checks[2].status = Status::Error;
        let xml = render(&report).expect("serialises");
        let back = Report::deserialize_from_str(&xml).expect("parses back");
        assert_eq!((back.tests, back.failures, back.errors), (3, 1, 1));
        let suite = &back.test_suites[0];
        assert_eq!(suite.name.as_str(), "x");
        let failed = suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "b")
            .expect("case b");
        let TestCaseStatus::NonSuccess { message, .. } = &failed.status else {
            panic!("b must be a failure");
        };
        assert_eq!(
            message.as_ref().map(|m| m.as_str()),
            Some("expected open, saw: open")
        );
    }

    #[test]
    fn a_skipped_check_is_a_skipped_test_case_with_its_reason() {
        let mut report = super::super::tests::report(vec![check("a", true), check("b", true)]);
        report.checks[1].status = Status::Skipped;
        report.checks[1].observed = "needs Docker >=27".into();
        let xml = render(&report).expect("serialises");
        let back = Report::deserialize_from_str(&xml).expect("parses back");
        assert_eq!((back.tests, back.failures, back.errors), (2, 0, 0));
        let case = back.test_suites[0]
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "b")
            .expect("case b");
        let TestCaseStatus::Skipped { message, .. } = &case.status else {
            panic!("b must be skipped: {:?}", case.status);
        };
        assert_eq!(
            message.as_ref().map(|m| m.as_str()),
            Some("needs Docker >=27")
        );
        assert!(xml.contains("<skipped"), "{xml}");
    }

    #[test]
    fn each_step_is_a_suite_named_by_its_title() {
        use super::super::{ActionReport, StepReport};
        let mut report = super::super::tests::report(vec![check("steady", true)]);
        let mut cancelled = check("late", true);
        cancelled.status = Status::Cancelled;
        report.steps = vec![StepReport {
            title: "db leaves".into(),
            actions: vec![ActionReport {
                text: "disconnect db from back".into(),
                verb: "disconnect",
                node: Some("db".into()),
                network: Some("back".into()),
                status: ActionStatus::Error,
                observed: "no such network".into(),
                elapsed: std::time::Duration::from_millis(5),
                engine_elapsed: None,
            }],
            checks: vec![check("gone", false), cancelled],
            elapsed: std::time::Duration::from_millis(50),
        }];
        let xml = render(&report).expect("serialises");
        let back = Report::deserialize_from_str(&xml).expect("parses back");
        let names: Vec<&str> = back.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["x", "db leaves"]);
        let step = &back.test_suites[1];
        assert_eq!(
            step.test_cases.len(),
            3,
            "the failed action, and both checks"
        );
        assert!(matches!(
            step.test_cases[0].status,
            TestCaseStatus::NonSuccess {
                kind: NonSuccessKind::Error,
                ..
            }
        ));
        assert!(matches!(
            step.test_cases[2].status,
            TestCaseStatus::Skipped { .. }
        ));
        assert_eq!((back.tests, back.failures, back.errors), (4, 1, 1));
    }
}
