//! Command-line behaviour that needs no Docker: validate, labs, usage errors.
//! `DOCKER_HOST` points nowhere to prove these never talk to the engine.

mod support;

use std::process::Command;

use support::*;

fn offline(args: &[&str]) -> std::process::Output {
    Command::new(netlab_bin())
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("netlab runs")
}

#[test]
fn validate_a_builtin_lab_without_docker() {
    let out = offline(&["validate", "bridge-basic"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "bridge-basic: lab `bridge-basic` is valid (2 networks, 5 nodes, 9 checks)\n"
    );
}

#[test]
fn validate_reports_every_problem_with_file_line_and_column_and_exits_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("broken.yaml");
    std::fs::write(
        &path,
        "networks:\n  front: { subnet: 10.300.0.0/24 }\nnodes:\n  web:\n    networks: [frnt]\nchecks:\n  - tcp: { from: web, to: web, expect: open }\n",
    )
    .expect("write");
    let out = offline(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let file = path.display();
    assert!(err.contains(&format!("--> {file}:2:20")), "{err}");
    assert!(
        err.contains("error: `10.300.0.0/24` is not an IPv4 CIDR"),
        "{err}"
    );
    assert!(err.contains(&format!("--> {file}:5:16")), "{err}");
    assert!(err.contains("help: did you mean `front`?"), "{err}");
    assert!(err.contains("error: target `web` has no port"), "{err}");
    assert!(err.contains("3 errors found; nothing was created"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn an_unknown_field_is_shown_with_a_snippet_and_a_suggestion() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("typo.yaml");
    std::fs::write(&path, "netwrks:\n  front: {}\nnodes: {}\n").expect("write");
    let out = offline(&["up", path.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "invalid input must exit 2 before the engine is contacted"
    );
    let err = stderr(&out);
    assert!(err.contains("unknown field `netwrks`"), "{err}");
    assert!(err.contains("help: did you mean `networks`?"), "{err}");
}

#[test]
fn an_unknown_lab_lists_the_builtin_ones() {
    let out = offline(&["validate", "no-such-lab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no lab file `no-such-lab` and no built-in lab of that name"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("bridge-basic"));
}

#[test]
fn labs_lists_builtins_with_a_description() {
    let out = offline(&["labs"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.starts_with("LAB"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("bridge-basic") && l.contains("user-defined bridge")),
        "{text}"
    );
}

#[test]
fn a_bad_command_line_exits_2() {
    let out = offline(&["up"]);
    assert_eq!(out.status.code(), Some(2));
    let out = offline(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_the_exit_codes() {
    let out = offline(&["--help"]);
    let text = stdout(&out);
    for line in [
        "0  every check passed",
        "1  at least one check failed",
        "2  the lab file or the command line is invalid",
        "3  the Docker engine failed",
    ] {
        assert!(text.contains(line), "{text}");
    }
}
