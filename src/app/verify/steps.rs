//! A lab's steps, after its steady state: each step's actions in order
//! (each bounded by its deadline), the lab inspected again, then the step's
//! checks in parallel. An action that fails ends the steps (what the lab
//! looks like is no longer known); a failed check does not.
//!
//! Afterwards — also after a failure, an engine error or Ctrl-C — the lab
//! is put back as its file declares it: from what the engine shows (who is
//! stopped, paused, on which networks) and which links the steps impaired,
//! the way back (`plan::steps::restore`) is done phase by phase, each phase
//! for all nodes at once, and then checked.
//!
//! While steps run, a marker (a container, created and never started) says
//! so. A verify that finds one left by a netlab that is gone (killed during
//! its steps) puts the lab back before anything else; one that finds the
//! marker of a netlab still running refuses.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use super::super::hosts::Engines;
use super::super::{Cancel, Failure};
use super::act::{self, Scene};
pub use super::restore::restore;
use super::round;
use crate::engine::{EngineError, container, discover};
use crate::lab::step::NodeState;
use crate::lab::{Action, Check, LabState};
use crate::live::LiveLab;
use crate::plan::steps::{self as plan_steps, LABEL_IMPAIRED, LABEL_OWNER};
use crate::plan::{LABEL_LAB, LABEL_ROLE, ROLE_STEPS};
use crate::report::progress::Progress;
use crate::report::{ActionReport, ActionStatus, CheckReport, RestoreReport, Status, StepReport};

/// How long putting the lab back may take in all.
pub(super) const RESTORE_DEADLINE: Duration = Duration::from_secs(180);

pub struct Ran {
    pub steps: Vec<StepReport>,
    pub restore: Option<RestoreReport>,
    pub cancelled: bool,
}

/// Runs the steps of `live.lab`; `cancelled` says Ctrl-C came before them.
/// How progress names a step: `step 2: db starts again, and web on e…`.
fn step_stage(index: usize, title: &str) -> String {
    const LONGEST: usize = 32;
    let mut name = format!("step {}: {title}", index + 1);
    if name.chars().count() > LONGEST {
        name = name.chars().take(LONGEST - 1).collect::<String>() + "…";
    }
    name
}

pub async fn run(
    engines: &Engines,
    live: &LiveLab,
    cancelled: bool,
    restore_on_cancel: bool,
    cancel: &Cancel,
) -> Result<Ran, Failure> {
    let steps = &live.lab.steps;
    if cancelled {
        return Ok(Ran {
            steps: steps
                .iter()
                .map(|s| not_run(live, s, Status::Cancelled, "cancelled before this step"))
                .collect(),
            restore: None,
            cancelled: true,
        });
    }
    let marker = take_marker(engines, live).await?;
    let mut current = live.clone();
    let mut known = addresses_of(&current, &HashMap::new());
    // The lab as the actions that finished left it; a node whose impair or
    // clear did not finish may be impaired or not.
    let mut model = LabState::declared(&live.lab);
    let mut uncertain: BTreeSet<String> = BTreeSet::new();
    let mut reports = Vec::new();
    let mut cancelled = false;
    let mut broken: Option<String> = None;
    for (index, step) in steps.iter().enumerate() {
        let stage = step_stage(index, &step.title);
        if cancelled {
            reports.push(not_run(
                &current,
                step,
                Status::Cancelled,
                "cancelled before this step",
            ));
            continue;
        }
        if let Some(why) = &broken {
            reports.push(not_run(&current, step, Status::Error, why));
            continue;
        }
        let started = Instant::now();
        let mut since = round::Since {
            action: "the step's start".into(),
            at: started,
            stage: stage.clone(),
        };
        let mut actions = Vec::new();
        let doing = Progress::start(stage.clone(), step.actions.len() as u64);
        for action in &step.actions {
            if cancelled || broken.is_some() {
                actions.push(unrun_action(action));
                continue;
            }
            let scene = Scene {
                engines,
                live: &current,
                known: &known,
            };
            let began = Instant::now();
            let report = tokio::select! {
                r = act::perform(&scene, action) => r,
                () = cancel.cancelled() => {
                    cancelled = true;
                    ActionReport {
                        status: ActionStatus::Cancelled,
                        observed: "Ctrl-C came while it ran".into(),
                        elapsed: started.elapsed(),
                        ..unrun_action(action)
                    }
                }
            };
            since = round::Since {
                action: report.text.clone(),
                at: began + report.engine_elapsed.unwrap_or(report.elapsed),
                stage: stage.clone(),
            };
            doing.step(&report.text);
            if report.status == ActionStatus::Done {
                let _ = model.apply(action);
            } else if let Action::Impair { node, .. } | Action::Clear { node, .. } = action {
                uncertain.insert(node.clone());
            }
            if report.status == ActionStatus::Error {
                broken = Some(format!("not run: `{}` failed", report.text));
            }
            actions.push(report);
            // The next action and the checks see the lab as it is now.
            if !cancelled && broken.is_none() && changes_the_lab(action) {
                current = refresh(engines, &current).await?;
                known = addresses_of(&current, &known);
            }
        }
        doing.finish();
        let checks = if cancelled {
            unrun_checks(
                &current,
                &step.checks,
                Status::Cancelled,
                "cancelled before it ran",
            )
        } else if let Some(why) = &broken {
            unrun_checks(&current, &step.checks, Status::Error, why)
        } else {
            let round = round::run(engines, &current, &step.checks, Some(&since), cancel).await;
            cancelled |= round.cancelled;
            round.checks
        };
        reports.push(StepReport {
            title: step.title.clone(),
            actions,
            checks,
            elapsed: started.elapsed(),
        });
    }
    let mut impaired = uncertain;
    impaired.extend(
        model
            .nodes
            .iter()
            .filter(|(_, n)| !n.impaired.is_empty())
            .map(|(name, _)| name.clone()),
    );
    let restore = if !cancelled || restore_on_cancel {
        let now = refresh(engines, &current).await?;
        let before = addresses_of(live, &HashMap::new());
        let restored = restore(engines, &now, &impaired, Some(&before)).await;
        if restored.complete()
            && let Err(e) = container::remove(&engines.home, &marker).await
        {
            crate::text::say!("netlab: cannot remove the steps marker: {e:#}");
        }
        Some(restored)
    } else {
        // A `run` tears the lab down; the marker goes with it.
        None
    };
    Ok(Ran {
        steps: reports,
        restore,
        cancelled,
    })
}

