//! Unit tests of `steps:` and of the measured checks (`latency`, `loss`):
//! the grammar, every validation rule with its line and column, and the
//! rules that walk the lab's state from action to action.

use std::time::Duration;

use super::measure::{DEFAULT_INTERVAL, DEFAULT_LOSS_COUNT};
use super::tests::{errors, load_str, one_error, valid};
use super::*;
use crate::impairment::{Percent, Rate};

/// Two bridges; web on front (alias www), db on back (alias store) and
/// front, client on front, a host-mode node.
const BASE: &str = "networks:
  front: {}
  back: {}
nodes:
  web:
    networks: { front: { aliases: [www] } }
    serve: [tcp:7000]
  db:
    networks: { back: { aliases: [store] }, front: {} }
    serve: [tcp:7000]
  client:
    networks: [front]
  hostie:
    network_mode: host
";

fn with_steps(steps: &str) -> String {
    format!("{BASE}steps:\n{steps}")
}

/// The position of `needle` (1-based line, column) in `text`.
fn at(text: &str, needle: &str) -> (u64, u64) {
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = line.find(needle) {
            return (i as u64 + 1, c as u64 + 1);
        }
    }
    panic!("`{needle}` not in the text");
}

#[test]
fn a_lab_with_steps_reads_every_action_in_both_forms() {
    let yaml = with_steps(
        "  - title: db leaves
    do:
      - disconnect: { node: db, network: back }
      - connect: { node: client, network: back }
      - stop: { node: db, timeout: 2s }
      - start: db
      - restart: web
      - pause: client
      - unpause: client
      - kill: web
      - start: web
      - impair: { node: web, network: front, delay: 100ms, jitter: 5ms, loss: 10%, duplicate: 1%, corrupt: 0.5%, reorder: 25%, rate: 10mbit }
      - clear: { node: web, network: front }
      - clear: web
      - wait: 1.5s
    checks:
      - dns: { from: client, name: db, expect: unresolved }
  - do:
      - wait: { duration: 200ms }
",
    );
    let lab = valid(&yaml);
    assert_eq!(lab.steps.len(), 2);
    assert_eq!(lab.steps[0].title, "db leaves");
    assert_eq!(
        lab.steps[1].title, "step 2",
        "a step without a title is named by its place"
    );
    let words: Vec<String> = lab.steps[0]
        .actions
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        words,
        [
            "disconnect db from back",
            "connect client to back",
            "stop db",
            "start db",
            "restart web",
            "pause client",
            "unpause client",
            "kill web",
            "start web",
            "impair web on front: delay 100ms ± 5ms loss 10% duplicate 1% corrupt 0.5% reorder 25% rate 10mbit",
            "clear web on front",
            "clear web",
            "wait 1.5s",
        ]
    );
    assert_eq!(
        lab.steps[0].actions[2],
        Action::Stop {
            node: "db".into(),
            grace: Duration::from_secs(2)
        }
    );
    let Action::Impair { impairment, .. } = &lab.steps[0].actions[9] else {
        panic!("impair");
    };
    assert_eq!(impairment.rate, Some(Rate(10_000_000)));
    assert_eq!(impairment.reorder, Some(Percent(25.0)));
    assert_eq!(
        lab.steps[1].actions,
        vec![Action::Wait {
            duration: Duration::from_millis(200)
        }]
    );
    // The lab travels in the engine as JSON: steps included.
    let json = serde_json::to_string(&lab).expect("json");
    assert_eq!(serde_json::from_str::<Lab>(&json).expect("back"), lab);
}

#[test]
fn a_lab_stored_before_steps_existed_still_reads() {
    let lab = valid(BASE);
    let mut value = serde_json::to_value(&lab).expect("json");
    value.as_object_mut().expect("object").remove("steps");
    let back: Lab = serde_json::from_value(value).expect("reads without `steps`");
    assert!(back.steps.is_empty());
}

