//! `netlab up`: bring a lab up, or bring a lab that is up in line with its
//! file (only what changed is made again, as compose does). A fresh lab is
//! removed again on any failure or interruption; the lab's lock keeps two
//! netlabs from changing one lab at once.

use std::time::{Duration, Instant};

use super::build::{self, Cas};
use super::hosts::{self, Engines};
use super::{Cancel, Failure, converge, lock, teardown};
use crate::cli::UpArgs;
use crate::engine::endpoint;
use crate::engine::image::{self, AgentImage};
use crate::engine::record::{self, RECORD_VERSION, Record};
use crate::engine::{Engine, EngineError, container, discover};
use crate::lab::{Attachment, IpFamily, Lab};
use crate::live::LiveLab;
use crate::plan::{self, LABEL_HOSTS, LABEL_LAB, LABEL_ROLE, Plan, PlanInputs, ROLE_CLAIM};
use crate::report;

/// The engines of the lab's hosts, bound by `--host` and `NETLAB_HOSTS`.
/// `command` (`up`, `run`) is named in the hint of a refusal.
pub async fn connect(
    lab: &Lab,
    args: &UpArgs,
    context: Option<&str>,
    command: &str,
) -> Result<Engines, Failure> {
    let from_env = std::env::var("NETLAB_HOSTS").ok();
    let bound = hosts::bindings(lab, &args.hosts, from_env.as_deref())?;
    let default = endpoint::default_endpoint(&endpoint::Env::from_process(), context).ok();
    hosts::refuse_unbound(
        lab,
        &bound,
        command,
        &args.lab,
        default.as_ref().map(|e| e.url.as_str()),
    )?;
    let home = hosts::home(context).await?;
    Ok(hosts::connect(home, &lab.hosts, &bound).await?)
}

/// Brings the lab up (or in line) and returns it as it runs. The summary
/// goes to stdout (`up`) or stderr (`run`, whose stdout is the report).
pub async fn up(
    engines: &Engines,
    lab: &Lab,
    args: &UpArgs,
    cancel: &Cancel,
) -> Result<LiveLab, Failure> {
    let started = Instant::now();
    super::ipv6::refuse_old_engines(engines, lab)?;
    super::kernel::refuse_missing_drivers(engines, lab).await?;
    refuse_missing_external(engines, lab).await?;
    let mut working: Option<report::progress::Progress> = None;
    let image = image::ensure_agent_image_telling(&engines.all(), |work| {
        if let Some(p) = working.take() {
            p.finish();
        }
        working = Some(report::progress::Progress::start(
            match work {
                image::ImageWork::Build { tag, on } => {
                    format!("building agent image {tag} on {on} (once per netlab build)")
                }
                image::ImageWork::Copy { tag, to } => {
                    format!("copying agent image {tag} to {}", to.join(", "))
                }
            },
            0,
        ));
    })
    .await;
    if let Some(p) = working {
        p.finish();
    }
    let image = image?;
    if let Some(on) = &image.built_on {
        crate::text::say!("netlab: built agent image {} on {on}", image.tag);
    }
    if !image.copied_to.is_empty() {
        crate::text::say!(
            "netlab: copied agent image {} to {} in {}",
            image.tag,
            image.copied_to.join(", "),
            report::format_elapsed(image.copy_time)
        );
    }
    let lock = lock::take(
        &engines.home,
        &lab.name,
        &image.tag,
        ("up", Some(&args.lab)),
        args.break_lock,
    )
    .await?;
    let result = async {
        let objects = discover::labs(&engines.home, Some(&lab.name))
            .await?
            .remove(&lab.name)
            .unwrap_or_default();
        match objects.claim() {
            Some(_) if args.fresh_only => Err(Failure::Usage(format!(
                "lab `{}` is already up\n  (hint: `netlab verify {}` checks it, `netlab down {}` removes it; `--name` runs a second copy)",
                lab.name, lab.name, lab.name
            ))),
            Some(claim) => {
                converge::converge(engines, lab, args, &image, &claim.id, cancel).await
            }
            None => fresh(engines, lab, args, &image, cancel)
                .await
                .map(|live| (live, "is up".to_owned())),
        }
    }
    .await;
    lock::release(&engines.home, &lock).await;
    let (live, what) = result?;
    let text = summary(&live, engines, started.elapsed(), &what);
    let text = crate::text::safe::for_terminal(&text);
    if args.summary_to_stderr {
        if !report::progress::hushed() {
            eprint!(
                "{}",
                report::fit::for_stream(&text, report::colour::Stream::Stderr)
            )
        }
    } else {
        print!(
            "{}",
            report::fit::for_stream(&text, report::colour::Stream::Stdout)
        )
    }
    Ok(live)
}

