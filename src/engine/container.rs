//! Containers: a lab's nodes and netlab's own (probe helpers, host helpers,
//! the claim and the lock) — create from the plan (first network at create,
//! the others before start), put files in and read them back, wait until
//! ready, inspect, remove.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointIpamConfig, EndpointSettings,
    HostConfig, HostConfigLogConfig, NetworkConnectRequest, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures::{StreamExt, TryStreamExt};

use super::refusal::Refusal;
use super::{Context, Engine, EngineError, Result};
use crate::agent::protocol::READY_LINE;
use crate::lab::Transport;
use crate::live::PublishedPort;
use crate::plan::{
    ContainerPlan, EndpointPlan, ImageRef, LABEL_HASH, LABEL_HOST, LABEL_LAB, LABEL_NODE,
    LABEL_ROLE, ROLE_PROBE_HELPER, probe_helper_name,
};

/// An agent reads probe requests on its stdin (netlab attaches to it), and
/// its replies go to the log as well: keep that bounded.
pub(super) fn agent_io(body: &mut ContainerCreateBody) {
    body.open_stdin = Some(true);
    body.stdin_once = Some(false);
    body.tty = Some(false);
    let host = body.host_config.get_or_insert_with(HostConfig::default);
    host.log_config = Some(HostConfigLogConfig {
        typ: Some("json-file".into()),
        config: Some(HashMap::from([
            ("max-size".into(), "1m".into()),
            ("max-file".into(), "2".into()),
        ])),
    });
}

fn endpoint_settings(e: &EndpointPlan) -> EndpointSettings {
    let static_address = e.ipv4.is_some() || e.ipv6.is_some();
    EndpointSettings {
        aliases: Some(e.aliases.clone()),
        links: (!e.links.is_empty()).then(|| e.links.clone()),
        ipam_config: static_address.then(|| EndpointIpamConfig {
            ipv4_address: e.ipv4.map(|ip| ip.to_string()),
            ipv6_address: e.ipv6.map(|ip| ip.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Creates the container, joins its other networks, puts `files` into it
/// (path, contents, mode) and starts it. Returns the container id.
pub async fn create_and_start(
    engine: &Engine,
    plan: &ContainerPlan,
    agent_image: &str,
    files: &[(String, Vec<u8>, u32)],
) -> Result<String> {
    let image = match &plan.image {
        ImageRef::Agent => agent_image.to_owned(),
        ImageRef::Foreign(i) => i.clone(),
    };
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &plan.ports {
        port_bindings
            .entry(p.port_key())
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: p.host_ip.map(|ip| ip.to_string()),
                host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()),
            });
    }
    let exposed: Vec<String> = port_bindings.keys().cloned().collect();
    let networking_config = plan.endpoints.first().map(|e| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(e.network.clone(), endpoint_settings(e))])),
    });
    let mut body = ContainerCreateBody {
        image: Some(image.clone()),
        cmd: plan.cmd.clone(),
        env: Some(plan.env.clone()),
        hostname: plan.hostname.clone(),
        labels: Some(plan.labels.clone()),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(HostConfig {
            network_mode: Some(plan.network_mode.clone()),
            port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
            extra_hosts: (!plan.extra_hosts.is_empty()).then(|| plan.extra_hosts.clone()),
            ..Default::default()
        }),
        networking_config,
        ..Default::default()
    };
    if plan.is_agent() {
        agent_io(&mut body);
    }
    let options = CreateContainerOptionsBuilder::default()
        .name(&plan.name)
        .build();
    let created = settled(|| {
        engine
            .docker
            .create_container(Some(options.clone()), body.clone())
    })
    .await
    .map_err(|e| {
        let hint = Refusal::of(&e).hint_line();
        EngineError::new(
            format!(
                "cannot create container {} for node `{}`",
                plan.name, plan.node
            ),
            anyhow::anyhow!("{e}{hint}"),
        )
    })?;
    for e in plan.endpoints.iter().skip(1) {
        settled(|| {
            engine.docker.connect_network(
                &e.network,
                NetworkConnectRequest {
                    container: created.id.clone(),
                    endpoint_config: Some(endpoint_settings(e)),
                },
            )
        })
        .await
        .ctx(|| {
            format!(
                "cannot connect node `{}` to network {}",
                plan.node, e.network
            )
        })?;
    }
    if !files.is_empty() {
        upload(engine, &created.id, files)
            .await
            .ctx(|| format!("cannot put files into node `{}`", plan.node))?;
    }
    // Docker 26 and 28 can also refuse the start of a container on a new
    // overlay ("could not find a network matching network mode") after
    // its create and connects went through.
    settled(|| engine.docker.start_container(&created.id, None))
        .await
        .map_err(|e| {
            let hint = Refusal::of(&e).hint_line();
            EngineError::new(
                format!("cannot start node `{}`", plan.node),
                anyhow::anyhow!("{e}{hint}"),
            )
        })?;
    Ok(created.id)
}

