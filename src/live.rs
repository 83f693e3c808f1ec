//! What is running, as plain data: the lab's stored definition, each node's
//! state, addresses and published ports. `engine::discover` fills it from the
//! engine; `check` reads it to pick addresses and classify observations, so
//! classification is tested without any engine type.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use indexmap::IndexMap;

use crate::lab::reach::Topology;
use crate::lab::requires::EngineFacts;
use crate::lab::{IpFamily, Lab, Node, Transport};

/// A lab as it runs: its stored definition, each node's container and each
/// host's helper.
#[derive(Debug, Clone)]
pub struct LiveLab {
    pub lab: Lab,
    /// The lab CA's certificate (PEM), if `up` made one.
    pub ca_pem: Option<String>,
    /// The certificate of the CA that `ca: other` nodes use.
    pub other_ca_pem: Option<String>,
    pub nodes: HashMap<String, LiveNode>,
    /// Each lab network's IPv4 subnet as the engine allocated it (declared
    /// or not); for the report's picture of the lab.
    pub network_subnets: HashMap<String, ipnet::Ipv4Net>,
    /// Per logical host that runs nodes.
    pub hosts: IndexMap<String, LiveHost>,
    /// The agent image the lab runs (its helpers are made of it too).
    pub agent_image: String,
    /// The subnets of the lab's networks as the engines made them.
    pub subnets: Vec<ipnet::IpNet>,
    /// This verify may aim outside the lab (`--allow-external`).
    pub allow_external: bool,
}

/// A Docker host of the lab.
#[derive(Debug, Clone, Default)]
pub struct LiveHost {
    /// Its host-network helper, where probes "from the host" run (`None` if
    /// it is missing).
    pub helper: Option<String>,
    /// The ID of the engine it is: two hosts on one engine share one.
    pub engine: String,
    /// Its version and what follows from it, for `requires:`.
    pub facts: EngineFacts,
}

impl LiveLab {
    /// Whether two logical hosts are one engine (one network stack).
    pub fn same_engine(&self, a: &str, b: &str) -> bool {
        a == b
            || matches!((self.hosts.get(a), self.hosts.get(b)), (Some(x), Some(y)) if x.engine == y.engine)
    }
}

impl LiveLab {
    /// The lab's nodes on the networks they are on as they run now (a step
    /// may have connected or disconnected them); a node that is not running
    /// shows no networks, so it keeps the file's.
    pub fn nodes_now(&self) -> IndexMap<String, Node> {
        crate::lab::reach::moved(&self.lab.nodes, &self.lab.networks, |name| {
            let n = self.nodes.get(name).filter(|n| n.running)?;
            Some(
                n.addresses
                    .keys()
                    .chain(n.addresses6.keys())
                    // Docker's default bridge (`bridge`) is none of the
                    // lab's networks, and a node may be on it too.
                    .filter(|net| self.lab.networks.contains_key(*net) || *net == "bridge")
                    .cloned()
                    .collect(),
            )
        })
    }

    /// What `lab::reach` reads, with `nodes` from [`LiveLab::nodes_now`].
    pub fn topology_of<'a>(&'a self, nodes: &'a IndexMap<String, Node>) -> Topology<'a> {
        Topology {
            nodes,
            networks: &self.lab.networks,
            hosts: &self.lab.hosts,
        }
    }
}

impl LiveLab {
    /// Where the probes of `source` run: a logical host and a container.
    pub fn probe_site(&self, source: &crate::lab::Source) -> Result<(String, String), String> {
        use crate::lab::Source;
        let host = self.lab.host_of(source).to_owned();
        let container = match source {
            Source::Node(n) => self
                .nodes
                .get(n)
                .ok_or_else(|| format!("node `{n}` has no container"))?
                .probe_container
                .clone()
                .ok_or_else(|| match self.nodes.get(n).and_then(|l| l.stale_helper.as_ref()) {
                    Some(_) => format!(
                        "the probe helper of node `{n}` is in the network namespace the node had before it restarted"
                    ),
                    None => format!(
                        "the probe helper of node `{n}` is not running (run `netlab up` again)"
                    ),
                })?,
            Source::Host(_) => self
                .hosts
                .get(&host)
                .and_then(|h| h.helper.clone())
                .ok_or_else(|| {
                    format!("the host helper of host {host} is not running (run `netlab up` again)")
                })?,
        };
        Ok((host, container))
    }
}

#[derive(Debug, Clone)]
pub struct LiveNode {
    /// The logical host it runs on.
    pub host: String,
    /// Where this node's probes run: its own container, or for a node of a
    /// foreign image, its probe helper (`None` if the helper is missing).
    pub probe_container: Option<String>,
    pub running: bool,
    /// The engine's word for the state (running, exited, ...), with the
    /// exit code when it stopped.
    pub state: String,
    /// Address per lab network (`bridge` for Docker's default bridge), in
    /// the node's declaration order.
    pub addresses: IndexMap<String, Ipv4Addr>,
    /// The gateway of each of those networks: how a container reaches the
    /// host (and so a node in host mode).
    pub gateways: IndexMap<String, Ipv4Addr>,
    /// IPv6 address per lab network that has IPv6, in the same order.
    pub addresses6: IndexMap<String, Ipv6Addr>,
    /// The IPv6 gateway of each of those networks.
    pub gateways6: IndexMap<String, Ipv6Addr>,
    /// Published ports as the engine mapped them (random ones resolved).
    pub ports: Vec<PublishedPort>,
    /// A foreign node's probe helper that still sits in the network
    /// namespace the node had before it restarted: it must be restarted
    /// before it can probe for the node.
    pub stale_helper: Option<String>,
}

impl LiveNode {
    /// Its address of `family` on a lab network.
    pub fn address(&self, network: &str, family: IpFamily) -> Option<IpAddr> {
        match family {
            IpFamily::V4 => self.addresses.get(network).map(|ip| IpAddr::V4(*ip)),
            IpFamily::V6 => self.addresses6.get(network).map(|ip| IpAddr::V6(*ip)),
        }
    }

    /// The networks it has an address on, of either family.
    pub fn all_networks(&self) -> impl Iterator<Item = &str> + '_ {
        self.addresses
            .keys()
            .chain(self.addresses6.keys())
            .map(String::as_str)
    }

    /// Every address it has, IPv4 first.
    pub fn all_addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.addresses
            .values()
            .map(|ip| IpAddr::V4(*ip))
            .chain(self.addresses6.values().map(|ip| IpAddr::V6(*ip)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    pub container_port: u16,
    pub transport: Transport,
    /// `0.0.0.0` / `::` for all addresses.
    pub host_ip: IpAddr,
    pub host_port: u16,
}

impl std::fmt::Display for PublishedPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}→{}/{}",
            std::net::SocketAddr::new(self.host_ip, self.host_port),
            self.container_port,
            self.transport.as_str()
        )
    }
}
