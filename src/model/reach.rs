//! Who reaches whom on a port, and why: the verdict Docker's rules give a
//! probe from a node (or a Docker host) to a node's address, aimed by the
//! same rule as the probe (`lab::reach::aim`).

use std::net::IpAddr;

use super::{EngineSide, NetFacts, facts, mode, networks_of};
use crate::lab::reach::{Aim, aim, aimed_network};
use crate::lab::{IpFamily, Lab, NetworkMode, Node, PortExpect, Source, Transport};

/// A probe's fate, as a matrix cell names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The target node answered.
    Open,
    /// The packet arrived and nothing listens: a reset.
    Refused,
    /// Dropped or unroutable: no answer.
    Blocked,
}

impl Reach {
    /// The matrix symbol.
    pub fn symbol(self) -> char {
        match self {
            Reach::Open => '.',
            Reach::Refused => 'r',
            Reach::Blocked => 'x',
        }
    }
}

/// A predicted verdict with the mechanism that decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachPrediction {
    pub reach: Reach,
    /// The network whose address of the target the probe aims at (`None`:
    /// a host-mode target, or no path at all).
    pub network: Option<String>,
    pub reason: String,
}

fn predicted(reach: Reach, network: Option<&str>, reason: String) -> ReachPrediction {
    ReachPrediction {
        reach,
        network: network.map(str::to_owned),
        reason,
    }
}

/// Whether an agent node listens on `port` over `transport`.
pub fn listens(node: &Node, port: u16, transport: Transport) -> bool {
    node.is_agent()
        && node
            .serve
            .iter()
            .any(|l| l.port == port && l.proto.is_udp() == (transport == Transport::Udp))
}

/// Whether an agent node, or an agent sidecar in its namespace
/// (`network_mode: "container:NODE"`), listens on `port` over `transport`:
/// a packet that arrives at the namespace finds either.
fn namespace_listens(lab: &Lab, node: &Node, port: u16, transport: Transport) -> bool {
    listens(node, port, transport)
        || lab
            .sidecars_of(&node.name)
            .filter_map(|s| lab.nodes.get(s))
            .any(|s| listens(s, port, transport))
}

/// Open when the target listens, else refused, for a packet that arrived.
fn arrived(
    lab: &Lab,
    target: &Node,
    port: u16,
    transport: Transport,
    network: Option<&str>,
    how: String,
) -> ReachPrediction {
    if namespace_listens(lab, target, port, transport) {
        predicted(Reach::Open, network, how)
    } else {
        predicted(
            Reach::Refused,
            network,
            format!(
                "{how}; nothing listens on {port}/{} in `{}`",
                transport.as_str(),
                target.name
            ),
        )
    }
}

/// What a probe from `from` to `to:port` finds (family: IPv4, the family a
/// probe without `family:` speaks where the target has it).
pub fn reach(
    lab: &Lab,
    from: &Source,
    to: &str,
    port: u16,
    transport: Transport,
) -> ReachPrediction {
    reach_family(
        lab,
        from,
        to,
        port,
        transport,
        IpFamily::V4,
        EngineSide::NEW,
    )
}

