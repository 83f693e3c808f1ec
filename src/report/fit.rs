//! The human report within the width of the terminal it is printed on:
//! which width (`COLUMNS`, else the terminal's own; none off a terminal,
//! so a log or a pipe keeps whole lines), and how a line too long for it is
//! wrapped. A check's verdict, name and time are never cut: its detail
//! column is wrapped under itself, or, when the names leave it too little
//! room, goes on lines of its own below the check.

use std::io::IsTerminal;

/// The narrowest detail column worth keeping beside the names; below it
/// the detail goes under the check instead.
const MIN_DETAIL: usize = 20;
/// `  ` before the time and its `{:>7}`.
const TIME: usize = 9;
/// Where a detail that goes under its check starts.
pub const UNDER: &str = "      ";

/// The width to fit stdout's report to, when stdout is a terminal.
pub fn stdout_width() -> Option<usize> {
    width_of(super::colour::Stream::Stdout)
}

/// The width of `stream`'s terminal, when it is one.
pub fn width_of(stream: super::colour::Stream) -> Option<usize> {
    let (terminal, fd) = match stream {
        super::colour::Stream::Stdout => (std::io::stdout().is_terminal(), libc::STDOUT_FILENO),
        super::colour::Stream::Stderr => (std::io::stderr().is_terminal(), libc::STDERR_FILENO),
    };
    if !terminal {
        return None;
    }
    from_env(std::env::var("COLUMNS").ok().as_deref()).or_else(|| window_columns(fd))
}

/// `text` within the width of `stream`'s terminal (`wrap_long_lines`).
pub fn for_stream(text: &str, stream: super::colour::Stream) -> String {
    match width_of(stream) {
        Some(w) => wrap_long_lines(text, w),
        None => text.to_owned(),
    }
}

/// `COLUMNS` as a shell exports it: a positive number, else nothing.
fn from_env(columns: Option<&str>) -> Option<usize> {
    columns?.trim().parse().ok().filter(|&n: &usize| n > 0)
}

fn window_columns(fd: libc::c_int) -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct passed, which
    // lives for the call.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    (r == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// How check lines are laid out: the widths of the status, name and detail
/// columns, and whether the detail goes under the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    pub status: usize,
    pub title: usize,
    pub detail: usize,
    /// The names leave the detail too little room: it goes below, wrapped
    /// to this width.
    pub under: Option<usize>,
}

impl Columns {
    /// The columns for names of `title` and details of `detail` characters
    /// at most, in `width` (none: as wide as they are).
    pub fn fit(status: usize, title: usize, detail: usize, width: Option<usize>) -> Columns {
        let whole = Columns {
            status,
            title,
            detail,
            under: None,
        };
        let Some(width) = width else {
            return whole;
        };
        let room = width.saturating_sub(status + 2 + 2 + TIME);
        if title + detail <= room {
            whole
        } else if room >= title + MIN_DETAIL {
            Columns {
                detail: room - title,
                ..whole
            }
        } else {
            Columns {
                title: title.min(width.saturating_sub(status + 2 + TIME)),
                detail: 0,
                under: Some(width.saturating_sub(UNDER.len()).max(MIN_DETAIL)),
                ..whole
            }
        }
    }

    /// Where the detail column starts.
    pub fn detail_start(&self) -> usize {
        self.status + 2 + self.title + 2
    }
}

/// `text` in lines of at most `width` characters, broken between words
/// (a word longer than the width is broken inside).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        let used = line.chars().count();
        if used > 0 && used + 1 + word.len() <= width {
            line.push(' ');
            line.extend(&word);
            continue;
        }
        if used > 0 {
            lines.push(std::mem::take(&mut line));
        }
        while word.len() > width {
            lines.push(word.drain(..width).collect());
        }
        line.extend(&word);
    }
    lines.push(line);
    lines
}

/// Every line of `text` longer than `width` wrapped, its continuation
/// indented two more than the line itself. Lines with colour codes (a
/// matrix's table) are left whole: cutting one would split a code.
pub fn wrap_long_lines(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        if body.chars().count() <= width || body.contains('\x1b') {
            out.push_str(line);
            continue;
        }
        let indent = body.len() - body.trim_start_matches(' ').len();
        let more = " ".repeat(indent + 2);
        let rest = &body[indent..];
        for (i, piece) in wrap(rest, width.saturating_sub(indent + 2))
            .iter()
            .enumerate()
        {
            let lead = if i == 0 { &body[..indent] } else { &more };
            out.push_str(lead);
            out.push_str(piece);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_open_up_to_the_width_then_wrap_then_go_under() {
        assert_eq!(Columns::fit(4, 30, 40, None).detail, 40);
        assert_eq!(Columns::fit(4, 30, 40, Some(160)).detail, 40);
        let narrow = Columns::fit(4, 30, 40, Some(80));
        assert_eq!((narrow.detail, narrow.under), (33, None));
        assert_eq!(4 + 2 + 30 + 2 + narrow.detail + TIME, 80);
        let names_too_long = Columns::fit(4, 60, 40, Some(80));
        assert_eq!(names_too_long.under, Some(74));
    }

    #[test]
    fn wrap_breaks_between_words_and_inside_a_long_one() {
        assert_eq!(
            wrap("open, answered by legacy-a of lab fh-bb", 20),
            ["open, answered by", "legacy-a of lab", "fh-bb"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
    }

    #[test]
    fn long_lines_wrap_under_their_indent() {
        let text = "short\n      why: one two three four five\n";
        assert_eq!(
            wrap_long_lines(text, 20),
            "short\n      why: one two\n        three four\n        five\n"
        );
        let painted = format!("\x1b[31m{}\x1b[0m\n", "x".repeat(30));
        assert_eq!(wrap_long_lines(&painted, 20), painted);
    }

    #[test]
    fn columns_is_a_positive_number_or_nothing() {
        assert_eq!(from_env(Some("80")), Some(80));
        assert_eq!(from_env(Some("0")), None);
        assert_eq!(from_env(Some("wide")), None);
        assert_eq!(from_env(None), None);
    }

    #[test]
    fn a_report_fits_its_width_and_keeps_verdict_name_and_time() {
        use crate::report::tests::{check, report};
        let mut r = report(vec![
            check("tcp client → web:7000 is open", true),
            check("tcp outsider → web:7000 is blocked", false),
        ]);
        r.checks[0].observed = "open, answered by web of lab a-rather-long-lab-name".into();
        r.checks[1].observed = "blocked: no answer before the deadline".into();
        for width in [60, 80, 100] {
            let text = r.human_fit(false, false, false, Some(width));
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}\n{text}");
            }
            assert!(
                text.contains("PASS  tcp client → web:7000 is open"),
                "{text}"
            );
            assert!(
                text.contains("FAIL  tcp outsider → web:7000 is blocked"),
                "{text}"
            );
            assert_eq!(text.matches("3 ms").count(), 2, "{text}");
            let words: String = text.split_whitespace().collect();
            assert!(words.contains("answeredbywebof"), "{text}");
        }
        assert_eq!(
            r.human_fit(false, false, false, Some(200)),
            r.human_fit(false, false, false, None)
        );
        let narrow = r.human_fit(false, false, false, Some(60));
        assert!(
            narrow.contains("3 ms\n      open, answered by web"),
            "{narrow}"
        );
    }
}
