//! Which lab a command means: the one named (a lab that is up, a built-in
//! lab or a lab file), or the only lab that is up. `verify` and `down` use it.

use std::collections::BTreeMap;

use super::Failure;
use crate::engine::discover;
use crate::lab;

/// Which lab a command means, among the labs that are up: the one named
/// (a lab name, a built-in or a file), or the only lab that is up.
pub fn name_among(
    up: &BTreeMap<String, discover::LabObjects>,
    arg: Option<&str>,
) -> Result<String, Failure> {
    match arg {
        Some(arg) if up.contains_key(arg) => Ok(arg.to_owned()),
        Some(arg) => Ok(lab::load(arg)
            .map(|l| l.lab.name)
            .unwrap_or_else(|_| arg.to_owned())),
        None => match up.keys().collect::<Vec<_>>().as_slice() {
            [] => Err(Failure::Usage("no lab is up".into())),
            [one] => Ok((*one).clone()),
            several => Err(Failure::Usage(format!(
                "several labs are up ({}); name one",
                several
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
    }
}
