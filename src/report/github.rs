//! The report as GitHub Actions reads it (`GITHUB_ACTIONS=true`, or
//! `--output github`): each FAIL and ERROR as an `::error` workflow command
//! at its check's line and column in the lab file, so the pull request
//! shows it on that line; and a Markdown summary (the verdicts, a failed
//! matrix's tables, why) for `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;

use super::{CheckReport, Status, VerifyReport, format_elapsed, matrix, safe};
use crate::lab::diagnostic::Pos;

/// The lab file the checks came from, as annotations name it.
pub struct LabFile {
    /// The path GitHub resolves from the repository's root (as given).
    pub path: String,
    /// Each check's title and place (`lab::check_places`).
    pub places: Vec<(String, Pos)>,
}

impl LabFile {
    /// Where the check titled `title` is: the check of that title, or
    /// the one it was made from (a `family: both` check reports per
    /// family, its title extended).
    fn place(&self, title: &str) -> Option<Pos> {
        let exact = self.places.iter().find(|(t, _)| t == title);
        exact
            .or_else(|| {
                self.places
                    .iter()
                    .find(|(t, _)| title.starts_with(t.as_str()))
            })
            .map(|(_, pos)| *pos)
    }
}

/// One `::error …::…` line per check that failed or could not run.
pub fn annotations(report: &VerifyReport, file: Option<&LabFile>) -> String {
    let mut out = String::new();
    for c in report
        .all_checks()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error))
    {
        let mut props = Vec::new();
        if let Some(file) = file {
            props.push(format!("file={}", property(&file.path)));
            if let Some(pos) = file.place(&c.title) {
                props.push(format!("line={},col={}", pos.line, pos.column));
            }
        }
        props.push(format!(
            "title={}",
            property(&format!("netlab {}: {}", c.status.word(), c.title))
        ));
        let _ = writeln!(
            out,
            "::error {}::{}",
            props.join(","),
            data(&annotation_text(c))
        );
    }
    out
}

/// What the annotation says: the check, what was seen, and why.
fn annotation_text(c: &CheckReport) -> String {
    let mut text = format!("{} {}: {}", c.status.word(), c.title, c.observed);
    if let Some(why) = &c.why {
        let _ = write!(text, "\nwhy: {}", why.short);
    }
    if let Some(m) = &c.matrix {
        for cell in m.cells.iter().filter(|cell| !cell.passed) {
            let _ = write!(
                text,
                "\n{} → {}: expected {}, observed {}",
                cell.from, cell.to, cell.expected, cell.observed
            );
            if let Some(why) = &cell.why {
                let _ = write!(text, " ({})", why.short);
            }
        }
    }
    text
}

/// A workflow command's message: `%`, CR and LF escaped, so a check's
/// title can neither end the command nor start another; the rest made
/// inert for the log (`text::safe`).
fn data(s: &str) -> String {
    s.split('\n')
        .map(|line| safe(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: as `data`, and `:` and `,` too.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The Markdown summary: the closing line, a table of every check, and
/// under it what did not pass in detail.
pub fn summary(report: &VerifyReport) -> String {
    let mut out = String::new();
    let icon = if report.failed() + report.errors() == 0 {
        "✅"
    } else {
        "❌"
    };
    let _ = writeln!(
        out,
        "### {icon} netlab: lab `{}` — {} passed, {} failed{}{}\n",
        safe(&report.lab),
        report.passed(),
        report.failed(),
        if report.skipped() > 0 {
            format!(", {} skipped", report.skipped())
        } else {
            String::new()
        },
        if report.errors() > 0 {
            format!(", {} could not run", report.errors())
        } else {
            String::new()
        },
    );
    let _ = writeln!(out, "| verdict | check | observed | time |");
    let _ = writeln!(out, "|---|---|---|---:|");
    for c in report.all_checks() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            verdict(c.status),
            cell(&c.title),
            cell(&c.observed),
            format_elapsed(c.elapsed)
        );
    }
    for c in report.all_checks().filter(|c| c.status != Status::Pass) {
        let mut detail = String::new();
        if let Some(why) = &c.why {
            let _ = writeln!(detail, "why: {}", safe(&why.short));
        }
        if let Some(m) = &c.matrix {
            for cell in m.cells.iter().filter(|cell| !cell.passed) {
                if let Some(why) = &cell.why {
                    let _ = writeln!(
                        detail,
                        "why: {} → {}: {}",
                        safe(&cell.from),
                        safe(&cell.to),
                        safe(&why.short)
                    );
                }
            }
            detail.push_str(&matrix::tables(m, false));
        }
        if !detail.is_empty() {
            let _ = writeln!(
                out,
                "\n**{} {}**\n\n```text\n{}```",
                c.status.word(),
                cell(&c.title),
                detail.replace("```", "'''")
            );
        }
    }
    out.push('\n');
    out
}

fn verdict(status: Status) -> String {
    let icon = match status {
        Status::Pass => "✅",
        Status::Fail => "❌",
        Status::Error => "⚠️",
        Status::Skipped | Status::Cancelled => "⏭️",
    };
    format!("{icon} {}", status.word())
}

/// Text from the lab or the engine in a Markdown table cell: one line, no
/// cell boundary, no markup.
fn cell(s: &str) -> String {
    let mut out = String::new();
    for ch in safe(s).chars() {
        match ch {
            '|' | '\\' | '`' | '*' | '_' | '<' | '>' | '[' | ']' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{check, report};

    fn file() -> LabFile {
        LabFile {
            path: "labs/x.yaml".into(),
            places: vec![
                (
                    "a".into(),
                    Pos {
                        line: 12,
                        column: 5,
                    },
                ),
                (
                    "b".into(),
                    Pos {
                        line: 14,
                        column: 7,
                    },
                ),
            ],
        }
    }

    #[test]
    fn a_fail_and_an_error_are_annotated_at_their_checks() {
        let mut r = report(vec![check("a", true), check("b", false), check("c", false)]);
        r.checks[2].status = Status::Error;
        r.checks[1].why = Some(crate::check::why::Why {
            sentence: String::new(),
            short: "bridges isolated".into(),
        });
        let text = annotations(&r, Some(&file()));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "::error file=labs/x.yaml,line=14,col=7,title=netlab FAIL%3A b::FAIL b: open%0Awhy: bridges isolated",
                "::error file=labs/x.yaml,title=netlab ERROR%3A c::ERROR c: open",
            ]
        );
    }

    #[test]
    fn a_title_cannot_end_the_command_or_start_another() {
        let mut r = report(vec![check("x,y::z\n::warning::owned %0A", false)]);
        r.checks[0].observed = "refused\r\n::error::more".into();
        let text = annotations(&r, None);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with("::error title=netlab FAIL%3A x%2Cy%3A%3Az"),
            "{text}"
        );
        assert!(text.contains("%250A"), "{text}");
    }

    #[test]
    fn the_summary_has_every_verdict_and_why() {
        let mut r = report(vec![check("a", true), check("b|c", false)]);
        r.checks[1].why = Some(crate::check::why::Why {
            sentence: String::new(),
            short: "bridges isolated".into(),
        });
        let md = summary(&r);
        assert!(
            md.starts_with("### ❌ netlab: lab `x` — 1 passed, 1 failed\n"),
            "{md}"
        );
        assert!(md.contains("| ✅ PASS | a | open | 3 ms |"), "{md}");
        assert!(md.contains("| ❌ FAIL | b\\|c | open | 3 ms |"), "{md}");
        assert!(md.contains("```text\nwhy: bridges isolated\n```"), "{md}");
    }
}