/// How long an overlay network may take to be known where it is used.
const NETWORK_SETTLE: Duration = Duration::from_secs(15);

/// Runs an engine call again while it fails because a network it names is
/// not known yet: a swarm makes an overlay network known to a node a little
/// after it was created (seen on Docker 26 and 28 right after a new swarm,
/// at create, connect and start), and Docker 20.10 goes on asking the swarm
/// for an overlay that a converge has just replaced by a bridge of the same
/// name ("Could not attach to network …: NotFound", status 500, at start).
async fn settled<T, F, Fut>(call: F) -> std::result::Result<T, bollard::errors::Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = std::result::Result<T, bollard::errors::Error>>,
{
    let deadline = tokio::time::Instant::now() + NETWORK_SETTLE;
    loop {
        match call().await {
            Err(e)
                if tokio::time::Instant::now() < deadline
                    && Refusal::of(&e) == Refusal::NetworkUnknown =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => return other,
        }
    }
}

/// Puts files into a container, as a tar extracted at `/`.
pub async fn upload(
    engine: &Engine,
    id: &str,
    files: &[(String, Vec<u8>, u32)],
) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_cksum();
        tar.append_data(&mut header, path.trim_start_matches('/'), data.as_slice())?;
    }
    let options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
        .path("/")
        .build();
    engine
        .docker
        .upload_to_container(
            id,
            Some(options),
            bollard::body_full(tar.into_inner()?.into()),
        )
        .await?;
    Ok(())
}

/// Starts the probe helper of a node whose image is not the agent: an agent
/// container in that node's network namespace (and so with its addresses,
/// routes and resolv.conf), where verify runs the node's probes.
pub async fn create_probe_helper(
    engine: &Engine,
    node: &ContainerPlan,
    node_id: &str,
    agent_image: &str,
) -> Result<String> {
    let mut labels = HashMap::from([(LABEL_ROLE.to_owned(), ROLE_PROBE_HELPER.to_owned())]);
    for key in [LABEL_LAB, LABEL_NODE, LABEL_HOST, LABEL_HASH] {
        if let Some(v) = node.labels.get(key) {
            labels.insert(key.to_owned(), v.clone());
        }
    }
    let lab = node.labels.get(LABEL_LAB).cloned().unwrap_or_default();
    let mut body = ContainerCreateBody {
        image: Some(agent_image.to_owned()),
        cmd: Some(
            ["agent", "serve", "--lab", &lab, "--node", &node.node]
                .map(String::from)
                .to_vec(),
        ),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some(format!("container:{node_id}")),
            ..Default::default()
        }),
        ..Default::default()
    };
    agent_io(&mut body);
    let name = probe_helper_name(&lab, &node.node);
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = engine
        .docker
        .create_container(Some(options), body)
        .await
        .ctx(|| format!("cannot create the probe helper of node `{}`", node.node))?;
    engine
        .docker
        .start_container(&created.id, None)
        .await
        .ctx(|| format!("cannot start the probe helper of node `{}`", node.node))?;
    Ok(created.id)
}

/// Creates (never starts) one of netlab's markers — the lab's claim or its
/// lock — from the agent image. `None` when a container of that name exists
/// already: names are unique in an engine, so only one netlab can win.
pub async fn create_marker(
    engine: &Engine,
    name: &str,
    labels: HashMap<String, String>,
    agent_image: &str,
) -> Result<Option<String>> {
    let body = ContainerCreateBody {
        image: Some(agent_image.to_owned()),
        cmd: Some(vec!["agent".into(), "marker".into()]),
        labels: Some(labels),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(name).build();
    match engine.docker.create_container(Some(options), body).await {
        Ok(created) => Ok(Some(created.id)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => Ok(None),
        Err(e) => Err(EngineError::new(
            format!("cannot create container {name}"),
            e,
        )),
    }
}

/// The contents of one file in a container.
pub async fn read_file(engine: &Engine, id: &str, path: &str) -> Result<Vec<u8>> {
    let options = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let archive: Vec<u8> = engine
        .docker
        .download_from_container(id, Some(options))
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .ctx(|| format!("cannot read {path} from container {id}"))?;
    let mut tar = tar::Archive::new(archive.as_slice());
    let mut entries = tar
        .entries()
        .ctx(|| format!("{path} from container {id} is not an archive"))?;
    let mut entry = entries
        .next()
        .ok_or_else(|| {
            EngineError::new(
                format!("cannot read {path} from container {id}"),
                anyhow::anyhow!("the archive is empty"),
            )
        })?
        .ctx(|| format!("{path} from container {id} is not an archive"))?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut entry, &mut out)
        .ctx(|| format!("cannot read {path} from container {id}"))?;
    Ok(out)
}

/// Waits until an agent container printed its ready line (every listener is
/// bound), or a foreign container is running. Fails early if it exits.
pub async fn wait_ready(
    engine: &Engine,
    id: &str,
    node: &str,
    is_agent: bool,
    deadline: Duration,
) -> Result<()> {
    let wait = async {
        if !is_agent {
            return wait_running(engine, id, node).await;
        }
        let followed = follow_log(engine, id, &format!("node `{node}`"), |l| {
            (l.trim() == READY_LINE).then_some(())
        })
        .await;
        let seen = match followed {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(seen)) => seen,
            // The engine refuses the log of a container that is dead or
            // being removed (409): say what became of the node.
            Err(e) => return Err(died_before_ready(engine, id, node, e).await),
        };
        // The log ends when the container stops.
        let state = inspect(engine, id).await?.state.unwrap_or_default();
        Err(EngineError::new(
            format!(
                "node `{node}` exited before it was ready (exit code {})",
                state.exit_code.unwrap_or_default()
            ),
            anyhow::anyhow!("its output:\n{}", seen.trim_end()),
        ))
    };
    tokio::time::timeout(deadline, wait)
        .await
        .unwrap_or_else(|_| {
            Err(EngineError::new(
                format!("node `{node}` was not ready within {}s", deadline.as_secs()),
                anyhow::anyhow!("raise the deadline with --wait, or look at `docker logs {id}`"),
            ))
        })
}