/// An external network must exist before the lab joins it: netlab never
/// makes one.
async fn refuse_missing_external(engines: &Engines, lab: &Lab) -> Result<(), Failure> {
    for net in lab.networks.values() {
        let Some(name) = &net.external else { continue };
        let host = lab.host_of_network(&net.name);
        if !crate::engine::network::exists(engines.of(host), name).await? {
            let on = if lab.is_multi_host() {
                format!(" of host {host}")
            } else {
                String::new()
            };
            return Err(Failure::Usage(format!(
                "network `{}` of lab `{}` is external, and the engine{on} has no network named `{name}`; nothing was created\n  (hint: make it first, e.g. `docker network create {name}`: netlab uses an external network, never makes or removes it)",
                net.name, lab.name
            )));
        }
    }
    Ok(())
}

pub fn inputs<'a>(
    endpoints: &'a indexmap::IndexMap<String, String>,
    image: &'a str,
) -> PlanInputs<'a> {
    PlanInputs {
        engines: endpoints,
        agent_image: image,
    }
}

/// Host → engine address, as the plan hashes it.
pub fn engine_urls(engines: &Engines) -> indexmap::IndexMap<String, String> {
    engines
        .hosts
        .iter()
        .map(|(h, e)| (h.clone(), e.endpoint.url.clone()))
        .collect()
}

