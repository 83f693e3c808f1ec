//! Text from outside made safe for a terminal, in one place.
//!
//! Greetings and banners, certificate fields, HTTP reason phrases and
//! headers, DNS names, Docker's messages and a lab file's own strings reach
//! the person reading netlab's output. A terminal obeys what it is sent: an
//! `ESC ] 0 ; … BEL` retitles the window, `ESC [ 2J` clears the screen,
//! `ESC ] 52 ; c ; … BEL` writes the reader's clipboard, an 8-bit CSI
//! (U+009B) does what `ESC [` does on terminals that read C1, and a
//! right-to-left override (U+202E) makes a line read other than it is. So
//! every such character is shown, never sent:
//!
//! - C0 controls and DEL as their Unicode control pictures (ESC → ␛,
//!   BEL → ␇, NUL → ␀, DEL → ␡), as validation shows them (annotate-snippets
//!   and rustc use the same pictures), so a message reads the same wherever
//!   it is printed;
//! - C1 controls (U+0080–U+009F) and the characters that reorder or split
//!   a line (bidi embeddings, overrides, isolates and marks; the line and
//!   paragraph separators) as `\u{9b}`-style text: they have no pictures,
//!   and a person can look the code up.
//!
//! `for_terminal` keeps line feeds and tabs, for messages of several lines
//! (an error and its hint). `on_one_line` also shows them (␊, ␉): a field of
//! the report stays on its line, so a banner cannot forge a line of the
//! report after it, and a tab cannot break the report's columns, which are
//! counted in characters. `in_columns` is for a line of a lab file under a
//! caret, where every character must stay one so the column is the file's.
//!
//! JUnit and HTML escape by their own rules, and their data stays as it
//! arrived. JSON on stdout goes through `json_for_terminal`, which writes as
//! `\uXXXX` escapes what serde_json leaves raw (DEL, C1, bidi controls):
//! the same data for any JSON reader.

use std::borrow::Cow;

/// `s` with every control character except line feed and tab, and every
/// bidi control, shown visibly.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    shown(s, Lines::Kept)
}

/// `s` as one line of the report: as `for_terminal`, and line feeds and
/// tabs shown too.
pub fn on_one_line(s: &str) -> Cow<'_, str> {
    shown(s, Lines::Shown)
}

/// `s` as a line of source under a caret: one character for each of its
/// characters, so columns counted in the file still point where they did.
/// C0 controls get their pictures as in `for_terminal`; the characters that
/// would take several (C1, bidi controls) show as U+FFFD, as
/// annotate-snippets and rustc show bidi controls in source.
pub fn in_columns(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_showing(c, Lines::Kept)) {
        return Cow::Borrowed(s);
    }
    s.chars()
        .map(|c| match (needs_showing(c, Lines::Kept), picture(c)) {
            (false, _) => c,
            (true, Some(picture)) => picture,
            (true, None) => '\u{fffd}',
        })
        .collect::<String>()
        .into()
}

/// JSON text (as serde_json writes it: C0 controls already escaped) with
/// DEL, C1 and bidi controls written as `\uXXXX` escapes too: the same
/// data for a JSON reader, nothing a terminal acts on for a person who
/// prints it. These characters can only stand inside strings.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    // Outside strings serde_json writes only these three as whitespace.
    let raw = |c: char| (c.is_control() && !matches!(c, '\n' | '\t' | '\r')) || reorders(c);
    if !json.chars().any(raw) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if raw(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    Kept,
    Shown,
}

fn shown(s: &str, lines: Lines) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_showing(c, lines)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_showing(c, lines) {
            out.push(c);
        } else if let Some(picture) = picture(c) {
            out.push(picture);
        } else {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        }
    }
    Cow::Owned(out)
}

fn needs_showing(c: char, lines: Lines) -> bool {
    match c {
        '\n' | '\t' => lines == Lines::Shown,
        _ => c.is_control() || reorders(c),
    }
}

/// The control picture of a C0 control or DEL (U+2400 block).
fn picture(c: char) -> Option<char> {
    match u32::from(c) {
        n @ 0..=0x1f => char::from_u32(0x2400 + n),
        0x7f => Some('\u{2421}'),
        _ => None,
    }
}

