//! Lab → the engine objects to create: names, labels and settings of every
//! network and container. Pure: no Docker here, so it is unit-tested.
//!
//! Names are derived from the lab name with `_` as separator, which lab and
//! node names cannot contain, so two different labs never collide
//! (`netlab_a-b_c` vs `netlab_a_b-c`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

use crate::lab::{Attachment, Driver, Lab, NetworkMode, Transport};
use crate::vocab::ListenerProto;

pub const LABEL_LAB: &str = "io.netlab.lab";
pub const LABEL_NODE: &str = "io.netlab.node";
pub const LABEL_NETWORK: &str = "io.netlab.network";
pub const LABEL_SPEC_HASH: &str = "io.netlab.spec-hash";
/// The whole validated lab as JSON, on every container: the engine is the
/// only state, so `verify` needs no lab file.
pub const LABEL_SPEC: &str = "io.netlab.spec";
/// `probe` on the helper that runs probes for a node of a foreign image.
pub const LABEL_ROLE: &str = "io.netlab.role";
pub const ROLE_PROBE_HELPER: &str = "probe";
/// The lab CA's certificate (PEM, public), on every container of a lab
/// that uses TLS: how verify trusts it without the lab file.
pub const LABEL_CA: &str = "io.netlab.ca";
/// On images netlab builds.
pub const LABEL_AGENT_IMAGE: &str = "io.netlab.agent";

/// Inside the agent image.
pub const AGENT_BINARY_PATH: &str = "/netlab";

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

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub lab: String,
    pub spec_hash: String,
    pub networks: Vec<NetworkPlan>,
    pub containers: Vec<ContainerPlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkPlan {
    pub name: String,
    pub driver: Driver,
    pub internal: bool,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    /// Driver options, including icc and MTU.
    pub options: HashMap<String, String>,
    pub labels: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ImageRef {
    Agent,
    Foreign(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    pub name: String,
    pub node: String,
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
        || lab.checks.iter().any(|c| {
            matches!(
                c.kind,
                crate::lab::CheckKind::Tls { .. } | crate::lab::CheckKind::Http { .. }
            )
        })
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
}

impl Plan {
    pub fn needs_swarm(&self) -> bool {
        self.networks
            .iter()
            .any(|n| matches!(n.driver, Driver::Overlay { .. }))
    }
}

impl PortBindingPlan {
    /// The engine's key for a container port: `80/tcp`.
    pub fn port_key(&self) -> String {
        format!("{}/{}", self.container_port, self.transport.as_str())
    }
}

pub fn spec_json(lab: &Lab) -> String {
    // A Lab holds only strings, numbers and maps with string keys.
    serde_json::to_string(lab).unwrap_or_default()
}

pub fn spec_hash(spec_json: &str) -> String {
    let digest = Sha256::digest(spec_json.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

pub fn plan(lab: &Lab) -> Plan {
    let spec = spec_json(lab);
    let hash = spec_hash(&spec);
    let base_labels = |extra: (&str, &str)| -> HashMap<String, String> {
        HashMap::from([
            (LABEL_LAB.to_owned(), lab.name.clone()),
            (LABEL_SPEC_HASH.to_owned(), hash.clone()),
            (extra.0.to_owned(), extra.1.to_owned()),
        ])
    };
    let networks = lab
        .networks
        .values()
        .map(|n| {
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
            NetworkPlan {
                name: network_name(&lab.name, &n.name),
                driver: n.driver,
                internal: n.internal,
                subnet: n.subnet,
                gateway: n.gateway,
                options,
                labels: base_labels((LABEL_NETWORK, &n.name)),
            }
        })
        .collect();
    let containers = lab
        .nodes
        .values()
        .map(|node| {
            let mut labels = base_labels((LABEL_NODE, &node.name));
            labels.insert(LABEL_SPEC.to_owned(), spec.clone());
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
                    let mut cmd: Vec<String> =
                        ["agent", "serve", "--lab", &lab.name, "--node", &node.name]
                            .map(String::from)
                            .to_vec();
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
                image: match &node.image {
                    None => ImageRef::Agent,
                    Some(i) => ImageRef::Foreign(i.clone()),
                },
                cmd,
                env: node.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                // Docker refuses a hostname together with the host's network stack.
                hostname: (!matches!(node.attachment, Attachment::Mode(NetworkMode::Host)))
                    .then(|| node.name.clone()),
                labels,
                network_mode,
                endpoints,
                ports,
                serves_https: node.serve.iter().any(|l| l.proto == ListenerProto::Https),
            }
        })
        .collect();
    Plan {
        lab: lab.name.clone(),
        spec_hash: hash,
        networks,
        containers,
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

    #[test]
    fn names_cannot_collide_across_labs() {
        assert_ne!(container_name("a-b", "c"), container_name("a", "b-c"));
        assert_eq!(network_name("lab", "front"), "netlab_lab_front");
    }

    #[test]
    fn networks_carry_labels_icc_and_mtu() {
        let p = plan(&lab(
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
        assert_eq!(n.labels[LABEL_SPEC_HASH], p.spec_hash);
    }

    #[test]
    fn containers_get_hostname_node_alias_first_network_and_agent_command() {
        let p = plan(&lab(
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
        let stored: Lab =
            serde_json::from_str(&c.labels[LABEL_SPEC]).expect("the stored lab reads back");
        assert_eq!(stored.nodes["web"].serve.len(), 2);
    }

    #[test]
    fn host_mode_has_no_hostname_and_ranges_expand_to_bindings() {
        let p = plan(&lab(
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
    fn spec_hash_follows_the_lab() {
        let a = plan(&lab("nodes:\n  web:\n    network_mode: none\n"));
        let b = plan(&lab("nodes:\n  web:\n    network_mode: bridge\n"));
        assert_ne!(a.spec_hash, b.spec_hash);
        assert_eq!(a.spec_hash.len(), 12);
    }
}
