//! Which address a `to:` means, seen from a given source.
//!
//! `to: web:7000` is web's address on a network it shares with `from`; if
//! they share none, web's address on a bridge of the source's own host
//! (that is how isolation is shown at layers 3/4, not merely by a missing
//! DNS name). Anything else is on no path of the source and refused (see
//! `lab::reach::aim`). A node in host mode is its Docker host itself:
//! loopback from that host, the gateway of the source's network from a
//! container on it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::lab::reach::{Aim, aim};
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
            let aimed = aim(live.lab.topology(), from, node, network.as_deref())
                .map_err(|off| off.to_string())?;
            let ip = match aimed {
                Aim::HostMode => host_mode_address(live, from, node, &target.host)?,
                Aim::Networks(networks) => networks
                    .iter()
                    .find_map(|net| target.addresses.get(net).copied())
                    .or_else(|| {
                        // A step changed who is on which network: the
                        // networks the two share now decide, and without
                        // one, a bridge of the source's own host, as for
                        // nodes that never shared one.
                        network
                            .is_none()
                            .then(|| now_on_path(live, from, target))
                            .flatten()
                    }),
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

/// The target's address on a network it shares with the source as they
/// run now, else on a bridge of the source's own host.
fn now_on_path(live: &LiveLab, from: &Source, target: &crate::live::LiveNode) -> Option<Ipv4Addr> {
    let source = match from {
        Source::Node(n) => live.nodes.get(n),
        Source::Host(_) => None,
    };
    let shared = target
        .addresses
        .iter()
        .find(|(net, _)| source.is_some_and(|s| s.addresses.contains_key(*net)));
    let bridge_here = || {
        let same_host = live.lab.host_of(from) == target.host;
        target.addresses.iter().find(|(net, _)| {
            same_host
                && live
                    .lab
                    .networks
                    .get(*net)
                    .is_some_and(|n| n.driver == crate::lab::Driver::Bridge)
        })
    };
    shared.or_else(bridge_here).map(|(_, ip)| *ip)
}

/// A node in host mode is its Docker host: loopback from that host (and
/// from another host-mode node there), the gateway of the source's network
/// from a container on it.
fn host_mode_address(
    live: &LiveLab,
    from: &Source,
    node: &str,
    target_host: &str,
) -> Result<Option<Ipv4Addr>, String> {
    let source_host = live.lab.host_of(from);
    if source_host != target_host {
        return Err(format!(
            "node `{node}` shares the network stack of host {target_host}, and the probe runs on host {source_host}: netlab knows no address of one host as seen from another"
        ));
    }
    let is_host_mode = |n: &str| {
        live.lab
            .nodes
            .get(n)
            .is_some_and(|n| n.attachment == Attachment::Mode(NetworkMode::Host))
    };
    Ok(match from {
        Source::Host(_) => Some(Ipv4Addr::LOCALHOST),
        Source::Node(f) if is_host_mode(f) => Some(Ipv4Addr::LOCALHOST),
        Source::Node(f) => live
            .nodes
            .get(f)
            .and_then(|s| s.gateways.values().next().copied()),
    })
}

/// The engine's mapping that a `port` check is about, if any: the first
/// binding of that container port (IPv4 first) that listens at `host_ip`
/// (its own address, or all addresses of that family: a binding to all
/// addresses covers every one of them) and uses `host_port`, where the
/// check gives them.
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
    let bindings = &live.nodes.get(node)?.ports;
    let matching = |exact: bool| {
        bindings
            .iter()
            .find(|b| {
                b.container_port == *port
                    && b.transport == *transport
                    && host_ip.is_none_or(|ip| {
                        if exact {
                            ip == b.host_ip
                        } else {
                            super::identity::covers(b, ip)
                        }
                    })
                    && host_port.is_none_or(|p| p == b.host_port)
            })
            .cloned()
    };
    // A binding to exactly that address first, then one that covers it.
    matching(true).or_else(|| matching(false))
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
