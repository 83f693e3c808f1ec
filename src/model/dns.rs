//! What a name resolves to from a node. Docker's embedded DNS (127.0.0.11)
//! serves containers on user-defined networks; it knows a node's name and
//! aliases only on the networks that node joins, and answers a name with
//! the addresses on ONE network the asker shares with the carriers (every
//! carrier there: a shared alias answers with several addresses). Which
//! network it picks is the engine's business, so the model predicts the
//! possible answers, one per shared network; any one is correct. The
//! default bridge, host mode and none have no embedded DNS: lab names do
//! not resolve there. A legacy link's alias is answered to the linking
//! node alone.

use super::{EngineSide, facts, mode};
use crate::lab::{Attachment, IpFamily, Lab, NetworkMode, Node};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsPrediction {
    /// No address comes back, with why.
    Unresolved(String),
    /// One of these answers: the network, and the nodes whose addresses
    /// on it come back.
    OneOf {
        choices: Vec<(String, Vec<String>)>,
        reason: String,
    },
}

impl DnsPrediction {
    /// The node set every choice agrees on, when they all agree.
    pub fn certain_nodes(&self) -> Option<&[String]> {
        match self {
            DnsPrediction::OneOf { choices, .. } => {
                let (_, first) = choices.first()?;
                choices
                    .iter()
                    .all(|(_, c)| c == first)
                    .then_some(first.as_slice())
            }
            DnsPrediction::Unresolved(_) => None,
        }
    }
}

/// Whether `node` answers to `name` on `network`: its own name (an alias
/// netlab gives it on each network) or one of its aliases there.
fn carries(node: &Node, network: &str, name: &str) -> bool {
    node.networks().any(|a| {
        a.network == network && (node.name == name || a.aliases.iter().any(|al| al == name))
    })
}

/// Who answers to `name` on `network` as `asker` sees it: a legacy link
/// alias of the asker names its linked node alone (Docker's DNS looks the
/// asker's link aliases up first); else every node that carries the name.
fn answering(lab: &Lab, asker: &Node, network: &str, name: &str) -> Vec<String> {
    let linked = asker
        .links
        .iter()
        .filter(|(target, alias)| {
            alias == name && lab.nodes.get(target).is_some_and(|t| t.is_on(network))
        })
        .map(|(target, _)| target.clone())
        .collect::<Vec<_>>();
    if !linked.is_empty() {
        return linked;
    }
    lab.nodes
        .values()
        .filter(|n| carries(n, network, name))
        .map(|n| n.name.clone())
        .collect()
}

/// The order in which Docker's embedded DNS asks a container's networks
/// (docs/docker-dns.md): in swarm mode (which overlays need) the overlays
/// first, then the local networks; each group in the order Docker sorts a
/// container's endpoints: not internal first, then IPv4+IPv6 before IPv4
/// only before neither, then the network's name in byte order (every lab
/// network's Docker name has the same prefix, so the lab's names sort
/// alike). Overlays first was seen on Docker 28.5 (overlay seed 38: an
/// IPv4-only overlay answered AAAA before a dual-stack bridge).
fn docker_order<'a>(lab: &Lab, network: &'a str) -> (bool, bool, u8, &'a str) {
    let f = facts(lab, network);
    let class = match lab.networks.get(network) {
        Some(n) if n.ipv4 && n.ipv6 => 0,
        Some(n) if n.ipv4 => 1,
        Some(_) => 2,
        None => 1,
    };
    (!f.overlay, f.internal, class, network)
}

/// What `name` resolves to from node `from`, for records of `family`, on
/// an engine like `side`.
pub fn resolve(
    lab: &Lab,
    from: &str,
    name: &str,
    family: IpFamily,
    side: EngineSide,
) -> DnsPrediction {
    // A sidecar asks from its owner's namespace, with its owner's resolver.
    let Some(source) = lab.nodes.get(lab.namespace_of(from)) else {
        return DnsPrediction::Unresolved(format!("no node `{from}`"));
    };
    match mode(source) {
        Some(NetworkMode::Bridge) => {
            return DnsPrediction::Unresolved(
                "Docker's default bridge has no embedded DNS: its containers ask the host's resolver, which knows no lab names".into(),
            );
        }
        Some(NetworkMode::Host) => {
            return DnsPrediction::Unresolved(
                "host mode: the host's resolver, which knows no lab names".into(),
            );
        }
        Some(NetworkMode::None) => {
            return DnsPrediction::Unresolved("network mode none: no resolver is reachable".into());
        }
        None => {}
    }
    let Attachment::Networks(own) = &source.attachment else {
        return DnsPrediction::Unresolved("no network".into());
    };
    if family == IpFamily::V6 && side.aaaa_ends_at_first_network() {
        let first = own
            .iter()
            .filter(|a| !answering(lab, source, &a.network, name).is_empty())
            .min_by_key(|a| docker_order(lab, &a.network));
        if let Some(first) = first
            && !lab.networks.get(&first.network).is_some_and(|n| n.ipv6)
        {
            return DnsPrediction::Unresolved(format!(
                "Docker 28 asks `{from}`'s networks in its order and the first that knows `{name}`, `{}`, has no IPv6: the AAAA answer is empty and no other network is asked",
                first.network
            ));
        }
    }
    let choices: Vec<(String, Vec<String>)> = own
        .iter()
        .filter(|a| lab.networks.get(&a.network).is_some_and(|n| n.has(family)))
        .filter_map(|a| {
            let nodes = answering(lab, source, &a.network, name);
            (!nodes.is_empty()).then(|| (a.network.clone(), nodes))
        })
        .collect();
    if choices.is_empty() {
        let internal_only = own.iter().all(|a| facts(lab, &a.network).internal);
        let why = if internal_only {
            format!(
                "nothing on `{from}`'s networks answers to `{name}`, and an internal network has no way to an outside resolver"
            )
        } else {
            format!(
                "nothing on `{from}`'s networks answers to `{name}`: Docker's embedded DNS knows names per network"
            )
        };
        return DnsPrediction::Unresolved(why);
    }
    let networks = choices
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    let linked = source.links.iter().find(|(_, alias)| alias == name);
    let reason = match linked {
        Some((target, _)) => format!(
            "`{name}` is `{from}`'s legacy link to `{target}`: Docker's embedded DNS answers it to `{from}` alone, with `{target}`'s address on a network they share ({networks})"
        ),
        None => format!(
            "Docker's embedded DNS answers `{name}` with its carriers' addresses on one network `{from}` shares with them ({networks})"
        ),
    };
    DnsPrediction::OneOf { choices, reason }
}
