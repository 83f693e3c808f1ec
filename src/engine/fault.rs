//! What a step does to a running lab, through the engine: a node leaves or
//! joins a network (with its declared aliases and static address), stops,
//! starts, restarts, is paused, unpaused or killed; a link of a node is
//! impaired or cleared by a helper container that joins the node's network
//! namespace with `NET_ADMIN` (`agent impair`); and the waits that make an
//! action finished when it returns (a killed node has exited, a restarted
//! agent answers again).

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, HostConfigLogConfig,
    NetworkConnectRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::StreamExt;

use super::{Context, Engine, EngineError, Result, attach, container};
use crate::agent::impair::{self, ImpairReply};
use crate::agent::protocol::ProbeBatch;
use crate::plan::{LABEL_HOST, LABEL_LAB, LABEL_NETWORK, LABEL_NODE, LABEL_ROLE, ROLE_IMPAIR};

/// How long an impair helper may take to say it is ready.
const HELPER_DEADLINE: Duration = Duration::from_secs(30);
/// An emulator gives its interface back within this once stopped.
const HELPER_STOP_GRACE: i32 = 5;

pub async fn disconnect(engine: &Engine, container: &str, network: &str) -> Result<()> {
    engine
        .docker
        .disconnect_network(
            network,
            NetworkDisconnectRequest {
                container: container.to_owned(),
                force: Some(false),
            },
        )
        .await
        .ctx(|| format!("cannot disconnect {container} from {network}"))
}

/// How a node joins a network: its aliases (its name first) and static
/// addresses.
pub struct Joining {
    pub aliases: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// Its legacy links on this network: `container:alias`.
    pub links: Vec<String>,
}

