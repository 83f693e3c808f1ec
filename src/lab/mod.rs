//! The lab file: loading (a path or a built-in lab name), parsing and
//! validation. Nothing in here talks to Docker.

pub mod builtin;
pub mod diagnostic;
pub mod drivers;
pub mod expect;
pub mod finding;
pub mod measure;
pub mod model;
pub mod notation;
pub mod own_ports;
pub mod raw;
pub mod raw_step;
pub mod reach;
pub mod requires;
pub mod step;
pub mod validate;
pub mod wording;

use std::path::{Path, PathBuf};

pub use finding::Finding;
pub use model::*;
pub use step::{Action, LabState, Step};

use diagnostic::Report;

/// Gives a lab another name (`--name`): two copies of one lab can then run
/// side by side on one engine.
pub fn rename(lab: &mut Lab, name: &str) -> Result<(), String> {
    if !validate::is_valid_lab_name(name) {
        return Err(format!(
            "`{name}` is not a valid lab name\n  (hint: 1-40 of a-z, 0-9 and `-`, starting with a letter or digit)"
        ));
    }
    lab.name = name.to_owned();
    Ok(())
}

/// What differs between two labs besides their checks and description:
/// the hosts, and each network and node (new, gone, changed).
pub fn topology_differences(file: &Lab, running: &Lab) -> Vec<String> {
    fn compare<T: PartialEq>(
        kind: &str,
        file: &indexmap::IndexMap<String, T>,
        running: &indexmap::IndexMap<String, T>,
        out: &mut Vec<String>,
    ) {
        for (name, item) in file {
            match running.get(name) {
                None => out.push(format!("{kind} `{name}` is not up")),
                Some(r) if r != item => out.push(format!("{kind} `{name}` changed")),
                Some(_) => {}
            }
        }
        for name in running.keys().filter(|n| !file.contains_key(*n)) {
            out.push(format!("{kind} `{name}` is up but not in the file"));
        }
    }
    let mut out = Vec::new();
    if file.hosts != running.hosts {
        out.push(format!(
            "its hosts are {} instead of {}",
            file.hosts.join(", "),
            running.hosts.join(", ")
        ));
    }
    compare("network", &file.networks, &running.networks, &mut out);
    compare("node", &file.nodes, &running.nodes, &mut out);
    out
}

/// Lab files larger than this are refused before parsing.
const MAX_LAB_FILE_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("no lab file `{arg}` and no built-in lab of that name\n  (hint: {hint})")]
    NotFound { arg: String, hint: String },
    #[error("cannot read lab file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Parse(String),
    #[error("{0}")]
    Invalid(Report),
}

/// A validated lab with the warnings validation produced.
#[derive(Debug)]
pub struct Loaded {
    pub lab: Lab,
    pub warnings: Vec<String>,
}

/// How a lab file is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// `--allow-external`: checks may aim outside the lab (SPEC: "What a
    /// lab may touch").
    pub allow_external: bool,
}

/// `arg` is a path to a YAML file, or the name of a built-in lab.
pub fn load(arg: &str) -> Result<Loaded, LabError> {
    load_with(arg, LoadOptions::default())
}

/// As [`load`], with options.
pub fn load_with(arg: &str, options: LoadOptions) -> Result<Loaded, LabError> {
    let path = Path::new(arg);
    if path.is_file() {
        let bytes = std::fs::read(path).map_err(|source| LabError::Io {
            path: path.to_owned(),
            source,
        })?;
        let stem = path.file_stem().and_then(|s| s.to_str());
        return load_source_with(&path.display().to_string(), &bytes, stem, options);
    }
    match builtin::get(arg) {
        Some(text) => load_source_with(
            &format!("labs/{arg}.yaml"),
            text.as_bytes(),
            Some(arg),
            options,
        ),
        None if path.exists() => Err(LabError::Io {
            path: path.to_owned(),
            source: std::io::Error::other("not a regular file"),
        }),
        None => Err(LabError::NotFound {
            arg: arg.to_owned(),
            hint: not_found_hint(arg),
        }),
    }
}

/// What a lab argument that names nothing probably meant: the file with a
/// YAML extension beside it, or the nearest built-in lab, else the list.
fn not_found_hint(arg: &str) -> String {
    let beside = ["yaml", "yml"]
        .iter()
        .map(|ext| format!("{arg}.{ext}"))
        .find(|f| Path::new(f).is_file());
    if let Some(file) = beside {
        return format!("did you mean the file `{file}`?");
    }
    match validate::closest(arg, builtin::names()) {
        Some(name) => {
            format!("did you mean the built-in lab `{name}`? `netlab labs` lists them all")
        }
        None => format!("built-in labs are: {}", builtin::names().join(", ")),
    }
}

