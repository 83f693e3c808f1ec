//! Problems found in a lab file, and how they are shown: like rustc, with the
//! file, line and column, the offending line with a caret, and a hint where
//! the fix is known.

use std::fmt;

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use serde_saphyr::Location;

use crate::text::safe::{for_terminal, in_columns};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// A 1-based line and column in the lab file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

impl From<&Location> for Pos {
    fn from(l: &Location) -> Self {
        Pos {
            line: l.line(),
            column: l.column(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Where in the file; `None` for problems of the file as a whole.
    pub pos: Option<Pos>,
    pub hint: Option<String>,
}

/// Every problem of one lab file, with the text needed to show them.
#[derive(Debug, Clone)]
pub struct Report {
    pub file: String,
    pub source: String,
    pub items: Vec<Diagnostic>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// Renders one diagnostic, without colour so output is stable in tests
    /// and logs.
    pub fn render_one(&self, d: &Diagnostic) -> String {
        self.render_one_with(d, false)
    }

    /// Every diagnostic and the count of errors; `colour` as rustc's
    /// (the caller decides: `report::colour`).
    pub fn render(&self, colour: bool) -> String {
        let mut sorted: Vec<&Diagnostic> = self.items.iter().collect();
        sorted.sort_by_key(|d| d.pos);
        let mut out = String::new();
        for d in sorted {
            out.push_str(&self.render_one_with(d, colour));
            out.push_str("\n\n");
        }
        let errors = self.errors();
        if errors > 0 {
            out.push_str(&format!(
                "{}: {errors} error{} found; nothing was created",
                for_terminal(&self.file),
                if errors == 1 { "" } else { "s" }
            ));
        }
        out
    }

    fn render_one_with(&self, d: &Diagnostic, colour: bool) -> String {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let renderer = if colour {
            Renderer::styled()
        } else {
            Renderer::plain()
        }
        .decor_style(DecorStyle::Ascii);
        // annotate-snippets shows C0 controls and most bidi controls itself,
        // but not C1 (U+009B) nor the marks; netlab's one rule goes first.
        let message = for_terminal(&d.message);
        let file = for_terminal(&self.file);
        let hint = d.hint.as_deref().map(for_terminal);
        let hint = hint.as_deref().map(|h| Level::HELP.message(h));
        let rendered = match d.pos.and_then(|p| self.line_span(p)) {
            Some((line_no, line_text, col_range)) => {
                // One character shown for each, so the column stays the
                // file's; the span is in bytes, and pictures take three.
                let start = in_columns(&line_text[..col_range.start]).len();
                let token = in_columns(&line_text[col_range.clone()]).len();
                let line_text = in_columns(line_text);
                let mut group = level.primary_title(message.as_ref()).element(
                    Snippet::source(line_text.as_ref())
                        .line_start(line_no)
                        .path(file.as_ref())
                        .fold(false)
                        .annotation(AnnotationKind::Primary.span(start..start + token)),
                );
                if let Some(h) = hint {
                    group = group.element(h);
                }
                renderer.render(&[group])
            }
            None => {
                let mut group = level
                    .primary_title(message.as_ref())
                    .element(annotate_snippets::Origin::path(file.as_ref()));
                if let Some(h) = hint {
                    group = group.element(h);
                }
                renderer.render(&[group])
            }
        };
        rendered.to_string()
    }

    /// The text of line `pos.line` and the byte range of the token starting
    /// at `pos.column` (up to the next space or YAML delimiter).
    fn line_span(&self, pos: Pos) -> Option<(usize, &str, std::ops::Range<usize>)> {
        let line_no = usize::try_from(pos.line).ok()?;
        let text = self.source.lines().nth(line_no.checked_sub(1)?)?;
        let col = usize::try_from(pos.column).ok()?.checked_sub(1)?;
        let start = text.char_indices().nth(col).map(|(i, _)| i)?;
        let rest = &text[start..];
        let len = rest
            .find([' ', ',', '}', ']', '#'])
            .unwrap_or(rest.len())
            .max(1)
            .min(rest.len());
        Some((line_no, text, start..start + len))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_file_is_shown_and_the_caret_stays_under_its_token() {
        // Column 27 (1-based, in characters) is `nobody`, after an 8-bit
        // CSI.
        let report = Report {
            file: "lab\u{202e}.yaml".into(),
            source: "  - tcp: { name: \u{9b}2J, to: nobody }\n".into(),
            items: vec![Diagnostic {
                severity: Severity::Error,
                message: "undefined node `\x1b]0;owned\x07`".into(),
                pos: Some(Pos {
                    line: 1,
                    column: 27,
                }),
                hint: Some("not \x1b[2J".into()),
            }],
        };
        let text = report.render(false);
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{text:?}"
        );
        assert!(
            text.contains("error: undefined node `␛]0;owned␇`"),
            "{text}"
        );
        assert!(text.contains("--> lab\\u{202e}.yaml:1:27"), "{text}");
        assert!(text.contains("name: \u{fffd}2J, to: nobody"), "{text}");
        assert!(text.contains("not ␛[2J"), "{text}");
        let line = text
            .lines()
            .find(|l| l.contains("nobody"))
            .unwrap_or_default();
        let caret = text.lines().find(|l| l.contains('^')).unwrap_or_default();
        let column = |l: &str, i: Option<usize>| i.map(|i| l[..i].chars().count());
        assert_eq!(
            column(line, line.find("nobody")),
            column(caret, caret.find('^')),
            "{text}"
        );
    }
}
