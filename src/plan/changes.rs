//! What `up` of a lab that is up must do: compare each planned network,
//! node and host helper with what runs (by host and settings hash) and
//! say which to make, make again, remove or leave alone. Pure.

use std::collections::{BTreeSet, HashMap};

use super::{Plan, network_name};

/// What `up` of a lab that is already up must do: the objects whose hash
/// differs are made again, the missing ones made, the surplus removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub networks: Delta,
    pub nodes: Delta,
    /// Host helpers (not reported: they follow the hosts).
    pub helpers: Delta,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub create: Vec<String>,
    pub recreate: Vec<String>,
    pub remove: Vec<String>,
    pub unchanged: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        [&self.networks, &self.nodes, &self.helpers]
            .iter()
            .all(|d| d.create.is_empty() && d.recreate.is_empty() && d.remove.is_empty())
    }
}

/// What runs, by name: each object's host and hash.
#[derive(Debug, Clone, Default)]
pub struct Running {
    pub networks: HashMap<String, (String, String)>,
    pub nodes: HashMap<String, (String, String)>,
    pub helpers: HashMap<String, (String, String)>,
}

fn delta<'a>(
    wanted: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    running: &HashMap<String, (String, String)>,
) -> Delta {
    let mut d = Delta::default();
    let mut seen = BTreeSet::new();
    for (name, host, hash) in wanted {
        seen.insert(name.to_owned());
        match running.get(name) {
            None => d.create.push(name.to_owned()),
            Some((h, x)) if h == host && x == hash => d.unchanged.push(name.to_owned()),
            Some(_) => d.recreate.push(name.to_owned()),
        }
    }
    let mut surplus: Vec<String> = running
        .keys()
        .filter(|k| !seen.contains(*k))
        .cloned()
        .collect();
    surplus.sort();
    d.remove = surplus;
    d
}

/// The difference between a plan and what runs. A node on a network that
/// is made again is made again too: its endpoint goes with the network.
pub fn changes(plan: &Plan, running: &Running) -> Changes {
    let networks = delta(
        plan.networks
            .iter()
            .map(|n| (n.network.as_str(), n.host.as_str(), n.hash.as_str())),
        &running.networks,
    );
    let mut nodes = delta(
        plan.containers
            .iter()
            .map(|c| (c.node.as_str(), c.host.as_str(), c.hash.as_str())),
        &running.nodes,
    );
    let helpers = delta(
        plan.host_helpers
            .iter()
            .map(|c| (c.host.as_str(), c.host.as_str(), c.hash.as_str())),
        &running.helpers,
    );
    // The node hash covers the network hashes, so a recreated network
    // already shows in its nodes; this keeps the rule explicit.
    let moved: Vec<String> = nodes
        .unchanged
        .iter()
        .filter(|n| {
            plan.containers.iter().any(|c| {
                &c.node == *n
                    && c.endpoints.iter().any(|e| {
                        networks
                            .recreate
                            .iter()
                            .any(|r| network_name(&plan.lab, r) == e.network)
                    })
            })
        })
        .cloned()
        .collect();
    nodes.unchanged.retain(|n| !moved.contains(n));
    nodes.recreate.extend(moved);
    Changes {
        networks,
        nodes,
        helpers,
    }
}
