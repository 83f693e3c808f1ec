//! `netlab up` of a lab that is already up: what compose does. Networks and
//! nodes whose settings changed are made again, new ones made, the ones the
//! file dropped removed; the rest keep running untouched. A node whose
//! network is made again is made again with it. The lab's record is updated
//! (a changed check needs no new container), and `up` says what it did.
//! When the last overlay network goes, a swarm netlab made for it goes too.

use std::collections::HashMap;

use super::build::{self, Cas};
use super::hosts::{Engines, same};
use super::up::{engine_urls, inputs, live};
use super::{Cancel, Failure};
use crate::cli::UpArgs;
use crate::engine::image::AgentImage;
use crate::engine::record::{self, RECORD_VERSION, Record};
use crate::engine::{Engine, EngineError, container, discover, network};
use crate::lab::Lab;
use crate::live::LiveLab;
use crate::plan::{
    self, Changes, Delta, LABEL_HOST, LABEL_NETWORK, LABEL_NODE, LABEL_PARENT, ROLE_HOST_HELPER,
};
use crate::report::count;

pub async fn converge(
    engines: &Engines,
    lab: &Lab,
    args: &UpArgs,
    image: &AgentImage,
    claim: &str,
    cancel: &Cancel,
) -> Result<(LiveLab, String), Failure> {
    let old = record::read(&engines.home, claim, &lab.name).await?;
    // Objects may sit on engines the lab no longer uses: look there too.
    let (old_engines, unreachable) =
        super::hosts::connect_reachable(engines.home.clone(), &old.engines).await;
    if let Some((host, e)) = unreachable.into_iter().next() {
        return Err(Failure::Engine(EngineError::new(
            format!("host {host} of the lab as it is up cannot be reached"),
            e,
        )));
    }
    let mut everywhere: Vec<&Engine> = engines.distinct();
    for e in old_engines.distinct() {
        if !everywhere.iter().any(|k| same(k, e)) {
            everywhere.push(e);
        }
    }
    let listed = futures::future::try_join_all(everywhere.iter().map(|e| async move {
        let objects = discover::labs(e, Some(&lab.name))
            .await?
            .remove(&lab.name)
            .unwrap_or_default();
        Ok::<_, EngineError>((*e, objects))
    }))
    .await?;
    let mut running = plan::Running::default();
    for (_, objects) in &listed {
        let r = objects.running();
        running.networks.extend(r.networks);
        running.nodes.extend(r.nodes);
        running.helpers.extend(r.helpers);
    }
    let urls = engine_urls(engines);
    let plan = plan::plan(lab, &inputs(&urls, &image.tag));
    let mut changes = plan::changes(&plan, &running);
    let mut record = Record {
        version: RECORD_VERSION,
        lab: lab.clone(),
        engines: engines.endpoints(),
        ca: old.ca.clone(),
        other_ca: old.other_ca.clone(),
        agent_image: image.tag.clone(),
    };
    let signing: Vec<String> = changes
        .nodes
        .create
        .iter()
        .chain(&changes.nodes.recreate)
        .cloned()
        .collect();
    let (cas, again) = build::make_cas(&mut record, &plan, &signing)?;
    // A CA made anew (no netlab keeps a CA's key) re-signs every https node.
    let mut note = String::new();
    if !again.is_empty() {
        changes.nodes.unchanged.retain(|n| !again.contains(n));
        changes.nodes.recreate.extend(again.iter().cloned());
        note = "; a new CA signed every https node: netlab keeps no CA key".to_owned();
    }
    if record.ca != old.ca || record.other_ca != old.other_ca {
        // The new CA first: nodes it signs may exist before the rest of the
        // record is written.
        let mut interim = old.clone();
        interim.ca = record.ca.clone();
        interim.other_ca = record.other_ca.clone();
        record::write(&engines.home, claim, &interim).await?;
    }
    if changes.is_empty() {
        if record != old {
            record::write(&engines.home, claim, &record).await?;
        }
        let live = live(engines, &record).await?;
        return Ok((live, "is up to date (nothing changed)".into()));
    }
    let removed_networks = apply(
        engines, &listed, lab, &plan, &changes, &cas, image, args, cancel,
    )
    .await?;
    record::write(&engines.home, claim, &record).await?;
    // The last overlay went: a swarm netlab made for it goes too.
    let had_overlay = old
        .lab
        .networks
        .values()
        .any(|n| matches!(n.driver, crate::lab::Driver::Overlay { .. }));
    if had_overlay && !plan.needs_swarm() {
        super::teardown::release_swarm_of(&old_engines, &removed_networks, &lab.name).await?;
    }
    let live = live(engines, &record).await?;
    let described = describe(&changes);
    let described = match described.strip_suffix(')') {
        Some(open) if !note.is_empty() => format!("{open}{note})"),
        _ => described,
    };
    Ok((live, described))
}

