//! Lab → the engine objects to create: names, labels and settings of every
//! network and container, on which host each one goes, and a hash of each
//! one's settings so `up` of a changed lab recreates only what changed.
//! Pure: no Docker here, so it is unit-tested.
//!
//! Names are derived from the lab name with `_` as separator, which lab and
//! node names cannot contain, so two different labs never collide
//! (`netlab_a-b_c` vs `netlab_a_b-c`); netlab's own containers use `.`,
//! which no name of the lab file can contain.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use indexmap::IndexMap;
use ipnet::Ipv4Net;
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
/// On the claim: the host bindings, `east=unix:///…,west=tcp://…`, so `ls`
/// shows them without reading the record.
pub const LABEL_HOSTS: &str = "io.netlab.hosts";
/// On images netlab builds.
pub const LABEL_AGENT_IMAGE: &str = "io.netlab.agent";

/// Inside the agent image.
pub const AGENT_BINARY_PATH: &str = "/netlab";
/// Inside the claim container: the lab's record (see `engine::record`).
pub const RECORD_PATH: &str = "/netlab-record.json";

pub fn container_name(lab: &str, node: &str) -> String {
    format!("netlab_{lab}_{node}")
}

/// The probe helper of a node whose image is not the agent.
pub fn probe_helper_name(lab: &str, node: &str) -> String {
    format!("netlab_{lab}_{node}_probe")
}

