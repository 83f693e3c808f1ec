//! The checks of a generated lab: every probe the generator would write for
//! it (names, reach, the matrix, published ports, in both families where the
//! lab has them), each rendered expecting what the model predicts, with the
//! model's reason as a comment, once per kind of engine where engines differ.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::generate::*;
use super::sides::{self, distinct};
use crate::lab::{self, IpFamily, Lab, PortExpect, Source, Transport};
use crate::model::{self, DnsPrediction};

/// The probes of a spec's lab: the one kept, or every one.
pub fn probes_of(spec: &Spec, lab: &Lab) -> Vec<Probe> {
    match &spec.only {
        Some(p) => vec![p.clone()],
        None => probes(spec, lab),
    }
}

/// Every check the generator would write for a lab, by probe.
fn probes(spec: &Spec, lab: &Lab) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut sources: Vec<Source> = lab.nodes.keys().map(|n| Source::Node(n.clone())).collect();
    sources.push(Source::Host(None));
    // From a node only on overlays, validation refuses a cell no overlay
    // carries (its default route leaves the machine); other labs have no
    // such cell, and their checks stay as they were.
    let overlays = spec.networks.iter().any(|n| n.overlay);
    let aimable = |from: &Source, to: &str| {
        !overlays || lab::reach::aim(lab.topology(), from, to, None).is_ok()
    };
    for from in &sources {
        for to in matrix_targets(spec) {
            if !aimable(from, &to) {
                continue;
            }
            out.push(Probe::Cell {
                from: from.clone(),
                to,
                family: IpFamily::V4,
            });
        }
    }
    // Over IPv6: the nodes every path reaches by an IPv6 address.
    for from in &sources {
        for to in matrix_targets_v6(spec) {
            if !aimable(from, &to) {
                continue;
            }
            out.push(Probe::Cell {
                from: from.clone(),
                to,
                family: IpFamily::V6,
            });
        }
    }
    // A bounded, seeded choice of names to look up: every pair would be
    // many slow `unresolved` lookups.
    let mut rng = Rng::new(spec.seed ^ 0x00d5_5eed);
    let mut names: Vec<String> = lab.nodes.keys().cloned().collect();
    names.extend(
        ALIASES
            .iter()
            .map(|a| (*a).to_owned())
            .filter(|a| lab::reach::is_lab_name(lab.topology(), a)),
    );
    let askers: Vec<&NodeSpec> = spec
        .nodes
        .iter()
        .filter(|n| {
            matches!(
                n.attach,
                Attach::Networks(_) | Attach::None | Attach::Bridge
            )
        })
        .collect();
    let dual_stack = spec.networks.iter().any(|n| n.ipv6);
    for _ in 0..6 {
        if askers.is_empty() || names.is_empty() {
            break;
        }
        let from = askers[usize::try_from(rng.below(askers.len() as u64)).unwrap_or(0)]
            .name
            .clone();
        let name = names[usize::try_from(rng.below(names.len() as u64)).unwrap_or(0)].clone();
        // AAAA where the lab has IPv6: Docker answers them per network too.
        let family = if dual_stack && rng.one_in(2) {
            IpFamily::V6
        } else {
            IpFamily::V4
        };
        // A node on Docker's default bridge asks the host's resolver,
        // which is not the lab's: where it is silent (an offline runner)
        // the lookup proves nothing and the check is rightly inconclusive.
        // The draw is kept so every seed's other choices stay as they were.
        let on_default_bridge = spec
            .nodes
            .iter()
            .any(|n| n.name == from && matches!(n.attach, Attach::Bridge));
        let probe = Probe::Dns { from, name, family };
        if !on_default_bridge && !out.contains(&probe) {
            out.push(probe);
        }
    }
    // A node's address on each network named (`node@network`), from a
    // node that may or may not share that network.
    let targets: Vec<(String, String)> = lab
        .nodes
        .values()
        .flat_map(|n| n.networks().map(|a| (n.name.clone(), a.network.clone())))
        .collect();
    let from_nodes: Vec<Source> = sources
        .iter()
        .filter(|s| matches!(s, Source::Node(_)))
        .cloned()
        .collect();
    for _ in 0..3 {
        if targets.is_empty() || from_nodes.is_empty() {
            break;
        }
        let (to, net) = &targets[usize::try_from(rng.below(targets.len() as u64)).unwrap_or(0)];
        let from = &from_nodes[usize::try_from(rng.below(from_nodes.len() as u64)).unwrap_or(0)];
        // Only a path the check may claim: validation refuses the rest.
        if lab::reach::aim(lab.topology(), from, to, Some(net)).is_err() {
            continue;
        }
        let probe = Probe::Tcp {
            from: from.clone(),
            to: format!("{to}@{net}"),
            port: PORT,
        };
        if !out.contains(&probe) {
            out.push(probe);
        }
    }
    for n in &spec.nodes {
        if let Some(port) = n.host_listen {
            out.push(Probe::Tcp {
                from: Source::Host(None),
                to: n.name.clone(),
                port,
            });
        }
        if n.publish.is_some()
            || matches!(n.attach, Attach::Networks(_) | Attach::Bridge) && n.serves && rng.one_in(3)
        {
            // Where it is mapped, or at the other loopback: published at
            // its host address, and not at others.
            let host_ip = match rng.below(3) {
                0 => None,
                1 => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                _ => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            };
            out.push(Probe::Port {
                node: n.name.clone(),
                host_ip,
            });
        }
    }
    out
}

