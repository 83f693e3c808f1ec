//! What is up, read from the engines alone: labels say which object belongs
//! to which lab, host and role, and the lab's claim holds its record, so
//! `verify`, `down` and `ls` need no lab file and work after a crash.

use std::collections::{BTreeMap, HashMap};

use bollard::models::ContainerInspectResponse;
use futures::{StreamExt, TryStreamExt};
use indexmap::IndexMap;

use super::container::{self, Listed};
use super::record::Record;
use super::{CONCURRENCY, Engine, EngineError, Result, network};
use crate::lab::{Attachment, Lab, NetworkMode};
use crate::live::{LiveHost, LiveLab, LiveNode};
use crate::plan::{
    self, LABEL_HASH, LABEL_HOST, LABEL_LAB, LABEL_NETWORK, LABEL_NODE, ROLE_CLAIM,
    ROLE_HOST_HELPER, ROLE_LOCK, ROLE_NODE, ROLE_PROBE_HELPER, Running,
};

/// Every object of one lab on one engine.
#[derive(Debug, Default, Clone)]
pub struct LabObjects {
    pub containers: Vec<Listed>,
    pub networks: Vec<network::Listed>,
}

impl LabObjects {
    fn with_role(&self, role: &str) -> Option<&Listed> {
        self.containers.iter().find(|c| c.role() == role)
    }

    /// The lab's claim, on the default engine: the lab is (being) up.
    pub fn claim(&self) -> Option<&Listed> {
        self.with_role(ROLE_CLAIM)
    }

    /// Held while a netlab changes the lab.
    pub fn lock(&self) -> Option<&Listed> {
        self.with_role(ROLE_LOCK)
    }

    pub fn extend(&mut self, other: LabObjects) {
        self.containers.extend(other.containers);
        self.networks.extend(other.networks);
    }

    /// Node containers and nodes that are not running.
    pub fn node_counts(&self) -> (usize, usize) {
        let nodes: Vec<&Listed> = self
            .containers
            .iter()
            .filter(|c| c.role() == ROLE_NODE)
            .collect();
        let running = nodes.iter().filter(|c| c.state == "running").count();
        (nodes.len(), running)
    }

    /// Each object's host and hash, for `plan::changes`.
    pub fn running(&self) -> Running {
        let mut out = Running::default();
        let entry =
            |labels: &HashMap<String, String>, key: &str| -> Option<(String, (String, String))> {
                Some((
                    labels.get(key)?.clone(),
                    (
                        labels.get(LABEL_HOST).cloned().unwrap_or_default(),
                        labels.get(LABEL_HASH).cloned().unwrap_or_default(),
                    ),
                ))
            };
        for c in &self.containers {
            match c.role() {
                ROLE_NODE => out.nodes.extend(entry(&c.labels, LABEL_NODE)),
                ROLE_HOST_HELPER => out.helpers.extend(entry(&c.labels, LABEL_HOST)),
                _ => {}
            }
        }
        for n in &self.networks {
            out.networks.extend(entry(&n.labels, LABEL_NETWORK));
        }
        out
    }
}

/// Labs with at least one container or network in the engine, by name.
pub async fn labs(engine: &Engine, only: Option<&str>) -> Result<BTreeMap<String, LabObjects>> {
    let (containers, networks) =
        tokio::try_join!(container::list(engine, only), network::list(engine, only))?;
    let mut labs: BTreeMap<String, LabObjects> = BTreeMap::new();
    for c in containers {
        if let Some(lab) = c.labels.get(LABEL_LAB).cloned() {
            labs.entry(lab).or_default().containers.push(c);
        }
    }
    for n in networks {
        if let Some(lab) = n.labels.get(LABEL_LAB) {
            labs.entry(lab.clone()).or_default().networks.push(n);
        }
    }
    Ok(labs)
}

