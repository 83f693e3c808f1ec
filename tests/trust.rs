//! Checks whose PASS and FAIL mean what they say, on the real engine: a
//! dead resolver is inconclusive, a published http or https port proves the
//! node behind it, a verify of an edited file runs that file's checks, two
//! racing `up`s leave one winner, parallel copies of one lab run side by
//! side, and an agent that dies during verify is an error, not a finding.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

#[test]
fn a_node_with_no_resolver_it_can_reach_is_unresolved_and_says_why() {
    if !docker_available() {
        return;
    }
    // A node in network mode none has only loopback: the name servers of
    // its resolv.conf (the host's) are unreachable from it. That is
    // evidence (no resolver), not silence.
    let guard = LabGuard::from_yaml(
        "t-deaf",
        "name: t-deaf\nnetworks:\n  a: {}\nnodes:\n  web:\n    networks: [a]\n  lonely:\n    network_mode: none\nchecks:\n  - dns: { from: lonely, name: web, expect: unresolved }\n  - dns: { from: web, name: nosuchnode, expect: unresolved }\n",
    );
    let text = run_passes(&guard, 2);
    let line = text
        .lines()
        .find(|l| l.contains("dns lonely → web"))
        .expect("the check is reported");
    assert!(
        line.contains("unresolved: no resolver reachable from this node (")
            && line.contains("unreachable"),
        "{text}"
    );
    // The opposite cannot pass on that evidence.
    let wrong = LabGuard::from_yaml(
        "t-deaf-wrong",
        "name: t-deaf-wrong\nnetworks:\n  a: {}\nnodes:\n  web:\n    networks: [a]\n  lonely:\n    network_mode: none\nchecks:\n  - dns: { from: lonely, name: web, expect: resolves }\n",
    );
    let out = netlab(&["run", wrong.path()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    wrong.assert_nothing_left();
}

#[test]
fn a_port_served_over_http_or_https_is_proven_by_whoami() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml(
        "t-webports",
        "name: t-webports\nnetworks:\n  a: {}\nnodes:\n  web:\n    networks: [a]\n    serve: [http:80, https:443]\n    ports: [\"127.0.0.1::80\", \"127.0.0.1::443\"]\n  rogue:\n    networks: [a]\n    serve: [https:443]\n    ca: other\n    ports: [\"127.0.0.1::443\"]\nchecks:\n  - port: { node: web, port: 80, expect: published }\n  - port: { node: web, port: 443, expect: published }\n  - port: { node: rogue, port: 443, expect: published }\n",
    );
    let text = run_passes(&guard, 3);
    assert!(text.contains("answered by web of lab t-webports"), "{text}");
    assert!(
        text.contains("answered by rogue of lab t-webports"),
        "{text}"
    );
}

#[test]
fn verify_of_an_edited_file_runs_its_checks_and_refuses_another_topology() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "t-edited", |y| y);
    let up = netlab(&["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let original = std::fs::read_to_string(&guard.file).expect("read");
    // An expectation turned around: the file's check runs, not the stored one.
    std::fs::write(
        &guard.file,
        original.replace(
            "tcp: { from: client, to: web:7001, expect: refused }",
            "tcp: { from: client, to: web:7001, expect: open }",
        ),
    )
    .expect("write");
    let verify = netlab(&["verify", guard.path()]);
    let text = stdout(&verify);
    assert_eq!(verify.status.code(), Some(1), "{text}\n{}", stderr(&verify));
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("tcp client → web:7001 is open")),
        "{text}"
    );
    // Another topology: refused, saying what differs.
    std::fs::write(
        &guard.file,
        original.replace("front: { aliases: [www] }", "front: { aliases: [www, w3] }"),
    )
    .expect("write");
    let verify = netlab(&["verify", guard.path()]);
    assert_eq!(verify.status.code(), Some(2), "{}", stdout(&verify));
    assert!(
        stderr(&verify).contains("differs from lab `t-edited` as it is up: node `web` changed"),
        "{}",
        stderr(&verify)
    );
    assert!(
        stderr(&verify).contains("`netlab up"),
        "{}",
        stderr(&verify)
    );
    let down = netlab(&["down", "t-edited"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}

#[test]
fn of_two_racing_ups_one_wins_and_the_other_removes_nothing() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "t-race", |y| y);
    let spawn = || {
        Command::new(netlab_bin())
            .args(["up", guard.path()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    // Both may succeed when one finishes before the other starts: then the
    // second found the lab up and changed nothing.
    let loser = [&a, &b].into_iter().find(|o| o.status.code() == Some(2));
    match loser {
        Some(l) => {
            assert_eq!(codes, [Some(0), Some(2)], "{}\n{}", stderr(&a), stderr(&b));
            assert!(
                stderr(l).contains("lab `t-race` is being changed by "),
                "{}",
                stderr(l)
            );
        }
        None => assert_eq!(codes, [Some(0), Some(0)], "{}\n{}", stderr(&a), stderr(&b)),
    }
    // The winner's lab is whole.
    assert_all_passed(&netlab(&["verify", "t-race"]), 9);
    let down = netlab(&["down", "t-race"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}

#[test]
fn two_copies_of_one_lab_run_side_by_side_under_their_own_names() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("dns-round-robin", "t-copy", |y| y);
    let names = ["t-copy-a", "t-copy-b"];
    let _guards: Vec<LabGuard> = names
        .iter()
        .map(|n| LabGuard::from_yaml(n, "name: unused\nnodes:\n  x: { network_mode: none }\n"))
        .collect();
    let runs: Vec<_> = names
        .iter()
        .map(|n| {
            Command::new(netlab_bin())
                .args(["run", guard.path(), "--name", n])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().expect("run");
        assert_all_passed(&out, 4);
    }
    for n in names {
        assert_eq!(leftovers(n), (Vec::new(), Vec::new()));
    }
}

#[test]
fn an_agent_that_dies_during_verify_is_an_error_not_a_finding() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml(
        "t-dying",
        "name: t-dying\nnetworks:\n  a: {}\n  b: {}\nnodes:\n  far:\n    networks: [b]\n    serve: [tcp:7000]\n  near:\n    networks: [a]\nchecks:\n  - tcp: { from: near, to: far:7000, expect: blocked, timeout: 8s }\n",
    );
    let up = netlab(&["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let verify = Command::new(netlab_bin())
        .args(["verify", "t-dying", "--junit"])
        .arg(guard.dir.path().join("junit.xml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(2));
    let killed = Command::new("docker")
        .args(["kill", "netlab_t-dying_near"])
        .output()
        .expect("docker kill");
    assert!(killed.status.success(), "{}", stderr(&killed));
    let out = verify.wait_with_output().expect("verify");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    assert!(text.lines().any(|l| l.starts_with("ERROR")), "{text}");
    assert!(
        text.ends_with("0 passed, 0 failed, 1 could not run (errors)\n"),
        "{text}"
    );
    let junit = std::fs::read_to_string(guard.dir.path().join("junit.xml")).expect("junit");
    assert!(junit.contains("<error"), "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    let down = netlab(&["down", "t-dying"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}
