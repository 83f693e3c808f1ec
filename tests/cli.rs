//! Command-line behaviour that needs no Docker: validate, labs, graph, usage
//! errors. `DOCKER_HOST` points nowhere to prove these never talk to the
//! engine.

mod support;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

use support::netlab_bin;

fn offline() -> Command {
    let mut cmd = Command::new(netlab_bin());
    cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

#[test]
fn validate_a_builtin_lab_without_docker() {
    offline()
        .args(["validate", "bridge-basic"])
        .assert()
        .code(0)
        .stdout("bridge-basic: lab `bridge-basic` is valid (2 networks, 5 nodes, 9 checks)\n");
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
    let file = path.display().to_string();
    offline()
        .args(["validate", &file])
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains(format!("--> {file}:2:20")))
        .stderr(contains("error: `10.300.0.0/24` is not an IPv4 CIDR"))
        .stderr(contains(format!("--> {file}:5:16")))
        .stderr(contains("help: did you mean `front`?"))
        .stderr(contains("error: target `web` has no port"))
        .stderr(contains("3 errors found; nothing was created"));
}

#[test]
fn an_unknown_field_is_shown_with_a_snippet_and_a_suggestion_before_the_engine_is_contacted() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("typo.yaml");
    std::fs::write(&path, "netwrks:\n  front: {}\nnodes: {}\n").expect("write");
    offline()
        .args(["up", path.to_str().expect("utf-8")])
        .assert()
        .code(2)
        .stderr(contains("unknown field `netwrks`"))
        .stderr(contains("help: did you mean `networks`?"))
        .stderr(contains("cannot reach the Docker engine").not());
}

#[test]
fn an_unknown_lab_lists_the_builtin_ones() {
    offline()
        .args(["validate", "no-such-lab"])
        .assert()
        .code(2)
        .stderr(contains(
            "no lab file `no-such-lab` and no built-in lab of that name",
        ))
        .stderr(contains("bridge-basic, bridge-isolation, port-mapping"));
}

#[test]
fn labs_lists_every_builtin_with_a_description() {
    let assert = offline()
        .arg("labs")
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("LAB"));
    let text = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for lab in [
        "bridge-basic",
        "bridge-isolation",
        "port-mapping",
        "host-network",
        "overlay-basic",
        "dns-round-robin",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(lab) && l.len() > lab.len() + 10),
            "{lab} missing:\n{text}"
        );
    }
}

#[test]
fn graph_prints_mermaid_and_dot_without_docker() {
    offline()
        .args(["graph", "bridge-basic"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("flowchart LR\n"))
        .stdout(contains("node_web ---|\"www\"| net_front"));
    offline()
        .args(["graph", "bridge-basic", "--format", "dot"])
        .assert()
        .code(0)
        .stdout(predicate::str::starts_with("graph \"bridge-basic\" {"));
}

#[test]
fn a_bad_command_line_exits_2() {
    offline().arg("up").assert().code(2);
    offline().arg("frobnicate").assert().code(2);
    offline()
        .args(["verify", "--output", "yaml"])
        .assert()
        .code(2);
}

#[test]
fn an_unreachable_engine_exits_3_naming_the_socket_with_a_hint() {
    offline()
        .args(["up", "bridge-basic"])
        .assert()
        .code(3)
        .stderr(contains(
            "cannot reach the Docker engine at unix:///nonexistent/docker.sock",
        ))
        .stderr(contains("hint: is the Docker daemon running?"));
    offline().args(["verify"]).assert().code(3);
    offline().args(["down", "x"]).assert().code(3);
    offline().arg("ls").assert().code(3);
}

#[test]
fn a_deadline_too_short_to_mean_blocked_is_refused() {
    let cases: [&[&str]; 3] = [
        &["verify", "--timeout", "0s"],
        &["verify", "--timeout", "150ms"],
        &["run", "bridge-basic", "--timeout", "0s"],
    ];
    for args in cases {
        offline()
            .args(args)
            .assert()
            .code(2)
            .stderr(contains("too short"));
    }
}

#[test]
fn contexts_and_host_bindings_are_checked_before_any_engine_is_asked() {
    let config = tempfile::tempdir().expect("tmp");
    offline()
        .env("DOCKER_CONFIG", config.path())
        .args(["--context", "nope", "ls"])
        .assert()
        .code(2)
        .stderr(contains("no docker context `nope`"));
    offline()
        .args(["up", "bridge-basic", "--host", "east=unix:///x.sock"])
        .assert()
        .code(2)
        .stderr(contains(
            "--host east=unix:///x.sock binds host `east`, but lab `bridge-basic` has no such host",
        ));
    offline()
        .args(["up", "bridge-basic", "--host", "local=ftp://x"])
        .assert()
        .code(2)
        .stderr(contains("is not a Docker address"));
    offline()
        .args(["up", "bridge-basic", "--name", "Bad_Name"])
        .assert()
        .code(2)
        .stderr(contains("`Bad_Name` is not a valid lab name"));
}

#[test]
fn an_unwritable_junit_path_is_refused_before_anything_runs() {
    offline()
        .args([
            "run",
            "bridge-basic",
            "--junit",
            "/nonexistent-dir/report.xml",
        ])
        .assert()
        .code(2)
        .stderr(contains(
            "cannot write the JUnit report to /nonexistent-dir/report.xml",
        ));
}

#[test]
fn a_lab_without_checks_cannot_be_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("empty.yaml");
    std::fs::write(&file, "nodes:\n  a: { network_mode: none }\n").expect("write");
    offline()
        .args(["run", file.to_str().expect("utf-8")])
        .assert()
        .code(2)
        .stderr(contains(
            "lab `empty` has no checks: there is nothing to verify",
        ));
}