/// Parses and validates lab text; `file` names it in diagnostics.
pub fn load_source(file: &str, bytes: &[u8], stem: Option<&str>) -> Result<Loaded, LabError> {
    load_source_with(file, bytes, stem, LoadOptions::default())
}

/// As [`load_source`], with options.
pub fn load_source_with(
    file: &str,
    bytes: &[u8],
    stem: Option<&str>,
    options: LoadOptions,
) -> Result<Loaded, LabError> {
    let text = lab_text(file, bytes)?;
    let raw = parse_raw(file, text)?;
    validate_raw(file, text, raw, stem, options)
}

/// Checks the size and encoding of lab text: its text.
pub fn lab_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str, LabError> {
    if bytes.len() > MAX_LAB_FILE_BYTES {
        return Err(LabError::Parse(format!(
            "error: {file} is {} bytes; a lab file may have at most {MAX_LAB_FILE_BYTES}",
            bytes.len()
        )));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        LabError::Parse(format!(
            "error: {file} is not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// Lab text as written, not yet judged (`verify --compose` adds the
/// project's nodes before validation).
pub fn parse_raw(file: &str, text: &str) -> Result<raw::RawLab, LabError> {
    serde_saphyr::from_str_with_options(text, parse_options()).map_err(|e| {
        let rendered = e.render_with_options(serde_saphyr::render_options! {
            source_name: Some(file),
        });
        LabError::Parse(format!(
            "{}\n\n{file}: 1 error found; nothing was created",
            hint_for_parse_error(without_repeated_place(rendered), text).trim_end()
        ))
    })
}

/// Validates a lab as written; `text` is its source, for diagnostics.
pub fn validate_raw(
    file: &str,
    text: &str,
    raw: raw::RawLab,
    stem: Option<&str>,
    options: LoadOptions,
) -> Result<Loaded, LabError> {
    let validation = validate::validate(raw, stem, text, options);
    let report = Report {
        file: file.to_owned(),
        source: text.to_owned(),
        items: validation.diagnostics,
    };
    match validation.lab {
        Some(lab) => Ok(Loaded {
            warnings: report.warnings().map(|w| report.render_one(w)).collect(),
            lab,
        }),
        None => Err(LabError::Invalid(report)),
    }
}

/// Budgets keep a hostile file (deep nesting, alias bombs) from exhausting
/// memory or the stack.
/// Where each check of a lab file is: its title (as reports name it) and
/// the line and column of its kind key, the steady state's checks then
/// each step's. Empty when the text does not load.
pub fn check_places(text: &str) -> Vec<(String, diagnostic::Pos)> {
    let Ok(raw) = serde_saphyr::from_str_with_options::<raw::RawLab>(text, parse_options()) else {
        return Vec::new();
    };
    // Only the titles are wanted: a lab that needs --allow-external has them too.
    let lenient = LoadOptions {
        allow_external: true,
    };
    let Ok(loaded) = load_source_with("", text.as_bytes(), Some("lab"), lenient) else {
        return Vec::new();
    };
    let lab = loaded.lab;
    let mut places = Vec::new();
    let mut pair = |checks: &[Check], raws: &[raw::Span<raw::RawCheck>]| {
        for (check, raw) in checks.iter().zip(raws) {
            places.push((check.title.clone(), diagnostic::Pos::from(&raw.referenced)));
        }
    };
    pair(&lab.checks, &raw.checks);
    for (step, raw_step) in lab.steps.iter().zip(&raw.steps) {
        pair(&step.checks, &raw_step.value.checks);
    }
    places
}

fn parse_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_events: 200_000,
            max_aliases: 1_000,
        },
    }
}

/// serde-saphyr's first line says `error: line 6 column 5: MESSAGE`; the
/// caller adds `error: ` and the snippet below names the place, so the
/// line keeps only the message.
fn without_repeated_place(rendered: String) -> String {
    let Some((first, rest)) = rendered.split_once('\n') else {
        return rendered;
    };
    let message = first.strip_prefix("error: ").unwrap_or(first);
    let message = match message.strip_prefix("line ") {
        Some(after) => after
            .split_once(": ")
            .filter(|(place, _)| place.contains(" column "))
            .map(|(_, m)| m)
            .unwrap_or(message),
        None => message,
    };
    // The caret repeats the message; its list of what was expected is
    // said once, above.
    let rest: Vec<&str> = rest
        .lines()
        .map(|l| {
            let caret = l.trim_start().starts_with('|') && l.contains("^ ");
            match l.find(", expected ") {
                Some(cut) if caret => &l[..cut],
                _ => l,
            }
        })
        .collect();
    format!("{message}\n{}", rest.join("\n"))
}

/// The line and column serde-saphyr's snippet points at (` --> file:6:12`).
fn snippet_place(rendered: &str) -> Option<(usize, usize)> {
    let arrow = rendered
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))?;
    let mut parts = arrow.rsplitn(3, ':');
    let column = parts.next()?.trim().parse().ok()?;
    let line = parts.next()?.trim().parse().ok()?;
    Some((line, column))
}

