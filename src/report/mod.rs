//! What netlab tells the user: the verify report (one line per check, then
//! `N passed, M failed`), the `up` summary and the `ls` table. The report
//! goes to stdout; progress and diagnostics go to stderr.

use std::fmt::Write as _;
use std::time::Duration;

// Every string a check, an engine or the lab file supplied goes through
// this on its way into the human report (text/safe.rs says why); the
// status words and colour codes are netlab's own.
use crate::text::safe::on_one_line as safe;

pub mod colour;
pub mod file;
pub mod fit;
pub mod github;
pub mod graph;
pub mod html;
pub mod json;
pub mod junit;
pub mod matrix;
pub mod progress;
pub mod steps;
pub mod topology;

pub use steps::{ActionReport, ActionStatus, RestoreReport, StepReport};

/// What became of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    /// The network did not behave as expected.
    Fail,
    /// The check could not be run: the engine or the agent failed.
    Error,
    /// Not run: the engine lacks what the check `requires:`.
    Skipped,
    /// Ctrl-C (or SIGTERM) came before the check finished.
    Cancelled,
}

impl Status {
    /// The word in its colour, when `colour`.
    pub fn painted(self, colour: bool) -> String {
        let paint = match self {
            Status::Pass => colour::Paint::Green,
            Status::Fail => colour::Paint::Red,
            Status::Error | Status::Skipped | Status::Cancelled => colour::Paint::Yellow,
        };
        colour::paint(self.word(), paint, colour)
    }

    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Error => "ERROR",
            Status::Skipped => "SKIPPED",
            Status::Cancelled => "CANCELLED",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub title: String,
    pub kind: &'static str,
    pub source: String,
    /// What the check aims at, in the lab file's words (`web:7000`).
    pub target: String,
    /// What was expected, in words (`open`, `[web]`).
    pub expectation: String,
    /// The `family:` the check names (`v4`, `v6`, `both`).
    pub family: Option<&'static str>,
    pub status: Status,
    pub observed: String,
    pub elapsed: Duration,
    /// A matrix check's table, cell by cell.
    pub matrix: Option<MatrixReport>,
    /// The probe's own packets, when they were recorded.
    pub capture: Option<CaptureReport>,
    /// The Docker mechanism behind the outcome, when the lab model
    /// accounts for it.
    pub why: Option<crate::check::why::Why>,
    /// From where to where, and what of the lab it touches.
    pub scope: crate::check::route::Scope,
    /// A `retry:` check of a step that passed: how long after the engine
    /// carried out the step's last action it passed (its time to recover).
    pub recovered: Option<Duration>,
    /// The figures of a latency or loss check.
    pub measurement: Option<crate::check::measure::EchoFigures>,
}

/// A recorded probe: its packets, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptureReport {
    Recorded {
        timeline: crate::capture::Timeline,
        /// For `--pcap`.
        capture: crate::capture::Capture,
    },
    Unavailable {
        reason: String,
    },
}

impl From<crate::agent::protocol::CaptureResult> for CaptureReport {
    fn from(r: crate::agent::protocol::CaptureResult) -> Self {
        use crate::agent::protocol::CaptureResult;
        match r {
            CaptureResult::Recorded { capture } => CaptureReport::Recorded {
                timeline: crate::capture::decode(&capture.packets),
                capture,
            },
            CaptureResult::Unavailable { reason } => CaptureReport::Unavailable { reason },
        }
    }
}

/// A matrix as verified: every cell's expected and observed symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixReport {
    pub title: Option<String>,
    /// `7000/tcp`
    pub port: String,
    pub sources: Vec<String>,
    pub targets: Vec<String>,
    /// Checked cells only (`-` cells have none).
    pub cells: Vec<CellReport>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CellReport {
    pub from: String,
    pub to: String,
    /// The family of this cell's probe, when the matrix names one or the
    /// cell is reached over IPv6 (a cell of `family: both` has a report
    /// per family).
    pub family: Option<crate::vocab::IpFamily>,
    pub expected: char,
    pub observed: char,
    pub passed: bool,
    pub reason: String,
    pub elapsed: Duration,
    pub why: Option<crate::check::why::Why>,
    /// The lab network of the address the cell's probe aimed at.
    pub network: Option<String>,
}

