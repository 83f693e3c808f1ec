//! The dummy interfaces a lab's macvlan and ipvlan networks hang off
//! (`parent: lab`): made before those networks and removed after them, on
//! the Docker host of each, by a short-lived helper on the host's network
//! with NET_ADMIN (`agent parent`). The engine may be remote (a VM): only a
//! container reaches its host's network namespace.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::CreateContainerOptionsBuilder;

use super::{Context, Engine, EngineError, Result, container};
use crate::agent::parent::{self, ParentReply};
use crate::plan::{LABEL_HOST, LABEL_LAB, LABEL_ROLE, ROLE_PARENT_HELPER, parent_helper_name};

/// Making or removing a few interfaces takes milliseconds; the rest is
/// the engine starting a container, which a loaded machine makes slow.
const HELPER_DEADLINE: Duration = Duration::from_secs(60);

/// What one helper is asked to do on one host.
pub struct ParentWork<'a> {
    pub lab: &'a str,
    pub host: &'a str,
    pub agent_image: &'a str,
    /// Interfaces to make (or take, when the lab made them before).
    pub add: &'a [String],
    /// Remove every other interface the lab made on the host.
    pub sweep: bool,
}

/// Runs the helper to its end and removes it; an error when it could not
/// do all of it, saying what it did do.
pub async fn run(engine: &Engine, work: &ParentWork<'_>) -> Result<ParentReply> {
    let name = parent_helper_name(work.lab, work.host);
    // One of the same name, left by a run that was killed, goes first.
    container::remove(engine, &name).await?;
    let mut cmd: Vec<String> = vec![
        "agent".into(),
        "parent".into(),
        "--lab".into(),
        work.lab.into(),
    ];
    for n in work.add {
        cmd.push("--add".into());
        cmd.push(n.clone());
    }
    if work.sweep {
        cmd.push("--sweep".into());
    }
    let body = ContainerCreateBody {
        image: Some(work.agent_image.to_owned()),
        cmd: Some(cmd),
        labels: Some(HashMap::from([
            (LABEL_LAB.to_owned(), work.lab.to_owned()),
            (LABEL_HOST.to_owned(), work.host.to_owned()),
            (LABEL_ROLE.to_owned(), ROLE_PARENT_HELPER.to_owned()),
        ])),
        host_config: Some(HostConfig {
            network_mode: Some("host".into()),
            cap_add: Some(vec!["NET_ADMIN".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let created = engine
        .docker
        .create_container(Some(options), body)
        .await
        .ctx(|| {
            format!(
                "cannot create the helper that makes lab `{}`'s parent interfaces",
                work.lab
            )
        })?;
    let outcome = async {
        engine
            .docker
            .start_container(&created.id, None)
            .await
            .ctx(|| format!("cannot start {name}"))?;
        let follow = container::follow_log(engine, &created.id, &name, parent::parse_reply);
        match tokio::time::timeout(HELPER_DEADLINE, follow).await {
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(seen))) => Err(EngineError::new(
                format!("{name} exited without a reply"),
                anyhow::anyhow!("its output:\n{}", seen.trim_end()),
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(EngineError::new(
                format!(
                    "{name} did not answer within {}s",
                    HELPER_DEADLINE.as_secs()
                ),
                anyhow::anyhow!("the engine did not run it to its end"),
            )),
        }
    }
    .await;
    let removed = container::remove(engine, &created.id).await;
    let reply = outcome?;
    removed?;
    if let Some(error) = &reply.error {
        return Err(EngineError::new(
            format!(
                "the parent interfaces of lab `{}` on host {}",
                work.lab, work.host
            ),
            anyhow::anyhow!(
                "{error}{}{}",
                listed(" (made: ", &reply.made),
                listed(" (removed: ", &reply.removed)
            ),
        ));
    }
    Ok(reply)
}

fn listed(lead: &str, names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!("{lead}{})", names.join(", "))
    }
}
