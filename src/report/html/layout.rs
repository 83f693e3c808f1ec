//! The lab's picture as geometry, laid out by netlab itself (no Graphviz,
//! no script): a bus diagram in layers. Each Docker host is an area with
//! its own network stack as a band on top; each network is a horizontal
//! bar; each node is a box in the row just above the first of its networks
//! (networks ordered so that those sharing nodes are neighbours), with one
//! vertical line down through the bars it joins (a dot at each join, a gap
//! where it only crosses). A host-mode node hangs from its host's band.
//! With several hosts, the areas stand side by side and overlays run as
//! bars under all of them. Boxes never sit on another box's line: a line
//! reserves its column in the rows it crosses.
//!
//! Pure and deterministic: the same topology gives the same numbers.

use crate::report::topology::{Node, Topology};

/// Width of one character of the boxes' monospace text (12px).
pub const CHAR_W: f64 = 7.25;
pub const LINE_H: f64 = 15.0;
const PAD: f64 = 8.0;
const GAP: f64 = 18.0;
/// Left of every host area: the bars' names.
pub const GUTTER: f64 = 150.0;
const HOST_BAND: f64 = 30.0;
const ABOVE_BAR: f64 = 30.0;
const BELOW_BAR: f64 = 30.0;
const MARGIN: f64 = 14.0;
const SPAN_STEP: f64 = 52.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarKind {
    Bridge,
    Internal,
    Overlay,
    /// Docker's default bridge.
    Default,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub network: String,
    pub kind: BarKind,
    pub icc: bool,
    /// `bridge 172.18.0.0/16`
    pub detail: String,
    pub x1: f64,
    pub x2: f64,
    pub y: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HostArea {
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// One line of text in a node's box; `class` styles it.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxLine {
    pub text: String,
    pub class: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    pub node: String,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub lines: Vec<BoxLine>,
    /// The vertical line: from the box down (or, for host mode, up) to
    /// `end`, with a dot at each bar joined.
    pub line_x: f64,
    pub end: Option<f64>,
    pub dots: Vec<f64>,
    pub host_mode: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Picture {
    pub width: f64,
    pub height: f64,
    pub hosts: Vec<HostArea>,
    pub bars: Vec<Bar>,
    pub boxes: Vec<NodeBox>,
}

fn box_lines(n: &Node) -> Vec<BoxLine> {
    let line = |text: String, class| BoxLine { text, class };
    let mut title = n.name.clone();
    if let Some(image) = &n.image {
        title = format!("{title} ({image})");
    }
    let mut lines = vec![line(title, "name")];
    match n.mode.as_deref() {
        Some("host") => lines.push(line("host mode".into(), "net")),
        Some("none") => lines.push(line("no network".into(), "net")),
        _ => {}
    }
    for a in &n.networks {
        let mut text = format!(
            "{} {}",
            if a.network == "bridge" {
                "docker0"
            } else {
                &a.network
            },
            a.address.as_deref().unwrap_or("-")
        );
        if !a.aliases.is_empty() {
            text = format!("{text} ({})", a.aliases.join(", "));
        }
        lines.push(line(text, "net"));
    }
    for p in &n.ports {
        let host = if p.host_ip.contains(':') {
            format!("[{}]", p.host_ip)
        } else {
            p.host_ip.clone()
        };
        lines.push(line(
            format!(
                "⇄ {host}:{}→{}/{}",
                p.host_port, p.container_port, p.transport
            ),
            "port",
        ));
    }
    if !n.serve.is_empty() {
        lines.push(line(format!("serves {}", n.serve.join(" ")), "serve"));
    }
    if !n.running {
        lines.push(line("not running".into(), "down"));
    }
    lines
}

fn box_size(lines: &[BoxLine]) -> (f64, f64) {
    // The first line also holds the tally of checks (`✔12 ✘3`).
    let chars = lines
        .iter()
        .enumerate()
        .map(|(i, l)| l.text.chars().count() + if i == 0 { 9 } else { 0 })
        .max()
        .unwrap_or(0);
    let w = (chars as f64 * CHAR_W + 2.0 * PAD).max(96.0);
    let h = lines.len() as f64 * LINE_H + 2.0 * PAD - 3.0;
    (w.ceil(), h)
}

/// A host's local networks, neighbours first: each next one shares the
/// most nodes with the one before (declaration order breaks ties).
fn order_networks(names: Vec<String>, nodes: &[&Node]) -> Vec<String> {
    let shared = |a: &str, b: &str| {
        nodes
            .iter()
            .filter(|n| {
                n.networks.iter().any(|x| x.network == a)
                    && n.networks.iter().any(|x| x.network == b)
            })
            .count()
    };
    let mut left = names;
    let mut out: Vec<String> = Vec::new();
    while !left.is_empty() {
        let pick = match out.last() {
            Some(last) => {
                let best = left
                    .iter()
                    .enumerate()
                    .max_by_key(|(i, n)| (shared(last, n), std::cmp::Reverse(*i)))
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                if shared(last, &left[best]) > 0 {
                    best
                } else {
                    0
                }
            }
            None => 0,
        };
        out.push(left.remove(pick));
    }
    out
}

fn bar_kind(t: &Topology, network: &str) -> (BarKind, bool, String) {
    match t.networks.iter().find(|n| n.name == network) {
        Some(n) => {
            let kind = if n.driver == "overlay" {
                BarKind::Overlay
            } else if n.internal {
                BarKind::Internal
            } else {
                BarKind::Bridge
            };
            let mut detail = n.driver.clone();
            if let Some(s) = &n.subnet {
                detail = format!("{detail} {s}");
            }
            (kind, n.icc, detail)
        }
        None => (BarKind::Default, true, "default bridge".into()),
    }
}

/// What is laid out for one host before it gets its place.
struct HostPlan {
    name: String,
    /// Bar names: the host's own, then (several hosts) the spanning ones.
    local: Vec<String>,
    rows: Vec<Vec<Placed>>,
    width: f64,
    /// y of each local bar and of each row's top, relative to the area.
    bar_y: Vec<f64>,
    height: f64,
}

struct Placed {
    node: String,
    lines: Vec<BoxLine>,
    x: f64,
    w: f64,
    h: f64,
    /// Bar indices joined (local first, then spanning: local.len() + k).
    joins: Vec<usize>,
    host_mode: bool,
    y: f64,
}

pub fn lay_out(t: &Topology) -> Picture {
    let used: Vec<&String> = t
        .hosts
        .iter()
        .filter(|h| t.nodes.iter().any(|n| &n.host == *h))
        .collect();
    let several = used.len() > 1;
    let host_names: Vec<String> = if used.is_empty() {
        vec![t.hosts.first().cloned().unwrap_or_else(|| "local".into())]
    } else {
        used.into_iter().cloned().collect()
    };
    let spanning: Vec<String> = if several {
        t.networks
            .iter()
            .filter(|n| n.driver == "overlay")
            .map(|n| n.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let mut plans: Vec<HostPlan> = host_names
        .iter()
        .map(|h| plan_host(t, h, several, &spanning))
        .collect();
    // Areas side by side, as tall as the tallest.
    let area_h = plans.iter().map(|p| p.height).fold(0.0, f64::max);
    let mut pic = Picture::default();
    let mut x = MARGIN;
    let top = MARGIN;
    for p in &mut plans {
        pic.hosts.push(HostArea {
            name: p.name.clone(),
            x,
            y: top,
            w: p.width,
            h: area_h,
        });
        for (i, name) in p.local.iter().enumerate() {
            let (kind, icc, detail) = bar_kind(t, name);
            pic.bars.push(Bar {
                network: name.clone(),
                kind,
                icc,
                detail,
                x1: x + 8.0,
                x2: x + p.width - 8.0,
                y: top + p.bar_y[i],
            });
        }
        x += p.width + MARGIN;
    }
    let total_w = x;
    let span_y = |k: usize| top + area_h + 36.0 + k as f64 * SPAN_STEP;
    for (k, name) in spanning.iter().enumerate() {
        let (kind, icc, detail) = bar_kind(t, name);
        pic.bars.push(Bar {
            network: name.clone(),
            kind,
            icc,
            detail,
            x1: MARGIN + 8.0,
            x2: total_w - MARGIN - 8.0,
            y: span_y(k),
        });
    }
    for (p, area) in plans.iter().zip(&pic.hosts) {
        let bar_abs = |i: usize| -> f64 {
            if i < p.local.len() {
                area.y + p.bar_y[i]
            } else {
                span_y(i - p.local.len())
            }
        };
        for row in &p.rows {
            for n in row {
                let (bx, by) = (area.x + n.x, area.y + n.y);
                let line_x = (bx + n.w / 2.0).round();
                let dots: Vec<f64> = n.joins.iter().map(|&i| bar_abs(i)).collect();
                let end = if n.host_mode {
                    Some(area.y + HOST_BAND)
                } else {
                    dots.iter().copied().reduce(f64::max)
                };
                pic.boxes.push(NodeBox {
                    node: n.node.clone(),
                    x: bx,
                    y: by,
                    w: n.w,
                    h: n.h,
                    lines: n.lines.clone(),
                    line_x,
                    end,
                    dots,
                    host_mode: n.host_mode,
                });
            }
        }
    }
    pic.width = total_w;
    pic.height = if spanning.is_empty() {
        top + area_h + MARGIN
    } else {
        span_y(spanning.len() - 1) + 40.0
    };
    pic
}

fn plan_host(t: &Topology, host: &str, several: bool, spanning: &[String]) -> HostPlan {
    let nodes: Vec<&Node> = t.nodes.iter().filter(|n| n.host == host).collect();
    let mut names: Vec<String> = t
        .networks
        .iter()
        .filter(|n| {
            if n.driver == "overlay" {
                !several
            } else {
                n.host.as_deref().is_none_or(|h| h == host)
                    && (n.host.is_some()
                        || nodes
                            .iter()
                            .any(|x| x.networks.iter().any(|a| a.network == n.name)))
            }
        })
        .map(|n| n.name.clone())
        .collect();
    if nodes
        .iter()
        .any(|n| n.networks.iter().any(|a| a.network == "bridge"))
    {
        names.push("bridge".into());
    }
    let local = order_networks(names, &nodes);
    let index = |net: &str| -> Option<usize> {
        local.iter().position(|x| x == net).or_else(|| {
            spanning
                .iter()
                .position(|x| x == net)
                .map(|k| local.len() + k)
        })
    };
    // Rows 0..=local.len(): row r sits above local bar r; the last row
    // below every local bar (nodes on spanning networks only, or on none).
    let mut rows: Vec<Vec<Placed>> = (0..=local.len()).map(|_| Vec::new()).collect();
    for n in &nodes {
        let mut joins: Vec<usize> = n
            .networks
            .iter()
            .filter_map(|a| index(&a.network))
            .collect();
        joins.sort_unstable();
        joins.dedup();
        let host_mode = n.mode.as_deref() == Some("host");
        let row = if host_mode {
            0
        } else {
            joins
                .first()
                .copied()
                .filter(|i| *i < local.len())
                .unwrap_or(local.len())
        };
        let lines = box_lines(n);
        let (w, h) = box_size(&lines);
        rows[row].push(Placed {
            node: n.name.clone(),
            lines,
            x: 0.0,
            w,
            h,
            joins,
            host_mode,
            y: 0.0,
        });
    }
    // Nodes that reach furthest down go right, so lower rows fill from
    // the left.
    for row in &mut rows {
        row.sort_by_key(|p| p.joins.last().copied().unwrap_or(0));
    }
    // Columns reserved by lines passing through each row.
    let mut reserved: Vec<Vec<(f64, f64)>> = vec![Vec::new(); rows.len()];
    let mut width: f64 = GUTTER + 180.0;
    for r in 0..rows.len() {
        let mut cursor = GUTTER;
        for p in &mut rows[r] {
            let mut x = cursor;
            while let Some(&(_, end)) = reserved[r]
                .iter()
                .find(|(a, b)| x < *b + 10.0 && x + p.w > *a - 10.0)
            {
                x = end + 10.0;
            }
            p.x = x;
            cursor = x + p.w + GAP;
            width = width.max(x + p.w + MARGIN);
            let line_x = (x + p.w / 2.0).round();
            let deepest = p.joins.last().copied().unwrap_or(0);
            for (below, cols) in reserved.iter_mut().enumerate().skip(r + 1) {
                if deepest >= below {
                    cols.push((line_x - 4.0, line_x + 4.0));
                }
            }
        }
    }
    // Vertical: the host's band, then each row above its bar.
    let mut bar_y = Vec::with_capacity(local.len());
    let mut y = HOST_BAND + ABOVE_BAR;
    for (r, row) in rows.iter_mut().enumerate() {
        let row_h = row.iter().map(|p| p.h).fold(0.0, f64::max);
        for p in row.iter_mut() {
            p.y = y + row_h - p.h;
        }
        if r < local.len() {
            let by = y + row_h + ABOVE_BAR;
            bar_y.push(by);
            y = by + BELOW_BAR;
        } else {
            y += row_h + if row_h > 0.0 { 16.0 } else { 0.0 };
        }
    }
    HostPlan {
        name: host.to_owned(),
        local,
        rows,
        width: width.ceil(),
        bar_y,
        height: y.max(HOST_BAND + 60.0),
    }
}