pub fn network_name(lab: &str, network: &str) -> String {
    format!("netlab_{lab}_{network}")
}

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
    pub gateway: Option<Ipv4Addr>,
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
    let networks: Vec<NetworkPlan> = lab
        .networks
        .values()
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
            NetworkPlan {
                network: n.name.clone(),
                name: network_name(&lab.name, &n.name),
                labels: labels(&host, &[(LABEL_NETWORK, &n.name), (LABEL_HASH, &hash)]),
                hash,
                host,
                hosts,
                driver: n.driver,
                internal: n.internal,
                subnet: n.subnet,
                gateway: n.gateway,
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
                Attachment::Networks(list) => {
                    let endpoints: Vec<EndpointPlan> = list
                        .iter()
                        .map(|a| {
                            let mut aliases = vec![node.name.clone()];
                            aliases.extend(a.aliases.iter().cloned());
                            EndpointPlan {
                                network: network_name(&lab.name, &a.network),
                                aliases,
                                ipv4: a.ipv4,
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
                // Docker refuses a hostname together with the host's network stack.
                hostname: (!matches!(node.attachment, Attachment::Mode(NetworkMode::Host)))
                    .then(|| node.name.clone()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab;

    fn lab(yaml: &str) -> Lab {
        lab::load_source("t.yaml", yaml.as_bytes(), Some("t"))
            .expect("valid lab")
            .lab
    }

    fn plan_of(l: &Lab) -> Plan {
        let engines: IndexMap<String, String> = l
            .hosts
            .iter()
            .map(|h| (h.clone(), format!("unix:///run/{h}.sock")))
            .collect();
        plan(
            l,
            &PlanInputs {
                engines: &engines,
                agent_image: "netlab/agent:test",
            },
        )
    }

    #[test]
    fn names_cannot_collide_across_labs() {
        assert_ne!(container_name("a-b", "c"), container_name("a", "b-c"));
        assert_eq!(network_name("lab", "front"), "netlab_lab_front");
        // netlab's own containers use `.`, which no lab or node name has.
        assert_ne!(lock_name("lab"), container_name("lab", "lock"));
        assert_ne!(
            host_helper_name("lab", "east"),
            container_name("lab", "host")
        );
    }

    #[test]
    fn networks_carry_labels_icc_and_mtu() {
        let p = plan_of(&lab(
            "networks:\n  front: { icc: false, mtu: 1400, subnet: 10.77.0.0/24, internal: true }\nnodes:\n  web:\n    networks: [front]\n",
        ));
        let n = &p.networks[0];
        assert_eq!(n.name, "netlab_t_front");
        assert!(n.internal);
        assert_eq!(n.subnet, Some("10.77.0.0/24".parse().expect("cidr")));
        assert_eq!(n.options["com.docker.network.bridge.enable_icc"], "false");
        assert_eq!(n.options["com.docker.network.driver.mtu"], "1400");
        assert_eq!(n.labels[LABEL_LAB], "t");
        assert_eq!(n.labels[LABEL_NETWORK], "front");
        assert_eq!(n.labels[LABEL_HOST], "local");
        assert_eq!(n.labels[LABEL_HASH], n.hash);
    }

    #[test]
    fn containers_get_hostname_node_alias_first_network_and_agent_command() {
        let p = plan_of(&lab(
            "networks:\n  a: {}\n  b: { subnet: 10.78.0.0/24 }\nnodes:\n  web:\n    networks:\n      a: { aliases: [www] }\n      b: { ipv4: 10.78.0.9 }\n    serve: [tcp:7000, udp:7001]\n",
        ));
        let c = &p.containers[0];
        assert_eq!(c.name, "netlab_t_web");
        assert_eq!(c.hostname.as_deref(), Some("web"));
        assert_eq!(c.network_mode, "netlab_t_a");
        assert_eq!(c.endpoints[0].aliases, ["web", "www"]);
        assert_eq!(c.endpoints[1].aliases, ["web"]);
        assert_eq!(c.endpoints[1].ipv4, Some("10.78.0.9".parse().expect("ip")));
        assert_eq!(
            c.cmd.as_deref().expect("agent command").join(" "),
            "agent serve --lab t --node web --listen tcp:7000 --listen udp:7001"
        );
        assert_eq!(c.image, ImageRef::Agent);
        assert_eq!(c.labels[LABEL_ROLE], ROLE_NODE);
        assert_eq!(p.host_helpers.len(), 1);
        assert_eq!(p.host_helpers[0].network_mode, "host");
        assert_eq!(p.host_helpers[0].labels[LABEL_ROLE], ROLE_HOST_HELPER);
    }

    #[test]
    fn host_mode_has_no_hostname_and_ranges_expand_to_bindings() {
        let p = plan_of(&lab(
            "networks:\n  a: {}\nnodes:\n  h:\n    network_mode: host\n  p:\n    networks: [a]\n    ports: [\"127.0.0.1:8000-8001:80-81\", \"53/udp\"]\n",
        ));
        assert_eq!(p.containers[0].hostname, None);
        assert_eq!(p.containers[0].network_mode, "host");
        let ports = &p.containers[1].ports;
        assert_eq!(ports.len(), 3);
        assert_eq!(
            (ports[1].container_port, ports[1].host_port),
            (81, Some(8001))
        );
        assert_eq!(ports[2].port_key(), "53/udp");
        assert_eq!(ports[2].host_port, None);
    }

    #[test]
    fn nodes_and_networks_go_to_their_hosts_and_an_overlay_spans_them() {
        let p = plan_of(&lab(
            "hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\n  lan: {}\nnodes:\n  web: { host: east, networks: [ov, lan] }\n  db: { host: west, networks: [ov] }\n",
        ));
        let ov = &p.networks[0];
        assert_eq!(
            (ov.host.as_str(), ov.hosts.clone()),
            ("east", vec!["east".to_owned(), "west".to_owned()])
        );
        assert_eq!(p.networks[1].host, "east");
        assert_eq!(p.swarm_hosts(), ["east", "west"]);
        assert_eq!(p.containers[1].host, "west");
        assert_eq!(
            p.containers[1].cmd.as_deref().expect("cmd").join(" "),
            "agent serve --lab t --node db --host west"
        );
        let helpers: Vec<&str> = p.host_helpers.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(helpers, ["east", "west"]);
    }

    fn running(p: &Plan) -> Running {
        let mut r = Running::default();
        for n in &p.networks {
            r.networks
                .insert(n.network.clone(), (n.host.clone(), n.hash.clone()));
        }
        for c in &p.containers {
            r.nodes
                .insert(c.node.clone(), (c.host.clone(), c.hash.clone()));
        }
        for h in &p.host_helpers {
            r.helpers
                .insert(h.host.clone(), (h.host.clone(), h.hash.clone()));
        }
        r
    }

    const BASE: &str = "networks:\n  front: {}\n  back: {}\nnodes:\n  web:\n    networks:\n      front: { aliases: [www] }\n  api:\n    networks: [front, back]\n  db:\n    networks: [back]\n";

    #[test]
    fn an_unchanged_lab_changes_nothing_and_checks_do_not_count() {
        let before = plan_of(&lab(BASE));
        let with_checks =
            format!("{BASE}checks:\n  - tcp: {{ from: api, to: db:80, expect: refused }}\n");
        let after = plan_of(&lab(&with_checks));
        let c = changes(&after, &running(&before));
        assert!(c.is_empty(), "{c:?}");
        assert_eq!(c.nodes.unchanged, ["web", "api", "db"]);
    }

    #[test]
    fn one_changed_node_is_recreated_alone() {
        let before = plan_of(&lab(BASE));
        let after = plan_of(&lab(&BASE.replace("aliases: [www]", "aliases: [www2]")));
        let c = changes(&after, &running(&before));
        assert_eq!(c.nodes.recreate, ["web"]);
        assert_eq!(c.nodes.unchanged, ["api", "db"]);
        assert!(c.networks.recreate.is_empty() && c.networks.create.is_empty());
    }

    #[test]
    fn a_changed_network_takes_its_nodes_along_and_a_dropped_node_goes() {
        let before = plan_of(&lab(BASE));
        let after_text = BASE
            .replace("  back: {}", "  back: { icc: false }")
            .replace("  db:\n    networks: [back]\n", "");
        let after = plan_of(&lab(&after_text));
        let c = changes(&after, &running(&before));
        assert_eq!(c.networks.recreate, ["back"]);
        assert_eq!(c.nodes.recreate, ["api"]);
        assert_eq!(c.nodes.remove, ["db"]);
        assert_eq!(c.nodes.unchanged, ["web"]);
    }

    #[test]
    fn a_new_network_is_created_and_a_node_moved_to_another_engine_is_recreated() {
        let before = plan_of(&lab(BASE));
        let after = plan_of(&lab(&format!("{BASE}  cache:\n    networks: [extra]\n")
            .replace("  back: {}", "  back: {}\n  extra: {}")));
        let c = changes(&after, &running(&before));
        assert_eq!(c.networks.create, ["extra"]);
        assert_eq!(c.nodes.create, ["cache"]);
        let mut moved = running(&before);
        moved
            .nodes
            .insert("db".into(), ("local".into(), "another-hash".into()));
        assert_eq!(changes(&before, &moved).nodes.recreate, ["db"]);
    }
}
