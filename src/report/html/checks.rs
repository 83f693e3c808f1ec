//! Every check as a card: status, title, from where to where, what was
//! expected and observed, why (the Docker mechanism), then its matrix or
//! its recorded packets. Cards carry the nodes, networks and hosts they
//! touch as data attributes, for the script's filters.

use std::fmt::Write as _;

use super::model::{Check, Document, Verdict};
use super::{esc, ladder, matrix, millis, prose, slug};
use crate::check::route::Endpoint;
use crate::report::topology::Topology;

pub fn render(doc: &Document) -> String {
    let mut out = String::from("<section id=\"checks\">\n<h2>Checks</h2>\n");
    let bad: Vec<(usize, &Check)> = doc
        .checks
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.verdict(), Verdict::Fail | Verdict::Error))
        .collect();
    if !bad.is_empty() {
        out.push_str("<p class=\"bad-list\">Did not pass: ");
        let links: Vec<String> = bad
            .iter()
            .map(|(i, c)| {
                format!(
                    "<a href=\"#check-{}\" class=\"{}\">{}</a>",
                    i + 1,
                    c.verdict().class(),
                    esc(&c.title)
                )
            })
            .collect();
        out.push_str(&links.join(" · "));
        out.push_str("</p>\n");
    }
    out.push_str("<div id=\"filters\" class=\"filters\"></div>\n");
    for (i, c) in doc.checks.iter().enumerate() {
        card(&mut out, doc, c, &format!("check-{}", i + 1));
    }
    out.push_str("</section>\n");
    out
}

/// The data attributes a card's filters read: `data-nodes="web db"`.
fn touched(c: &Check) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut nodes, mut networks, mut hosts) = (Vec::new(), Vec::new(), Vec::new());
    let add = |list: &mut Vec<String>, name: &str| {
        let s = slug(name);
        if !list.contains(&s) {
            list.push(s);
        }
    };
    if let Some(t) = &c.touches {
        for n in &t.nodes {
            add(&mut nodes, n);
        }
        for n in &t.networks {
            add(&mut networks, n);
        }
    }
    for cell in c.cells.iter().flatten() {
        for end in [&cell.from, &cell.to] {
            match end.split_once('@') {
                Some(("host", h)) => add(&mut hosts, h),
                _ if end == "host" => {}
                _ => add(&mut nodes, end),
            }
        }
        if let Some(n) = &cell.network {
            add(&mut networks, n);
        }
    }
    if let Some(e) = &c.endpoints
        && e.from.node.is_none()
        && let Some(h) = &e.from.host
    {
        add(&mut hosts, h);
    }
    (nodes, networks, hosts)
}

pub fn card(out: &mut String, doc: &Document, c: &Check, id: &str) {
    let v = c.verdict();
    let (nodes, networks, hosts) = touched(c);
    let _ = write!(
        out,
        "<article class=\"check {cls}\" id=\"{id}\" data-status=\"{cls}\" data-nodes=\"{}\" data-networks=\"{}\" data-hosts=\"{}\">\n<header><span class=\"badge {cls}\">{}</span><h3>{}</h3><span class=\"kind\">{}</span><span class=\"time\">{}</span></header>\n",
        esc(&nodes.join(" ")),
        esc(&networks.join(" ")),
        esc(&hosts.join(" ")),
        v.word(),
        esc(&c.title),
        esc(&c.kind),
        millis(c.duration_ms),
        cls = v.class(),
    );
    out.push_str("<dl>");
    let matrix = c.cells.is_some() && c.table.is_some();
    if let Some(e) = c.endpoints.as_ref().filter(|_| !matrix) {
        let _ = write!(
            out,
            "<dt>path</dt><dd>{}</dd>",
            route_words(&e.from, e.to.as_ref(), doc.topology.as_ref())
        );
    }
    let _ = write!(
        out,
        "<dt>expected</dt><dd>{}</dd><dt>observed</dt><dd class=\"observed\">{}</dd>",
        esc(&c.expectation),
        prose(&c.observation)
    );
    if let Some(ms) = c.recovered_ms {
        let _ = write!(out, "<dt>recovered</dt><dd>after {}</dd>", millis(ms));
    }
    match &c.why {
        // A matrix's causes are listed with its table, cell by cell.
        Some(_) if matrix && c.cells.iter().flatten().any(|x| x.cause.is_some()) => {}
        Some(why) => {
            let _ = write!(out, "<dt>why</dt><dd class=\"why\">{}</dd>", prose(why));
        }
        None if v == Verdict::Error => {
            out.push_str("<dt>why</dt><dd class=\"why none\">the check could not run: the engine or the agent failed (see observed)</dd>");
        }
        None => {}
    }
    out.push_str("</dl>\n");
    if let (Some(cells), Some(table)) = (&c.cells, &c.table) {
        out.push_str(&matrix::render(table, cells));
    }
    if let Some(cap) = &c.capture {
        match (&cap.timeline, &cap.unavailable) {
            (Some(t), _) => {
                let _ = writeln!(
                    out,
                    "<details class=\"capture\" open><summary>The packets, as recorded in {}: {}</summary>",
                    c.endpoints
                        .as_ref()
                        .and_then(|e| e.from.node.as_deref())
                        .map(|n| format!("{}'s network namespace", esc(n)))
                        .unwrap_or_else(|| "the host's network namespace".into()),
                    esc(cap.summary.as_deref().unwrap_or_default())
                );
                out.push_str(&ladder::render(t, c, doc.topology.as_ref()));
                out.push_str("</details>\n");
            }
            (None, Some(reason)) => {
                let _ = writeln!(
                    out,
                    "<p class=\"note\">Packets were not recorded: {}</p>",
                    esc(reason)
                );
            }
            (None, None) => {}
        }
    }
    out.push_str("</article>\n");
}

/// `client (local) → web 172.18.0.3:443 on front`.
fn route_words(from: &Endpoint, to: Option<&Endpoint>, topo: Option<&Topology>) -> String {
    let several = topo.is_some_and(|t| t.hosts.len() > 1);
    let side = |e: &Endpoint, is_from: bool| -> String {
        let mut s = match (&e.node, &e.host) {
            (Some(n), Some(h)) if several => format!("<code>{}</code>@{}", esc(n), esc(h)),
            (Some(n), _) => format!("<code>{}</code>", esc(n)),
            (None, Some(h)) if several => format!("the Docker host {}", esc(h)),
            (None, _) if is_from => "the Docker host".to_owned(),
            (None, _) => String::new(),
        };
        if let Some(name) = &e.name
            && e.node.as_deref() != Some(name.as_str())
        {
            s = if s.is_empty() {
                format!("name <code>{}</code>", esc(name))
            } else {
                format!("{s} as <code>{}</code>", esc(name))
            };
        }
        match (&e.address, e.port) {
            (Some(a), Some(p)) if a.contains(':') => {
                let _ = write!(s, " [{}]:{p}", esc(a));
            }
            (Some(a), Some(p)) => {
                let _ = write!(s, " {}:{p}", esc(a));
            }
            (Some(a), None) => {
                let _ = write!(s, " {}", esc(a));
            }
            (None, Some(p)) => {
                let _ = write!(s, " port {p}");
            }
            (None, None) => {}
        }
        if let Some(n) = &e.network {
            let _ = write!(s, " on <code>{}</code>", esc(n));
        }
        s.trim().to_owned()
    };
    match to {
        Some(to) => format!("{} → {}", side(from, true), side(to, false)),
        None => side(from, true),
    }
}
