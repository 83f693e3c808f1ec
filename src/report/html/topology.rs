//! The lab drawn: `layout`'s geometry as inline SVG, each node, network
//! and host coloured by the checks that touch it (all passed, some failed,
//! could not run, untouched), with a legend.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::layout::{self, BarKind, CHAR_W, LINE_H, Picture};
use super::model::{Check, Verdict};
use super::{esc, slug};
use crate::report::topology::Topology;

/// What the checks touching one part of the lab came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
}

impl Tally {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Error => self.error += 1,
            Verdict::Skipped => {}
        }
    }

    /// Some failed outranks could not run, which outranks all passed.
    pub fn class(&self) -> &'static str {
        if self.fail > 0 {
            "st-fail"
        } else if self.error > 0 {
            "st-error"
        } else if self.pass > 0 {
            "st-pass"
        } else {
            "st-none"
        }
    }

    fn words(&self) -> String {
        let total = self.pass + self.fail + self.error;
        if total == 0 {
            return "no check touches it".into();
        }
        let mut parts = vec![format!("{} passed", self.pass)];
        if self.fail > 0 {
            parts.push(format!("{} failed", self.fail));
        }
        if self.error > 0 {
            parts.push(format!("{} could not run", self.error));
        }
        format!(
            "{total} check{} (matrix cells counted one by one): {}",
            if total == 1 { "" } else { "s" },
            parts.join(", ")
        )
    }
}

/// Tallies per node, network and host.
#[derive(Debug, Default)]
pub struct Tallies {
    pub nodes: BTreeMap<String, Tally>,
    pub networks: BTreeMap<String, Tally>,
    pub hosts: BTreeMap<String, Tally>,
}

/// `host`, `host@east` → the host's name (`first` for a plain `host`).
fn host_of_source(source: &str, first: &str) -> Option<String> {
    match source.split_once('@') {
        Some(("host", h)) => Some(h.to_owned()),
        None if source == "host" => Some(first.to_owned()),
        _ => None,
    }
}

pub fn tallies(checks: &[&Check], first_host: &str) -> Tallies {
    let mut t = Tallies::default();
    for c in checks {
        if let Some(cells) = &c.cells {
            for cell in cells {
                let v = Verdict::of(&cell.outcome);
                match host_of_source(&cell.from, first_host) {
                    Some(h) => t.hosts.entry(h).or_default().add(v),
                    None => t.nodes.entry(cell.from.clone()).or_default().add(v),
                }
                t.nodes.entry(cell.to.clone()).or_default().add(v);
                if let Some(n) = &cell.network {
                    t.networks.entry(n.clone()).or_default().add(v);
                }
            }
            continue;
        }
        let v = c.verdict();
        if let Some(touches) = &c.touches {
            for n in &touches.nodes {
                t.nodes.entry(n.clone()).or_default().add(v);
            }
            for n in &touches.networks {
                t.networks.entry(n.clone()).or_default().add(v);
            }
        }
        if let Some(e) = &c.endpoints
            && e.from.node.is_none()
        {
            let h = e.from.host.clone().unwrap_or_else(|| first_host.to_owned());
            t.hosts.entry(h).or_default().add(v);
        }
    }
    t
}

pub fn render(topo: Option<&Topology>, checks: &[&Check]) -> String {
    let mut out = String::from("<section id=\"lab\">\n<h2>The lab</h2>\n");
    let Some(topo) = topo else {
        out.push_str("<p class=\"note\">This report carries no topology (it was made by an older netlab), so the lab cannot be drawn.</p>\n</section>\n");
        return out;
    };
    let first = topo.hosts.first().map(String::as_str).unwrap_or("local");
    let t = tallies(checks, first);
    let pic = layout::lay_out(topo);
    svg(&mut out, topo, &pic, &t);
    out.push_str(LEGEND);
    out.push_str("</section>\n");
    out
}

const LEGEND: &str = "<ul class=\"legend\">\
<li><i class=\"sw st-pass\"></i>every check touching it passed</li>\
<li><i class=\"sw st-fail\"></i>a check touching it failed</li>\
<li><i class=\"sw st-error\"></i>a check touching it could not run</li>\
<li><i class=\"sw st-none\"></i>no check touches it</li>\
<li><i class=\"ln k-bridge\"></i>user-defined bridge</li>\
<li><i class=\"ln k-internal\"></i>internal network (no route out)</li>\
<li><i class=\"ln icc-off\"></i>icc off (its containers cannot talk)</li>\
<li><i class=\"ln k-overlay\"></i>overlay (VXLAN)</li>\
<li><i class=\"ln k-default\"></i>Docker's default bridge (no DNS)</li>\
<li>● joins the network · ⇄ published port (host → container)</li>\
</ul>\n<p class=\"hint\">Hover over a part for its checks; with scripts on, click one to show only the checks that touch it.</p>\n";

fn px(v: f64) -> String {
    format!("{v:.0}")
}

