//! One round of checks — the steady state's, or a step's — against the lab
//! as it runs: every probe batched per probing agent and sent at once (one
//! request per node, probe helper or host helper, all sharing one
//! deadline), a `retry:` check that failed probed again until its deadline,
//! and each check judged from what came back. An engine or agent that fails
//! makes the checks it carried errors, not failures.
//!
//! Cancellation keeps what was learned (mini-redis's shape: shutdown is an
//! input): the batches that answered before Ctrl-C are judged as usual,
//! only the checks still waiting are reported as cancelled.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::Semaphore;

use super::super::Cancel;
use super::super::hosts::Engines;
use crate::agent::protocol::{Observation, ProbeBatch, ProbeResult, ReplyOutcome};
use crate::check::{self, Step};
use crate::engine::attach;
use crate::lab::{Check, CheckKind, IpFamily, Matrix, Source};
use crate::live::LiveLab;
use crate::report::progress::Progress;
use crate::report::{CaptureReport, CellReport, CheckReport, MatrixReport, Status};

/// Attaches being opened at once: enough for every agent of a large lab,
/// few enough for the default limit of open files.
const ATTACHES_IN_FLIGHT: usize = 256;

/// What one probe produced: an observation, or why there is none (the
/// engine or the agent failed: the check is an error, not a failure).
type ProbeOutput = Result<ProbeResult, String>;

/// The checks of one round, judged; `cancelled` when Ctrl-C cut it short.
pub struct Round {
    pub checks: Vec<CheckReport>,
    pub cancelled: bool,
}

/// After which action, and since when, a step's checks count their time
/// to recover.
pub struct Since {
    pub action: String,
    pub at: Instant,
    /// The step, as progress names it (`step 1: db stops`).
    pub stage: String,
}

/// Runs `checks` against `live`. In a step (`since`), a `retry:` check
/// that passes reports its time to recover: from when the engine carried
/// out the step's last action to the end of the probe that passed.
pub async fn run(
    engines: &Engines,
    live: &LiveLab,
    checks: &[Check],
    since: Option<&Since>,
    cancel: &Cancel,
) -> Round {
    let started = Instant::now();
    let steps = check::plan_checks(live, checks);
    // Each probe's latest output, with when its round started.
    let mut outputs: HashMap<usize, (ProbeOutput, Duration)> = HashMap::new();
    let mut pending: Vec<usize> = (0..steps.len()).collect();
    let mut cancelled = false;
    loop {
        let round_started = started.elapsed();
        let round = steps
            .iter()
            .enumerate()
            .filter(|(i, _)| pending.contains(i))
            .map(|(_, s)| s);
        let batches = check::batches(round);
        let progress = Progress::start(
            since.map_or_else(|| "checks".to_owned(), |s| format!("{} checks", s.stage)),
            batches.values().map(|b| b.probes.len() as u64).sum(),
        );
        // Not while another netlab makes networks on these engines: see
        // `engine::turns`.
        let turn = crate::engine::turns::take(
            &engines.all(),
            crate::engine::turns::Kind::Checks,
            crate::engine::turns::TURN_WAIT,
        )
        .await;
        let (results, interrupted) = run_batches(engines, live, batches, &progress, cancel).await;
        drop(turn);
        progress.finish();
        outputs.extend(results.into_iter().map(|(id, o)| (id, (o, round_started))));
        if interrupted {
            cancelled = true;
            break;
        }
        // Retry only checks that ask for it (positive ones: validation
        // refuses `retry` on a negative), failed, and have time left.
        pending.retain(|&i| {
            let check = &checks[i];
            check.retry
                && started.elapsed() + Duration::from_millis(100) < check.timeout
                && !step_passed(&check.kind, &steps[i], &outputs, live)
        });
        if pending.is_empty() {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            () = cancel.cancelled() => {
                cancelled = true;
                break;
            }
        }
    }
    let reports = checks
        .iter()
        .zip(&steps)
        .enumerate()
        .map(|(i, (check, step))| {
            // A check still retrying when Ctrl-C came did not finish.
            let unfinished = cancelled && check.retry && pending.contains(&i);
            judge(
                live,
                check,
                step,
                &mut outputs,
                since.map(|s| (s, started)),
                unfinished,
            )
        })
        .collect();
    Round {
        checks: reports,
        cancelled,
    }
}

