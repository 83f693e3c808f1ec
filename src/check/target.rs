//! Which address a `to:` means, seen from a given source.
//!
//! `to: web:7000` is web's address on a network it shares with `from`; if
//! they share none, web's address on its first bridge network (else its
//! first network). That is how
//! isolation is shown at layers 3/4, not merely by a missing DNS name. A node
//! in host mode is its Docker host itself: loopback from that host, the
//! gateway of the source's network from a container on it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::lab::{Attachment, CheckKind, NetworkMode, Source, Target, TargetHost};
use crate::live::{LiveLab, PublishedPort};

pub fn resolve(live: &LiveLab, from: &Source, to: &Target) -> Result<SocketAddr, String> {
    let ip = match &to.host {
        TargetHost::Ip(ip) => *ip,
        TargetHost::Node { node, network } => {
            let target = live
                .nodes
                .get(node)
                .ok_or_else(|| format!("node `{node}` has no container"))?;
            let host_mode = live
                .lab
                .nodes
                .get(node)
                .is_some_and(|n| n.attachment == Attachment::Mode(NetworkMode::Host));
            let source = match from {
                Source::Node(f) => live.nodes.get(f),
                Source::Host(_) => None,
            };
            let source_host = live.lab.host_of(from);
            if host_mode && source_host != target.host {
                return Err(format!(
                    "node `{node}` shares the network stack of host {}, and the probe runs on host {source_host}: netlab knows no address of one host as seen from another",
                    target.host
                ));
            }
            let ip = if host_mode {
                match (from, source) {
                    (Source::Host(_), _) => Some(Ipv4Addr::LOCALHOST),
                    // A container reaches the host at its network's gateway.
                    (_, Some(s)) => s.gateways.values().next().copied().or_else(|| {
                        let from_host_mode = matches!(from, Source::Node(f) if live.lab.nodes.get(f).is_some_and(|n| n.attachment == Attachment::Mode(NetworkMode::Host)));
                        from_host_mode.then_some(Ipv4Addr::LOCALHOST)
                    }),
                    (_, None) => None,
                }
            } else {
                match network {
                    Some(net) => target.addresses.get(net).copied(),
                    None => source
                        .and_then(|f| {
                            target
                                .addresses
                                .iter()
                                .find(|(net, _)| f.addresses.contains_key(*net))
                                .map(|(_, ip)| *ip)
                        })
                        .or_else(|| unshared_address(live, live.lab.host_of(from), target)),
                }
            };
            IpAddr::V4(ip.ok_or_else(|| {
                format!(
                    "node `{node}` has no address{} (state: {})",
                    network
                        .as_ref()
                        .map(|n| format!(" on network `{n}`"))
                        .unwrap_or_default(),
                    target.state
                )
            })?)
        }
    };
    Ok(SocketAddr::new(ip, to.port))
}

/// The address of a node that shares no network with the source. On the
/// source's own engine: its first bridge address — routed by that engine's
/// host and dropped there, where an overlay address would be in no routing
/// table and follow the default route out of the machine. On another
/// engine: its first overlay address — the one the swarm makes unique,
/// where a bridge address could be a node of the source's own host (each
/// engine picks bridge subnets for itself).
fn unshared_address(
    live: &LiveLab,
    source_host: &str,
    target: &crate::live::LiveNode,
) -> Option<Ipv4Addr> {
    let is_overlay = |net: &str| {
        live.lab
            .networks
            .get(net)
            .is_some_and(|n| matches!(n.driver, crate::lab::Driver::Overlay { .. }))
    };
    let local = live.same_engine(source_host, &target.host);
    target
        .addresses
        .iter()
        .find(|(net, _)| is_overlay(net) != local)
        .or_else(|| target.addresses.iter().next())
        .map(|(_, ip)| *ip)
}

/// The engine's mapping that a `port` check is about, if any: the first
/// binding of that container port (IPv4 first) matching `host_ip` and
/// `host_port` where the check gives them.
pub fn port_binding(live: &LiveLab, kind: &CheckKind) -> Option<PublishedPort> {
    let CheckKind::Port {
        node,
        port,
        transport,
        host_ip,
        host_port,
        ..
    } = kind
    else {
        return None;
    };
    live.nodes
        .get(node)?
        .ports
        .iter()
        .find(|b| {
            b.container_port == *port
                && b.transport == *transport
                && host_ip.is_none_or(|ip| ip == b.host_ip)
                && host_port.is_none_or(|p| p == b.host_port)
        })
        .cloned()
}

/// Where the host connects to reach a binding: loopback for "all addresses".
pub fn reachable_from_host(b: &PublishedPort) -> SocketAddr {
    let ip = match b.host_ip {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, b.host_port)
}
