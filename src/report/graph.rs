//! `netlab graph`: the topology as Mermaid (default) or Graphviz DOT text:
//! nodes, networks, which node joins which network (with its aliases and
//! static address), and the ports published on the host. Pure: from the lab
//! file alone.

use std::fmt::Write as _;

use crate::lab::{Attachment, Driver, Lab, NetworkMode, Node, PortMapping};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

/// One edge of the picture: a node joins something.
struct Edge {
    node: String,
    /// Graph id of the network (or the host).
    to: String,
    label: String,
}

fn network_id(name: &str) -> String {
    format!("net_{}", name.replace('-', "_"))
}

fn node_id(name: &str) -> String {
    format!("node_{}", name.replace('-', "_"))
}

fn attachment_label(node: &Node, network: &str) -> String {
    node.networks()
        .find(|a| a.network == network)
        .map(|a| {
            let mut parts: Vec<String> = a.aliases.clone();
            if let Some(ip) = a.ipv4 {
                parts.push(ip.to_string());
            }
            parts.join(", ")
        })
        .unwrap_or_default()
}

fn port_label(p: &PortMapping) -> String {
    let host = match (p.host_ip, p.host_ports) {
        (Some(ip), Some(h)) => format!("{ip}:{h}"),
        (Some(ip), None) => format!("{ip}:random"),
        (None, Some(h)) => h.to_string(),
        (None, None) => "random".into(),
    };
    format!("{host}→{}/{}", p.container_ports, p.transport.as_str())
}

fn edges(lab: &Lab) -> (Vec<Edge>, bool, bool) {
    let (mut uses_default_bridge, mut uses_host) = (false, false);
    let mut out = Vec::new();
    for node in lab.nodes.values() {
        match &node.attachment {
            Attachment::Networks(list) => out.extend(list.iter().map(|a| Edge {
                node: node.name.clone(),
                to: network_id(&a.network),
                label: attachment_label(node, &a.network),
            })),
            Attachment::Mode(NetworkMode::Bridge) => {
                uses_default_bridge = true;
                out.push(Edge {
                    node: node.name.clone(),
                    to: "docker0".into(),
                    label: String::new(),
                });
            }
            Attachment::Mode(NetworkMode::Host) => {
                uses_host = true;
                out.push(Edge {
                    node: node.name.clone(),
                    to: "host".into(),
                    label: "host network".into(),
                });
            }
            Attachment::Mode(NetworkMode::None) => {}
        }
        for p in &node.ports {
            uses_host = true;
            out.push(Edge {
                node: node.name.clone(),
                to: "host".into(),
                label: port_label(p),
            });
        }
    }
    (out, uses_default_bridge, uses_host)
}

fn network_caption(lab: &Lab, name: &str) -> String {
    let n = &lab.networks[name];
    let mut words = vec![match n.driver {
        Driver::Bridge => "bridge".to_owned(),
        Driver::Overlay { .. } => "overlay".to_owned(),
    }];
    if n.internal {
        words.push("internal".into());
    }
    if !n.icc {
        words.push("icc off".into());
    }
    if let Some(s) = n.subnet {
        words.push(s.to_string());
    }
    format!("{name} · {}", words.join(", "))
}

pub fn render(lab: &Lab, format: GraphFormat) -> String {
    let (edges, default_bridge, host) = edges(lab);
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            let _ = writeln!(out, "flowchart LR");
            for n in lab.networks.keys() {
                let _ = writeln!(
                    out,
                    "  {}{{{{\"{}\"}}}}",
                    network_id(n),
                    network_caption(lab, n)
                );
            }
            if default_bridge {
                let _ = writeln!(out, "  docker0{{{{\"default bridge · no DNS\"}}}}");
            }
            if host {
                let _ = writeln!(out, "  host((\"host\"))");
            }
            for node in lab.nodes.values() {
                let what = node.image.clone().unwrap_or_else(|| {
                    node.serve
                        .iter()
                        .map(|l| l.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                });
                let caption = if what.is_empty() {
                    node.name.clone()
                } else {
                    format!("{}<br/>{what}", node.name)
                };
                let _ = writeln!(out, "  {}[\"{caption}\"]", node_id(&node.name));
            }
            for e in &edges {
                if e.label.is_empty() {
                    let _ = writeln!(out, "  {} --- {}", node_id(&e.node), e.to);
                } else {
                    let _ = writeln!(out, "  {} ---|\"{}\"| {}", node_id(&e.node), e.label, e.to);
                }
            }
        }
        GraphFormat::Dot => {
            let _ = writeln!(
                out,
                "graph \"{}\" {{\n  rankdir=LR;\n  node [shape=box];",
                lab.name
            );
            for n in lab.networks.keys() {
                let _ = writeln!(
                    out,
                    "  {} [shape=hexagon, label=\"{}\"];",
                    network_id(n),
                    network_caption(lab, n)
                );
            }
            if default_bridge {
                let _ = writeln!(
                    out,
                    "  docker0 [shape=hexagon, label=\"default bridge · no DNS\"];"
                );
            }
            if host {
                let _ = writeln!(out, "  host [shape=ellipse, label=\"host\"];");
            }
            for node in lab.nodes.values() {
                let _ = writeln!(out, "  {} [label=\"{}\"];", node_id(&node.name), node.name);
            }
            for e in &edges {
                let _ = writeln!(
                    out,
                    "  {} -- {} [label=\"{}\"];",
                    node_id(&e.node),
                    e.to,
                    e.label
                );
            }
            let _ = writeln!(out, "}}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab() -> Lab {
        crate::lab::load_source(
            "g.yaml",
            b"networks:\n  front: { subnet: 10.40.0.0/24 }\n  back: { internal: true }\nnodes:\n  web:\n    networks:\n      front: { aliases: [www], ipv4: 10.40.0.5 }\n      back: {}\n    serve: [tcp:80]\n    ports: [\"127.0.0.1:8080:80\"]\n  legacy:\n    network_mode: bridge\n",
            Some("g"),
        )
        .expect("valid")
        .lab
    }

    #[test]
    fn mermaid_shows_networks_nodes_aliases_and_ports() {
        let text = render(&lab(), GraphFormat::Mermaid);
        assert!(text.starts_with("flowchart LR\n"), "{text}");
        assert!(
            text.contains("  net_front{{\"front · bridge, 10.40.0.0/24\"}}"),
            "{text}"
        );
        assert!(
            text.contains("  net_back{{\"back · bridge, internal\"}}"),
            "{text}"
        );
        assert!(
            text.contains("  node_web ---|\"www, 10.40.0.5\"| net_front"),
            "{text}"
        );
        assert!(text.contains("  node_web --- net_back"), "{text}");
        assert!(
            text.contains("  node_web ---|\"127.0.0.1:8080→80/tcp\"| host"),
            "{text}"
        );
        assert!(text.contains("  node_legacy --- docker0"), "{text}");
    }

    #[test]
    fn dot_is_an_undirected_graph_with_the_same_edges() {
        let text = render(&lab(), GraphFormat::Dot);
        assert!(text.starts_with("graph \"g\" {"), "{text}");
        assert!(
            text.contains("  node_web -- net_front [label=\"www, 10.40.0.5\"];"),
            "{text}"
        );
        assert!(
            text.contains("  node_web -- host [label=\"127.0.0.1:8080→80/tcp\"];"),
            "{text}"
        );
        assert!(text.trim_end().ends_with('}'));
    }
}