fn elapsed(r: &ProbeResult) -> Duration {
    Duration::from_secs_f64(r.elapsed_ms.max(0.0) / 1000.0)
}

fn pass_or_fail(passed: bool) -> Status {
    if passed { Status::Pass } else { Status::Fail }
}

fn status_of(o: &check::Outcome) -> Status {
    if o.error {
        Status::Error
    } else if o.skipped {
        Status::Skipped
    } else {
        pass_or_fail(o.passed)
    }
}

/// Whether a check's probes so far show it passed (every family of it).
fn step_passed(
    kind: &CheckKind,
    step: &Step,
    outputs: &HashMap<usize, (ProbeOutput, Duration)>,
    live: &LiveLab,
) -> bool {
    match step {
        Step::Probe { probe, .. } => {
            matches!(outputs.get(&probe.id), Some((Ok(r), _)) if check::judge(kind, r, live).passed)
        }
        Step::Families(parts) => parts
            .iter()
            .all(|(_, part)| step_passed(kind, part, outputs, live)),
        Step::Done(o) => o.passed,
        Step::Cells(_) => false,
    }
}

/// One probe's output judged.
struct Probed {
    outcome: check::Outcome,
    /// How long the probe itself took.
    took: Duration,
    /// When the round that sent it began (since the check's first round).
    round_started: Duration,
    capture: Option<CaptureReport>,
    /// The mechanism that decided it (none for an error, which observed
    /// nothing of the network).
    why: Option<check::why::Why>,
    measurement: Option<check::measure::EchoFigures>,
}

/// A probe step's output judged; `None` when it has none (the round was
/// cancelled before it answered).
fn probed(
    live: &LiveLab,
    kind: &CheckKind,
    step: &Step,
    outputs: &mut HashMap<usize, (ProbeOutput, Duration)>,
) -> Option<Probed> {
    let plain = |outcome: check::Outcome, round_started| Probed {
        outcome,
        took: Duration::ZERO,
        round_started,
        capture: None,
        why: None,
        measurement: None,
    };
    Some(match step {
        Step::Probe { probe, .. } => match outputs.remove(&probe.id)? {
            (Ok(r), round_started) => {
                let outcome = check::judge(kind, &r, live);
                let why = (!outcome.error)
                    .then(|| check::why::explain(kind, &r, live))
                    .flatten();
                let measurement = match &r.observation {
                    Observation::Echo(e) => Some(check::measure::EchoFigures::of(e)),
                    _ => None,
                };
                Probed {
                    outcome,
                    took: elapsed(&r),
                    round_started,
                    capture: r.capture.map(CaptureReport::from),
                    why,
                    measurement,
                }
            }
            (Err(why), round_started) => plain(check::Outcome::error(why), round_started),
        },
        Step::Done(o) => plain(o.clone(), Duration::ZERO),
        Step::Cells(_) | Step::Families(_) => plain(
            check::Outcome::error("a step of steps where one probe was expected"),
            Duration::ZERO,
        ),
    })
}

