//! Swarm mode, which overlay networks need, on one engine or across the
//! engines of several hosts. When none of them is in a swarm, `up` makes one
//! (manager on the first, the others join as workers) and marks it as
//! netlab's with a label; a swarm that already holds them all is used as it
//! is. netlab leaves a swarm only when it made it, no lab still has an
//! overlay network in it or is being brought up, and it holds nothing netlab
//! did not make (services, secrets, configs, networks, other nodes): then it
//! says why it stays. A swarm the user made is never touched. The swarm
//! listens on the advertised address only, not on every interface.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{LocalNodeState, SwarmInitRequest, SwarmJoinRequest, SwarmSpec};
use bollard::query_parameters::{
    LeaveSwarmOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
};

use super::refusal::Refusal;
use super::{Context, Engine, EngineError, Result, network};
use crate::agent::protocol::InterfaceAddress;
use crate::plan::{LABEL_LAB, LABEL_ROLE, ROLE_LOCK};

pub const LABEL_SWARM: &str = "io.netlab.swarm";
const SWARM_PORT: u16 = 2377;

/// What netlab needs to know of one engine's swarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmState {
    Inactive,
    Active {
        node_id: String,
        manager: bool,
        /// Only a manager can tell: the swarm's ID, and whether netlab made it.
        cluster: Option<String>,
        netlab_made: bool,
    },
}

pub async fn state(engine: &Engine) -> Result<SwarmState> {
    let info = engine
        .docker
        .info()
        .await
        .ctx(|| format!("cannot read the swarm state of {}", engine.endpoint.url))?;
    let swarm = info.swarm.unwrap_or_default();
    if swarm.local_node_state != Some(LocalNodeState::ACTIVE) {
        return Ok(SwarmState::Inactive);
    }
    let manager = swarm.control_available == Some(true);
    let (cluster, netlab_made) = if manager {
        let inspect = engine
            .docker
            .inspect_swarm()
            .await
            .ctx(|| format!("cannot inspect the swarm of {}", engine.endpoint.url))?;
        let made = inspect
            .spec
            .and_then(|s| s.labels)
            .is_some_and(|l| l.contains_key(LABEL_SWARM));
        (inspect.id, made)
    } else {
        (None, false)
    };
    Ok(SwarmState::Active {
        node_id: swarm.node_id.unwrap_or_default(),
        manager,
        cluster,
        netlab_made,
    })
}

/// Why the engines cannot share a swarm as they are: the user must act
/// (exit 2), or an engine failed (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("{0}")]
    Refused(String),
    #[error("{0:#}")]
    Engine(#[from] EngineError),
}

/// A host's engine and the address it advertises to the others.
pub struct Member<'a> {
    pub host: &'a str,
    pub engine: &'a Engine,
    pub advertise: Option<IpAddr>,
}

/// What `ensure` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Joined {
    /// The index of the member that is a manager: overlays are made there.
    pub manager: usize,
    /// netlab made the swarm now.
    pub made: bool,
    /// Members netlab joined to a swarm now.
    pub joined: Vec<usize>,
}