#[test]
fn unknown_verbs_fields_and_shapes_point_at_their_place() {
    for (steps, needle, message) in [
        (
            "  - do:\n      - disconect: { node: db, network: back }\n",
            "disconect",
            "unknown action `disconnect`",
        ),
        (
            "  - do:\n      - stop: db\n        kill: db\n",
            "kill",
            "an action has exactly one verb, found `stop` and `kill`",
        ),
        (
            "  - do:\n      - stop: { node: db, network: back }\n",
            "back }",
            "field `network` does not apply to `stop`",
        ),
        (
            "  - do:\n      - disconnect: db\n",
            "db",
            "`disconnect` needs a node and a network",
        ),
        (
            "  - do:\n      - impair: { node: web, delay: 10ms }\n",
            "impair",
            "`impair` needs `network`",
        ),
        ("  - do:\n      - stop: {}\n", "stop", "`stop` needs `node`"),
        (
            "  - do:\n      - wait: {}\n",
            "wait",
            "`wait` needs a duration",
        ),
        (
            "  - do:\n      - stop: dbb\n",
            "dbb",
            "undefined node `dbb`",
        ),
        (
            "  - do:\n      - disconnect: { node: db, network: bak }\n",
            "bak",
            "undefined network `bak`",
        ),
        (
            "  - do:\n      - wait: soon\n",
            "soon",
            "`soon` is not a duration",
        ),
        ("  - do:\n      - wait: 10m\n", "10m", "`10m` is too long"),
        (
            "  - do:\n      - stop: { node: db, timeout: later }\n",
            "later",
            "`later` is not a duration up to 5m",
        ),
        (
            "  - title: nothing\n",
            "title",
            "step `nothing` does nothing",
        ),
    ] {
        let yaml = with_steps(steps);
        let (line, column, got) = one_error(&yaml);
        let want_message =
            message.replace("unknown action `disconnect`", "unknown action `disconect`");
        assert!(got.starts_with(&want_message), "{steps}: {got}");
        let (l, c) = at(&yaml[BASE.len()..], needle);
        let base_lines = BASE.lines().count() as u64;
        assert_eq!((line, column), (l + base_lines, c), "{steps}: {got}");
    }
}

#[test]
fn impairments_that_netem_cannot_do_or_that_do_nothing_are_refused() {
    for (impair, message) in [
        (
            "{ node: web, network: front }",
            "`impair` needs at least one impairment",
        ),
        (
            "{ node: web, network: front, jitter: 5ms }",
            "`jitter` needs a `delay`",
        ),
        (
            "{ node: web, network: front, reorder: 25% }",
            "`reorder` needs a `delay`",
        ),
        (
            "{ node: web, network: front, delay: 5ms, jitter: 10ms }",
            "jitter `10ms` is larger than the delay",
        ),
        (
            "{ node: web, network: front, loss: 10 }",
            "`10` is not a percentage",
        ),
        (
            "{ node: web, network: front, loss: 150% }",
            "`150%` is not between 0% and 100%",
        ),
        (
            "{ node: web, network: front, loss: 0% }",
            "`0%` does nothing",
        ),
        (
            "{ node: web, network: front, rate: fast }",
            "`fast` is not a rate",
        ),
        (
            "{ node: web, network: front, delay: 2m }",
            "`2m` is too long",
        ),
        (
            "{ node: hostie, network: front, delay: 10ms }",
            "node `hostie` uses network_mode host: it is on no lab network: impairing it would slow the Docker host's own interface",
        ),
        (
            "{ node: web, network: back, delay: 10ms }",
            "cannot impair `web`: it is not on `back` at this point",
        ),
    ] {
        let yaml = with_steps(&format!("  - do:\n      - impair: {impair}\n"));
        let (_, _, got) = one_error(&yaml);
        assert!(got.starts_with(message), "{impair}: {got}");
    }
}