/// One check's report from its probes' outputs.
fn judge(
    live: &LiveLab,
    check: &Check,
    step: &Step,
    outputs: &mut HashMap<usize, (ProbeOutput, Duration)>,
    since: Option<(&Since, Instant)>,
    unfinished: bool,
) -> CheckReport {
    let mut matrix = None;
    let mut capture = None;
    let mut recovered: Option<(Duration, &str)> = None;
    let mut measurement = None;
    let mut why = None;
    let cancelled = || {
        (
            Status::Cancelled,
            "cancelled before it finished".to_owned(),
            Duration::ZERO,
        )
    };
    let (status, mut observed, elapsed) = match step {
        Step::Done(o) => (status_of(o), o.observed.clone(), Duration::ZERO),
        Step::Probe { .. } | Step::Families(_) => {
            // Each family judged on its own, said with its address; the
            // first recording is the check's.
            let parts: Vec<(Option<IpFamily>, &Step)> = match step {
                Step::Families(parts) => parts.iter().map(|(f, s)| (Some(*f), s)).collect(),
                other => vec![(None, other)],
            };
            let mut judged = Vec::new();
            let mut whys = Vec::new();
            let mut took = Duration::ZERO;
            let mut round_started = Duration::ZERO;
            let mut missing = false;
            for (family, part) in parts {
                let Some(p) = probed(live, &check.kind, part, outputs) else {
                    missing = true;
                    continue;
                };
                took = took.max(p.took);
                round_started = round_started.max(p.round_started);
                capture = capture.or(p.capture);
                measurement = measurement.or(p.measurement);
                whys.extend(p.why);
                let words = match family {
                    Some(f) => check::family::part_words(f, part),
                    None => String::new(),
                };
                judged.push((words, p.outcome));
            }
            if missing {
                cancelled()
            } else {
                let o = if matches!(step, Step::Families(_)) {
                    check::family::combine(judged)
                } else {
                    judged.remove(0).1
                };
                why = if whys.len() == 1 {
                    whys.pop()
                } else {
                    check::why::summarise(whys.iter())
                };
                if unfinished {
                    let (s, _, t) = cancelled();
                    (
                        s,
                        format!("cancelled while retrying; last seen: {}", o.observed),
                        t,
                    )
                } else {
                    if let Some((since, round_began)) = since
                        && check.retry
                        && o.passed
                    {
                        let before = round_began.saturating_duration_since(since.at);
                        recovered = Some((before + round_started + took, since.action.as_str()));
                    }
                    (status_of(&o), o.observed, took)
                }
            }
        }
        Step::Cells(cells) => match &check.kind {
            CheckKind::Matrix(m) => {
                if cells
                    .iter()
                    .flat_map(Step::probes)
                    .any(|(_, p)| !outputs.contains_key(&p.id))
                {
                    cancelled()
                } else {
                    let report = matrix_report(live, m, cells, outputs);
                    why = check::why::summarise(report.cells.iter().filter_map(|c| c.why.as_ref()));
                    let status = matrix_status(&report);
                    let words = check::matrix::summary(report.cells.iter().map(|c| c.passed));
                    let elapsed = report
                        .cells
                        .iter()
                        .map(|c| c.elapsed)
                        .max()
                        .unwrap_or_default();
                    matrix = Some(report);
                    (status, words.observed, elapsed)
                }
            }
            _ => (
                Status::Error,
                "cells of a check that is no matrix".into(),
                Duration::ZERO,
            ),
        },
    };
    if let Some((r, action)) = recovered {
        observed = format!(
            "{observed}; recovered {} after `{action}` returned",
            crate::report::format_elapsed(r)
        );
    }
    let recovered = recovered.map(|(r, _)| r);
    CheckReport {
        family: check.family.map(|f| f.word()),
        title: check.title.clone(),
        kind: check.kind.kind_name(),
        source: check.kind.source().to_string(),
        target: check.kind.target_words(),
        expectation: check.kind.expectation_words(),
        status,
        observed,
        elapsed,
        matrix,
        capture,
        why,
        scope: check::route::scope(&check.kind, live),
        recovered,
        measurement,
    }
}

