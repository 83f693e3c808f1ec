//! `netlab down`: remove every container and network of a lab, found by its
//! labels: works after a crash and without the lab file.

use futures::StreamExt;

use super::{Failure, Outcome};
use crate::engine::{CONCURRENCY, Engine, EngineError, container, discover, network, swarm};
use crate::exit;
use crate::lab;

/// Removes the lab's containers (first: networks with endpoints cannot go),
/// then its networks, each group concurrently. Returns what was removed.
pub async fn remove_lab(engine: &Engine, name: &str) -> Result<(usize, usize), EngineError> {
    let objects = discover::labs(engine, Some(name))
        .await?
        .remove(name)
        .unwrap_or_default();
    let removed: Vec<Result<(), EngineError>> = futures::stream::iter(&objects.containers)
        .map(|c| container::remove(engine, &c.id))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    removed.into_iter().collect::<Result<(), _>>()?;
    let removed: Vec<Result<(), EngineError>> = futures::stream::iter(&objects.networks)
        .map(|n| network::remove(engine, &n.id))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    removed.into_iter().collect::<Result<(), _>>()?;
    // Swarm-scoped networks are deleted asynchronously: wait (bounded) until
    // the engine stops listing them, so `down` means gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !objects.networks.is_empty()
        && !network::list(engine, Some(name)).await?.is_empty()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Only a lab with an overlay network may end netlab's swarm: a bridge
    // lab going down must not pull it from under an overlay lab coming up.
    if objects.networks.iter().any(|n| n.overlay) {
        let removed: Vec<String> = objects.networks.iter().map(|n| n.id.clone()).collect();
        release_swarm(engine, &removed).await?;
    }
    Ok((objects.containers.len(), objects.networks.len()))
}

/// Leaves the swarm if netlab made it and nothing needs it any more.
pub async fn release_swarm(engine: &Engine, just_removed: &[String]) -> Result<(), EngineError> {
    if swarm::release_if_unused(engine, just_removed).await? {
        eprintln!("netlab: left the swarm netlab had initialised (no lab needs it any more)");
    }
    Ok(())
}

/// Which lab a command means: the one named (a lab name, a built-in or a
/// file), or the only lab that is up.
pub async fn resolve_lab_name(engine: &Engine, arg: Option<&str>) -> Result<String, Failure> {
    let up = discover::labs(engine, None).await?;
    match arg {
        Some(arg) if up.contains_key(arg) => Ok(arg.to_owned()),
        Some(arg) => Ok(lab::load(arg)
            .map(|l| l.lab.name)
            .unwrap_or_else(|_| arg.to_owned())),
        None => match up.keys().collect::<Vec<_>>().as_slice() {
            [] => Err(Failure::Usage("no lab is up".into())),
            [one] => Ok((*one).clone()),
            several => Err(Failure::Usage(format!(
                "several labs are up ({}); name one",
                several
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
    }
}

pub async fn down_command(engine: &Engine, arg: Option<&str>) -> Outcome {
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
