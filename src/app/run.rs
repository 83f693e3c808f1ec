//! `netlab run`: up, verify, down in one go, the CI form. The lab is always
//! torn down (unless `--keep`): after a failed check, an engine error, or an
//! interrupt.

use super::{Cancel, CommandResult, Failure, down, load, up, verify};
use crate::cli::RunArgs;
use crate::engine::Engine;

pub async fn run(args: &RunArgs, cancel: &Cancel) -> CommandResult {
    let loaded = load(&args.up.lab)?;
    let lab = &loaded.lab;
    let engine = Engine::connect().await?;
    let mut up_args = args.up.clone();
    up_args.summary_to_stderr = true;
    // `up` removes what it created when it fails.
    let mut live = up::up(&engine, lab, &up_args, cancel).await?;
    verify::override_timeouts(&mut live, &args.report);
    let verified = verify::verify(&engine, &live, cancel).await;
    if !args.keep || cancel.is_cancelled() {
        let teardown = down::remove_lab(&engine, &lab.name).await;
        if let Err(e) = teardown {
            // A failed teardown outranks the checks: the user must know.
            if let Ok(report) = &verified {
                let _ = verify::emit(report, &args.report);
            }
            return Err(Failure::from(e));
        }
    } else {
        eprintln!(
            "netlab: lab `{}` left up (--keep); `netlab down {}` removes it",
            lab.name, lab.name
        );
    }
    verify::emit(&verified?, &args.report)
}
