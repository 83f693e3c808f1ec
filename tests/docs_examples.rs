//! Every example in README.md and docs/*.md runs, so none can rot: each
//! ```yaml block that is a lab (it has `nodes:`) passes `netlab validate`
//! (a block that opens with `# every key` is the reference of every key,
//! not one lab); each `netlab …` line of a code block parses as the
//! command line it shows (run with `--help` appended: a misspelt command or
//! option is an error), and the lab it names loads. Commands that need no
//! engine (`validate`, `graph`, `labs`, `completions`) are run as they
//! are. None of this needs Docker.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::netlab_bin;

/// A fenced block: its file, line, language and text.
struct Block {
    file: String,
    line: usize,
    lang: String,
    text: String,
}

fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).expect("a document");
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    file: name.clone(),
                    line: i + 1,
                    lang: lang.trim().to_owned(),
                    text: String::new(),
                })
            }
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(b), None) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn netlab_in(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(netlab_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("NETLAB_HOSTS")
        .output()
        .expect("netlab runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The words of a `netlab …` line: no `$ `, no comment, no redirection.
fn command_words(line: &str) -> Option<Vec<String>> {
    let line = line.trim().trim_start_matches("$ ");
    let rest = line.strip_prefix("netlab ")?;
    let rest = rest.split(" #").next().unwrap_or(rest);
    let rest = rest.split(" >").next().unwrap_or(rest);
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

#[test]
fn every_lab_and_command_in_the_docs_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let all: Vec<Block> = documents().iter().flat_map(|p| blocks(p)).collect();
    // README's first lab is saved as first.yaml, as it says.
    let first = all
        .iter()
        .find(|b| b.file == "README.md" && b.lang == "yaml")
        .expect("README shows a first lab");
    assert!(
        first.text.lines().count() <= 16,
        "the first lab is short:\n{}",
        first.text
    );
    std::fs::write(dir.path().join("first.yaml"), &first.text).expect("write");
    let (mut labs, mut commands) = (0, 0);
    for b in &all {
        let place = format!("{}:{}", b.file, b.line);
        if b.lang == "yaml"
            && b.text.lines().any(|l| l.starts_with("nodes:"))
            && !b.text.starts_with("# every key")
        {
            let file = dir.path().join("example.yaml");
            std::fs::write(&file, &b.text).expect("write");
            let (ok, text) = netlab_in(dir.path(), &["validate", "example.yaml"]);
            assert!(
                ok,
                "{place}: the lab does not validate:\n{text}\n{}",
                b.text
            );
            labs += 1;
        }
        for line in b.text.lines() {
            let Some(words) = command_words(line) else {
                continue;
            };
            let args: Vec<&str> = words.iter().map(String::as_str).collect();
            // The command line as shown parses.
            let mut help = args.clone();
            help.push("--help");
            let (ok, text) = netlab_in(dir.path(), &help);
            assert!(
                ok,
                "{place}: `netlab {}` does not parse:\n{text}",
                args.join(" ")
            );
            match args.first().copied() {
                Some("validate" | "graph" | "labs" | "completions") => {
                    let (ok, text) = netlab_in(dir.path(), &args);
                    assert!(ok, "{place}: `netlab {}` fails:\n{text}", args.join(" "));
                }
                Some("run" | "up") => {
                    // The lab it names loads (a file named after a built-in
                    // lab stands for an edited copy of it).
                    let lab = args[1..]
                        .iter()
                        .find(|a| !a.starts_with('-'))
                        .unwrap_or_else(|| panic!("{place}: no lab in `{line}`"));
                    let lab = match lab.strip_suffix(".yaml") {
                        Some(stem) if !dir.path().join(lab).is_file() => stem,
                        _ => lab,
                    };
                    let (ok, text) = netlab_in(dir.path(), &["validate", lab]);
                    assert!(ok, "{place}: the lab of `{line}` does not load:\n{text}");
                }
                _ => {}
            }
            commands += 1;
        }
    }
    // README's first lab, its command, and the docs' own.
    assert!(
        labs >= 3 && commands >= 10,
        "{labs} labs, {commands} commands"
    );
}

/// README's first lab runs on the engine as README shows it: the same
/// verdicts and check names, and the closing line.
#[test]
fn the_first_lab_runs_as_readme_shows() {
    if !support::docker_available() {
        return;
    }
    let readme = blocks(&Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let lab = readme
        .iter()
        .find(|b| b.lang == "yaml")
        .expect("a first lab");
    let shown = readme
        .iter()
        .find(|b| b.text.starts_with("$ netlab run first.yaml"))
        .expect("its output");
    let guard = support::LabGuard::from_yaml("fh-first", &lab.text);
    let out = Command::new(netlab_bin())
        .args(["run", guard.path()])
        .env("CI", "1")
        .output()
        .expect("netlab runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let verdict_and_name = |l: &str| {
        l.split("  ")
            .filter(|piece| !piece.trim().is_empty())
            .take(2)
            .collect::<Vec<_>>()
            .join("  ")
    };
    let seen: Vec<String> = text.lines().skip(1).map(verdict_and_name).collect();
    let want: Vec<String> = shown.text.lines().skip(2).map(verdict_and_name).collect();
    assert_eq!(seen, want, "{text}");
    guard.assert_nothing_left();
}

/// GitHub's anchor of a heading.
fn slug(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The headings' anchors of a document (not of lines in code blocks).
fn anchors(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("a document");
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(slug(line));
        }
    }
    out
}

/// Every relative link of README and docs/ leads to a file that exists,
/// and to a heading of it when it names one: moving a section breaks no
/// link unseen.
#[test]
fn every_link_in_the_docs_leads_somewhere() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("a document");
        let here = doc.parent().expect("a directory");
        for (start, _) in text.match_indices("](") {
            let rest = &text[start + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = &rest[..end];
            if target.starts_with("http") || target.contains(char::is_whitespace) {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
            let file = if path.is_empty() {
                doc.clone()
            } else {
                here.join(path)
            };
            if !file.exists() {
                broken.push(format!("{}: {target} (no such file)", doc.display()));
            } else if !anchor.is_empty()
                && file.extension().is_some_and(|e| e == "md")
                && !anchors(&file).iter().any(|a| a == anchor)
            {
                broken.push(format!("{}: {target} (no such heading)", doc.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
