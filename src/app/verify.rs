//! `netlab verify`: run every check of a running lab, in parallel, then
//! decide the exit code (ripgrep's shape: record, then decide at the end).
//!
//! Probes are batched: one request per probing agent — a node's own, a
//! foreign node's probe helper, a host's helper — all sent at once, so the
//! probes of a verify share one deadline. A check with `retry: true` that
//! failed is probed again until its deadline. An engine or agent that fails
//! makes the checks it carried errors (exit 3), not failures.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::hosts::{self, Engines};
use super::{Cancel, CommandResult, Failure, select};
use crate::agent::protocol::{ProbeBatch, ProbeResult, ReplyOutcome};
use crate::check::{self, Step};
use crate::cli::{OutputFormat, ReportArgs};
use crate::engine::record;
use crate::engine::{Engine, attach, discover};
use crate::exit;
use crate::lab::{self, Lab, Source};
use crate::lab::{CheckKind, Matrix};
use crate::live::LiveLab;
use crate::report::progress::Progress;
use crate::report::{
    self, CaptureReport, CellReport, CheckReport, EngineInfo, MatrixReport, Status, VerifyReport,
    json, junit,
};

/// Attaches being opened at once: enough for every agent of a large lab,
/// few enough for the default limit of open files.
const ATTACHES_IN_FLIGHT: usize = 256;

/// Which lab `verify` means, and how far its checks may aim.
pub struct Target<'a> {
    /// The lab: its name, a built-in lab or a lab file.
    pub arg: Option<&'a str>,
    /// `--name`: the name it was brought up under.
    pub name: Option<&'a str>,
    pub allow_external: bool,
}

pub async fn verify_command(
    home: &Engine,
    target: &Target<'_>,
    options: &ReportArgs,
    cancel: &Cancel,
) -> CommandResult {
    let Target {
        arg,
        name,
        allow_external,
    } = *target;
    refuse_unwritable_files(options)?;
    // One listing serves both: which lab is meant, and what it holds.
    let mut up = discover::labs(home, None).await?;
    // A lab file (or a built-in lab not up under its own name) brings the
    // checks to run: its own, not the stored ones.
    let file_lab = match arg {
        Some(a) if std::path::Path::new(a).is_file() => {
            Some(super::load_named(a, name, allow_external)?)
        }
        Some(a) if !up.contains_key(a) && lab::builtin::get(a).is_some() => {
            Some(super::load_named(a, name, allow_external)?)
        }
        _ => None,
    };
    let wanted = file_lab.as_ref().map(|l| l.name.as_str()).or(name).or(arg);
    let lab_name = select::name_among(&up, wanted)?;
    // A converge in progress: its checks would see a lab half-changed.
    if up.get(&lab_name).is_some_and(|o| o.lock().is_some()) {
        super::lock::wait_unlocked(home, &lab_name).await?;
        up = discover::labs(home, Some(&lab_name)).await?;
    }
    let objects = up.remove(&lab_name).ok_or_else(|| not_up(&lab_name))?;
    let claim = objects.claim().ok_or_else(|| {
        Failure::Usage(format!(
            "lab `{lab_name}` is only partly up (it has no record)\n  (hint: `netlab down {lab_name}` removes what there is)"
        ))
    })?;
    let mut record = record::read(home, &claim.id, &lab_name).await?;
    if let Some(lab) = file_lab {
        same_topology(&lab, &record.lab, arg.unwrap_or_default())?;
        record.lab.checks = lab.checks;
    }
    refuse_no_checks(&record.lab)?;
    let (engines, unreachable) = hosts::connect_reachable(home.clone(), &record.engines).await;
    if let Some((host, e)) = unreachable.into_iter().next() {
        return Err(Failure::Engine(crate::engine::EngineError::new(
            format!("host {host} of lab `{lab_name}` cannot be reached"),
            e,
        )));
    }
    let mut live = super::up::live(&engines, &record).await?;
    override_checks(&mut live, options);
    live.allow_external = allow_external;
    let report = verify(&engines, &live, cancel).await?;
    emit(&report, options)
}

