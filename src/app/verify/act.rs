//! One action of a step, done to the running lab: the engine call, then
//! the wait that makes it finished (a killed node has exited; a started or
//! restarted node's agent answers, and a foreign node's probe helper is
//! started again in the node's new network namespace), and what was seen
//! (the address a node came back with, the qdisc an impairment left).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::super::hosts::Engines;
use crate::agent::impair::{ImpairReply, ImpairRequest};
use crate::engine::fault::{self, ImpairHelper};
use crate::engine::{Engine, EngineError, container};
use crate::impairment::Impairment;
use crate::lab::{Action, Attachment, Lab};
use crate::live::LiveLab;
use crate::plan::{self, steps as plan_steps};
use crate::report::{ActionReport, ActionStatus};

/// How long an engine call of an action may take.
const CALL_DEADLINE: Duration = Duration::from_secs(30);
/// How long a started node's agent may take to answer.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// `NETLAB_IMPAIR=emulator` uses netlab's emulator where the kernel has
/// netem too (for tests of the emulator on such kernels).
const FORCE_EMULATOR: &str = "NETLAB_IMPAIR";

/// Where a lab's nodes are, and the addresses each had when last seen.
pub struct Scene<'a> {
    pub engines: &'a Engines,
    pub live: &'a LiveLab,
    pub known: &'a HashMap<String, IndexMap<String, Ipv4Addr>>,
}

impl Scene<'_> {
    fn lab(&self) -> &Lab {
        &self.live.lab
    }

    fn engine_of(&self, node: &str) -> &Engine {
        let host = self
            .lab()
            .nodes
            .get(node)
            .map(|n| n.host.as_str())
            .unwrap_or_default();
        self.engines.of(host)
    }

    fn container(&self, node: &str) -> String {
        plan::container_name(&self.lab().name, node)
    }
}

/// Does `action`; never fails as such: an engine error is the report's.
pub async fn perform(scene: &Scene<'_>, action: &Action) -> ActionReport {
    let started = Instant::now();
    let mut report = ActionReport {
        text: action.to_string(),
        verb: action.verb(),
        node: action.node().map(str::to_owned),
        network: match action {
            Action::Connect { network, .. }
            | Action::Disconnect { network, .. }
            | Action::Impair { network, .. } => Some(network.clone()),
            Action::Clear { network, .. } => network.clone(),
            _ => None,
        },
        status: ActionStatus::Done,
        observed: String::new(),
        elapsed: Duration::ZERO,
        engine_elapsed: None,
    };
    let deadline = match action {
        Action::Stop { grace, .. } | Action::Restart { grace, .. } => {
            *grace + CALL_DEADLINE + READY_DEADLINE
        }
        Action::Wait { duration } => *duration + Duration::from_secs(1),
        Action::Start { .. } => CALL_DEADLINE + READY_DEADLINE,
        _ => CALL_DEADLINE * 2,
    };
    let done = tokio::time::timeout(deadline, act(scene, action, &mut report)).await;
    match done {
        Ok(Ok(observed)) => report.observed = observed,
        Ok(Err(e)) => {
            report.status = ActionStatus::Error;
            report.observed = format!("{e:#}");
        }
        Err(_) => {
            report.status = ActionStatus::Error;
            report.observed = format!("did not finish within {}s", deadline.as_secs());
        }
    }
    report.elapsed = started.elapsed();
    report
}

