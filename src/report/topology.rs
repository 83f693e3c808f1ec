//! The lab as it ran, for reports that draw it: hosts, networks (driver,
//! internal, icc, subnet), nodes with their networks, aliases, addresses,
//! published ports and network mode. Built from the `LiveLab`, carried in
//! the JSON report (`topology`), read back by `netlab report`: the types
//! go both ways, and fields added later default when absent.

use serde::{Deserialize, Serialize};

use crate::lab::{Attachment, Driver};
use crate::live::LiveLab;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// What the lab file says the lab demonstrates.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Logical Docker hosts, in declaration order (`local` for one).
    pub hosts: Vec<String>,
    pub networks: Vec<Network>,
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    /// `bridge` or `overlay`.
    pub driver: String,
    #[serde(default)]
    pub internal: bool,
    #[serde(default = "yes")]
    pub icc: bool,
    /// As the engine allocated it (or as declared, when it is not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// The host a bridge lives on; none for an overlay, which spans them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub encrypted: bool,
    /// Its IPv6 subnet (declared, or picked by `up`), on an IPv6 network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    /// `false`: an IPv6-only network.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub ipv4: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub host: String,
    /// `None`: the netlab agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `host`, `bridge` (Docker's default bridge) or `none`, instead of
    /// lab networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default = "yes")]
    pub running: bool,
    /// Lab networks in declaration order; a node on Docker's default bridge
    /// has one entry, `bridge`.
    #[serde(default)]
    pub networks: Vec<Attached>,
    /// Ports as the engine published them.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Agent listeners (`tcp:7000`).
    #[serde(default)]
    pub serve: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attached {
    pub network: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub transport: String,
}

/// The IPv6 subnet of a lab network as the engine has it: the one of the
/// lab's subnets that holds a node's IPv6 address there.
fn subnet6(live: &LiveLab, network: &str) -> Option<ipnet::Ipv6Net> {
    live.nodes
        .values()
        .filter_map(|n| n.addresses6.get(network))
        .find_map(|ip| {
            live.subnets.iter().find_map(|s| match s {
                ipnet::IpNet::V6(s) if s.contains(ip) => Some(*s),
                _ => None,
            })
        })
}

pub fn of(live: &LiveLab) -> Topology {
    let lab = &live.lab;
    let networks = lab
        .networks
        .values()
        .map(|n| {
            let overlay = matches!(n.driver, Driver::Overlay { .. });
            Network {
                name: n.name.clone(),
                driver: if overlay { "overlay" } else { "bridge" }.into(),
                internal: n.internal,
                icc: n.icc,
                subnet: live
                    .network_subnets
                    .get(&n.name)
                    .copied()
                    .or(n.subnet)
                    .map(|s| s.to_string()),
                host: if overlay {
                    None
                } else {
                    lab.nodes
                        .values()
                        .find(|node| node.is_on(&n.name))
                        .map(|node| node.host.clone())
                        .or_else(|| lab.hosts.first().cloned())
                },
                mtu: n.mtu,
                encrypted: matches!(
                    n.driver,
                    Driver::Overlay {
                        encrypted: true,
                        ..
                    }
                ),
                subnet6: subnet6(live, &n.name).or(n.subnet6).map(|s| s.to_string()),
                ipv4: n.ipv4,
            }
        })
        .collect();
    let nodes = lab
        .nodes
        .values()
        .map(|n| {
            let running = live.nodes.get(&n.name);
            let address = |net: &str| {
                running
                    .and_then(|r| r.addresses.get(net))
                    .map(|ip| ip.to_string())
            };
            let address6 = |net: &str| {
                running
                    .and_then(|r| r.addresses6.get(net))
                    .map(|ip| ip.to_string())
            };
            let (mode, networks) = match &n.attachment {
                Attachment::Networks(list) => (
                    None,
                    list.iter()
                        .map(|a| Attached {
                            network: a.network.clone(),
                            aliases: a.aliases.clone(),
                            address: address(&a.network),
                            address6: address6(&a.network),
                        })
                        .collect(),
                ),
                Attachment::Shared(owner) => (Some(format!("container:{owner}")), Vec::new()),
                Attachment::Mode(m) => (
                    Some(m.as_str().to_owned()),
                    address("bridge")
                        .map(|ip| Attached {
                            network: "bridge".into(),
                            aliases: Vec::new(),
                            address: Some(ip),
                            address6: None,
                        })
                        .into_iter()
                        .collect(),
                ),
            };
            Node {
                name: n.name.clone(),
                host: n.host.clone(),
                image: n.image.clone(),
                mode,
                running: running.is_some_and(|r| r.running),
                networks,
                ports: running
                    .map(|r| {
                        r.ports
                            .iter()
                            .map(|p| Port {
                                host_ip: p.host_ip.to_string(),
                                host_port: p.host_port,
                                container_port: p.container_port,
                                transport: p.transport.as_str().into(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                serve: n.serve.iter().map(|l| l.to_string()).collect(),
            }
        })
        .collect();
    Topology {
        description: lab.description.clone(),
        hosts: lab.hosts.clone(),
        networks,
        nodes,
    }
}