/// The engine's side of IPv6 (`side`): whether it sets ip6tables rules
/// (Docker's default from 27 on). Without them Docker 20.10 enforces none
/// of its IPv6 rules: a packet the host routes is delivered, between
/// bridges, on an icc-off bridge and into or out of an internal network
/// alike (seen with `netlab fuzz` on Docker 20.10.24). From 26.1 a
/// container whose IPv6 networks are all internal has no IPv6 default
/// route, so without ip6tables a packet still crosses between networks
/// only where both ends have one.
///
/// `to` is a node, or `node@network` as a check writes it: that node's
/// address on that network.
pub fn reach_family(
    lab: &Lab,
    from: &Source,
    to: &str,
    port: u16,
    transport: Transport,
    family: IpFamily,
    side: EngineSide,
) -> ReachPrediction {
    let (to, via) = match to.split_once('@') {
        Some((node, net)) => (node, Some(net)),
        None => (to, None),
    };
    // A sidecar is reached, and probes, in its owner's namespace.
    let to = lab.namespace_of(to);
    let owner;
    let from = match from {
        Source::Node(n) => {
            owner = Source::Node(lab.namespace_of(n).to_owned());
            &owner
        }
        Source::Host(_) => from,
    };
    if family == IpFamily::V6
        && let Some(p) = reach_v6(lab, from, to, via, port, transport, side)
    {
        return p;
    }
    let Some(target) = lab.nodes.get(to) else {
        return predicted(Reach::Blocked, None, format!("no node `{to}`"));
    };
    let source = match from {
        Source::Node(n) => lab.nodes.get(n),
        Source::Host(_) => None,
    };
    let source_mode = source.and_then(mode);
    if source_mode == Some(NetworkMode::None) {
        return predicted(
            Reach::Blocked,
            None,
            "network mode none: the source has only loopback, no route anywhere".into(),
        );
    }
    // A probe from a host-mode node runs in its host's own stack.
    let from_host_stack = source.is_none() || source_mode == Some(NetworkMode::Host);
    let aimed = match aim(lab.topology(), from, to, via) {
        Ok(a) => a,
        Err(off) => return predicted(Reach::Blocked, None, off.message),
    };
    let network = match aimed {
        Aim::HostMode => {
            let how = if from_host_stack {
                format!("`{to}` runs in host mode: the host's own stack, reached on loopback")
            } else {
                format!(
                    "`{to}` runs in host mode: the host's own stack, reached at the gateway of the source's network"
                )
            };
            return arrived(lab, target, port, transport, None, how);
        }
        // The first network where the target has an address of the family
        // (Docker's default bridge: IPv4 only).
        Aim::Networks(list) => match list.into_iter().find(|n| {
            lab.networks
                .get(n)
                .map_or(family == IpFamily::V4, |net| net.has(family))
        }) {
            Some(n) => n,
            None => return predicted(Reach::Blocked, None, format!("`{to}` has no address")),
        },
    };
    let net = facts(lab, &network);
    if from_host_stack {
        if let Some(driver) = net.vlan {
            return predicted(
                Reach::Blocked,
                Some(&network),
                vlan_from_host(driver, &network),
            );
        }
        if net.overlay {
            return predicted(
                Reach::Blocked,
                Some(&network),
                format!("the overlay `{network}` is routed by no host"),
            );
        }
        return arrived(
            lab,
            target,
            port,
            transport,
            Some(&network),
            format!(
                "the Docker host routes to every bridge it holds, internal ones included: `{to}` on `{network}` directly"
            ),
        );
    }
    let Some(source) = source else {
        return predicted(Reach::Blocked, None, "no source".into());
    };
    if source.name == to {
        return arrived(
            lab,
            target,
            port,
            transport,
            Some(&network),
            format!("`{to}` aims at its own address: the packet never leaves the node"),
        );
    }
    let source_nets = networks_of(source);
    if let (Some(a), Some(b)) = (static_v4(source, &network), static_v4(target, &network))
        && let Some(why) = l3_apart(lab, &network, a, b)
    {
        return predicted(Reach::Blocked, Some(&network), why);
    }
    if source_nets.contains(&network) {
        return shared(lab, target, &network, net, port, transport);
    }
    apart(lab, source, &source_nets, to, &network, net)
}