async fn act(
    scene: &Scene<'_>,
    action: &Action,
    report: &mut ActionReport,
) -> Result<String, EngineError> {
    let engine_call = Instant::now();
    let timed = |report: &mut ActionReport| {
        report.engine_elapsed = Some(engine_call.elapsed());
    };
    match action {
        Action::Connect { node, network } => {
            let engine = scene.engine_of(node);
            let joining = declared_endpoint(scene.lab(), node, network);
            let aliases = joining.aliases.clone();
            let engine_network = plan::engine_network(scene.lab(), network);
            fault::connect(engine, &scene.container(node), &engine_network, joining).await?;
            timed(report);
            let info = container::inspect(engine, &scene.container(node)).await?;
            let at = container::addresses(&info)
                .get(&engine_network)
                .map(|ip| format!(" at {ip}"))
                .unwrap_or_default();
            Ok(format!("joined {network}{at} as {}", aliases.join(", ")))
        }
        Action::Disconnect { node, network } => {
            fault::disconnect(
                scene.engine_of(node),
                &scene.container(node),
                &plan::engine_network(scene.lab(), network),
            )
            .await?;
            timed(report);
            Ok(match was_at(scene, node, network) {
                Some(ip) => format!("left {network} (was {ip})"),
                None => format!("left {network}"),
            })
        }
        Action::Stop { node, grace } => {
            drop_impair_helpers(scene, node).await?;
            fault::stop(scene.engine_of(node), &scene.container(node), *grace).await?;
            timed(report);
            Ok(exit_words(scene, node).await + &sidecar_words(scene, node, false))
        }
        Action::Kill { node } => {
            drop_impair_helpers(scene, node).await?;
            fault::kill(scene.engine_of(node), &scene.container(node), CALL_DEADLINE).await?;
            timed(report);
            Ok(exit_words(scene, node).await + &sidecar_words(scene, node, false))
        }
        Action::Start { node } => {
            fault::start(scene.engine_of(node), &scene.container(node)).await?;
            timed(report);
            ready(scene, node).await?;
            Ok(address_words(scene, node).await + &sidecar_words(scene, node, true))
        }
        Action::Restart { node, grace } => {
            drop_impair_helpers(scene, node).await?;
            fault::restart(scene.engine_of(node), &scene.container(node), *grace).await?;
            timed(report);
            ready(scene, node).await?;
            Ok(address_words(scene, node).await + &sidecar_words(scene, node, true))
        }
        Action::Pause { node } => {
            fault::pause(scene.engine_of(node), &scene.container(node)).await?;
            timed(report);
            Ok("frozen (its processes get no CPU; the kernel still runs its network stack)".into())
        }
        Action::Unpause { node } => {
            fault::unpause(scene.engine_of(node), &scene.container(node)).await?;
            timed(report);
            Ok("running again".into())
        }
        Action::Impair {
            node,
            network,
            impairment,
        } => {
            let reply = impair(scene, node, network, impairment).await?;
            timed(report);
            Ok(reply_words(&reply))
        }
        Action::Clear { node, network } => {
            let reply = clear(scene, node, network.as_deref()).await?;
            timed(report);
            Ok(reply_words(&reply))
        }
        Action::Wait { duration } => {
            tokio::time::sleep(*duration).await;
            Ok(String::new())
        }
    }
}

/// The aliases (its name first), static addresses and links a node joins a
/// network with: as declared, or by its name alone on a network it does not
/// declare.
pub fn declared_endpoint(lab: &Lab, node: &str, network: &str) -> fault::Joining {
    let declared = lab.nodes.get(node).and_then(|n| match &n.attachment {
        Attachment::Networks(list) => list.iter().find(|a| a.network == network).cloned(),
        Attachment::Mode(_) | Attachment::Shared(_) => None,
    });
    let mut aliases = vec![node.to_owned()];
    if let Some(a) = &declared {
        aliases.extend(a.aliases.iter().cloned());
    }
    fault::Joining {
        aliases,
        ipv4: declared.as_ref().and_then(|a| a.ipv4),
        ipv6: declared.and_then(|a| a.ipv6),
        links: lab
            .nodes
            .get(node)
            .map(|n| plan::endpoint_links(lab, n, network))
            .unwrap_or_default(),
    }
}

/// Moves a node back to the address it had on a network before the steps
/// (leave, then join again at that address, with its aliases).
pub async fn return_to(scene: &Scene<'_>, node: &str, network: &str, ip: Ipv4Addr) -> ActionReport {
    let started = Instant::now();
    let engine = scene.engine_of(node);
    let container = scene.container(node);
    let engine_network = plan::engine_network(scene.lab(), network);
    let joining = fault::Joining {
        ipv4: Some(ip),
        ..declared_endpoint(scene.lab(), node, network)
    };
    let moved = async {
        fault::disconnect(engine, &container, &engine_network).await?;
        fault::connect(engine, &container, &engine_network, joining).await
    };
    let outcome = tokio::time::timeout(CALL_DEADLINE * 2, moved).await;
    let (status, observed) = match outcome {
        Ok(Ok(())) => (ActionStatus::Done, String::new()),
        Ok(Err(e)) => (ActionStatus::Error, format!("{e:#}")),
        Err(_) => (ActionStatus::Error, "did not finish in time".into()),
    };
    ActionReport {
        text: format!("return {node} to {ip} on {network}"),
        verb: "connect",
        node: Some(node.to_owned()),
        network: Some(network.to_owned()),
        status,
        observed,
        elapsed: started.elapsed(),
        engine_elapsed: None,
    }
}

