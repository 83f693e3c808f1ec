//! Smaller labs that may still show a disagreement: the spec with one node,
//! one network or one option less. Pure; the runner tries them greedily.

use super::generate::{Attach, Probe, Spec};
use crate::lab::Source;

/// The nodes a probe names: never dropped, or the probe would be gone.
fn named(probe: &Probe) -> Vec<&str> {
    match probe {
        Probe::Cell { from, to, .. } | Probe::Tcp { from, to, .. } => {
            // `node@network`: the node.
            let to = to.split('@').next().unwrap_or(to);
            match from {
                Source::Node(n) => vec![n.as_str(), to],
                Source::Host(_) => vec![to],
            }
        }
        Probe::Dns { from, name, .. } => vec![from.as_str(), name.as_str()],
        Probe::Port { node, .. } => vec![node.as_str()],
    }
}

/// Every one-step smaller variant of `spec`, biggest cuts first.
pub fn candidates(spec: &Spec) -> Vec<Spec> {
    let Some(probe) = &spec.only else {
        return Vec::new();
    };
    let keep = named(probe);
    let mut out = Vec::new();
    for node in &spec.nodes {
        if keep.contains(&node.name.as_str()) {
            continue;
        }
        let mut s = spec.clone();
        s.nodes.retain(|n| n.name != node.name);
        out.push(s);
    }
    for net in &spec.networks {
        let mut s = spec.clone();
        s.networks.retain(|n| n.name != net.name);
        let mut lost_kept = false;
        s.nodes.retain_mut(|n| {
            if let Attach::Networks(list) = &mut n.attach {
                list.retain(|a| a.network != net.name);
                if list.is_empty() {
                    lost_kept |= keep.contains(&n.name.as_str());
                    return false;
                }
            }
            true
        });
        if !lost_kept && !s.networks.is_empty() {
            out.push(s);
        }
    }
    for (i, net) in spec.networks.iter().enumerate() {
        let mut edits: Vec<Spec> = Vec::new();
        let mut edit = |f: &dyn Fn(&mut Spec)| {
            let mut s = spec.clone();
            f(&mut s);
            if s != *spec {
                edits.push(s);
            }
        };
        if !net.icc {
            edit(&|s| s.networks[i].icc = true);
        }
        if net.internal {
            edit(&|s| s.networks[i].internal = false);
        }
        if net.ipv6 {
            edit(&|s| s.networks[i].ipv6 = false);
        }
        if net.subnet.is_some() {
            edit(&|s| s.networks[i].subnet = None);
        }
        out.extend(edits);
    }
    for (i, node) in spec.nodes.iter().enumerate() {
        if node.http {
            let mut s = spec.clone();
            s.nodes[i].http = false;
            out.push(s);
        }
        if node.publish.is_some() && !matches!(probe, Probe::Port { .. }) {
            let mut s = spec.clone();
            s.nodes[i].publish = None;
            out.push(s);
        }
        if let Attach::Networks(list) = &node.attach {
            for (j, a) in list.iter().enumerate() {
                if !a.aliases.is_empty() {
                    let mut s = spec.clone();
                    if let Attach::Networks(l) = &mut s.nodes[i].attach {
                        l[j].aliases.clear();
                    }
                    out.push(s);
                }
                if a.ipv4.is_some() {
                    let mut s = spec.clone();
                    if let Attach::Networks(l) = &mut s.nodes[i].attach {
                        l[j].ipv4 = None;
                    }
                    out.push(s);
                }
            }
        }
    }
    out
}
