//! Putting a lab back after its steps (`steps::restore`): from what the
//! engine shows and which links the steps impaired, the way back is done
//! phase by phase, each phase for all nodes at once, then checked; sidecars
//! left in an old namespace are restarted, helpers swept.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::Instant;

use futures::StreamExt;
use indexmap::IndexMap;

use super::super::hosts::Engines;
use super::act::{self, Scene};
use super::steps::*;
use crate::engine::{CONCURRENCY, container, fault};
use crate::lab::{Action, LabState};
use crate::live::LiveLab;
use crate::plan::steps::{self as plan_steps};
use crate::report::{ActionReport, ActionStatus, RestoreReport};

/// Puts the lab back as its file declares it, then says what (if
/// anything) is still not so. Never cancelled; bounded by a deadline.
pub async fn restore(
    engines: &Engines,
    live: &LiveLab,
    impaired: &BTreeSet<String>,
    before: Option<&HashMap<String, IndexMap<String, Ipv4Addr>>>,
) -> RestoreReport {
    let started = Instant::now();
    let declared = LabState::declared(&live.lab);
    let work = async {
        let mut reports = Vec::new();
        let mut current = live.clone();
        let known = addresses_of(live, &HashMap::new());
        let mut impaired = impaired.clone();
        // Phase by phase (unpause, start, disconnect, connect, clear), each
        // for all nodes at once, the way back planned again from what the
        // engine shows after each (a stopped node shows its networks only
        // once it runs again).
        for _ in 0..8 {
            let plan = plan_steps::restore(&declared, &state_of(&current, &impaired));
            let Some(first) = plan.first() else {
                break;
            };
            let phase: Vec<&Action> = plan
                .iter()
                .take_while(|a| a.verb() == first.verb())
                .collect();
            let scene = Scene {
                engines,
                live: &current,
                known: &known,
            };
            let done: Vec<ActionReport> = futures::stream::iter(phase.iter().copied())
                .map(|a| act::perform(&scene, a))
                .buffered(CONCURRENCY)
                .collect()
                .await;
            let failed = done.iter().any(|r| r.status != ActionStatus::Done);
            for a in &phase {
                // A started node has a new namespace; a cleared one is clean.
                if let Action::Start { node } | Action::Clear { node, .. } = a {
                    impaired.remove(node);
                }
            }
            reports.extend(done);
            match refresh(engines, &current).await {
                Ok(fresh) => current = fresh,
                Err(_) => break,
            }
            if failed {
                break;
            }
        }
        // A node whose address moved (it stopped, and another took its
        // address) goes back to the one it had, where the network's subnet
        // is declared (only there may an address be asked for): so the next
        // verify sees the lab as this one did.
        if let Some(before) = before {
            let moved = moved_nodes(&current, before);
            let scene = Scene {
                engines,
                live: &current,
                known: &known,
            };
            let done: Vec<ActionReport> = futures::stream::iter(&moved)
                .map(|(node, net, ip)| act::return_to(&scene, node, net, *ip))
                .buffered(CONCURRENCY)
                .collect()
                .await;
            reports.extend(done);
            if !moved.is_empty()
                && let Ok(fresh) = refresh(engines, &current).await
            {
                current = fresh;
            }
        }
        // A sidecar left in its owner's old namespace (the owner restarted
        // or started again; Docker does not take its sidecars along) joins
        // the owner's namespace again by restarting.
        let stale = stale_sidecars(&current);
        if !stale.is_empty() {
            let scene = Scene {
                engines,
                live: &current,
                known: &known,
            };
            let again: Vec<Action> = stale
                .into_iter()
                .map(|node| Action::Restart {
                    node,
                    grace: std::time::Duration::ZERO,
                })
                .collect();
            let done: Vec<ActionReport> = futures::stream::iter(&again)
                .map(|a| act::perform(&scene, a))
                .buffered(CONCURRENCY)
                .collect()
                .await;
            reports.extend(done);
            if let Ok(fresh) = refresh(engines, &current).await {
                current = fresh;
            }
        }
        let mut left = sweep_helpers(engines, &live.lab.name).await;
        match refresh(engines, &current).await {
            Ok(now) => left.extend(differences(engines, &now).await),
            Err(e) => left.push(format!("cannot inspect the lab afterwards: {e:#}")),
        }
        (reports, left)
    };
    let (actions, left) = match tokio::time::timeout(RESTORE_DEADLINE, work).await {
        Ok(done) => done,
        Err(_) => (
            Vec::new(),
            vec![format!(
                "putting the lab back did not finish within {}s",
                RESTORE_DEADLINE.as_secs()
            )],
        ),
    };
    RestoreReport {
        actions,
        left,
        elapsed: started.elapsed(),
    }
}

