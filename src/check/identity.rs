//! Who must answer at a target for a check to say "that node answered":
//! the node the target names, the node whose container address it is, or
//! the node whose published port (or host-mode listener) it reaches on the
//! source's Docker host. A proxy that completes a handshake for a port
//! nobody serves says nothing about who answered; only the agent's greeting
//! does. Pure.

use std::net::IpAddr;

use crate::agent::protocol::Identity;
use crate::lab::{Attachment, NetworkMode, Source, TargetHost, Transport};
use crate::live::{LiveLab, PublishedPort};

/// Who stands behind a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answerer {
    /// An agent node of this lab: its greeting is the proof.
    Node(Identity),
    /// A node of a foreign image: it cannot say who it is.
    Foreign(String),
    /// Any of these agent nodes (the carriers of an alias the probe
    /// resolved): each one's greeting is proof.
    AnyOf(Vec<Identity>),
    /// Nothing of the lab is known there.
    Unknown,
}

/// The identity an agent node of this lab announces.
pub fn identity_of(live: &LiveLab, node: &str) -> Option<Identity> {
    let n = live.lab.nodes.get(node)?;
    n.is_agent().then(|| Identity {
        lab: live.lab.name.clone(),
        host: live.lab.is_multi_host().then(|| n.host.clone()),
        node: node.to_owned(),
    })
}

fn named(live: &LiveLab, node: &str) -> Answerer {
    match (identity_of(live, node), live.lab.nodes.contains_key(node)) {
        (Some(id), _) => Answerer::Node(id),
        (None, true) => Answerer::Foreign(node.to_owned()),
        (None, false) => Answerer::Unknown,
    }
}

/// Who answers at `host:port` for a probe from `from`.
pub fn answerer(
    live: &LiveLab,
    from: &Source,
    host: &TargetHost,
    port: u16,
    transport: Transport,
) -> Answerer {
    if let TargetHost::Name(name) = host {
        let ids: Vec<Identity> = alias_carriers(live, from, name)
            .iter()
            .filter_map(|n| identity_of(live, n))
            .collect();
        return match ids.len() {
            0 => Answerer::Unknown,
            1 => ids
                .into_iter()
                .next()
                .map_or(Answerer::Unknown, Answerer::Node),
            _ => Answerer::AnyOf(ids),
        };
    }
    match listener(live, from, host, port, transport) {
        Some((node, _)) => named(live, &node),
        None => Answerer::Unknown,
    }
}

/// The node that answers at `host:port` for a probe from `from`, and the
/// port it listens on itself: a published port leads to its container's.
pub fn listener(
    live: &LiveLab,
    from: &Source,
    host: &TargetHost,
    port: u16,
    transport: Transport,
) -> Option<(String, u16)> {
    let ip = match host {
        TargetHost::Node { node, .. } => {
            return Some((in_namespace(live, node, port, transport), port));
        }
        TargetHost::Name(name) => {
            return alias_carriers(live, from, name)
                .into_iter()
                .next()
                .map(|n| (n, port));
        }
        TargetHost::Ip(ip) => *ip,
    };
    if let Some(owner) = owner_of_address(live, ip) {
        return Some((in_namespace(live, &owner, port, transport), port));
    }
    // Not a container's address: the source's own Docker host answers
    // there (loopback from the host or a host-mode node, any of the host's
    // addresses from anywhere), through a published port or a host-mode
    // node's listener.
    let on_host_stack = !ip.is_loopback() || from_host_stack(live, from);
    if !on_host_stack {
        return match from {
            // A container's loopback is its network namespace's: its own,
            // or shared with its sidecars (or its owner's).
            Source::Node(n) => Some((in_namespace(live, n, port, transport), port)),
            Source::Host(_) => None,
        };
    }
    let source_host = live.lab.host_of(from).to_owned();
    let same_host = |node_host: &str| live.same_engine(&source_host, node_host);
    for (name, node) in &live.nodes {
        if !same_host(&node.host) {
            continue;
        }
        if let Some(b) = node
            .ports
            .iter()
            .find(|b| b.host_port == port && b.transport == transport && covers(b, ip))
        {
            return Some((name.clone(), b.container_port));
        }
    }
    for (name, node) in &live.lab.nodes {
        let host_mode = node.attachment == Attachment::Mode(NetworkMode::Host);
        let serves = node
            .serve
            .iter()
            .any(|l| l.port == port && l.proto.is_udp() == (transport == Transport::Udp));
        if host_mode && serves && same_host(&node.host) {
            return Some((name.clone(), port));
        }
    }
    None
}

