//! Validation of a check's `requires:` (see `lab::requires`).

use super::Validator;
use super::checks::CheckCx;
use crate::lab::requires::{Requires, VersionReq};

impl Validator {
    /// The check's `requires:`, or `Err` after reporting what is wrong.
    pub(super) fn requires_of(&mut self, cx: &CheckCx) -> Result<Requires, ()> {
        let Some(raw) = &cx.body.requires else {
            return Ok(Requires::default());
        };
        let mut ok = true;
        let engine = raw.value.engine.as_ref().and_then(|e| {
            e.value
                .parse::<VersionReq>()
                .map_err(|why| {
                    self.error(
                        &e.referenced,
                        why,
                        Some("e.g. engine: \">=27\" (Docker 27 or newer) or \"<27\"".into()),
                    );
                    ok = false;
                })
                .ok()
        });
        let requires = Requires {
            engine,
            ip6tables: raw.value.ip6tables.as_ref().map(|b| b.value),
        };
        if ok && requires.is_empty() {
            self.error(
                &raw.referenced,
                "an empty `requires` requires nothing",
                Some("engine: \">=27\" or ip6tables: true (or false), or remove it".into()),
            );
            ok = false;
        }
        if ok { Ok(requires) } else { Err(()) }
    }
}