/// Nodes with an address a probe can aim at: not host mode (7000 on the
/// host is not the lab's) and not none.
fn matrix_targets(spec: &Spec) -> Vec<String> {
    spec.nodes
        .iter()
        .filter(|n| matches!(n.attach, Attach::Networks(_) | Attach::Bridge))
        .map(|n| n.name.clone())
        .collect()
}

/// Nodes only on IPv6-enabled networks: whichever of them a probe aims
/// at, it has an IPv6 address there.
fn matrix_targets_v6(spec: &Spec) -> Vec<String> {
    spec.nodes
        .iter()
        .filter(|n| match &n.attach {
            Attach::Networks(list) => list.iter().all(|a| {
                spec.networks
                    .iter()
                    .any(|net| net.name == a.network && net.ipv6)
            }),
            _ => false,
        })
        .map(|n| n.name.clone())
        .collect()
}

fn source_word(s: &Source) -> String {
    s.to_string()
}

/// The YAML of one check, expecting what the model predicts; `#` comments
/// carry the model's reason.
pub(super) fn render_check(lab: &Lab, probe: &Probe, y: &mut String) {
    match probe {
        Probe::Cell { .. } => {}
        Probe::Dns { from, name, family } => {
            let variants = match family {
                IpFamily::V4 => &sides::AAAA[1..],
                IpFamily::V6 => &sides::AAAA[..],
            };
            let predict = |side| {
                let p = model::resolve(lab, from, name, *family, side);
                let expect = match (&p, p.certain_nodes()) {
                    (DnsPrediction::Unresolved(_), _) => "unresolved".to_owned(),
                    (_, Some(nodes)) => format!("[{}]", nodes.join(", ")),
                    (_, None) => "resolves".to_owned(),
                };
                let (DnsPrediction::Unresolved(reason) | DnsPrediction::OneOf { reason, .. }) = p;
                (expect, reason)
            };
            for (variant, (expect, reason)) in distinct(variants, predict, |(e, _)| e.clone()) {
                let kind = match family {
                    IpFamily::V4 => "",
                    IpFamily::V6 => ", type: AAAA",
                };
                let (suffix, requires) = sides::marks(variant);
                let _ = writeln!(y, "  # {}", one_line(&reason));
                let _ = writeln!(
                    y,
                    "  - dns: {{ title: \"{}{suffix}\", from: {from}, name: {name}{kind}, expect: {expect}{requires} }}",
                    title(probe)
                );
            }
        }
        Probe::Port { node, host_ip } => {
            let predict = |side| model::published(lab, node, PORT, Transport::Tcp, *host_ip, side);
            for (variant, (expect, reason)) in distinct(&sides::PUBLISH, predict, |(e, _)| *e) {
                let word = match expect {
                    PortExpect::Published => "published",
                    PortExpect::Unpublished => "unpublished",
                };
                let (suffix, requires) = sides::marks(variant);
                let _ = writeln!(y, "  # {}", one_line(&reason));
                let _ = writeln!(
                    y,
                    "  - port: {{ title: \"{}{suffix}\", node: {node}, port: {PORT}{}, expect: {word}{requires} }}",
                    title(probe),
                    host_ip
                        .map(|ip| format!(", host_ip: \"{ip}\""))
                        .unwrap_or_default()
                );
            }
        }
        Probe::Tcp { from, to, port } => {
            let p = model::reach(lab, from, to, *port, Transport::Tcp);
            let word = match p.reach {
                model::Reach::Open => "open",
                model::Reach::Refused => "refused",
                model::Reach::Blocked => "blocked",
            };
            let _ = writeln!(y, "  # {}", one_line(&p.reason));
            let _ = writeln!(
                y,
                "  - tcp: {{ title: \"{}\", from: {}, to: \"{to}:{port}\", expect: {word} }}",
                title(probe),
                source_word(from)
            );
        }
    }
}

pub(super) fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

/// The name a generated check carries: how a report line is traced back
/// to its probe.
pub fn title(probe: &Probe) -> String {
    match probe {
        Probe::Cell {
            from,
            to,
            family: IpFamily::V4,
        } => format!("cell {from} {to}"),
        Probe::Cell { from, to, family } => format!("cell {from} {to} {}", family.name()),
        Probe::Dns { from, name, family } => format!("dns {from} {name} {}", family.name()),
        Probe::Port { node, host_ip } => match host_ip {
            Some(ip) => format!("port {node} at {ip}"),
            None => format!("port {node}"),
        },
        Probe::Tcp { from, to, port } => format!("tcp {from} {to}:{port}"),
    }
}
