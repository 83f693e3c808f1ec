//! `--html FILE`: the report as one self-contained page a person reads —
//! the lab drawn (hosts, networks, nodes, published ports, each coloured by
//! the checks that touch it), every check with what was observed and why,
//! matrices as tables, recorded exchanges as ladder diagrams, and a place
//! for the steps of a lab that changes.
//!
//! The page is a pure function of the JSON report (`--output json`):
//! `verify --html` renders the JSON it would print, and `netlab report
//! --html` renders a saved one, so both give the same bytes. Nothing in it
//! is fetched: CSS and SVG are inline, a Content-Security-Policy forbids
//! every request, and the one small script (filters and folding; the page
//! reads the same without it) is allowed by its hash.

mod checks;
mod ladder;
mod layout;
mod matrix;
pub mod model;
mod steps;
mod topology;

#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use model::{Document, Verdict};

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page for a JSON report's text; the error says where the JSON is bad.
pub fn from_json(text: &str) -> Result<String, serde_json::Error> {
    let doc: Document = serde_json::from_str(text)?;
    Ok(render(&doc))
}

/// The policy: nothing may be fetched, and only this page's own style and
/// script (by their hashes) may run.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'",
        digest(CSS),
        digest(SCRIPT)
    )
}

/// `sha256-…` of an inline element's text, as CSP names it.
fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

pub fn render(doc: &Document) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!(
        "netlab · {} · {}",
        doc.lab,
        counts_words(doc.passed, doc.failed, doc.errors)
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"generator\" content=\"netlab\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        content_security_policy(),
        esc(&title)
    );
    header(&mut out, doc);
    let all: Vec<&model::Check> = doc.all_checks().collect();
    out.push_str(&topology::render(doc.topology.as_ref(), &all));
    out.push_str(&checks::render(doc));
    out.push_str(&steps::render(doc));
    out.push_str(
        "<footer>Made by netlab from its JSON report (<code>netlab report --html</code> makes the same page from <code>--output json</code>). This page fetches nothing.</footer>\n",
    );
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn counts_words(passed: usize, failed: usize, errors: usize) -> String {
    let mut words = format!("{passed} passed, {failed} failed");
    if errors > 0 {
        let _ = write!(words, ", {errors} could not run");
    }
    words
}

fn header(out: &mut String, doc: &Document) {
    let worst = doc
        .all_checks()
        .map(|c| c.verdict())
        .max()
        .unwrap_or(Verdict::Pass);
    let _ = write!(
        out,
        "<header class=\"top {}\">\n<h1><span class=\"brand\">netlab</span> lab <code>{}</code></h1>\n<p class=\"counts\">",
        worst.class(),
        esc(&doc.lab)
    );
    let _ = write!(
        out,
        "<span class=\"n pass\">{} passed</span> <span class=\"n fail\">{} failed</span>",
        doc.passed, doc.failed
    );
    if doc.errors > 0 {
        let _ = write!(
            out,
            " <span class=\"n error\">{} could not run</span>",
            doc.errors
        );
    }
    let _ = writeln!(
        out,
        " <span class=\"took\">in {}</span></p>",
        millis(doc.duration_ms)
    );
    if let Some(t) = &doc.topology
        && !t.description.is_empty()
    {
        let _ = writeln!(out, "<p class=\"description\">{}</p>", esc(&t.description));
    }
    out.push_str("<ul class=\"engines\">");
    for e in &doc.engines {
        let host = if doc.engines.len() > 1 {
            format!("<b>{}</b>: ", esc(&e.host))
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<li>{host}Docker {} (API {}) at <code>{}</code></li>",
            esc(&e.version),
            esc(&e.api_version),
            esc(&e.address)
        );
    }
    out.push_str("</ul>\n");
    for note in &doc.notes {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
    }
    for f in &doc.findings {
        let _ = writeln!(
            out,
            "<p class=\"note finding\"><b>finding</b> <code>{}</code>: {}</p>",
            esc(&f.at),
            esc(&f.text)
        );
    }
    out.push_str("</header>\n");
}

/// `13 ms`, `2.00 s`, as the text report shows durations.
fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Text for HTML (and SVG) content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A sentence of netlab's, with its `quoted` names set as code.
fn prose(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// A name fit for an id or a data attribute (also for names with spaces).
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
