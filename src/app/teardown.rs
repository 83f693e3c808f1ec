//! Removing a lab from its engines: what `down` does, and what `up` and
//! `run` do when they clean up after themselves.
//!
//! One look at every engine, then every container of the lab at once (as
//! many removals in flight as the docker CLI's `rm` sends), then its
//! networks, then looks again until the engines list nothing of the lab —
//! a swarm network may be listed a moment after it went, an `up` that was
//! killed may still have creations in flight. The claim (the lab's record)
//! goes only once nothing remains; what cannot be removed is said, engine
//! by engine, and the record stays for a later `down`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::hosts::Engines;
use crate::engine::refusal::Refusal;
use crate::engine::swarm::{self, Release};
use crate::engine::{Engine, EngineError, container, discover, image, network, parent};
use crate::lab::LOCAL_HOST;
use crate::plan::{LABEL_NETWORK, LABEL_PARENT, ROLE_CLAIM, ROLE_LOCK, ROLE_NODE};

/// How long removal keeps looking: for swarm networks that the engine
/// deletes asynchronously, and for objects a crashed `up` still had in flight.
const SWEEP_DEADLINE: Duration = Duration::from_secs(15);
/// After a crashed `up` (its lock was stale), the engine may still finish
/// creations that were in flight; one more look after this long catches
/// them (2 s missed one on Docker 20.10 at a load of 6 on 2 cores; a look
/// that finds something settles again).
const SETTLE: Duration = Duration::from_secs(3);
/// Removals in flight at once per engine, as many as the docker CLI's `rm`
/// sends: removing is mostly the engine waiting for a container's processes
/// and namespace to go, so more at once costs it little and saves the wait.
const REMOVALS_IN_FLIGHT: usize = 50;

/// How a lab is removed.
#[derive(Debug, Clone, Default)]
pub struct How {
    /// Leave a swarm netlab made (the lab has, or had, an overlay network).
    pub release_swarm: bool,
    /// An `up` or `down` of the lab was killed: look once more after a while.
    pub after_crash: bool,
    /// Keep the claim even when the engines swept list nothing more: some
    /// engine of the lab was not among them.
    pub keep_claim: bool,
    /// The caller's lock on the default engine, removed with the claim.
    pub lock: Option<String>,
}

