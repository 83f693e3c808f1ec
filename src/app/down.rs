//! `netlab down`: remove every container and network of a lab, found by its
//! labels: works after a crash and without the lab file.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::CommandResult;
use super::select::resolve_lab_name;
use crate::engine::{CONCURRENCY, Engine, EngineError, container, discover, network, swarm};
use crate::exit;
use crate::lab;
use crate::plan::{LABEL_ROLE, LABEL_SPEC};

/// How long `down` keeps sweeping: for swarm networks that the engine
/// deletes asynchronously, and for objects a crashed `up` still had in flight.
const SWEEP_DEADLINE: Duration = Duration::from_secs(15);
/// After a crashed `up`, the engine may still finish creations that were in
/// flight; one more look after this long catches them.
const SETTLE: Duration = Duration::from_millis(750);

/// Removes the lab's containers (first: networks with endpoints cannot go),
/// then its networks, each group concurrently, in passes until the engine
/// lists nothing of the lab. Returns (containers, networks) removed.
pub async fn remove_lab(engine: &Engine, name: &str) -> Result<(usize, usize), EngineError> {
    let deadline = Instant::now() + SWEEP_DEADLINE;
    let mut removed_containers: HashSet<String> = HashSet::new();
    let mut removed_networks: HashSet<String> = HashSet::new();
    let mut had_overlay = false;
    let mut settled = false;
    let mut partial = None;
    loop {
        let objects = discover::labs(engine, Some(name))
            .await?
            .remove(name)
            .unwrap_or_default();
        let partial = *partial.get_or_insert_with(|| {
            let exists = !(objects.containers.is_empty() && objects.networks.is_empty());
            exists && looks_partial(&objects)
        });
        // Networks already removed may still be listed for a while (swarm
        // scope): wait for them, don't remove them twice.
        let containers: Vec<&str> = objects.containers.iter().map(|c| c.id.as_str()).collect();
        let networks: Vec<&str> = objects
            .networks
            .iter()
            .map(|n| n.id.as_str())
            .filter(|id| !removed_networks.contains(*id))
            .collect();
        had_overlay |= objects.networks.iter().any(|n| n.overlay);
        if objects.containers.is_empty() && objects.networks.is_empty() {
            if partial && !settled {
                settled = true;
                tokio::time::sleep(SETTLE).await;
                continue;
            }
            break;
        }
        if Instant::now() > deadline {
            return Err(EngineError::new(
                format!(
                    "lab `{name}` is still listed after {}s of removal",
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
        remove_all(&networks, |id| network::remove(engine, id)).await?;
        removed_containers.extend(containers.iter().map(|s| s.to_string()));
        if networks.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        removed_networks.extend(networks.iter().map(|s| s.to_string()));
    }
    // Only a lab with an overlay network may end netlab's swarm: a bridge
    // lab going down must not pull it from under an overlay lab coming up.
    if had_overlay {
        let removed: Vec<String> = removed_networks.iter().cloned().collect();
        release_swarm(engine, &removed).await?;
    }
    Ok((removed_containers.len(), removed_networks.len()))
}

/// A lab that a crashed or interrupted `up` left: not every node of its
/// stored definition has a container.
fn looks_partial(objects: &discover::LabObjects) -> bool {
    let nodes = objects
        .containers
        .iter()
        .filter(|c| !c.labels.contains_key(LABEL_ROLE))
        .count();
    let defined = objects
        .containers
        .iter()
        .find_map(|c| c.labels.get(LABEL_SPEC))
        .and_then(|spec| serde_json::from_str::<lab::Lab>(spec).ok())
        .map(|lab| lab.nodes.len());
    defined != Some(nodes)
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

/// Leaves the swarm if netlab made it and nothing needs it any more.
pub async fn release_swarm(engine: &Engine, just_removed: &[String]) -> Result<(), EngineError> {
    if swarm::release_if_unused(engine, just_removed).await? {
        eprintln!("netlab: left the swarm netlab had initialised (no lab needs it any more)");
    }
    Ok(())
}

pub async fn down_command(engine: &Engine, arg: Option<&str>) -> CommandResult {
    let name = resolve_lab_name(engine, arg).await?;
    let (containers, networks) = remove_lab(engine, &name).await?;
    if containers + networks == 0 {
        println!("lab `{name}` is not up; nothing to remove");
    } else {
        println!(
            "lab `{name}` removed: {}, {}",
            crate::report::count(containers, "container"),
            crate::report::count(networks, "network")
        );
    }
    Ok(exit::SUCCESS)
}
