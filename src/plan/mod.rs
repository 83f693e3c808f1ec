//! Lab → the engine objects to create: names, labels and settings of every
//! network and container, on which host each one goes, and a hash of each
//! one's settings so `up` of a changed lab recreates only what changed.
//! Pure: no Docker here, so it is unit-tested.
//!
//! Names are derived from the lab name with `_` as separator, which lab
//! names cannot contain, so two different labs never collide
//! (`netlab_a-b_c` vs `netlab_a_b-c`). A node's container is
//! `netlab_<lab>_<node>`; the lab's own containers are `netlab_<lab>.…`;
//! a node's helpers add `..` to its container's name, which no node or
//! network name contains (node and network names are Docker's own:
//! `pay_gw`, `API.v2`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use indexmap::IndexMap;
use ipnet::{Ipv4Net, Ipv6Net};
use sha2::{Digest, Sha256};

use crate::lab::{Attachment, CheckKind, Driver, Lab, Network, NetworkMode, Node, Transport};
use crate::vocab::ListenerProto;

pub const LABEL_LAB: &str = "io.netlab.lab";
pub const LABEL_NODE: &str = "io.netlab.node";
pub const LABEL_NETWORK: &str = "io.netlab.network";
/// The logical host an object belongs to.
pub const LABEL_HOST: &str = "io.netlab.host";
/// A hash of the object's settings: equal means unchanged.
pub const LABEL_HASH: &str = "io.netlab.hash";
/// What a container is to netlab (see the `ROLE_` values).
pub const LABEL_ROLE: &str = "io.netlab.role";
/// A node of the lab.
pub const ROLE_NODE: &str = "node";
/// The probe helper of a node whose image is not the agent.
pub const ROLE_PROBE_HELPER: &str = "probe";
/// A Docker host's host-network helper: probes "from the host" run there.
pub const ROLE_HOST_HELPER: &str = "host";
/// The lab's record: created, never started, holds `RECORD_PATH`.
pub const ROLE_CLAIM: &str = "claim";
/// Held while a netlab changes the lab: only one can create it.
pub const ROLE_LOCK: &str = "lock";
/// A helper that impairs one of a node's links (`impair` in a step).
pub const ROLE_IMPAIR: &str = "impair";
/// Held while a verify runs the lab's steps (see `plan::steps`).
pub const ROLE_STEPS: &str = "steps";
/// On the claim: the host bindings, `east=unix:///…,west=tcp://…`, so `ls`
/// shows them without reading the record.
pub const LABEL_HOSTS: &str = "io.netlab.hosts";
/// On images netlab builds.
pub const LABEL_AGENT_IMAGE: &str = "io.netlab.agent";
/// On a network with `parent: lab`: the dummy interface it hangs off.
pub const LABEL_PARENT: &str = "io.netlab.parent";
/// A helper that makes or removes a lab's dummy parents.
pub const ROLE_PARENT_HELPER: &str = "parent";

/// Inside the agent image.
pub const AGENT_BINARY_PATH: &str = "/netlab";
/// Inside the claim container: the lab's record (see `engine::record`).
pub const RECORD_PATH: &str = "/netlab-record.json";

pub fn container_name(lab: &str, node: &str) -> String {
    format!("netlab_{lab}_{node}")
}

/// The probe helper of a node whose image is not the agent.
pub fn probe_helper_name(lab: &str, node: &str) -> String {
    format!("netlab_{lab}_{node}..probe")
}

/// The engine's name of a lab network; `bridge` (which no lab network is
/// called) is Docker's default bridge.
pub fn network_name(lab: &str, network: &str) -> String {
    if network == DEFAULT_BRIDGE {
        return DEFAULT_BRIDGE.to_owned();
    }
    format!("netlab_{lab}_{network}")
}

/// The engine's name of a network of `lab`: an external network's own
/// name, else as `network_name`.
pub fn engine_network(lab: &Lab, network: &str) -> String {
    match lab.networks.get(network).and_then(|n| n.external.as_ref()) {
        Some(name) => name.clone(),
        None => network_name(&lab.name, network),
    }
}

/// The dummy interface a network with `parent: lab` hangs off: at most 15
/// bytes (IFNAMSIZ), the same for the same lab and network.
pub fn parent_interface_name(lab: &str, network: &str) -> String {
    let hash = short_hash(&format!("{lab}/{network}"));
    format!("nlp{}", &hash[..10])
}

/// The helper that makes or removes the lab's dummy parents on a host.
pub fn parent_helper_name(lab: &str, host: &str) -> String {
    format!("netlab_{lab}.parent.{host}")
}

/// Docker's default bridge, in a node's `networks:` and in the engine.
pub const DEFAULT_BRIDGE: &str = "bridge";

