//! Nothing from outside reaches the terminal raw (issue 28): netlab runs
//! in a real pseudo-terminal (util-linux `script`), fed window-title,
//! clear-screen and clipboard sequences, an 8-bit CSI, NUL and a
//! right-to-left override through a lab file's strings, an impostor's TCP
//! greeting and a bad JSON report, and what the terminal receives is
//! searched for them byte by byte. `NO_COLOR` and `CI` keep netlab's own
//! colour codes and progress bars out, so any ESC at all is a failure.

mod support;

use std::path::Path;
use std::process::Command;

use support::{LabGuard, docker_available, ensure_foreign_image, netlab_bin};

/// What the terminal receives from `netlab args…`, and the exit code.
fn through_pty(args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let quoted: Vec<String> = std::iter::once(netlab_bin())
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("util-linux script runs");
    (out.status.code(), out.stdout)
}

/// Panics when `bytes` hold anything a terminal would act on: ESC, BEL,
/// NUL, an 8-bit CSI (U+009B, C2 9B in UTF-8) or a right-to-left override
/// (U+202E, E2 80 AE).
fn assert_inert(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (i, b) in bytes.iter().enumerate() {
        assert!(
            !matches!(b, 0x1b | 0x07 | 0x00),
            "raw {b:#04x} at byte {i} reached the terminal:\n{text}"
        );
    }
    for raw in [&[0xc2, 0x9b][..], &[0xe2, 0x80, 0xae][..]] {
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw),
            "raw {raw:x?} reached the terminal:\n{text}"
        );
    }
}

/// In YAML's double-quoted escapes: every sequence of the issue.
const HOSTILE: &str = r"\e]0;owned-title\a \e[2J \e]52;c;b3duZWQ=\a \u009b2J \0 \u202eolleh";

/// The same, as netlab shows it.
const SHOWN: &str = r"␛]0;owned-title␇ ␛[2J ␛]52;c;b3duZWQ=␇ \u{9b}2J ␀ \u{202e}olleh";

fn lab(name: &str) -> LabGuard {
    // The impostor greets like the agent, its lab and node words hostile
    // (printf's octal: ESC 033, BEL 007, U+009B 302 233, U+202E 342 200 256).
    let greeting = r"netlab-agent lab=\033]0;owned-title\007 node=\033[2J\033]52;c;b3duZWQ=\007\302\233\000\342\200\256olleh\n";
    let yaml = format!(
        r#"name: x
description: "{HOSTILE}"
networks:
  front: {{}}
nodes:
  web:
    networks: [front]
    serve: [tcp:7000]
  box:
    image: netlab-test/busybox:1
    command: [sh, -c, 'while :; do printf ''{greeting}'' | nc -l -p 7000; done']
    networks: [front]
checks:
  - tcp: {{ name: "check {HOSTILE}", from: web, to: box:7000, expect: accepts, timeout: 5s }}
steps:
  - title: "step {HOSTILE}"
    do:
      - pause: web
    checks:
      - tcp: {{ name: "paused {HOSTILE}", from: box, to: web:7000, expect: accepts, timeout: 1s }}
"#
    );
    LabGuard::from_yaml(name, &yaml)
}

#[test]
fn validate_shows_a_lab_files_hostile_strings_and_sends_none_raw() {
    let guard = lab("t-sa-validate");
    let (code, bytes) = through_pty(&["validate", guard.path()]);
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&bytes));
    assert_inert(&bytes);

    // An error that quotes the lab's string: shown, not sent.
    let bad = std::fs::read_to_string(guard.path())
        .expect("lab")
        .replace("to: box:7000", &format!("to: \"{HOSTILE}:7000\""));
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, bad).expect("write");
    let (code, bytes) = through_pty(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(code, Some(2), "{}", String::from_utf8_lossy(&bytes));
    assert_inert(&bytes);
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&format!("undefined node `{SHOWN}`")),
        "{text}"
    );
}

#[test]
fn report_quotes_a_bad_json_value_and_its_file_name_visibly() {
    let dir = tempfile::tempdir().expect("tmp");
    // A file name can carry all of it but NUL.
    let json = dir
        .path()
        .join("\x1b]0;owned-title\x07 \x1b[2J \x1b]52;c;b3duZWQ=\x07 \u{9b}2J \u{202e}olleh.json");
    std::fs::write(
        &json,
        "\"\\u001b]0;owned-title\\u0007 \\u001b[2J \\u001b]52;c;b3duZWQ=\\u0007 \\u009b2J \\u0000 \\u202eolleh\"",
    )
    .expect("write");
    let page = dir.path().join("out.html");
    let (code, bytes) = through_pty(&[
        "report",
        "--html",
        page.to_str().expect("utf-8"),
        json.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, Some(2), "{}", String::from_utf8_lossy(&bytes));
    assert_inert(&bytes);
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("␛]0;owned-title␇ ␛[2J ␛]52;c;b3duZWQ=␇ \\u{9b}2J \\u{202e}olleh.json:1:"),
        "the file is named, visibly: {text}"
    );
    assert!(
        text.contains("not a netlab JSON report: invalid type: string"),
        "{text}"
    );
    assert!(!Path::new(&page).exists());
}

#[test]
fn run_shows_an_impostors_greeting_and_the_labs_strings_and_sends_none_raw() {
    if !docker_available() {
        return;
    }
    ensure_foreign_image();
    let guard = lab("t-sa-run");
    let (code, bytes) = through_pty(&["run", "--keep", guard.path()]);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert_inert(&bytes);
    assert_eq!(code, Some(0), "{text}");
    // Each source arrived, shown: the checks' names, the step's title and
    // the impostor's greeting (its node and lab words).
    assert!(text.contains(&format!("paused {SHOWN}")), "{text}");
    assert!(text.contains(&format!("check {SHOWN}")), "{text}");
    assert!(text.contains(&format!("step 1: step {SHOWN}")), "{text}");
    assert!(
        text.contains(
            "answered by ␛[2J␛]52;c;b3duZWQ=␇\\u{9b}␀\\u{202e}olleh of lab ␛]0;owned-title␇"
        ),
        "{text}"
    );

    // JSON printed on the terminal: the same data, as escapes.
    let (code, bytes) = through_pty(&["verify", "t-sa-run", "--output", "json"]);
    let json = String::from_utf8_lossy(&bytes).into_owned();
    assert_inert(&bytes);
    assert_eq!(code, Some(0), "{json}");
    assert!(
        json.contains(r"check \u001b]0;owned-title\u0007 \u001b[2J \u001b]52;c;b3duZWQ=\u0007 \u009b2J \u0000 \u202eolleh"),
        "{json}"
    );

    let (code, bytes) = through_pty(&["down", "t-sa-run"]);
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&bytes));
    guard.assert_nothing_left();
}
