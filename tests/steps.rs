//! Labs that change, against the real engine: every action, each
//! impairment's measured effect, the mutants that must fail, the lab put
//! back after success, after a failed check, after Ctrl-C in the middle of
//! a step and after a verify that was killed; a node of a foreign image
//! impaired and restarted; the reports.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

fn inspect(container: &str) -> Value {
    let out = docker(&["inspect", container]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v[0].clone()
}

/// Runs a command in a container's network namespace (root: nsenter).
fn in_netns(container: &str, args: &[&str]) -> String {
    let pid = inspect(container)["State"]["Pid"].to_string();
    let out = Command::new("nsenter")
        .args(["-t", &pid, "-n"])
        .args(args)
        .output()
        .expect("nsenter runs");
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

/// The network namespace of a container (`net:[4026532…]`).
fn netns_of(container: &str) -> String {
    let pid = inspect(container)["State"]["Pid"].to_string();
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .expect("readlink")
        .to_string_lossy()
        .into_owned()
}

/// Containers of the lab that are netlab's helpers for steps (impair
/// helpers, the steps marker).
fn step_helpers(lab: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=io.netlab.lab={lab}"),
        "--format",
        "{{.Names}} {{.Label \"io.netlab.role\"}}",
    ]);
    stdout(&out)
        .lines()
        .filter(|l| l.ends_with(" impair") || l.ends_with(" steps"))
        .map(str::to_owned)
        .collect()
}

/// A node, and each of its networks with its aliases.
type Declared = (
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
);

/// The lab is as its file declares it: every node running and unpaused,
/// on exactly its networks with its aliases, no impairment on any of its
/// interfaces, no helper or marker of the steps left.
fn assert_as_declared(lab: &str, nodes: &[Declared]) {
    for (node, networks) in nodes {
        let name = format!("netlab_{lab}_{node}");
        let info = inspect(&name);
        assert_eq!(info["State"]["Running"], true, "{node} runs");
        assert_eq!(info["State"]["Paused"], false, "{node} is not paused");
        let attached: Vec<String> = info["NetworkSettings"]["Networks"]
            .as_object()
            .expect("networks")
            .keys()
            .cloned()
            .collect();
        let want: Vec<String> = networks
            .iter()
            .map(|(n, _)| format!("netlab_{lab}_{n}"))
            .collect();
        let mut sorted = attached.clone();
        sorted.sort();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        assert_eq!(sorted, want_sorted, "{node}'s networks");
        for (net, aliases) in *networks {
            let got =
                &info["NetworkSettings"]["Networks"][format!("netlab_{lab}_{net}")]["Aliases"];
            for alias in aliases.iter().chain(std::iter::once(node)) {
                assert!(
                    got.as_array().is_some_and(|a| a.iter().any(|x| x == alias)),
                    "{node} on {net} has alias {alias}: {got}"
                );
            }
        }
        let qdiscs = in_netns(&name, &["tc", "qdisc", "show"]);
        assert!(
            !qdiscs.contains("netem") && !qdiscs.contains("clsact"),
            "{node} is unimpaired: {qdiscs}"
        );
        let links = in_netns(&name, &["ip", "-o", "link"]);
        assert!(
            !links.contains("nlx"),
            "no emulator link in {node}: {links}"
        );
    }
    assert_eq!(
        step_helpers(lab),
        Vec::<String>::new(),
        "no helper or marker left"
    );
}

fn verify_json(lab: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["verify", lab, "--output", "json"];
    args.extend_from_slice(extra);
    let out = netlab(&args);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (out.status.code(), doc, stderr(&out))
}