/// A matrix's cells, each classified from its probe's output (a cell
/// probed in each family gives one report per family).
fn matrix_report(
    live: &LiveLab,
    m: &Matrix,
    steps: &[Step],
    outputs: &mut HashMap<usize, (ProbeOutput, Duration)>,
) -> MatrixReport {
    let mut cells = Vec::new();
    for (cell, step) in m.cells.iter().zip(steps) {
        let parts: Vec<(Option<IpFamily>, &Step)> = match step {
            Step::Families(parts) => parts.iter().map(|(f, s)| (Some(*f), s)).collect(),
            other => vec![(None, other)],
        };
        for (family, part) in parts {
            let mut why = None;
            let (result, elapsed, error) = match part {
                Step::Probe { probe, .. } => match outputs.remove(&probe.id) {
                    Some((Ok(r), _)) => {
                        why = check::why::explain_cell(
                            live,
                            m,
                            cell,
                            family.unwrap_or(IpFamily::V4),
                            &r.observation,
                        );
                        (
                            check::matrix::classify_cell(live, m, cell, &r.observation),
                            elapsed(&r),
                            false,
                        )
                    }
                    Some((Err(why), _)) => (
                        check::matrix::undecided(&check::Outcome::fail(why)),
                        Duration::ZERO,
                        true,
                    ),
                    None => (
                        check::matrix::undecided(&check::Outcome::fail("no result from the probe")),
                        Duration::ZERO,
                        true,
                    ),
                },
                Step::Done(o) => (check::matrix::undecided(o), Duration::ZERO, o.error),
                Step::Cells(_) | Step::Families(_) => (
                    check::matrix::undecided(&check::Outcome::fail("a matrix inside a matrix")),
                    Duration::ZERO,
                    false,
                ),
            };
            cells.push(CellReport {
                from: cell.from.to_string(),
                to: cell.to.clone(),
                family,
                expected: cell.expect.symbol(),
                observed: if error { '!' } else { result.observed },
                passed: result.passed,
                reason: result.reason,
                elapsed,
                why,
                network: check::route::cell_route(live, m, cell).network,
            });
        }
    }
    MatrixReport {
        title: m.title.clone(),
        port: format!("{}/{}", m.port, m.transport.as_str()),
        sources: m.sources.iter().map(|s| s.to_string()).collect(),
        targets: m.targets.clone(),
        cells,
    }
}

/// A matrix with a cell that could not run is an error; else it passes when
/// every cell does.
fn matrix_status(m: &MatrixReport) -> Status {
    if m.cells.iter().any(|c| c.observed == '!') {
        Status::Error
    } else {
        pass_or_fail(m.cells.iter().all(|c| c.passed))
    }
}

/// Sends every batch at once; returns each probe's output by id, as the
/// batches answer, and whether Ctrl-C came before they all did.
async fn run_batches(
    engines: &Engines,
    live: &LiveLab,
    batches: BTreeMap<Source, ProbeBatch>,
    progress: &Progress,
    cancel: &Cancel,
) -> (Vec<(usize, ProbeOutput)>, bool) {
    let gate = Arc::new(Semaphore::new(ATTACHES_IN_FLIGHT));
    let mut runs: FuturesUnordered<_> = batches
        .into_iter()
        .map(|(source, batch)| {
            let gate = gate.clone();
            async move {
                let ids: Vec<usize> = batch.probes.iter().map(|p| p.id).collect();
                let ran = run_batch(engines, live, &source, &batch, &gate).await;
                for _ in &ids {
                    progress.step(&source.to_string());
                }
                match ran {
                    Ok(mut by_id) => ids
                        .into_iter()
                        .map(|id| {
                            let output = by_id.remove(&id).ok_or_else(|| {
                                "the agent returned no result for this probe".to_owned()
                            });
                            (id, output)
                        })
                        .collect::<Vec<_>>(),
                    Err(why) => ids.into_iter().map(|id| (id, Err(why.clone()))).collect(),
                }
            }
        })
        .collect();
    let mut out = Vec::new();
    loop {
        tokio::select! {
            next = runs.next() => match next {
                Some(results) => out.extend(results),
                None => return (out, false),
            },
            () = cancel.cancelled() => return (out, true),
        }
    }
}

async fn run_batch(
    engines: &Engines,
    live: &LiveLab,
    source: &Source,
    batch: &ProbeBatch,
    gate: &Semaphore,
) -> Result<HashMap<usize, ProbeResult>, String> {
    let (host, container) = live.probe_site(source)?;
    let engine = engines.of(&host);
    let deadline = check::batch_deadline(batch);
    let reply = {
        let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
        tokio::time::timeout(deadline, attach::ask(engine, &container, batch)).await
    };
    let reply = match reply {
        Err(_) => {
            return Err(format!(
                "the agent probing from {source} did not answer within {:.0}s\n  (hint: if the lab was brought up by another netlab build, `netlab up` again recreates its nodes)",
                deadline.as_secs_f64(),
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot probe from {source}: {e:#}")),
        Ok(Ok(reply)) => reply,
    };
    match reply.outcome {
        ReplyOutcome::Report(report) => Ok(report.results.into_iter().map(|r| (r.id, r)).collect()),
        ReplyOutcome::Error(e) => Err(format!("the agent probing from {source} refused: {e}")),
    }
}
