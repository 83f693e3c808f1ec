//! Where a check's probe goes, in the lab's words: from which node or host,
//! to which node, over which network. Pure, from the `LiveLab` (the same
//! address rule as the probe itself, `target::resolve`). The report carries
//! it as structured from/to fields, so the page and JUnit need not parse
//! titles; the page colours what a check touches; `why` names the
//! mechanism on that path.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::target;
use crate::lab::{
    CheckKind, IpFamily, Matrix, MatrixCell, Node, Source, Target, TargetHost, Transport,
};
use crate::live::{LiveLab, PublishedPort};

/// One end of a check: a node or a Docker host, and what of it was aimed at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The logical Docker host it is on (or, for a probe from a host, is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The lab network of the address aimed at (`bridge`: Docker's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The DNS name (or TLS server name) asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What a check is about: its two ends, and every node and network it
/// touches (in the lab's declaration order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub from: Endpoint,
    pub to: Option<Endpoint>,
    pub nodes: Vec<String>,
    pub networks: Vec<String>,
}

/// Where one probe to an address went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The address probed; `None` when no address could be chosen.
    pub addr: Option<SocketAddr>,
    /// The node aimed at: the holder of the address, a host-mode node, or
    /// the node whose published port the address is.
    pub node: Option<String>,
    /// The lab network the address is on.
    pub network: Option<String>,
    /// The binding, when a probe from a host aims at a published port.
    pub published: Option<PublishedPort>,
}

pub(crate) fn route(live: &LiveLab, from: &Source, to: &Target, transport: Transport) -> Route {
    // An alias leads where Docker's DNS answers it: to its first carrier.
    if let TargetHost::Name(name) = &to.host
        && let Some(node) = super::identity::alias_carriers(live, from, name)
            .into_iter()
            .next()
    {
        let to = Target {
            host: TargetHost::Node {
                node,
                network: None,
            },
            port: to.port,
        };
        return route(live, from, &to, transport);
    }
    // The family a probe without `family:` speaks: IPv4 where the target
    // has it, else IPv6.
    let addr = target::resolve(live, from, to, IpFamily::V4)
        .or_else(|_| target::resolve(live, from, to, IpFamily::V6))
        .ok();
    let named = match &to.host {
        TargetHost::Node { node, .. } => Some(node.clone()),
        TargetHost::Name(_) | TargetHost::Ip(_) => None,
    };
    let here = live.lab.host_of(from);
    let owner = addr.and_then(|a| {
        // The named node's own address first: bridge subnets repeat from
        // one engine to the next, so another node may hold the same one.
        let own = named
            .as_deref()
            .and_then(|n| network_of(live.nodes.get(n)?, a.ip()).map(|net| (n.to_owned(), net)));
        own.or_else(|| owner_of(live, a.ip(), here))
    });
    let published = match (from, addr, &owner) {
        (Source::Host(_), Some(a), None) => {
            published_at(live, live.lab.host_of(from), a, transport)
        }
        _ => None,
    };
    Route {
        addr,
        node: named
            .or_else(|| owner.as_ref().map(|(n, _)| n.clone()))
            .or_else(|| published.as_ref().map(|(n, _)| n.clone())),
        network: owner.map(|(_, net)| net),
        published: published.map(|(_, p)| p),
    }
}

/// The node and network that hold an address, seen from `host`: a node on
/// that host (any network), else one on another host by an overlay address
/// (a bridge address of another engine means nothing here: engines pick
/// their bridge subnets each for itself). Declaration order breaks ties.
pub(crate) fn owner_of(live: &LiveLab, ip: IpAddr, host: &str) -> Option<(String, String)> {
    let holder = |same_host: bool| {
        live.lab.nodes.keys().find_map(|name| {
            let node = live.nodes.get(name)?;
            if (node.host == host) != same_host {
                return None;
            }
            network_of(node, ip)
                .filter(|net| same_host || is_overlay(live, net))
                .map(|net| (name.clone(), net))
        })
    };
    holder(true).or_else(|| holder(false))
}