/// What became of a node whose log could not be followed: its state and
/// exit code when the engine still has it, the engine's refusal as cause.
async fn died_before_ready(engine: &Engine, id: &str, node: &str, why: EngineError) -> EngineError {
    let state = match inspect(engine, id).await {
        Ok(i) => i.state.unwrap_or_default(),
        Err(_) => {
            return EngineError::new(
                format!("node `{node}` was removed before it was ready"),
                why,
            );
        }
    };
    if state.running == Some(true) {
        return why;
    }
    let status = match state.status.map(|s| s.to_string()).as_deref() {
        Some("removing") => "being removed".to_owned(),
        Some(other) if !other.is_empty() => other.to_owned(),
        _ => "not running".to_owned(),
    };
    EngineError::new(
        format!(
            "node `{node}` is {status} and was never ready (exit code {}{})",
            state.exit_code.unwrap_or_default(),
            state
                .error
                .filter(|e| !e.is_empty())
                .map(|e| format!(", the engine says: {e}"))
                .unwrap_or_default()
        ),
        why,
    )
}

/// Follows a container's output (stdout and stderr) until a line gives
/// what `find` looks for; when the output ends first (the container
/// stopped), everything it said. `what` names the container in errors.
pub async fn follow_log<T>(
    engine: &Engine,
    id: &str,
    what: &str,
    find: impl Fn(&str) -> Option<T>,
) -> Result<std::result::Result<T, String>> {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = engine.docker.logs(id, Some(options));
    let mut seen = String::new();
    while let Some(chunk) = logs.next().await {
        let chunk = chunk.ctx(|| format!("cannot read the log of {what}"))?;
        seen.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        if let Some(found) = seen.lines().find_map(&find) {
            return Ok(Ok(found));
        }
    }
    Ok(Err(seen))
}