#[test]
fn an_action_that_cannot_happen_at_its_point_is_refused() {
    for (actions, message) in [
        (
            "- connect: { node: web, network: front }",
            "cannot connect `web`: it is on `front` already at this point",
        ),
        (
            "- disconnect: { node: web, network: back }",
            "cannot disconnect `web`: it is not on `back` at this point",
        ),
        (
            "- start: web",
            "cannot start `web`: it is running already at this point",
        ),
        (
            "- stop: web\n      - pause: web",
            "cannot pause `web`: it is stopped at this point",
        ),
        (
            "- unpause: web",
            "cannot unpause `web`: it is not paused at this point",
        ),
        (
            "- pause: web\n      - restart: web",
            "cannot restart `web`: it is paused at this point",
        ),
        (
            "- pause: web\n      - disconnect: { node: web, network: front }",
            "cannot disconnect `web`: it is paused at this point",
        ),
        (
            "- kill: web\n      - stop: web",
            "cannot stop `web`: it is stopped already at this point",
        ),
        (
            "- stop: web\n      - clear: web",
            "cannot clear `web`: it is stopped at this point",
        ),
        (
            "- disconnect: { node: web, network: front }\n      - impair: { node: web, network: front, delay: 1ms }",
            "cannot impair `web`: it is not on `front` at this point",
        ),
        (
            "- connect: { node: hostie, network: front }",
            "node `hostie` uses network_mode host: it is on no lab network",
        ),
    ] {
        let yaml = with_steps(&format!("  - do:\n      {actions}\n"));
        let (_, _, got) = one_error(&yaml);
        assert!(got.starts_with(message), "{actions}: {got}");
    }
    // The state carries across steps: what step 1 did, step 2 sees.
    let yaml = with_steps(
        "  - do: [ { stop: db } ]\n  - do: [ { start: db } ]\n  - do: [ { start: db } ]\n",
    );
    let (line, _, got) = one_error(&yaml);
    assert_eq!(
        got,
        "cannot start `db`: it is running already at this point"
    );
    assert_eq!(line, BASE.lines().count() as u64 + 4);
}

#[test]
fn a_check_that_cannot_run_at_its_point_is_refused() {
    for (actions, check, message) in [
        (
            "- stop: client",
            "- dns: { from: client, name: web, expect: [web] }",
            "node `client` is stopped at this point: a probe from it cannot run",
        ),
        (
            "- pause: client",
            "- tcp: { from: client, to: web:7000, expect: open }",
            "node `client` is paused at this point: a probe from it would freeze with it",
        ),
        (
            "- stop: web",
            "- tcp: { from: client, to: web:7000, expect: blocked }",
            "node `web` is stopped at this point: it has no address to aim at",
        ),
        (
            "- stop: web",
            "- latency: { from: client, to: web, expect: { median: ..5ms } }",
            "node `web` is stopped at this point",
        ),
        (
            "- disconnect: { node: db, network: back }",
            "- tcp: { from: client, to: db@back:7000, expect: blocked }",
            "node `db` is not on network `back` at this point",
        ),
        (
            "- disconnect: { node: web, network: front }",
            "- tcp: { from: client, to: web:7000, expect: blocked }",
            "node `web` is on no network at this point",
        ),
    ] {
        let yaml = with_steps(&format!(
            "  - do:\n      {actions}\n    checks:\n      {check}\n"
        ));
        let (line, _, got) = one_error(&yaml);
        assert!(got.starts_with(message), "{check}: {got}");
        assert_eq!(line, BASE.lines().count() as u64 + 5, "at the check: {got}");
    }
    // A name that is gone is checked with dns; a paused target still has
    // its address (the kernel answers for it).
    let fine = with_steps(
        "  - do: [ { stop: web }, { pause: db } ]\n    checks:\n      - dns: { from: client, name: web, expect: unresolved }\n      - latency: { from: client, to: db, expect: { median: ..5ms } }\n",
    );
    load_str(&fine).expect("valid");
}

#[test]
fn steps_with_the_same_title_warn() {
    let yaml = with_steps(
        "  - title: again\n    do: [ { wait: 1s } ]\n  - title: again\n    do: [ { wait: 1s } ]\n",
    );
    let loaded = load_str(&yaml).expect("valid, with a warning");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0].contains("two steps are titled `again`"),
        "{}",
        loaded.warnings[0]
    );
}