async fn fresh(
    engines: &Engines,
    lab: &Lab,
    args: &UpArgs,
    image: &AgentImage,
    cancel: &Cancel,
) -> Result<LiveLab, Failure> {
    let urls = engine_urls(engines);
    let plan = plan::plan(lab, &inputs(&urls, &image.tag));
    build::refuse_overlapping_subnets(engines, &plan, lab).await?;
    let mut record = Record {
        version: RECORD_VERSION,
        lab: lab.clone(),
        engines: engines.endpoints(),
        ca: None,
        other_ca: None,
        agent_image: image.tag.clone(),
    };
    let nodes: Vec<String> = lab.nodes.keys().cloned().collect();
    let (cas, _) = build::make_cas(&mut record, &plan, &nodes)?;
    let labels = [
        (LABEL_LAB, lab.name.as_str()),
        (LABEL_ROLE, ROLE_CLAIM),
        (LABEL_HOSTS, &record.bindings_label()),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    let claim = container::create_marker(&engines.home, &plan::claim_name(&lab.name), labels, &image.tag)
        .await?
        .ok_or_else(|| {
            Failure::Usage(format!(
                "lab `{}` has a claim already (an older netlab's?)\n  (hint: `netlab down {}` removes it)",
                lab.name, lab.name
            ))
        })?;
    let built = async {
        record::write(&engines.home, &claim, &record).await?;
        make(engines, lab, &plan, &cas, image, args.wait, cancel).await
    }
    .await;
    match built {
        Ok(()) => Ok(live(engines, &record).await?),
        Err(failure) => {
            crate::text::say!("netlab: removing what was created of lab `{}`", lab.name);
            // Removing the lab also leaves a swarm netlab made for it.
            let how = teardown::How {
                release_swarm: plan.needs_swarm(),
                ..teardown::How::default()
            };
            let removed = teardown::remove_lab(engines, &lab.name, how)
                .await
                .and_then(|r| r.into_result(&lab.name, &engines.home));
            if let Err(e) = removed {
                crate::text::say!("netlab: cleanup failed too: {e:#}");
            }
            Err(failure)
        }
    }
}

/// Everything of a fresh lab: host helpers first (they answer for their
/// host: free ports, the address to advertise), then the swarm, networks
/// and nodes.
async fn make(
    engines: &Engines,
    lab: &Lab,
    plan: &Plan,
    cas: &Cas,
    image: &AgentImage,
    wait: Duration,
    cancel: &Cancel,
) -> Result<(), Failure> {
    let hosts: Vec<String> = plan.host_helpers.iter().map(|h| h.host.clone()).collect();
    let helpers = build::create_helpers(engines, plan, &hosts, &image.tag, wait).await?;
    let nodes: Vec<String> = lab.nodes.keys().cloned().collect();
    let networks: Vec<String> = lab.networks.keys().cloned().collect();
    super::host_bindings::refuse_foreign_bindings(engines, lab, &nodes, &helpers).await?;
    super::host_subnets::refuse_host_overlaps(engines, plan, lab, &networks, &helpers).await?;
    build::refuse_taken_host_ports(engines, lab, &nodes, &helpers).await?;
    let swarm = build::ensure_swarm(engines, plan, &helpers).await?;
    let manager = swarm.as_ref().map(|(m, _)| m.as_str());
    let plan = &super::ipv6::subnets(engines, plan, lab, &networks, &helpers).await?;
    let until = Instant::now() + wait;
    build::create_networks(engines, plan, &networks, manager, &image.tag, cancel).await?;
    build::create_nodes(engines, plan, &nodes, cas, &image.tag, wait, cancel).await?;
    super::ipv6::wait_usable(engines, plan, &networks, &helpers, until).await
}

/// The lab as it runs on its engines.
pub async fn live(engines: &Engines, record: &Record) -> Result<LiveLab, EngineError> {
    let listed =
        futures::future::try_join_all(engines.distinct().into_iter().map(|e| async move {
            let objects = discover::labs(e, Some(&record.lab.name))
                .await?
                .remove(&record.lab.name)
                .unwrap_or_default();
            Ok::<_, EngineError>((e, objects))
        }))
        .await?;
    let refs: Vec<(&Engine, &discover::LabObjects)> = listed.iter().map(|(e, o)| (*e, o)).collect();
    let mut live = discover::live(record, &refs).await?;
    for (host, engine) in &engines.hosts {
        if let Some(h) = live.hosts.get_mut(host) {
            h.engine = engine.identity.clone();
            h.facts = crate::lab::requires::EngineFacts::of_version(&engine.version);
        }
    }
    rejoin_probe_helpers(engines, &mut live).await;
    Ok(live)
}

/// A foreign node that restarted has a new network namespace, and its probe
/// helper still sits in the old one: restart the helper, which joins the
/// node's namespace as it is now. One that cannot be restarted stays
/// unusable, and the checks from its node are errors.
async fn rejoin_probe_helpers(engines: &Engines, live: &mut LiveLab) {
    let stale: Vec<(String, String, String)> = live
        .nodes
        .iter()
        .filter_map(|(name, n)| Some((name.clone(), n.host.clone(), n.stale_helper.clone()?)))
        .collect();
    let restarts = stale.iter().map(|(node, host, helper)| async move {
        let done = container::restart(engines.of(host), helper, Duration::from_secs(2)).await;
        if let Err(e) = &done {
            crate::text::say!(
                "netlab: the probe helper of node `{node}` could not rejoin it: {e:#}"
            );
        }
        (node, helper, done.is_ok())
    });
    for (node, helper, rejoined) in futures::future::join_all(restarts).await {
        if let (true, Some(n)) = (rejoined, live.nodes.get_mut(node)) {
            n.probe_container = Some(helper.clone());
            n.stale_helper = None;
        }
    }
}

fn summary(live: &LiveLab, engines: &Engines, took: Duration, what: &str) -> String {
    let lab = &live.lab;
    let multi = lab.is_multi_host();
    let mut header: Vec<String> = ["NODE", "IMAGE", "NETWORK", "ADDRESS", "ALIASES", "PORTS"]
        .map(String::from)
        .to_vec();
    if multi {
        header.insert(1, "HOST".into());
    }
    let mut rows = vec![header];
    for node in lab.nodes.values() {
        let running = live.nodes.get(&node.name);
        // Both families where the network has both.
        let address = |net: &str| {
            let both: Vec<String> = [IpFamily::V4, IpFamily::V6]
                .iter()
                .filter_map(|f| running.and_then(|n| n.address(net, *f)))
                .map(|ip| ip.to_string())
                .collect();
            if both.is_empty() {
                "-".into()
            } else {
                both.join(" ")
            }
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
            // A sidecar: its owner's addresses, under its owner's name.
            Attachment::Shared(owner) => {
                let first = lab
                    .nodes
                    .get(owner)
                    .and_then(|o| o.networks().next())
                    .map(|a| a.network.clone())
                    .unwrap_or_default();
                vec![(format!("container:{owner}"), address(&first), String::new())]
            }
        };
        let ports: Vec<String> = running
            .map(|n| n.ports.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default();
        for (i, (network, address, aliases)) in per_network.into_iter().enumerate() {
            let first = i == 0;
            let mut row = vec![
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
            ];
            if multi {
                row.insert(
                    1,
                    if first {
                        node.host.clone()
                    } else {
                        String::new()
                    },
                );
            }
            rows.push(row);
        }
    }
    let mut out = format!(
        "lab `{}` {what}: {}, {} in {} ({})\n",
        lab.name,
        report::count(lab.nodes.len(), "node"),
        report::count(lab.networks.len(), "network"),
        report::format_elapsed(took),
        engines_words(lab, engines),
    );
    if let Some(note) = engines.shared_engine_warning(&lab.used_hosts()) {
        out.push_str(&note);
        out.push('\n');
    }
    out.push_str(&report::table(&rows));
    out
}

/// `Docker 20.10.24 (API 1.41) at unix:///…`, or per host on several.
pub fn engines_words(lab: &Lab, engines: &Engines) -> String {
    if !lab.is_multi_host() {
        return engines.of(&lab.hosts[0]).describe();
    }
    lab.used_hosts()
        .iter()
        .map(|h| format!("{h}: {}", engines.of(h).describe()))
        .collect::<Vec<_>>()
        .join("; ")
}
