//! A newcomer's first hour (issue 30), as a person sees it: netlab run in a
//! real pseudo-terminal (util-linux `script`) of a given width, and what the
//! terminal receives read back. `CI` and `NO_COLOR` keep progress bars and
//! colour codes out, so every line is text.

mod support;

use std::process::Command;

use support::{LabGuard, docker_available, netlab_bin};

/// How the terminal's width is told.
#[derive(Clone, Copy)]
enum Width {
    /// `COLUMNS=N`, as a shell exports it.
    Columns(u16),
    /// The pseudo-terminal itself is N columns wide (`stty cols N`).
    Window(u16),
}

/// What a terminal of `width` shows of `netlab args…`, and the exit code.
fn through_pty(width: Width, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let quoted: Vec<String> = std::iter::once(netlab_bin())
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let line = match width {
        Width::Columns(_) => quoted.join(" "),
        Width::Window(n) => format!("stty cols {n} rows 50; {}", quoted.join(" ")),
    };
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("COLUMNS");
    if let Width::Columns(n) = width {
        cmd.env("COLUMNS", n.to_string());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("util-linux script runs");
    // A terminal ends its lines with CR LF.
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    (out.status.code(), text)
}

fn assert_within(text: &str, width: usize) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= width,
            "a line of {} characters in {width} columns: {line:?}\n{text}",
            line.chars().count()
        );
    }
}

/// Each check of bridge-basic: its verdict and name on one line, with its
/// time at the end of that line.
const CHECKS: [&str; 9] = [
    "dns client → web is web",
    "dns client → www is web",
    "dns web → client is client",
    "tcp client → web:7000 is open",
    "tcp client → web:7001 is refused",
    "dns outsider → web is unresolved",
    "tcp outsider → web:7000 is blocked",
    "tcp legacy-b → legacy-a:7000 is open",
    "dns legacy-b → legacy-a is unresolved",
];

fn assert_checks_whole(text: &str) {
    for title in CHECKS {
        let line = text
            .lines()
            .find(|l| l.starts_with("PASS  ") && l.contains(title))
            .unwrap_or_else(|| panic!("no line `PASS  {title}`:\n{text}"));
        assert!(
            line.ends_with(" ms") || line.ends_with(" s"),
            "the time is on the check's line: {line:?}\n{text}"
        );
    }
}

#[test]
fn the_report_fits_72_80_100_and_160_columns_and_keeps_verdict_name_and_time() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "fh-width", |y| y);
    let (code, text) = through_pty(Width::Columns(80), &[], &["up", guard.path()]);
    assert_eq!(code, Some(0), "{text}");
    // The summary and its table (progress lines are logs, `netlab: …`).
    let summary: String = text
        .lines()
        .filter(|l| !l.starts_with("netlab: "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_within(&summary, 80);

    // 72: the names leave the detail too little room, it goes under.
    for width in [
        Width::Columns(80),
        Width::Window(72),
        Width::Window(100),
        Width::Window(160),
    ] {
        let (Width::Columns(n) | Width::Window(n)) = width;
        let (code, text) = through_pty(width, &[], &["verify", "fh-width"]);
        assert_eq!(code, Some(0), "{text}");
        assert_within(&text, usize::from(n));
        assert_checks_whole(&text);
        assert!(text.contains("9 passed, 0 failed"), "{text}");
        if n == 160 {
            // Wide enough: one line per check, as README shows.
            let report: Vec<&str> = text
                .lines()
                .skip_while(|l| !l.starts_with("lab fh-width on Docker"))
                .collect();
            assert_eq!(report.len(), 1 + CHECKS.len() + 1, "{text}");
        }
        if n == 80 {
            // The detail is wrapped, not cut: all of it is there.
            assert!(text.contains("open, answered by legacy-a"), "{text}");
            assert!(
                text.contains("\n      of lab fh-width\n") || text.contains(" of lab fh-width\n"),
                "{text}"
            );
        }
    }

    // Not a terminal: whole lines, whatever COLUMNS says.
    let out = Command::new(netlab_bin())
        .args(["verify", "fh-width"])
        .env("COLUMNS", "40")
        .output()
        .expect("netlab runs");
    let piped = String::from_utf8_lossy(&out.stdout);
    assert!(
        piped
            .lines()
            .any(|l| l.contains("tcp legacy-b → legacy-a:7000 is open")
                && l.contains("answered by legacy-a of lab fh-width")),
        "{piped}"
    );

    let (code, text) = through_pty(Width::Columns(80), &[], &["down", "fh-width"]);
    assert_eq!(code, Some(0), "{text}");
    guard.assert_nothing_left();
}
