//! `netlab verify`: run every check of a running lab, in parallel, then
//! decide the exit code (ripgrep's shape: record, then decide at the end).
//!
//! Probes are batched: one exec per source node runs all of that node's
//! probes concurrently inside the agent, and `from: host` probes run in this
//! process. A check with `retry: true` that failed is probed again until its
//! deadline.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{Cancel, CommandResult, Failure, select};
use crate::agent::protocol::{Observation, ProbeBatch, ProbeReport};
use crate::check::{self, Step};
use crate::cli::{OutputFormat, ReportArgs};
use crate::engine::discover;
use crate::engine::{CONCURRENCY, Engine, exec};
use crate::exit;
use crate::lab::Source;
use crate::live::LiveLab;
use crate::plan::AGENT_BINARY_PATH;
use crate::report::progress::Progress;
use crate::report::{CheckReport, VerifyReport, json, junit};

pub async fn verify_command(
    engine: &Engine,
    arg: Option<&str>,
    options: &ReportArgs,
    cancel: &Cancel,
) -> CommandResult {
    // One listing serves both: which lab is meant, and what it holds.
    let mut up = discover::labs(engine, None).await?;
    let name = select::name_among(&up, arg)?;
    let objects = up.remove(&name).ok_or_else(|| {
        Failure::Usage(format!(
            "lab `{name}` is not up\n  (hint: `netlab up {name}` first, or `netlab run {name}`)"
        ))
    })?;
    let mut live = discover::live(engine, &objects, &name).await?;
    override_timeouts(&mut live, options);
    let report = verify(engine, &live, cancel).await?;
    emit(&report, options)
}

/// `--timeout` replaces every check's own deadline.
pub fn override_timeouts(live: &mut LiveLab, options: &ReportArgs) {
    if let Some(t) = options.timeout {
        for check in &mut live.lab.checks {
            check.timeout = t;
        }
    }
}