/// The sidecars that run without an address while the node whose
/// namespace they share has one: left behind in its old namespace.
fn stale_sidecars(live: &LiveLab) -> Vec<String> {
    live.lab
        .nodes
        .values()
        .filter_map(|n| {
            let owner = live.nodes.get(n.shares()?)?;
            let me = live.nodes.get(&n.name)?;
            (me.running && owner.running && me.addresses.is_empty() && !owner.addresses.is_empty())
                .then(|| n.name.clone())
        })
        .collect()
}

/// (node, network, address before) of every node that is on a declared
/// network at another address than before the steps, where the address
/// is the engine's choice and the network's subnet is declared.
fn moved_nodes(
    live: &LiveLab,
    before: &HashMap<String, IndexMap<String, Ipv4Addr>>,
) -> Vec<(String, String, Ipv4Addr)> {
    let mut out = Vec::new();
    for node in live.lab.nodes.values() {
        for a in node.networks() {
            let pinnable = a.ipv4.is_none()
                && live
                    .lab
                    .networks
                    .get(&a.network)
                    .is_some_and(|n| n.subnet.is_some());
            let was = before.get(&node.name).and_then(|b| b.get(&a.network));
            let is = live
                .nodes
                .get(&node.name)
                .and_then(|n| n.addresses.get(&a.network));
            if let (true, Some(was), Some(is)) = (pinnable, was, is)
                && was != is
            {
                out.push((node.name.clone(), a.network.clone(), *was));
            }
        }
    }
    out
}

/// Removes every impair helper of the lab still there; says which could
/// not be removed.
async fn sweep_helpers(engines: &Engines, lab: &str) -> Vec<String> {
    let mut left = Vec::new();
    for engine in engines.distinct() {
        match fault::impair_helpers(engine, lab, None, None).await {
            Ok(helpers) => {
                for h in helpers {
                    if let Err(e) = fault::stop_and_remove(engine, &h.id).await {
                        left.push(format!("impair helper {} stays: {e:#}", h.id));
                    }
                }
            }
            Err(e) => left.push(format!("cannot list impair helpers: {e:#}")),
        }
    }
    left
}

/// What differs from the file: nodes not running or paused, declared
/// networks not joined (or with another address or without an alias),
/// networks joined that are not declared.
async fn differences(engines: &Engines, live: &LiveLab) -> Vec<String> {
    let lab = &live.lab;
    let mut out = Vec::new();
    let declared = LabState::declared(lab);
    let now = state_of(live, &BTreeSet::new());
    for (name, want) in &declared.nodes {
        let Some(is) = now.nodes.get(name) else {
            continue;
        };
        if !is.running {
            out.push(format!("node `{name}` is not running"));
        } else if is.paused {
            out.push(format!("node `{name}` is paused"));
        }
        for net in want.networks.difference(&is.networks) {
            out.push(format!("node `{name}` is not on `{net}`"));
        }
        for net in is.networks.difference(&want.networks) {
            out.push(format!(
                "node `{name}` is on `{net}`, which it does not declare"
            ));
        }
    }
    // Aliases and static addresses, from the engine's own view of each
    // endpoint.
    let checks = lab
        .nodes
        .values()
        .filter(|n| n.networks().next().is_some())
        .map(|n| async move {
            let engine = engines.of(&n.host);
            let id = crate::plan::container_name(&lab.name, &n.name);
            let Ok(info) = container::inspect(engine, &id).await else {
                return vec![format!("cannot inspect node `{}`", n.name)];
            };
            let endpoints = info
                .network_settings
                .and_then(|s| s.networks)
                .unwrap_or_default();
            let mut out = Vec::new();
            for a in n.networks() {
                let Some(ep) = endpoints.get(&crate::plan::engine_network(lab, &a.network)) else {
                    continue;
                };
                let aliases = ep.aliases.clone().unwrap_or_default();
                for alias in std::iter::once(&n.name).chain(&a.aliases) {
                    if !aliases.contains(alias) {
                        out.push(format!(
                            "node `{}` answers on `{}` without its alias {alias}",
                            n.name, a.network
                        ));
                    }
                }
                if let Some(ip) = a.ipv4
                    && ep.ip_address.as_deref() != Some(ip.to_string().as_str())
                {
                    out.push(format!(
                        "node `{}` is on `{}` without its address {ip}",
                        n.name, a.network
                    ));
                }
            }
            out
        });
    let found: Vec<Vec<String>> = futures::stream::iter(checks)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    out.extend(found.into_iter().flatten());
    out
}