/// The nodes Docker's DNS answers `name` with for a probe from `from`:
/// the node a legacy link of `from` names so (Docker's DNS looks the
/// asker's link aliases up first), else those that carry it as an alias on
/// a network `from` is on, in declaration order.
pub fn alias_carriers(live: &LiveLab, from: &Source, name: &str) -> Vec<String> {
    let Source::Node(from) = from else {
        return Vec::new();
    };
    let Some(source) = live.lab.nodes.get(from) else {
        return Vec::new();
    };
    let linked: Vec<String> = source
        .links
        .iter()
        .filter(|(_, alias)| alias.eq_ignore_ascii_case(name))
        .map(|(target, _)| target.clone())
        .collect();
    if !linked.is_empty() {
        return linked;
    }
    live.lab
        .nodes
        .values()
        .filter(|n| {
            n.networks().any(|a| {
                source.is_on(&a.network) && a.aliases.iter().any(|al| al.eq_ignore_ascii_case(name))
            })
        })
        .map(|n| n.name.clone())
        .collect()
}

/// Of the nodes in `node`'s network namespace (its owner and the owner's
/// sidecars), the one that serves `port`: the owner when none does.
fn in_namespace(live: &LiveLab, node: &str, port: u16, transport: Transport) -> String {
    let owner = live.lab.namespace_of(node);
    std::iter::once(owner)
        .chain(live.lab.sidecars_of(owner))
        .find(|n| {
            live.lab.nodes.get(*n).is_some_and(|n| {
                n.serve
                    .iter()
                    .any(|l| l.port == port && l.proto.is_udp() == (transport == Transport::Udp))
            })
        })
        .unwrap_or(owner)
        .to_owned()
}

/// The node whose container holds `ip` on one of its networks.
pub fn owner_of_address(live: &LiveLab, ip: IpAddr) -> Option<String> {
    live.nodes
        .iter()
        .find(|(_, n)| n.all_addresses().any(|a| a == ip))
        .map(|(name, _)| name.clone())
}

/// Probes from the host, or from a node in host mode, run in the Docker
/// host's own network stack.
pub(crate) fn from_host_stack(live: &LiveLab, from: &Source) -> bool {
    match from {
        Source::Host(_) => true,
        Source::Node(n) => live
            .lab
            .nodes
            .get(n)
            .is_some_and(|n| n.attachment == Attachment::Mode(NetworkMode::Host)),
    }
}

/// Whether a binding listens at `ip`: its own address, or every address of
/// that family when it is bound to all of them.
pub fn covers(binding: &PublishedPort, ip: IpAddr) -> bool {
    binding.host_ip == ip
        || (binding.host_ip.is_unspecified() && binding.host_ip.is_ipv4() == ip.is_ipv4())
}

/// `web of lab bridge-basic`, `db@west of lab overlay-multihost`.
pub fn words(id: &Identity) -> String {
    format!("{} of lab {}", id.node_at_host(), id.lab)
}

/// Whether a greeting names a node of this lab as it runs (the right
/// host, too): evidence of who answered even where the target maps to no
/// node netlab knows of.
pub fn is_lab_node(live: &LiveLab, id: &Identity) -> bool {
    identity_of(live, &id.node).as_ref() == Some(id)
}

/// Why a check from a Docker host's own stack proves nothing here: what
/// answers at its target (a port published, or a host-mode listener, on
/// loopback or a host address) belongs to a node of *another* logical
/// host of the lab, reached only because both hosts are bound to one
/// engine. On two engines the same check sees the other host's stack
/// without it — so it is skipped with the reason, whatever it expects,
/// rather than PASS or FAIL on an artefact of the set-up.
pub fn one_engine_for_two_hosts(live: &LiveLab, kind: &crate::lab::CheckKind) -> Option<String> {
    use crate::lab::CheckKind;
    let (from, to, transport) = match kind {
        CheckKind::Tcp { from, to, .. } | CheckKind::Tls { from, to, .. } => {
            (from, to, Transport::Tcp)
        }
        CheckKind::Udp { from, to, .. } => (from, to, Transport::Udp),
        _ => return None,
    };
    let TargetHost::Ip(ip) = to.host else {
        return None;
    };
    if !matches!(from, Source::Host(_)) || owner_of_address(live, ip).is_some() {
        return None;
    }
    let source_host = live.lab.host_of(from);
    let (node, _) = listener(live, from, &to.host, to.port, transport)?;
    let node_host = &live.lab.nodes.get(&node)?.host;
    (node_host != source_host && live.same_engine(source_host, node_host)).then(|| {
        format!(
            "hosts {source_host} and {node_host} are one engine here: {} on {source_host}'s own stack is {node}'s (on {node_host}); bind them to two engines (`--host`, or `make hosts`) to check what {source_host} itself sees",
            std::net::SocketAddr::new(ip, to.port)
        )
    })
}