async fn wait_running(engine: &Engine, id: &str, node: &str) -> Result<()> {
    loop {
        let state = inspect(engine, id).await?.state.unwrap_or_default();
        if state.running == Some(true) {
            return Ok(());
        }
        if state
            .status
            .is_some_and(|s| s.to_string() == "exited" || s.to_string() == "dead")
        {
            return Err(EngineError::new(
                format!(
                    "node `{node}` exited (exit code {})",
                    state.exit_code.unwrap_or_default()
                ),
                anyhow::anyhow!(
                    "a node's container must keep running; give it a long-running `command:`"
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Restarts a container (stopping it within `grace`).
pub async fn restart(engine: &Engine, id: &str, grace: Duration) -> Result<()> {
    let options = bollard::query_parameters::RestartContainerOptionsBuilder::default()
        .t(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX))
        .build();
    engine
        .docker
        .restart_container(id, Some(options))
        .await
        .ctx(|| format!("cannot restart container {id}"))
}

pub async fn inspect(engine: &Engine, id: &str) -> Result<ContainerInspectResponse> {
    engine
        .docker
        .inspect_container(id, None)
        .await
        .ctx(|| format!("cannot inspect container {id}"))
}

/// A container of a lab, as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    /// The container's name, without the leading `/`.
    pub name: String,
    /// The image it was made from, by id.
    pub image_id: String,
    pub labels: HashMap<String, String>,
    pub state: String,
}

impl Listed {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// Its role: a node when it has none (an older netlab's node).
    pub fn role(&self) -> &str {
        self.label(LABEL_ROLE).unwrap_or(crate::plan::ROLE_NODE)
    }
}

/// Containers carrying `io.netlab.lab=<lab>` (or any lab), running or not.
pub async fn list(engine: &Engine, lab: Option<&str>) -> Result<Vec<Listed>> {
    let filter = match lab {
        Some(l) => format!("{LABEL_LAB}={l}"),
        None => LABEL_LAB.to_owned(),
    };
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&HashMap::from([("label", vec![filter.as_str()])]))
        .build();
    let containers = engine
        .docker
        .list_containers(Some(options))
        .await
        .ctx(|| "cannot list containers".into())?;
    Ok(containers
        .into_iter()
        .map(|c| Listed {
            id: c.id.unwrap_or_default(),
            name: c
                .names
                .and_then(|n| n.into_iter().next())
                .map(|n| n.trim_start_matches('/').to_owned())
                .unwrap_or_default(),
            image_id: c.image_id.unwrap_or_default(),
            labels: c.labels.unwrap_or_default(),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        })
        .collect())
}

/// Force-removes a container; one already gone is success.
pub async fn remove(engine: &Engine, id: &str) -> Result<()> {
    let options = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match engine.docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(e) if super::refusal::is_not_found(&e) => Ok(()),
        // Another remover (a concurrent `down`) got there first.
        Err(e) if Refusal::of(&e) == Refusal::RemovalInProgress => Ok(()),
        Err(e) => Err(EngineError::new(format!("cannot remove container {id}"), e)),
    }
}

/// Whether an inspected container runs, and its state in words:
/// `running`, or `exited (exit code 137)`.
pub fn state_words(info: &ContainerInspectResponse) -> (bool, String) {
    let state = info.state.clone().unwrap_or_default();
    let running = state.running == Some(true);
    let status = state
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".into());
    if running {
        return (true, status);
    }
    let code = state.exit_code.unwrap_or_default();
    (false, format!("{status} (exit code {code})"))
}

/// IPv4 address per engine network name, from an inspect result.
pub fn addresses(inspect: &ContainerInspectResponse) -> HashMap<String, Ipv4Addr> {
    endpoint_field(inspect, |ep| ep.ip_address.as_deref())
}

/// Gateway per engine network name.
pub fn gateways(inspect: &ContainerInspectResponse) -> HashMap<String, Ipv4Addr> {
    endpoint_field(inspect, |ep| ep.gateway.as_deref())
}

/// IPv6 address per engine network name (networks with IPv6 only).
pub fn addresses6(inspect: &ContainerInspectResponse) -> HashMap<String, Ipv6Addr> {
    endpoint_field(inspect, |ep| ep.global_ipv6_address.as_deref())
}

/// IPv6 gateway per engine network name.
pub fn gateways6(inspect: &ContainerInspectResponse) -> HashMap<String, Ipv6Addr> {
    endpoint_field(inspect, |ep| ep.ipv6_gateway.as_deref())
}

/// One field of every endpoint; an empty or unparsable one (an IPv6-only
/// network's IPv4 address is "") is left out.
fn endpoint_field<T: std::str::FromStr>(
    inspect: &ContainerInspectResponse,
    field: impl Fn(&EndpointSettings) -> Option<&str>,
) -> HashMap<String, T> {
    inspect
        .network_settings
        .as_ref()
        .and_then(|s| s.networks.as_ref())
        .map(|nets| {
            nets.iter()
                .filter_map(|(name, ep)| Some((name.clone(), field(ep)?.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The engine's port map (`"80/tcp": [{HostIp, HostPort}]`), flattened,
/// IPv4 bindings first.
pub fn published_ports(inspect: &ContainerInspectResponse) -> Vec<PublishedPort> {
    let Some(map) = inspect
        .network_settings
        .as_ref()
        .and_then(|s| s.ports.as_ref())
    else {
        return Vec::new();
    };
    let mut out: Vec<PublishedPort> = map
        .iter()
        .flat_map(|(key, bindings)| {
            let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
            let container_port = port.parse().ok();
            let transport = match proto {
                "udp" => Some(Transport::Udp),
                "tcp" => Some(Transport::Tcp),
                _ => None,
            };
            bindings.iter().flatten().filter_map(move |b| {
                Some(PublishedPort {
                    container_port: container_port?,
                    transport: transport?,
                    host_ip: b
                        .host_ip
                        .as_deref()
                        .filter(|s| !s.is_empty())
                        .unwrap_or("0.0.0.0")
                        .parse()
                        .ok()?,
                    host_port: b.host_port.as_deref()?.parse().ok()?,
                })
            })
        })
        .collect();
    out.sort_by_key(|p| {
        (
            p.container_port,
            p.transport.as_str(),
            p.host_ip.is_ipv6(),
            p.host_port,
        )
    });
    out
}
