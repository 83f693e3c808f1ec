//! Swarm mode, which overlay networks need. If the engine is not in a swarm,
//! `up` initialises a single-node one and marks it as netlab's with a label;
//! it is left again only when netlab made it and no lab still has an overlay
//! network. A swarm the user made is never touched.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{LocalNodeState, SwarmInitRequest, SwarmSpec};
use bollard::query_parameters::{LeaveSwarmOptionsBuilder, ListNetworksOptionsBuilder};

use super::{Context, Engine, EngineError, Result, network};
use crate::plan::LABEL_LAB;

pub const LABEL_SWARM: &str = "io.netlab.swarm";

/// What netlab needs to know of the engine's swarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwarmState {
    Inactive,
    /// Active, and whether netlab made it.
    Active {
        netlab_made: bool,
        manager: bool,
    },
}

pub async fn state(engine: &Engine) -> Result<SwarmState> {
    let info = engine
        .docker
        .info()
        .await
        .ctx(|| "cannot read the engine's swarm state".into())?;
    let swarm = info.swarm.unwrap_or_default();
    if swarm.local_node_state != Some(LocalNodeState::ACTIVE) {
        return Ok(SwarmState::Inactive);
    }
    let manager = swarm.control_available == Some(true);
    let netlab_made = if manager {
        let inspect = engine
            .docker
            .inspect_swarm()
            .await
            .ctx(|| "cannot inspect the swarm".into())?;
        inspect
            .spec
            .and_then(|s| s.labels)
            .is_some_and(|l| l.contains_key(LABEL_SWARM))
    } else {
        false
    };
    Ok(SwarmState::Active {
        netlab_made,
        manager,
    })
}

/// Makes sure the engine is a swarm manager; returns whether netlab just
/// initialised the swarm.
pub async fn ensure(engine: &Engine) -> Result<bool> {
    match state(engine).await? {
        SwarmState::Active { manager: true, .. } => return Ok(false),
        SwarmState::Active { manager: false, .. } => {
            return Err(EngineError::new(
                "overlay networks need a swarm manager",
                anyhow::anyhow!("this engine is a swarm worker; run the lab on a manager node"),
            ));
        }
        SwarmState::Inactive => {}
    }
    let advertise = advertise_address().ok_or_else(|| {
        EngineError::new(
            "cannot initialise a swarm for the overlay networks",
            anyhow::anyhow!("this machine has no non-loopback IPv4 address to advertise\n  (hint: run `docker swarm init --advertise-addr ADDR` yourself)"),
        )
    })?;
    let request = SwarmInitRequest {
        listen_addr: Some("0.0.0.0:2377".into()),
        advertise_addr: Some(advertise.to_string()),
        spec: Some(SwarmSpec {
            labels: Some(HashMap::from([(LABEL_SWARM.to_owned(), "true".to_owned())])),
            ..Default::default()
        }),
        ..Default::default()
    };
    match engine.docker.init_swarm(request).await {
        Ok(_) => Ok(true),
        // Another `up` got there first.
        Err(e) if e.to_string().contains("already part of a swarm") => Ok(false),
        Err(e) => Err(EngineError::new(
            format!("cannot initialise a swarm (advertising {advertise})"),
            e,
        )),
    }
}

/// Leaves the swarm if netlab made it and no lab has an overlay network left;
/// removes the `docker_gwbridge` network the swarm leaves behind. Returns
/// whether it left. `just_removed` are network ids the caller removed a
/// moment ago: the swarm may still list them for a while.
pub async fn release_if_unused(engine: &Engine, just_removed: &[String]) -> Result<bool> {
    if state(engine).await?
        != (SwarmState::Active {
            netlab_made: true,
            manager: true,
        })
    {
        return Ok(false);
    }
    let options = ListNetworksOptionsBuilder::default()
        .filters(&HashMap::from([
            ("label", vec![LABEL_LAB]),
            ("driver", vec!["overlay"]),
        ]))
        .build();
    let overlays = engine
        .docker
        .list_networks(Some(options))
        .await
        .ctx(|| "cannot list networks".into())?;
    if overlays
        .iter()
        .any(|n| n.id.as_ref().is_none_or(|id| !just_removed.contains(id)))
    {
        return Ok(false);
    }
    engine
        .docker
        .leave_swarm(Some(
            LeaveSwarmOptionsBuilder::default().force(true).build(),
        ))
        .await
        .ctx(|| "cannot leave the swarm netlab made".into())?;
    // Only when nothing else uses it: a user's container may sit on it.
    if let Ok(gw) = engine.docker.inspect_network("docker_gwbridge", None).await
        && gw.containers.unwrap_or_default().is_empty()
    {
        network::remove(engine, "docker_gwbridge").await?;
    }
    Ok(true)
}

/// The first non-loopback IPv4 address of an interface that is not one of
/// Docker's own bridges.
fn advertise_address() -> Option<IpAddr> {
    let interfaces = if_addrs::get_if_addrs().ok()?;
    interfaces
        .into_iter()
        .filter(|i| !i.is_loopback())
        .filter(|i| {
            !(i.name.starts_with("docker")
                || i.name.starts_with("br-")
                || i.name.starts_with("veth"))
        })
        .map(|i| i.ip())
        .find(IpAddr::is_ipv4)
}