#[test]
fn a_bridge_of_one_host_cannot_be_joined_from_another() {
    let yaml = "hosts: [east, west]
networks:
  lan: {}
  ov: { driver: overlay }
nodes:
  a: { host: east, networks: [lan, ov] }
  b: { host: west, networks: [ov] }
steps:
  - do:
      - connect: { node: b, network: lan }
";
    let (line, column, got) = one_error(yaml);
    assert_eq!((line, column), at(yaml, "lan }"));
    assert_eq!(
        got,
        "network `lan` is a bridge on host east, and node `b` runs on host west"
    );
    let overlay = yaml.replace(
        "- connect: { node: b, network: lan }",
        "- disconnect: { node: b, network: ov }\n      - connect: { node: b, network: ov }",
    );
    load_str(&overlay).expect("an overlay spans the hosts");
}

#[test]
fn latency_and_loss_checks_with_their_defaults() {
    let yaml = format!(
        "{BASE}checks:
  - latency: {{ from: client, to: web, expect: {{ median: 90ms..130ms, p95: ..150ms, max: ..1s }} }}
  - loss: {{ from: host, to: web@front, count: 500, interval: 5ms, expect: 5%..15%, retry: true }}
  - loss: {{ from: client, to: db, expect: ..1% }}
"
    );
    let lab = valid(&yaml);
    let CheckKind::Latency { echo, expect } = &lab.checks[0].kind else {
        panic!("latency");
    };
    assert_eq!((echo.count, echo.interval), (20, DEFAULT_INTERVAL));
    assert_eq!(
        expect.to_string(),
        "median 90ms..130ms, p95 ..150ms, max ..1s"
    );
    assert_eq!(
        lab.checks[0].title,
        "latency client → web: median 90ms..130ms, p95 ..150ms, max ..1s"
    );
    // Room to send them all and wait for the slowest reply allowed.
    assert_eq!(
        lab.checks[0].timeout,
        Duration::from_millis(190) + Duration::from_secs(3)
    );
    let CheckKind::Loss { echo, expect } = &lab.checks[1].kind else {
        panic!("loss");
    };
    assert_eq!(echo.from, Source::Host(None));
    assert_eq!(
        (echo.to.as_str(), echo.network.as_deref()),
        ("web", Some("front"))
    );
    assert_eq!((echo.count, echo.interval), (500, Duration::from_millis(5)));
    assert!(expect.contains(Percent(10.0)) && !expect.contains(Percent(20.0)));
    assert!(lab.checks[1].retry);
    assert_eq!(lab.checks[1].title, "loss host → web@front is 5%..15%");
    let CheckKind::Loss { echo, .. } = &lab.checks[2].kind else {
        panic!("loss");
    };
    assert_eq!(echo.count, DEFAULT_LOSS_COUNT);
}

#[test]
fn latency_and_loss_expectations_that_cannot_fail_or_cannot_be_met_are_refused() {
    for (check, needle, message) in [
        (
            "loss: { from: client, to: web, expect: 0%..100% }",
            "0%..100%",
            "`0%..100%` holds every loss from 0% to 100%: no run could miss it",
        ),
        (
            "loss: { from: client, to: web, expect: .. }",
            "..",
            "`..` has no end: it bounds nothing, so no run could miss it",
        ),
        (
            "loss: { from: client, to: web, expect: 15%..5% }",
            "15%..5%",
            "`15%..5%` runs backwards: no run could meet it",
        ),
        (
            "loss: { from: client, to: web, expect: 10% }",
            "10%",
            "`10%` is not a range",
        ),
        (
            "latency: { from: client, to: web, expect: { median: 0ms.. } }",
            "median",
            "`median`: `0ms..` holds every round-trip time: no run could miss it",
        ),
        (
            "latency: { from: client, to: web, expect: { mean: ..5ms } }",
            "mean",
            "unknown latency statistic `mean`",
        ),
        (
            "latency: { from: client, to: web, expect: ..5ms }",
            "..5ms",
            "a latency check expects a map of statistics to ranges",
        ),
        (
            "latency: { from: client, to: web, expect: {} }",
            "{}",
            "an empty expectation checks nothing",
        ),
        (
            "latency: { from: client, to: web:7000, expect: { median: ..5ms } }",
            "web:7000",
            "`web:7000` names a port: latency measures ICMP echo round trips to a node",
        ),
        (
            "latency: { from: client, to: web@back, expect: { median: ..5ms } }",
            "web@back",
            "node `web` is not on network `back`",
        ),
        (
            "loss: { from: client, to: web, count: 0, expect: ..1% }",
            "0,",
            "0 echo requests is out of range",
        ),
        (
            "loss: { from: client, to: web, interval: 20s, expect: ..1% }",
            "20s",
            "interval `20s` is out of range",
        ),
        (
            "loss: { from: client, to: web, count: 500, timeout: 2s, expect: ..1% }",
            "2s",
            "timeout `2s` is too short for 500 echo requests 10ms apart",
        ),
        (
            "latency: { from: client, to: web, connections: 3, expect: { median: ..5ms } }",
            "3,",
            "field `connections` does not apply to a latency check",
        ),
    ] {
        let yaml = format!("{BASE}checks:\n  - {check}\n");
        let (line, column, got) = one_error(&yaml);
        assert!(got.starts_with(message), "{check}: {got}");
        let col = check.find(needle).expect("needle") as u64 + 5;
        assert_eq!(
            (line, column),
            (BASE.lines().count() as u64 + 2, col),
            "{check}: {got}"
        );
    }
}

