//! Making a lab's objects on its engines, for a fresh `up` and for one that
//! converges: host helpers, the swarm, networks, nodes (with their
//! certificates and probe helpers), and the checks that must pass before
//! anything of the lab's own is created (subnets, host ports).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::hosts::{Engines, same};
use super::{Cancel, Failure};
use crate::agent::protocol::{
    BindObservation, Observation, Probe, ProbeBatch, ProbeKind, ReplyOutcome, TLS_DIR,
};
use crate::engine::record::Record;
use crate::engine::refusal::Refusal;
use crate::engine::swarm::{self, Member, SwarmError};
use crate::engine::{CONCURRENCY, Engine, EngineError, attach, container, network, parent};
use crate::lab::{Attachment, Driver, Lab, NetworkMode, Transport};
use crate::pki::LabCa;
use crate::plan::{ContainerPlan, NetworkPlan, Plan};
use crate::report::progress::Progress;

pub fn interrupted() -> Failure {
    Failure::Interrupted(" during up".into())
}

/// Runs every future — each keyed by the engine it calls — at most
/// `CONCURRENCY` at a time per engine, all engines at once, and waits for
/// all of them even when one fails, so nothing is still being created when
/// the caller tears down. Returns the first error.
pub async fn all_bounded<F>(futures: impl IntoIterator<Item = (String, F)>) -> Result<(), Failure>
where
    F: Future<Output = Result<(), Failure>>,
{
    let mut per_engine: HashMap<String, Vec<F>> = HashMap::new();
    for (engine, f) in futures {
        per_engine.entry(engine).or_default().push(f);
    }
    let results = futures::future::join_all(per_engine.into_values().map(|calls| {
        futures::stream::iter(calls)
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<Result<(), Failure>>>()
    }))
    .await;
    results
        .into_iter()
        .flatten()
        .find(Result::is_err)
        .unwrap_or(Ok(()))
}

/// Runs every future at once and waits for all of them even when one
/// fails; returns the first error. (They bound their engine calls
/// themselves.)
async fn all_at_once<F>(futures: impl IntoIterator<Item = F>) -> Result<(), Failure>
where
    F: Future<Output = Result<(), Failure>>,
{
    futures::future::join_all(futures)
        .await
        .into_iter()
        .find(Result::is_err)
        .unwrap_or(Ok(()))
}

/// The lab's CAs that can sign now: made by this process (a CA's key is
/// never kept, see `pki`).
#[derive(Default)]
pub struct Cas {
    pub lab: Option<LabCa>,
    pub other: Option<LabCa>,
}

/// The https nodes a CA signs for (`other`: the CA no check trusts).
fn https_nodes(plan: &Plan, other: bool) -> impl Iterator<Item = &ContainerPlan> {
    plan.containers
        .iter()
        .filter(move |c| c.serves_https && c.other_ca == other)
}

/// Makes the CAs `record` lacks, and makes anew a CA that must sign a leaf
/// for one of `signing` (the nodes made now): its key is gone with the
/// netlab that made it. A CA made anew signs for every https node of the
/// plan, so the nodes it signs for besides `signing` must be made again;
/// they are returned.
pub fn make_cas(
    record: &mut Record,
    plan: &Plan,
    signing: &[String],
) -> Result<(Cas, Vec<String>), Failure> {
    let fail = |e: rcgen::Error| Failure::Usage(format!("cannot make the lab CA: {e}"));
    let mut cas = Cas::default();
    let mut again = Vec::new();
    let lab_name = record.lab.name.clone();
    for other in [false, true] {
        let stored = if other {
            &mut record.other_ca
        } else {
            &mut record.ca
        };
        let used = if other {
            record.lab.nodes.values().any(|n| n.other_ca)
        } else {
            crate::plan::uses_tls(&record.lab)
        };
        let must_sign = https_nodes(plan, other).any(|c| signing.contains(&c.node));
        if !(used && stored.is_none() || must_sign) {
            continue;
        }
        let names: Vec<String> = https_nodes(plan, other)
            .flat_map(|c| c.dns_names())
            .collect::<indexmap::IndexSet<_>>()
            .into_iter()
            .collect();
        let ca = if other {
            LabCa::generate_other(&lab_name, &names)
        } else {
            LabCa::generate(&lab_name, &names)
        }
        .map_err(fail)?;
        *stored = Some(ca.stored().clone());
        again.extend(
            https_nodes(plan, other)
                .filter(|c| !signing.contains(&c.node))
                .map(|c| c.node.clone()),
        );
        if other {
            cas.other = Some(ca);
        } else {
            cas.lab = Some(ca);
        }
    }
    Ok((cas, again))
}