#[allow(clippy::too_many_arguments)]
async fn apply(
    engines: &Engines,
    listed: &[(&Engine, discover::LabObjects)],
    lab: &Lab,
    plan: &plan::Plan,
    changes: &Changes,
    cas: &Cas,
    image: &AgentImage,
    args: &UpArgs,
    cancel: &Cancel,
) -> Result<Vec<String>, Failure> {
    let goes = |d: &Delta| -> Vec<String> { d.recreate.iter().chain(&d.remove).cloned().collect() };
    let comes =
        |d: &Delta| -> Vec<String> { d.create.iter().chain(&d.recreate).cloned().collect() };
    let nodes_out = goes(&changes.nodes);
    let helpers_out = goes(&changes.helpers);
    let networks_out = goes(&changes.networks);
    let networks_in = comes(&changes.networks);
    // The host helpers that stay answer for their hosts before anything is
    // removed: a new subnet that collides with a host's network changes
    // nothing. (Hosts that get a helper only now are asked below.)
    let mut helpers: HashMap<String, String> = HashMap::new();
    for (_, o) in listed {
        for c in o.containers.iter().filter(|c| c.role() == ROLE_HOST_HELPER) {
            if let Some(h) = c.label(LABEL_HOST)
                && !helpers_out.iter().any(|x| x == h)
            {
                helpers.entry(h.to_owned()).or_insert_with(|| c.id.clone());
            }
        }
    }
    super::host_subnets::refuse_host_overlaps(engines, plan, lab, &networks_in, &helpers).await?;
    let nodes_in = comes(&changes.nodes);
    super::host_bindings::refuse_foreign_bindings(engines, lab, &nodes_in, &helpers).await?;
    // Containers first: a network with endpoints cannot go.
    let doomed_containers: Vec<(&Engine, &str)> = listed
        .iter()
        .flat_map(|(e, o)| o.containers.iter().map(move |c| (*e, c)))
        .filter(|(_, c)| {
            c.label(LABEL_NODE)
                .is_some_and(|n| nodes_out.iter().any(|x| x == n))
                || (c.role() == ROLE_HOST_HELPER
                    && c.label(LABEL_HOST)
                        .is_some_and(|h| helpers_out.iter().any(|x| x == h)))
        })
        .map(|(e, c)| (e, c.id.as_str()))
        .collect();
    futures::future::try_join_all(
        doomed_containers
            .iter()
            .map(|(e, id)| container::remove(e, id)),
    )
    .await?;
    let doomed_networks: Vec<(&Engine, &str)> = listed
        .iter()
        .flat_map(|(e, o)| o.networks.iter().map(move |n| (*e, n)))
        .filter(|(_, n)| {
            n.labels
                .get(LABEL_NETWORK)
                .is_some_and(|name| networks_out.contains(name))
        })
        .map(|(e, n)| (e, n.id.as_str()))
        .collect();
    futures::future::try_join_all(doomed_networks.iter().map(|(e, id)| network::remove(e, id)))
        .await?;
    // A network that hung off a dummy parent of the lab's leaves it
    // behind: the parents of its host are settled to what the plan wants.
    let parent_hosts: Vec<&str> = listed
        .iter()
        .flat_map(|(_, o)| &o.networks)
        .filter(|n| {
            n.labels.contains_key(LABEL_PARENT)
                && n.labels
                    .get(LABEL_NETWORK)
                    .is_some_and(|name| networks_out.contains(name))
        })
        .filter_map(|n| n.labels.get(LABEL_HOST).map(String::as_str))
        .collect();
    if !parent_hosts.is_empty() {
        build::settle_parents(engines, plan, &parent_hosts, &image.tag).await?;
    }
    let removed_networks: Vec<String> = doomed_networks
        .iter()
        .map(|(_, id)| (*id).to_owned())
        .collect();

    let helpers_in = comes(&changes.helpers);
    let made = build::create_helpers(engines, plan, &helpers_in, &image.tag, args.wait).await?;
    if !made.is_empty() {
        super::host_subnets::refuse_host_overlaps(engines, plan, lab, &networks_in, &made).await?;
        super::host_bindings::refuse_foreign_bindings(engines, lab, &nodes_in, &made).await?;
    }
    helpers.extend(made);
    // New nodes must find their host ports free; a node made again takes
    // back the ports its old container just gave up.
    build::refuse_taken_host_ports(engines, lab, &changes.nodes.create, &helpers).await?;
    let swarm = build::ensure_swarm(engines, plan, &helpers).await?;
    let manager = swarm.as_ref().map(|(m, _)| m.as_str());
    let plan = &super::ipv6::subnets(engines, plan, lab, &networks_in, &helpers).await?;
    let until = std::time::Instant::now() + args.wait;
    build::create_networks(engines, plan, &networks_in, manager, &image.tag, cancel).await?;
    build::create_nodes(
        engines,
        plan,
        &comes(&changes.nodes),
        cas,
        &image.tag,
        args.wait,
        cancel,
    )
    .await?;
    super::ipv6::wait_usable(engines, plan, &networks_in, &helpers, until).await?;
    Ok(removed_networks)
}

/// `changed: created db; recreated web; removed old; 3 unchanged`
pub fn describe(changes: &Changes) -> String {
    let mut parts = Vec::new();
    let list = |what: &str, names: &[String], kind: &str| -> Option<String> {
        (!names.is_empty()).then(|| format!("{what} {kind} {}", names.join(", ")))
    };
    for (d, kind) in [(&changes.networks, "network"), (&changes.nodes, "node")] {
        let kind_of = |n: usize| {
            if n == 1 {
                kind.to_owned()
            } else {
                format!("{kind}s")
            }
        };
        parts.extend(list("created", &d.create, &kind_of(d.create.len())));
        parts.extend(list("recreated", &d.recreate, &kind_of(d.recreate.len())));
        parts.extend(list("removed", &d.remove, &kind_of(d.remove.len())));
    }
    let unchanged = changes.nodes.unchanged.len();
    parts.push(format!("{} unchanged", count(unchanged, "node")));
    format!("changed ({})", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_told_per_kind() {
        let changes = Changes {
            networks: Delta {
                create: vec!["back".into()],
                ..Delta::default()
            },
            nodes: Delta {
                create: vec!["db".into()],
                recreate: vec!["web".into(), "api".into()],
                remove: vec!["old".into()],
                unchanged: vec!["client".into()],
            },
            helpers: Delta::default(),
        };
        assert_eq!(
            describe(&changes),
            "changed (created network back; created node db; recreated nodes web, api; removed node old; 1 node unchanged)"
        );
    }
}