#[test]
fn a_steps_checks_are_judged_where_its_actions_leave_the_nodes() {
    // client is on front (IPv4 only); web also on six, which has IPv6.
    let lab = |actions: &str| {
        format!(
            "networks:
  front: {{}}
  six: {{ ipv6: true }}
nodes:
  web:
    networks: [front, six]
    serve: [tcp:7000]
  client:
    networks: [front]
steps:
  - do:
      {actions}
    checks:
      - tcp: {{ from: client, to: web:7000, family: v6, expect: open }}
      - mtu: {{ node: client, network: six, expect: 1500 }}
"
        )
    };
    // Without the connect there is no IPv6 path and client is not on six.
    let refused = errors(&lab("- wait: 1s"));
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(
        refused[0]
            .2
            .starts_with("node `web` has no IPv6 address on a network"),
        "{refused:#?}"
    );
    assert!(
        refused[1]
            .2
            .starts_with("node `client` is not on network `six`"),
        "{refused:#?}"
    );
    // A network the file does not declare for client, joined by the step.
    load_str(&lab("- connect: { node: client, network: six }")).expect("valid once connected");
}

#[test]
fn a_disconnect_takes_the_path_away_from_the_checks_after_it() {
    let lab = |actions: &str| {
        format!(
            "hosts: [east, west]
networks:
  ov: {{ driver: overlay }}
nodes:
  a: {{ host: east, networks: [ov] }}
  b: {{ host: west, networks: [ov], serve: [tcp:7000] }}
steps:
  - do:
      {actions}
    checks:
      - tcp: {{ from: a, to: b:7000, expect: blocked }}
"
        )
    };
    load_str(&lab("- wait: 1s")).expect("the overlay is a path");
    // Off the overlay, no address of b is on a path of a: one would
    // follow a's default route out of the machine.
    let (_, _, got) = one_error(&lab("- disconnect: { node: a, network: ov }"));
    assert!(
        got.starts_with("`b` cannot be aimed at from a: a runs on host east and b on host west, and they share no network"),
        "{got}"
    );
}

#[test]
fn check_places_name_each_check_with_its_line_and_column() {
    let yaml = format!(
        "{BASE}checks:\n  - tcp: {{ from: client, to: web:7000, expect: open }}\n  - dns:\n      title: named\n      from: client\n      name: www\n      expect: [web]\nsteps:\n  - do: [ {{ stop: db }} ]\n    checks:\n      - tcp: {{ from: client, to: web:7000, expect: open, title: after }}\n"
    );
    let places: Vec<(String, u64, u64)> = check_places(&yaml)
        .into_iter()
        .map(|(t, p)| (t, p.line, p.column))
        .collect();
    let (tcp, dns, after) = (
        at(&yaml, "tcp: { from: client"),
        at(&yaml, "dns:"),
        at(
            &yaml,
            "tcp: { from: client, to: web:7000, expect: open, title",
        ),
    );
    assert_eq!(
        places,
        [
            ("tcp client → web:7000 is open".into(), tcp.0, tcp.1),
            ("named".into(), dns.0, dns.1),
            ("after".into(), after.0, after.1),
        ]
    );
    assert!(check_places("nodes: [").is_empty());
}