/// The lab network on which a node holds `ip`, in either family.
fn network_of(node: &crate::live::LiveNode, ip: IpAddr) -> Option<String> {
    node.addresses
        .iter()
        .find(|(_, a)| IpAddr::V4(**a) == ip)
        .map(|(net, _)| net.clone())
        .or_else(|| {
            node.addresses6
                .iter()
                .find(|(_, a)| IpAddr::V6(**a) == ip)
                .map(|(net, _)| net.clone())
        })
}

fn is_overlay(live: &LiveLab, network: &str) -> bool {
    live.lab
        .networks
        .get(network)
        .is_some_and(|n| matches!(n.driver, crate::lab::Driver::Overlay { .. }))
}

/// The node whose published port `addr` is, on `host`.
fn published_at(
    live: &LiveLab,
    host: &str,
    addr: SocketAddr,
    transport: Transport,
) -> Option<(String, PublishedPort)> {
    let host_side = addr.ip().is_loopback() || addr.ip().is_unspecified();
    live.lab.nodes.keys().find_map(|name| {
        let node = live.nodes.get(name).filter(|n| n.host == host)?;
        node.ports
            .iter()
            .find(|p| {
                p.host_port == addr.port()
                    && p.transport == transport
                    && (p.host_ip == addr.ip() || p.host_ip.is_unspecified() || !host_side)
            })
            .map(|p| (name.clone(), p.clone()))
    })
}

/// Nodes that answer to a DNS name: the node of that name and every node
/// with it as an alias, in declaration order.
pub(crate) fn carriers<'a>(live: &'a LiveLab, name: &str) -> Vec<&'a Node> {
    live.lab
        .nodes
        .values()
        .filter(|n| n.name == name || n.networks().any(|a| a.aliases.iter().any(|al| al == name)))
        .collect()
}

/// The networks a node joins, `bridge` for Docker's default one.
pub(crate) fn networks_of(node: &Node) -> Vec<String> {
    crate::model::networks_of(node)
}

fn source_endpoint(live: &LiveLab, source: &Source) -> Endpoint {
    Endpoint {
        node: match source {
            Source::Node(n) => Some(n.clone()),
            Source::Host(_) => None,
        },
        host: Some(live.lab.host_of(source).to_owned()),
        ..Endpoint::default()
    }
}

fn node_host(live: &LiveLab, node: &str) -> Option<String> {
    live.lab.nodes.get(node).map(|n| n.host.clone())
}

/// Collects touched nodes and networks, each once, then orders them as
/// the lab declares them.
#[derive(Default)]
struct Touched {
    nodes: Vec<String>,
    networks: Vec<String>,
}

impl Touched {
    fn node(&mut self, n: Option<&str>) {
        if let Some(n) = n
            && !self.nodes.iter().any(|x| x == n)
        {
            self.nodes.push(n.to_owned());
        }
    }

    fn network(&mut self, n: Option<&str>) {
        if let Some(n) = n
            && !self.networks.iter().any(|x| x == n)
        {
            self.networks.push(n.to_owned());
        }
    }

    /// The route's network, and the one the packet left by when the
    /// source is not on it.
    fn route(&mut self, live: &LiveLab, from: &Source, r: &Route) {
        if let Source::Node(f) = from {
            self.node(Some(f));
        }
        self.node(r.node.as_deref());
        self.network(r.network.as_deref());
        let from_nets = match from {
            // Where the source is now (a step may have moved it).
            Source::Node(f) => live.nodes_now().get(f).map(networks_of).unwrap_or_default(),
            Source::Host(_) => Vec::new(),
        };
        if r.network.as_ref().is_none_or(|n| !from_nets.contains(n)) {
            self.network(from_nets.first().map(String::as_str));
        }
    }

