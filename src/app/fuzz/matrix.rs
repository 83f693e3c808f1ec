//! The generated `matrix` checks: every cell as the model predicts, with
//! the model's reason for each in a comment. Over IPv6 the prediction
//! depends on whether the engine sets ip6tables rules; where it does, the
//! matrix is written twice, each with the `requires:` that picks it, so
//! every engine runs the one that is its own.

use std::fmt::Write as _;

use super::generate::{PORT, one_line};
use crate::lab::{IpFamily, Lab, Source, Transport};
use crate::model;

/// The table of the cells as the model predicts them (`ip6tables`: the
/// engine's), and a comment line per cell.
fn table(
    lab: &Lab,
    cells: &[(Source, String)],
    family: IpFamily,
    ip6tables: bool,
    mutant: bool,
) -> (String, String) {
    let mut rows: Vec<Source> = Vec::new();
    let mut cols: Vec<String> = Vec::new();
    for (f, t) in cells {
        if !rows.contains(f) {
            rows.push(f.clone());
        }
        if !cols.contains(t) {
            cols.push(t.clone());
        }
    }
    let width = rows
        .iter()
        .map(|r| r.to_string().len())
        .max()
        .unwrap_or(4)
        .max(7)
        + 2;
    let mut comments = String::new();
    let mut table = format!("{:<width$}", "from\\to");
    for c in &cols {
        let _ = write!(table, " {c:<3}");
    }
    table = table.trim_end().to_owned();
    table.push('\n');
    let mut flip = mutant;
    for r in &rows {
        let _ = write!(table, "{:<width$}", r.to_string());
        for c in &cols {
            let symbol = if cells.iter().any(|(f, t)| f == r && t == c) {
                let p = model::reach_family(lab, r, c, PORT, Transport::Tcp, family, ip6tables);
                let _ = writeln!(
                    comments,
                    "  # {r} -> {c}: {} ({})",
                    p.reach.symbol(),
                    one_line(&p.reason)
                );
                match (std::mem::take(&mut flip), p.reach.symbol()) {
                    (true, '.') => 'x',
                    (true, _) => '.',
                    (false, s) => s,
                }
            } else {
                '-'
            };
            let _ = write!(table, " {symbol:<3}");
        }
        table = table.trim_end().to_owned();
        table.push('\n');
    }
    (table, comments)
}

fn write_matrix(y: &mut String, title: &str, extra: &str, table: &str) {
    let _ = writeln!(
        y,
        "  - matrix:\n      title: {title}\n      port: {PORT}{extra}\n      expect: |"
    );
    for line in table.lines() {
        let _ = writeln!(y, "        {line}");
    }
}

/// Appends the matrix (or matrices) of `cells` over `family` to `y`.
pub fn render(
    lab: &Lab,
    cells: &[(Source, String)],
    family: IpFamily,
    mutant: bool,
    y: &mut String,
) {
    if cells.is_empty() {
        return;
    }
    match family {
        IpFamily::V4 => {
            let (t, comments) = table(lab, cells, family, true, mutant);
            y.push_str(&comments);
            write_matrix(y, &format!("reach {PORT}"), "", &t);
        }
        IpFamily::V6 => {
            let with = table(lab, cells, family, true, false);
            let without = table(lab, cells, family, false, false);
            let title = format!("reach {PORT} over IPv6");
            if with.0 == without.0 {
                y.push_str(&with.1);
                write_matrix(y, &title, "\n      family: v6", &with.0);
                return;
            }
            for ((t, comments), ip6tables, how) in
                [(with, true, "with"), (without, false, "without")]
            {
                y.push_str(&comments);
                write_matrix(
                    y,
                    &format!("{title} {how} ip6tables"),
                    &format!("\n      family: v6\n      requires: {{ ip6tables: {ip6tables} }}"),
                    &t,
                );
            }
        }
    }
}