/// Sends a batch to an agent and returns its observations by probe id.
pub async fn ask(
    engine: &Engine,
    container: &str,
    batch: &ProbeBatch,
    deadline: Duration,
) -> Result<HashMap<usize, Observation>, EngineError> {
    let reply = tokio::time::timeout(deadline, attach::ask(engine, container, batch))
        .await
        .map_err(|_| {
            EngineError::new(
                format!("the agent in container {container} did not answer within {deadline:?}"),
                anyhow::anyhow!("the engine or the container is not answering"),
            )
        })??;
    match reply.outcome {
        ReplyOutcome::Report(r) => Ok(r
            .results
            .into_iter()
            .map(|r| (r.id, r.observation))
            .collect()),
        ReplyOutcome::Error(e) => Err(EngineError::new(
            format!("the agent in container {container} refused the probes"),
            anyhow::anyhow!(e),
        )),
    }
}

/// Creates and starts the host helpers of `which` hosts; returns their ids.
pub async fn create_helpers(
    engines: &Engines,
    plan: &Plan,
    which: &[String],
    agent_image: &str,
    wait: Duration,
) -> Result<HashMap<String, String>, Failure> {
    let made = futures::future::join_all(
        plan.host_helpers
            .iter()
            .filter(|h| which.contains(&h.host))
            .map(|h| async move {
                let engine = engines.of(&h.host);
                let id = container::create_and_start(engine, h, agent_image, &[]).await?;
                container::wait_ready(engine, &id, &h.node, true, wait).await?;
                Ok::<_, EngineError>((h.host.clone(), id))
            }),
    )
    .await;
    Ok(made.into_iter().collect::<Result<HashMap<_, _>, _>>()?)
}

/// Refuses subnets that overlap a network the engine already has, before
/// anything is created: the engine would fail half-way through.
pub async fn refuse_overlapping_subnets(
    engines: &Engines,
    plan: &Plan,
    lab: &Lab,
) -> Result<(), Failure> {
    let wanted: Vec<&NetworkPlan> = plan
        .networks
        .iter()
        .filter(|n| n.subnet.is_some())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    for engine in engines.distinct() {
        let existing = network::all_subnets(engine).await?;
        for net in wanted.iter().filter(|n| same(engines.of(&n.host), engine)) {
            let Some(subnet) = net.subnet.map(ipnet::IpNet::V4) else {
                continue;
            };
            if let Some((name, other)) =
                existing
                    .iter()
                    .filter(|(name, _)| *name != net.name)
                    .find(|(_, other)| {
                        other.contains(&subnet.network()) || subnet.contains(&other.network())
                    })
            {
                let on = if lab.is_multi_host() {
                    format!(" on host {}", net.host)
                } else {
                    String::new()
                };
                return Err(Failure::Usage(format!(
                    "subnet {subnet} of network `{}` overlaps {other} of the engine's network `{name}`{on}; nothing was created\n  (hint: choose another `subnet:`, or remove network `{name}`)",
                    net.network
                )));
            }
        }
    }
    Ok(())
}

