//! `--junit FILE`: JUnit XML for CI systems, one test case per check, built
//! with quick-junit. A failure's message says what was expected and what was
//! seen.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::VerifyReport;

pub fn render(report: &VerifyReport) -> Result<String, quick_junit::SerializeError> {
    let mut suite = TestSuite::new(report.lab.as_str());
    suite.set_time(report.elapsed);
    for c in &report.checks {
        let status = if c.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!("expected {}, saw: {}", c.expectation, c.observed));
            s.set_type(c.kind);
            s
        };
        let mut case = TestCase::new(c.title.as_str(), status);
        case.set_classname(format!("{}.{}", report.lab, c.kind));
        case.set_time(c.elapsed);
        case.set_system_out(format!("from {} to {}: {}", c.source, c.target, c.observed));
        suite.add_test_case(case);
    }
    let mut junit = Report::new("netlab");
    junit.set_time(report.elapsed);
    junit.add_test_suite(suite);
    junit.to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::tests::check;
    use super::*;

    #[test]
    fn counts_and_failure_message_read_back() {
        let report = VerifyReport {
            lab: "x".into(),
            engine: ("20.10.24".into(), "1.41".into()),
            checks: vec![check("a", true), check("b", false), check("c", true)],
            elapsed: Duration::from_millis(1500),
        };
        let xml = render(&report).expect("serialises");
        let back = Report::deserialize_from_str(&xml).expect("parses back");
        assert_eq!((back.tests, back.failures), (3, 1));
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
}
