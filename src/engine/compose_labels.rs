//! A compose project as the engine shows it: its containers and networks
//! found by the labels docker-compose v1 and `docker compose` v2 both put on
//! them, read without changing anything; and netlab's helpers that probe
//! from inside its services' namespaces, made and removed here.

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, ListContainersOptionsBuilder};

use futures::{StreamExt, TryStreamExt};

use super::{CONCURRENCY, Context, Engine, Result, container, network};
use crate::live::PublishedPort;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VERSION: &str = "com.docker.compose.version";
/// On netlab's helpers: the compose project they probe for.
pub const LABEL_COMPOSE: &str = "io.netlab.compose";

/// One container of a service, as inspected.
#[derive(Debug, Clone, Default)]
pub struct Replica {
    pub id: String,
    pub name: String,
    pub service: String,
    /// `com.docker.compose.container-number` (1 when missing).
    pub number: u32,
    pub image: String,
    pub running: bool,
    /// The engine's word, with the exit code when it stopped.
    pub state: String,
    /// `host`, `none`, `bridge`/`default`, `container:…` or a network name.
    pub network_mode: String,
    /// Per engine network name.
    pub addresses: HashMap<String, Ipv4Addr>,
    pub gateways: HashMap<String, Ipv4Addr>,
    pub addresses6: HashMap<String, Ipv6Addr>,
    pub gateways6: HashMap<String, Ipv6Addr>,
    /// Per engine network name: the aliases the endpoint was made with.
    pub aliases: HashMap<String, Vec<String>>,
    pub ports: Vec<PublishedPort>,
    /// `expose`, `ports` targets and the image's EXPOSE, as `80/tcp`.
    pub exposed: BTreeSet<String>,
    /// The compose version that made it (`1.29.2`, `2.26.1`).
    pub compose_version: String,
}

/// One network of the project.
#[derive(Debug, Clone, Default)]
pub struct ProjectNetwork {
    /// The engine's name (`<project>_<network>` unless `name:` set it).
    pub name: String,
    /// The compose file's name for it (`com.docker.compose.network`).
    pub compose_name: String,
    pub driver: String,
    pub internal: bool,
    pub ipv6: bool,
    pub subnets: Vec<ipnet::IpNet>,
}

/// Containers (one-off `run` containers left out) and networks of `project`.
pub async fn project(
    engine: &Engine,
    project: &str,
) -> Result<(Vec<Replica>, Vec<ProjectNetwork>)> {
    let filter = format!("{PROJECT}={project}");
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&HashMap::from([("label", vec![filter.as_str()])]))
        .build();
    let listed = engine
        .docker
        .list_containers(Some(options))
        .await
        .ctx(|| format!("cannot list the containers of compose project `{project}`"))?;
    let services = listed.into_iter().filter_map(|c| {
        let labels = c.labels.unwrap_or_default();
        let oneoff = labels
            .get(ONEOFF)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Some((c.id.filter(|_| !oneoff)?, labels))
    });
    let replicas: Vec<Replica> = futures::stream::iter(services)
        .map(|(id, labels)| async move {
            let info = container::inspect(engine, &id).await?;
            Ok::<_, super::EngineError>(replica(&id, &labels, &info))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let networks = network::labelled(engine, &filter, &format!("compose project `{project}`"))
        .await?
        .into_iter()
        .map(|n| {
            let labels = n.labels.unwrap_or_default();
            let name = n.name.unwrap_or_default();
            ProjectNetwork {
                compose_name: labels.get(NETWORK).cloned().unwrap_or_else(|| name.clone()),
                name,
                driver: n.driver.unwrap_or_default(),
                internal: n.internal.unwrap_or(false),
                ipv6: n.enable_ipv6.unwrap_or(false),
                subnets: network::subnets_of(n.ipam),
            }
        })
        .collect();
    Ok((replicas, networks))
}

fn replica(
    id: &str,
    labels: &HashMap<String, String>,
    info: &bollard::models::ContainerInspectResponse,
) -> Replica {
    let (running, state) = container::state_words(info);
    let aliases = info
        .network_settings
        .as_ref()
        .and_then(|s| s.networks.as_ref())
        .map(|nets| {
            nets.iter()
                .map(|(name, ep)| (name.clone(), ep.aliases.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let config = info.config.clone().unwrap_or_default();
    Replica {
        id: id.to_owned(),
        name: info
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        service: labels.get(SERVICE).cloned().unwrap_or_default(),
        number: labels.get(NUMBER).and_then(|n| n.parse().ok()).unwrap_or(1),
        image: config.image.clone().unwrap_or_default(),
        state,
        running,
        network_mode: info
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .unwrap_or_default(),
        addresses: container::addresses(info),
        gateways: container::gateways(info),
        addresses6: container::addresses6(info),
        gateways6: container::gateways6(info),
        aliases,
        ports: container::published_ports(info),
        exposed: config
            .exposed_ports
            .unwrap_or_default()
            .into_iter()
            .collect(),
        compose_version: labels.get(VERSION).cloned().unwrap_or_default(),
    }
}

/// The names of the compose projects that have containers on the engine.
pub async fn projects(engine: &Engine) -> Result<BTreeSet<String>> {
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&HashMap::from([("label", vec![PROJECT])]))
        .build();
    Ok(engine
        .docker
        .list_containers(Some(options))
        .await
        .ctx(|| "cannot list containers".into())?
        .into_iter()
        .filter_map(|c| c.labels?.get(PROJECT).cloned())
        .collect())
}

/// Starts one of netlab's agents as a helper: `network_mode` is
/// `container:<id>` (a service's namespace) or `host`. Its labels say whose
/// it is; nothing of the project is touched.
pub async fn start_helper(
    engine: &Engine,
    name: &str,
    labels: HashMap<String, String>,
    cmd: Vec<String>,
    network_mode: String,
    agent_image: &str,
) -> Result<String> {
    let mut body = ContainerCreateBody {
        image: Some(agent_image.to_owned()),
        cmd: Some(cmd),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some(network_mode),
            ..Default::default()
        }),
        ..Default::default()
    };
    container::agent_io(&mut body);
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    let created = engine
        .docker
        .create_container(Some(options), body)
        .await
        .ctx(|| format!("cannot create the helper {name}"))?;
    engine
        .docker
        .start_container(&created.id, None)
        .await
        .ctx(|| format!("cannot start the helper {name}"))?;
    Ok(created.id)
}
