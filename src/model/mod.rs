//! One model of Docker networking: from a validated lab alone, what the
//! engine will do — who reaches whom on a port and why (`reach`), which
//! addresses a name resolves to from a node (`dns`), and whether a port is
//! published on the host (`published`). Each prediction carries a one-line
//! reason naming the Docker mechanism that decides it.
//!
//! Pure, and it imports only `lab`: generated labs (`netlab fuzz`) write
//! their expectations from it, and whatever the engine then shows
//! differently is either a netlab bug or a Docker behaviour the model must
//! learn. Which address a probe aims at is `lab::reach::aim`'s rule, the
//! same one the probes follow, so the model and the probe cannot disagree
//! about the path, only about what the engine does on it.

pub mod dns;
pub mod implied;
pub mod reach;
#[cfg(test)]
mod tests;

pub use dns::{DnsPrediction, resolve};
pub use reach::{Reach, published, reach, reach_family};

use crate::lab::{Attachment, Driver, Lab, NetworkMode, Node};

/// What the lab says of one network a node is on (`bridge`: Docker's
/// default one, which is in no lab's `networks:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NetFacts {
    pub default_bridge: bool,
    pub overlay: bool,
    pub internal: bool,
    pub icc: bool,
}

pub(crate) fn facts(lab: &Lab, network: &str) -> NetFacts {
    match lab.networks.get(network) {
        Some(n) => NetFacts {
            default_bridge: false,
            overlay: matches!(n.driver, Driver::Overlay { .. }),
            internal: n.internal,
            icc: n.icc,
        },
        None => NetFacts {
            default_bridge: network == "bridge",
            overlay: false,
            internal: false,
            icc: true,
        },
    }
}

/// The networks a node joins, `bridge` for Docker's default one.
pub(crate) fn networks_of(node: &Node) -> Vec<String> {
    match &node.attachment {
        Attachment::Networks(list) => list.iter().map(|a| a.network.clone()).collect(),
        Attachment::Mode(NetworkMode::Bridge) => vec!["bridge".into()],
        Attachment::Mode(_) => Vec::new(),
    }
}

pub(crate) fn mode(node: &Node) -> Option<NetworkMode> {
    match node.attachment {
        Attachment::Mode(m) => Some(m),
        Attachment::Networks(_) => None,
    }
}
