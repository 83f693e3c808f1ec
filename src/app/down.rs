//! `netlab down`: remove every container and network of a lab on every
//! engine it uses, found by labels and the lab's record: works after a crash
//! and without the lab file. The claim and the lock go last, so a `down`
//! that is cut short can be run again.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::CommandResult;
use super::hosts::{self, Engines};
use super::select::name_among;
use crate::engine::record;
use crate::engine::{CONCURRENCY, Engine, EngineError, container, discover, network, swarm};
use crate::exit;
use crate::plan::{LABEL_NETWORK, ROLE_CLAIM, ROLE_LOCK, ROLE_NODE};

/// How long `down` keeps sweeping: for swarm networks that the engine
/// deletes asynchronously, and for objects a crashed `up` still had in flight.
const SWEEP_DEADLINE: Duration = Duration::from_secs(15);
/// After a crashed `up` (its lock is still there), the engine may still
/// finish creations that were in flight; one more look after this long
/// catches them.
const SETTLE: Duration = Duration::from_secs(2);

/// Removes the lab's containers (first: networks with endpoints cannot go),
/// then its networks, on every engine concurrently, in passes until the
/// engines list nothing of the lab; then its claim and lock. Leaves a swarm
/// netlab made when the lab had an overlay network (or `release_swarm`).
/// Returns (nodes, networks) removed.
pub async fn remove_lab(
    engines: &Engines,
    name: &str,
    release_swarm: bool,
) -> Result<(usize, usize), EngineError> {
    let all = engines.all();
    // Containers on every engine first: an overlay network is in use while
    // any engine still has a container on it.
    let emptied = futures::future::join_all(all.iter().map(|e| sweep(e, name, false))).await;
    let swept = futures::future::join_all(all.iter().map(|e| sweep(e, name, true))).await;
    let swept = emptied.into_iter().zip(swept).map(|(c, n)| match (c, n) {
        (Ok(c), Ok(n)) => Ok(Swept {
            nodes: c.nodes,
            networks: n.networks,
            names: n.names,
            had_overlay: n.had_overlay,
        }),
        (Err(e), _) | (_, Err(e)) => Err(e),
    });
    let mut counts = (0, 0);
    let mut removed_networks = Vec::new();
    // An overlay is listed by every engine it reaches: count it once.
    let mut network_names: HashSet<String> = HashSet::new();
    let mut had_overlay = release_swarm;
    let mut failure = None;
    for result in swept {
        match result {
            Ok(s) => {
                counts.0 += s.nodes;
                network_names.extend(s.names);
                had_overlay |= s.had_overlay;
                removed_networks.extend(s.networks);
            }
            Err(e) => failure = Some(e),
        }
    }
    // The claim and the lock last: until they go, `down` can find the rest.
    let objects = discover::labs(&engines.home, Some(name))
        .await?
        .remove(name)
        .unwrap_or_default();
    for c in objects
        .containers
        .iter()
        .filter(|c| [ROLE_CLAIM, ROLE_LOCK].contains(&c.role()))
    {
        container::remove(&engines.home, &c.id).await?;
    }
    // Only a lab with an overlay network may end netlab's swarm: a bridge
    // lab going down must not pull it from under an overlay lab coming up.
    if had_overlay {
        release_swarm_of(engines, &removed_networks).await?;
    }
    counts.1 = network_names.len();
    match failure {
        Some(e) => Err(e),
        None => Ok(counts),
    }
}

struct Swept {
    nodes: usize,
    /// Ids of the networks removed, and their lab names.
    networks: Vec<String>,
    names: HashSet<String>,
    had_overlay: bool,
}

