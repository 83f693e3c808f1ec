//! The JSON report as the page reads it: `--output json` parsed back. Every
//! field a later netlab added is optional, so an older report still makes
//! a page (without its picture, say); unknown fields are ignored.

use serde::Deserialize;

use crate::capture::Timeline;
use crate::check::route::Endpoint;
use crate::report::topology::Topology;

#[derive(Debug, Clone, Deserialize)]
pub struct Document {
    pub lab: String,
    #[serde(default)]
    pub engines: Vec<Engine>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// The lab's findings (a later netlab's field: none in older reports).
    #[serde(default)]
    pub findings: Vec<crate::lab::Finding>,
    #[serde(default)]
    pub passed: usize,
    #[serde(default)]
    pub failed: usize,
    #[serde(default)]
    pub errors: usize,
    #[serde(default)]
    pub duration_ms: f64,
    pub checks: Vec<Check>,
    #[serde(default)]
    pub topology: Option<Topology>,
    /// The steps after the steady state (`steps:` in the lab file), each
    /// with its own checks; none in a report without steps.
    #[serde(default, deserialize_with = "lenient_steps")]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Engine {
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub address: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Check {
    pub title: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub expectation: String,
    #[serde(default)]
    pub observation: String,
    /// `pass`, `fail` or `error` (a newer netlab may add `skipped`).
    pub outcome: String,
    #[serde(default)]
    pub duration_ms: f64,
    #[serde(default)]
    pub cells: Option<Vec<Cell>>,
    #[serde(default)]
    pub table: Option<Table>,
    #[serde(default)]
    pub capture: Option<Capture>,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub endpoints: Option<Endpoints>,
    #[serde(default)]
    pub touches: Option<Touches>,
    /// In a step: how long a check with `retry:` took to pass.
    #[serde(default)]
    pub recovered_ms: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Table {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub port: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Endpoints {
    pub from: Endpoint,
    #[serde(default)]
    pub to: Option<Endpoint>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Touches {
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default)]
    pub networks: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Capture {
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub timeline: Option<Timeline>,
    #[serde(default)]
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Cell {
    pub from: String,
    pub to: String,
    pub expected: String,
    pub observed: String,
    pub outcome: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub why: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub network: Option<String>,
}

/// One step of a lab that changes (issue "steps"): what was done, then its
/// checks. The shape is provisional until steps land in the JSON report,
/// so it is read leniently: what does not fit is left out, and never makes
/// the whole report unreadable.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub title: String,
    /// Each action in words (`disconnect db from back`), or as the JSON
    /// gave it.
    pub actions: Vec<String>,
    pub checks: Vec<Check>,
    pub duration_ms: f64,
}

/// An action of netlab's JSON (`{"text": "disconnect db from back",
/// "outcome": "done", "observation": …}`) in words, with how it went when
/// it did not go well; anything else as the JSON gave it.
fn action_words(v: &serde_json::Value) -> String {
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    match (field("text"), field("outcome")) {
        (Some(text), Some("done") | None) => match field("observation") {
            Some(o) if !o.is_empty() => format!("{text}: {o}"),
            _ => text.to_owned(),
        },
        (Some(text), Some(outcome)) => match field("observation") {
            Some(o) if !o.is_empty() => format!("{text} ({outcome}: {o})"),
            _ => format!("{text} ({outcome})"),
        },
        _ => match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        },
    }
}

fn lenient_steps<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Step>, D::Error> {
    use serde_json::Value;
    let steps = match Value::deserialize(d)? {
        Value::Array(list) => list,
        _ => return Ok(Vec::new()),
    };
    Ok(steps
        .into_iter()
        .map(|step| {
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Step {
                title: step.get("title").map(text).unwrap_or_default(),
                actions: step
                    .get("actions")
                    .or_else(|| step.get("do"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(action_words).collect())
                    .unwrap_or_default(),
                checks: step
                    .get("checks")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| serde_json::from_value(c.clone()).ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                duration_ms: step
                    .get("duration_ms")
                    .and_then(Value::as_f64)
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// What became of a check (or a cell), as the page colours it, ordered by
/// how much it matters: a failure outranks an error, which outranks a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Pass,
    /// Not run (a newer report's `skipped`): neither good nor bad.
    Skipped,
    Error,
    Fail,
}

impl Verdict {
    pub fn of(outcome: &str) -> Verdict {
        match outcome {
            "pass" => Verdict::Pass,
            "fail" => Verdict::Fail,
            "skipped" | "skip" | "cancelled" => Verdict::Skipped,
            _ => Verdict::Error,
        }
    }

    /// The CSS class and the word shown.
    pub fn class(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Skipped => "skip",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Skipped => "SKIP",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }
}

impl Check {
    pub fn verdict(&self) -> Verdict {
        Verdict::of(&self.outcome)
    }
}

impl Document {
    /// Every check of the report: the steady state's, then each step's.
    pub fn all_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .chain(self.steps.iter().flat_map(|s| s.checks.iter()))
    }
}