/// The lab's claim: exists while the lab is up; only one can be created.
pub fn claim_name(lab: &str) -> String {
    format!("netlab_{lab}")
}

pub fn lock_name(lab: &str) -> String {
    format!("netlab_{lab}.lock")
}

pub fn host_helper_name(lab: &str, host: &str) -> String {
    format!("netlab_{lab}.host.{host}")
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub lab: String,
    pub networks: Vec<NetworkPlan>,
    /// The lab's nodes.
    pub containers: Vec<ContainerPlan>,
    /// One host-network helper per host that runs nodes.
    pub host_helpers: Vec<ContainerPlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPlan {
    /// The lab's name for it.
    pub network: String,
    /// The engine's name for it.
    pub name: String,
    /// The host it is created on: a bridge on the host of its nodes, an
    /// overlay on the first of its hosts (the swarm makes it span them).
    pub host: String,
    /// Every host with a node on it.
    pub hosts: Vec<String>,
    pub driver: Driver,
    pub internal: bool,
    pub subnet: Option<Ipv4Net>,
    /// Further IPv4 subnets (ipvlan l3).
    pub more_subnets: Vec<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    /// `false`: an IPv6-only network (Docker 28+).
    pub ipv4: bool,
    pub ipv6: bool,
    /// The IPv6 subnet: the file's, or (when it has none) the one `up`
    /// picks before the network is made.
    pub subnet6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    /// The dummy interface it hangs off (`parent: lab`), made by the lab
    /// before the network.
    pub parent: Option<String>,
    /// Driver options, including icc and MTU.
    pub options: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageRef {
    Agent,
    Foreign(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    pub name: String,
    /// The node; for a host helper, the host's source name (`host@east`).
    pub node: String,
    pub host: String,
    pub image: ImageRef,
    /// Arguments after the image's entrypoint; `None` keeps the image's own.
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub hostname: Option<String>,
    /// `/etc/hosts` lines as Docker takes them: `name:address`.
    pub extra_hosts: Vec<String>,
    pub labels: HashMap<String, String>,
    /// `host`, `none`, `bridge`, or the engine name of the first network.
    pub network_mode: String,
    /// Lab networks in order; the first is joined at create, the others
    /// before start (Engine API 1.41 takes one network at create).
    pub endpoints: Vec<EndpointPlan>,
    pub ports: Vec<PortBindingPlan>,
    /// An agent with an `https` listener: it needs a certificate.
    pub serves_https: bool,
    /// Its certificate comes from the lab's other CA, which checks do not
    /// trust (`ca: other` in the lab file).
    pub other_ca: bool,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointPlan {
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// Legacy links on this network: `container:alias`.
    pub links: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PortBindingPlan {
    pub container_port: u16,
    pub transport: Transport,
    pub host_ip: Option<IpAddr>,
    /// `None`: the engine picks one.
    pub host_port: Option<u16>,
}

/// Whether the lab needs a CA: an https listener, or a check that speaks TLS.
pub fn uses_tls(lab: &Lab) -> bool {
    lab.nodes
        .values()
        .any(|n| n.serve.iter().any(|l| l.proto == ListenerProto::Https))
        || lab
            .checks
            .iter()
            .any(|c| matches!(c.kind, CheckKind::Tls { .. } | CheckKind::Http { .. }))
}

impl ContainerPlan {
    /// The names a node's certificate must cover: the node name first, then
    /// its aliases.
    pub fn dns_names(&self) -> Vec<String> {
        let mut names = vec![self.node.clone()];
        for alias in self.endpoints.iter().flat_map(|e| &e.aliases) {
            if !names.contains(alias) {
                names.push(alias.clone());
            }
        }
        names
    }

    pub fn is_agent(&self) -> bool {
        self.image == ImageRef::Agent
    }
}

impl Plan {
    pub fn needs_swarm(&self) -> bool {
        self.networks
            .iter()
            .any(|n| matches!(n.driver, Driver::Overlay { .. }))
    }

    /// Hosts with a node on an overlay network: the ones that must share a
    /// swarm.
    pub fn swarm_hosts(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in self
            .networks
            .iter()
            .filter(|n| matches!(n.driver, Driver::Overlay { .. }))
        {
            for h in std::iter::once(&n.host).chain(&n.hosts) {
                if !out.contains(h) {
                    out.push(h.clone());
                }
            }
        }
        out
    }
}

impl PortBindingPlan {
    /// The engine's key for a container port: `80/tcp`.
    pub fn port_key(&self) -> String {
        format!("{}/{}", self.container_port, self.transport.as_str())
    }
}

/// 12 hex digits of a SHA-256.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// What a plan depends on besides the lab: which engine each host is, and
/// which agent image runs.
pub struct PlanInputs<'a> {
    /// Logical host → engine address.
    pub engines: &'a IndexMap<String, String>,
    pub agent_image: &'a str,
}

/// A network's settings and where it lives: when these change, it must be
/// made again.
fn network_hash(n: &Network, host: &str, hosts: &[String], inputs: &PlanInputs) -> String {
    let engines: Vec<&str> = std::iter::once(host)
        .chain(hosts.iter().map(String::as_str))
        .map(|h| inputs.engines.get(h).map(String::as_str).unwrap_or(h))
        .collect();
    short_hash(&serde_json::json!({ "network": n, "engines": engines }).to_string())
}

/// A node's settings, the hashes of the networks it joins, its engine and
/// (for the agent) the agent image.
fn node_hash(node: &Node, network_hashes: &[&str], inputs: &PlanInputs) -> String {
    let image = if node.is_agent() {
        inputs.agent_image
    } else {
        ""
    };
    short_hash(
        &serde_json::json!({
            "node": node,
            "networks": network_hashes,
            "engine": inputs.engines.get(&node.host),
            "image": image,
        })
        .to_string(),
    )
}

/// A node's links on `network` as Docker takes them: each linked node on
/// it, `container:alias` (none on the default bridge).
pub fn endpoint_links(lab: &Lab, node: &Node, network: &str) -> Vec<String> {
    if network == DEFAULT_BRIDGE {
        return Vec::new();
    }
    node.links
        .iter()
        .filter(|(target, _)| lab.nodes.get(target).is_some_and(|t| t.is_on(network)))
        .map(|(target, alias)| format!("{}:{alias}", container_name(&lab.name, target)))
        .collect()
}

fn agent_serve(lab: &Lab, node: &str, host: &str) -> Vec<String> {
    let mut cmd: Vec<String> = ["agent", "serve", "--lab", &lab.name, "--node", node]
        .map(String::from)
        .to_vec();
    if lab.is_multi_host() {
        cmd.extend(["--host".to_owned(), host.to_owned()]);
    }
    cmd
}

pub fn plan(lab: &Lab, inputs: &PlanInputs) -> Plan {
    let labels = |host: &str, extra: &[(&str, &str)]| -> HashMap<String, String> {
        let mut l = HashMap::from([
            (LABEL_LAB.to_owned(), lab.name.clone()),
            (LABEL_HOST.to_owned(), host.to_owned()),
        ]);
        for (k, v) in extra {
            l.insert((*k).to_owned(), (*v).to_owned());
        }
        l
    };
    let first_host = lab.hosts.first().cloned().unwrap_or_default();
    // An external network is the engine's already: never made or removed.
    let networks: Vec<NetworkPlan> = lab
        .networks
        .values()
        .filter(|n| n.external.is_none())
        .map(|n| {
            let hosts: Vec<String> = lab
                .hosts
                .iter()
                .filter(|h| {
                    lab.nodes
                        .values()
                        .any(|node| node.host == **h && node.is_on(&n.name))
                })
                .cloned()
                .collect();
            let host = hosts.first().cloned().unwrap_or_else(|| first_host.clone());
            let mut options: HashMap<String, String> = n.options.clone().into_iter().collect();
            if !n.icc {
                options.insert(
                    "com.docker.network.bridge.enable_icc".into(),
                    "false".into(),
                );
            }
            if let Some(mtu) = n.mtu {
                options.insert("com.docker.network.driver.mtu".into(), mtu.to_string());
            }
            if let Driver::Overlay {
                encrypted: true, ..
            } = n.driver
            {
                options.insert("encrypted".into(), String::new());
            }
            let hash = network_hash(n, &host, &hosts, inputs);
            let parent = n
                .lab_parent
                .then(|| parent_interface_name(&lab.name, &n.name));
            let mut extra = vec![
                (LABEL_NETWORK, n.name.as_str()),
                (LABEL_HASH, hash.as_str()),
            ];
            if let Some(p) = &parent {
                options.insert("parent".into(), p.clone());
                extra.push((LABEL_PARENT, p.as_str()));
            }
            NetworkPlan {
                network: n.name.clone(),
                name: network_name(&lab.name, &n.name),
                labels: labels(&host, &extra),
                parent,
                hash,
                host,
                hosts,
                driver: n.driver,
                internal: n.internal,
                subnet: n.subnet,
                more_subnets: n.more_subnets.clone(),
                gateway: n.gateway,
                ipv4: n.ipv4,
                ipv6: n.ipv6,
                subnet6: n.subnet6,
                gateway6: n.gateway6,
                options,
            }
        })
        .collect();
    let containers = lab
        .nodes
        .values()
        .map(|node| {
            let joined: Vec<&str> = node
                .networks()
                .filter_map(|a| networks.iter().find(|n| n.network == a.network))
                .map(|n| n.hash.as_str())
                .collect();
            let hash = node_hash(node, &joined, inputs);
            let (network_mode, endpoints) = match &node.attachment {
                Attachment::Mode(mode) => (mode.as_str().to_owned(), Vec::new()),
                Attachment::Shared(owner) => (
                    format!("container:{}", container_name(&lab.name, owner)),
                    Vec::new(),
                ),
                Attachment::Networks(list) => {
                    let endpoints: Vec<EndpointPlan> = list
                        .iter()
                        .map(|a| {
                            // Docker's default bridge takes no aliases.
                            let mut aliases = Vec::new();
                            if a.network != DEFAULT_BRIDGE {
                                aliases.push(node.name.clone());
                                aliases.extend(a.aliases.iter().cloned());
                            }
                            EndpointPlan {
                                network: engine_network(lab, &a.network),
                                aliases,
                                ipv4: a.ipv4,
                                ipv6: a.ipv6,
                                links: endpoint_links(lab, node, &a.network),
                            }
                        })
                        .collect();
                    let mode = endpoints
                        .first()
                        .map(|e| e.network.clone())
                        .unwrap_or_else(|| "none".into());
                    (mode, endpoints)
                }
            };
            let cmd = match &node.image {
                None => {
                    let mut cmd = agent_serve(lab, &node.name, &node.host);
                    for l in &node.serve {
                        cmd.push("--listen".into());
                        cmd.push(l.to_string());
                    }
                    Some(cmd)
                }
                Some(_) => node.command.clone(),
            };
            let ports =
                node.ports
                    .iter()
                    .flat_map(|p| {
                        p.container_ports.iter().enumerate().map(move |(i, cport)| {
                            PortBindingPlan {
                                container_port: cport,
                                transport: p.transport,
                                host_ip: p.host_ip,
                                host_port: p
                                    .host_ports
                                    .and_then(|h| h.first.checked_add(u16::try_from(i).ok()?)),
                            }
                        })
                    })
                    .collect();
            ContainerPlan {
                name: container_name(&lab.name, &node.name),
                node: node.name.clone(),
                host: node.host.clone(),
                image: match &node.image {
                    None => ImageRef::Agent,
                    Some(i) => ImageRef::Foreign(i.clone()),
                },
                cmd,
                env: node.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                // Docker refuses a hostname together with the host's network
                // stack, or with another container's (a sidecar has its owner's).
                hostname: (!matches!(
                    node.attachment,
                    Attachment::Mode(NetworkMode::Host) | Attachment::Shared(_)
                ))
                .then(|| node.hostname.clone().unwrap_or_else(|| node.name.clone())),
                extra_hosts: node
                    .extra_hosts
                    .iter()
                    .map(|(name, address)| format!("{name}:{address}"))
                    .collect(),
                labels: labels(
                    &node.host,
                    &[
                        (LABEL_ROLE, ROLE_NODE),
                        (LABEL_NODE, &node.name),
                        (LABEL_HASH, &hash),
                    ],
                ),
                network_mode,
                endpoints,
                ports,
                serves_https: node.serve.iter().any(|l| l.proto == ListenerProto::Https),
                other_ca: node.other_ca,
                hash,
            }
        })
        .collect();
    let host_helpers = lab
        .used_hosts()
        .into_iter()
        .map(|host| {
            let source = format!("host@{host}");
            let hash = short_hash(&format!(
                "{}{}",
                inputs.engines.get(host).map(String::as_str).unwrap_or(host),
                inputs.agent_image
            ));
            ContainerPlan {
                name: host_helper_name(&lab.name, host),
                node: source.clone(),
                host: host.to_owned(),
                image: ImageRef::Agent,
                cmd: Some(agent_serve(lab, &source, host)),
                env: Vec::new(),
                hostname: None,
                extra_hosts: Vec::new(),
                labels: labels(host, &[(LABEL_ROLE, ROLE_HOST_HELPER), (LABEL_HASH, &hash)]),
                network_mode: "host".into(),
                endpoints: Vec::new(),
                ports: Vec::new(),
                serves_https: false,
                other_ca: false,
                hash,
            }
        })
        .collect();
    Plan {
        lab: lab.name.clone(),
        networks,
        containers,
        host_helpers,
    }
}

mod changes;
pub mod steps;
pub mod ula;
pub use changes::{Changes, Delta, Running, changes};

#[cfg(test)]
mod tests;
