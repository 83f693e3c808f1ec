//! A lab's steps in the report: each step a titled group — what it did
//! (its actions, each with how it went and how long it took) and its
//! checks — then how the lab was put back.

use std::fmt::Write as _;
use std::time::Duration;

use super::{CheckReport, format_elapsed, safe};

/// How an action went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStatus {
    Done,
    /// The engine refused it or it did not finish in time.
    Error,
    /// An earlier action failed, or Ctrl-C came first.
    NotRun,
    /// Ctrl-C came while it ran.
    Cancelled,
}

impl ActionStatus {
    pub fn word(self) -> &'static str {
        match self {
            ActionStatus::Done => "done",
            ActionStatus::Error => "error",
            ActionStatus::NotRun => "not run",
            ActionStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionReport {
    /// `disconnect db from back`
    pub text: String,
    /// `disconnect`
    pub verb: &'static str,
    pub node: Option<String>,
    pub network: Option<String>,
    pub status: ActionStatus,
    /// What was seen (`172.20.0.3 → 172.20.0.5 on back`), or why it failed.
    pub observed: String,
    /// The whole action, waits for readiness included.
    pub elapsed: Duration,
    /// The engine's part (the call itself), when it differs.
    pub engine_elapsed: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    pub title: String,
    pub actions: Vec<ActionReport>,
    pub checks: Vec<CheckReport>,
    pub elapsed: Duration,
}

/// How the lab was put back as its file declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoreReport {
    pub actions: Vec<ActionReport>,
    /// What is still not as declared afterwards (empty: all of it is).
    pub left: Vec<String>,
    pub elapsed: Duration,
}

impl RestoreReport {
    pub fn complete(&self) -> bool {
        self.left.is_empty() && self.actions.iter().all(|a| a.status == ActionStatus::Done)
    }
}

/// `step 2/4: db comes back` and one line per action.
pub fn step_lines(out: &mut String, number: usize, step: &StepReport) {
    let _ = writeln!(out, "step {number}: {}", safe(&step.title));
    for a in &step.actions {
        action_line(out, a);
    }
}

fn action_line(out: &mut String, a: &ActionReport) {
    if a.status == ActionStatus::NotRun {
        let _ = writeln!(out, "  do  {} — not run", safe(&a.text));
        return;
    }
    let status = match a.status {
        ActionStatus::Done => String::new(),
        other => format!("{}: ", other.word().to_uppercase()),
    };
    let observed = if a.observed.is_empty() {
        String::new()
    } else {
        format!(" — {status}{}", safe(&a.observed))
    };
    let _ = writeln!(
        out,
        "  do  {}{observed}  ({})",
        safe(&a.text),
        format_elapsed(a.elapsed)
    );
}

/// `restored in 0.41 s: unpause web; connect db to back — as declared`
pub fn restore_lines(out: &mut String, r: &RestoreReport) {
    let what = if r.actions.is_empty() {
        "nothing to undo".to_owned()
    } else {
        r.actions
            .iter()
            .map(|a| match a.status {
                ActionStatus::Done => safe(&a.text).into_owned(),
                other => format!(
                    "{} ({}: {})",
                    safe(&a.text),
                    other.word(),
                    safe(&a.observed)
                ),
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let verdict = if r.complete() {
        "the lab is as its file declares".to_owned()
    } else {
        format!("NOT as declared: {}", safe(&r.left.join("; ")))
    };
    let _ = writeln!(
        out,
        "restored in {}: {what} — {verdict}",
        format_elapsed(r.elapsed)
    );
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, report};
    use super::*;

    fn action(text: &str, status: ActionStatus, observed: &str) -> ActionReport {
        ActionReport {
            text: text.into(),
            verb: "disconnect",
            node: Some("db".into()),
            network: Some("back".into()),
            status,
            observed: observed.into(),
            elapsed: Duration::from_millis(40),
            engine_elapsed: None,
        }
    }

    #[test]
    fn each_step_is_a_titled_group_and_the_closing_line_counts_every_check() {
        let mut r = report(vec![check("steady", true)]);
        r.steps = vec![
            StepReport {
                title: "db leaves back".into(),
                actions: vec![action("disconnect db from back", ActionStatus::Done, "")],
                checks: vec![check("gone", true), check("wrong", false)],
                elapsed: Duration::from_millis(300),
            },
            StepReport {
                title: "db comes back".into(),
                actions: vec![action(
                    "connect db to back",
                    ActionStatus::Error,
                    "cannot connect",
                )],
                checks: Vec::new(),
                elapsed: Duration::from_millis(30),
            },
        ];
        r.steps[0].checks[0].recovered = Some(Duration::from_millis(1200));
        r.restore = Some(RestoreReport {
            actions: vec![action("connect db to back", ActionStatus::Done, "")],
            left: Vec::new(),
            elapsed: Duration::from_millis(410),
        });
        let text = r.human();
        assert_eq!(
            text,
            "lab x on Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock\n\
PASS  steady  open     3 ms\n\
step 1: db leaves back\n\
\x20 do  disconnect db from back  (40 ms)\n\
PASS  gone    open     3 ms\n\
FAIL  wrong   open     3 ms\n\
step 2: db comes back\n\
\x20 do  connect db to back — ERROR: cannot connect  (40 ms)\n\
restored in 410 ms: connect db to back — the lab is as its file declares\n\
2 passed, 1 failed\n"
        );
    }

    #[test]
    fn a_restore_that_left_something_says_what() {
        let r = RestoreReport {
            actions: vec![action(
                "start db",
                ActionStatus::Error,
                "cannot start netlab_x_db",
            )],
            left: vec!["node `db` is not running".into()],
            elapsed: Duration::from_millis(100),
        };
        let mut out = String::new();
        restore_lines(&mut out, &r);
        assert_eq!(
            out,
            "restored in 100 ms: start db (error: cannot start netlab_x_db) — NOT as declared: node `db` is not running\n"
        );
        assert!(!r.complete());
    }

    #[test]
    fn quiet_shows_only_what_did_not_pass_with_its_step() {
        let mut r = report(vec![check("steady", true)]);
        r.steps = vec![
            StepReport {
                title: "all fine".into(),
                actions: vec![action("disconnect db from back", ActionStatus::Done, "")],
                checks: vec![check("gone", true)],
                elapsed: Duration::from_millis(30),
            },
            StepReport {
                title: "one wrong".into(),
                actions: vec![action("connect db to back", ActionStatus::Done, "")],
                checks: vec![check("back", true), check("wrong", false)],
                elapsed: Duration::from_millis(30),
            },
        ];
        r.restore = Some(RestoreReport {
            actions: Vec::new(),
            left: Vec::new(),
            elapsed: Duration::from_millis(5),
        });
        assert_eq!(
            r.human_with(false, false, true),
            "step 2: one wrong\n  do  connect db to back  (40 ms)\nFAIL  wrong  open     3 ms\n3 passed, 1 failed\n"
        );
    }
}