/// Makes the members (distinct engines) one swarm with a manager among them.
pub async fn ensure(members: &[Member<'_>]) -> std::result::Result<Joined, SwarmError> {
    let states = futures::future::try_join_all(members.iter().map(|m| state(m.engine))).await?;
    let managers: Vec<usize> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, SwarmState::Active { manager: true, .. }))
        .map(|(i, _)| i)
        .collect();
    let inactive: Vec<usize> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| **s == SwarmState::Inactive)
        .map(|(i, _)| i)
        .collect();
    if inactive.len() == members.len() {
        return make(members).await;
    }
    let Some(&manager) = managers.first() else {
        return Err(SwarmError::Refused(format!(
            "overlay networks need a swarm manager, and none of {} is one\n  (hint: run the lab with a manager among its hosts)",
            names(
                members,
                (0..members.len()).filter(|i| !inactive.contains(i))
            )
        )));
    };
    let cluster_of = |i: usize| match &states[i] {
        SwarmState::Active { cluster, .. } => cluster.clone(),
        SwarmState::Inactive => None,
    };
    let other_managers: Vec<usize> = managers
        .iter()
        .copied()
        .filter(|&i| cluster_of(i) != cluster_of(manager))
        .collect();
    if !other_managers.is_empty() {
        return Err(different_swarms(members, manager, &other_managers));
    }
    let nodes = members[manager]
        .engine
        .docker
        .list_nodes(None)
        .await
        .ctx(|| "cannot list the swarm's nodes".into())?;
    let strangers: Vec<usize> = states
        .iter()
        .enumerate()
        .filter(|(_, s)| match s {
            SwarmState::Active {
                node_id,
                manager: false,
                ..
            } => !nodes.iter().any(|n| n.id.as_deref() == Some(node_id)),
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    if !strangers.is_empty() {
        return Err(different_swarms(members, manager, &strangers));
    }
    if inactive.is_empty() {
        return Ok(Joined {
            manager,
            made: false,
            joined: Vec::new(),
        });
    }
    let netlab_made = matches!(
        states[manager],
        SwarmState::Active {
            netlab_made: true,
            ..
        }
    );
    if !netlab_made {
        return Err(SwarmError::Refused(format!(
            "{} in a swarm and {} in none; netlab joins hosts only to a swarm it made\n  (hint: join them to that swarm yourself (`docker swarm join`), or take them out of it)",
            names(members, managers.iter().copied()),
            names(members, inactive.iter().copied())
        )));
    }
    join_all(members, manager, &inactive).await?;
    Ok(Joined {
        manager,
        made: false,
        joined: inactive,
    })
}

fn names(members: &[Member], which: impl Iterator<Item = usize>) -> String {
    let list: Vec<String> = which
        .map(|i| format!("{} ({})", members[i].host, members[i].engine.endpoint.url))
        .collect();
    list.join(", ")
}

fn different_swarms(members: &[Member], manager: usize, others: &[usize]) -> SwarmError {
    SwarmError::Refused(format!(
        "the lab's hosts are in different swarms: {} is not in the swarm of {}\n  (hint: overlay networks need every host in one swarm; make them leave (`docker swarm leave`) or join one swarm)",
        names(members, others.iter().copied()),
        names(members, std::iter::once(manager))
    ))
}

fn advertise(member: &Member) -> std::result::Result<IpAddr, SwarmError> {
    member.advertise.ok_or_else(|| {
        SwarmError::Refused(format!(
            "cannot tell which address host {} ({}) should advertise to the swarm\n  (hint: give it after the engine: --host {}=ENGINE?advertise=ADDR)",
            member.host, member.engine.endpoint.url, member.host
        ))
    })
}

/// The swarm's management port on the advertised address alone: a lab on
/// a laptop must not open 2377 on every network the laptop is on.
fn listen_on(address: IpAddr) -> String {
    std::net::SocketAddr::new(address, SWARM_PORT).to_string()
}

/// A new swarm: manager on the first member, the others join.
async fn make(members: &[Member<'_>]) -> std::result::Result<Joined, SwarmError> {
    let first = &members[0];
    let address = advertise(first)?;
    let request = SwarmInitRequest {
        listen_addr: Some(listen_on(address)),
        advertise_addr: Some(address.to_string()),
        data_path_addr: Some(address.to_string()),
        spec: Some(SwarmSpec {
            labels: Some(HashMap::from([(LABEL_SWARM.to_owned(), "true".to_owned())])),
            ..Default::default()
        }),
        ..Default::default()
    };
    match first.engine.docker.init_swarm(request).await {
        Ok(_) => {}
        // Another `up` got there first: use its swarm.
        Err(e) if Refusal::of(&e) == Refusal::AlreadyInSwarm && members.len() == 1 => {
            return Ok(Joined::default());
        }
        Err(e) => {
            return Err(EngineError::new(
                format!(
                    "cannot initialise a swarm on host {} (advertising {address})",
                    first.host
                ),
                e,
            )
            .into());
        }
    }
    let others: Vec<usize> = (1..members.len()).collect();
    if let Err(e) = join_all(members, 0, &others).await {
        // Nothing may be left: every member leaves again, the manager last.
        for m in members.iter().rev() {
            let _ = leave(m.engine).await;
        }
        return Err(e);
    }
    Ok(Joined {
        manager: 0,
        made: true,
        joined: others,
    })
}

/// Joins `which` to the manager's swarm as workers; on a failure, the ones
/// that joined leave again.
async fn join_all(
    members: &[Member<'_>],
    manager: usize,
    which: &[usize],
) -> std::result::Result<(), SwarmError> {
    if which.is_empty() {
        return Ok(());
    }
    let m = &members[manager];
    let swarm = m
        .engine
        .docker
        .inspect_swarm()
        .await
        .ctx(|| "cannot read the swarm's join token".into())?;
    let token = swarm.join_tokens.and_then(|t| t.worker).ok_or_else(|| {
        EngineError::new(
            "cannot read the swarm's join token",
            anyhow::anyhow!("the manager gave none"),
        )
    })?;
    let manager_addr = advertise(m)?;
    let mut joined: Vec<usize> = Vec::new();
    for &i in which {
        let member = &members[i];
        let address = advertise(member)?;
        let request = SwarmJoinRequest {
            listen_addr: Some(listen_on(address)),
            advertise_addr: Some(address.to_string()),
            data_path_addr: Some(address.to_string()),
            remote_addrs: Some(vec![listen_on(manager_addr)]),
            join_token: Some(token.clone()),
        };
        let joined_now = match member.engine.docker.join_swarm(request).await {
            Ok(()) => mark_netlabs(m.engine, member.engine).await,
            Err(e) => Err(EngineError::new("cannot join the swarm", e)),
        };
        if let Err(e) = joined_now {
            for &j in &joined {
                let _ = leave(members[j].engine).await;
            }
            return Err(EngineError::new(
                format!(
                    "host {} ({}) cannot join the swarm of host {} at {manager_addr}",
                    member.host, member.engine.endpoint.url, m.host
                ),
                anyhow::anyhow!("{e:#}"),
            )
            .into());
        }
        joined.push(i);
    }
    Ok(())
}

/// Labels a node netlab joined as netlab's, on the manager: a node of the
/// swarm without that label (and not among the lab's engines) is someone
/// else's, and keeps the swarm alive; one with it is netlab's own, also
/// when its engine is gone.
async fn mark_netlabs(manager: &Engine, member: &Engine) -> Result<()> {
    let SwarmState::Active { node_id, .. } = state(member).await? else {
        return Err(EngineError::new(
            "the engine joined the swarm",
            anyhow::anyhow!("but says it is in none"),
        ));
    };
    let node = manager
        .docker
        .inspect_node(&node_id)
        .await
        .ctx(|| format!("cannot inspect swarm node {node_id}"))?;
    let mut spec = node.spec.unwrap_or_default();
    spec.labels
        .get_or_insert_with(HashMap::new)
        .insert(LABEL_SWARM.to_owned(), "true".to_owned());
    let version = node.version.and_then(|v| v.index).unwrap_or_default();
    manager
        .docker
        .update_node(
            &node_id,
            spec,
            bollard::query_parameters::UpdateNodeOptions {
                version: i64::try_from(version).unwrap_or_default(),
            },
        )
        .await
        .ctx(|| format!("cannot label swarm node {node_id} as netlab's"))
}

async fn leave(engine: &Engine) -> Result<()> {
    engine
        .docker
        .leave_swarm(Some(
            LeaveSwarmOptionsBuilder::default().force(true).build(),
        ))
        .await
        .ctx(|| format!("cannot leave the swarm on {}", engine.endpoint.url))?;
    // Only when nothing else uses it: a user's container may sit on it.
    if let Ok(gw) = engine.docker.inspect_network("docker_gwbridge", None).await
        && gw.containers.unwrap_or_default().is_empty()
    {
        network::remove(engine, "docker_gwbridge").await?;
    }
    Ok(())
}

/// What `release_if_unused` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// netlab's swarm was left on every engine.
    Left,
    /// No swarm netlab made, or a lab still needs it: nothing to say.
    NotNeeded,
    /// netlab's swarm stays: it holds what netlab did not make (or a lab is
    /// being brought up); the words say what.
    Kept(String),
}

/// Leaves the swarm on every engine given if netlab made it, no lab has an
/// overlay network left in it or holds a lock (an `up` under way may be
/// about to make one), and it holds nothing netlab did not make; workers
/// first, the manager last. `just_removed` are network ids the caller
/// removed a moment ago (the swarm may still list them for a while);
/// `own_lab` is the caller's lab, whose lock may be held.
pub async fn release_if_unused(
    engines: &[&Engine],
    just_removed: &[String],
    own_lab: &str,
) -> Result<Release> {
    // An engine that does not answer any more is no member to take care of.
    let states: Vec<SwarmState> = futures::future::join_all(engines.iter().map(|e| state(e)))
        .await
        .into_iter()
        .map(|s| s.unwrap_or(SwarmState::Inactive))
        .collect();
    let Some(manager) = states.iter().position(|s| {
        matches!(
            s,
            SwarmState::Active {
                manager: true,
                netlab_made: true,
                ..
            }
        )
    }) else {
        return Ok(Release::NotNeeded);
    };
    let docker = &engines[manager].docker;
    let options = ListNetworksOptionsBuilder::default()
        .filters(&HashMap::from([
            ("label", vec![LABEL_LAB]),
            ("driver", vec!["overlay"]),
        ]))
        .build();
    let overlays = docker
        .list_networks(Some(options))
        .await
        .ctx(|| "cannot list networks".into())?;
    if overlays
        .iter()
        .any(|n| n.id.as_ref().is_none_or(|id| !just_removed.contains(id)))
    {
        return Ok(Release::NotNeeded);
    }
    let mut foreign = Vec::new();
    for e in engines {
        foreign.extend(locks_of_other_labs(e, own_lab, engines).await?);
    }
    let nodes = docker
        .list_nodes(None)
        .await
        .ctx(|| "cannot list the swarm's nodes".into())?;
    let ours: Vec<&str> = states
        .iter()
        .filter_map(|s| match s {
            SwarmState::Active { node_id, .. } => Some(node_id.as_str()),
            SwarmState::Inactive => None,
        })
        .collect();
    foreign.extend(
        nodes
            .iter()
            .filter(|n| n.id.as_deref().is_none_or(|id| !ours.contains(&id)))
            .filter(|n| {
                !n.spec
                    .as_ref()
                    .and_then(|s| s.labels.as_ref())
                    .is_some_and(|l| l.contains_key(LABEL_SWARM))
            })
            .map(|n| {
                let name = n
                    .description
                    .as_ref()
                    .and_then(|d| d.hostname.clone())
                    .unwrap_or_default();
                format!("node `{name}`")
            }),
    );
    foreign.extend(foreign_contents(engines[manager], just_removed).await?);
    if !foreign.is_empty() {
        return Ok(Release::Kept(foreign.join(", ")));
    }
    for (i, s) in states.iter().enumerate() {
        if let SwarmState::Active {
            node_id,
            manager: false,
            ..
        } = s
            && nodes.iter().any(|n| n.id.as_deref() == Some(node_id))
        {
            leave(engines[i]).await?;
        }
    }
    leave(engines[manager]).await?;
    Ok(Release::Left)
}

/// Services, secrets, configs and swarm networks netlab did not make
/// (Docker's own `ingress` aside), in words.
async fn foreign_contents(manager: &Engine, just_removed: &[String]) -> Result<Vec<String>> {
    let docker = &manager.docker;
    let what = || {
        format!(
            "cannot list what the swarm of {} holds",
            manager.endpoint.url
        )
    };
    let (services, secrets, configs, networks) = tokio::try_join!(
        async { docker.list_services(None).await.ctx(what) },
        async { docker.list_secrets(None).await.ctx(what) },
        async { docker.list_configs(None).await.ctx(what) },
        async {
            let options = ListNetworksOptionsBuilder::default()
                .filters(&HashMap::from([("scope", vec!["swarm"])]))
                .build();
            docker.list_networks(Some(options)).await.ctx(what)
        },
    )?;
    let name_of =
        |kind: &str, name: Option<String>| format!("{kind} `{}`", name.unwrap_or_default());
    let mut out: Vec<String> = Vec::new();
    out.extend(
        services
            .into_iter()
            .map(|s| name_of("service", s.spec.and_then(|s| s.name))),
    );
    out.extend(
        secrets
            .into_iter()
            .map(|s| name_of("secret", s.spec.and_then(|s| s.name))),
    );
    out.extend(
        configs
            .into_iter()
            .map(|c| name_of("config", c.spec.and_then(|s| s.name))),
    );
    out.extend(
        networks
            .into_iter()
            .filter(|n| n.name.as_deref() != Some("ingress"))
            .filter(|n| !n.labels.as_ref().is_some_and(|l| l.contains_key(LABEL_LAB)))
            .filter(|n| n.id.as_ref().is_none_or(|id| !just_removed.contains(id)))
            .map(|n| name_of("network", n.name)),
    );
    Ok(out)
}

/// Labs other than `own_lab` that a netlab is changing now (their lock is
/// on `engine`) and whose record puts an overlay network on one of the
/// swarm's engines (`swarm`): an `up` between making the swarm and making
/// its overlay.
async fn locks_of_other_labs(
    engine: &Engine,
    own_lab: &str,
    swarm: &[&Engine],
) -> Result<Vec<String>> {
    let role = format!("{LABEL_ROLE}={ROLE_LOCK}");
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&HashMap::from([("label", vec![role.as_str()])]))
        .build();
    let locks = engine
        .docker
        .list_containers(Some(options))
        .await
        .ctx(|| "cannot list containers".into())?;
    let mut out = Vec::new();
    for lab in locks
        .into_iter()
        .filter_map(|c| c.labels?.get(LABEL_LAB).cloned())
        .filter(|lab| lab != own_lab)
    {
        let objects = super::discover::labs(engine, Some(&lab))
            .await?
            .remove(&lab)
            .unwrap_or_default();
        // No record yet, or one that cannot be read: nothing says it needs
        // this swarm.
        let Some(claim) = objects.claim() else {
            continue;
        };
        let Ok(record) = super::record::read(engine, &claim.id, &lab).await else {
            continue;
        };
        let overlay = record
            .lab
            .networks
            .values()
            .any(|n| matches!(n.driver, crate::lab::Driver::Overlay { .. }));
        let here = record
            .engines
            .values()
            .any(|e| swarm.iter().any(|s| s.endpoint.url == e.url));
        if overlay && here {
            out.push(format!("lab `{lab}`, which a netlab is bringing up now"));
        }
    }
    Ok(out)
}

/// The address a host advertises: its first external address.
pub fn advertise_address(interfaces: &[InterfaceAddress]) -> Option<IpAddr> {
    crate::agent::probe::external_address(interfaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertised_address_is_not_loopback_nor_dockers() {
        let list = |pairs: &[(&str, &str)]| -> Vec<InterfaceAddress> {
            pairs
                .iter()
                .map(|(i, a)| InterfaceAddress {
                    interface: (*i).into(),
                    address: a.parse().expect("ip"),
                })
                .collect()
        };
        let found = advertise_address(&list(&[
            ("lo", "127.0.0.1"),
            ("docker0", "172.17.0.1"),
            ("br-1a2b", "172.18.0.1"),
            ("eth0", "10.250.77.2"),
        ]));
        assert_eq!(found, Some("10.250.77.2".parse().expect("ip")));
        assert_eq!(
            advertise_address(&list(&[("lo", "127.0.0.1"), ("docker0", "172.17.0.1")])),
            None
        );
    }
}
