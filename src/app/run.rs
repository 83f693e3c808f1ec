//! `netlab run`: up, verify, down in one go, the CI form. The lab is always
//! torn down (unless `--keep`): after a failed check, an engine error, or an
//! interrupt. A lab that is already up is refused, not changed: `run` must
//! not tear down a lab somebody else brought up.

use super::{Cancel, CommandResult, Failure, load_named, teardown, up, verify};
use crate::cli::RunArgs;

pub async fn run(args: &RunArgs, context: Option<&str>, cancel: &Cancel) -> CommandResult {
    verify::refuse_unwritable_files(&args.report)?;
    let mut report_args = args.report.clone();
    report_args.lab_file = Some(args.up.lab.clone());
    let args = &RunArgs {
        up: args.up.clone(),
        keep: args.keep,
        report: report_args,
    };
    let lab = load_named(
        &args.up.lab,
        args.up.name.as_deref(),
        args.up.allow_external,
    )?;
    cancel.working_on(&lab.name);
    verify::refuse_no_checks(&lab)?;
    let engines = up::connect(&lab, &args.up, context, "run").await?;
    let mut up_args = args.up.clone();
    up_args.summary_to_stderr = true;
    up_args.fresh_only = true;
    // `up` removes what it created when it fails.
    let mut live = up::up(&engines, &lab, &up_args, cancel).await?;
    verify::override_checks(&mut live, &args.report);
    live.allow_external = args.up.allow_external;
    let options = verify::StepOptions {
        run: !args.report.no_steps,
        // Torn down right after, unless kept: no need to put it back first.
        restore_on_cancel: args.keep,
    };
    let verified = verify::verify(&engines, &live, options, cancel).await;
    if !args.keep || cancel.is_cancelled() {
        let teardown = teardown::remove_lab(&engines, &lab.name, teardown::How::default())
            .await
            .and_then(|r| r.into_result(&lab.name, &engines.home));
        if let Err(e) = teardown {
            // A failed teardown outranks the checks: the user must know.
            if let Ok(report) = &verified {
                let _ = verify::emit(report, &args.report);
            }
            return Err(Failure::from(e));
        }
    } else {
        crate::text::say!(
            "netlab: lab `{}` left up (--keep); `netlab down {}` removes it",
            lab.name,
            lab.name
        );
    }
    let report = verified?;
    let code = verify::emit(&report, &args.report)?;
    if report.cancelled {
        return Err(Failure::Interrupted(" during run".into()));
    }
    Ok(code)
}