/// Characters that change the order or the lines in which a terminal
/// shows what follows them.
fn reorders(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'                  // Arabic letter mark
            | '\u{200e}' | '\u{200f}' // left-to-right, right-to-left marks
            | '\u{202a}'..='\u{202e}' // embeddings, pop, overrides
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No byte that a terminal would act on: C0 except LF/TAB, DEL, C1
    /// (as UTF-8, U+0080–U+009F start with 0xC2 0x80–0x9F), bidi controls.
    fn inert(s: &str) -> bool {
        !s.chars()
            .any(|c| (c.is_control() && c != '\n' && c != '\t') || reorders(c))
    }

    #[test]
    fn window_title_sequence_is_shown() {
        let s = for_terminal("\x1b]0;owned\x07");
        assert_eq!(s, "␛]0;owned␇");
        assert!(inert(&s));
    }

    #[test]
    fn clear_screen_is_shown() {
        assert_eq!(for_terminal("a\x1b[2Jb"), "a␛[2Jb");
    }

    #[test]
    fn clipboard_write_is_shown() {
        assert_eq!(
            for_terminal("\x1b]52;c;ZWNobyBvd25lZA==\x07"),
            "␛]52;c;ZWNobyBvd25lZA==␇"
        );
    }

    #[test]
    fn eight_bit_csi_is_shown_as_its_code() {
        let s = for_terminal("x\u{9b}31mred");
        assert_eq!(s, "x\\u{9b}31mred");
        assert!(inert(&s));
        assert_eq!(for_terminal("\u{80}\u{9f}"), "\\u{80}\\u{9f}");
    }

    #[test]
    fn nul_and_del_are_shown() {
        assert_eq!(for_terminal("a\0b\x7f"), "a␀b␡");
    }

    #[test]
    fn bidi_controls_are_shown() {
        assert_eq!(for_terminal("abc\u{202e}fdp.exe"), "abc\\u{202e}fdp.exe");
        for c in [
            '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}',
        ] {
            let s = for_terminal(&format!("a{c}b")).into_owned();
            assert!(inert(&s), "{c:?} came through as {s:?}");
            assert!(s.starts_with("a\\u{") && s.ends_with("}b"), "{s}");
        }
    }

    #[test]
    fn every_c0_control_has_its_picture() {
        for n in 0u32..0x20 {
            let c = char::from_u32(n).unwrap_or_default();
            let s = on_one_line(&c.to_string()).into_owned();
            assert_eq!(s.chars().count(), 1, "{n:#x}: {s:?}");
            assert_eq!(u32::from(s.chars().next().unwrap_or_default()), 0x2400 + n);
        }
    }

    #[test]
    fn line_feed_and_tab_are_kept_in_messages_and_shown_on_one_line() {
        assert_eq!(for_terminal("error\n  (hint)\tx"), "error\n  (hint)\tx");
        assert_eq!(on_one_line("open\nPASS  forged\tx"), "open␊PASS  forged␉x");
        assert_eq!(on_one_line("a\r\nb"), "a␍␊b");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in [
            "",
            "open (HTTP/1.1 200 OK)",
            "CN=web.lab, O=Zürich ✓",
            "שלום",
            "日本",
        ] {
            assert!(matches!(for_terminal(s), Cow::Borrowed(t) if t == s));
            assert!(matches!(on_one_line(s), Cow::Borrowed(t) if t == s));
        }
    }

    #[test]
    fn already_safe_text_stays_as_it_is() {
        let once = on_one_line("\x1b]0;t\x07\u{9b}\u{202e}\n").into_owned();
        assert_eq!(on_one_line(&once), once);
    }

    #[test]
    fn json_keeps_its_data_and_loses_the_raw_characters() {
        let value = "a\x1b]0;t\x07\u{9b}2J\u{202e}b\x7f\u{85}";
        let json =
            serde_json::to_string(&serde_json::json!({ "observed": value })).unwrap_or_default();
        let safe = json_for_terminal(&json);
        assert!(inert(&safe), "{safe}");
        assert!(
            safe.contains("\\u009b") && safe.contains("\\u202e"),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap_or_default();
        assert_eq!(back["observed"], value);
        let plain = "{\"a\": \"b\"}\n";
        assert!(matches!(json_for_terminal(plain), Cow::Borrowed(_)));
    }

    #[test]
    fn a_source_line_keeps_its_columns() {
        let line = "a\x1b[2J\u{9b}\u{202e}\tz";
        let shown = in_columns(line);
        assert_eq!(shown, "a␛[2J\u{fffd}\u{fffd}\tz");
        assert_eq!(shown.chars().count(), line.chars().count());
        assert!(inert(&shown));
        assert!(matches!(in_columns("plain: text"), Cow::Borrowed(_)));
    }

    #[test]
    fn all_of_it_together() {
        let hostile =
            "NETLAB-AGENT\x1b]0;pwned\x07\x1b[2J\x1b]52;c;aGk=\x07\u{9b}2J\0\u{202e}olleh";
        let s = on_one_line(hostile);
        assert!(inert(&s), "{s:?}");
        assert!(!s.contains('\x1b') && !s.contains('\x07') && !s.contains('\0'));
        assert_eq!(
            s,
            "NETLAB-AGENT␛]0;pwned␇␛[2J␛]52;c;aGk=␇\\u{9b}2J␀\\u{202e}olleh"
        );
    }
}