/// The IPv6 cases that differ from IPv4: a source without an IPv6 route,
/// and an engine without ip6tables rules. `None`: as IPv4.
#[allow(clippy::too_many_arguments)]
fn reach_v6(
    lab: &Lab,
    from: &Source,
    to: &str,
    via: Option<&str>,
    port: u16,
    transport: Transport,
    side: EngineSide,
) -> Option<ReachPrediction> {
    let target = lab.nodes.get(to)?;
    let source = match from {
        Source::Node(n) => Some(lab.nodes.get(n)?),
        Source::Host(_) => None,
    };
    let network = aimed_network(lab.topology(), from, to, via, IpFamily::V6).unwrap_or_default();
    let in_container = source.is_some_and(|s| {
        !matches!(mode(s), Some(NetworkMode::Host | NetworkMode::None)) && s.name != to
    });
    if in_container {
        let source = source?;
        let v6 = networks_of(source)
            .iter()
            .any(|n| lab.networks.get(n).is_some_and(|n| n.ipv6));
        if !v6 {
            return Some(predicted(
                Reach::Blocked,
                network.as_deref(),
                format!("`{}` has no IPv6 address, so no IPv6 route", source.name),
            ));
        }
        if !side.ip6tables {
            let on_link = network
                .as_deref()
                .is_some_and(|n| networks_of(source).iter().any(|s| s == n));
            if !on_link && !side.internal_v6_default_route() {
                for end in [source, target] {
                    if !has_v6_default_route(lab, end) {
                        return Some(predicted(
                            Reach::Blocked,
                            network.as_deref(),
                            format!(
                                "`{}`'s IPv6 networks are all internal: Docker 26 and later give it no IPv6 default route, so the packet {} (no ip6tables rules needed)",
                                end.name,
                                if std::ptr::eq(end, source) {
                                    "has no way out"
                                } else {
                                    "gets no reply back"
                                }
                            ),
                        ));
                    }
                }
            }
            return Some(arrived(
                lab,
                target,
                port,
                transport,
                network.as_deref(),
                "an engine without ip6tables rules enforces none of Docker's IPv6 isolation (between bridges, icc, internal): the host routes the packet".into(),
            ));
        }
    }
    None
}

/// Whether a node in a container of its own has an IPv6 default route: a
/// non-internal network with IPv6 (host mode: the host's own).
fn has_v6_default_route(lab: &Lab, node: &Node) -> bool {
    match mode(node) {
        Some(NetworkMode::Host) => true,
        Some(_) => false,
        None => networks_of(node)
            .iter()
            .any(|n| lab.networks.get(n).is_some_and(|n| n.ipv6 && !n.internal)),
    }
}

/// Source and target on one network.
fn shared(
    lab: &Lab,
    target: &Node,
    network: &str,
    net: NetFacts,
    port: u16,
    transport: Transport,
) -> ReachPrediction {
    let what = describe(network, net);
    if !net.icc {
        return predicted(
            Reach::Blocked,
            Some(network),
            format!(
                "both on {what}, where icc is off: Docker drops traffic between its containers"
            ),
        );
    }
    let how = if net.default_bridge {
        format!("both on {what}, which forwards between its containers (by address: it has no DNS)")
    } else if net.internal {
        format!("both on {what}: internal cuts the way out, not the traffic within it")
    } else {
        format!("both on {what}, which forwards between its containers")
    };
    arrived(lab, target, port, transport, Some(network), how)
}

/// Source and target share no network: the target's address is on a
/// bridge of the source's host.
fn apart(
    lab: &Lab,
    source: &Node,
    source_nets: &[String],
    to: &str,
    network: &str,
    net: NetFacts,
) -> ReachPrediction {
    let a = &source.name;
    let all_internal =
        !source_nets.is_empty() && source_nets.iter().all(|n| facts(lab, n).internal);
    let reason = if net.internal {
        format!(
            "`{to}` is reached on {}, which `{a}` does not join: Docker drops traffic between an internal network and any other",
            describe(network, net)
        )
    } else if all_internal {
        format!("`{a}` is only on internal networks, which have no route out")
    } else {
        format!(
            "`{a}` and `{to}` share no network: `{to}`'s address is on {}, and Docker's isolation rules drop traffic between bridges",
            describe(network, net)
        )
    };
    predicted(Reach::Blocked, Some(network), reason)
}

fn describe(network: &str, net: NetFacts) -> String {
    if net.default_bridge {
        "Docker's default bridge".into()
    } else if net.overlay {
        format!("the overlay `{network}`")
    } else if net.internal {
        format!("the internal network `{network}`")
    } else {
        format!("the user-defined bridge `{network}`")
    }
}

/// Whether a mapping's host address covers `at`: the same address, or
/// every address (no `host_ip`, or the unspecified one of its family).
fn covers(mapped: Option<IpAddr>, at: Option<IpAddr>) -> bool {
    match (mapped, at) {
        (_, None) | (None, _) => true,
        (Some(m), Some(a)) => m == a || m.is_unspecified() && m.is_ipv4() == a.is_ipv4(),
    }
}

