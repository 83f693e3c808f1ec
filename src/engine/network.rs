//! Lab networks: create from the plan, remove by label.

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::ListNetworksOptionsBuilder;
use std::collections::HashMap;

use super::refusal::Refusal;
use super::{Context, Engine, EngineError, Result};
use crate::lab::Driver;
use crate::plan::{LABEL_LAB, NetworkPlan};

pub async fn create(engine: &Engine, plan: &NetworkPlan) -> Result<String> {
    // A family without a subnet here gets one from the engine (IPv4); an
    // IPv6 network always has one by now (`up` picks it).
    let mut pools = Vec::new();
    if let Some(subnet) = plan.subnet.filter(|_| plan.ipv4) {
        pools.push(IpamConfig {
            subnet: Some(subnet.to_string()),
            gateway: plan.gateway.map(|g| g.to_string()),
            ..Default::default()
        });
    }
    for subnet in plan.more_subnets.iter().filter(|_| plan.ipv4) {
        pools.push(IpamConfig {
            subnet: Some(subnet.to_string()),
            ..Default::default()
        });
    }
    if let Some(subnet6) = plan.subnet6.filter(|_| plan.ipv6) {
        pools.push(IpamConfig {
            subnet: Some(subnet6.to_string()),
            gateway: plan.gateway6.map(|g| g.to_string()),
            ..Default::default()
        });
    }
    let ipam = (!pools.is_empty()).then(|| Ipam {
        driver: Some("default".into()),
        config: Some(pools),
        ..Default::default()
    });
    let attachable = match plan.driver {
        Driver::Overlay { attachable, .. } => Some(attachable),
        _ => None,
    };
    let driver = plan.driver.docker_name();
    let request = NetworkCreateRequest {
        name: plan.name.clone(),
        driver: Some(driver.into()),
        attachable,
        internal: Some(plan.internal),
        ipam,
        enable_ipv6: plan.ipv6.then_some(true),
        // Sent only to say "no": engines before API 1.48 do not know the
        // field (`up` refuses an IPv6-only network on them first).
        enable_ipv4: (!plan.ipv4).then_some(false),
        options: Some(plan.options.clone()),
        labels: Some(plan.labels.clone()),
        ..Default::default()
    };
    let created = engine.docker.create_network(request).await.map_err(|e| {
        let hint = Refusal::of(&e).hint_line();
        EngineError::new(
            format!("cannot create network {}", plan.name),
            anyhow::anyhow!("{e}{hint}"),
        )
    })?;
    Ok(created.id)
}

/// A lab network as the engine lists it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub overlay: bool,
    pub labels: HashMap<String, String>,
    /// Its subnets, as the engine's IPAM has them.
    pub subnets: Vec<ipnet::IpNet>,
}

/// The engine's networks whose labels match `filter` (`key` or `key=value`,
/// Docker's label filter); `whose` says whose they are in an error.
pub async fn labelled(
    engine: &Engine,
    filter: &str,
    whose: &str,
) -> Result<Vec<bollard::models::Network>> {
    let options = ListNetworksOptionsBuilder::default()
        .filters(&HashMap::from([("label", vec![filter])]))
        .build();
    engine
        .docker
        .list_networks(Some(options))
        .await
        .ctx(|| format!("cannot list the networks of {whose}"))
}

/// Networks carrying `io.netlab.lab=<lab>` (or any lab when `lab` is None).
pub async fn list(engine: &Engine, lab: Option<&str>) -> Result<Vec<Listed>> {
    let filter = match lab {
        Some(l) => format!("{LABEL_LAB}={l}"),
        None => LABEL_LAB.to_owned(),
    };
    let whose = match lab {
        Some(l) => format!("lab `{l}`"),
        None => "netlab's labs".to_owned(),
    };
    let networks = labelled(engine, &filter, &whose).await?;
    Ok(networks
        .into_iter()
        .map(|n| Listed {
            id: n.id.unwrap_or_default(),
            name: n.name.unwrap_or_default(),
            overlay: n.driver.as_deref() == Some("overlay"),
            labels: n.labels.unwrap_or_default(),
            subnets: subnets_of(n.ipam),
        })
        .collect())
}

/// The subnets of a network as the engine's IPAM has them.
pub fn subnets_of(ipam: Option<Ipam>) -> Vec<ipnet::IpNet> {
    ipam.and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.subnet?.parse().ok())
        .collect()
}

/// Whether a network of exactly that name exists (an external network
/// the lab joins); the engine's answer to an ID or a prefix does not count.
pub async fn exists(engine: &Engine, name: &str) -> Result<bool> {
    match engine
        .docker
        .inspect_network(
            name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(n) => Ok(n.name.as_deref() == Some(name)),
        Err(e) if super::refusal::is_not_found(&e) => Ok(false),
        Err(e) => Err(EngineError::new(
            format!("cannot inspect network {name}"),
            e,
        )),
    }
}

/// Removing a network that is already gone is success. A swarm worker
/// cannot remove an overlay network: the manager does, and the worker
/// forgets it once its last local container left.
pub async fn remove(engine: &Engine, id_or_name: &str) -> Result<()> {
    match engine.docker.remove_network(id_or_name).await {
        Ok(()) => Ok(()),
        Err(e) if super::refusal::is_not_found(&e) => Ok(()),
        Err(e) if Refusal::of(&e) == Refusal::NotSwarmManager => Ok(()),
        Err(e) => Err(EngineError::new(
            format!("cannot remove network {id_or_name}"),
            e,
        )),
    }
}

/// Subnets of every network in the engine, to refuse a lab whose declared
/// subnet overlaps one before anything is created: (name, subnet).
pub async fn all_subnets(engine: &Engine) -> Result<Vec<(String, ipnet::IpNet)>> {
    let networks = engine
        .docker
        .list_networks(None)
        .await
        .ctx(|| "cannot list networks".into())?;
    Ok(networks
        .into_iter()
        .flat_map(|n| {
            let name = n.name.unwrap_or_default();
            n.ipam
                .and_then(|i| i.config)
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |c| Some((name.clone(), c.subnet?.parse().ok()?)))
        })
        .collect())
}