/// Host ports the nodes of `which` will take — published ports and the
/// listeners of nodes in host mode — must be free on their Docker host:
/// asked there, by its host helper.
pub async fn refuse_taken_host_ports(
    engines: &Engines,
    lab: &Lab,
    which: &[String],
    helpers: &HashMap<String, String>,
) -> Result<(), Failure> {
    let all = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let mut wanted: HashMap<&str, Vec<(SocketAddr, Transport, &str, &str)>> = HashMap::new();
    for node in lab.nodes.values().filter(|n| which.contains(&n.name)) {
        let list = wanted.entry(node.host.as_str()).or_default();
        for p in &node.ports {
            for port in p.host_ports.iter().flat_map(|r| r.iter()) {
                let addr = SocketAddr::new(p.host_ip.unwrap_or(all), port);
                list.push((addr, p.transport, "published", &node.name));
            }
        }
        if node.attachment == Attachment::Mode(NetworkMode::Host) {
            for l in &node.serve {
                let transport = if l.proto.is_udp() {
                    Transport::Udp
                } else {
                    Transport::Tcp
                };
                list.push((
                    SocketAddr::new(all, l.port),
                    transport,
                    "served in host mode",
                    &node.name,
                ));
            }
        }
    }
    for (host, list) in wanted.into_iter().filter(|(_, l)| !l.is_empty()) {
        let Some(helper) = helpers.get(host) else {
            continue;
        };
        let batch = ProbeBatch {
            probes: list
                .iter()
                .enumerate()
                .map(|(id, (addr, transport, _, _))| Probe {
                    id,
                    timeout_ms: 2000,
                    capture: false,
                    host_to_container: false,
                    kind: ProbeKind::Bind {
                        addr: *addr,
                        transport: *transport,
                    },
                })
                .collect(),
        };
        let seen = ask(engines.of(host), helper, &batch, Duration::from_secs(20)).await?;
        for (id, (addr, transport, why, node)) in list.iter().enumerate() {
            if let Some(Observation::Bind(BindObservation::Taken { message })) = seen.get(&id) {
                let on = if lab.is_multi_host() {
                    format!(" on host {host}")
                } else {
                    String::new()
                };
                let hint = if message.contains("in use") {
                    "stop what holds it, or choose another port in the lab file"
                } else {
                    "check that the address belongs to that Docker host"
                };
                return Err(Failure::Usage(format!(
                    "host port {}/{} ({why} by node `{node}`) cannot be taken on {}{on}: {message}; nothing was created\n  (hint: {hint})",
                    addr.port(),
                    transport.as_str(),
                    addr.ip()
                )));
            }
        }
    }
    Ok(())
}

/// Makes the engines of the hosts with overlay networks one swarm. Returns
/// the logical host whose engine is a manager (overlays are made there) and
/// whether netlab made the swarm now.
pub async fn ensure_swarm(
    engines: &Engines,
    plan: &Plan,
    helpers: &HashMap<String, String>,
) -> Result<Option<(String, bool)>, Failure> {
    if !plan.needs_swarm() {
        return Ok(None);
    }
    let mut hosts: Vec<String> = Vec::new();
    for h in plan.swarm_hosts() {
        if !hosts.iter().any(|k| same(engines.of(k), engines.of(&h))) {
            hosts.push(h);
        }
    }
    let mut members = Vec::new();
    for host in &hosts {
        let engine = engines.of(host);
        let advertise = match (engine.endpoint.advertise, helpers.get(host)) {
            (Some(a), _) => Some(a),
            (None, Some(helper)) => {
                let batch = ProbeBatch::interfaces();
                match ask(engine, helper, &batch, Duration::from_secs(20))
                    .await?
                    .remove(&0)
                {
                    Some(Observation::Interfaces { addresses }) => {
                        swarm::advertise_address(&addresses)
                    }
                    _ => None,
                }
            }
            (None, None) => None,
        };
        members.push(Member {
            host,
            engine,
            advertise,
        });
    }
    let joined = swarm::ensure(&members).await.map_err(|e| match e {
        SwarmError::Refused(m) => Failure::Usage(m),
        SwarmError::Engine(e) => Failure::Engine(e),
    })?;
    if joined.made {
        let what = if members.len() == 1 {
            "a single-node swarm".to_owned()
        } else {
            format!("a swarm of {}", hosts.join(", "))
        };
        crate::text::say!(
            "netlab: initialised {what} for the overlay networks (netlab leaves it again when no lab needs it)"
        );
    } else if !joined.joined.is_empty() {
        let names: Vec<&str> = joined.joined.iter().map(|i| hosts[*i].as_str()).collect();
        crate::text::say!("netlab: joined {} to netlab's swarm", names.join(", "));
    }
    Ok(Some((hosts[joined.manager].clone(), joined.made)))
}

