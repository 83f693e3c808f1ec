//! Validation of a `matrix` check: its table, parsed with the line and
//! column of every row, name and cell, so an error inside the block points
//! at the very symbol.
//!
//! ```text
//! from\to  web  app  db
//! web      .    .    x
//! host     .    -    r
//! ```
//! Rows are sources (nodes, `host`, `host@NAME`), columns are nodes; a cell
//! is `.` open (answered by that node), `x` blocked, `r` refused, `-` not
//! checked.

use super::checks::CheckCx;
use super::{Validator, closest};
use crate::lab::diagnostic::Pos;
use crate::lab::model::*;
use crate::lab::raw::*;

/// The first word of a matrix's table.
const CORNER: &str = "from\\to";

/// A word of the table and where it stands in the file.
struct Word<'a> {
    text: &'a str,
    at: Option<Pos>,
}

impl Validator {
    pub(super) fn matrix_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let port = self.matrix_port(cx);
        let Some(expect) = &cx.body.expect else {
            self.error(
                &cx.kind.referenced,
                "matrix check needs `expect`: the table",
                Some(format!(
                    "expect: |\n  {CORNER}  a  b\n  a        .  x\n  b        x  ."
                )),
            );
            return None;
        };
        let RawExpect::Word(text) = &expect.value else {
            self.error(
                &expect.referenced,
                "a matrix expects a table, written as a block (`expect: |`)",
                None,
            );
            return None;
        };
        let lines = self.table_lines(text, &expect.referenced);
        let (port, transport) = port?;
        let mut rows = lines.iter().filter(|l| !l.is_empty());
        let Some(header) = rows.next() else {
            self.error(&expect.referenced, "the matrix table is empty", None);
            return None;
        };
        let targets = self.matrix_columns(cx, header)?;
        let mut sources = Vec::new();
        let mut cells = Vec::new();
        let mut ok = true;
        for row in rows {
            let Some((first, symbols)) = row.split_first() else {
                continue;
            };
            let Some(source) = self.matrix_source(cx, first) else {
                ok = false;
                continue;
            };
            if sources.contains(&source) {
                self.error_at(
                    first.at,
                    format!("row `{}` is written twice", first.text),
                    None,
                );
                ok = false;
                continue;
            }
            if symbols.len() != targets.len() {
                self.error_at(
                    first.at,
                    format!(
                        "row `{}` has {} cells, the header {} columns",
                        first.text,
                        symbols.len(),
                        targets.len()
                    ),
                    Some(
                        "one symbol per column: . open, x blocked, r refused, - not checked".into(),
                    ),
                );
                ok = false;
                continue;
            }
            for (symbol, to) in symbols.iter().zip(&targets) {
                match self.matrix_cell(cx, symbol, to, transport) {
                    Some(Some(_)) if self.cell_off_path(cx, &source, to, symbol.at) => {
                        ok = false;
                    }
                    Some(Some(_))
                        if transport == Transport::Udp
                            && self.cell_payload_off(cx, &source, to, port, symbol.at) =>
                    {
                        ok = false;
                    }
                    Some(Some(expect)) => cells.push(MatrixCell {
                        from: source.clone(),
                        to: to.clone(),
                        expect,
                    }),
                    Some(None) => {}
                    None => ok = false,
                }
            }
            sources.push(source);
        }
        if sources.is_empty() && ok {
            self.error(&expect.referenced, "the matrix table has no rows", None);
            return None;
        }
        let title = cx
            .body
            .title
            .as_ref()
            .or(cx.body.name.as_ref())
            .map(|t| t.value.clone());
        ok.then_some(CheckKind::Matrix(Matrix {
            title,
            port,
            transport,
            sources,
            targets,
            cells,
        }))
    }

    /// A cell whose target has no address on a path from its row (a node
    /// on another host sharing no network, one only on overlays the row is
    /// not on): reported, and true.
    fn cell_off_path(&mut self, cx: &CheckCx, from: &Source, to: &str, at: Option<Pos>) -> bool {
        if cx.left_every_network(to) {
            return false;
        }
        match crate::lab::reach::aim(cx.paths(), from, to, None) {
            Ok(_) => false,
            Err(off) => {
                self.error_at(
                    at,
                    format!("cell {from} → {to}: {}", off.message),
                    Some(format!("{}; or write `-` in this cell", off.hint)),
                );
                true
            }
        }
    }

    /// `port: 7000` or `port: 7001/udp`.
    fn matrix_port(&mut self, cx: &CheckCx) -> Option<(u16, Transport)> {
        let Some(p) = &cx.body.port else {
            self.error(
                &cx.kind.referenced,
                "matrix check needs `port`",
                Some("e.g. port: 7000 or port: 7001/udp".into()),
            );
            return None;
        };
        let (number, transport) = match p.value.0.split_once('/') {
            Some((n, "tcp")) => (n, Transport::Tcp),
            Some((n, "udp")) => (n, Transport::Udp),
            _ if p.value.0.contains('/') => {
                self.error(
                    &p.referenced,
                    format!("`{}` is not a port", p.value),
                    Some("e.g. 7000 or 7001/udp".into()),
                );
                return None;
            }
            _ => (p.value.0.as_str(), Transport::Tcp),
        };
        match number.parse::<u16>().ok().filter(|n| *n != 0) {
            Some(n) => Some((n, transport)),
            None => {
                self.error(
                    &p.referenced,
                    format!("`{}` is not a port", p.value),
                    Some("e.g. 7000 or 7001/udp".into()),
                );
                None
            }
        }
    }

    /// The table's lines, each split into words with their positions. A
    /// block (`expect: |`) maps line for line onto the file; anything else
    /// keeps the position of `expect:` for all its words.
    fn table_lines<'t>(&self, text: &'t str, at: &serde_saphyr::Location) -> Vec<Vec<Word<'t>>> {
        let file: Vec<&str> = self.source.lines().collect();
        let at_line = usize::try_from(at.line()).unwrap_or(0);
        // A block's content starts on the line after its indicator (the
        // position given may be either); each line maps onto the file only
        // if the text says so.
        let block_start = file.get(at_line.saturating_sub(1)).map(|l| {
            let rest = l.trim_end();
            if rest.ends_with('|') || rest.ends_with("|-") || rest.ends_with("|+") {
                at_line + 1
            } else {
                at_line
            }
        });
        text.lines()
            .enumerate()
            .map(|(i, line)| {
                let source_line = block_start.map(|s| s + i);
                let indent = source_line
                    .and_then(|n| file.get(n - 1))
                    .filter(|l| l.trim_start() == line.trim_start() || l.ends_with(line))
                    .map(|l| l.chars().count() - line.chars().count());
                let mut words = Vec::new();
                let mut column = 0usize;
                for (piece, is_word) in split_words(line) {
                    if is_word {
                        let at = match (source_line, indent) {
                            (Some(n), Some(ind)) => Some(Pos {
                                line: n as u64,
                                column: (ind + column + 1) as u64,
                            }),
                            _ => (at.line() > 0).then(|| Pos::from(at)),
                        };
                        words.push(Word { text: piece, at });
                    }
                    column += piece.chars().count();
                }
                words
            })
            .collect()
    }

    fn matrix_columns(&mut self, cx: &CheckCx, header: &[Word]) -> Option<Vec<String>> {
        let (corner, names) = header.split_first()?;
        if corner.text != CORNER {
            self.error_at(
                corner.at,
                format!(
                    "a matrix table starts with `{CORNER}`, not `{}`",
                    corner.text
                ),
                Some(format!(
                    "the header is `{CORNER}` and then the target nodes"
                )),
            );
            return None;
        }
        if names.is_empty() {
            self.error_at(corner.at, "the matrix header names no target node", None);
            return None;
        }
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for name in names {
            if !cx.nodes.contains_key(name.text) {
                let hint = closest(name.text, cx.nodes.keys().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"));
                self.error_at(name.at, format!("undefined node `{}`", name.text), hint);
                ok = false;
            } else if out.iter().any(|n| n == name.text) {
                self.error_at(
                    name.at,
                    format!("column `{}` is written twice", name.text),
                    None,
                );
                ok = false;
            } else {
                out.push(name.text.to_owned());
            }
        }
        ok.then_some(out)
    }

    fn matrix_source(&mut self, cx: &CheckCx, word: &Word) -> Option<Source> {
        let names = &cx.hosts.names;
        let host = match word.text {
            "host" => Some(None),
            other => other.strip_prefix("host@").map(Some),
        };
        match host {
            Some(None) if cx.hosts.is_multi() => {
                self.error_at(
                    word.at,
                    "this lab has several hosts: a `host` row must say which",
                    Some(format!("e.g. host@{}", names[0])),
                );
                None
            }
            Some(None) => Some(Source::Host(None)),
            Some(Some(h)) if names.iter().any(|n| n == h) => {
                Some(Source::Host(cx.hosts.is_multi().then(|| h.to_owned())))
            }
            Some(Some(h)) => {
                let hint = closest(h, names.iter().map(String::as_str))
                    .map(|c| format!("did you mean `host@{c}`?"));
                self.error_at(word.at, format!("undefined host `{h}`"), hint);
                None
            }
            None if cx.nodes.contains_key(super::node_word(word.text)) => {
                Some(Source::Node(super::node_word(word.text).to_owned()))
            }
            None => {
                let hint = closest(word.text, cx.nodes.keys().map(String::as_str))
                    .map(|c| format!("did you mean `{c}`?"))
                    .or_else(|| Some("a row is a node of the lab, `host` or `host@NAME`".into()));
                self.error_at(word.at, format!("undefined node `{}`", word.text), hint);
                None
            }
        }
    }

    /// `Some(None)` for `-`, `None` after an error.
    fn matrix_cell(
        &mut self,
        cx: &CheckCx,
        symbol: &Word,
        to: &str,
        transport: Transport,
    ) -> Option<Option<CellExpect>> {
        let mut chars = symbol.text.chars();
        let parsed = match (chars.next(), chars.next()) {
            (Some(c), None) => CellExpect::from_symbol(c),
            _ => None,
        };
        let Some(expect) = parsed else {
            self.error_at(
                symbol.at,
                format!("unknown matrix symbol `{}`", symbol.text),
                Some(". open, x blocked, r refused, - not checked".into()),
            );
            return None;
        };
        if transport == Transport::Udp && expect == Some(CellExpect::Refused) {
            self.error_at(
                symbol.at,
                "a udp matrix has no `r` cells",
                Some("udp is open (the agent answered) or blocked".into()),
            );
            return None;
        }
        if expect == Some(CellExpect::Open)
            && let Some(node) = cx.nodes.get(to)
            && !node.is_agent()
        {
            self.error_at(
                symbol.at,
                format!(
                    "node `{to}` runs a foreign image, so an open cell cannot prove it answered"
                ),
                Some(
                    "only the netlab agent announces its identity: use `-`, `x` or `r` towards it"
                        .into(),
                ),
            );
            return None;
        }
        Some(expect)
    }
}

/// `"  web  .  x"` → the runs of spaces and of words, in order, each flagged
/// as a word or not.
fn split_words(line: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (i, c) in line.char_indices() {
        let word = !c.is_whitespace();
        match in_word {
            Some(w) if w == word => {}
            Some(w) => {
                out.push((&line[start..i], w));
                start = i;
                in_word = Some(word);
            }
            None => in_word = Some(word),
        }
    }
    if let Some(w) = in_word {
        out.push((&line[start..], w));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn words_keep_their_columns() {
        assert_eq!(
            split_words("web  . x"),
            [
                ("web", true),
                ("  ", false),
                (".", true),
                (" ", false),
                ("x", true)
            ]
        );
        assert!(split_words("").is_empty());
    }
}
