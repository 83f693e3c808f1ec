//! netlab under faults, against the real engine: a node that dies during
//! verify, a subnet that collides with the engine's, signals in the middle
//! of `up`, reports read back by a JUnit parser, and many cycles with kills
//! at random moments — nothing may be left behind.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use support::*;

const SMALL: &str = "name: x
description: Two nodes on one bridge.
networks:
  a: {}
nodes:
  one:
    networks: [a]
    serve: [tcp:7000]
  two:
    networks: [a]
    serve: [tcp:7000]
checks:
  - tcp: { from: one, to: two:7000, expect: open }
  - tcp: { from: two, to: one:7000, expect: open }
  - dns: { from: one, name: two, expect: [two] }
";

#[test]
fn a_node_that_dies_makes_its_own_checks_errors_and_the_others_still_run() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-dies", SMALL);
    assert_eq!(netlab(&["up", guard.path()]).status.code(), Some(0));
    let killed = Command::new("docker")
        .args(["kill", "netlab_t-dies_two"])
        .output()
        .expect("docker kill");
    assert!(killed.status.success(), "{}", stderr(&killed));
    let out = netlab(&["verify", "t-dies"]);
    let text = stdout(&out);
    // Nothing can be observed from a dead node: its checks are errors
    // (exit 3); the checks aimed at it are failures.
    assert_eq!(out.status.code(), Some(3), "{text}{}", stderr(&out));
    let line = |title: &str| {
        text.lines()
            .find(|l| l.contains(title))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("tcp two → one:7000").starts_with("ERROR"), "{text}");
    assert!(
        line("tcp two → one:7000").contains("node `two` is not running: exited (exit code 137)"),
        "{text}"
    );
    assert!(line("tcp one → two:7000").starts_with("FAIL"), "{text}");
    assert!(
        line("tcp one → two:7000").contains("node `two` has no address"),
        "{text}"
    );
    assert!(line("dns one → two").starts_with("FAIL"), "{text}");
    assert!(
        text.ends_with("0 passed, 2 failed, 1 could not run (errors)\n"),
        "{text}"
    );
    assert_eq!(netlab(&["down", "t-dies"]).status.code(), Some(0));
    guard.assert_nothing_left();
}

#[test]
fn a_subnet_that_overlaps_an_engine_network_is_refused_before_anything_is_created() {
    if !docker_available() {
        return;
    }
    struct Net(&'static str);
    impl Drop for Net {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["network", "rm", self.0])
                .output();
        }
    }
    let made = Command::new("docker")
        .args([
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--label",
            "io.netlab.test=1",
            "t-overlap-holder",
        ])
        .output()
        .expect("docker network create");
    assert!(made.status.success(), "{}", stderr(&made));
    let _holder = Net("t-overlap-holder");
    let guard = LabGuard::from_yaml(
        "t-overlap",
        "name: x\nnetworks:\n  a: { subnet: 10.231.0.0/25 }\nnodes:\n  one:\n    networks: [a]\n",
    );
    let out = netlab(&["up", guard.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("subnet 10.231.0.0/25 of network `a` overlaps 10.231.0.0/24 of the engine's network `t-overlap-holder`; nothing was created"),
        "{}",
        stderr(&out)
    );
    guard.assert_nothing_left();
}

#[test]
fn sigterm_during_up_removes_everything_and_exits_130() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-term", SMALL);
    let child = Command::new(netlab_bin())
        .args(["up", guard.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn up");
    let deadline = Instant::now() + Duration::from_secs(60);
    while leftovers(&guard.name).1.is_empty() {
        assert!(Instant::now() < deadline, "up created nothing within 60s");
        std::thread::sleep(Duration::from_millis(10));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "stderr:\n{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    guard.assert_nothing_left();
}

#[test]
fn the_junit_file_reads_back_with_the_counts_of_the_human_report() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-junit", &SMALL.replace("expect: [two]", "expect: [one]"));
    let xml = guard.dir.path().join("report.xml");
    let out = netlab(&["run", guard.path(), "--junit", xml.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let human = stdout(&out);
    assert!(human.ends_with("2 passed, 1 failed\n"), "{human}");
    let report = quick_junit::Report::deserialize_from_str(
        &std::fs::read_to_string(&xml).expect("junit written"),
    )
    .expect("valid JUnit");
    assert_eq!((report.tests, report.failures), (3, 1));
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "t-junit");
    let failed: Vec<&str> = suite
        .test_cases
        .iter()
        .filter(|c| !matches!(c.status, quick_junit::TestCaseStatus::Success { .. }))
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["dns one → two is one"]);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains(failed[0])),
        "{human}"
    );
    guard.assert_nothing_left();
}

#[test]
fn json_output_is_one_document() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-json", SMALL);
    let out = netlab(&["run", guard.path(), "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["lab"], "t-json");
    assert_eq!(doc["passed"], 3);
    assert!(
        doc["engine"]["version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(doc["checks"][0]["target"], "two:7000");
    assert_eq!(doc["checks"][0]["outcome"], "pass");
    guard.assert_nothing_left();
}

/// A tiny deterministic generator for kill moments (no crate for ten lines).
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn twenty_cycles_and_runs_killed_at_random_moments_leave_nothing() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-cycles", SMALL);
    for i in 0..20 {
        let up = netlab(&["up", guard.path()]);
        assert_eq!(up.status.code(), Some(0), "cycle {i}: {}", stderr(&up));
        let down = netlab(&["down", "t-cycles"]);
        assert_eq!(down.status.code(), Some(0), "cycle {i}: {}", stderr(&down));
        guard.assert_nothing_left();
    }
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    let mut moments = Moments(seed);
    for i in 0..5 {
        let after = Duration::from_millis(100 + moments.next_ms(3000));
        let mut child = Command::new(netlab_bin())
            .args(["run", guard.path()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn run");
        std::thread::sleep(after);
        let _ = child.kill();
        let _ = child.wait();
        let down = netlab(&["down", "t-cycles"]);
        assert_eq!(
            down.status.code(),
            Some(0),
            "kill {i} after {after:?} (seed {seed}): {}",
            stderr(&down)
        );
        guard.assert_nothing_left();
    }
}
