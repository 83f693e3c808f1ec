//! A matrix in the human report: when any cell differs, the expected and
//! the observed table side by side, each differing cell marked (red on a
//! terminal, `*` otherwise), and a one-line legend; with `-v`, a matrix that
//! passed shows its table too.

use std::fmt::Write as _;

use super::MatrixReport;
use super::colour::{Paint, paint};

pub const LEGEND: &str =
    ". open (answered by that node)  x blocked  r refused  - not checked  ? other";

/// Rows of symbols: (source, [(symbol, differs)]).
type Grid = Vec<(String, Vec<(char, bool)>)>;

fn grids(m: &MatrixReport) -> (Grid, Grid) {
    let cell = |from: &str, to: &str| m.cells.iter().find(|c| c.from == from && c.to == to);
    let mut expected = Vec::new();
    let mut observed = Vec::new();
    for from in &m.sources {
        let (mut e, mut o) = (Vec::new(), Vec::new());
        for to in &m.targets {
            match cell(from, to) {
                Some(c) => {
                    e.push((c.expected, false));
                    o.push((c.observed, !c.passed));
                }
                None => {
                    e.push(('-', false));
                    o.push(('-', false));
                }
            }
        }
        expected.push((from.clone(), e));
        observed.push((from.clone(), o));
    }
    (expected, observed)
}

/// One table's lines, each padded to the same width (without colour codes).
fn lines(m: &MatrixReport, grid: &Grid, color: bool) -> (Vec<String>, usize) {
    let first = grid
        .iter()
        .map(|(s, _)| s.chars().count())
        .chain(std::iter::once("from\\to".len()))
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = m.targets.iter().map(|t| t.chars().count().max(2)).collect();
    let mut out = Vec::new();
    let mut header = format!("{:first$}", "from\\to");
    for (t, w) in m.targets.iter().zip(&widths) {
        let _ = write!(header, "  {t:w$}");
    }
    let width = header.chars().count();
    out.push(header);
    for (source, row) in grid {
        let mut line = format!("{source:first$}");
        for ((symbol, differs), w) in row.iter().zip(&widths) {
            let text = match (differs, color) {
                (true, true) => format!(
                    "{}{}",
                    paint(&symbol.to_string(), Paint::Red, true),
                    " ".repeat(w - 1)
                ),
                (true, false) => format!("{symbol}*{}", " ".repeat(w - 2)),
                (false, _) => format!("{symbol}{}", " ".repeat(w - 1)),
            };
            let _ = write!(line, "  {text}");
        }
        out.push(line);
    }
    (out, width)
}

pub fn tables(m: &MatrixReport, color: bool) -> String {
    let (expected, observed) = grids(m);
    let (left, width) = lines(m, &expected, false);
    let (right, _) = lines(m, &observed, color);
    let mut out = String::new();
    let _ = writeln!(out, "      {:width$}    observed", "expected");
    for (l, r) in left.iter().zip(&right) {
        let _ = writeln!(out, "      {l:width$}    {}", r.trim_end());
    }
    let mark = if color { "red" } else { "*" };
    let _ = writeln!(
        out,
        "      {LEGEND}; {mark}: differs from the expected cell"
    );
    out
}

/// The table of a matrix whose cells all came out as expected, with the
/// legend: what `-v` shows, so that a policy that holds can be read too.
pub fn observed_table(m: &MatrixReport) -> String {
    let (_, observed) = grids(m);
    let (rows, _) = lines(m, &observed, false);
    let mut out = String::new();
    for row in rows {
        let _ = writeln!(out, "      {}", row.trim_end());
    }
    let _ = writeln!(out, "      {LEGEND}");
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::CellReport;

    fn cell(from: &str, to: &str, expected: char, observed: char) -> CellReport {
        CellReport {
            from: from.into(),
            to: to.into(),
            expected,
            observed,
            passed: expected == observed,
            reason: String::new(),
            elapsed: Duration::ZERO,
            why: None,
            network: None,
        }
    }

    fn matrix() -> MatrixReport {
        MatrixReport {
            title: Some("tiers".into()),
            port: "7000/tcp".into(),
            sources: vec!["web".into(), "app".into(), "host".into()],
            targets: vec!["web".into(), "app".into(), "db".into()],
            cells: vec![
                cell("web", "web", '.', '.'),
                cell("web", "app", '.', '.'),
                cell("web", "db", 'x', '.'),
                cell("app", "web", 'x', 'x'),
                cell("app", "db", '.', 'r'),
                cell("host", "db", 'x', 'x'),
            ],
        }
    }

    #[test]
    fn the_two_tables_mark_each_differing_cell() {
        assert_eq!(
            tables(&matrix(), false),
            "      expected                 observed\n\
             \x20     from\\to  web  app  db    from\\to  web  app  db\n\
             \x20     web      .    .    x     web      .    .    .*\n\
             \x20     app      x    -    .     app      x    -    r*\n\
             \x20     host     -    -    x     host     -    -    x\n\
             \x20     . open (answered by that node)  x blocked  r refused  - not checked  ? other; *: differs from the expected cell\n"
        );
    }

    #[test]
    fn a_matrix_that_holds_is_one_table_without_marks() {
        let mut m = matrix();
        m.cells.retain(|c| c.passed);
        assert_eq!(
            observed_table(&m),
            "      from\\to  web  app  db\n\
             \x20     web      .    .    -\n\
             \x20     app      x    -    -\n\
             \x20     host     -    -    x\n\
             \x20     . open (answered by that node)  x blocked  r refused  - not checked  ? other\n"
        );
    }

    #[test]
    fn on_a_terminal_the_marks_are_colour() {
        let text = tables(&matrix(), true);
        assert!(text.contains("\x1b[31;1m.\x1b[0m"), "{text}");
        assert!(!text.contains(".*"), "{text}");
    }
}