    fn finish(mut self, live: &LiveLab) -> (Vec<String>, Vec<String>) {
        let order = |list: &mut Vec<String>, names: Vec<&String>| {
            list.sort_by_key(|x| names.iter().position(|n| *n == x).unwrap_or(usize::MAX));
        };
        order(&mut self.nodes, live.lab.nodes.keys().collect());
        let mut nets: Vec<&String> = live.lab.networks.keys().collect();
        let bridge = "bridge".to_owned();
        nets.push(&bridge);
        order(&mut self.networks, nets);
        (self.nodes, self.networks)
    }
}

fn to_endpoint(live: &LiveLab, r: &Route, name: Option<&str>) -> Endpoint {
    Endpoint {
        node: r.node.clone(),
        host: r.node.as_deref().and_then(|n| node_host(live, n)),
        network: r.network.clone(),
        address: r.addr.map(|a| a.ip().to_string()),
        port: r.addr.map(|a| a.port()),
        name: name.map(str::to_owned),
    }
}

/// A name looked up from a node: the node, the carriers of the name, and
/// the networks of the node on which a carrier is (all of its networks when
/// none is).
fn by_name(live: &LiveLab, from: &str, name: &str, port: Option<u16>) -> Scope {
    let mut touched = Touched::default();
    touched.node(Some(from));
    let carriers = carriers(live, name);
    for c in &carriers {
        touched.node(Some(&c.name));
    }
    let own = live
        .nodes_now()
        .get(from)
        .map(networks_of)
        .unwrap_or_default();
    let shared: Vec<&String> = own
        .iter()
        .filter(|net| carriers.iter().any(|c| c.is_on(net)))
        .collect();
    for net in if shared.is_empty() {
        own.iter().collect()
    } else {
        shared
    } {
        touched.network(Some(net));
    }
    let single = match carriers.as_slice() {
        [one] => Some(one.name.clone()),
        _ => None,
    };
    let (nodes, networks) = touched.finish(live);
    Scope {
        from: source_endpoint(live, &Source::Node(from.to_owned())),
        to: Some(Endpoint {
            host: single.as_deref().and_then(|n| node_host(live, n)),
            node: single,
            port,
            name: Some(name.to_owned()),
            ..Endpoint::default()
        }),
        nodes,
        networks,
    }
}

