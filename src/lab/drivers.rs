//! What the drivers add to the lab's words: the expectation of a `link`
//! check (what the link layer shows between two nodes: a MAC of their own,
//! the parent's shared one, or no ARP at all), and the network namespace a
//! sidecar (`network_mode: "container:NODE"`) shares with its owner.

use serde::{Deserialize, Serialize};

use super::model::{Lab, Node};

/// What a `link` check expects of the link layer between two nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkExpect {
    /// The peer is reached at the node's own MAC address: both carry the
    /// parent's (ipvlan).
    SharedMac,
    /// The peer answers ARP with a MAC address of its own (bridge, macvlan).
    OwnMac,
    /// The interface does not speak ARP and the peer is reached without a
    /// resolved MAC address (ipvlan l3: no broadcast, no ARP).
    NoArp,
}

impl LinkExpect {
    pub const WORDS: [&'static str; 3] = ["shared-mac", "own-mac", "no-arp"];

    pub fn as_str(self) -> &'static str {
        match self {
            LinkExpect::SharedMac => "shared-mac",
            LinkExpect::OwnMac => "own-mac",
            LinkExpect::NoArp => "no-arp",
        }
    }

    pub fn parse(word: &str) -> Option<LinkExpect> {
        match word {
            "shared-mac" => Some(LinkExpect::SharedMac),
            "own-mac" => Some(LinkExpect::OwnMac),
            "no-arp" => Some(LinkExpect::NoArp),
            _ => None,
        }
    }
}

impl Lab {
    /// The node whose network namespace `node` is in: itself, or for a
    /// sidecar (`network_mode: "container:NODE"`), NODE.
    pub fn namespace_of<'a>(&'a self, node: &'a str) -> &'a str {
        self.nodes.get(node).and_then(Node::shares).unwrap_or(node)
    }

    /// The sidecars in `node`'s network namespace.
    pub fn sidecars_of<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.nodes
            .values()
            .filter(move |n| n.shares() == Some(node))
            .map(|n| n.name.as_str())
    }
}
