//! Real-engine tests of the lab lifecycle: up, verify, down, run.
//! Each test uses its own lab name so tests can run in parallel.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

#[test]
fn run_bridge_basic_passes_and_leaves_nothing() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "t-run-basic", |y| y);
    let out = netlab(&["run", guard.path()]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    assert!(text.lines().all(|l| !l.starts_with("FAIL")), "{text}");
    assert!(text.ends_with("passed, 0 failed\n"), "{text}");
    assert!(text.contains("PASS  dns client → www is web"), "{text}");
    guard.assert_nothing_left();
}

#[test]
fn a_wrong_expectation_fails_with_exit_1_naming_the_check_and_still_tears_down() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "t-run-wrong", |y| {
        y.replace(
            "tcp: { from: outsider, to: web:7000, expect: blocked }",
            "tcp: { from: outsider, to: web:7000, expect: open }",
        )
    });
    let out = netlab(&["run", guard.path()]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(&out)
    );
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].contains("tcp outsider → web:7000 is open"),
        "{text}"
    );
    assert!(
        failed[0].contains("blocked: no answer before the deadline"),
        "{text}"
    );
    assert!(text.ends_with(" passed, 1 failed\n"), "{text}");
    guard.assert_nothing_left();
}

#[test]
fn up_verify_down_work_without_the_lab_file_and_up_again_changes_nothing() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "t-lifecycle", |y| y);
    let up = netlab(&["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert!(
        stdout(&up).contains("lab `t-lifecycle` is up: 5 nodes, 2 networks"),
        "{}",
        stdout(&up)
    );

    let again = netlab(&["up", guard.path()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("lab `t-lifecycle` is up to date (nothing changed)"),
        "{}",
        stdout(&again)
    );

    let ls = netlab(&["ls"]);
    assert!(
        stdout(&ls)
            .lines()
            .any(|l| l.starts_with("t-lifecycle") && l.contains("5/5") && l.contains("running")),
        "{}",
        stdout(&ls)
    );

    // The engine is the only state: verify and down by name, file gone, from elsewhere.
    std::fs::remove_file(&guard.file).expect("remove lab file");
    let verify = Command::new(netlab_bin())
        .args(["verify", "t-lifecycle"])
        .current_dir("/")
        .output()
        .expect("runs");
    assert_all_passed(&verify, 9);

    let down = Command::new(netlab_bin())
        .args(["down", "t-lifecycle"])
        .current_dir("/")
        .output()
        .expect("runs");
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert!(
        stdout(&down).contains("lab `t-lifecycle` removed: 5 nodes, 2 networks"),
        "{}",
        stdout(&down)
    );
    guard.assert_nothing_left();

    let verify = netlab(&["verify", "t-lifecycle"]);
    assert_eq!(verify.status.code(), Some(2));
    assert!(
        stderr(&verify).contains("lab `t-lifecycle` is not up"),
        "{}",
        stderr(&verify)
    );
}

#[test]
fn an_up_killed_midway_is_fully_removed_by_down() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "t-killed", |y| y);
    let mut child = Command::new(netlab_bin())
        .args(["up", guard.path()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn up");
    // Kill it once the engine holds part of the lab.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (containers, networks) = leftovers(&guard.name);
        if !containers.is_empty() || !networks.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "up created nothing within 60s");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "up finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let down = netlab(&["down", &guard.name]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}

#[test]
fn run_interrupted_by_sigint_tears_down_and_exits_130() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("bridge-basic", "t-sigint", |y| y);
    let child = Command::new(netlab_bin())
        .args(["run", guard.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn run");
    let deadline = Instant::now() + Duration::from_secs(60);
    while leftovers(&guard.name).0.is_empty() {
        assert!(
            Instant::now() < deadline,
            "run created no container within 60s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill -INT");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "stderr:\n{}", stderr(&out));
    guard.assert_nothing_left();
}

/// `egress`: the kernel's routing decision, read in the node (nothing is
/// sent). Docker 26.1 gives a container only on internal networks no
/// default route — an agent and a foreign node (through its helper) alike —
/// while 20.10 still gives it one through the bridge's gateway (its
/// iptables rules drop what leaves); a node on an ordinary bridge has one
/// on both. Each version's check is `requires:`-gated, so the lab passes on
/// both; the mutant (no route from the node that has one) fails on 26.1.
/// The lab's finding is in every report format.
const EGRESS: &str = r#"
name: t-egress
networks:
  vault: { internal: true }
  lan: {}
nodes:
  sealed: { networks: [vault] }
  sealed-box: { image: "netlab-test/busybox:1", networks: [vault] }
  open: { networks: [lan, vault] }
checks:
  - egress: { node: sealed, expect: none, requires: { engine: ">=26" } }
  - egress: { node: sealed-box, expect: none, requires: { engine: ">=26" } }
  - egress: { node: sealed, expect: routed, requires: { engine: "<26" } }
  - egress: { node: open, expect: routed }
findings:
  - at: "compose.yaml:7:9"
    text: "`open` publishes 80/tcp on every host address"
"#;

#[test]
fn egress_is_read_from_the_routing_decision_on_20_10_and_26_1_and_a_mutant_fails() {
    if !docker_available() || !support::engines::engines_available() {
        return;
    }
    ensure_foreign_image();
    // The machine's engine (20.10): routed, also from the internal network.
    let guard = LabGuard::from_yaml("t-egress", EGRESS);
    let dir = tempfile::tempdir().expect("tmp");
    let junit = dir.path().join("j.xml");
    let html = dir.path().join("r.html");
    let out = netlab(&[
        "run",
        guard.path(),
        "--junit",
        junit.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.ends_with("2 passed, 0 failed, 2 skipped\n"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("PASS")
            && l.contains("egress sealed has a route out")
            && l.contains("a route to 192.0.2.1: from ")),
        "{text}"
    );
    guard.assert_nothing_left();
    // The finding, with its compose line, in the terminal, JUnit and the page.
    let finding = "finding: compose.yaml:7:9: `open` publishes 80/tcp on every host address";
    assert!(text.contains(finding), "{text}");
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(
        xml.contains("name=\"finding\"") && xml.contains("compose.yaml:7:9"),
        "{xml}"
    );
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("<code>compose.yaml:7:9</code>"), "{page}");

    // Docker 26.1: no route out of an internal network; JSON has the finding.
    let engines = support::engines::Engines::start_kind(&["egt26"], "trixie");
    let url = &engines.get("egt26").url;
    let load = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "docker save {FOREIGN_IMAGE} | docker -H {url} load -q"
        ))
        .output()
        .expect("sh");
    assert!(load.status.success(), "{}", stderr(&load));
    let guard = LabGuard::from_yaml("t-egress-26", EGRESS);
    let out = netlab_on(url, &["run", guard.path(), "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["passed"], 3, "{doc:#}");
    assert_eq!(doc["findings"][0]["at"], "compose.yaml:7:9", "{doc:#}");
    let observed: Vec<&str> = doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["observation"].as_str())
        .collect();
    assert!(
        observed
            .iter()
            .filter(|o| o.starts_with("no route to 192.0.2.1"))
            .count()
            == 2,
        "{observed:#?}"
    );
    let mutant = LabGuard::from_yaml(
        "t-egress-m",
        &EGRESS.replace(
            "egress: { node: open, expect: routed }",
            "egress: { node: open, expect: none }",
        ),
    );
    let out = netlab_on(url, &["run", mutant.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        failed.len() == 1 && failed[0].contains("egress open has no route out"),
        "{text}"
    );
    for g in [&guard, &mutant] {
        let (containers, networks) = engines.get("egt26").leftovers(&g.name);
        assert!(
            containers.is_empty() && networks.is_empty(),
            "{containers:?} {networks:?}"
        );
    }
}

/// Docker hands a dynamic address to whichever container asks first, so a
/// node made before the one given that address in the file takes it
/// ("Address already in use"). `up` makes the nodes with fixed addresses
/// first: six dynamic nodes declared before one that holds the subnet's
/// first address (the one Docker gives first) never take it.
#[test]
fn nodes_with_fixed_addresses_are_made_before_the_dynamic_ones() {
    if !docker_available() {
        return;
    }
    let mut yaml = String::from("name: x\nnetworks:\n  n: { subnet: 10.213.92.0/24 }\nnodes:\n");
    for i in 1..=6 {
        yaml.push_str(&format!("  d{i}:\n    networks: [n]\n"));
    }
    yaml.push_str("  fixed:\n    networks:\n      n: { ipv4: 10.213.92.2 }\n    serve: [tcp:7000]\nchecks:\n  - tcp: { from: d1, to: \"10.213.92.2:7000\", expect: open }\n");
    let guard = LabGuard::from_yaml("t-fixed-first", &yaml);
    let text = run_passes(&guard, 1);
    assert!(text.contains("answered by fixed"), "{text}");
}