/// Joins `network` with these aliases and, if given, these addresses.
pub async fn connect(
    engine: &Engine,
    container: &str,
    network: &str,
    joining: Joining,
) -> Result<()> {
    let statics = joining.ipv4.is_some() || joining.ipv6.is_some();
    let endpoint = EndpointSettings {
        aliases: Some(joining.aliases),
        links: (!joining.links.is_empty()).then_some(joining.links),
        ipam_config: statics.then(|| EndpointIpamConfig {
            ipv4_address: joining.ipv4.map(|ip| ip.to_string()),
            ipv6_address: joining.ipv6.map(|ip| ip.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    };
    engine
        .docker
        .connect_network(
            network,
            NetworkConnectRequest {
                container: container.to_owned(),
                endpoint_config: Some(endpoint),
            },
        )
        .await
        .ctx(|| format!("cannot connect {container} to {network}"))
}

fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

pub async fn stop(engine: &Engine, container: &str, grace: Duration) -> Result<()> {
    let options = StopContainerOptionsBuilder::default()
        .t(seconds(grace))
        .build();
    engine
        .docker
        .stop_container(container, Some(options))
        .await
        .ctx(|| format!("cannot stop {container}"))
}

pub async fn start(engine: &Engine, container: &str) -> Result<()> {
    engine
        .docker
        .start_container(container, None)
        .await
        .ctx(|| format!("cannot start {container}"))
}

pub async fn restart(engine: &Engine, container: &str, grace: Duration) -> Result<()> {
    let options = RestartContainerOptionsBuilder::default()
        .t(seconds(grace))
        .build();
    engine
        .docker
        .restart_container(container, Some(options))
        .await
        .ctx(|| format!("cannot restart {container}"))
}

pub async fn pause(engine: &Engine, container: &str) -> Result<()> {
    engine
        .docker
        .pause_container(container)
        .await
        .ctx(|| format!("cannot pause {container}"))
}

pub async fn unpause(engine: &Engine, container: &str) -> Result<()> {
    engine
        .docker
        .unpause_container(container)
        .await
        .ctx(|| format!("cannot unpause {container}"))
}

/// SIGKILL, then the wait until the engine sees it exited.
pub async fn kill(engine: &Engine, container: &str, deadline: Duration) -> Result<()> {
    let options = KillContainerOptionsBuilder::default()
        .signal("SIGKILL")
        .build();
    engine
        .docker
        .kill_container(container, Some(options))
        .await
        .ctx(|| format!("cannot kill {container}"))?;
    let waited = tokio::time::timeout(deadline, async {
        loop {
            let (running, _) = state(engine, container).await?;
            if !running {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| {
        Err(EngineError::new(
            format!("{container} was killed but still runs after {deadline:?}"),
            anyhow::anyhow!("the engine did not see it exit"),
        ))
    })
}

/// (running, paused) of a container.
pub async fn state(engine: &Engine, container: &str) -> Result<(bool, bool)> {
    let s = container::inspect(engine, container)
        .await?
        .state
        .unwrap_or_default();
    Ok((s.running == Some(true), s.paused == Some(true)))
}

/// Waits until the agent in `container` answers a probe request (an empty
/// one): its listeners are bound, as after `up`.
pub async fn wait_agent(engine: &Engine, container: &str, deadline: Duration) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut last = None;
    while started.elapsed() < deadline {
        let left = deadline.saturating_sub(started.elapsed());
        match tokio::time::timeout(
            left.min(Duration::from_secs(2)),
            attach::ask(engine, container, &ProbeBatch::default()),
        )
        .await
        {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = Some(format!("{e:#}")),
            Err(_) => last = Some("no answer".into()),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(EngineError::new(
        format!(
            "the agent in {container} did not answer within {}s",
            deadline.as_secs()
        ),
        anyhow::anyhow!(last.unwrap_or_default()),
    ))
}

/// A helper that runs `agent impair` in a node's network namespace.
pub struct ImpairHelper<'a> {
    pub name: String,
    pub lab: &'a str,
    pub node: &'a str,
    pub host: &'a str,
    pub network: Option<&'a str>,
    /// The node's container.
    pub target: &'a str,
    pub agent_image: &'a str,
    /// The `ImpairRequest`, as JSON.
    pub request: String,
}

/// Starts the helper and reads its first reply. With netem (or a clear)
/// the helper has finished and is removed; netlab's emulator keeps it
/// running (`true`).
pub async fn run_impair_helper(
    engine: &Engine,
    helper: &ImpairHelper<'_>,
) -> Result<(ImpairReply, bool)> {
    // One of the same name, left by an earlier run, goes first (stopping an
    // emulator gives its interface back).
    stop_and_remove(engine, &helper.name).await?;
    let mut labels = HashMap::from([
        (LABEL_LAB.to_owned(), helper.lab.to_owned()),
        (LABEL_NODE.to_owned(), helper.node.to_owned()),
        (LABEL_HOST.to_owned(), helper.host.to_owned()),
        (LABEL_ROLE.to_owned(), ROLE_IMPAIR.to_owned()),
    ]);
    if let Some(n) = helper.network {
        labels.insert(LABEL_NETWORK.to_owned(), n.to_owned());
    }
    let body = ContainerCreateBody {
        image: Some(helper.agent_image.to_owned()),
        cmd: Some(vec![
            "agent".into(),
            "impair".into(),
            "--request".into(),
            helper.request.clone(),
        ]),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some(format!("container:{}", helper.target)),
            cap_add: Some(vec!["NET_ADMIN".into()]),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::from([("max-size".into(), "1m".into())])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(&helper.name)
        .build();
    let created = engine
        .docker
        .create_container(Some(options), body)
        .await
        .ctx(|| format!("cannot create the impair helper of node `{}`", helper.node))?;
    let outcome = async {
        start(engine, &created.id).await?;
        let reply = tokio::time::timeout(HELPER_DEADLINE, first_reply(engine, &created.id))
            .await
            .unwrap_or_else(|_| {
                Err(EngineError::new(
                    format!(
                        "the impair helper of node `{}` did not answer within {}s",
                        helper.node,
                        HELPER_DEADLINE.as_secs()
                    ),
                    anyhow::anyhow!("look at `docker logs {}`", helper.name),
                ))
            })?;
        Ok::<_, EngineError>(reply)
    }
    .await;
    match outcome {
        Ok(reply) if reply.state == "ready" => Ok((reply, true)),
        Ok(reply) => {
            container::remove(engine, &created.id).await?;
            Ok((reply, false))
        }
        Err(e) => {
            let _ = container::remove(engine, &created.id).await;
            Err(e)
        }
    }
}

/// The first reply line in the helper's output; its log ends when it exits.
async fn first_reply(engine: &Engine, id: &str) -> Result<ImpairReply> {
    match container::follow_log(engine, id, &format!("helper {id}"), impair::parse_reply).await? {
        Ok(reply) => Ok(reply),
        Err(seen) => Err(EngineError::new(
            format!("the impair helper {id} exited without a reply"),
            anyhow::anyhow!("its output:\n{}", seen.trim_end()),
        )),
    }
}

/// The impair helpers of a lab (of one node, and one network), running or not.
pub async fn impair_helpers(
    engine: &Engine,
    lab: &str,
    node: Option<&str>,
    network: Option<&str>,
) -> Result<Vec<container::Listed>> {
    Ok(container::list(engine, Some(lab))
        .await?
        .into_iter()
        .filter(|c| c.role() == ROLE_IMPAIR)
        .filter(|c| node.is_none_or(|n| c.label(LABEL_NODE) == Some(n)))
        .filter(|c| network.is_none_or(|n| c.label(LABEL_NETWORK) == Some(n)))
        .collect())
}

/// Stops a helper (an emulator gives its interface back on SIGTERM) and
/// removes it; returns its last reply, if it left one. One that is gone
/// already is no error.
pub async fn stop_and_remove(engine: &Engine, id: &str) -> Result<Option<ImpairReply>> {
    let options = StopContainerOptionsBuilder::default()
        .t(HELPER_STOP_GRACE)
        .build();
    match engine.docker.stop_container(id, Some(options)).await {
        Ok(()) => {}
        Err(e) if super::refusal::is_not_found(&e) => return Ok(None),
        // 304: it had stopped already.
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        }) => {}
        Err(e) => return Err(EngineError::new(format!("cannot stop helper {id}"), e)),
    }
    let options = LogsOptionsBuilder::default().stdout(true).build();
    let logs: Vec<_> = engine.docker.logs(id, Some(options)).collect().await;
    let text: String = logs
        .into_iter()
        .filter_map(|c| c.ok())
        .map(|c| String::from_utf8_lossy(&c.into_bytes()).into_owned())
        .collect();
    let last = text.lines().rev().find_map(impair::parse_reply);
    container::remove(engine, id).await?;
    Ok(last)
}
