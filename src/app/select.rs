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
            [] => Err(Failure::Usage(
                "no lab is up\n  (hint: `netlab up <lab>` first, or `netlab run <lab>` for up, verify and down in one go; `netlab labs` lists the built-in labs)".into(),
            )),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_nothing_up_the_error_says_how_to_bring_a_lab_up() {
        let none = BTreeMap::new();
        let Err(Failure::Usage(message)) = name_among(&none, None) else {
            panic!("nothing is up: an error");
        };
        assert!(message.starts_with("no lab is up\n"), "{message}");
        assert!(message.contains("`netlab up <lab>` first"), "{message}");
        assert!(message.contains("`netlab labs`"), "{message}");
    }

    #[test]
    fn the_one_lab_up_is_meant_and_several_must_be_named() {
        let mut up = BTreeMap::new();
        up.insert("a".to_owned(), discover::LabObjects::default());
        assert_eq!(name_among(&up, None).ok().as_deref(), Some("a"));
        up.insert("b".to_owned(), discover::LabObjects::default());
        let Err(Failure::Usage(message)) = name_among(&up, None) else {
            panic!("two are up: an error");
        };
        assert_eq!(message, "several labs are up (a, b); name one");
    }
}
