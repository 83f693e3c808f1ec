//! `netlab fuzz`: generated labs held against the engine. For each seed a
//! random lab is generated (`generate`), its checks written from the model
//! (`crate::model`), and it is run as `netlab run` runs a lab. Every FAIL
//! is a disagreement between the model and the engine; it is reported with
//! its seed and the smallest lab that still shows it (`shrink`, greedy and
//! bounded by a number of runs). An ERROR is an engine or agent failure,
//! reported as such: it says nothing about the model.

pub mod generate;
mod matrix;
mod probes;
pub mod shrink;
mod sides;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Cancel, CommandResult, Failure, load_named, teardown, up, verify};
use crate::cli::{FuzzArgs, UpArgs};
use crate::exit;
use crate::lab::{IpFamily, Source, Transport};
use crate::report::{Status, VerifyReport};
use generate::{Probe, Spec};

/// A check whose outcome the model did not predict.
#[derive(Debug, Clone)]
struct Disagreement {
    probe: Probe,
    expected: String,
    observed: String,
}

/// What one run of a generated lab showed.
#[derive(Debug, Default)]
struct Outcome {
    disagreements: Vec<Disagreement>,
    errors: Vec<String>,
    checks: usize,
}

pub async fn fuzz(args: &FuzzArgs, context: Option<&str>, cancel: &Cancel) -> CommandResult {
    crate::report::progress::hush();
    let dir = match &args.out {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("netlab-fuzz-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Usage(format!("cannot make {}: {e}", dir.display())))?;
    let mut runs: Vec<Duration> = Vec::new();
    let (mut disagreeing, mut erring) = (0usize, 0usize);
    for seed in args.seed..args.seed.saturating_add(args.count) {
        if cancel.is_cancelled() {
            break;
        }
        let mut spec = generate::generate_with(seed, args.overlays);
        spec.mutant = args.mutant;
        if args.write_only {
            let path = write_lab(&spec, &dir)?;
            println!("seed {seed}: {}", path.display());
            continue;
        }
        let started = Instant::now();
        let outcome = run_spec(&spec, &dir, context, cancel).await?;
        runs.push(started.elapsed());
        println!(
            "seed {seed}: {} checks, {} disagreement(s), {} error(s) ({:.1}s)",
            outcome.checks,
            outcome.disagreements.len(),
            outcome.errors.len(),
            started.elapsed().as_secs_f64()
        );
        for e in &outcome.errors {
            println!("  ERROR {e}");
        }
        if !outcome.errors.is_empty() {
            erring += 1;
        }
        if outcome.disagreements.is_empty() {
            continue;
        }
        disagreeing += 1;
        for d in &outcome.disagreements {
            println!(
                "  DISAGREE {}: the model says {}, the engine showed {}",
                generate::title(&d.probe),
                d.expected,
                d.observed
            );
        }
        // The first disagreement is shrunk: the others of the seed are
        // often the same mechanism seen from another node.
        if let Some(first) = outcome.disagreements.first() {
            // Shrinking a disagreement that does not come back shrinks
            // nothing: the lab, run again, must show it first.
            let again = run_spec(&spec, &dir, context, cancel).await?;
            if !again.disagreements.iter().any(|d| d.probe == first.probe) {
                println!(
                    "  `{}` did not disagree again on a second run: flaky, not shrunk (the lab is {})",
                    generate::title(&first.probe),
                    dir.join(format!("{}.yaml", spec.lab_name())).display()
                );
                if !args.keep_going {
                    break;
                }
                continue;
            }
            let small =
                shrink_to(&spec, &first.probe, args.shrink_runs, &dir, context, cancel).await?;
            println!(
                "  smallest lab that still shows `{}`:",
                generate::title(&first.probe)
            );
            match generate::render(&small) {
                Ok(text) => {
                    let path = dir.join(format!("{}-shrunk.yaml", spec.lab_name()));
                    let _ = std::fs::write(&path, &text);
                    for line in text.lines() {
                        println!("    {line}");
                    }
                    println!("  (written to {})", path.display());
                }
                Err(e) => println!("    (cannot render: {e})"),
            }
        }
        if !args.keep_going {
            break;
        }
    }
    if args.write_only {
        return Ok(exit::SUCCESS);
    }
    let total: Duration = runs.iter().sum();
    let per = if runs.is_empty() {
        0.0
    } else {
        total.as_secs_f64() / runs.len() as f64
    };
    println!(
        "{} lab(s), {disagreeing} with disagreements, {erring} with errors; {per:.1}s per generated lab (labs in {})",
        runs.len(),
        dir.display()
    );
    if cancel.is_cancelled() {
        return Err(Failure::Interrupted(" during fuzz".into()));
    }
    Ok(if disagreeing > 0 {
        exit::CHECK_FAILED
    } else if erring > 0 {
        exit::ENGINE_FAILURE
    } else {
        exit::SUCCESS
    })
}

/// Greedy: take the first smaller spec that still shows the disagreement,
/// start over from it; stop when none does or the runs are spent.
async fn shrink_to(
    spec: &Spec,
    probe: &Probe,
    budget: u32,
    dir: &Path,
    context: Option<&str>,
    cancel: &Cancel,
) -> Result<Spec, Failure> {
    let mut best = spec.clone();
    best.only = Some(probe.clone());
    let mut runs = 0u32;
    'outer: loop {
        for candidate in shrink::candidates(&best) {
            if runs >= budget || cancel.is_cancelled() {
                break 'outer;
            }
            if generate::render(&candidate).is_err() {
                continue;
            }
            runs += 1;
            let outcome = match run_spec(&candidate, dir, context, cancel).await {
                Ok(outcome) => outcome,
                // A smaller lab validation refuses (a check left on no path,
                // a family its networks lost) is no candidate; it used to
                // end the whole run with exit 2.
                Err(Failure::Lab(_)) => continue,
                Err(e) => return Err(e),
            };
            if outcome.disagreements.iter().any(|d| &d.probe == probe) {
                best = candidate;
                continue 'outer;
            }
        }
        break;
    }
    eprintln!("netlab fuzz: shrunk in {runs} run(s)");
    Ok(best)
}

/// Writes the spec's lab, runs it as `netlab run` does, and sorts every
/// check that did not pass into disagreements and errors. An engine that
/// fails to make the lab is an error of the run, not of the model.
async fn run_spec(
    spec: &Spec,
    dir: &Path,
    context: Option<&str>,
    cancel: &Cancel,
) -> Result<Outcome, Failure> {
    let path = write_lab(spec, dir)?;
    let arg = path.display().to_string();
    let lab = load_named(&arg, None, false)?;
    cancel.working_on(&lab.name);
    let up_args = UpArgs {
        lab: arg,
        engine: Default::default(),
        wait: Duration::from_secs(60),
        name: None,
        hosts: Vec::new(),
        allow_external: false,
        summary_to_stderr: true,
        fresh_only: true,
        break_lock: false,
    };
    let engines = up::connect(&lab, &up_args, context, "fuzz").await?;
    // What an interrupted earlier run left under this name.
    let _ = teardown::remove_lab(&engines, &lab.name, teardown::How::default()).await;
    let live = match up::up(&engines, &lab, &up_args, cancel).await {
        Ok(live) => live,
        Err(e) => {
            return Ok(Outcome {
                errors: vec![format!("up: {e}")],
                ..Outcome::default()
            });
        }
    };
    let options = verify::StepOptions {
        run: true,
        restore_on_cancel: false,
    };
    let verified = verify::verify(&engines, &live, options, cancel).await;
    teardown::remove_lab(&engines, &lab.name, teardown::How::default())
        .await
        .and_then(|r| r.into_result(&lab.name, &engines.home))?;
    let report = verified?;
    Ok(sort(spec, &report))
}

/// The spec's lab file in `dir` (a shrinking run's beside the generated
/// lab, not over it).
fn write_lab(spec: &Spec, dir: &std::path::Path) -> Result<PathBuf, Failure> {
    let text = generate::render(spec).map_err(|e| {
        Failure::Usage(format!(
            "seed {}: the generated lab is invalid: {e}",
            spec.seed
        ))
    })?;
    let file = match spec.only {
        Some(_) => format!("{}-try.yaml", spec.lab_name()),
        None => format!("{}.yaml", spec.lab_name()),
    };
    let path: PathBuf = dir.join(file);
    std::fs::write(&path, &text)
        .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

fn source_of(word: &str) -> Source {
    match word {
        "host" => Source::Host(None),
        n => Source::Node(n.to_owned()),
    }
}

/// Every FAIL as a disagreement (matrix: every differing cell), every
/// ERROR as an error.
fn sort(spec: &Spec, report: &VerifyReport) -> Outcome {
    let lab = generate::render(spec)
        .ok()
        .and_then(|t| generate::load(&t).ok());
    let mut out = Outcome::default();
    for check in report.all_checks() {
        if check.status != Status::Skipped {
            out.checks += check.matrix.as_ref().map_or(1, |m| m.cells.len());
        }
        match (check.status, &check.matrix) {
            (Status::Pass | Status::Skipped, _) => {}
            (Status::Fail, Some(m)) => {
                for cell in m.cells.iter().filter(|c| !c.passed) {
                    let family = cell.family.unwrap_or(IpFamily::V4);
                    let probe = Probe::Cell {
                        from: source_of(&cell.from),
                        to: cell.to.clone(),
                        family,
                    };
                    if !matches!(cell.observed, '.' | 'x' | 'r') {
                        out.errors
                            .push(format!("{}: {}", generate::title(&probe), cell.reason));
                        continue;
                    }
                    let why = lab.as_ref().map(|l| {
                        // The engine that ran it meets the matrix's
                        // `requires:`; without one, all agree.
                        let side = sides::side_of(&check.title);
                        crate::model::reach_family(
                            l,
                            &source_of(&cell.from),
                            &cell.to,
                            generate::PORT,
                            Transport::Tcp,
                            family,
                            side,
                        )
                        .reason
                    });
                    out.disagreements.push(Disagreement {
                        probe,
                        expected: format!("`{}` ({})", cell.expected, why.unwrap_or_default()),
                        observed: format!("`{}` ({})", cell.observed, cell.reason),
                    });
                }
            }
            (Status::Fail, None) => match probe_of(spec, lab.as_ref(), &check.title) {
                Some(probe) => out.disagreements.push(Disagreement {
                    probe,
                    expected: check.expectation.clone(),
                    observed: check.observed.clone(),
                }),
                None => out
                    .errors
                    .push(format!("{} failed: {}", check.title, check.observed)),
            },
            (status, _) => out.errors.push(format!(
                "{} {}: {}",
                check.title,
                status.word(),
                check.observed
            )),
        }
    }
    out
}

/// The generated probe whose check carries `title`.
fn probe_of(spec: &Spec, lab: Option<&crate::lab::Lab>, title: &str) -> Option<Probe> {
    let lab = lab?;
    generate::probes_of(spec, lab).into_iter().find(|p| {
        let bare = generate::title(p);
        // A check written per engine carries `, <which>` after it.
        title == bare
            || title
                .strip_prefix(bare.as_str())
                .is_some_and(|rest| rest.starts_with(", "))
    })
}