/// The target of an http check's URL: a node (by name or alias) or an
/// address, and the port.
fn url_target(live: &LiveLab, url: &str) -> Option<Target> {
    let u = url::Url::parse(url).ok()?;
    let port = u.port_or_known_default()?;
    let host = match u.host()? {
        url::Host::Domain(d) => {
            let c = carriers(live, d);
            TargetHost::Node {
                node: c.first()?.name.clone(),
                network: None,
            }
        }
        url::Host::Ipv4(ip) => TargetHost::Ip(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => TargetHost::Ip(IpAddr::V6(ip)),
    };
    Some(Target { host, port })
}

/// The route of an http check's first request.
pub(crate) fn url_route(live: &LiveLab, from: &Source, url: &str) -> Option<Route> {
    url_target(live, url).map(|t| route(live, from, &t, Transport::Tcp))
}

/// From where to where, through which route.
fn by_route(live: &LiveLab, from: &Source, r: &Route, name: Option<&str>) -> Scope {
    let mut touched = Touched::default();
    touched.route(live, from, r);
    let (nodes, networks) = touched.finish(live);
    Scope {
        from: source_endpoint(live, from),
        to: Some(to_endpoint(live, r, name)),
        nodes,
        networks,
    }
}

/// The route of one matrix cell.
pub(crate) fn cell_route(live: &LiveLab, m: &Matrix, cell: &MatrixCell) -> Route {
    let to = Target {
        host: TargetHost::Node {
            node: cell.to.clone(),
            network: None,
        },
        port: m.port,
    };
    route(live, &cell.from, &to, m.transport)
}

pub fn scope(kind: &CheckKind, live: &LiveLab) -> Scope {
    match kind {
        CheckKind::Dns { from, name, .. } => by_name(live, from, name, None),
        CheckKind::Spread {
            from, name, port, ..
        } => by_name(live, from, name, Some(*port)),
        CheckKind::Tcp { from, to, .. } => {
            by_route(live, from, &route(live, from, to, Transport::Tcp), None)
        }
        CheckKind::Udp { from, to, .. } => {
            by_route(live, from, &route(live, from, to, Transport::Udp), None)
        }
        CheckKind::Tls { from, to, name, .. } => by_route(
            live,
            from,
            &route(live, from, to, Transport::Tcp),
            Some(name),
        ),
        CheckKind::Http { from, url, .. } => match url_route(live, from, url) {
            Some(r) => by_route(live, from, &r, None),
            None => Scope {
                from: source_endpoint(live, from),
                nodes: match from {
                    Source::Node(n) => vec![n.clone()],
                    Source::Host(_) => Vec::new(),
                },
                ..Scope::default()
            },
        },
        CheckKind::Egress { node, .. } => {
            let mut touched = Touched::default();
            touched.node(Some(node));
            if let Some(n) = live.lab.nodes.get(node) {
                for a in n.networks() {
                    touched.network(Some(&a.network));
                }
            }
            let (nodes, networks) = touched.finish(live);
            Scope {
                from: source_endpoint(live, &Source::Node(node.clone())),
                to: None,
                nodes,
                networks,
            }
        }
        CheckKind::Mtu {
            node, network, to, ..
        } => link_scope(live, node, network, to.as_deref()),
        CheckKind::Link {
            node, network, to, ..
        } => link_scope(live, node, network, Some(to)),
        CheckKind::Port {
            node, host, port, ..
        } => {
            let binding = target::port_binding(live, kind);
            Scope {
                from: source_endpoint(live, &Source::Host(host.clone())),
                to: Some(Endpoint {
                    node: Some(node.clone()),
                    host: node_host(live, node),
                    address: binding.as_ref().map(|b| b.host_ip.to_string()),
                    port: Some(binding.as_ref().map(|b| b.host_port).unwrap_or(*port)),
                    ..Endpoint::default()
                }),
                nodes: vec![node.clone()],
                networks: Vec::new(),
            }
        }
        // An ICMP echo series goes where a connection to the node would.
        CheckKind::Latency { echo, .. } | CheckKind::Loss { echo, .. } => {
            let to = Target {
                host: TargetHost::Node {
                    node: echo.to.clone(),
                    network: echo.network.clone(),
                },
                port: 0,
            };
            let r = route(live, &echo.from, &to, Transport::Tcp);
            let mut s = by_route(live, &echo.from, &r, None);
            if let Some(to) = &mut s.to {
                to.port = None;
            }
            s
        }
        CheckKind::Matrix(m) => {
            let mut touched = Touched::default();
            for cell in &m.cells {
                touched.route(live, &cell.from, &cell_route(live, m, cell));
            }
            let (nodes, networks) = touched.finish(live);
            Scope {
                from: source_endpoint(live, &kind.source()),
                to: None,
                nodes,
                networks,
            }
        }
    }
}

/// The scope of a check on one network between a node and, maybe, a peer
/// there (`mtu`, `link`).
fn link_scope(live: &LiveLab, node: &str, network: &str, to: Option<&str>) -> Scope {
    let mut touched = Touched::default();
    touched.node(Some(node));
    touched.node(to);
    touched.network(Some(network));
    let (nodes, networks) = touched.finish(live);
    let address = |n: &str| {
        live.nodes
            .get(n)
            .and_then(|l| l.addresses.get(network))
            .map(|ip| ip.to_string())
    };
    Scope {
        from: Endpoint {
            network: Some(network.to_owned()),
            address: address(node),
            ..source_endpoint(live, &Source::Node(node.to_owned()))
        },
        to: to.map(|t| Endpoint {
            node: Some(t.to_owned()),
            host: node_host(live, t),
            network: Some(network.to_owned()),
            address: address(t),
            ..Endpoint::default()
        }),
        nodes,
        networks,
    }
}