fn was_at(scene: &Scene, node: &str, network: &str) -> Option<Ipv4Addr> {
    scene
        .live
        .nodes
        .get(node)
        .and_then(|n| n.addresses.get(network))
        .or_else(|| scene.known.get(node).and_then(|a| a.get(network)))
        .copied()
}

async fn exit_words(scene: &Scene<'_>, node: &str) -> String {
    match container::inspect(scene.engine_of(node), &scene.container(node)).await {
        Ok(info) => {
            let code = info.state.and_then(|s| s.exit_code).unwrap_or_default();
            format!("exited (exit code {code}); its addresses are released")
        }
        Err(_) => "stopped".into(),
    }
}

/// A node's addresses now against the ones it had when last seen:
/// `back 172.20.0.3 → 172.20.0.5 (new)`, `back 172.20.0.3 (kept)`.
async fn address_words(scene: &Scene<'_>, node: &str) -> String {
    let Ok(info) = container::inspect(scene.engine_of(node), &scene.container(node)).await else {
        return String::new();
    };
    let now = container::addresses(&info);
    let before = scene.known.get(node);
    let words: Vec<String> = scene
        .lab()
        .networks
        .keys()
        .filter_map(|net| {
            let ip = now.get(&plan::engine_network(scene.lab(), net))?;
            Some(match before.and_then(|b| b.get(net)) {
                Some(old) if old == ip => format!("{net} {ip} (kept)"),
                Some(old) => format!("{net} {old} → {ip} (new)"),
                None => format!("{net} {ip}"),
            })
        })
        .collect();
    if words.is_empty() {
        "running".into()
    } else {
        format!("running; address on {}", words.join(", "))
    }
}

/// A started node is ready when its agent answers; a node of another image
/// when it runs, and its probe helper, which was in the namespace the node
/// had before, is started again in the new one.
async fn ready(scene: &Scene<'_>, node: &str) -> Result<(), EngineError> {
    let engine = scene.engine_of(node);
    let is_agent = scene.lab().nodes.get(node).is_some_and(|n| n.is_agent());
    if is_agent {
        return fault::wait_agent(engine, &scene.container(node), READY_DEADLINE).await;
    }
    let helper = plan::probe_helper_name(&scene.lab().name, node);
    fault::restart(engine, &helper, Duration::ZERO).await?;
    fault::wait_agent(engine, &helper, READY_DEADLINE).await
}

/// What becomes of the sidecars in `node`'s network namespace when it
/// stops (`started`: false) or starts again: Docker neither stops nor
/// restarts them with it (seen on 20.10: a sidecar keeps running, in the
/// old namespace, with loopback alone until it is restarted itself).
fn sidecar_words(scene: &Scene<'_>, node: &str, started: bool) -> String {
    let sidecars: Vec<String> = scene
        .lab()
        .sidecars_of(node)
        .map(|s| format!("`{s}`"))
        .collect();
    if sidecars.is_empty() {
        return String::new();
    }
    let (which, stays) = if sidecars.len() == 1 {
        (format!("sidecar {}", sidecars[0]), "it stays")
    } else {
        (format!("sidecars {}", sidecars.join(", ")), "they stay")
    };
    if started {
        format!(
            "; {which} not restarted with it (Docker does not): {stays} in {node}'s old namespace, with loopback alone, until restarted"
        )
    } else {
        format!(
            "; {which} still running (Docker does not stop them with it), in a namespace whose interfaces are gone: loopback alone"
        )
    }
}

/// The impair helpers of a node that is about to lose its network
/// namespace are stopped first (an emulator would be left in the old one).
async fn drop_impair_helpers(scene: &Scene<'_>, node: &str) -> Result<(), EngineError> {
    let engine = scene.engine_of(node);
    for h in fault::impair_helpers(engine, &scene.lab().name, Some(node), None).await? {
        fault::stop_and_remove(engine, &h.id).await?;
    }
    Ok(())
}