fn svg(out: &mut String, topo: &Topology, pic: &Picture, t: &Tallies) {
    let several = pic.hosts.len() > 1;
    let _ = writeln!(
        out,
        "<div class=\"scroll\"><svg class=\"lab{}\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"the lab: {} networks, {} nodes\">",
        // A picture somewhat wider than the page is shrunk to fit; a much
        // wider one (a large lab) keeps its size and scrolls.
        if pic.width <= 1700.0 { " fit" } else { "" },
        topo.networks.len(),
        topo.nodes.len(),
        w = px(pic.width),
        h = px(pic.height),
    );
    for a in &pic.hosts {
        let tally = t.hosts.get(&a.name).copied().unwrap_or_default();
        let label = if several {
            format!("host {} — its own network stack", a.name)
        } else {
            "the Docker host — its own network stack".to_owned()
        };
        let _ = writeln!(
            out,
            "<g class=\"host {}\" data-host=\"{}\"><title>{}: {}</title><rect class=\"area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"8\"/><rect class=\"band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"30\" rx=\"8\"/><text class=\"band-label\" x=\"{}\" y=\"{}\">{}</text></g>",
            tally.class(),
            esc(&slug(&a.name)),
            esc(&label),
            tally.words(),
            px(a.x),
            px(a.y),
            px(a.w),
            px(a.h),
            px(a.x),
            px(a.y),
            px(a.w),
            px(a.x + 12.0),
            px(a.y + 20.0),
            esc(&label)
        );
    }
    for b in &pic.bars {
        let tally = t.networks.get(&b.network).copied().unwrap_or_default();
        let kind = match b.kind {
            BarKind::Bridge => "k-bridge",
            BarKind::Internal => "k-internal",
            BarKind::Overlay => "k-overlay",
            BarKind::Default => "k-default",
        };
        let icc = if b.icc { "" } else { " icc-off" };
        let name = if b.kind == BarKind::Default {
            "docker0"
        } else {
            &b.network
        };
        let mut tags: Vec<&str> = Vec::new();
        match b.kind {
            BarKind::Internal => tags.push("internal: no route out"),
            BarKind::Overlay if several => tags.push("VXLAN between hosts"),
            BarKind::Overlay => tags.push("VXLAN"),
            BarKind::Default => tags.push("no embedded DNS"),
            BarKind::Bridge => {}
        }
        if !b.icc {
            tags.push("icc off");
        }
        let _ = write!(
            out,
            "<g class=\"bar {kind}{icc} {}\" data-network=\"{}\"><title>network {}: {}</title>",
            tally.class(),
            esc(&slug(&b.network)),
            esc(name),
            tally.words()
        );
        let line = |out: &mut String, y: f64, class: &str| {
            let _ = write!(
                out,
                "<line class=\"{class}\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"/>",
                px(b.x1),
                px(y),
                px(b.x2),
                px(y)
            );
        };
        if b.kind == BarKind::Overlay {
            line(out, b.y - 3.0, "wire");
            line(out, b.y + 3.0, "wire");
        } else {
            line(out, b.y, "wire");
            if b.kind == BarKind::Internal {
                line(out, b.y, "inner");
            }
        }
        let _ = write!(
            out,
            "<text class=\"bar-name\" x=\"{}\" y=\"{}\">{}</text><text class=\"bar-detail\" x=\"{}\" y=\"{}\">{}</text>",
            px(b.x1 + 2.0),
            px(b.y - 9.0),
            esc(name),
            px(b.x1 + 2.0),
            px(b.y + 17.0),
            esc(&b.detail)
        );
        if !tags.is_empty() {
            let _ = write!(
                out,
                "<text class=\"bar-tags\" x=\"{}\" y=\"{}\">{}</text>",
                px(b.x1 + 2.0),
                px(b.y + 29.0),
                esc(&tags.join(" · "))
            );
        }
        out.push_str("</g>\n");
    }
    // Lines first (with a halo that cuts the bars they only cross), then
    // the dots, then the boxes on top.
    out.push_str("<g class=\"links\">");
    for b in &pic.boxes {
        let Some(end) = b.end else { continue };
        let (y1, y2) = if b.host_mode {
            (end, b.y)
        } else {
            (b.y + b.h, end)
        };
        let _ = write!(
            out,
            "<line class=\"halo\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/><line class=\"link\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"/>",
            px(y1 + 6.0),
            px(y2 - 6.0),
            px(y1),
            px(y2),
            x = px(b.line_x)
        );
        for d in &b.dots {
            let _ = write!(
                out,
                "<circle class=\"dot\" cx=\"{}\" cy=\"{}\" r=\"4.5\"/>",
                px(b.line_x),
                px(*d)
            );
        }
    }
    out.push_str("</g>\n");
    for b in &pic.boxes {
        let tally = t.nodes.get(&b.node).copied().unwrap_or_default();
        let _ = write!(
            out,
            "<g class=\"node {}\" data-node=\"{}\"><title>node {}: {}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"5\"/>",
            tally.class(),
            esc(&slug(&b.node)),
            esc(&b.node),
            tally.words(),
            px(b.x),
            px(b.y),
            px(b.w),
            px(b.h)
        );
        for (i, l) in b.lines.iter().enumerate() {
            let _ = write!(
                out,
                "<text class=\"{}\" x=\"{}\" y=\"{}\">{}</text>",
                l.class,
                px(b.x + 8.0),
                format_args!("{:.1}", b.y + 8.0 + 11.0 + i as f64 * LINE_H),
                esc(&l.text)
            );
        }
        let total = tally.pass + tally.fail + tally.error;
        if total > 0 {
            let mark = format!(
                "✔{}{}",
                tally.pass,
                if tally.fail + tally.error > 0 {
                    format!(" ✘{}", tally.fail + tally.error)
                } else {
                    String::new()
                }
            );
            let w = mark.chars().count() as f64 * CHAR_W * 0.85;
            let _ = write!(
                out,
                "<text class=\"tally\" x=\"{}\" y=\"{}\">{}</text>",
                px(b.x + b.w - 6.0 - w),
                px(b.y + 19.0),
                mark
            );
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg></div>\n");
}