fn up(guard: &LabGuard) {
    let out = netlab(&["up", guard.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Every check of a report, steady state and steps: (title, outcome).
fn outcomes(doc: &Value) -> Vec<(String, String)> {
    let checks = doc["checks"].as_array().cloned().unwrap_or_default();
    let step_checks = doc["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["checks"].as_array().cloned().unwrap_or_default());
    checks
        .into_iter()
        .chain(step_checks)
        .map(|c| {
            (
                c["title"].as_str().unwrap_or_default().to_owned(),
                c["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

const DNS_NODES: &[Declared] = &[
    ("app", &[("back", &[])]),
    ("db", &[("back", &["store"]), ("mgmt", &[])]),
    ("admin", &[("mgmt", &[])]),
    ("spare", &[("mgmt", &[])]),
];

#[test]
fn the_dns_lab_passes_twice_and_is_put_back_each_time() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("dns-follows-change", "t-st-dns", |y| y);
    up(&guard);
    let (code, first, err) = verify_json("t-st-dns", &[]);
    assert_eq!(code, Some(0), "{first:#}\n{err}");
    assert_eq!(first["passed"], 19);
    assert_eq!(
        first["checks"].as_array().map(Vec::len),
        Some(3),
        "the steady state's own"
    );
    assert_eq!(first["steps"].as_array().map(Vec::len), Some(5));
    let step4 = &first["steps"][3];
    assert_eq!(step4["actions"][1]["action"], "start");
    assert!(
        step4["actions"][1]["observation"]
            .as_str()
            .is_some_and(|o| o.contains("back 10.213.40.2 → 10.213.40.3 (new)")),
        "{step4:#}"
    );
    assert_eq!(first["restore"]["outcome"], "done");
    assert_as_declared("t-st-dns", DNS_NODES);
    // db is back at the address it had before the steps.
    let db = inspect("netlab_t-st-dns_db");
    assert_eq!(
        db["NetworkSettings"]["Networks"]["netlab_t-st-dns_back"]["IPAddress"],
        "10.213.40.2"
    );
    let (code, second, _) = verify_json("t-st-dns", &[]);
    assert_eq!(code, Some(0), "{second:#}");
    assert_eq!(outcomes(&first), outcomes(&second), "the same result again");
    assert_as_declared("t-st-dns", DNS_NODES);
    assert_eq!(netlab(&["down", "t-st-dns"]).status.code(), Some(0));
    guard.assert_nothing_left();
}

const IMPAIR_LAB: &str = "name: x
networks:
  lan: {}
nodes:
  web: { networks: [lan], serve: [tcp:7000] }
  client: { networks: [lan] }
checks:
  - latency: { from: client, to: web, expect: { median: ..5ms } }
steps:
  - title: delay
    do: [ { impair: { node: web, network: lan, delay: 50ms } } ]
    checks:
      - latency: { from: client, to: web, count: 30, expect: { median: 45ms..70ms } }
  - title: jitter
    do: [ { impair: { node: web, network: lan, delay: 60ms, jitter: 20ms } } ]
    checks:
      - latency: { from: client, to: web, count: 60, expect: { median: 45ms..85ms } }
  - title: loss
    do: [ { impair: { node: web, network: lan, loss: 30% } } ]
    checks:
      - loss: { from: client, to: web, count: 400, expect: 20%..40% }
  - title: duplicate
    do: [ { impair: { node: web, network: lan, duplicate: 50% } } ]
    checks:
      - loss: { from: client, to: web, count: 200, expect: ..2% }
  - title: corrupt
    do: [ { impair: { node: web, network: lan, corrupt: 30% } } ]
    checks:
      - loss: { from: client, to: web, count: 400, expect: 20%..40% }
  - title: reorder
    do: [ { impair: { node: web, network: lan, delay: 80ms, reorder: 50% } } ]
    checks:
      - latency: { from: client, to: web, count: 60, expect: { max: 70ms.. } }
  - title: rate
    do: [ { impair: { node: web, network: lan, rate: 16kbit } } ]
    checks:
      - latency: { from: client, to: web, count: 8, interval: 200ms, expect: { median: 40ms..80ms } }
  - title: cleared
    do: [ { clear: web } ]
    checks:
      - latency: { from: client, to: web, expect: { median: ..5ms } }
";

fn figures<'a>(doc: &'a Value, step: &str) -> &'a Value {
    let s = doc["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["title"] == step))
        .unwrap_or_else(|| panic!("step {step}"));
    &s["checks"][0]["measurement"]
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn each_impairment_shows_its_effect() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-st-impair", IMPAIR_LAB);
    up(&guard);
    let (code, doc, err) = verify_json("t-st-impair", &[]);
    assert_eq!(code, Some(0), "{doc:#}\n{err}");
    let delay = figures(&doc, "delay");
    assert!((45.0..70.0).contains(&f(&delay["median_ms"])), "{delay}");
    // Jitter spreads the round trips: up to 40 ms between the fastest and
    // the slowest of 60 (uniform over ±20 ms).
    let jitter = figures(&doc, "jitter");
    assert!(
        f(&jitter["max_ms"]) - f(&jitter["min_ms"]) > 20.0,
        "{jitter}"
    );
    // Without jitter they bunch: half of them within 10 ms of the fastest
    // (with jitter about 20 ms). The median, not p95 or max: the first
    // reply may wait for an ARP answer that is delayed too, and on two busy
    // cores the emulator's tail spreads (p95 − min was 25.8 ms once, with
    // the median 2.9 ms above the fastest).
    assert!(
        f(&delay["median_ms"]) - f(&delay["min_ms"]) < 10.0,
        "{delay}"
    );
    assert!(
        f(&jitter["median_ms"]) - f(&jitter["min_ms"]) > 10.0,
        "{jitter}"
    );
    let loss = figures(&doc, "loss");
    assert!((20.0..40.0).contains(&f(&loss["loss_percent"])), "{loss}");
    // Duplicates arrive as second replies to one request: no loss.
    let dup = figures(&doc, "duplicate");
    assert!(f(&dup["duplicates"]) > 50.0, "{dup}");
    // A corrupted reply fails its checksum and is dropped by the receiver.
    let corrupt = figures(&doc, "corrupt");
    assert!(
        (20.0..40.0).contains(&f(&corrupt["loss_percent"])),
        "{corrupt}"
    );
    // Reordered replies skip the delay: some come at once, some after it.
    let reorder = figures(&doc, "reorder");
    assert!(
        f(&reorder["min_ms"]) < 10.0 && f(&reorder["max_ms"]) > 70.0,
        "{reorder}"
    );
    // 98-byte replies at 16 kbit/s take 49 ms each to send.
    let rate = figures(&doc, "rate");
    assert!((40.0..80.0).contains(&f(&rate["median_ms"])), "{rate}");
    let impair = &doc["steps"][0]["actions"][0];
    assert!(
        impair["observation"].as_str().is_some_and(
            |o| o.contains("delay 50ms") && (o.contains("netem") || o.contains("emulator"))
        ),
        "{impair}"
    );
    assert_eq!(doc["restore"]["outcome"], "done");
    assert_as_declared(
        "t-st-impair",
        &[("web", &[("lan", &[])]), ("client", &[("lan", &[])])],
    );
    assert_eq!(netlab(&["down", "t-st-impair"]).status.code(), Some(0));
    guard.assert_nothing_left();
}

/// In each step the network shows the opposite of one expectation: each of
/// them, and only they, FAIL; the lab is put back all the same.
const MUTANTS: &str = "name: x
networks:
  front: {}
  back: {}
nodes:
  web: { networks: [front], serve: [tcp:7000, udp:7001] }
  client: { networks: [front] }
  db: { networks: { back: { aliases: [store] } }, serve: [tcp:7000] }
  app: { networks: [back] }
checks:
  - loss: { title: unimpaired link expected lossy, from: client, to: web, count: 200, expect: 20%..40% }
steps:
  - title: slow link expected fast
    do: [ { impair: { node: web, network: front, delay: 100ms } } ]
    checks:
      - latency: { title: median under 5ms, from: client, to: web, count: 20, expect: { median: ..5ms } }
      - latency: { title: p95 under 50ms, from: client, to: web, count: 20, expect: { p95: ..50ms } }
      - latency: { title: max under 50ms, from: client, to: web, count: 20, expect: { max: ..50ms } }
      - latency: { title: slow as it is, from: client, to: web, count: 20, expect: { median: 90ms.. } }
  - title: lossy link expected clean
    do: [ { impair: { node: web, network: front, loss: 50% } } ]
    checks:
      - loss: { title: no loss expected, from: client, to: web, count: 200, expect: ..5% }
  - title: db gone, expected there
    do: [ { clear: web }, { disconnect: { node: db, network: back } } ]
    checks:
      - dns: { title: db still resolves, from: app, name: db, expect: resolves }
      - dns: { title: store unresolved, from: app, name: store, expect: unresolved }
  - title: db back, expected gone
    do: [ { connect: { node: db, network: back } } ]
    checks:
      - dns: { title: store gone, from: app, name: store, expect: unresolved }
  - title: web paused, expected to answer
    do: [ { pause: web } ]
    checks:
      - udp: { title: paused web answers, from: client, to: web:7001, expect: open }
      - latency: { title: kernel answers, from: client, to: web, expect: { median: ..5ms } }
";

#[test]
fn every_expectation_of_a_step_can_fail_and_the_lab_is_put_back_after() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-st-mutant", MUTANTS);
    up(&guard);
    let (code, doc, err) = verify_json("t-st-mutant", &[]);
    assert_eq!(code, Some(1), "{doc:#}\n{err}");
    let failed: Vec<String> = outcomes(&doc)
        .into_iter()
        .filter(|(_, o)| o != "pass")
        .map(|(t, o)| format!("{t}: {o}"))
        .collect();
    assert_eq!(
        failed,
        [
            "unimpaired link expected lossy: fail",
            "median under 5ms: fail",
            "p95 under 50ms: fail",
            "max under 50ms: fail",
            "no loss expected: fail",
            "db still resolves: fail",
            "store gone: fail",
            "paused web answers: fail",
        ]
    );
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(3), Some(8))
    );
    assert_eq!(doc["restore"]["outcome"], "done");
    assert_as_declared(
        "t-st-mutant",
        &[
            ("web", &[("front", &[])]),
            ("client", &[("front", &[])]),
            ("db", &[("back", &["store"])]),
            ("app", &[("back", &[])]),
        ],
    );
    assert_eq!(netlab(&["down", "t-st-mutant"]).status.code(), Some(0));
    guard.assert_nothing_left();
}

/// A lab changed in every way a step can, then a long wait in which the
/// verify is interrupted.
const CHANGED: &str = "name: x
networks:
  front: {}
  back: {}
nodes:
  web: { networks: { front: { aliases: [www] } }, serve: [tcp:7000] }
  client: { networks: [front] }
  db: { networks: { back: { aliases: [store] }, front: {} }, serve: [tcp:7000] }
checks:
  - tcp: { from: client, to: web:7000, expect: open }
steps:
  - title: everything changes
    do:
      - impair: { node: web, network: front, delay: 20ms }
      - disconnect: { node: db, network: back }
      - connect: { node: client, network: back }
      - pause: db
      - kill: client
      - wait: 30s
    checks:
      - dns: { from: web, name: db, expect: [db] }
  - title: never reached
    do: [ { wait: 1s } ]
    checks:
      - tcp: { from: web, to: db:7000, expect: open }
";

const CHANGED_NODES: &[Declared] = &[
    ("web", &[("front", &["www"])]),
    ("client", &[("front", &[])]),
    ("db", &[("back", &["store"]), ("front", &[])]),
];

/// Starts `verify` and waits until the step's `wait` runs (the marker is
/// there and client was killed).
fn verify_until_waiting(lab: &str) -> std::process::Child {
    let child = Command::new(netlab_bin())
        .args(["verify", lab])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn verify");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let client = inspect(&format!("netlab_{lab}_client"));
        if client["State"]["Running"] == false {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the step did not start within 60s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The kill is the action before the wait.
    std::thread::sleep(Duration::from_millis(500));
    child
}

#[test]
fn ctrl_c_in_the_middle_of_a_step_keeps_what_finished_and_puts_the_lab_back() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-st-sigint", CHANGED);
    up(&guard);
    let child = verify_until_waiting("t-st-sigint");
    let started = Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    let out = child.wait_with_output().expect("wait");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "it did not wait out the 30s"
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(130), "{text}\n{}", stderr(&out));
    // Status words are padded to the widest one shown (CANCELLED).
    assert!(
        text.lines()
            .any(|l| l.starts_with("PASS ") && l.contains(" tcp client → web:7000 is open")),
        "{text}"
    );
    assert!(text.contains("  do  wait 30s — CANCELLED"), "{text}");
    assert!(text.contains("CANCELLED  dns web → db is db"), "{text}");
    assert!(text.contains("  do  wait 1s — not run"), "{text}");
    assert!(text.contains("restored in "), "{text}");
    assert!(text.contains("— the lab is as its file declares"), "{text}");
    assert!(
        text.ends_with("1 passed, 0 failed, 2 cancelled\n"),
        "{text}"
    );
    assert_as_declared("t-st-sigint", CHANGED_NODES);
    assert_eq!(netlab(&["down", "t-st-sigint"]).status.code(), Some(0));
    guard.assert_nothing_left();
}

#[test]
fn a_verify_killed_during_its_steps_is_put_right_by_the_next_and_down_leaves_nothing() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-st-killed", CHANGED);
    up(&guard);
    let mut child = verify_until_waiting("t-st-killed");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // Left as the steps made it: db paused, client stopped, web impaired.
    assert_eq!(inspect("netlab_t-st-killed_db")["State"]["Paused"], true);
    assert!(
        !step_helpers("t-st-killed").is_empty(),
        "the marker and the impair helper stay"
    );
    // The next verify (of the steady state only) puts it back first.
    let out = netlab(&["verify", "t-st-killed", "--no-steps"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("was cut short during the steps; the lab was put back first"),
        "{text}"
    );
    assert!(!text.contains("step 1"), "--no-steps runs no step: {text}");
    assert!(text.ends_with("1 passed, 0 failed\n"), "{text}");
    assert_as_declared("t-st-killed", CHANGED_NODES);
    // Killed again, then `down`: the containers go, and with them their
    // network namespaces and whatever a step set there.
    let mut child = verify_until_waiting("t-st-killed");
    let web_netns = netns_of("netlab_t-st-killed_web");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let down = netlab(&["down", "t-st-killed"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
    // The namespace that held the emulator's redirect is gone: no process
    // is in it any more.
    let still_in_it: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_link(e.path().join("ns/net"))
                .is_ok_and(|l| l.to_string_lossy() == web_netns)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(still_in_it, Vec::<String>::new(), "{web_netns} is gone");
}

/// An action the engine refuses (the network was left by hand meanwhile)
/// ends the steps; the lab is put back, static address included.
#[test]
fn an_action_the_engine_refuses_ends_the_steps_and_the_lab_is_put_back() {
    if !docker_available() {
        return;
    }
    let yaml = "name: x
networks:
  back: { subnet: 10.213.43.0/24 }
nodes:
  db: { networks: { back: { aliases: [store], ipv4: 10.213.43.20 } }, serve: [tcp:7000] }
  app: { networks: [back] }
checks:
  - dns: { from: app, name: store, expect: [10.213.43.20] }
steps:
  - title: a pause in which db leaves by hand
    do:
      - pause: app
      - wait: 6s
      - unpause: app
      - disconnect: { node: db, network: back }
    checks:
      - dns: { from: app, name: store, expect: unresolved }
  - title: never reached
    do: [ { connect: { node: db, network: back } } ]
    checks:
      - dns: { from: app, name: store, expect: [db] }
";
    let guard = LabGuard::from_yaml("t-st-refused", yaml);
    up(&guard);
    let child = Command::new(netlab_bin())
        .args(["verify", "t-st-refused"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn verify");
    let deadline = Instant::now() + Duration::from_secs(60);
    while inspect("netlab_t-st-refused_app")["State"]["Paused"] != true {
        assert!(Instant::now() < deadline, "the step did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = docker(&[
        "network",
        "disconnect",
        "netlab_t-st-refused_back",
        "netlab_t-st-refused_db",
    ]);
    assert!(left.status.success(), "{}", stderr(&left));
    let out = child.wait_with_output().expect("verify");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("  do  disconnect db from back — ERROR: "),
        "{text}"
    );
    assert!(
        text.contains("ERROR  dns app → store is unresolved"),
        "{text}"
    );
    assert!(
        text.contains("not run: `disconnect db from back` failed"),
        "{text}"
    );
    assert!(
        text.contains("  do  connect db to back — not run"),
        "{text}"
    );
    assert!(
        text.contains("connect db to back — the lab is as its file declares"),
        "{text}"
    );
    assert!(
        text.ends_with("1 passed, 0 failed, 2 could not run (errors)\n"),
        "{text}"
    );
    let db = inspect("netlab_t-st-refused_db");
    assert_eq!(
        db["NetworkSettings"]["Networks"]["netlab_t-st-refused_back"]["IPAddress"], "10.213.43.20",
        "back at its static address"
    );
    assert_as_declared(
        "t-st-refused",
        &[("db", &[("back", &["store"])]), ("app", &[("back", &[])])],
    );
    assert_eq!(netlab(&["down", "t-st-refused"]).status.code(), Some(0));
    guard.assert_nothing_left();
}

#[test]
fn a_foreign_node_is_impaired_restarted_and_probed_from_again() {
    if !docker_available() {
        return;
    }
    ensure_foreign_image();
    let yaml = format!(
        "name: x
networks:
  lan: {{}}
nodes:
  box: {{ image: {FOREIGN_IMAGE}, networks: [lan] }}
  client: {{ networks: [lan], serve: [tcp:7000] }}
checks:
  - latency: {{ from: client, to: box, expect: {{ median: ..5ms }} }}
  - tcp: {{ from: box, to: client:7000, expect: open }}
steps:
  - title: box is slow
    do: [ {{ impair: {{ node: box, network: lan, delay: 60ms }} }} ]
    checks:
      - latency: {{ from: client, to: box, count: 20, expect: {{ median: 55ms..90ms }} }}
      - latency: {{ from: box, to: client, count: 20, expect: {{ median: 55ms..90ms }} }}
  - title: box restarts, unimpaired, and probes from its new namespace
    do: [ {{ restart: {{ node: box, timeout: 1s }} }} ]
    checks:
      - latency: {{ from: client, to: box, expect: {{ median: ..5ms }} }}
      - tcp: {{ from: box, to: client:7000, expect: open, retry: true, timeout: 5s }}
      - dns: {{ from: box, name: client, expect: [client] }}
"
    );
    let guard = LabGuard::from_yaml("t-st-foreign", &yaml);
    up(&guard);
    let (code, doc, err) = verify_json("t-st-foreign", &[]);
    assert_eq!(code, Some(0), "{doc:#}\n{err}");
    assert_eq!(doc["passed"], 7);
    assert_eq!(doc["restore"]["outcome"], "done");
    // The node itself has no added capability: the helper had NET_ADMIN.
    let caps = inspect("netlab_t-st-foreign_box")["HostConfig"]["CapAdd"].clone();
    assert!(
        caps.is_null() || caps.as_array().is_some_and(Vec::is_empty),
        "{caps}"
    );
    assert_as_declared(
        "t-st-foreign",
        &[("box", &[("lan", &[])]), ("client", &[("lan", &[])])],
    );
    assert_eq!(netlab(&["down", "t-st-foreign"]).status.code(), Some(0));
    guard.assert_nothing_left();
}

#[test]
fn each_step_is_a_junit_suite_and_a_json_group() {
    if !docker_available() {
        return;
    }
    let yaml = "name: x
networks:
  lan: {}
nodes:
  a: { networks: [lan], serve: [tcp:7000] }
  b: { networks: [lan] }
checks:
  - tcp: { from: b, to: a:7000, expect: open }
steps:
  - title: a stops
    do: [ { stop: a } ]
    checks:
      - dns: { from: b, name: a, expect: unresolved }
  - title: a starts
    do: [ { start: a } ]
    checks:
      - tcp: { from: b, to: a:7000, expect: open, retry: true, timeout: 5s }
      - dns: { from: b, name: a, expect: unresolved }
";
    let guard = LabGuard::from_yaml("t-st-report", yaml);
    let xml = guard.dir.path().join("junit.xml");
    let out = netlab(&[
        "run",
        guard.path(),
        "--junit",
        xml.to_str().expect("utf-8"),
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (doc["passed"].as_u64(), doc["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(doc["checks"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["steps"][0]["title"], "a stops");
    assert_eq!(doc["steps"][0]["actions"][0]["action"], "stop");
    assert_eq!(doc["steps"][0]["actions"][0]["outcome"], "done");
    assert!(
        doc["steps"][1]["checks"][0]["recovered_ms"]
            .as_f64()
            .is_some()
    );
    let report = quick_junit::Report::deserialize_from_str(
        &std::fs::read_to_string(&xml).expect("junit written"),
    )
    .expect("valid JUnit");
    let suites: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["t-st-report", "a stops", "a starts"]);
    assert_eq!((report.tests, report.failures), (4, 1));
    guard.assert_nothing_left();
}

#[test]
fn a_step_that_cannot_happen_is_refused_before_anything_is_made() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: t-st-bad\nnodes:\n  web: { network_mode: host }\nsteps:\n  - do:\n      - impair: { node: web, network: lan, delay: 10ms }\n",
    )
    .expect("write");
    let out = netlab(&["up", file.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("undefined network `lan`"), "{err}");
    assert!(err.contains("bad.yaml:6:"), "{err}");
    assert!(err.contains("nothing was created"), "{err}");
}

/// Slow answers are not lost: with 1.5 s of delay every echo reply comes
/// in before the check's deadline, and the series waits for it (it once
/// stopped a second after its last request and called them all lost,
/// so `loss: 50%..` PASSed and a true median FAILed with "no echo reply").
/// The first requests wait for ARP, which is delayed too: their round
/// trips are up to twice the delay.
#[test]
fn slow_echo_replies_are_counted_not_lost() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml(
        "t-st-slow",
        "name: t-st-slow
networks:
  lan: {}
nodes:
  web: { networks: [lan] }
  client: { networks: [lan] }
steps:
  - title: a slow link
    do: [ { impair: { node: web, network: lan, delay: 1500ms } } ]
    checks:
      - loss: { title: none lost, from: client, to: web, count: 4, interval: 100ms, timeout: 6s, expect: ..10% }
      - latency: { title: slow median, from: client, to: web, count: 4, interval: 100ms, timeout: 6s, expect: { median: 1.4s..3.5s } }
",
    );
    let text = run_passes(&guard, 2);
    assert!(
        text.contains("0% lost") || text.contains("0.0% lost"),
        "{text}"
    );
}

/// web on side and back, client on front; a step connects client to back.
/// Before it no network is shared and web is aimed at on side; after it,
/// every check must aim at back, which they share now: the twins PASS,
/// the mutants (`blocked`, `x`, a lossy link) FAIL.
const MOVED: &str = "name: x
networks:
  front: {}
  back: {}
  side: {}
nodes:
  web: { networks: [side, back], serve: [tcp:7000] }
  client: { networks: [front] }
checks:
  - tcp: { title: apart at first, from: client, to: web:7000, expect: blocked, timeout: 2s }
steps:
  - title: client joins back
    do: [ { connect: { node: client, network: back } } ]
    checks:
      - tcp: { title: reached over back, from: client, to: web:7000, expect: open }
      - tcp: { title: still blocked, from: client, to: web:7000, expect: blocked, timeout: 2s }
      - matrix:
          title: cell open
          port: 7000
          expect: |
            from\\to  web
            client    .
      - matrix:
          title: cell blocked
          port: 7000
          timeout: 2s
          expect: |
            from\\to  web
            client    x
      - latency: { title: near, from: client, to: web, count: 10, expect: { median: ..50ms } }
      - loss: { title: all lost, from: client, to: web, count: 10, expect: 90%.. }
";

#[test]
fn after_a_step_connects_a_node_its_checks_aim_at_the_network_shared_now() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-sa2-moved", MOVED);
    up(&guard);
    let (code, doc, err) = verify_json("t-sa2-moved", &[]);
    assert_eq!(code, Some(1), "{doc:#}\n{err}");
    let seen: Vec<String> = outcomes(&doc)
        .into_iter()
        .map(|(t, o)| format!("{t}: {o}"))
        .collect();
    assert_eq!(
        seen,
        [
            "apart at first: pass",
            "reached over back: pass",
            "still blocked: fail",
            "matrix cell open on 7000: pass",
            "matrix cell blocked on 7000: fail",
            "near: pass",
            "all lost: fail",
        ],
        "{doc:#}"
    );
    assert_eq!(doc["restore"]["outcome"], "done");
    assert_as_declared(
        "t-sa2-moved",
        &[
            ("web", &[("side", &[]), ("back", &[])]),
            ("client", &[("front", &[])]),
        ],
    );
    assert_eq!(netlab(&["down", "t-sa2-moved"]).status.code(), Some(0));
    guard.assert_nothing_left();
}
