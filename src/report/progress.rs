//! Progress on stderr while netlab works: indicatif bars on a terminal;
//! plain lines when stderr is not a terminal or `CI` is set, so logs stay
//! readable; nothing at all under `-q`. The report itself always goes to
//! stdout.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    stage: String,
    total: u64,
    done: AtomicU64,
    started: Instant,
}

/// Set once by `-q`: a process-wide switch, since progress is reported
/// from deep inside `up` and `verify`.
static HUSHED: AtomicBool = AtomicBool::new(false);

/// From now on, no progress at all (`-q`).
pub fn hush() {
    HUSHED.store(true, Ordering::Relaxed);
}

pub fn hushed() -> bool {
    HUSHED.load(Ordering::Relaxed)
}

fn on_terminal() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

impl Progress {
    /// A stage of `total` steps (`0`: a stage of unknown length, a spinner).
    pub fn start(stage: impl Into<String>, total: u64) -> Progress {
        // Stages and steps name checks by their titles, from the lab file.
        let stage = crate::text::safe::on_one_line(&stage.into()).into_owned();
        let bar = (on_terminal() && !hushed()).then(|| {
            let bar = if total == 0 {
                ProgressBar::new_spinner()
            } else {
                ProgressBar::new(total)
            };
            let template = if total == 0 {
                "{spinner} {prefix} {elapsed}"
            } else {
                "{prefix:>16} [{bar:30}] {pos}/{len} {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(stage.clone());
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            bar
        });
        if bar.is_none() && !hushed() {
            if total == 0 {
                crate::text::say!("netlab: {stage}");
            } else {
                crate::text::say!("netlab: {stage} ({total})");
            }
        }
        Progress {
            bar,
            stage,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// One step done; `what` names it on the bar.
    pub fn step(&self, what: &str) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(crate::text::safe::on_one_line(what).into_owned());
        }
    }

    pub fn finish(self) {
        match self.bar {
            Some(bar) => bar.finish_and_clear(),
            None if self.total > 0 && !hushed() => crate::text::say!(
                "netlab: {} done: {}/{} in {}",
                self.stage,
                self.done.load(Ordering::Relaxed),
                self.total,
                super::format_elapsed(self.started.elapsed())
            ),
            None => {}
        }
    }
}
