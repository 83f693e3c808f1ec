//! `netlab down`: remove every container and network of a lab on every
//! engine it uses, found by labels and the lab's record: works after a crash
//! and without the lab file. `down` holds the lab's lock while it works.
//!
//! The claim (the lab's record, the only note of which engine is which
//! host) goes last, and only once every engine it names lists nothing of
//! the lab: when an engine cannot be reached or a removal fails, `down`
//! exits 3 saying what remains where, the record stays, and a later `down`
//! finishes the job. An engine that is gone for good can be given up with
//! `--forget-unreachable`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use indexmap::IndexMap;

use super::hosts::{self, Engines};
use super::lock;
use super::select::name_among;
use super::{Cancel, CommandResult, Failure};
use crate::cli::DownArgs;
use crate::engine::endpoint::{self, Endpoint, Env};
use crate::engine::record::{self, Record};
use crate::engine::swarm::{self, Release};
use crate::engine::{CONCURRENCY, Engine, EngineError, container, discover, image, network};
use crate::exit;
use crate::lab::{Driver, Lab};
use crate::plan::{LABEL_HOSTS, LABEL_NETWORK, ROLE_CLAIM, ROLE_LOCK, ROLE_NODE};
use crate::report::count;

/// How long `down` keeps sweeping: for swarm networks that the engine
/// deletes asynchronously, and for objects a crashed `up` still had in flight.
const SWEEP_DEADLINE: Duration = Duration::from_secs(15);
/// After a crashed `up` (its lock was stale), the engine may still finish
/// creations that were in flight; one more look after this long catches
/// them.
const SETTLE: Duration = Duration::from_secs(2);

/// How a lab is removed.
#[derive(Debug, Clone, Copy, Default)]
pub struct How {
    /// Leave a swarm netlab made (the lab has, or had, an overlay network).
    pub release_swarm: bool,
    /// An `up` or `down` of the lab was killed: look once more after a while.
    pub after_crash: bool,
    /// Keep the claim even when the engines swept list nothing more: some
    /// engine of the lab was not among them.
    pub keep_claim: bool,
}

/// What a removal did, and what it could not.
#[derive(Debug, Default)]
pub struct Removed {
    pub nodes: usize,
    pub networks: usize,
    /// What is still there, one line per engine; empty: the lab is gone.
    pub remaining: Vec<String>,
    /// The record stays (something remains).
    pub claim_kept: bool,
}

impl Removed {
    /// An error that says what remains and where, when anything does.
    pub fn into_result(self, name: &str, home: &Engine) -> Result<Removed, EngineError> {
        if self.remaining.is_empty() {
            return Ok(self);
        }
        let record = if self.claim_kept {
            format!(
                "its record stays on {}, so `netlab down {name}` finishes the job once it can",
                home.endpoint.url
            )
        } else {
            "its record is gone".to_owned()
        };
        Err(EngineError::new(
            format!("lab `{name}` is only partly removed; {record}"),
            anyhow::anyhow!("\n  {}", self.remaining.join("\n  ")),
        ))
    }
}

/// Removes the lab's containers (first: networks with endpoints cannot go),
/// then its networks, on every engine concurrently, in passes until the
/// engines list nothing of the lab; then, if nothing remains, its claim,
/// and a swarm netlab made that no lab needs any more. What could not be
/// removed is in `remaining`.
pub async fn remove_lab(engines: &Engines, name: &str, how: How) -> Result<Removed, EngineError> {
    let all = engines.all();
    // Containers on every engine first: an overlay network is in use while
    // any engine still has a container on it.
    let emptied = futures::future::join_all(all.iter().map(|e| sweep(e, name, false, how))).await;
    let swept = futures::future::join_all(all.iter().map(|e| sweep(e, name, true, how))).await;
    let mut out = Removed::default();
    let mut removed_networks = Vec::new();
    // An overlay is listed by every engine it reaches: count it once.
    let mut network_names: HashSet<String> = HashSet::new();
    let mut had_overlay = how.release_swarm;
    for ((engine, c), n) in all.iter().zip(emptied).zip(swept) {
        out.nodes += c.nodes;
        network_names.extend(n.names);
        had_overlay |= n.had_overlay;
        removed_networks.extend(n.networks);
        let problems: Vec<String> = c.left.into_iter().chain(n.left).collect();
        if !problems.is_empty() {
            out.remaining.push(format!(
                "{}: {}",
                place(engines, engine),
                problems.join("; ")
            ));
        }
    }
    out.networks = network_names.len();
    if !out.remaining.is_empty() || how.keep_claim {
        out.claim_kept = true;
        return Ok(out);
    }
    // The claim last: until it goes, `down` can find the rest.
    let objects = discover::labs(&engines.home, Some(name))
        .await?
        .remove(name)
        .unwrap_or_default();
    for c in objects.containers.iter().filter(|c| c.role() == ROLE_CLAIM) {
        container::remove(&engines.home, &c.id).await?;
    }
    // Only a lab with an overlay network may end netlab's swarm: a bridge
    // lab going down must not pull it from under an overlay lab coming up.
    if had_overlay {
        release_swarm_of(engines, &removed_networks, name).await?;
    }
    Ok(out)
}

