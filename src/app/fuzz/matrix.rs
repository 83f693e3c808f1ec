//! The generated `matrix` checks: every cell as the model predicts, with
//! the model's reason for each in a comment. Over IPv6 the prediction
//! depends on the engine (ip6tables rules, Docker's version: `sides`);
//! where it does, the matrix is written once per kind of engine, each with
//! the `requires:` that picks it, so every engine runs the one that is its
//! own.

use std::fmt::Write as _;

use super::generate::PORT;
use super::probes::one_line;
use super::sides::{self, distinct};
use crate::lab::{IpFamily, Lab, Source, Transport};
use crate::model::{self, EngineSide};

/// The table of the cells as the model predicts them on an engine like
/// `side`, and a comment line per cell.
fn table(
    lab: &Lab,
    cells: &[(Source, String)],
    family: IpFamily,
    side: EngineSide,
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
                let p = model::reach_family(lab, r, c, PORT, Transport::Tcp, family, side);
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
            let (t, comments) = table(lab, cells, family, EngineSide::NEW, mutant);
            y.push_str(&comments);
            write_matrix(y, &format!("reach {PORT}"), "", &t);
        }
        IpFamily::V6 => {
            let title = format!("reach {PORT} over IPv6");
            for (variant, (t, comments)) in distinct(
                &sides::REACH_V6,
                |side| table(lab, cells, family, side, false),
                |(t, _)| t.clone(),
            ) {
                y.push_str(&comments);
                match variant {
                    None => write_matrix(y, &title, "\n      family: v6", &t),
                    Some(v) => write_matrix(
                        y,
                        &format!("{title} {}", v.title),
                        &format!("\n      family: v6\n      requires: {}", v.requires),
                        &t,
                    ),
                }
            }
        }
    }
}
