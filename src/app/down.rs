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

use indexmap::IndexMap;

use super::hosts::{self, Engines};
use super::lock;
use super::select::name_among;
use super::teardown::{How, remove_lab};
use super::{Cancel, CommandResult, Failure};
use crate::cli::DownArgs;
use crate::engine::endpoint::{self, Endpoint, Env};
use crate::engine::record::{self, Record};
use crate::engine::{Engine, EngineError, discover, image};
use crate::exit;
use crate::lab::{Driver, Lab};
use crate::plan::LABEL_HOSTS;
use crate::report::count;
// The name may be the one lab the engine holds, read from its labels.
use crate::text::safe::on_one_line;

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
                crate::text::say!("netlab: {e:#}; using the engines its claim names");
                (bound, None)
            }
            _ => {
                crate::text::say!("netlab: {e:#}; removing what the default engine holds of it");
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
    // With nothing up, a `down` without a name has nothing to do: a CI
    // job's clean-up step succeeds.
    if up.is_empty() && args.lab.is_none() && args.name.is_none() {
        println!("no lab is up; nothing to remove");
        return Ok(exit::SUCCESS);
    }
    let name = which_lab(&up, args)?;
    // A signal does not stop `down`: it is the clean-up.
    cancel.working_on(&name);
    let Some(objects) = up.get(&name) else {
        println!("lab `{}` is not up; nothing to remove", on_one_line(&name));
        return Ok(exit::SUCCESS);
    };
    let image = lock_image(home, objects).await?;
    // The record is read while the lock is taken: both are needed first.
    let (lock, recorded) = tokio::join!(
        lock::take(home, &name, &image, ("down", None), args.break_lock),
        recorded_engines(home, &name, objects)
    );
    let lock = lock?;
    let result = match recorded {
        Ok(r) if r.record.is_some() => down_locked(home, &name, args, &lock, r).await,
        // No record when listed: an `up` may have finished one since.
        Ok(_) => match fresh_record(home, &name).await {
            Ok(r) => down_locked(home, &name, args, &lock, r).await,
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    };
    if !matches!(result, Ok(exit::SUCCESS)) {
        lock::release(home, &lock).await;
    }
    result
}

async fn fresh_record(home: &Engine, name: &str) -> Result<Recorded, EngineError> {
    let objects = discover::labs(home, Some(name))
        .await?
        .remove(name)
        .unwrap_or_default();
    recorded_engines(home, name, &objects).await
}

/// Removes the lab under the lock; the lock goes with the lab's claim.
async fn down_locked(
    home: &Engine,
    name: &str,
    args: &DownArgs,
    lock: &lock::Lock,
    recorded: Recorded,
) -> CommandResult {
    let lab = recorded.record.as_ref().map(|r| &r.lab);
    let how = How {
        release_swarm: lab.is_some_and(|l| {
            l.networks
                .values()
                .any(|n| matches!(n.driver, Driver::Overlay { .. }))
        }),
        after_crash: lock.broke_stale,
        keep_claim: !recorded.unreachable.is_empty() && !args.forget_unreachable,
        lock: Some(lock.id.clone()),
    };
    let mut removed = remove_lab(&recorded.engines, name, how).await?;
    for (host, url, e) in &recorded.unreachable {
        let holds = lab
            .map(|l| format!("; by the record it holds {}", recorded_on(l, host)))
            .unwrap_or_default();
        let line = format!("host {host} ({url}) cannot be reached ({e:#}){holds}");
        if args.forget_unreachable && !removed.claim_kept {
            crate::text::say!(
                "netlab: forgot {line}: whatever is there stays (--forget-unreachable)"
            );
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
        println!("lab `{}` removed: {counts}", on_one_line(name));
        return Ok(exit::SUCCESS);
    }
    println!("lab `{}` partly removed: {counts}", on_one_line(name));
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
