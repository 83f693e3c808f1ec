//! `netlab verify`: run every check of a running lab, in parallel, then
//! decide the exit code (ripgrep's shape: record, then decide at the end).
//! The steady state's checks run first (`round`), then the lab's steps
//! (`steps`): each does something to the lab (`act`) and runs its own
//! checks, and afterwards the lab is put back as its file declares it.
//! The report goes out in `emit`.

mod act;
pub mod compose;
mod compose_lab;
mod emit;
mod restore;
mod round;
mod steps;

use super::hosts::{self, Engines};
use super::{Cancel, CommandResult, Failure, select};
use crate::cli::ReportArgs;
use crate::engine::record;
use crate::engine::{Engine, discover};
use crate::exit;
use crate::lab::{self, CheckKind, Lab};
use crate::live::LiveLab;
use crate::report::{EngineInfo, VerifyReport};

pub use emit::emit;

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
    let loaded_from_file = file_lab.is_some();
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
        record.lab.steps = lab.steps;
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
    let report = verify(
        &engines,
        &live,
        StepOptions {
            run: !options.no_steps,
            restore_on_cancel: true,
        },
        cancel,
    )
    .await?;
    let mut options = options.clone();
    options.lab_file = arg.filter(|_| loaded_from_file).map(str::to_owned);
    let code = emit(&report, &options)?;
    if report.cancelled {
        return Err(Failure::Interrupted(" during verify".into()));
    }
    Ok(code)
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
            crate::report::file::check_writable(path, crate::report::file::Readers::Everyone)
                .map_err(|e| {
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
    if lab.checks.is_empty() && lab.steps.iter().all(|s| s.checks.is_empty()) {
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
    let lab = &mut live.lab;
    let step_checks = lab.steps.iter_mut().flat_map(|s| s.checks.iter_mut());
    for check in lab.checks.iter_mut().chain(step_checks) {
        // An echo check's deadline is what its series needs: never less.
        if let Some(t) = options.timeout
            && !matches!(
                check.kind,
                CheckKind::Latency { .. } | CheckKind::Loss { .. }
            )
        {
            check.timeout = t;
        }
        if (options.capture || options.pcap_on_failure.is_some())
            && matches!(
                check.kind,
                CheckKind::Tcp { .. } | CheckKind::Tls { .. } | CheckKind::Http { .. }
            )
        {
            check.capture = true;
        }
    }
}

pub fn exit_code(report: &VerifyReport) -> u8 {
    let not_restored = report.restore.as_ref().is_some_and(|r| !r.complete());
    if report.errors() > 0 || not_restored {
        exit::ENGINE_FAILURE
    } else if report.failed() > 0 {
        exit::CHECK_FAILED
    } else {
        exit::SUCCESS
    }
}

/// Whether a verify runs the lab's steps, and whether it puts the lab
/// back after Ctrl-C (a `run` tears the lab down instead).
#[derive(Debug, Clone, Copy)]
pub struct StepOptions {
    pub run: bool,
    pub restore_on_cancel: bool,
}

/// The steady state's checks, then the steps (each with its checks), then
/// the lab put back. A verify that was cut short during its steps leaves a
/// marker; the next one puts the lab back first. On Ctrl-C the report
/// keeps every check that finished; the rest are cancelled.
pub async fn verify(
    engines: &Engines,
    live: &LiveLab,
    options: StepOptions,
    cancel: &Cancel,
) -> Result<VerifyReport, Failure> {
    let started = std::time::Instant::now();
    super::outside::refuse_outside(engines, live).await?;
    let mut notes: Vec<String> = engines
        .shared_engine_warning(&live.lab.used_hosts())
        .into_iter()
        .collect();
    // A lab `--allow-external` let take public space says so in every report.
    notes.extend(lab::validate::space::public_subnet_notes(&live.lab));
    let recovered = steps::recover(engines, live).await?;
    let live = match recovered {
        Some((note, refreshed)) => {
            notes.push(note);
            refreshed
        }
        None => live.clone(),
    };
    let steady = round::run(engines, &live, &live.lab.checks, None, cancel).await;
    let mut cancelled = steady.cancelled;
    let (step_reports, restore) = if options.run && !live.lab.steps.is_empty() {
        let ran = steps::run(engines, &live, cancelled, options.restore_on_cancel, cancel).await?;
        cancelled |= ran.cancelled;
        (ran.steps, ran.restore)
    } else {
        (Vec::new(), None)
    };
    Ok(VerifyReport {
        lab: live.lab.name.clone(),
        engines: engine_infos(&live.lab, engines),
        notes,
        findings: live.lab.findings.clone(),
        checks: steady.checks,
        steps: step_reports,
        restore,
        cancelled,
        elapsed: started.elapsed(),
        topology: Some(crate::report::topology::of(&live)),
    })
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