/// Prints the report in the chosen format, writes JUnit if asked, and
/// returns the exit code the checks decide.
pub fn emit(report: &VerifyReport, options: &ReportArgs) -> CommandResult {
    match options.output {
        OutputFormat::Human => print!("{}", report.human()),
        OutputFormat::Json => print!("{}", json::render(report)),
    }
    if let Some(path) = &options.junit {
        let xml = junit::render(report)
            .map_err(|e| Failure::Usage(format!("cannot render JUnit XML: {e}")))?;
        std::fs::write(path, xml)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(exit_code(report))
}

pub fn exit_code(report: &VerifyReport) -> u8 {
    if report.failed() == 0 {
        exit::SUCCESS
    } else {
        exit::CHECK_FAILED
    }
}

/// What one probe produced: an observation, or why there is none.
type ProbeOutput = Result<(Observation, Duration), String>;

pub async fn verify(
    engine: &Engine,
    live: &LiveLab,
    cancel: &Cancel,
) -> Result<VerifyReport, Failure> {
    let started = Instant::now();
    let steps = check::plan_steps(live);
    let mut outputs: HashMap<usize, ProbeOutput> = HashMap::new();
    let mut pending: Vec<usize> = (0..steps.len()).collect();
    loop {
        let round = steps
            .iter()
            .enumerate()
            .filter(|(i, _)| pending.contains(i))
            .map(|(_, s)| s);
        let batches = check::batches(round);
        let progress = Progress::start(
            "checks",
            batches.values().map(|b| b.probes.len() as u64).sum(),
        );
        let results = tokio::select! {
            r = run_batches(engine, live, batches, &progress) => r,
            _ = cancel.cancelled() => return Err(Failure::Interrupted(" during verify".into())),
        };
        progress.finish();
        outputs.extend(results);
        // Retry only checks that ask for it, failed, and have time left.
        pending.retain(|&i| {
            let check = &live.lab.checks[i];
            check.retry
                && started.elapsed() + Duration::from_millis(100) < check.timeout
                && !matches!(outputs.get(&i), Some(Ok((obs, _))) if check::classify(&check.kind, obs, live).passed)
        });
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let checks = live
        .lab
        .checks
        .iter()
        .zip(&steps)
        .enumerate()
        .map(|(i, (check, step))| {
            let (passed, observed, elapsed) = match (step, outputs.remove(&i)) {
                (Step::Done(o), _) => (o.passed, o.observed.clone(), Duration::ZERO),
                (_, Some(Ok((obs, elapsed)))) => {
                    let o = check::classify(&check.kind, &obs, live);
                    (o.passed, o.observed, elapsed)
                }
                (_, Some(Err(why))) => (false, why, Duration::ZERO),
                (_, None) => (false, "no result from the probe".into(), Duration::ZERO),
            };
            CheckReport {
                title: check.title.clone(),
                kind: check.kind.kind_name(),
                source: check.kind.source().to_string(),
                target: check.kind.target_words(),
                expectation: check.kind.expectation_words(),
                passed,
                observed,
                elapsed,
            }
        })
        .collect();
    Ok(VerifyReport {
        lab: live.lab.name.clone(),
        engine: (engine.version.clone(), engine.api_version.clone()),
        checks,
        elapsed: started.elapsed(),
    })
}

/// Runs every batch concurrently; returns each probe's output by id.
async fn run_batches(
    engine: &Engine,
    live: &LiveLab,
    batches: std::collections::BTreeMap<Source, ProbeBatch>,
    progress: &Progress,
) -> Vec<(usize, ProbeOutput)> {
    futures::stream::iter(batches)
        .map(|(source, batch)| async move {
            let ids: Vec<usize> = batch.probes.iter().map(|p| p.id()).collect();
            let ran = run_batch(engine, live, &source, &batch).await;
            for _ in &ids {
                progress.step(&source.to_string());
            }
            match ran {
                Ok(report) => {
                    let mut by_id: HashMap<usize, ProbeOutput> = report
                        .results
                        .into_iter()
                        .map(|r| {
                            (
                                r.id,
                                Ok((
                                    r.observation,
                                    Duration::from_secs_f64(r.elapsed_ms / 1000.0),
                                )),
                            )
                        })
                        .collect();
                    ids.into_iter()
                        .map(|id| {
                            (
                                id,
                                by_id.remove(&id).unwrap_or_else(|| {
                                    Err("the agent returned no result for this probe".into())
                                }),
                            )
                        })
                        .collect::<Vec<_>>()
                }
                Err(why) => ids.into_iter().map(|id| (id, Err(why.clone()))).collect(),
            }
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(futures::stream::iter)
        .collect()
        .await
}

async fn run_batch(
    engine: &Engine,
    live: &LiveLab,
    source: &Source,
    batch: &ProbeBatch,
) -> Result<ProbeReport, String> {
    let node = match source {
        Source::Host => return Ok(crate::agent::run_batch(batch).await),
        Source::Node(node) => node,
    };
    let container = live
        .nodes
        .get(node)
        .ok_or_else(|| format!("node `{node}` has no container"))?
        .probe_container
        .as_deref()
        .ok_or_else(|| format!("the probe helper of node `{node}` is not running (run `netlab down` and `up` again)"))?;
    let json = serde_json::to_string(batch).map_err(|e| format!("cannot encode probes: {e}"))?;
    let cmd = vec![
        AGENT_BINARY_PATH.to_owned(),
        "agent".into(),
        "probe".into(),
        json,
    ];
    let out = exec::run(engine, container, cmd, check::batch_deadline(batch))
        .await
        .map_err(|e| format!("cannot run probes in node `{node}`: {e:#}"))?;
    serde_json::from_str(out.stdout.trim()).map_err(|e| {
        format!(
            "the agent in node `{node}` gave no report (exit code {:?}: {e}): {}",
            out.exit_code,
            out.stderr.trim()
        )
    })
}