/// One engine the lab ran on.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineInfo {
    /// The logical host (`local` for a lab of one host).
    pub host: String,
    pub version: String,
    pub api_version: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub lab: String,
    pub engines: Vec<EngineInfo>,
    /// Said before the checks (e.g. hosts that share one engine).
    pub notes: Vec<String>,
    /// The lab's `findings:` (what `netlab import` found in the compose
    /// files), each naming its compose line.
    pub findings: Vec<crate::lab::Finding>,
    /// The steady state's checks.
    pub checks: Vec<CheckReport>,
    /// The steps that ran after it, each with its actions and checks.
    pub steps: Vec<StepReport>,
    /// How the lab was put back after its steps.
    pub restore: Option<RestoreReport>,
    /// Ctrl-C (or SIGTERM) came before the end.
    pub cancelled: bool,
    pub elapsed: Duration,
    /// The lab as it ran, for reports that draw it.
    pub topology: Option<topology::Topology>,
}

impl VerifyReport {
    /// Every check: the steady state's, then each step's.
    pub fn all_checks(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks
            .iter()
            .chain(self.steps.iter().flat_map(|s| &s.checks))
    }

    pub fn passed(&self) -> usize {
        self.count(Status::Pass)
    }

    /// Checks that did not pass because the network said otherwise.
    pub fn failed(&self) -> usize {
        self.count(Status::Fail)
    }

    /// Checks that could not be run.
    pub fn errors(&self) -> usize {
        self.count(Status::Error)
    }

    /// Checks not run: their engine lacks what they require.
    pub fn skipped(&self) -> usize {
        self.count(Status::Skipped)
    }

    /// Checks that Ctrl-C cut short.
    pub fn cancelled_checks(&self) -> usize {
        self.count(Status::Cancelled)
    }

    fn count(&self, status: Status) -> usize {
        self.all_checks().filter(|c| c.status == status).count()
    }

    /// `lab x on Docker 20.10.24 (API 1.41) at unix:///…`
    pub fn header(&self) -> String {
        let engines: Vec<String> = self
            .engines
            .iter()
            .map(|e| {
                let host = if self.engines.len() > 1 {
                    format!("{}: ", e.host)
                } else {
                    String::new()
                };
                format!(
                    "{}Docker {} (API {}) at {}",
                    safe(&host),
                    safe(&e.version),
                    safe(&e.api_version),
                    safe(&e.address)
                )
            })
            .collect();
        format!("lab {} on {}", safe(&self.lab), engines.join("; "))
    }

    /// The report for a person; `color` paints the status words and
    /// marks differing matrix cells in colour instead of with a `*`;
    /// `verbose` lists a recorded probe's packets one per line and shows the
    /// table of a matrix that passed; `quiet` shows only the checks that
    /// did not pass (with the step they belong to), and the closing line.
    #[cfg(test)]
    pub fn human_with(&self, color: bool, verbose: bool, quiet: bool) -> String {
        self.human_fit(color, verbose, quiet, None)
    }

