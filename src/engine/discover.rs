//! What is up, read from the engine's labels alone: the engine is netlab's
//! only state, so `verify`, `down` and `ls` need no lab file and work after a
//! crash.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use futures::{StreamExt, TryStreamExt};
use indexmap::IndexMap;

use super::container::{self, Listed};
use super::{CONCURRENCY, Engine, EngineError, Result, network};
use crate::lab::{Attachment, Lab, NetworkMode};
use crate::live::{LiveLab, LiveNode};
use crate::plan::{
    self, LABEL_CA, LABEL_LAB, LABEL_NODE, LABEL_ROLE, LABEL_SPEC, ROLE_PROBE_HELPER,
};

/// Every engine object of one lab.
#[derive(Debug, Default, Clone)]
pub struct LabObjects {
    pub containers: Vec<Listed>,
    /// (id, name)
    pub networks: Vec<network::Listed>,
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

/// Reads the lab definition stored on its containers and inspects every
/// container, concurrently.
pub async fn live(engine: &Engine, objects: &LabObjects, lab_name: &str) -> Result<LiveLab> {
    let spec = objects
        .containers
        .iter()
        .find_map(|c| c.labels.get(LABEL_SPEC))
        .ok_or_else(|| {
            EngineError::new(
                format!(
                    "lab `{lab_name}` is only partly up (no node container carries its definition)"
                ),
                anyhow::anyhow!("run `netlab down {lab_name}` and bring it up again"),
            )
        })?;
    let lab: Lab = serde_json::from_str(spec).map_err(|e| {
        EngineError::new(
            format!("lab `{lab_name}` was brought up by an incompatible netlab"),
            anyhow::anyhow!("{e}; run `netlab down {lab_name}` and bring it up again"),
        )
    })?;
    let helpers: HashMap<String, String> = objects
        .containers
        .iter()
        .filter(|c| {
            c.labels
                .get(LABEL_ROLE)
                .is_some_and(|r| r == ROLE_PROBE_HELPER)
                && c.state == "running"
        })
        .filter_map(|c| Some((c.labels.get(LABEL_NODE)?.clone(), c.id.clone())))
        .collect();
    let inspected: Vec<(String, LiveNode)> =
        futures::stream::iter(objects.containers.iter().filter_map(|c| {
            let node = c.labels.get(LABEL_NODE)?.clone();
            (!c.labels.contains_key(LABEL_ROLE)).then(|| (node, c.id.clone()))
        }))
        .map(|(node, id)| {
            let lab = &lab;
            let helpers = &helpers;
            async move {
                let info = container::inspect(engine, &id).await?;
                let state = info.state.clone().unwrap_or_default();
                let running = state.running == Some(true);
                let status = state
                    .status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown".into());
                let state_word = if running {
                    status
                } else {
                    format!(
                        "{status} (exit code {})",
                        state.exit_code.unwrap_or_default()
                    )
                };
                let raw_addresses = container::addresses(&info);
                let raw_gateways = container::gateways(&info);
                // Keyed by lab network name (`bridge` for Docker's default),
                // in the node's declaration order.
                let engine_names: Vec<(String, String)> =
                    match lab.nodes.get(&node).map(|n| &n.attachment) {
                        Some(Attachment::Networks(list)) => list
                            .iter()
                            .map(|a| (a.network.clone(), plan::network_name(&lab.name, &a.network)))
                            .collect(),
                        Some(Attachment::Mode(NetworkMode::Bridge)) => {
                            vec![("bridge".into(), "bridge".into())]
                        }
                        _ => Vec::new(),
                    };
                let pick = |raw: &HashMap<String, Ipv4Addr>| -> IndexMap<String, Ipv4Addr> {
                    engine_names
                        .iter()
                        .filter_map(|(lab_name, engine_name)| {
                            Some((lab_name.clone(), *raw.get(engine_name)?))
                        })
                        .collect()
                };
                let (addresses, gateways) = (pick(&raw_addresses), pick(&raw_gateways));
                let probe_container = match lab.nodes.get(&node) {
                    Some(n) if !n.is_agent() => helpers.get(&node).cloned(),
                    _ => Some(id.clone()),
                };
                Ok::<_, EngineError>((
                    node,
                    LiveNode {
                        probe_container,
                        running,
                        state: state_word,
                        addresses,
                        gateways,
                        ports: container::published_ports(&info),
                    },
                ))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let ca_pem = objects
        .containers
        .iter()
        .find_map(|c| c.labels.get(LABEL_CA))
        .cloned();
    Ok(LiveLab {
        lab,
        ca_pem,
        nodes: inspected.into_iter().collect(),
    })
}