/// The last `{` or `[` opened before (`line`, `column`) and not closed
/// there, with its line and column (1-based); quoted text and comments
/// are skipped.
fn unclosed_bracket(text: &str, line: usize, column: usize) -> Option<(char, usize, usize)> {
    let mut open: Vec<(char, usize, usize)> = Vec::new();
    for (i, l) in text.lines().enumerate().take(line) {
        let mut quote: Option<char> = None;
        for (j, c) in l.chars().enumerate() {
            if i + 1 == line && j + 1 >= column {
                break;
            }
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if j == 0 || l.chars().nth(j - 1) == Some(' ') => break,
                (None, '{' | '[') => open.push((c, i + 1, j + 1)),
                (None, '}' | ']') => {
                    open.pop();
                }
                _ => {}
            }
        }
    }
    open.pop()
}

/// serde-saphyr lists the expected fields; add a "did you mean" for the
/// common case of a typo in a field name, and for a scalar where a list
/// belongs, the list to write.
fn hint_for_parse_error(rendered: String, text: &str) -> String {
    // The YAML scanner's words for text it cannot read; with a `{` or `[`
    // still open from an earlier line, that is most likely the cause.
    let unreadable = [
        "while parsing",
        "only valid inside a block",
        "illegal placement",
        "did not find expected",
        "not allowed in this context",
    ]
    .iter()
    .any(|m| rendered.contains(m));
    if unreadable
        && let Some((line, column)) = snippet_place(&rendered)
        && let Some((open, at_line, at_column)) = unclosed_bracket(text, line, column)
        && at_line < line
    {
        let close = if open == '{' { '}' } else { ']' };
        return format!(
            "{}\n  = help: the `{open}` at line {at_line} column {at_column} is not closed: end it with `{close}` on line {at_line}",
            rendered.trim_end()
        );
    }
    if rendered.contains("expected sequence start")
        && let Some((line, _)) = snippet_place(&rendered)
        && let Some((key, value)) = text
            .lines()
            .nth(line.saturating_sub(1))
            .and_then(|l| l.split_once(':'))
    {
        let (key, value) = (key.trim().trim_start_matches("- "), value.trim());
        if !key.is_empty() && !value.is_empty() {
            return format!(
                "{}\n  = help: `{key}` takes a list: write `{key}: [{value}]`",
                rendered.trim_end()
            );
        }
    }
    let Some(start) = rendered.find("unknown field `") else {
        return rendered;
    };
    let rest = &rendered[start + "unknown field `".len()..];
    let Some(end) = rest.find('`') else {
        return rendered;
    };
    let field = &rest[..end];
    let Some(expected) = rest[end..]
        .split_once("expected one of ")
        .map(|(_, e)| e.lines().next().unwrap_or_default())
    else {
        return rendered;
    };
    let candidates: Vec<&str> = expected
        .split(',')
        .map(|c| c.trim().trim_matches('`'))
        .collect();
    match candidates
        .iter()
        .map(|c| (strsim::levenshtein(field, c), *c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
    {
        Some((_, c)) => format!("{}\n  = help: did you mean `{c}`?", rendered.trim_end()),
        None => rendered,
    }
}

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_drivers;
#[cfg(test)]
mod tests_host_entries;
#[cfg(test)]
mod tests_ipv6;
#[cfg(test)]
mod tests_links;
#[cfg(test)]
mod tests_loopback;
#[cfg(test)]
mod tests_names;
#[cfg(test)]
mod tests_space;
#[cfg(test)]
mod tests_steps;
