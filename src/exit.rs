//! netlab's exit codes: the contract CI pipelines rely on (see SPEC.md).

use std::process::ExitCode;

/// Every check passed, or the command succeeded.
pub const SUCCESS: u8 = 0;
/// At least one check failed.
pub const CHECK_FAILED: u8 = 1;
/// The lab file or the command line is invalid; nothing was created.
pub const INVALID_INPUT: u8 = 2;
/// The Docker engine failed or could not be reached.
pub const ENGINE_FAILURE: u8 = 3;
/// Interrupted by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it);
/// whatever the command had created was removed first.
pub const INTERRUPTED: u8 = 130;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
