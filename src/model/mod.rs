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
pub mod egress;
pub mod implied;
pub mod reach;
#[cfg(test)]
mod tests;

pub use dns::{DnsPrediction, resolve};
pub use egress::egress;
pub use reach::{Reach, published, reach, reach_family};

/// What the model needs to know of the engine, where Docker versions
/// differ (each seen with `netlab fuzz`; docs/generated-labs.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineSide {
    /// Whether the engine sets ip6tables rules (Docker's default from 27).
    pub ip6tables: bool,
    /// The engine's major version (20 for 20.10).
    pub major: u32,
}

impl EngineSide {
    /// Docker 27 and later with their defaults.
    pub const NEW: EngineSide = EngineSide {
        ip6tables: true,
        major: 28,
    };
    /// Docker 20.10 as Debian runs it: no ip6tables rules.
    pub const OLD: EngineSide = EngineSide {
        ip6tables: false,
        major: 20,
    };

    /// The side of an engine as netlab found it (its version and whether
    /// it sets ip6tables rules); an unreadable version counts as new.
    pub fn of(facts: &EngineFacts) -> EngineSide {
        EngineSide {
            ip6tables: facts.ip6tables,
            major: crate::lab::requires::major_minor(&facts.version).map_or(28, |(m, _)| m),
        }
    }

    /// Whether a container whose only IPv6 networks are internal still
    /// gets an IPv6 default route: Docker 20.10 gives it one (seeds 1-200
    /// agree), 26.1 does not (seeds 33, 78, 85). 21-25 were not measured;
    /// the line is drawn at the first version seen without it.
    pub fn internal_v6_default_route(self) -> bool {
        self.major < 26
    }

    /// Whether a container whose IPv4 networks are all internal still gets
    /// a default route (through the bridge's gateway; Docker's iptables
    /// rules then drop what it forwards): Docker 20.10 gives it one, 26.1
    /// does not (seen on both, `ip route` in a container of an internal
    /// network). The line is drawn at 26, as for IPv6.
    pub fn internal_default_route(self) -> bool {
        self.major < 26
    }

    /// Whether a node on an internal network whose other networks are all
    /// overlays gets its ports published: not on Docker 20.10 (overlay
    /// seed 5), yes on 26.1 and 28.5; the line is drawn at 26 as above.
    pub fn publishes_beside_internal_bridge(self) -> bool {
        self.major >= 26
    }

    /// Whether an AAAA question ends at the first network (in Docker's
    /// order) that knows the name, with an empty answer when the name has
    /// no IPv6 address there: Docker 28.5 does (seed 107); 20.10 and 26.1
    /// go on to the next network that knows it.
    pub fn aaaa_ends_at_first_network(self) -> bool {
        self.major >= 28
    }
}

use crate::lab::requires::EngineFacts;
use crate::lab::{Attachment, Driver, Lab, NetworkMode, Node};

/// What the lab says of one network a node is on (`bridge`: Docker's
/// default one, which is in no lab's `networks:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NetFacts {
    pub default_bridge: bool,
    pub overlay: bool,
    pub internal: bool,
    pub icc: bool,
    /// macvlan or ipvlan: containers on a parent interface, where the
    /// Docker host has no address (`Some(driver name)`).
    pub vlan: Option<&'static str>,
}

pub(crate) fn facts(lab: &Lab, network: &str) -> NetFacts {
    match lab.networks.get(network) {
        Some(n) => NetFacts {
            default_bridge: false,
            overlay: matches!(n.driver, Driver::Overlay { .. }),
            internal: n.internal,
            icc: n.icc,
            vlan: n.driver.is_vlan().then(|| n.driver.docker_name()),
        },
        None => NetFacts {
            default_bridge: network == "bridge",
            overlay: false,
            internal: false,
            icc: true,
            vlan: None,
        },
    }
}

/// The networks a node joins, `bridge` for Docker's default one.
pub(crate) fn networks_of(node: &Node) -> Vec<String> {
    match &node.attachment {
        Attachment::Networks(list) => list.iter().map(|a| a.network.clone()).collect(),
        Attachment::Mode(NetworkMode::Bridge) => vec!["bridge".into()],
        Attachment::Mode(_) | Attachment::Shared(_) => Vec::new(),
    }
}

pub(crate) fn mode(node: &Node) -> Option<NetworkMode> {
    match node.attachment {
        Attachment::Mode(m) => Some(m),
        Attachment::Networks(_) | Attachment::Shared(_) => None,
    }
}