fn forced_emulator() -> bool {
    std::env::var(FORCE_EMULATOR).is_ok_and(|v| v == "emulator")
}

async fn impair(
    scene: &Scene<'_>,
    node: &str,
    network: &str,
    impairment: &Impairment,
) -> Result<ImpairReply, EngineError> {
    let address = scene
        .live
        .nodes
        .get(node)
        .and_then(|n| n.addresses.get(network))
        .ok_or_else(|| {
            EngineError::new(
                format!("cannot impair {node} on {network}"),
                anyhow::anyhow!("it has no address on {network} now"),
            )
        })?;
    let request = ImpairRequest {
        addresses: vec![IpAddr::V4(*address)],
        set: Some(*impairment),
        emulate: forced_emulator(),
    };
    // An impairment replaces the one before: an emulator of that link
    // stops first, and says what it was.
    let engine = scene.engine_of(node);
    let mut replaced = Vec::new();
    for h in fault::impair_helpers(engine, &scene.lab().name, Some(node), Some(network)).await? {
        if let Some(last) = fault::stop_and_remove(engine, &h.id).await? {
            replaced.extend(last.interfaces);
        }
    }
    let mut reply = run_helper(
        scene,
        node,
        Some(network),
        plan_steps::impair_helper_name(&scene.lab().name, node, network),
        &request,
    )
    .await?;
    for i in &mut reply.interfaces {
        if let Some(r) = replaced.iter().find(|r| r.interface == i.interface) {
            i.before.clone_from(&r.before);
        }
    }
    Ok(reply)
}

/// Stops the node's emulators (on one network, or all), then a short-lived
/// helper removes whatever impairment is left and says what there is now.
pub async fn clear(
    scene: &Scene<'_>,
    node: &str,
    network: Option<&str>,
) -> Result<ImpairReply, EngineError> {
    let engine = scene.engine_of(node);
    // What stopped emulators gave back, then what the clear found.
    let mut stopped = Vec::new();
    for h in fault::impair_helpers(engine, &scene.lab().name, Some(node), network).await? {
        if let Some(last) = fault::stop_and_remove(engine, &h.id).await? {
            stopped.extend(last.interfaces);
        }
    }
    let addresses = match network {
        Some(net) => scene
            .live
            .nodes
            .get(node)
            .and_then(|n| n.addresses.get(net))
            .map(|ip| vec![IpAddr::V4(*ip)])
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let request = ImpairRequest {
        addresses,
        set: None,
        emulate: false,
    };
    let mut reply = run_helper(
        scene,
        node,
        None,
        plan_steps::clear_helper_name(&scene.lab().name, node),
        &request,
    )
    .await?;
    for i in &mut reply.interfaces {
        if let Some(s) = stopped.iter().find(|s| s.interface == i.interface) {
            i.before.clone_from(&s.before);
        }
    }
    Ok(reply)
}

async fn run_helper(
    scene: &Scene<'_>,
    node: &str,
    network: Option<&str>,
    name: String,
    request: &ImpairRequest,
) -> Result<ImpairReply, EngineError> {
    let host = scene
        .lab()
        .nodes
        .get(node)
        .map(|n| n.host.clone())
        .unwrap_or_default();
    let target = scene.container(node);
    let helper = ImpairHelper {
        name,
        lab: &scene.lab().name,
        node,
        host: &host,
        network,
        target: &target,
        agent_image: &scene.live.agent_image,
        request: serde_json::to_string(request)
            .map_err(|e| EngineError::new("cannot encode an impair request", e))?,
    };
    let (reply, _kept) = fault::run_impair_helper(scene.engine_of(node), &helper).await?;
    if let Some(e) = &reply.error {
        return Err(EngineError::new(
            format!("the impair helper of node `{node}` failed"),
            anyhow::anyhow!("{e}"),
        ));
    }
    Ok(reply)
}

/// `eth0 (172.20.0.3): no impairment → netlab's emulator: delay 100ms`
fn reply_words(reply: &ImpairReply) -> String {
    reply
        .interfaces
        .iter()
        .map(|i| {
            let at = i.address.map(|a| format!(" ({a})")).unwrap_or_default();
            if i.before == i.after {
                format!("{}{at}: {}", i.interface, i.after)
            } else {
                format!("{}{at}: {} → {}", i.interface, i.before, i.after)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