fn not_up(name: &str) -> Failure {
    Failure::Usage(format!(
        "lab `{name}` is not up\n  (hint: `netlab up {name}` first, or `netlab run {name}`)"
    ))
}

/// A JUnit or HTML file that cannot be written is found out before
/// anything runs (also one that is a symbolic link: see `report::file`).
pub fn refuse_unwritable_files(options: &ReportArgs) -> Result<(), Failure> {
    for (path, what) in [
        (&options.junit, "JUnit report"),
        (&options.html, "HTML page"),
    ] {
        if let Some(path) = path {
            report::file::check_writable(path, report::file::Readers::Everyone).map_err(|e| {
                Failure::Usage(format!(
                    "cannot write the {what} to {}: {e}; nothing was run",
                    path.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// A lab without checks verifies nothing: saying it passed would be a lie.
pub fn refuse_no_checks(lab: &Lab) -> Result<(), Failure> {
    if lab.checks.is_empty() {
        return Err(Failure::Usage(format!(
            "lab `{}` has no checks: there is nothing to verify\n  (hint: add a `checks:` list to the lab file)",
            lab.name
        )));
    }
    Ok(())
}

/// The file's topology (everything but its checks and description) must be
/// what is up: otherwise its checks would be judged against another lab.
fn same_topology(file: &Lab, running: &Lab, path: &str) -> Result<(), Failure> {
    let differences = lab::topology_differences(file, running);
    if differences.is_empty() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "{path} differs from lab `{}` as it is up: {}\n  (hint: `netlab up {path}` brings the running lab in line, then verify)",
        running.name,
        differences.join("; ")
    )))
}

/// `--timeout` replaces every check's own deadline; `--capture` records
/// every check that can be recorded.
pub fn override_checks(live: &mut LiveLab, options: &ReportArgs) {
    for check in &mut live.lab.checks {
        if let Some(t) = options.timeout {
            check.timeout = t;
        }
        if options.capture
            && matches!(
                check.kind,
                CheckKind::Tcp { .. } | CheckKind::Tls { .. } | CheckKind::Http { .. }
            )
        {
            check.capture = true;
        }
    }
}

/// Prints the report in the chosen format, writes JUnit if asked, and
/// returns the exit code the checks decide.
pub fn emit(report: &VerifyReport, options: &ReportArgs) -> CommandResult {
    match options.output {
        OutputFormat::Human => print!(
            "{}",
            report.human_with(report::colour::stdout(), options.verbose, options.quiet)
        ),
        OutputFormat::Json => print!("{}", json::render(report)),
    }
    // The checks ran: a report file that cannot be written is said, and
    // never hides their verdict (1 and 3 stay; a pass becomes 2).
    let mut unwritten = Vec::new();
    if let Some(path) = &options.junit {
        unwritten.extend(write_junit(report, path).err());
    }
    if let Some(path) = &options.html
        && let Err(e) = super::report::write_page(&json::render(report), path)
    {
        unwritten.push(e.to_string());
    }
    if let Some(dir) = &options.pcap {
        unwritten.extend(write_pcaps(report, dir));
    }
    for problem in &unwritten {
        eprintln!("netlab: {problem}");
    }
    Ok(match exit_code(report) {
        exit::SUCCESS if !unwritten.is_empty() => exit::INVALID_INPUT,
        verdict => verdict,
    })
}

fn write_junit(report: &VerifyReport, path: &std::path::Path) -> Result<(), String> {
    use std::io::Write as _;
    let xml = junit::render(report).map_err(|e| format!("cannot render JUnit XML: {e}"))?;
    report::file::create(path, report::file::Readers::Everyone)
        .and_then(|mut f| f.write_all(xml.as_bytes()))
        .map_err(|e| format!("cannot write the JUnit report to {}: {e}", path.display()))
}

/// One pcap file per recorded check: `<lab>-<nn>-<title>.pcap`, readable
/// by its owner alone. Returns what could not be written.
fn write_pcaps(report: &VerifyReport, dir: &std::path::Path) -> Vec<String> {
    if let Err(e) = std::fs::create_dir_all(dir) {
        return vec![format!(
            "cannot make {} for the pcap files: {e}",
            dir.display()
        )];
    }
    let mut written = 0;
    let mut problems = Vec::new();
    for (i, c) in report.checks.iter().enumerate() {
        let Some(CaptureReport::Recorded { capture, .. }) = &c.capture else {
            continue;
        };
        let path = dir.join(pcap_name(&report.lab, i + 1, &c.title));
        let wrote = report::file::create(&path, report::file::Readers::Owner)
            .map_err(|e| e.to_string())
            .and_then(|f| {
                crate::capture::pcap::write_to(
                    std::io::BufWriter::new(f),
                    capture.started_at,
                    &capture.packets,
                )
                .and_then(|mut w| std::io::Write::flush(&mut w).map_err(|e| e.to_string()))
            });
        match wrote {
            Ok(()) => written += 1,
            Err(e) => problems.push(format!("cannot write {}: {e}", path.display())),
        }
    }
    if written == 0 && problems.is_empty() {
        eprintln!(
            "netlab: --pcap wrote nothing: no check was recorded (add `capture: true`, or --capture)"
        );
    } else if written > 0 {
        eprintln!(
            "netlab: wrote {} to {}",
            report::count(written, "pcap file"),
            dir.display()
        );
    }
    problems
}

/// `https-redirect-03-tls-client-web-443-as-web-is-verified.pcap`
fn pcap_name(lab: &str, index: usize, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(60).collect();
    format!("{lab}-{index:02}-{}.pcap", slug.trim_end_matches('-'))
}

pub fn exit_code(report: &VerifyReport) -> u8 {
    if report.errors() > 0 {
        exit::ENGINE_FAILURE
    } else if report.failed() > 0 {
        exit::CHECK_FAILED
    } else {
        exit::SUCCESS
    }
}

/// What one probe produced: an observation, or why there is none (the
/// engine or the agent failed: the check is an error, not a failure).
type ProbeOutput = Result<ProbeResult, String>;

fn elapsed(r: &ProbeResult) -> Duration {
    Duration::from_secs_f64(r.elapsed_ms.max(0.0) / 1000.0)
}

pub async fn verify(
    engines: &Engines,
    live: &LiveLab,
    cancel: &Cancel,
) -> Result<VerifyReport, Failure> {
    let started = Instant::now();
    super::outside::refuse_outside(engines, live).await?;
    let steps = check::plan_steps(live);
    let mut outputs: HashMap<usize, ProbeOutput> = HashMap::new();
    let mut pending: Vec<usize> = (0..steps.len()).collect();
    // The probe id of each check that sends one probe (not a matrix).
    let single_id = |i: usize| -> Option<usize> {
        match &steps[i] {
            Step::Probe { probe, .. } => Some(probe.id),
            _ => None,
        }
    };
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
            r = run_batches(engines, live, batches, &progress) => r,
            _ = cancel.cancelled() => return Err(Failure::Interrupted(" during verify".into())),
        };
        progress.finish();
        outputs.extend(results);
        // Retry only checks that ask for it (positive ones: validation
        // refuses `retry` on a negative), failed, and have time left.
        pending.retain(|&i| {
            let check = &live.lab.checks[i];
            check.retry
                && started.elapsed() + Duration::from_millis(100) < check.timeout
                && !matches!(single_id(i).and_then(|id| outputs.get(&id)), Some(Ok(r)) if check::judge(&check.kind, r, live).passed)
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
        .map(|(check, step)| {
            let mut matrix = None;
            let mut capture = None;
            let mut why = None;
            let (status, observed, elapsed) = match step {
                Step::Done(o) => (status_of(o), o.observed.clone(), Duration::ZERO),
                Step::Probe { probe, .. } => match outputs.remove(&probe.id) {
                    Some(Ok(r)) => {
                        let o = check::judge(&check.kind, &r, live);
                        let took = elapsed(&r);
                        // An error observed nothing of the network: no mechanism to name.
                        if !o.error {
                            why = check::why::explain(&check.kind, &r, live);
                        }
                        capture = r.capture.map(CaptureReport::from);
                        (status_of(&o), o.observed, took)
                    }
                    Some(Err(why)) => (Status::Error, why, Duration::ZERO),
                    None => (
                        Status::Error,
                        "no result from the probe".into(),
                        Duration::ZERO,
                    ),
                },
                Step::Cells(cells) => match &check.kind {
                    CheckKind::Matrix(m) => {
                        let report = matrix_report(live, m, cells, &mut outputs);
                        why = check::why::summarise(
                            report.cells.iter().filter_map(|c| c.why.as_ref()),
                        );
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
                    _ => (
                        Status::Error,
                        "cells of a check that is no matrix".into(),
                        Duration::ZERO,
                    ),
                },
            };
            CheckReport {
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
            }
        })
        .collect();
    Ok(VerifyReport {
        lab: live.lab.name.clone(),
        engines: engine_infos(&live.lab, engines),
        notes: engines
            .shared_engine_warning(&live.lab.used_hosts())
            .into_iter()
            .collect(),
        checks,
        elapsed: started.elapsed(),
        topology: Some(report::topology::of(live)),
    })
}

/// A matrix's cells, each classified from its probe's output.
fn matrix_report(
    live: &LiveLab,
    m: &Matrix,
    steps: &[Step],
    outputs: &mut HashMap<usize, ProbeOutput>,
) -> MatrixReport {
    let cells = m
        .cells
        .iter()
        .zip(steps)
        .map(|(cell, step)| {
            let mut why = None;
            let (result, elapsed, error) = match step {
                Step::Probe { probe, .. } => match outputs.remove(&probe.id) {
                    Some(Ok(r)) => {
                        why = check::why::explain_cell(live, m, cell, &r.observation);
                        (
                            check::matrix::classify_cell(live, m, cell, &r.observation),
                            elapsed(&r),
                            false,
                        )
                    }
                    Some(Err(why)) => (
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
                Step::Cells(_) => (
                    check::matrix::undecided(&check::Outcome::fail("a matrix inside a matrix")),
                    Duration::ZERO,
                    false,
                ),
            };
            CellReport {
                from: cell.from.to_string(),
                to: cell.to.clone(),
                expected: cell.expect.symbol(),
                observed: if error { '!' } else { result.observed },
                passed: result.passed,
                reason: result.reason,
                elapsed,
                why,
                network: check::route::cell_route(live, m, cell).network,
            }
        })
        .collect();
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

fn pass_or_fail(passed: bool) -> Status {
    if passed { Status::Pass } else { Status::Fail }
}

fn status_of(o: &check::Outcome) -> Status {
    if o.error {
        Status::Error
    } else {
        pass_or_fail(o.passed)
    }
}

fn engine_infos(lab: &Lab, engines: &Engines) -> Vec<EngineInfo> {
    let hosts: Vec<&str> = if lab.is_multi_host() {
        lab.used_hosts()
    } else {
        lab.hosts.iter().map(String::as_str).take(1).collect()
    };
    hosts
        .into_iter()
        .map(|h| {
            let e = engines.of(h);
            EngineInfo {
                host: h.to_owned(),
                version: e.version.clone(),
                api_version: e.api_version.clone(),
                address: e.endpoint.url.clone(),
            }
        })
        .collect()
}

/// Sends every batch at once; returns each probe's output by id.
async fn run_batches(
    engines: &Engines,
    live: &LiveLab,
    batches: BTreeMap<Source, ProbeBatch>,
    progress: &Progress,
) -> Vec<(usize, ProbeOutput)> {
    let gate = Arc::new(Semaphore::new(ATTACHES_IN_FLIGHT));
    let runs = batches.into_iter().map(|(source, batch)| {
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
    });
    futures::future::join_all(runs)
        .await
        .into_iter()
        .flatten()
        .collect()
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
