//! `netlab up`: create the lab's networks and containers, wait until every
//! node is ready, print a summary. On any failure or interruption, whatever
//! was created is removed again before returning.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{Cancel, Failure, down};
use crate::agent::protocol::TLS_DIR;
use crate::cli::UpArgs;
use crate::engine::discover;
use crate::engine::{CONCURRENCY, Engine, EngineError, container, image, network, swarm};
use crate::lab::{Attachment, Lab, NetworkMode, Transport};
use crate::live::LiveLab;
use crate::pki::LabCa;
use crate::plan::{self, ContainerPlan, ImageRef, Plan};
use crate::report;
use crate::report::progress::Progress;

/// Creates the lab and returns it as it runs. The summary goes to stdout
/// (`up`) or stderr (`run`, whose stdout is the report).
pub async fn up(
    engine: &Engine,
    lab: &Lab,
    args: &UpArgs,
    cancel: &Cancel,
) -> Result<LiveLab, Failure> {
    let started = Instant::now();
    tokio::try_join!(
        refuse_if_up(engine, &lab.name),
        refuse_overlapping_subnets(engine, lab)
    )?;
    // After "already up": a lab that is up holds its own host ports.
    refuse_taken_host_ports(lab)?;
    let mut plan = plan::plan(lab);
    let ca = match plan::uses_tls(lab) {
        true => Some(
            LabCa::generate(&lab.name)
                .map_err(|e| Failure::Usage(format!("cannot make the lab CA: {e}")))?,
        ),
        false => None,
    };
    if let Some(ca) = &ca {
        for c in &mut plan.containers {
            c.labels.insert(plan::LABEL_CA.to_owned(), ca.cert_pem());
        }
    }
    let swarm_made = plan.needs_swarm() && swarm::ensure(engine).await?;
    if swarm_made {
        eprintln!(
            "netlab: initialised a single-node swarm for the overlay networks (netlab leaves it again when no lab needs it)"
        );
    }
    match create(engine, &plan, ca.as_ref(), args.wait, cancel).await {
        Ok(()) => {
            let objects = discover::labs(engine, Some(&lab.name))
                .await?
                .remove(&lab.name)
                .unwrap_or_default();
            let live = discover::live(engine, &objects, &lab.name).await?;
            let text = summary(&live, engine, started.elapsed());
            if args.summary_to_stderr {
                eprint!("{text}")
            } else {
                print!("{text}")
            }
            Ok(live)
        }
        Err(failure) => {
            eprintln!("netlab: removing what was created of lab `{}`", lab.name);
            if let Err(e) = down::remove_lab(engine, &lab.name).await {
                eprintln!("netlab: cleanup failed too: {e:#}");
            }
            if swarm_made && let Err(e) = down::release_swarm(engine, &[]).await {
                eprintln!("netlab: cannot leave the swarm netlab made: {e:#}");
            }
            Err(failure)
        }
    }
}

async fn refuse_if_up(engine: &Engine, name: &str) -> Result<(), Failure> {
    if let Some(objects) = discover::labs(engine, Some(name)).await?.get(name) {
        return Err(Failure::Usage(format!(
            "lab `{name}` is already up ({}, {})\n  (hint: `netlab verify {name}` checks it; `netlab down {name}` removes it)",
            crate::report::count(objects.containers.len(), "container"),
            crate::report::count(objects.networks.len(), "network")
        )));
    }
    Ok(())
}

async fn refuse_overlapping_subnets(engine: &Engine, lab: &Lab) -> Result<(), Failure> {
    if lab.networks.values().all(|n| n.subnet.is_none()) {
        return Ok(());
    }
    let existing = network::all_subnets(engine).await?;
    for net in lab.networks.values() {
        let Some(subnet) = net.subnet else { continue };
        let subnet = ipnet::IpNet::V4(subnet);
        if let Some((name, other)) = existing.iter().find(|(_, other)| {
            other.contains(&subnet.network()) || subnet.contains(&other.network())
        }) {
            return Err(Failure::Usage(format!(
                "subnet {subnet} of network `{}` overlaps {other} of the engine's network `{name}`; nothing was created\n  (hint: choose another `subnet:`, or remove network `{name}`)",
                net.name
            )));
        }
    }
    Ok(())
}

/// Host ports the lab will take — its published ports and the listeners of
/// nodes in host mode — must be free before anything is created: Docker
/// would only fail half-way through.
fn refuse_taken_host_ports(lab: &Lab) -> Result<(), Failure> {
    let all = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    for node in lab.nodes.values() {
        let mut wanted: Vec<(IpAddr, u16, Transport, &str)> = Vec::new();
        for p in &node.ports {
            for port in p.host_ports.iter().flat_map(|r| r.iter()) {
                wanted.push((p.host_ip.unwrap_or(all), port, p.transport, "published"));
            }
        }
        if node.attachment == Attachment::Mode(NetworkMode::Host) {
            for l in &node.serve {
                let transport = if l.proto.is_udp() {
                    Transport::Udp
                } else {
                    Transport::Tcp
                };
                wanted.push((all, l.port, transport, "served in host mode"));
            }
        }
        for (ip, port, transport, why) in wanted {
            let addr = SocketAddr::new(ip, port);
            let bound = match transport {
                Transport::Tcp => std::net::TcpListener::bind(addr).map(drop),
                Transport::Udp => std::net::UdpSocket::bind(addr).map(drop),
            };
            if let Err(e) = bound {
                let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                    "stop what holds it, or choose another port in the lab file"
                } else {
                    "check that the address belongs to this machine"
                };
                return Err(Failure::Usage(format!(
                    "host port {port}/{} ({why} by node `{}`) cannot be taken on {ip}: {e}; nothing was created\n  (hint: {hint})",
                    transport.as_str(),
                    node.name
                )));
            }
        }
    }
    Ok(())
}

