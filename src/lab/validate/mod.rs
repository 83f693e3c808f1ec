//! Validation: a `RawLab` as written becomes a `Lab`, or a list of every
//! problem found, each pointing at its line and column.
//!
//! Validation never stops at the first problem: a user fixing a lab file
//! should see all of them at once (the shape of ripgrep's config parsing).

mod check_kinds;
mod checks;
mod dns_check;
pub mod host_entries;
mod hosts;
mod ipv6;
mod links;
mod loopback;
mod matrix;
mod measure;
mod network_options;
mod networks;
mod nodes;
mod requires;
pub mod space;
mod steps;

use serde_saphyr::Location;

use super::diagnostic::{Diagnostic, Pos, Severity};
use super::model::*;
use super::raw::*;

pub struct Validation {
    pub lab: Option<Lab>,
    pub diagnostics: Vec<Diagnostic>,
}

/// `file_stem` names the lab when the file has no `name:`; `source` is the
/// file's text, for locations inside multi-line values (a matrix's table).
pub fn validate(
    raw: RawLab,
    file_stem: Option<&str>,
    source: &str,
    options: super::LoadOptions,
) -> Validation {
    let mut v = Validator {
        source: source.to_owned(),
        allow_external: options.allow_external,
        ..Validator::default()
    };
    let lab = v.lab(raw, file_stem);
    let has_errors = v.diags.iter().any(|d| d.severity == Severity::Error);
    Validation {
        lab: if has_errors { None } else { lab },
        diagnostics: v.diags,
    }
}

#[derive(Default)]
pub(super) struct Validator {
    diags: Vec<Diagnostic>,
    source: String,
    /// Checks may aim outside the lab (`--allow-external`).
    allow_external: bool,
    /// Nodes whose networks already have an error (an undefined network):
    /// the rules about paths to and from them would only repeat it.
    unsettled: std::collections::HashSet<String>,
}

fn pos(loc: &Location) -> Option<Pos> {
    // serde-saphyr reports line 0 when it has no location (e.g. defaults).
    (loc.line() > 0).then(|| Pos::from(loc))
}

/// `[a-z0-9][a-z0-9-]{0,max-1}`; DNS labels additionally may not end in `-`.
pub(super) fn is_valid_name(name: &str, max: usize, dns_label: bool) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !(dns_label && name.ends_with('-'))
}

/// An alias as compose writes them (`db_primary`, `API.internal`): what
/// Docker's DNS answers to, not only a DNS label.
pub fn is_valid_alias(name: &str) -> bool {
    is_docker_name(name, 63) && !name.ends_with(['-', '.'])
}

/// A node name as compose writes a service's (`pay_gw`, `API.v2`): an alias
/// on each of its networks, and the tail of its container's name. No `..`
/// (an empty DNS label), which netlab's helpers use as their separator.
pub fn is_valid_node_name(name: &str) -> bool {
    is_valid_alias(name) && !name.contains("..")
}

/// A network name as compose writes one (`back_end`, `Front.v2`,
/// `default`): the tail of the engine's name for it.
pub fn is_valid_network_name(name: &str) -> bool {
    is_docker_name(name, 63) && !name.contains("..")
}

/// What Docker takes as a container or network name:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, here at most `max` long.
fn is_docker_name(name: &str, max: usize) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A node named where a Docker host may also be meant: `service:NAME`
/// (compose's own way to name a service, as in `network_mode: service:X`)
/// is always the node, so a node called `host` can be named.
pub fn node_word(word: &str) -> &str {
    word.strip_prefix(SERVICE_PREFIX).unwrap_or(word)
}

/// See `node_word`.
pub const SERVICE_PREFIX: &str = "service:";

pub fn is_valid_lab_name(name: &str) -> bool {
    is_valid_name(name, 40, false)
}

pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

impl Validator {
    pub(super) fn error(
        &mut self,
        loc: &Location,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            pos: pos(loc),
            hint,
        });
    }

    /// An error at a position found by hand (inside a multi-line value).
    pub(super) fn error_at(
        &mut self,
        at: Option<Pos>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            pos: at,
            hint,
        });
    }

    pub(super) fn warning(
        &mut self,
        loc: &Location,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            pos: pos(loc),
            hint,
        });
    }

    fn lab(&mut self, raw: RawLab, file_stem: Option<&str>) -> Option<Lab> {
        if let Some(version) = &raw.version
            && version.value != 1
        {
            self.error(
                &version.referenced,
                format!("unsupported lab file version {}", version.value),
                Some("this netlab reads version 1".into()),
            );
        }
        let name = match &raw.name {
            Some(n) => {
                if !is_valid_name(&n.value, 40, false) {
                    self.error(
                        &n.referenced,
                        format!("invalid lab name `{}`", n.value),
                        Some("a lab name is 1-40 of a-z, 0-9 and `-`, starting with a letter or digit".into()),
                    );
                }
                n.value.clone()
            }
            None => {
                let stem = file_stem.unwrap_or_default().to_owned();
                if !is_valid_name(&stem, 40, false) {
                    self.diags.push(Diagnostic {
                        severity: Severity::Error,
                        message: format!(
                            "the lab has no `name:` and its file name `{stem}` is not a valid lab name"
                        ),
                        pos: None,
                        hint: Some("add `name: my-lab` (1-40 of a-z, 0-9 and `-`)".into()),
                    });
                }
                stem
            }
        };

        let hosts = self.hosts(raw.hosts.as_ref());
        let networks = self.networks(&raw.networks);
        let nodes = self.nodes(&raw.nodes, &networks, &hosts);
        self.bridges_stay_on_one_host(&raw.networks, &networks, &nodes);
        let checks = self.checks(&raw.checks, &nodes, &networks, &hosts);
        let steps = self.steps(&raw.steps, &nodes, &networks, &hosts);
        let findings = self.findings(&raw.findings);
        Some(Lab {
            name,
            description: raw
                .description
                .map(|d| d.trim().to_owned())
                .unwrap_or_default(),
            hosts: hosts.names,
            networks,
            nodes,
            checks,
            steps,
            findings,
        })
    }
}