/// Creates the networks named in `which`: a bridge on its host, an overlay
/// on the swarm manager's.
pub async fn create_networks(
    engines: &Engines,
    plan: &Plan,
    which: &[String],
    manager: Option<&str>,
    agent_image: &str,
    cancel: &Cancel,
) -> Result<(), Failure> {
    let list: Vec<&NetworkPlan> = plan
        .networks
        .iter()
        .filter(|n| which.contains(&n.network))
        .collect();
    make_parents(engines, plan, &list, agent_image).await?;
    // A bridge is made on its host, an overlay on the swarm manager's.
    let made_on: Vec<&crate::engine::Engine> = list
        .iter()
        .map(|n| match (n.driver, manager) {
            (Driver::Overlay { .. }, Some(m)) => engines.of(m),
            _ => engines.of(&n.host),
        })
        .collect();
    // Not while another netlab's checks run on these engines: see
    // `engine::turns`.
    let _turn = crate::engine::turns::take(
        &made_on,
        crate::engine::turns::Kind::Networks,
        crate::engine::turns::TURN_WAIT,
    )
    .await;
    let progress = Progress::start("networks", list.len() as u64);
    let created = all_bounded(list.iter().zip(&made_on).map(|(n, engine)| {
        let engine = *engine;
        (engine.endpoint.url.clone(), async {
            if cancel.is_cancelled() {
                return Err(interrupted());
            }
            let created = match network::create(engine, n).await {
                // Another lab's `down` left netlab's swarm between our check and
                // this call: say so; the next `up` makes the swarm again.
                Err(e) if e.refusal() == Refusal::NotSwarmManager => {
                    Err(Failure::Engine(EngineError::new(
                        format!("cannot create network {}", n.name),
                        anyhow::anyhow!("the swarm went away meanwhile; run `netlab up` again"),
                    )))
                }
                other => other.map(|_| ()).map_err(Failure::from),
            };
            progress.step(&n.network);
            created
        })
    }))
    .await;
    progress.finish();
    created
}

/// The dummy interfaces the networks about to be made hang off
/// (`parent: lab`), on each of their hosts: see [`settle_parents`].
async fn make_parents(
    engines: &Engines,
    plan: &Plan,
    list: &[&NetworkPlan],
    agent_image: &str,
) -> Result<(), Failure> {
    let hosts: Vec<&str> = list
        .iter()
        .filter(|n| n.parent.is_some())
        .map(|n| n.host.as_str())
        .collect();
    settle_parents(engines, plan, &hosts, agent_image).await
}

/// On each of `hosts`, the lab's dummy parents made as the plan wants
/// them: every one it wants is made (or taken as the lab left it), and
/// any other the lab made is removed (a network no longer there, or a
/// killed run's).
pub async fn settle_parents(
    engines: &Engines,
    plan: &Plan,
    hosts: &[&str],
    agent_image: &str,
) -> Result<(), Failure> {
    let mut hosts = hosts.to_vec();
    hosts.sort_unstable();
    hosts.dedup();
    let work: Vec<(&str, Vec<String>)> = hosts
        .into_iter()
        .map(|host| {
            let wanted = plan
                .networks
                .iter()
                .filter(|n| n.host == host)
                .filter_map(|n| n.parent.clone())
                .collect();
            (host, wanted)
        })
        .collect();
    all_at_once(work.iter().map(|(host, add)| async move {
        let work = parent::ParentWork {
            lab: &plan.lab,
            host,
            agent_image,
            add,
            sweep: true,
        };
        parent::run(engines.of(host), &work)
            .await
            .map(drop)
            .map_err(Failure::from)
    }))
    .await
}

