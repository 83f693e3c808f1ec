//! Which address a `to:` means, seen from a given source.
//!
//! `to: web:7000` is web's address on a network it shares with `from` as
//! the two run now (a step may have connected or disconnected either: the
//! file's choice holds only while the running lab agrees); if they share
//! none, web's address on a bridge of the source's own host
//! (that is how isolation is shown at layers 3/4, not merely by a missing
//! DNS name). Anything else is on no path of the source and refused (see
//! `lab::reach::aim`). A node in host mode is its Docker host itself:
//! loopback from that host, the gateway of the source's network from a
//! container on it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::lab::reach::{Aim, aim};
use crate::lab::{Attachment, CheckKind, IpFamily, NetworkMode, Source, Target, TargetHost};
use crate::live::{LiveLab, PublishedPort};

/// The address of `family` a probe from `from` aims at for `to`.
pub fn resolve(
    live: &LiveLab,
    from: &Source,
    to: &Target,
    family: IpFamily,
) -> Result<SocketAddr, String> {
    let ip = match &to.host {
        TargetHost::Ip(ip) => *ip,
        // The probe resolves it in the node (see `by_name`): only the
        // family and the port are known here.
        TargetHost::Name(_) => family.unspecified(),
        TargetHost::Node { node, network } => {
            let target = live
                .nodes
                .get(node)
                .ok_or_else(|| format!("node `{node}` has no container"))?;
            // Where the two are now: a step may have moved either.
            let nodes = live.nodes_now();
            let aimed = aim(live.topology_of(&nodes), from, node, network.as_deref())
                .map_err(|off| off.to_string())?;
            let ip = match aimed {
                Aim::HostMode => host_mode_address(live, from, node, &target.host, family)?,
                Aim::Networks(networks) => {
                    networks.iter().find_map(|net| target.address(net, family))
                }
            };
            ip.ok_or_else(|| match network {
                Some(n) if target.running && !target.all_networks().any(|on| on == n) => {
                    format!("node `{node}` is not on network `{n}` now")
                }
                _ => format!(
                    "node `{node}` has no {} address{} (state: {})",
                    family.name(),
                    network
                        .as_ref()
                        .map(|n| format!(" on network `{n}`"))
                        .unwrap_or_default(),
                    target.state
                ),
            })?
        }
    };
    Ok(SocketAddr::new(ip, to.port))
}

/// A node in host mode is its Docker host: loopback from that host (and
/// from another host-mode node there), the gateway of the source's network
/// from a container on it.
fn host_mode_address(
    live: &LiveLab,
    from: &Source,
    node: &str,
    target_host: &str,
    family: IpFamily,
) -> Result<Option<IpAddr>, String> {
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
        Source::Host(_) => Some(family.loopback()),
        Source::Node(f) if is_host_mode(f) => Some(family.loopback()),
        Source::Node(f) => live.nodes.get(f).and_then(|s| match family {
            IpFamily::V4 => s.gateways.values().next().map(|ip| IpAddr::V4(*ip)),
            IpFamily::V6 => s.gateways6.values().next().map(|ip| IpAddr::V6(*ip)),
        }),
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

/// The bindings a `port` check proves: the one at its `host_ip` when it
/// names one; else the first binding, and when that one is on every IPv4
/// address, its IPv6 twin on every IPv6 address (the engine publishes a
/// port without an address in both families) — the one on the same host
/// port, or another one, which the engine has been seen to give.
pub fn port_bindings(live: &LiveLab, kind: &CheckKind) -> Vec<PublishedPort> {
    let CheckKind::Port {
        node,
        port,
        transport,
        host_ip,
        host_port,
        ..
    } = kind
    else {
        return Vec::new();
    };
    if host_ip.is_some() {
        return port_binding(live, kind).into_iter().collect();
    }
    let Some(n) = live.nodes.get(node) else {
        return Vec::new();
    };
    let of_port = |b: &&PublishedPort| b.container_port == *port && b.transport == *transport;
    let Some(first) = n
        .ports
        .iter()
        .filter(of_port)
        .find(|b| host_port.is_none_or(|p| p == b.host_port))
    else {
        return Vec::new();
    };
    if !(first.host_ip.is_ipv4() && first.host_ip.is_unspecified()) {
        return vec![first.clone()];
    }
    let twins: Vec<&PublishedPort> = n
        .ports
        .iter()
        .filter(of_port)
        .filter(|b| b.host_ip.is_ipv6() && b.host_ip.is_unspecified())
        .collect();
    let twin = twins
        .iter()
        .find(|b| b.host_port == first.host_port)
        .or(twins.first().filter(|_| host_port.is_none()));
    std::iter::once(first.clone())
        .chain(twin.map(|b| (*b).clone()))
        .collect()
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