#[test]
fn help_documents_the_exit_codes() {
    offline()
        .arg("--help")
        .assert()
        .code(0)
        .stdout(contains("0  every check passed"))
        .stdout(contains("1  at least one check failed"))
        .stdout(contains("2  the lab file or the command line is invalid"))
        .stdout(contains("3  the Docker engine failed"));
}

#[test]
fn report_makes_the_page_of_a_saved_json_report_without_docker() {
    let dir = tempfile::tempdir().expect("tmp");
    let page = dir.path().join("page.html");
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/html");
    offline()
        .args([
            "report",
            "--html",
            page.to_str().expect("utf-8"),
            &format!("{data}/pass.json"),
        ])
        .assert()
        .code(0)
        .stderr(contains("wrote").and(contains("page.html")));
    let golden = std::fs::read_to_string(format!("{data}/pass.html")).expect("golden");
    assert_eq!(
        std::fs::read_to_string(&page).expect("page"),
        golden,
        "the same bytes as the golden page"
    );
    // From standard input too.
    offline()
        .args(["report", "--html", page.to_str().expect("utf-8"), "-"])
        .write_stdin(std::fs::read(format!("{data}/pass.json")).expect("json"))
        .assert()
        .code(0);
    assert_eq!(std::fs::read_to_string(&page).expect("page"), golden);
}

#[test]
fn report_refuses_what_is_not_a_json_report_naming_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\n  \"lab\": \"x\",\n  \"checks\": [1]\n}\n").expect("write");
    let page = dir.path().join("page.html");
    offline()
        .args([
            "report",
            "--html",
            page.to_str().expect("utf-8"),
            bad.to_str().expect("utf-8"),
        ])
        .assert()
        .code(2)
        .stderr(
            contains(format!("{}:3:", bad.display())).and(contains("not a netlab JSON report")),
        );
    assert!(!page.exists(), "nothing is written");
}

#[test]
fn an_html_page_that_cannot_be_written_is_refused_before_anything_runs() {
    offline()
        .args([
            "run",
            "bridge-basic",
            "--html",
            "/nonexistent-dir/page.html",
        ])
        .assert()
        .code(2)
        .stderr(
            contains("cannot write the HTML page to /nonexistent-dir/page.html")
                .and(contains("nothing was run")),
        );
}

#[test]
fn deadlines_beyond_their_caps_are_refused_before_anything_is_made() {
    offline()
        .args(["up", "bridge-basic", "--wait", "100000000000h"])
        .assert()
        .code(2)
        .stderr(contains("is too long: `up` waits at most 1h"));
    offline()
        .args(["run", "bridge-basic", "--timeout", "6m"])
        .assert()
        .code(2)
        .stderr(contains("is too long: a check's deadline is at most 5m"));
}

#[test]
fn a_junit_path_that_is_a_symbolic_link_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().expect("tmp");
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me").expect("write");
    let link = dir.path().join("report.xml");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    offline()
        .args(["run", "bridge-basic", "--junit"])
        .arg(&link)
        .assert()
        .code(2)
        .stderr(contains(
            "is a symbolic link; netlab does not write report files through links",
        ));
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep me");
}

#[test]
fn a_network_option_that_adopts_a_host_interface_is_refused_where_it_stands() {
    let dir = tempfile::tempdir().expect("tmp");
    let lab = dir.path().join("adopt.yaml");
    std::fs::write(
        &lab,
        "networks:\n  lan:\n    options:\n      com.docker.network.bridge.name: eth0\nnodes:\n  a: { networks: [lan] }\n",
    )
    .expect("write");
    offline()
        .arg("up")
        .arg(&lab)
        .assert()
        .code(2)
        .stderr(contains(
            "network `lan`: option `com.docker.network.bridge.name` is not accepted",
        ))
        .stderr(contains("adopt.yaml:4:7"))
        .stderr(contains("com.docker.network.bridge.enable_ip_masquerade"));
}