/// Creates and starts the nodes named in `which`, each with its probe
/// helper when its image is not the agent, and waits until they are ready.
pub async fn create_nodes<'a>(
    engines: &Engines,
    plan: &'a Plan,
    which: &[String],
    cas: &Cas,
    agent_image: &str,
    wait: Duration,
    cancel: &Cancel,
) -> Result<(), Failure> {
    let list: Vec<&ContainerPlan> = plan
        .containers
        .iter()
        .filter(|c| which.contains(&c.node))
        .collect();
    let deadline = Instant::now() + wait;
    let progress = Progress::start("nodes ready", list.len() as u64);
    // The engine's work — create, connect, start — is bounded per engine;
    // waiting for a node to be ready costs the engine nothing, so it holds
    // no permit and the next node's creation can go on meanwhile.
    let permits: HashMap<String, tokio::sync::Semaphore> = list
        .iter()
        .map(|c| {
            (
                engines.of(&c.host).endpoint.url.clone(),
                tokio::sync::Semaphore::new(CONCURRENCY),
            )
        })
        .collect();
    // Made (created, connected, started): its container's id.
    let make = |c: &'a ContainerPlan| {
        let permits = &permits;
        async move {
            if cancel.is_cancelled() {
                return Err(interrupted());
            }
            let engine = engines.of(&c.host);
            let files = node_certificate(cas, c)?;
            let _turn = permits[&engine.endpoint.url].acquire().await;
            if cancel.is_cancelled() {
                return Err(interrupted());
            }
            Ok::<_, Failure>(container::create_and_start(engine, c, agent_image, &files).await?)
        }
    };
    // Ready, and its probe helper made and ready when its image is not
    // the agent.
    let ready = |c: &'a ContainerPlan, id: String| {
        let progress = &progress;
        let permits = &permits;
        async move {
            let engine = engines.of(&c.host);
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                ready = container::wait_ready(engine, &id, &c.node, c.is_agent(), left) => ready?,
                _ = cancel.cancelled() => return Err(interrupted()),
            }
            if c.is_agent() || cancel.is_cancelled() {
                progress.step(&c.node);
                return Ok(());
            }
            let helper = {
                let _turn = permits[&engine.endpoint.url].acquire().await;
                container::create_probe_helper(engine, c, &id, agent_image).await?
            };
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                ready = container::wait_ready(engine, &helper, &c.node, true, left) => ready?,
                _ = cancel.cancelled() => return Err(interrupted()),
            }
            progress.step(&c.node);
            Ok(())
        }
    };
    let one = |c: &'a ContainerPlan| async move { ready(c, make(c).await?).await };
    // Sidecars join namespaces that must exist: after every other node.
    let (sidecars, owners): (Vec<&ContainerPlan>, Vec<&ContainerPlan>) = list
        .iter()
        .partition(|c| c.network_mode.starts_with("container:"));
    // Docker hands a dynamic address to whichever container comes first,
    // so a node made before one with that address in the file takes it
    // ("Address already in use"): nodes with fixed addresses are made
    // first, then the rest while they get ready.
    let (fixed, dynamic): (Vec<&ContainerPlan>, Vec<&ContainerPlan>) =
        owners.into_iter().partition(|c| {
            c.endpoints
                .iter()
                .any(|e| e.ipv4.is_some() || e.ipv6.is_some())
        });
    let made = futures::future::join_all(fixed.iter().map(|c| make(c))).await;
    let mut made_fixed = Vec::new();
    let mut nodes = Ok(());
    for (c, m) in fixed.into_iter().zip(made) {
        match m {
            Ok(id) => made_fixed.push(ready(c, id)),
            Err(e) if nodes.is_ok() => nodes = Err(e),
            Err(_) => {}
        }
    }
    if nodes.is_ok() {
        let (fixed_ready, dynamic_ready) = tokio::join!(
            all_at_once(made_fixed),
            all_at_once(dynamic.into_iter().map(one))
        );
        nodes = fixed_ready.and(dynamic_ready);
    } else {
        drop(made_fixed);
    }
    if nodes.is_ok() {
        nodes = all_at_once(sidecars.into_iter().map(one)).await;
    }
    progress.finish();
    nodes?;
    // An interrupt that came after the last node was ready still counts.
    if cancel.is_cancelled() {
        return Err(interrupted());
    }
    Ok(())
}

/// The files an https node needs: its certificate and key, signed by the
/// lab CA (or the other CA, for `ca: other`) made by this process. The key
/// goes from this process straight into the container.
fn node_certificate(cas: &Cas, c: &ContainerPlan) -> Result<Vec<(String, Vec<u8>, u32)>, Failure> {
    if !c.serves_https {
        return Ok(Vec::new());
    }
    let ca = if c.other_ca { &cas.other } else { &cas.lab };
    let Some(ca) = ca else {
        return Err(Failure::Usage(format!(
            "node `{}` needs a certificate, and no CA of this netlab can sign it",
            c.node
        )));
    };
    let leaf = ca.leaf(&c.dns_names()).map_err(|e| {
        Failure::Usage(format!(
            "cannot make the certificate of node `{}`: {e}",
            c.node
        ))
    })?;
    Ok(vec![
        (
            format!("{TLS_DIR}/cert.pem"),
            leaf.cert_pem.into_bytes(),
            0o644,
        ),
        (
            format!("{TLS_DIR}/key.pem"),
            leaf.key_pem.into_bytes(),
            0o600,
        ),
        (
            format!("{TLS_DIR}/ca.pem"),
            ca.cert_pem().into_bytes(),
            0o644,
        ),
    ])
}
