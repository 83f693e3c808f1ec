//! netlab in the shell: completion scripts each shell accepts, man pages
//! that build, `--version`, colour only where it is wanted (`NO_COLOR`,
//! `CLICOLOR_FORCE`), and `-q`. Everything but `-q` and the report's colours
//! needs no Docker.

mod support;

use std::process::Command as Process;

use assert_cmd::Command;
use predicates::str::contains;

use support::*;

const ESC: char = '\x1b';

/// netlab with none of the colour settings of whoever runs the tests.
fn netlab_cmd() -> Command {
    let mut cmd = Command::new(netlab_bin());
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env_remove("CI");
    cmd
}

fn completion(shell: &str) -> String {
    let out = netlab_cmd().args(["completions", shell]).assert().code(0);
    String::from_utf8(out.get_output().stdout.clone()).expect("utf-8 script")
}

fn installed(tool: &str) -> bool {
    Process::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `shell -n FILE`: the shell parses the script without running it.
fn parses(shell: &str, script: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("netlab-completion");
    std::fs::write(&file, script).expect("write");
    let out = Process::new(shell)
        .arg("-n")
        .arg(&file)
        .output()
        .expect("the shell runs");
    assert!(
        out.status.success(),
        "{shell} -n refused the script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bash_accepts_the_completion_script() {
    let script = completion("bash");
    assert!(
        script.contains("complete -F _netlab -o nosort -o bashdefault -o default netlab"),
        "{script}"
    );
    parses("bash", &script);
}

#[test]
fn zsh_accepts_the_completion_script() {
    let script = completion("zsh");
    assert!(script.starts_with("#compdef netlab\n"), "{script}");
    if installed("zsh") {
        parses("zsh", &script);
    }
}

#[test]
fn fish_accepts_the_completion_script() {
    let script = completion("fish");
    assert!(
        script.contains("complete -c netlab -n \"__fish_netlab_needs_command\" -f -a \"verify\""),
        "{script}"
    );
    if installed("fish") {
        parses("fish", &script);
    }
}

#[test]
fn completions_offer_the_commands_and_their_flags_but_not_the_hidden_ones() {
    let script = completion("bash");
    for word in ["verify", "run", "--quiet", "--junit", "--context"] {
        assert!(script.contains(word), "no {word} in\n{script}");
    }
    // The agent runs inside containers; `man` is for `make man`.
    assert!(!script.contains("agent"), "{script}");
    assert!(!script.contains("netlab__subcmd__man"), "{script}");
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    netlab_cmd()
        .args(["completions", "cmd.exe"])
        .assert()
        .code(2)
        .stderr(contains("invalid value 'cmd.exe'"));
}

#[test]
fn the_man_pages_build() {
    let dir = tempfile::tempdir().expect("tmp");
    netlab_cmd()
        .arg("man")
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout("");
    for page in ["netlab.1", "netlab-run.1", "netlab-verify.1"] {
        let path = dir.path().join(page);
        assert!(path.is_file(), "{page} was not written");
        if installed("groff") {
            // As man(1) runs it: -k, UTF-8 input (the help says `unix://…`);
            // -ww: every warning; -z: no output, just the checks.
            let out = Process::new("groff")
                .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
                .arg(&path)
                .output()
                .expect("groff runs");
            assert!(
                out.status.success() && out.stderr.is_empty(),
                "groff on {page}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let run = std::fs::read_to_string(dir.path().join("netlab-run.1")).expect("netlab-run.1");
    assert!(run.contains(".TH netlab-run 1"), "{run}");
    assert!(run.contains("\\-\\-quiet"), "{run}");
}

#[test]
fn version_names_the_engine_api_range() {
    netlab_cmd()
        .arg("--version")
        .assert()
        .code(0)
        .stdout("netlab 0.1.0 (Docker Engine API 1.41 to 1.53)\n");
}

#[test]
fn quiet_and_verbose_go_together() {
    // Parsed, not run (verify would probe a lab another test has up): the
    // help of the command line that holds both is no usage error.
    netlab_cmd()
        .args(["verify", "-q", "-v", "--help"])
        .assert()
        .code(0)
        .stdout(contains("each of them in detail"));
}

/// A lab file with an error, for messages that may be coloured.
fn broken_lab() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, "nodes:\n  web:\n    networks: [nowhere]\n").expect("write");
    let file = path.display().to_string();
    (dir, file)
}

fn stderr_with(env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = netlab_cmd();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).assert().code(2);
    String::from_utf8(out.get_output().stderr.clone()).expect("utf-8")
}

#[test]
fn errors_are_plain_unless_colour_is_forced_and_no_color_wins() {
    let (_dir, file) = broken_lab();
    for args in [
        &["validate", file.as_str()][..],
        &["validate", "no-such-lab"][..],
    ] {
        // stderr is a pipe here: plain.
        let plain = stderr_with(&[], args);
        assert!(!plain.contains(ESC), "{plain:?}");
        assert!(plain.contains("error"), "{plain}");
        let forced = stderr_with(&[("CLICOLOR_FORCE", "1")], args);
        assert!(forced.contains(ESC), "{forced:?}");
        for env in [
            &[("NO_COLOR", "1")][..],
            &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")][..],
        ] {
            let text = stderr_with(env, args);
            assert!(!text.contains(ESC), "{env:?}: {text:?}");
        }
    }
    // What a person reads stays the same, colour or not.
    let forced = stderr_with(&[("CLICOLOR_FORCE", "1")], &["validate", "no-such-lab"]);
    assert!(
        forced.starts_with("\x1b[31;1merror:\x1b[0m no lab file `no-such-lab`"),
        "{forced:?}"
    );
}

// --- with the engine: -q and the report's colours --------------------------

const LAB: &str = "name: t-shell
networks:
  front: {}
nodes:
  web:
    networks: [front]
    serve: [tcp:7000]
  client:
    networks: [front]
checks:
  - tcp: { from: client, to: web:7000, expect: open }
  - dns: { from: client, name: web, expect: [web] }
";

/// The same topology with one check that fails (nothing listens on 7001).
const FAILING_CHECKS: &str =
    "  - tcp: { name: nothing listens on 7001, from: client, to: web:7001, expect: open }\n";

fn verify_with(lab: &str, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Process::new(netlab_bin());
    cmd.arg("verify").arg(lab).args(args);
    for var in ["NO_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "CI"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("netlab runs")
}

#[test]
fn quiet_prints_only_what_failed_and_colour_follows_the_settings() {
    if !docker_available() {
        return;
    }
    let lab = LabGuard::from_yaml("t-shell", LAB);
    let failing = LabGuard::from_yaml("t-shell", &format!("{LAB}{FAILING_CHECKS}"));
    let up = netlab(&["up", lab.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));

    // A passing lab under -q: the closing line and nothing else, on stdout
    // and on stderr.
    let out = verify_with(lab.path(), &[], &["-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "2 passed, 0 failed\n");
    assert_eq!(stderr(&out), "");

    // A failing one: the failing check's line and why, then the closing line.
    let out = verify_with(failing.path(), &[], &["--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("FAIL  nothing listens on 7001  refused"),
        "{text}"
    );
    assert_eq!(lines[1], "      why: nothing listens on 7001/tcp in web");
    assert_eq!(lines[2], "2 passed, 1 failed");

    // Colour: none on a pipe, none with NO_COLOR, forced by CLICOLOR_FORCE.
    let plain = stdout(&verify_with(failing.path(), &[], &[]));
    assert!(!plain.contains(ESC), "{plain:?}");
    assert!(plain.contains("\nPASS  "), "{plain}");
    let forced = stdout(&verify_with(
        failing.path(),
        &[("CLICOLOR_FORCE", "1")],
        &[],
    ));
    assert!(forced.contains("\x1b[32mPASS\x1b[0m  "), "{forced:?}");
    assert!(forced.contains("\x1b[31;1mFAIL\x1b[0m  "), "{forced:?}");
    let declined = stdout(&verify_with(
        failing.path(),
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        &[],
    ));
    assert!(!declined.contains(ESC), "{declined:?}");
    assert_eq!(
        declined.lines().count(),
        plain.lines().count(),
        "{declined}"
    );

    let down = netlab(&["down", "t-shell"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    lab.assert_nothing_left();
}
