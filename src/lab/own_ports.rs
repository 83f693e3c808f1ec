//! The ports a lab owns on its Docker hosts' loopback, as the file decides
//! them: published ports bound to loopback or to every address, and the
//! listeners of nodes in host mode. A probe from a host's own stack that
//! carries a payload goes to no other loopback port (`crate::loopback`).
//! A published port whose host port Docker picks is known only once the
//! lab runs: such targets are left to `check::reach`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::model::{Attachment, NetworkMode, Node, Source};
use super::reach::{Topology, Verdict};
use crate::loopback::{self, OwnPort};
use crate::vocab::Transport;

/// Whether probes from `from` run in a Docker host's own network stack
/// (`host`, or a node in host mode), whose loopback is shared with the
/// host's other services. A container's loopback is its own.
pub fn on_host_stack(lab: Topology, from: &Source) -> bool {
    match from {
        Source::Host(_) => true,
        Source::Node(n) => lab.nodes.get(n).is_some_and(is_host_mode),
    }
}

pub fn is_host_mode(node: &Node) -> bool {
    node.attachment == Attachment::Mode(NetworkMode::Host)
}

const EVERY_ADDRESS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    IpAddr::V6(Ipv6Addr::UNSPECIFIED),
];

/// The loopback ports the lab's nodes on `host` own as the file declares
/// them, and the bindings whose host port Docker will pick (as `OwnPort`s
/// with port 0).
fn declared(lab: Topology, host: &str) -> (Vec<OwnPort>, Vec<OwnPort>) {
    let (mut fixed, mut picked) = (Vec::new(), Vec::new());
    for node in lab.nodes.values().filter(|n| n.host == host) {
        for mapping in &node.ports {
            let ips: Vec<IpAddr> = match mapping.host_ip {
                // Docker binds both families when no address is given.
                None => EVERY_ADDRESS.to_vec(),
                Some(ip) => vec![ip],
            };
            for ip in ips
                .into_iter()
                .filter(|ip| ip.is_unspecified() || loopback::is_loopback(*ip))
            {
                let transport = mapping.transport;
                match mapping.host_ports {
                    Some(range) => fixed.extend((range.first..=range.last).map(|port| OwnPort {
                        ip,
                        port,
                        transport,
                    })),
                    None => picked.push(OwnPort {
                        ip,
                        port: 0,
                        transport,
                    }),
                }
            }
        }
        fixed.extend(host_mode_ports(node));
    }
    (fixed, picked)
}

/// The listeners of a node in host mode, as ports of its host's stack (the
/// agent listens on every address of both families); none for another node.
pub fn host_mode_ports(node: &Node) -> Vec<OwnPort> {
    if !is_host_mode(node) {
        return Vec::new();
    }
    node.serve
        .iter()
        .flat_map(|listener| {
            let transport = if listener.proto.is_udp() {
                Transport::Udp
            } else {
                Transport::Tcp
            };
            EVERY_ADDRESS.map(|ip| OwnPort {
                ip,
                port: listener.port,
                transport,
            })
        })
        .collect()
}

/// Whether a payload from `from` to loopback `ip:port` stays in the lab:
/// always from a container (its own loopback); from a host's stack only to
/// a port the lab owns there, or — when Docker picks a host port that
/// could be it — at run time.
pub fn loopback_verdict(
    lab: Topology,
    from: &Source,
    ip: IpAddr,
    port: u16,
    transport: Transport,
) -> Verdict {
    if !on_host_stack(lab, from) {
        return Verdict::Inside;
    }
    let (fixed, picked) = declared(lab, lab.host_of(from));
    match loopback::refusal(&fixed, ip, port, transport) {
        None => Verdict::Inside,
        Some(_) if picked.iter().any(|p| p.covers(ip, 0, transport)) => Verdict::AtRunTime,
        Some(why) => Verdict::Outside(why),
    }
}

/// A payload aimed at a node in host mode goes to its host's address
/// (loopback, or a bridge's gateway): only a port the node serves is the
/// lab's there. `None` when `port` is one of them, else why not.
pub fn host_mode_refusal(node: &Node, port: u16, transport: Transport) -> Option<String> {
    if !is_host_mode(node)
        || node
            .serve
            .iter()
            .any(|l| l.port == port && l.proto.is_udp() == (transport == Transport::Udp))
    {
        return None;
    }
    Some(format!(
        "node `{}` shares its host's network stack and serves nothing on {port}/{}: a payload there could reach another service of the host",
        node.name,
        transport.as_str()
    ))
}
