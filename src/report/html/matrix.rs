//! A matrix as two coloured tables, expected beside observed, the cells
//! that differ marked; every observed cell says why on hover, and the
//! causes are listed once each with the cells they explain.

use std::fmt::Write as _;

use super::model::{Cell, Table};
use super::{esc, prose};

fn symbol_class(s: &str) -> &'static str {
    match s {
        "." => "s-open",
        "x" => "s-blocked",
        "r" => "s-refused",
        "-" | "" => "s-none",
        _ => "s-other",
    }
}

fn symbol_words(s: &str) -> &'static str {
    match s {
        "." => "open (answered by that node)",
        "x" => "blocked",
        "r" => "refused",
        "-" | "" => "not checked",
        "!" => "could not run",
        _ => "something else answered, or an error",
    }
}

fn find<'a>(cells: &'a [Cell], from: &str, to: &str) -> Option<&'a Cell> {
    cells.iter().find(|c| c.from == from && c.to == to)
}

fn table(out: &mut String, t: &Table, cells: &[Cell], observed: bool) {
    let _ = write!(
        out,
        "<table class=\"mx\"><caption>{}</caption><thead><tr><th class=\"corner\">from \\ to</th>",
        if observed { "observed" } else { "expected" }
    );
    for col in &t.columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(col));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(row));
        for col in &t.columns {
            match find(cells, row, col) {
                None => out.push_str("<td class=\"s-none\">-</td>"),
                Some(c) if !observed => {
                    let _ = write!(
                        out,
                        "<td class=\"{}\">{}</td>",
                        symbol_class(&c.expected),
                        esc(&c.expected)
                    );
                }
                Some(c) => {
                    let differs = c.observed != c.expected;
                    let mut title = format!(
                        "{} → {}: {}; {}",
                        c.from,
                        c.to,
                        symbol_words(&c.observed),
                        c.reason
                    );
                    if let Some(w) = &c.why {
                        let _ = write!(title, ". Why: {}", w.replace('`', ""));
                    }
                    if differs {
                        let _ = write!(title, " (expected {})", symbol_words(&c.expected));
                    }
                    let _ = write!(
                        out,
                        "<td class=\"{}{}\" title=\"{}\">{}{}</td>",
                        symbol_class(&c.observed),
                        if differs { " differs" } else { "" },
                        esc(&title),
                        esc(&c.observed),
                        if differs { "<b>≠</b>" } else { "" }
                    );
                }
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

pub fn render(t: &Table, cells: &[Cell]) -> String {
    let mut out = String::from("<div class=\"matrix\">");
    let differ = cells.iter().filter(|c| c.observed != c.expected).count();
    let _ = write!(
        out,
        "<p class=\"mx-head\">{}port {}: {} of {} cells as expected{}</p>",
        t.title
            .as_deref()
            .map(|s| format!("<b>{}</b> · ", esc(s)))
            .unwrap_or_default(),
        esc(&t.port),
        cells.len() - differ,
        cells.len(),
        if differ > 0 {
            format!(", <b class=\"differs-count\">{differ} differ</b> (marked ≠)")
        } else {
            String::new()
        }
    );
    out.push_str("<div class=\"tables\">");
    table(&mut out, t, cells, false);
    table(&mut out, t, cells, true);
    out.push_str("</div>");
    out.push_str("<p class=\"mx-legend\"><span class=\"s-open\">.</span> open, answered by that node · <span class=\"s-blocked\">x</span> blocked · <span class=\"s-refused\">r</span> refused · <span class=\"s-none\">-</span> not checked · <span class=\"s-other\">?</span> something else · <b>≠</b> differs from the expected cell</p>");
    causes(&mut out, cells);
    out.push_str("</div>\n");
    out
}

/// Each cause once, with the cells it explains (in table order) and one
/// of their sentences.
fn causes(out: &mut String, cells: &[Cell]) {
    let mut groups: Vec<(&str, Vec<&Cell>)> = Vec::new();
    for c in cells {
        let key = c.cause.as_deref().unwrap_or("");
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(c),
            None => groups.push((key, vec![c])),
        }
    }
    if groups.iter().all(|(k, _)| k.is_empty()) {
        return;
    }
    out.push_str("<details class=\"causes\" open><summary>Why each cell</summary><ul>");
    for (cause, list) in groups {
        let which: Vec<String> = list
            .iter()
            .map(|c| {
                let mark = if c.observed != c.expected { " ≠" } else { "" };
                format!("{}→{} {}{mark}", esc(&c.from), esc(&c.to), esc(&c.observed))
            })
            .collect();
        let example = list
            .first()
            .and_then(|c| c.why.as_deref())
            .map(prose)
            .unwrap_or_else(|| "no cause given".into());
        let _ = write!(
            out,
            "<li><b>{}</b> <span class=\"cells\">({})</span><br>{}{example}</li>",
            if cause.is_empty() {
                "other".to_owned()
            } else {
                esc(cause)
            },
            which.join(", "),
            if list.len() > 1 { "e.g. " } else { "" }
        );
    }
    out.push_str("</ul></details>");
}