fn interrupted() -> Failure {
    Failure::Interrupted(" during up".into())
}

/// Runs every future, at most `CONCURRENCY` at a time, and waits for all of
/// them even when one fails, so nothing is still being created when the
/// caller tears down. Returns the first error.
async fn all_bounded<F>(futures: impl IntoIterator<Item = F>) -> Result<(), Failure>
where
    F: Future<Output = Result<(), Failure>>,
{
    let results: Vec<Result<(), Failure>> = futures::stream::iter(futures)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
}

async fn create(
    engine: &Engine,
    plan: &Plan,
    ca: Option<&LabCa>,
    wait: Duration,
    cancel: &Cancel,
) -> Result<(), Failure> {
    // Every node needs the agent image: agent nodes run it, nodes of other
    // images get a probe helper made from it.
    let agent_image = async {
        let (tag, built) = image::ensure_agent_image(engine).await?;
        if built {
            eprintln!("netlab: built agent image {tag}");
        }
        Ok::<_, EngineError>(tag)
    };
    let network_progress = Progress::start("networks", plan.networks.len() as u64);
    let networks = async {
        let created = all_bounded(plan.networks.iter().map(|n| async {
            if cancel.is_cancelled() {
                return Err(interrupted());
            }
            let created = match network::create(engine, n).await {
                // Another lab's `down` left netlab's swarm between our check and
                // this call: make it again, once.
                Err(e) if e.to_string().contains("not a swarm manager") => {
                    swarm::ensure(engine).await?;
                    network::create(engine, n)
                        .await
                        .map(|_| ())
                        .map_err(Failure::from)
                }
                other => other.map(|_| ()).map_err(Failure::from),
            };
            network_progress.step(&n.name);
            created
        }))
        .await;
        network_progress.finish();
        created
    };
    let (agent_image, networks) = tokio::join!(agent_image, networks);
    networks?;
    let agent_image = agent_image?;

    let deadline = Instant::now() + wait;
    let node_progress = Progress::start("nodes ready", plan.containers.len() as u64);
    let nodes = all_bounded(plan.containers.iter().map(|c| {
        let agent_image = &agent_image;
        let node_progress = &node_progress;
        async move {
            if cancel.is_cancelled() {
                return Err(interrupted());
            }
            let files = node_certificate(ca, c)?;
            let id = container::create_and_start(engine, c, agent_image, &files).await?;
            let is_agent = c.image == ImageRef::Agent;
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                ready = container::wait_ready(engine, &id, &c.node, is_agent, left) => ready?,
                _ = cancel.cancelled() => return Err(interrupted()),
            }
            if is_agent || cancel.is_cancelled() {
                node_progress.step(&c.node);
                return Ok(());
            }
            let helper = container::create_probe_helper(engine, c, &id, agent_image).await?;
            let left = deadline.saturating_duration_since(Instant::now());
            tokio::select! {
                ready = container::wait_ready(engine, &helper, &c.node, true, left) => ready?,
                _ = cancel.cancelled() => return Err(interrupted()),
            }
            node_progress.step(&c.node);
            Ok(())
        }
    }))
    .await;
    node_progress.finish();
    nodes?;
    // An interrupt that came after the last node was ready still counts.
    if cancel.is_cancelled() {
        return Err(interrupted());
    }
    Ok(())
}

/// The files an https node needs: its certificate and key, signed by the
/// lab CA. The key goes from this process straight into the container.
fn node_certificate(
    ca: Option<&LabCa>,
    c: &ContainerPlan,
) -> Result<Vec<(String, Vec<u8>, u32)>, Failure> {
    let Some(ca) = ca.filter(|_| c.serves_https) else {
        return Ok(Vec::new());
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

fn summary(live: &LiveLab, engine: &Engine, took: Duration) -> String {
    let lab = &live.lab;
    let mut rows = vec![
        ["NODE", "IMAGE", "NETWORK", "ADDRESS", "ALIASES", "PORTS"]
            .map(String::from)
            .to_vec(),
    ];
    for node in lab.nodes.values() {
        let running = live.nodes.get(&node.name);
        let address = |net: &str| {
            running
                .and_then(|n| n.addresses.get(net))
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "-".into())
        };
        // One row per network the node is on; the node's own columns on the first.
        let per_network: Vec<(String, String, String)> = match &node.attachment {
            Attachment::Mode(mode) => {
                vec![(mode.as_str().into(), address("bridge"), String::new())]
            }
            Attachment::Networks(list) => list
                .iter()
                .map(|a| (a.network.clone(), address(&a.network), a.aliases.join(",")))
                .collect(),
        };
        let ports: Vec<String> = running
            .map(|n| n.ports.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default();
        for (i, (network, address, aliases)) in per_network.into_iter().enumerate() {
            let first = i == 0;
            rows.push(vec![
                if first {
                    node.name.clone()
                } else {
                    String::new()
                },
                if first {
                    node.image.clone().unwrap_or_else(|| "agent".into())
                } else {
                    String::new()
                },
                network,
                address,
                aliases,
                if first {
                    ports.join(" ")
                } else {
                    String::new()
                },
            ]);
        }
    }
    format!(
        "lab `{}` is up: {}, {} in {} (Docker {}, API {})\n{}",
        lab.name,
        report::count(lab.nodes.len(), "node"),
        report::count(lab.networks.len(), "network"),
        report::format_elapsed(took),
        engine.version,
        engine.api_version,
        report::table(&rows)
    )
}
