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
            if let Some(ip) = a.ipv6 {
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

/// The vertex of a node's Docker host (`host`, or `host_east` on several)
/// and of that host's default bridge.
fn host_vertex(lab: &Lab, node: &Node) -> String {
    if lab.is_multi_host() {
        format!("host_{}", node.host.replace('-', "_"))
    } else {
        "host".into()
    }
}

fn docker0_vertex(lab: &Lab, node: &Node) -> String {
    if lab.is_multi_host() {
        format!("docker0_{}", node.host.replace('-', "_"))
    } else {
        "docker0".into()
    }
}

/// The host a bridge network lives on: the host of its nodes (validation
/// keeps it to one), or none for an overlay.
fn network_host<'a>(lab: &'a Lab, network: &str) -> Option<&'a str> {
    match lab.networks.get(network)?.driver {
        Driver::Overlay { .. } => None,
        Driver::Bridge | Driver::Macvlan | Driver::Ipvlan { .. } => {
            Some(lab.host_of_network(network))
        }
    }
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
                    to: docker0_vertex(lab, node),
                    label: String::new(),
                });
            }
            Attachment::Mode(NetworkMode::Host) => {
                uses_host = true;
                out.push(Edge {
                    node: node.name.clone(),
                    to: host_vertex(lab, node),
                    label: "host network".into(),
                });
            }
            Attachment::Mode(NetworkMode::None) => {}
            Attachment::Shared(owner) => out.push(Edge {
                node: node.name.clone(),
                to: node_id(owner),
                label: "shares its network namespace".into(),
            }),
        }
        for p in &node.ports {
            uses_host = true;
            out.push(Edge {
                node: node.name.clone(),
                to: host_vertex(lab, node),
                label: port_label(p),
            });
        }
    }
    (out, uses_default_bridge, uses_host)
}

fn network_caption(lab: &Lab, name: &str) -> String {
    let n = &lab.networks[name];
    let mut words = vec![match n.driver {
        Driver::Ipvlan { l3 } => format!("ipvlan {}", if l3 { "l3" } else { "l2" }),
        other => other.docker_name().to_owned(),
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
    match (n.ipv4, n.ipv6) {
        (false, _) => words.push("IPv6 only".into()),
        (true, true) => words.push("IPv6".into()),
        (true, false) => {}
    }
    if let Some(s) = n.subnet6 {
        words.push(s.to_string());
    }
    format!("{name} · {}", words.join(", "))
}

/// The vertices of one Docker host (all of them, on a lab of one host):
/// its bridge networks, its default bridge and itself when used, its nodes.
fn vertices(
    lab: &Lab,
    host: Option<&str>,
    default_bridge: bool,
    uses_host: bool,
    dot: bool,
) -> Vec<String> {
    let mine = |h: &str| host.is_none_or(|x| x == h);
    let mut out = Vec::new();
    for n in lab.networks.keys() {
        let on = network_host(lab, n);
        if (host.is_none() || on.is_some_and(mine)) && !(host.is_some() && on.is_none()) {
            out.push(if dot {
                format!(
                    "{} [shape=hexagon, label=\"{}\"];",
                    network_id(n),
                    network_caption(lab, n)
                )
            } else {
                format!("{}{{{{\"{}\"}}}}", network_id(n), network_caption(lab, n))
            });
        }
    }
    let nodes: Vec<&Node> = lab.nodes.values().filter(|n| mine(&n.host)).collect();
    let any_node = nodes.first().copied();
    if let Some(first) = any_node {
        let (docker0, host_v) = (docker0_vertex(lab, first), host_vertex(lab, first));
        let here = |f: &dyn Fn(&Node) -> bool| nodes.iter().any(|n| f(n));
        if default_bridge && here(&|n| n.attachment == Attachment::Mode(NetworkMode::Bridge)) {
            out.push(if dot {
                format!("{docker0} [shape=hexagon, label=\"default bridge · no DNS\"];")
            } else {
                format!("{docker0}{{{{\"default bridge · no DNS\"}}}}")
            });
        }
        if uses_host
            && here(&|n| !n.ports.is_empty() || n.attachment == Attachment::Mode(NetworkMode::Host))
        {
            let caption = match host {
                Some(h) => format!("host {h}"),
                None => "host".into(),
            };
            out.push(if dot {
                format!("{host_v} [shape=ellipse, label=\"{caption}\"];")
            } else {
                format!("{host_v}((\"{caption}\"))")
            });
        }
    }
    for node in nodes {
        if dot {
            out.push(format!(
                "{} [label=\"{}\"];",
                node_id(&node.name),
                node.name
            ));
            continue;
        }
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
        out.push(format!("{}[\"{caption}\"]", node_id(&node.name)));
    }
    out
}

/// Every vertex, grouped per Docker host on a lab of several (overlays,
/// which span hosts, stand outside the groups).
fn all_vertices(lab: &Lab, default_bridge: bool, host: bool, dot: bool, out: &mut String) {
    if !lab.is_multi_host() {
        for v in vertices(lab, None, default_bridge, host, dot) {
            let _ = writeln!(out, "  {v}");
        }
        return;
    }
    for n in lab
        .networks
        .keys()
        .filter(|n| network_host(lab, n).is_none())
    {
        let _ = if dot {
            writeln!(
                out,
                "  {} [shape=hexagon, label=\"{}\"];",
                network_id(n),
                network_caption(lab, n)
            )
        } else {
            writeln!(
                out,
                "  {}{{{{\"{}\"}}}}",
                network_id(n),
                network_caption(lab, n)
            )
        };
    }
    for h in &lab.hosts {
        let id = format!("cluster_{}", h.replace('-', "_"));
        let _ = if dot {
            writeln!(out, "  subgraph {id} {{\n    label=\"host {h}\";")
        } else {
            writeln!(out, "  subgraph {id} [\"host {h}\"]")
        };
        for v in vertices(lab, Some(h), default_bridge, host, dot) {
            let _ = writeln!(out, "    {v}");
        }
        let _ = writeln!(out, "  {}", if dot { "}" } else { "end" });
    }
}

pub fn render(lab: &Lab, format: GraphFormat) -> String {
    let (edges, default_bridge, host) = edges(lab);
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            let _ = writeln!(out, "flowchart LR");
            all_vertices(lab, default_bridge, host, false, &mut out);
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
            all_vertices(lab, default_bridge, host, true, &mut out);
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
    fn several_hosts_are_groups_with_their_own_bridges_and_the_overlay_between() {
        let lab = crate::lab::load_source(
            "m.yaml",
            b"hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\n  lan: {}\nnodes:\n  web: { host: east, networks: [ov, lan], ports: [\"8080:80\"] }\n  db: { host: west, networks: [ov] }\n",
            Some("m"),
        )
        .expect("valid")
        .lab;
        let text = render(&lab, GraphFormat::Mermaid);
        let east = text
            .find("subgraph cluster_east [\"host east\"]")
            .expect("east group");
        let west = text
            .find("subgraph cluster_west [\"host west\"]")
            .expect("west group");
        let ov = text.find("net_ov{{").expect("overlay");
        let lan = text.find("net_lan{{").expect("bridge");
        assert!(ov < east, "the overlay spans hosts: {text}");
        assert!(east < lan && lan < west, "the bridge lives on east: {text}");
        assert!(text.contains("host_east((\"host east\"))"), "{text}");
        assert!(
            text.contains("node_web ---|\"8080→80/tcp\"| host_east"),
            "{text}"
        );
        let dot = render(&lab, GraphFormat::Dot);
        assert!(
            dot.contains("subgraph cluster_west {\n    label=\"host west\";"),
            "{dot}"
        );
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