    /// As `human_with`, every line within `width` characters when one is
    /// given (`fit` says how).
    pub fn human_fit(
        &self,
        color: bool,
        verbose: bool,
        quiet: bool,
        width_limit: Option<usize>,
    ) -> String {
        let shown = |c: &&CheckReport| !quiet || c.status != Status::Pass;
        let width = |f: fn(&CheckReport) -> &str| {
            self.all_checks()
                .filter(shown)
                .map(|c| safe(f(c)).chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths = fit::Columns::fit(
            width(|c| c.status.word()),
            width(|c| &c.title),
            width(|c| &c.observed),
            width_limit,
        );
        let mut out = String::new();
        if !quiet {
            let _ = writeln!(out, "{}", self.header());
            for note in &self.notes {
                let _ = writeln!(out, "{}", safe(note));
            }
            for f in &self.findings {
                let _ = writeln!(out, "{}", safe(&f.to_string()));
            }
        }
        for c in self.checks.iter().filter(shown) {
            check_lines(&mut out, c, widths, color, verbose);
        }
        for (i, step) in self.steps.iter().enumerate() {
            let quiet_about_it = quiet
                && step.checks.iter().all(|c| c.status == Status::Pass)
                && step.actions.iter().all(|a| a.status == ActionStatus::Done);
            if quiet_about_it {
                continue;
            }
            steps::step_lines(&mut out, i + 1, step);
            for c in step.checks.iter().filter(shown) {
                check_lines(&mut out, c, widths, color, verbose);
            }
        }
        if let Some(r) = self.restore.as_ref().filter(|r| !quiet || !r.complete()) {
            steps::restore_lines(&mut out, r);
        }
        let _ = write!(out, "{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            let _ = write!(out, ", {} skipped", self.skipped());
        }
        if self.errors() > 0 {
            let _ = write!(out, ", {} could not run (errors)", self.errors());
        }
        if self.cancelled_checks() > 0 {
            let _ = write!(out, ", {} cancelled", self.cancelled_checks());
        }
        out.push('\n');
        match width_limit {
            Some(w) => fit::wrap_long_lines(&out, w),
            None => out,
        }
    }

    #[cfg(test)]
    pub fn human(&self) -> String {
        self.human_with(false, false, false)
    }
}

/// One check's line, and under it its why (with `-v`), its matrix or its
/// packets.
fn check_lines(
    out: &mut String,
    c: &CheckReport,
    columns: fit::Columns,
    color: bool,
    verbose: bool,
) {
    // Padded outside the colour codes, to the widest word.
    let gap = " ".repeat(columns.status.saturating_sub(c.status.word().len()));
    let observed = safe(&c.observed);
    if let Some(under) = columns.under {
        // The names leave the detail no room: it goes below the check.
        let _ = writeln!(
            out,
            "{}{gap}  {}  {:>7}",
            c.status.painted(color),
            pad(&safe(&c.title), columns.title),
            format_elapsed(c.elapsed),
        );
        for piece in fit::wrap(&observed, under) {
            let _ = writeln!(out, "{}{piece}", fit::UNDER);
        }
    } else {
        let pieces = fit::wrap(&observed, columns.detail);
        let _ = writeln!(
            out,
            "{}{gap}  {}  {}  {:>7}",
            c.status.painted(color),
            pad(&safe(&c.title), columns.title),
            pad(pieces.first().map_or("", String::as_str), columns.detail),
            format_elapsed(c.elapsed),
        );
        let indent = " ".repeat(columns.detail_start());
        for piece in pieces.iter().skip(1) {
            let _ = writeln!(out, "{indent}{piece}");
        }
    }
    // A FAIL says why without `-v`: it is what the reader needs first. A
    // matrix's says it of the cells that differ, not of all of them.
    let failed = matches!(c.status, Status::Fail);
    match (&c.matrix, failed && !verbose) {
        (Some(m), true) => {
            for cell in m.cells.iter().filter(|cell| !cell.passed) {
                if let Some(why) = &cell.why {
                    let _ = writeln!(
                        out,
                        "      why: {} → {}: {}",
                        safe(&cell.from),
                        safe(&cell.to),
                        safe(&why.short)
                    );
                }
            }
        }
        _ => {
            if let (true, Some(why)) = (verbose || failed, &c.why) {
                let _ = writeln!(out, "      why: {}", safe(&why.short));
            }
        }
    }
    if let Some(m) = &c.matrix {
        if m.cells.iter().any(|cell| !cell.passed) {
            out.push_str(&matrix::tables(m, color));
        } else if verbose {
            out.push_str(&matrix::observed_table(m));
        }
    }
    match &c.capture {
        Some(CaptureReport::Recorded { timeline, .. }) => {
            let _ = writeln!(out, "      ↳ {}", safe(&crate::capture::summary(timeline)));
            if verbose {
                for line in crate::capture::verbose(timeline) {
                    let _ = writeln!(out, "        {}", safe(&line));
                }
            }
        }
        Some(CaptureReport::Unavailable { reason }) => {
            let _ = writeln!(out, "      ↳ capture unavailable: {}", safe(reason));
        }
        None => {}
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
    // `ls` lists what the engine holds, labels and all.
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|cell| safe(cell).into_owned()).collect())
        .collect();
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
    for r in &rows {
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

    pub(crate) fn check(title: &str, passed: bool) -> CheckReport {
        CheckReport {
            title: title.into(),
            kind: "tcp",
            source: "client".into(),
            target: "web:7000".into(),
            expectation: "open".into(),
            family: None,
            status: if passed { Status::Pass } else { Status::Fail },
            observed: "open".into(),
            elapsed: Duration::from_millis(3),
            matrix: None,
            capture: None,
            why: None,
            scope: Default::default(),
            recovered: None,
            measurement: None,
        }
    }

    pub(crate) fn report(checks: Vec<CheckReport>) -> VerifyReport {
        VerifyReport {
            lab: "x".into(),
            engines: vec![EngineInfo {
                host: "local".into(),
                version: "20.10.24".into(),
                api_version: "1.41".into(),
                address: "unix:///var/run/docker.sock".into(),
            }],
            notes: Vec::new(),
            findings: Vec::new(),
            checks,
            elapsed: Duration::from_millis(1500),
            steps: Vec::new(),
            restore: None,
            cancelled: false,
            topology: None,
        }
    }

    #[test]
    fn human_report_aligns_and_counts() {
        let mut r = report(vec![check("short", true), check("a longer title", false)]);
        assert_eq!(
            r.human(),
            "lab x on Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock\nPASS  short           open     3 ms\nFAIL  a longer title  open     3 ms\n1 passed, 1 failed\n"
        );
        r.checks[1].status = Status::Error;
        assert!(r.human().contains("ERROR  a longer title"), "{}", r.human());
        assert!(
            r.human()
                .ends_with("1 passed, 0 failed, 1 could not run (errors)\n"),
            "{}",
            r.human()
        );
    }

    #[test]
    fn verbose_shows_why_in_a_few_words() {
        let mut r = report(vec![check("tcp client → web:7000 is open", true)]);
        r.checks[0].why = Some(crate::check::why::Why {
            sentence: "`client` and `web` share the user-defined bridge `front`".into(),
            short: "shared bridge front".into(),
        });
        assert!(
            r.human_with(false, true, false)
                .contains("is open  open     3 ms\n      why: shared bridge front\n"),
            "{}",
            r.human_with(false, true, false)
        );
        assert!(!r.human().contains("why:"), "a PASS: only with -v");
    }

    #[test]
    fn quiet_and_verbose_show_only_what_failed_in_detail() {
        let mut r = report(vec![check("a", true), check("b", false)]);
        r.checks[1].why = Some(crate::check::why::Why {
            sentence: "`client` and `far` are on different user-defined bridges".into(),
            short: "bridges isolated".into(),
        });
        assert_eq!(
            r.human_with(false, true, true),
            "FAIL  b  open     3 ms\n      why: bridges isolated\n1 passed, 1 failed\n"
        );
    }

    #[test]
    fn a_failed_matrix_says_why_of_the_cells_that_differ_only() {
        let cell = |to: &str, expected: char, observed: char, why: &str| CellReport {
            from: "web".into(),
            to: to.into(),
            family: None,
            expected,
            observed,
            passed: expected == observed,
            reason: String::new(),
            elapsed: Duration::ZERO,
            why: Some(crate::check::why::Why {
                sentence: String::new(),
                short: why.into(),
            }),
            network: None,
        };
        let mut r = report(vec![check("matrix on 7000", false)]);
        r.checks[0].matrix = Some(MatrixReport {
            title: None,
            port: "7000/tcp".into(),
            sources: vec!["web".into()],
            targets: vec!["app".into(), "db".into()],
            cells: vec![
                cell("app", '.', '.', "shared bridge front"),
                cell("db", '.', 'x', "internal back: no way in"),
            ],
        });
        let text = r.human();
        assert!(
            text.contains("\n      why: web → db: internal back: no way in\n"),
            "{text}"
        );
        assert!(!text.contains("shared bridge front"), "{text}");
    }

    #[test]
    fn a_fail_says_why_without_verbose() {
        let mut r = report(vec![check("tcp client → far:7000 is open", false)]);
        r.checks[0].why = Some(crate::check::why::Why {
            sentence: "`client` and `far` are on different user-defined bridges".into(),
            short: "bridges isolated: front ↛ back".into(),
        });
        let text = r.human();
        assert!(
            text.contains("\n      why: bridges isolated: front ↛ back\n"),
            "{text}"
        );
    }

    #[test]
    fn quiet_shows_only_what_did_not_pass_and_the_closing_line() {
        let passing = report(vec![check("a", true), check("a long title", true)]);
        assert_eq!(
            passing.human_with(false, false, true),
            "2 passed, 0 failed\n"
        );
        let mut failing = report(vec![check("a long title", true), check("b", false)]);
        failing.checks.push(check("c", false));
        failing.checks[2].status = Status::Error;
        assert_eq!(
            failing.human_with(false, false, true),
            "FAIL   b  open     3 ms\nERROR  c  open     3 ms\n1 passed, 1 failed, 1 could not run (errors)\n"
        );
    }

    #[test]
    fn status_words_are_painted_only_with_colour() {
        let r = report(vec![check("a", true), check("b", false)]);
        let text = r.human_with(true, false, false);
        assert!(text.contains("\x1b[32mPASS\x1b[0m  a"), "{text:?}");
        assert!(text.contains("\x1b[31;1mFAIL\x1b[0m  b"), "{text:?}");
        assert!(!r.human().contains('\x1b'));
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