/// `wait` changes nothing the checks look at; every other action does.
fn changes_the_lab(action: &Action) -> bool {
    !matches!(action, Action::Wait { .. })
}

fn unrun_action(action: &Action) -> ActionReport {
    ActionReport {
        text: action.to_string(),
        verb: action.verb(),
        node: action.node().map(str::to_owned),
        network: None,
        status: ActionStatus::NotRun,
        observed: String::new(),
        elapsed: Duration::ZERO,
        engine_elapsed: None,
    }
}

fn unrun_checks(live: &LiveLab, checks: &[Check], status: Status, why: &str) -> Vec<CheckReport> {
    checks
        .iter()
        .map(|c| CheckReport {
            family: c.family.map(|f| f.word()),
            title: c.title.clone(),
            kind: c.kind.kind_name(),
            source: c.kind.source().to_string(),
            target: c.kind.target_words(),
            expectation: c.kind.expectation_words(),
            status,
            observed: why.to_owned(),
            elapsed: Duration::ZERO,
            matrix: None,
            capture: None,
            why: None,
            scope: crate::check::route::scope(&c.kind, live),
            recovered: None,
            measurement: None,
        })
        .collect()
}

fn not_run(live: &LiveLab, step: &crate::lab::Step, status: Status, why: &str) -> StepReport {
    StepReport {
        title: step.title.clone(),
        actions: step.actions.iter().map(unrun_action).collect(),
        checks: unrun_checks(live, &step.checks, status, why),
        elapsed: Duration::ZERO,
    }
}

/// The lab inspected again, on every engine it uses.
pub(super) async fn refresh(engines: &Engines, live: &LiveLab) -> Result<LiveLab, EngineError> {
    let name = &live.lab.name;
    let listed =
        futures::future::try_join_all(engines.distinct().into_iter().map(|e| async move {
            let objects = discover::labs(e, Some(name))
                .await?
                .remove(name)
                .unwrap_or_default();
            Ok::<_, EngineError>((e, objects))
        }))
        .await?;
    let refs: Vec<_> = listed.iter().map(|(e, o)| (*e, o)).collect();
    discover::inspect(live.clone(), &refs).await
}

/// Every node's addresses as seen now, over the ones seen before.
pub(super) fn addresses_of(
    live: &LiveLab,
    before: &HashMap<String, IndexMap<String, Ipv4Addr>>,
) -> HashMap<String, IndexMap<String, Ipv4Addr>> {
    let mut out = before.clone();
    for (name, node) in &live.nodes {
        let entry = out.entry(name.clone()).or_default();
        for (net, ip) in &node.addresses {
            entry.insert(net.clone(), *ip);
        }
    }
    out
}