/// `host east (unix:///…)`, `hosts east, west (…)`, or the default engine.
fn place(engines: &Engines, engine: &Engine) -> String {
    match engines.hosts_on(engine).as_slice() {
        [] => format!("the default engine ({})", engine.endpoint.url),
        [_] if engines.hosts.len() == 1 => format!("the engine at {}", engine.endpoint.url),
        [one] => format!("host {one} ({})", engine.endpoint.url),
        several => format!("hosts {} ({})", several.join(", "), engine.endpoint.url),
    }
}

#[derive(Default)]
struct Swept {
    nodes: usize,
    /// Ids of the networks removed, and their lab names.
    networks: Vec<String>,
    names: HashSet<String>,
    had_overlay: bool,
    /// What is left on the engine and why, when the sweep did not finish.
    left: Option<String>,
}

/// One engine: the lab's containers but its claim and lock, or (with
/// `networks`) its networks, in passes until the engine lists none, or
/// the deadline, or an engine error.
async fn sweep(engine: &Engine, name: &str, networks: bool, how: How) -> Swept {
    let deadline = Instant::now() + SWEEP_DEADLINE;
    let mut out = Swept::default();
    let mut removed_nodes: HashSet<String> = HashSet::new();
    let mut removed_networks: HashSet<String> = HashSet::new();
    let mut settled = false;
    let mut last_error: Option<String> = None;
    loop {
        let objects = match discover::labs(engine, Some(name)).await {
            Ok(mut labs) => labs.remove(name).unwrap_or_default(),
            Err(e) => {
                out.left = Some(format!("{e:#}; what the lab has there stays"));
                break;
            }
        };
        let containers: Vec<&container::Listed> = objects
            .containers
            .iter()
            .filter(|c| !networks && ![ROLE_CLAIM, ROLE_LOCK].contains(&c.role()))
            .collect();
        removed_nodes.extend(
            containers
                .iter()
                .filter(|c| c.role() == ROLE_NODE)
                .map(|c| c.id.clone()),
        );
        // Networks already removed may still be listed for a while (swarm
        // scope): wait for them, don't remove them twice.
        let listed: Vec<&network::Listed> = if networks {
            objects.networks.iter().collect()
        } else {
            Vec::new()
        };
        let to_remove: Vec<&str> = listed
            .iter()
            .map(|n| n.id.as_str())
            .filter(|id| !removed_networks.contains(*id))
            .collect();
        out.had_overlay |= objects.networks.iter().any(|n| n.overlay);
        out.names.extend(
            objects
                .networks
                .iter()
                .filter_map(|n| n.labels.get(LABEL_NETWORK).cloned()),
        );
        if containers.is_empty() && listed.is_empty() {
            if how.after_crash && !settled {
                settled = true;
                tokio::time::sleep(SETTLE).await;
                continue;
            }
            break;
        }
        if Instant::now() > deadline {
            let names: Vec<&str> = containers
                .iter()
                .map(|c| c.name.as_str())
                .chain(listed.iter().map(|n| n.name.as_str()))
                .collect();
            out.left = Some(format!(
                "still lists {} after {}s of removal{}",
                names.join(", "),
                SWEEP_DEADLINE.as_secs(),
                last_error
                    .as_ref()
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            ));
            break;
        }
        let ids: Vec<&str> = containers.iter().map(|c| c.id.as_str()).collect();
        if let Err(e) = remove_all(&ids, |id| container::remove(engine, id)).await {
            last_error = Some(format!("{e:#}"));
        }
        match remove_networks(engine, &to_remove).await {
            Ok(gone) => {
                if gone.len() < to_remove.len() || to_remove.is_empty() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                removed_networks.extend(gone);
            }
            Err(e) => {
                last_error = Some(format!("{e:#}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    out.nodes = removed_nodes.len();
    out.networks = removed_networks.into_iter().collect();
    out
}

/// Removes networks; one still in use (an endpoint the engine has not let
/// go yet, a swarm task of another engine) is left for the next pass.
/// Returns the ids removed.
async fn remove_networks(engine: &Engine, ids: &[&str]) -> Result<Vec<String>, EngineError> {
    let results: Vec<(String, Result<(), EngineError>)> =
        futures::stream::iter(ids.iter().copied())
            .map(|id| async move { (id.to_owned(), network::remove(engine, id).await) })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let mut gone = Vec::new();
    for (id, result) in results {
        match result {
            Ok(()) => gone.push(id),
            Err(e) if still_in_use(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(gone)
}

fn still_in_use(e: &EngineError) -> bool {
    let text = format!("{e:#}");
    text.contains("in use by task") || text.contains("has active endpoints")
}

async fn remove_all<'a, F, Fut>(ids: &[&'a str], remove: F) -> Result<(), EngineError>
where
    F: Fn(&'a str) -> Fut,
    Fut: Future<Output = Result<(), EngineError>>,
{
    let results: Vec<Result<(), EngineError>> = futures::stream::iter(ids.iter().copied())
        .map(remove)
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Leaves the swarm on the lab's engines if netlab made it and nothing
/// needs it any more; says why it stays when it holds what netlab did not
/// make.
pub async fn release_swarm_of(
    engines: &Engines,
    just_removed: &[String],
    lab: &str,
) -> Result<(), EngineError> {
    match swarm::release_if_unused(&engines.distinct(), just_removed, lab).await? {
        Release::Left => {
            eprintln!("netlab: left the swarm netlab had initialised (no lab needs it any more)")
        }
        Release::Kept(what) => eprintln!(
            "netlab: kept the swarm netlab had initialised: it holds {what}, which netlab did not make (or still needs); leave it yourself when it is no longer needed (`docker swarm leave --force`)"
        ),
        Release::NotNeeded => {}
    }
    Ok(())
}

/// A lab's engines as its record names them.
pub struct Recorded {
    pub engines: Engines,
    /// Hosts whose engine cannot be reached: host, address, why.
    pub unreachable: Vec<(String, String, EngineError)>,
    pub record: Option<Record>,
}

/// The engines of a lab that is up, from its record on the default engine
/// (or, when the record cannot be read, from its claim's label); without a
/// claim (a lab an `up` left before it wrote one), the default engine alone.
pub async fn recorded_engines(
    home: &Engine,
    name: &str,
    objects: &discover::LabObjects,
) -> Result<Recorded, EngineError> {
    let alone = || Recorded {
        engines: Engines {
            home: home.clone(),
            hosts: Default::default(),
        },
        unreachable: Vec::new(),
        record: None,
    };
    let Some(claim) = objects.claim() else {
        return Ok(alone());
    };
    let (endpoints, rec) = match record::read(home, &claim.id, name).await {
        Ok(r) => (r.engines.clone(), Some(r)),
        Err(e) => match claim.label(LABEL_HOSTS).map(bindings_of) {
            Some(Ok(bound)) if !bound.is_empty() => {
                eprintln!("netlab: {e:#}; using the engines its claim names");
                (bound, None)
            }
            _ => {
                eprintln!("netlab: {e:#}; removing what the default engine holds of it");
                return Ok(alone());
            }
        },
    };
    let (engines, unreachable) = hosts::connect_reachable(home.clone(), &endpoints).await;
    let unreachable = unreachable
        .into_iter()
        .map(|(host, e)| {
            let url = endpoints
                .get(&host)
                .map(|e| e.url.clone())
                .unwrap_or_default();
            (host, url, e)
        })
        .collect();
    Ok(Recorded {
        engines,
        unreachable,
        record: rec,
    })
}

/// `east=unix:///…,west=tcp://…` as endpoints.
fn bindings_of(label: &str) -> Result<IndexMap<String, Endpoint>, String> {
    let env = Env::from_process();
    label
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (host, url) = pair.split_once('=').ok_or("not NAME=ENGINE")?;
            let e = endpoint::parse(&env, url).map_err(|e| e.to_string())?;
            Ok((host.to_owned(), e))
        })
        .collect()
}

/// What the record says `host` holds: `nodes a, b and network lan`.
fn recorded_on(lab: &Lab, host: &str) -> String {
    let nodes: Vec<&str> = lab
        .nodes
        .values()
        .filter(|n| n.host == host)
        .map(|n| n.name.as_str())
        .collect();
    let networks: Vec<&str> = lab
        .networks
        .values()
        .filter(|net| {
            lab.nodes
                .values()
                .any(|n| n.host == host && n.is_on(&net.name))
        })
        .map(|net| net.name.as_str())
        .collect();
    let mut parts = Vec::new();
    if !nodes.is_empty() {
        parts.push(format!(
            "{} {}",
            if nodes.len() == 1 { "node" } else { "nodes" },
            nodes.join(", ")
        ));
    }
    if !networks.is_empty() {
        parts.push(format!(
            "{} {}",
            if networks.len() == 1 {
                "network"
            } else {
                "networks"
            },
            networks.join(", ")
        ));
    }
    if parts.is_empty() {
        "its host helper".into()
    } else {
        parts.join(" and ")
    }
}

/// The lab `down` means: `--name`/`NETLAB_NAME` first, then the argument
/// (a lab name, a built-in or a file), then the only lab that is up.
fn which_lab(
    up: &std::collections::BTreeMap<String, discover::LabObjects>,
    args: &DownArgs,
) -> Result<String, Failure> {
    match &args.name {
        Some(name) if crate::lab::validate::is_valid_lab_name(name) => Ok(name.clone()),
        Some(name) => Err(Failure::Usage(format!(
            "`{name}` (--name or NETLAB_NAME) is not a lab name (1-40 of a-z, 0-9 and `-`)"
        ))),
        None => name_among(up, args.lab.as_deref()),
    }
}

/// An image the engine has, for the lock: the one the lab's claim (or any
/// of its containers) was made from, else the agent image.
async fn lock_image(home: &Engine, objects: &discover::LabObjects) -> Result<String, Failure> {
    let made_from = objects
        .claim()
        .into_iter()
        .chain(objects.containers.iter())
        .map(|c| c.image_id.clone())
        .find(|i| !i.is_empty());
    match made_from {
        Some(image) => Ok(image),
        None => Ok(image::ensure_agent_image(&[home]).await?.tag),
    }
}

pub async fn down_command(home: &Engine, args: &DownArgs, cancel: &Cancel) -> CommandResult {
    let up = discover::labs(home, None).await?;
    let name = which_lab(&up, args)?;
    // A signal does not stop `down`: it is the clean-up.
    cancel.working_on(&name);
    let Some(objects) = up.get(&name) else {
        println!("lab `{name}` is not up; nothing to remove");
        return Ok(exit::SUCCESS);
    };
    let image = lock_image(home, objects).await?;
    let lock = lock::take(home, &name, &image, "down", args.break_lock).await?;
    let result = down_locked(home, &name, args, lock.broke_stale).await;
    lock::release(home, &lock).await;
    result
}

async fn down_locked(
    home: &Engine,
    name: &str,
    args: &DownArgs,
    after_crash: bool,
) -> CommandResult {
    // Listed again under the lock: what an `up` made meanwhile counts.
    let objects = discover::labs(home, Some(name))
        .await?
        .remove(name)
        .unwrap_or_default();
    let recorded = recorded_engines(home, name, &objects).await?;
    let lab = recorded.record.as_ref().map(|r| &r.lab);
    let how = How {
        release_swarm: lab.is_some_and(|l| {
            l.networks
                .values()
                .any(|n| matches!(n.driver, Driver::Overlay { .. }))
        }),
        after_crash,
        keep_claim: !recorded.unreachable.is_empty() && !args.forget_unreachable,
    };
    let mut removed = remove_lab(&recorded.engines, name, how).await?;
    for (host, url, e) in &recorded.unreachable {
        let holds = lab
            .map(|l| format!("; by the record it holds {}", recorded_on(l, host)))
            .unwrap_or_default();
        let line = format!("host {host} ({url}) cannot be reached ({e:#}){holds}");
        if args.forget_unreachable && !removed.claim_kept {
            eprintln!("netlab: forgot {line}: whatever is there stays (--forget-unreachable)");
        } else {
            removed.remaining.push(line);
        }
    }
    let counts = format!(
        "{}, {}",
        count(removed.nodes, "node"),
        count(removed.networks, "network")
    );
    if removed.remaining.is_empty() {
        println!("lab `{name}` removed: {counts}");
        return Ok(exit::SUCCESS);
    }
    println!("lab `{name}` partly removed: {counts}");
    let hint = if recorded.unreachable.is_empty() {
        format!("\n  (hint: `netlab down {name}` tries again)")
    } else {
        format!(
            "\n  (hint: bring the engine back and run `netlab down {name}` again; if it is gone for good, `netlab down {name} --forget-unreachable` removes the record)"
        )
    };
    match removed.into_result(name, home) {
        Ok(_) => Ok(exit::SUCCESS),
        Err(e) => Err(Failure::Engine(EngineError::new(
            e.what,
            anyhow::anyhow!("{}{hint}", e.source),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_says_what_a_host_holds() {
        let lab = crate::lab::load_source(
            "lab.yaml",
            b"hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\n  lan: {}\n  back: {}\nnodes:\n  a: { host: west, networks: [ov, lan] }\n  b: { host: west, networks: [lan] }\n  c: { host: east, networks: [back, ov] }\n",
            Some("lab"),
        )
        .expect("valid")
        .lab;
        assert_eq!(recorded_on(&lab, "west"), "nodes a, b and networks ov, lan");
        assert_eq!(recorded_on(&lab, "east"), "node c and networks ov, back");
    }
}
