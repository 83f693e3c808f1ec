//! The steps of a lab that changes (`steps:`), as a timeline: each step's
//! title, what was done, its checks as cards, and how long a check with
//! `retry:` took to pass (time to recover). Renders nothing for a report
//! without steps.
//!
//! The JSON shape of steps is provisional (`model::Step`): when the steps
//! feature lands in the JSON report, its fields are mapped here and in
//! `model`, and nowhere else on the page.

use std::fmt::Write as _;

use super::model::{Document, Verdict};
use super::{checks, esc, millis};

pub fn render(doc: &Document) -> String {
    if doc.steps.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section id=\"steps\">\n<h2>Steps</h2>\n<ol class=\"timeline\">\n");
    for (i, step) in doc.steps.iter().enumerate() {
        let worst = step
            .checks
            .iter()
            .map(|c| c.verdict())
            .max()
            .unwrap_or(Verdict::Pass);
        let _ = write!(
            out,
            "<li class=\"step {}\" id=\"step-{}\"><h3>{}</h3><p class=\"took\">{}</p>",
            worst.class(),
            i + 1,
            esc(&step.title),
            millis(step.duration_ms)
        );
        if !step.actions.is_empty() {
            out.push_str("<ul class=\"actions\">");
            for a in &step.actions {
                let _ = write!(out, "<li>{}</li>", esc(a));
            }
            out.push_str("</ul>");
        }
        let recovered: Vec<String> = step
            .checks
            .iter()
            .filter_map(|c| {
                c.recovered_ms
                    .map(|ms| format!("{}: {}", esc(&c.title), millis(ms)))
            })
            .collect();
        if !recovered.is_empty() {
            let _ = write!(
                out,
                "<p class=\"recovered\">Time to recover: {}</p>",
                recovered.join("; ")
            );
        }
        for (k, c) in step.checks.iter().enumerate() {
            checks::card(&mut out, doc, c, &format!("step-{}-check-{}", i + 1, k + 1));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol>\n</section>\n");
    out
}
