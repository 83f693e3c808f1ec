//! Whether netlab writes colour: the one decision behind every coloured
//! thing it prints (the report's status words, a matrix's differing cells,
//! progress bars, error messages), taken per stream from the terminal and
//! the conventions users set:
//!
//! - `NO_COLOR` (no-color.org), when set and not empty: never colour;
//! - `CLICOLOR_FORCE` (bixense.com/clicolors), when set and not `0`: colour
//!   also where the stream is not a terminal (a pager, a CI log that shows
//!   ANSI); `NO_COLOR` still wins;
//! - otherwise colour only on a terminal, and not when `CLICOLOR=0`,
//!   `TERM=dumb` or `CI` is set (plain logs).

use std::ffi::OsString;
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Whether to colour what goes to `stream`.
pub fn enabled(stream: Stream) -> bool {
    let terminal = match stream {
        Stream::Stdout => std::io::stdout().is_terminal(),
        Stream::Stderr => std::io::stderr().is_terminal(),
    };
    decide(terminal, |name| std::env::var_os(name))
}

pub fn stdout() -> bool {
    enabled(Stream::Stdout)
}

pub fn stderr() -> bool {
    enabled(Stream::Stderr)
}

/// Tells the `console` crate (which draws indicatif's progress bars) the
/// same decision, so a styled bar follows it too. Called once at start.
pub fn apply_to_progress_bars() {
    console::set_colors_enabled(stdout());
    console::set_colors_enabled_stderr(stderr());
}

/// The rule itself, with the environment passed in so it is tested without
/// touching the process's own.
fn decide(terminal: bool, var: impl Fn(&str) -> Option<OsString>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.is_empty());
    let is = |name: &str, value: &str| var(name).is_some_and(|v| v == value);
    if set("NO_COLOR") {
        return false;
    }
    if set("CLICOLOR_FORCE") && !is("CLICOLOR_FORCE", "0") {
        return true;
    }
    terminal && !is("CLICOLOR", "0") && !is("TERM", "dumb") && var("CI").is_none()
}

/// The colours netlab uses, as ANSI SGR sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// Passed.
    Green,
    /// Failed; a matrix cell that differs; `error:`.
    Red,
    /// Could not run; `warning:`.
    Yellow,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Green => "\x1b[32m",
            Paint::Red => "\x1b[31;1m",
            Paint::Yellow => "\x1b[33;1m",
        }
    }
}

const RESET: &str = "\x1b[0m";

/// `text` in `paint` when `on`, else as it is.
pub fn paint(text: &str, paint: Paint, on: bool) -> String {
    if on {
        format!("{}{text}{RESET}", paint.code())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_terminal_gets_colour_a_pipe_does_not() {
        assert!(decide(true, env(&[])));
        assert!(!decide(false, env(&[])));
    }

    #[test]
    fn no_color_turns_it_off_even_when_forced() {
        assert!(!decide(true, env(&[("NO_COLOR", "1")])));
        assert!(!decide(
            false,
            env(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")])
        ));
        // An empty NO_COLOR is no request (no-color.org).
        assert!(decide(true, env(&[("NO_COLOR", "")])));
    }

    #[test]
    fn clicolor_force_colours_a_pipe_and_ci() {
        assert!(decide(false, env(&[("CLICOLOR_FORCE", "1")])));
        assert!(decide(
            false,
            env(&[("CLICOLOR_FORCE", "1"), ("CI", "true")])
        ));
        assert!(!decide(false, env(&[("CLICOLOR_FORCE", "0")])));
        assert!(!decide(false, env(&[("CLICOLOR_FORCE", "")])));
    }

    #[test]
    fn a_terminal_may_decline() {
        assert!(!decide(true, env(&[("CLICOLOR", "0")])));
        assert!(!decide(true, env(&[("TERM", "dumb")])));
        assert!(!decide(true, env(&[("CI", "true")])));
        assert!(decide(true, env(&[("CLICOLOR", "1"), ("TERM", "xterm")])));
    }

    #[test]
    fn paint_wraps_only_when_on() {
        assert_eq!(paint("FAIL", Paint::Red, true), "\x1b[31;1mFAIL\x1b[0m");
        assert_eq!(paint("FAIL", Paint::Red, false), "FAIL");
    }
}