/// Whether a node's container port is published on its host (at
/// `host_ip`, when given), and why.
pub fn published(
    lab: &Lab,
    node: &str,
    port: u16,
    transport: Transport,
    host_ip: Option<IpAddr>,
    side: EngineSide,
) -> (PortExpect, String) {
    let Some(n) = lab.nodes.get(node) else {
        return (PortExpect::Unpublished, format!("no node `{node}`"));
    };
    let mapped: Vec<&crate::lab::PortMapping> = n
        .ports
        .iter()
        .filter(|p| p.transport == transport && p.container_ports.iter().any(|c| c == port))
        .collect();
    if mapped.is_empty() {
        return (
            PortExpect::Unpublished,
            format!(
                "`{node}` declares no mapping of {port}/{}",
                transport.as_str()
            ),
        );
    }
    if !mapped.iter().any(|p| covers(p.host_ip, host_ip)) {
        return (
            PortExpect::Unpublished,
            format!(
                "`{node}` maps {port}/{} on another host address: Docker binds a published port only where it is declared",
                transport.as_str()
            ),
        );
    }
    match mode(n) {
        Some(NetworkMode::Host) => {
            return (
                PortExpect::Unpublished,
                "host mode: no NAT, the port is the host's own".into(),
            );
        }
        Some(NetworkMode::None) => {
            return (
                PortExpect::Unpublished,
                "network mode none: nothing to forward to".into(),
            );
        }
        _ => {}
    }
    let nets = networks_of(n);
    if !nets.is_empty() && nets.iter().all(|net| facts(lab, net).internal) {
        return (
            PortExpect::Unpublished,
            format!(
                "`{node}` is only on internal networks: Docker publishes no port of an internal network"
            ),
        );
    }
    let overlays_and_internal = nets.iter().all(|net| {
        let f = facts(lab, net);
        f.overlay || f.internal
    }) && nets.iter().any(|net| facts(lab, net).internal);
    if overlays_and_internal && !side.publishes_beside_internal_bridge() {
        return (
            PortExpect::Unpublished,
            format!(
                "`{node}` is on an internal network and otherwise only on overlays: Docker 20.10 then publishes none of its ports (26.1 does)"
            ),
        );
    }
    (
        PortExpect::Published,
        format!(
            "Docker publishes {port}/{} of `{node}` on the host by NAT (or its userland proxy)",
            transport.as_str()
        ),
    )
}

/// Why the Docker host cannot reach the containers of its own macvlan or
/// ipvlan network.
pub(crate) fn vlan_from_host(driver: &str, network: &str) -> String {
    format!(
        "`{network}` is a {driver} network: its containers hang off a parent interface (a dummy one here) on which the Docker host has no address, and {driver} passes no traffic between a parent and its containers, so the host has no way to them"
    )
}

/// Why two addresses of one ipvlan l3 network cannot reach each other: they
/// are in different subnets of it, and Docker makes an ipvlan network
/// without a parent (neither the host's nor `parent: lab`) internal, so its containers get no default route (the
/// route that would send the packet to the parent, which routes between the
/// subnets), only their own subnet's. `None`: not such a pair.
pub(crate) fn l3_apart(
    lab: &Lab,
    network: &str,
    a: std::net::Ipv4Addr,
    b: std::net::Ipv4Addr,
) -> Option<String> {
    let n = lab.networks.get(network)?;
    // With a parent of its own (`parent: lab`) the network is not
    // internal: the default route leads to the parent, which routes.
    if n.driver != (crate::lab::Driver::Ipvlan { l3: true }) || n.lab_parent {
        return None;
    }
    let of = |ip: std::net::Ipv4Addr| n.subnets().find(|s| s.contains(&ip));
    let (sa, sb) = (of(a)?, of(b)?);
    (sa != sb).then(|| {
        format!(
            "`{network}` is an ipvlan network in l3 mode without a parent: Docker makes such a network internal, so its containers get no default route, only a route to their own subnet; {a} (in {sa}) has no route to {b} (in {sb})"
        )
    })
}

/// The static IPv4 address of a node on a network, from the lab file.
fn static_v4(node: &Node, network: &str) -> Option<std::net::Ipv4Addr> {
    node.networks().find(|a| a.network == network)?.ipv4
}
