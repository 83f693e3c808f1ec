//! `findings:` of a lab: what `netlab import` found in the compose files
//! that their authors probably did not mean (a back end published on every
//! host address, a port nothing serves, an alias two services share), each
//! with the compose file, line and column it is about. They change nothing
//! the lab does; every report (terminal, JSON, JUnit, the page) shows them.
//!
//! ```yaml
//! findings:
//!   - at: docker-compose.yml:21:9
//!     text: "`database` is on the back-end network `back-tier` and publishes 5432/tcp on every host address"
//! ```

use serde::{Deserialize, Serialize};

use super::raw::Span;
use super::validate::Validator;

/// The longest finding a lab holds, in characters.
const MAX_TEXT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `FILE:LINE:COLUMN` of what the finding is about.
    pub at: String,
    pub text: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "finding: {}: {}", self.at, self.text)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFinding {
    pub at: Span<String>,
    pub text: Span<String>,
}

/// `FILE:LINE:COLUMN` with a file name and positive line and column.
pub fn place_is_valid(at: &str) -> bool {
    let mut parts = at.rsplitn(3, ':');
    let (Some(col), Some(line), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let positive = |n: &str| n.parse::<u32>().is_ok_and(|n| n > 0);
    !file.trim().is_empty() && positive(line) && positive(col)
}

impl Validator {
    pub(super) fn findings(&mut self, raw: &[Span<RawFinding>]) -> Vec<Finding> {
        let mut out = Vec::new();
        for f in raw {
            let mut ok = true;
            if !place_is_valid(&f.value.at.value) {
                self.error(
                    &f.value.at.referenced,
                    format!("`{}` is not a place in a file", f.value.at.value),
                    Some("FILE:LINE:COLUMN, e.g. compose.yaml:12:7".into()),
                );
                ok = false;
            }
            let text = f.value.text.value.trim();
            if text.is_empty() || text.contains('\n') || text.chars().count() > MAX_TEXT {
                self.error(
                    &f.value.text.referenced,
                    "a finding's text is one line of 1 to 1000 characters",
                    None,
                );
                ok = false;
            }
            if ok {
                out.push(Finding {
                    at: f.value.at.value.clone(),
                    text: text.to_owned(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_file_line_column() {
        assert!(place_is_valid("compose.yaml:12:7"));
        assert!(place_is_valid("dir/a:b.yml:1:1"));
        assert!(!place_is_valid("compose.yaml:12"));
        assert!(!place_is_valid("compose.yaml:0:3"));
        assert!(!place_is_valid(":1:1"));
        assert!(!place_is_valid("compose.yaml:x:1"));
    }

    #[test]
    fn findings_are_read_and_a_bad_place_is_refused_at_its_line() {
        let ok = "name: f\nnodes: {a: {network_mode: none}}\nfindings:\n  - at: c.yaml:3:5\n    text: a port nothing serves\n";
        let lab = crate::lab::load_source("f.yaml", ok.as_bytes(), None)
            .expect("valid")
            .lab;
        assert_eq!(
            lab.findings,
            vec![Finding {
                at: "c.yaml:3:5".into(),
                text: "a port nothing serves".into()
            }]
        );
        let bad =
            "name: f\nnodes: {a: {network_mode: none}}\nfindings:\n  - at: c.yaml\n    text: x\n";
        let e = crate::lab::load_source("f.yaml", bad.as_bytes(), None)
            .expect_err("invalid")
            .to_string();
        assert!(
            e.contains("`c.yaml` is not a place in a file") && e.contains("4:"),
            "{e}"
        );
    }
}