/// What the engine shows, as a `LabState`; the links of `impaired` nodes
/// count as impaired (the engine does not show that).
pub(super) fn state_of(live: &LiveLab, impaired: &BTreeSet<String>) -> LabState {
    LabState {
        nodes: live
            .lab
            .nodes
            .keys()
            .map(|name| {
                let n = live.nodes.get(name);
                // A sidecar joins no network: the addresses it shows are
                // its owner's.
                let sidecar = live
                    .lab
                    .nodes
                    .get(name)
                    .is_some_and(|n| n.shares().is_some());
                let networks: BTreeSet<String> = n
                    .filter(|_| !sidecar)
                    .map(|n| {
                        n.addresses
                            .keys()
                            .filter(|net| live.lab.networks.contains_key(*net))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let state = NodeState {
                    running: n.is_some_and(|n| n.running),
                    paused: n.is_some_and(|n| n.state == "paused"),
                    impaired: if impaired.contains(name) {
                        networks.clone()
                    } else {
                        BTreeSet::new()
                    },
                    networks,
                };
                (name.clone(), state)
            })
            .collect(),
    }
}

/// `host:pid` of this netlab.
fn owner() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether `owner` (`host:pid`) is a netlab still running on this machine.
fn alive(owner: &str) -> Option<bool> {
    let (host, pid) = owner.rsplit_once(':')?;
    if host != hostname() {
        return None;
    }
    let pid: i32 = pid.parse().ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    Some(r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

async fn take_marker(engines: &Engines, live: &LiveLab) -> Result<String, Failure> {
    let lab = &live.lab;
    let impaired: Vec<&str> = lab
        .steps
        .iter()
        .flat_map(|s| &s.actions)
        .filter_map(|a| match a {
            Action::Impair { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let labels = [
        (LABEL_LAB, lab.name.clone()),
        (LABEL_ROLE, ROLE_STEPS.to_owned()),
        (LABEL_OWNER, owner()),
        (LABEL_IMPAIRED, impaired.join(",")),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    let name = plan_steps::steps_marker_name(&lab.name);
    container::create_marker(&engines.home, &name, labels, &live.agent_image)
        .await?
        .ok_or_else(|| {
            Failure::Usage(format!(
                "another verify of lab `{}` is running its steps right now\n  (hint: wait for it; `netlab verify --no-steps` checks the steady state)",
                lab.name
            ))
        })
}

/// Puts the lab back if a verify was cut short during its steps (its
/// marker is still there and its netlab is gone). Returns a note for the
/// report and the lab as it is then.
pub async fn recover(
    engines: &Engines,
    live: &LiveLab,
) -> Result<Option<(String, LiveLab)>, Failure> {
    let lab = &live.lab.name;
    let marker = container::list(&engines.home, Some(lab))
        .await?
        .into_iter()
        .find(|c| c.role() == ROLE_STEPS);
    let Some(marker) = marker else {
        return Ok(None);
    };
    let owner = marker.label(LABEL_OWNER).unwrap_or_default().to_owned();
    match alive(&owner) {
        Some(false) => {}
        Some(true) => {
            return Err(Failure::Usage(format!(
                "lab `{lab}` is being changed by the steps of another verify (netlab {owner})\n  (hint: wait for it to finish; it puts the lab back)"
            )));
        }
        None => {
            return Err(Failure::Usage(format!(
                "lab `{lab}` is marked as being changed by the steps of a verify on another machine ({owner})\n  (hint: if that verify is gone, `docker rm {}` and verify again: the lab is put back first)",
                plan_steps::steps_marker_name(lab)
            )));
        }
    }
    let impaired: BTreeSet<String> = marker
        .label(LABEL_IMPAIRED)
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let restored = restore(engines, live, &impaired, None).await;
    let words = {
        let mut out = String::new();
        crate::report::steps::restore_lines(&mut out, &restored);
        out.trim_end().to_owned()
    };
    if !restored.complete() {
        return Err(Failure::Engine(EngineError::new(
            format!(
                "the verify by netlab {owner} was cut short during the steps of lab `{lab}`, and the lab cannot be put back"
            ),
            anyhow::anyhow!(
                "{words}\n  (hint: `netlab up` makes what differs again, `netlab down` removes the lab)"
            ),
        )));
    }
    container::remove(&engines.home, &marker.id).await?;
    let now = refresh(engines, live).await?;
    let note = format!(
        "an earlier verify (netlab {owner}) was cut short during the steps; the lab was put back first: {words}"
    );
    Ok(Some((note, now)))
}