/// The lab as it runs, from its record and its objects on every engine it
/// uses (each engine once, with what it holds of the lab). Inspects every
/// node container, concurrently.
pub async fn live(record: &Record, objects: &[(&Engine, &LabObjects)]) -> Result<LiveLab> {
    inspect(
        LiveLab {
            lab: record.lab.clone(),
            ca_pem: record.ca.as_ref().map(|c| c.cert_pem.clone()),
            other_ca_pem: record.other_ca.as_ref().map(|c| c.cert_pem.clone()),
            nodes: HashMap::new(),
            network_subnets: HashMap::new(),
            hosts: IndexMap::new(),
            subnets: Vec::new(),
            allow_external: false,
            agent_image: record.agent_image.clone(),
        },
        objects,
    )
    .await
}

/// `known` with its nodes, helpers and networks as they are now (after a
/// step changed them): inspected again.
pub async fn inspect(known: LiveLab, objects: &[(&Engine, &LabObjects)]) -> Result<LiveLab> {
    let lab = &known.lab;
    let running_of = |role: &str, key: &str| -> HashMap<String, String> {
        objects
            .iter()
            .flat_map(|(_, o)| &o.containers)
            .filter(|c| c.role() == role && c.state == "running")
            .filter_map(|c| Some((c.label(key)?.to_owned(), c.id.clone())))
            .collect()
    };
    let probe_helpers = running_of(ROLE_PROBE_HELPER, LABEL_NODE);
    let host_helpers = running_of(ROLE_HOST_HELPER, LABEL_HOST);
    let node_containers = objects.iter().flat_map(|(engine, o)| {
        o.containers
            .iter()
            .filter(|c| c.role() == ROLE_NODE)
            .filter_map(move |c| Some((*engine, c.label(LABEL_NODE)?.to_owned(), c.id.clone())))
    });
    let inspected: Vec<(String, LiveNode, Option<std::time::SystemTime>)> =
        futures::stream::iter(node_containers)
            .map(|(engine, node, id)| {
                let probe_helpers = &probe_helpers;
                async move {
                    let info = container::inspect(engine, &id).await?;
                    let mut live = live_node(lab, &node, &id, &info, probe_helpers);
                    // A foreign node's helper joined the network namespace the
                    // node had when the helper started: after the node
                    // restarted, that namespace is gone (only loopback left).
                    if let (Some(helper), false) = (
                        probe_helpers.get(&node),
                        lab.nodes.get(&node).is_none_or(|n| n.is_agent()),
                    ) {
                        let helper_info = container::inspect(engine, helper).await?;
                        if started_at(&info) > started_at(&helper_info) {
                            live.probe_container = None;
                            live.stale_helper = Some(helper.clone());
                        }
                    }
                    Ok::<_, EngineError>((node.clone(), live, started_at(&info)))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
    let inspected = in_owners_namespace(lab, inspected);
    let hosts = lab
        .used_hosts()
        .into_iter()
        .map(|h| {
            (
                h.to_owned(),
                LiveHost {
                    helper: host_helpers.get(h).cloned(),
                    engine: known
                        .hosts
                        .get(h)
                        .map(|x| x.engine.clone())
                        .unwrap_or_default(),
                    facts: known
                        .hosts
                        .get(h)
                        .map(|x| x.facts.clone())
                        .unwrap_or_default(),
                },
            )
        })
        .collect();
    Ok(LiveLab {
        nodes: inspected.into_iter().collect(),
        network_subnets: objects
            .iter()
            .flat_map(|(_, o)| &o.networks)
            .filter_map(|n| {
                let v4 = n.subnets.iter().find_map(|s| match s {
                    ipnet::IpNet::V4(v4) => Some(*v4),
                    ipnet::IpNet::V6(_) => None,
                })?;
                Some((n.labels.get(LABEL_NETWORK)?.clone(), v4))
            })
            .collect(),
        hosts,
        subnets: {
            let mut subnets: Vec<ipnet::IpNet> = objects
                .iter()
                .flat_map(|(_, o)| &o.networks)
                .flat_map(|n| n.subnets.iter().copied())
                .collect();
            subnets.sort();
            subnets.dedup();
            subnets
        },
        ..known
    })
}

/// A sidecar has the addresses of the node whose namespace it shares — as
/// long as it is in that namespace: Docker does not restart a sidecar with
/// its owner, so after the owner (re)started, the sidecar is left in the
/// old namespace with loopback alone, and has no address until it restarts.
fn in_owners_namespace(
    lab: &Lab,
    inspected: Vec<(String, LiveNode, Option<std::time::SystemTime>)>,
) -> Vec<(String, LiveNode)> {
    let owners: HashMap<String, (LiveNode, Option<std::time::SystemTime>)> = inspected
        .iter()
        .filter(|(n, ..)| lab.nodes.get(n).is_some_and(|n| n.shares().is_none()))
        .map(|(n, l, t)| (n.clone(), (l.clone(), *t)))
        .collect();
    inspected
        .into_iter()
        .map(|(name, mut live, started)| {
            let owner = lab
                .nodes
                .get(&name)
                .and_then(|n| n.shares())
                .and_then(|o| owners.get(o));
            if let Some((o, owner_started)) = owner {
                let joined = live.running && o.running && started >= *owner_started;
                if joined {
                    live.addresses.clone_from(&o.addresses);
                    live.gateways.clone_from(&o.gateways);
                    live.addresses6.clone_from(&o.addresses6);
                    live.gateways6.clone_from(&o.gateways6);
                    live.ports.clone_from(&o.ports);
                }
            }
            (name, live)
        })
        .collect()
}

/// When a container last started (the engine's RFC 3339 time).
fn started_at(info: &ContainerInspectResponse) -> Option<std::time::SystemTime> {
    info.state
        .as_ref()
        .and_then(|s| s.started_at.as_deref())
        .and_then(|t| humantime::parse_rfc3339_weak(t).ok())
}

fn live_node(
    lab: &Lab,
    node: &str,
    id: &str,
    info: &ContainerInspectResponse,
    probe_helpers: &HashMap<String, String>,
) -> LiveNode {
    let (running, state_word) = container::state_words(info);
    let raw_addresses = container::addresses(info);
    let raw_gateways = container::gateways(info);
    // Keyed by lab network name (`bridge` for Docker's default), in the
    // node's declaration order.
    let spec = lab.nodes.get(node);
    // Its declared networks first, then any other lab network a step
    // connected it to.
    let engine_names: Vec<(String, String)> = match spec.map(|n| &n.attachment) {
        Some(Attachment::Networks(list)) => list
            .iter()
            .map(|a| a.network.as_str())
            .chain(
                lab.networks
                    .keys()
                    .map(String::as_str)
                    .filter(|n| !list.iter().any(|a| a.network == *n)),
            )
            .map(|n| (n.to_owned(), plan::engine_network(lab, n)))
            .collect(),
        Some(Attachment::Mode(NetworkMode::Bridge)) => vec![("bridge".into(), "bridge".into())],
        _ => Vec::new(),
    };
    fn pick<T: Copy>(
        engine_names: &[(String, String)],
        raw: &HashMap<String, T>,
    ) -> IndexMap<String, T> {
        engine_names
            .iter()
            .filter_map(|(lab_name, engine_name)| Some((lab_name.clone(), *raw.get(engine_name)?)))
            .collect()
    }
    let probe_container = match spec {
        Some(n) if !n.is_agent() => probe_helpers.get(node).cloned(),
        _ => Some(id.to_owned()),
    };
    LiveNode {
        host: spec.map(|n| n.host.clone()).unwrap_or_default(),
        probe_container,
        running,
        state: state_word,
        addresses: pick(&engine_names, &raw_addresses),
        gateways: pick(&engine_names, &raw_gateways),
        addresses6: pick(&engine_names, &container::addresses6(info)),
        gateways6: pick(&engine_names, &container::gateways6(info)),
        ports: container::published_ports(info),
        stale_helper: None,
    }
}