/// What a removal did, and what it could not.
#[derive(Debug, Default)]
pub struct Removed {
    pub nodes: usize,
    pub networks: usize,
    /// What is still there, one line per engine; empty: the lab is gone.
    pub remaining: Vec<String>,
    /// The record stays (something remains), and so does the caller's lock.
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

/// What one engine had of the lab, and what became of it.
#[derive(Default)]
struct Sweep {
    /// Node containers seen (all gone once nothing is left) and networks
    /// removed, by id.
    nodes: HashSet<String>,
    networks: HashSet<String>,
    /// The lab's names of its networks, and whether one was an overlay.
    names: HashSet<String>,
    had_overlay: bool,
    /// A network hung off a dummy interface the lab made (`parent: lab`).
    had_parent: bool,
    /// The claim, on the default engine.
    claim: Option<String>,
    /// What is left on the engine and why, when the removal did not finish.
    left: Option<String>,
}

impl Sweep {
    fn note(&mut self, objects: &discover::LabObjects) {
        self.nodes.extend(
            removable(objects)
                .filter(|c| c.role() == ROLE_NODE)
                .map(|c| c.id.clone()),
        );
        self.had_overlay |= objects.networks.iter().any(|n| n.overlay);
        self.had_parent |= objects
            .networks
            .iter()
            .any(|n| n.labels.contains_key(LABEL_PARENT));
        self.names.extend(
            objects
                .networks
                .iter()
                .filter_map(|n| n.labels.get(LABEL_NETWORK).cloned()),
        );
        if let Some(c) = objects.claim() {
            self.claim = Some(c.id.clone());
        }
    }
}

/// Removes the lab from every engine of `engines` (see the module's words);
/// then, if nothing remains, its claim and the caller's lock, and a swarm
/// netlab made that no lab needs any more.
pub async fn remove_lab(engines: &Engines, name: &str, how: How) -> Result<Removed, EngineError> {
    let all = engines.all();
    let mut sweeps: Vec<Sweep> = all.iter().map(|_| Sweep::default()).collect();
    // One look everywhere, then containers on every engine before any
    // network: an overlay is in use while any engine has a container on it.
    let listed = futures::future::join_all(all.iter().map(|e| list(e, name))).await;
    let mut objects = Vec::new();
    for (sweep, l) in sweeps.iter_mut().zip(listed) {
        match l {
            Ok(o) => {
                sweep.note(&o);
                objects.push(o);
            }
            Err(e) => {
                sweep.left = Some(format!("{e:#}; what the lab has there stays"));
                objects.push(discover::LabObjects::default());
            }
        }
    }
    // Each engine's containers, then at once its own (bridge) networks,
    // which only its containers use; the overlays once every engine's
    // containers are gone. Errors are left to the second look, which tries
    // again and says so.
    let networks = |o: &discover::LabObjects, overlay: bool| -> Vec<String> {
        o.networks
            .iter()
            .filter(|n| n.overlay == overlay)
            .map(|n| n.id.clone())
            .collect()
    };
    let bridges = futures::future::join_all(all.iter().zip(&objects).map(|(e, o)| async move {
        let ids: Vec<&str> = removable(o).map(|c| c.id.as_str()).collect();
        let _ = remove_all(&ids, |id| container::remove(e, id)).await;
        let ids = networks(o, false);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        remove_networks(e, &ids)
            .await
            .map(|(gone, _)| gone)
            .unwrap_or_default()
    }))
    .await;
    let overlays = futures::future::join_all(all.iter().zip(&objects).map(|(e, o)| async move {
        let ids = networks(o, true);
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        remove_networks(e, &ids)
            .await
            .map(|(gone, _)| gone)
            .unwrap_or_default()
    }))
    .await;
    for ((sweep, b), o) in sweeps.iter_mut().zip(bridges).zip(overlays) {
        sweep.networks.extend(b);
        sweep.networks.extend(o);
    }
    // Then look again until nothing is listed: whatever the first round
    // left, or a crashed `up` still made.
    let swept = futures::future::join_all(
        all.iter()
            .zip(sweeps)
            .map(|(e, s)| finish(e, name, s, how.after_crash)),
    )
    .await;
    // The dummy parents once no network hangs off them.
    let swept =
        futures::future::join_all(swept.into_iter().zip(&all).map(|(mut s, e)| async move {
            if s.had_parent
                && s.left.is_none()
                && let Err(e) = remove_parents(engines, e, name).await
            {
                s.left = Some(format!("{e:#}"));
            }
            s
        }))
        .await;

    let mut out = Removed::default();
    let mut removed_networks = Vec::new();
    // An overlay is listed by every engine it reaches: count it once.
    let mut network_names: HashSet<String> = HashSet::new();
    let mut had_overlay = how.release_swarm;
    let mut claim = None;
    for (engine, s) in all.iter().zip(swept) {
        out.nodes += s.nodes.len();
        network_names.extend(s.names);
        had_overlay |= s.had_overlay;
        removed_networks.extend(s.networks);
        claim = claim.or(s.claim.filter(|_| same_engine(engine, &engines.home)));
        if let Some(left) = s.left {
            out.remaining
                .push(format!("{}: {left}", place(engines, engine)));
        }
    }
    out.networks = network_names.len();
    if !out.remaining.is_empty() || how.keep_claim {
        out.claim_kept = true;
        return Ok(out);
    }
    // The claim last (until it goes, `down` can find the rest), and with it
    // the caller's lock; meanwhile the swarm. Only a lab with an overlay
    // network may end netlab's swarm: a bridge lab going down must not pull
    // it from under an overlay lab coming up.
    let last: Vec<&str> = claim.iter().chain(&how.lock).map(String::as_str).collect();
    let (records, swarm) = tokio::join!(
        remove_all(&last, |id| container::remove(&engines.home, id)),
        async {
            if had_overlay {
                release_swarm_of(engines, &removed_networks, name).await
            } else {
                Ok(())
            }
        }
    );
    records?;
    swarm?;
    Ok(out)
}

/// Removes every dummy interface the lab made on an engine's host.
async fn remove_parents(engines: &Engines, engine: &Engine, lab: &str) -> Result<(), EngineError> {
    let image = image::ensure_agent_image(&[engine]).await?;
    let hosts = engines.hosts_on(engine);
    let work = parent::ParentWork {
        lab,
        host: hosts.first().copied().unwrap_or(LOCAL_HOST),
        agent_image: &image.tag,
        add: &[],
        sweep: true,
    };
    parent::run(engine, &work).await.map(drop)
}

fn same_engine(a: &Engine, b: &Engine) -> bool {
    a.endpoint.url == b.endpoint.url
}

async fn list(engine: &Engine, name: &str) -> Result<discover::LabObjects, EngineError> {
    Ok(discover::labs(engine, Some(name))
        .await?
        .remove(name)
        .unwrap_or_default())
}

/// The lab's containers but its claim and lock.
fn removable(objects: &discover::LabObjects) -> impl Iterator<Item = &container::Listed> {
    objects
        .containers
        .iter()
        .filter(|c| ![ROLE_CLAIM, ROLE_LOCK].contains(&c.role()))
}

/// `host east (unix:///…)`, `hosts east, west (…)`, or the default engine.
pub fn place(engines: &Engines, engine: &Engine) -> String {
    match engines.hosts_on(engine).as_slice() {
        [] => format!("the default engine ({})", engine.endpoint.url),
        [_] if engines.hosts.len() == 1 => format!("the engine at {}", engine.endpoint.url),
        [one] => format!("host {one} ({})", engine.endpoint.url),
        several => format!("hosts {} ({})", several.join(", "), engine.endpoint.url),
    }
}

/// One engine, after the first round: looks until the engine lists nothing
/// of the lab but its claim and lock, removing what it lists, or until the
/// deadline or an engine error.
async fn finish(engine: &Engine, name: &str, mut sweep: Sweep, after_crash: bool) -> Sweep {
    if sweep.left.is_some() {
        return sweep;
    }
    let deadline = Instant::now() + SWEEP_DEADLINE;
    let mut settled = false;
    let mut last_error: Option<LastError> = None;
    loop {
        let objects = match list(engine, name).await {
            Ok(o) => o,
            Err(e) => {
                sweep.left = Some(format!("{e:#}; what the lab has there stays"));
                break;
            }
        };
        sweep.note(&objects);
        let containers: Vec<&container::Listed> = removable(&objects).collect();
        if settled && !(containers.is_empty() && objects.networks.is_empty()) {
            // Something finished after the crash: it may not be the last.
            settled = false;
        }
        if containers.is_empty() && objects.networks.is_empty() {
            if after_crash && !settled {
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
                .chain(objects.networks.iter().map(|n| n.name.as_str()))
                .collect();
            // Seen on Docker 20.10 under load: a network whose containers
            // are all gone stays "in use" until the daemon restarts.
            let stale = containers.is_empty()
                && last_error
                    .as_ref()
                    .is_some_and(|e| e.refusal == Refusal::NetworkHasEndpoints);
            sweep.left = Some(format!(
                "still lists {} after {}s of removal{}{}",
                names.join(", "),
                SWEEP_DEADLINE.as_secs(),
                last_error
                    .as_ref()
                    .map(|e| format!(" (last error: {})", e.text))
                    .unwrap_or_default(),
                if stale {
                    "; no container of the lab is left there, so the engine's count of the network's endpoints is stale (Docker 20.10 does this under load): it clears when that Docker daemon restarts"
                } else {
                    ""
                }
            ));
            break;
        }
        let ids: Vec<&str> = containers.iter().map(|c| c.id.as_str()).collect();
        if let Err(e) = remove_all(&ids, |id| container::remove(engine, id)).await {
            last_error = Some(LastError::of(&e));
        }
        // Networks already removed may still be listed for a while (swarm
        // scope): wait for them, don't remove them twice.
        let networks: Vec<&str> = objects
            .networks
            .iter()
            .map(|n| n.id.as_str())
            .filter(|id| !sweep.networks.contains(*id))
            .collect();
        match remove_networks(engine, &networks).await {
            Ok((gone, in_use)) => {
                sweep.networks.extend(gone);
                last_error = in_use.or(last_error);
            }
            Err(e) => last_error = Some(LastError::of(&e)),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sweep
}

/// Removes networks; one still in use (an endpoint the engine has not let
/// go yet, a swarm task of another engine) is left for the next pass.
/// Returns the ids removed, and why the others are still in use.
async fn remove_networks(
    engine: &Engine,
    ids: &[&str],
) -> Result<(Vec<String>, Option<LastError>), EngineError> {
    let results: Vec<(String, Result<(), EngineError>)> =
        futures::stream::iter(ids.iter().copied())
            .map(|id| async move { (id.to_owned(), network::remove(engine, id).await) })
            .buffer_unordered(REMOVALS_IN_FLIGHT)
            .collect()
            .await;
    let mut gone = Vec::new();
    let mut in_use = None;
    for (id, result) in results {
        match result {
            Ok(()) => gone.push(id),
            Err(e) if e.refusal().is_network_in_use() => in_use = Some(LastError::of(&e)),
            Err(e) => return Err(e),
        }
    }
    Ok((gone, in_use))
}

/// The last error of a sweep: what to show, and what kind it was.
struct LastError {
    text: String,
    refusal: Refusal,
}

impl LastError {
    fn of(e: &EngineError) -> LastError {
        LastError {
            text: format!("{e:#}"),
            refusal: e.refusal(),
        }
    }
}

async fn remove_all<'a, F, Fut>(ids: &[&'a str], remove: F) -> Result<(), EngineError>
where
    F: Fn(&'a str) -> Fut,
    Fut: Future<Output = Result<(), EngineError>>,
{
    let results: Vec<Result<(), EngineError>> = futures::stream::iter(ids.iter().copied())
        .map(remove)
        .buffer_unordered(REMOVALS_IN_FLIGHT)
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
            crate::text::say!(
                "netlab: left the swarm netlab had initialised (no lab needs it any more)"
            )
        }
        Release::Kept(what) => crate::text::say!(
            "netlab: kept the swarm netlab had initialised: it holds {what}, which netlab did not make (or still needs); leave it yourself when it is no longer needed (`docker swarm leave --force`)"
        ),
        Release::NotNeeded => {}
    }
    Ok(())
}