/// One engine: the lab's containers but its claim and lock, or (with
/// `networks`) its networks, in passes until the engine lists none.
async fn sweep(engine: &Engine, name: &str, networks: bool) -> Result<Swept, EngineError> {
    let deadline = Instant::now() + SWEEP_DEADLINE;
    let mut removed_nodes: HashSet<String> = HashSet::new();
    let mut removed_networks: HashSet<String> = HashSet::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut had_overlay = false;
    let mut settled = false;
    let mut crashed = None;
    loop {
        let objects = discover::labs(engine, Some(name))
            .await?
            .remove(name)
            .unwrap_or_default();
        // A lock left behind: an `up` was killed, its calls may still land.
        let crashed = *crashed.get_or_insert(objects.lock().is_some());
        let containers: Vec<&str> = objects
            .containers
            .iter()
            .filter(|c| !networks && ![ROLE_CLAIM, ROLE_LOCK].contains(&c.role()))
            .map(|c| c.id.as_str())
            .collect();
        removed_nodes.extend(
            objects
                .containers
                .iter()
                .filter(|c| c.role() == ROLE_NODE)
                .map(|c| c.id.clone()),
        );
        // Networks already removed may still be listed for a while (swarm
        // scope): wait for them, don't remove them twice.
        let listed_networks = if networks { objects.networks.len() } else { 0 };
        let networks: Vec<&str> = objects
            .networks
            .iter()
            .filter(|_| networks)
            .map(|n| n.id.as_str())
            .filter(|id| !removed_networks.contains(*id))
            .collect();
        had_overlay |= objects.networks.iter().any(|n| n.overlay);
        names.extend(
            objects
                .networks
                .iter()
                .filter_map(|n| n.labels.get(LABEL_NETWORK).cloned()),
        );
        if containers.is_empty() && listed_networks == 0 {
            if crashed && !settled {
                settled = true;
                tokio::time::sleep(SETTLE).await;
                continue;
            }
            break;
        }
        if Instant::now() > deadline {
            return Err(EngineError::new(
                format!(
                    "lab `{name}` is still listed on {} after {}s of removal",
                    engine.endpoint.url,
                    SWEEP_DEADLINE.as_secs()
                ),
                anyhow::anyhow!(
                    "the engine keeps {} containers and {} networks of it",
                    containers.len(),
                    objects.networks.len()
                ),
            ));
        }
        remove_all(&containers, |id| container::remove(engine, id)).await?;
        let gone = remove_networks(engine, &networks).await?;
        if gone.len() < networks.len() || networks.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        removed_networks.extend(gone);
    }
    Ok(Swept {
        nodes: removed_nodes.len(),
        networks: removed_networks.into_iter().collect(),
        names,
        had_overlay,
    })
}

/// Removes networks; one still in use (an endpoint the engine has not let
/// go yet, a swarm task of another engine) is left for the next pass.
/// Returns the ids removed.
async fn remove_networks(engine: &Engine, ids: &[&str]) -> Result<Vec<String>, EngineError> {
    let results: Vec<(String, Result<(), EngineError>)> =
        futures::stream::iter(ids.iter().copied())
            .map(|id| async move { (id.to_owned(), network::remove(engine, id).await) })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let mut gone = Vec::new();
    for (id, result) in results {
        match result {
            Ok(()) => gone.push(id),
            Err(e) if still_in_use(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(gone)
}

fn still_in_use(e: &EngineError) -> bool {
    let text = format!("{e:#}");
    text.contains("in use by task") || text.contains("has active endpoints")
}

async fn remove_all<'a, F, Fut>(ids: &[&'a str], remove: F) -> Result<(), EngineError>
where
    F: Fn(&'a str) -> Fut,
    Fut: Future<Output = Result<(), EngineError>>,
{
    let results: Vec<Result<(), EngineError>> = futures::stream::iter(ids.iter().copied())
        .map(remove)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Leaves the swarm on the lab's engines if netlab made it and nothing
/// needs it any more.
async fn release_swarm_of(engines: &Engines, just_removed: &[String]) -> Result<(), EngineError> {
    if swarm::release_if_unused(&engines.distinct(), just_removed).await? {
        eprintln!("netlab: left the swarm netlab had initialised (no lab needs it any more)");
    }
    Ok(())
}

/// The engines of a lab that is up, from its record on the default
/// engine; without a record (a lab an `up` left before it wrote one), the
/// default engine alone. An engine that cannot be reached is left out, with
/// a warning: what the lab has there stays.
pub async fn recorded_engines(
    home: &Engine,
    name: &str,
    objects: &discover::LabObjects,
) -> Result<Engines, EngineError> {
    let Some(claim) = objects.claim() else {
        return Ok(Engines {
            home: home.clone(),
            hosts: Default::default(),
        });
    };
    let rec = match record::read(home, &claim.id, name).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("netlab: {e:#}; removing what the default engine holds of it");
            return Ok(Engines {
                home: home.clone(),
                hosts: Default::default(),
            });
        }
    };
    let (engines, unreachable) = hosts::connect_reachable(home.clone(), &rec.engines).await;
    for (host, e) in unreachable {
        eprintln!(
            "netlab: host {host} of lab `{name}` cannot be reached ({e:#}); what the lab has there stays"
        );
    }
    Ok(engines)
}

pub async fn down_command(home: &Engine, arg: Option<&str>) -> CommandResult {
    let up = discover::labs(home, None).await?;
    let name = name_among(&up, arg)?;
    let objects = up.get(&name).cloned().unwrap_or_default();
    let engines = recorded_engines(home, &name, &objects).await?;
    let (nodes, networks) = remove_lab(&engines, &name, false).await?;
    if !up.contains_key(&name) && nodes + networks == 0 {
        println!("lab `{name}` is not up; nothing to remove");
    } else {
        println!(
            "lab `{name}` removed: {}, {}",
            crate::report::count(nodes, "node"),
            crate::report::count(networks, "network")
        );
    }
    Ok(exit::SUCCESS)
}
