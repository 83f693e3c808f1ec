//! What a name resolves to from a node. Docker's embedded DNS (127.0.0.11)
//! serves containers on user-defined networks; it knows a node's name and
//! aliases only on the networks that node joins, and answers a name with
//! the addresses on ONE network the asker shares with the carriers (every
//! carrier there: a shared alias answers with several addresses). Which
//! network it picks is the engine's business, so the model predicts the
//! possible answers, one per shared network; any one is correct. The
//! default bridge, host mode and none have no embedded DNS: lab names do
//! not resolve there.

use super::{facts, mode};
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

/// What `name` resolves to from node `from`, for records of `family`.
pub fn resolve(lab: &Lab, from: &str, name: &str, family: IpFamily) -> DnsPrediction {
    let Some(source) = lab.nodes.get(from) else {
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
    let choices: Vec<(String, Vec<String>)> = own
        .iter()
        .filter(|a| lab.networks.get(&a.network).is_some_and(|n| n.has(family)))
        .filter_map(|a| {
            let nodes: Vec<String> = lab
                .nodes
                .values()
                .filter(|n| carries(n, &a.network, name))
                .map(|n| n.name.clone())
                .collect();
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
    let reason = format!(
        "Docker's embedded DNS answers `{name}` with its carriers' addresses on one network `{from}` shares with them ({})",
        choices
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" or ")
    );
    DnsPrediction::OneOf { choices, reason }
}
