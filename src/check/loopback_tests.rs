//! A payload from a host's own stack goes only to the loopback ports the
//! running lab owns there (SPEC: "What a lab may touch"): refused before
//! any packet otherwise, redirects included. No Docker.

use std::time::Duration;

use super::reach;
use super::tests::{live, with_ports};
use crate::lab::{self, CheckKind, Source};
use crate::live::LiveLab;
use crate::vocab::IpFamily;

/// The check as the file states it, past validation (which leaves what it
/// cannot decide, or is told to allow, to the running lab).
fn kind(extra_nodes: &str, check: &str) -> CheckKind {
    let text = format!(
        "networks:\n  front: {{}}\n  back: {{}}\n  back2: {{}}\nnodes:\n  web:\n    networks: [front, back]\n    serve: [tcp:7000]\n  client:\n    networks: [front]\n  outsider:\n    networks: [back2]\n  legacy:\n    network_mode: bridge\n  stopped:\n    networks: [front]\n{extra_nodes}checks:\n  - {check}\n"
    );
    lab::load_source_with(
        "t.yaml",
        text.as_bytes(),
        Some("t"),
        lab::LoadOptions {
            allow_external: true,
        },
    )
    .expect("valid")
    .lab
    .checks
    .remove(0)
    .kind
}

fn with(l: &mut LiveLab, check: &str) {
    l.lab.checks = vec![lab::Check {
        title: "c".into(),
        timeout: Duration::from_secs(1),
        retry: false,
        capture: false,
        family: None,
        requires: Default::default(),
        kind: kind("", check),
    }];
}

/// Why the lab's one check is refused, or `None`.
fn refused(l: &LiveLab) -> Option<String> {
    reach::refusals(l, &Default::default())
        .into_iter()
        .next()
        .map(|r| r.why)
}

#[test]
fn a_payload_from_the_host_goes_only_to_the_lab_s_loopback_ports() {
    // web publishes 7000 as 49153 on 0.0.0.0 and ::, 53/udp as
    // 127.0.0.1:5353 (the engine's bindings: a random port resolved).
    let mut l = with_ports(live());
    for check in [
        "http: { from: host, url: \"http://127.0.0.1:49153/whoami\", expect: { status: 200 } }",
        "http: { from: host, url: \"http://[::1]:49153/whoami\", expect: { status: 200 } }",
        "http: { from: host, url: \"http://localhost:49153/whoami\", expect: { status: 200 } }",
        "udp: { from: host, to: \"127.0.0.1:5353\", expect: open }",
        "tls: { from: host, to: \"127.0.0.1:49153\", name: web, expect: no-tls }",
        // A tcp probe sends nothing: it may knock anywhere on loopback.
        "tcp: { from: host, to: \"127.0.0.1:2375\", expect: refused }",
        // A container's loopback is its own.
        "http: { from: client, url: \"http://127.0.0.1:2375/\", expect: { status: 200 } }",
        "udp: { from: client, to: \"127.0.0.1:9\", expect: blocked }",
    ] {
        with(&mut l, check);
        assert_eq!(refused(&l), None, "{check}");
    }
    with(
        &mut l,
        "http: { from: host, url: \"http://127.0.0.1:2375/v1.41/containers/prune\", method: POST, expect: { status: 200 } }",
    );
    assert_eq!(
        refused(&l).expect("refused"),
        "127.0.0.1:2375 is loopback but not a port the lab publishes or serves there: a tcp payload there could reach another service of the host (its own are 127.0.0.1:5353/udp, 0.0.0.0:49153/tcp, [::]:49153/tcp)"
    );
    for check in [
        "http: { from: host, url: \"http://localhost:2375/\", expect: { status: 200 } }",
        "http: { from: host, url: \"http://127.0.0.2:5353/\", expect: { status: 200 } }",
        "tls: { from: host, to: \"127.0.0.1:2376\", name: web, expect: verified }",
        // 5353 is the lab's on 127.0.0.1 only, and over udp only.
        "udp: { from: host, to: \"127.0.0.2:5353\", expect: open }",
        "udp: { from: host, to: \"[::1]:5353\", expect: open }",
        "tls: { from: host, to: \"127.0.0.1:5353\", name: web, expect: verified }",
        "udp: { from: host, to: \"[::ffff:127.0.0.1]:2375\", expect: blocked }",
    ] {
        with(&mut l, check);
        let why = refused(&l).unwrap_or_else(|| panic!("{check} is refused"));
        assert!(why.contains("is loopback but not a port the lab"), "{why}");
    }
}

#[test]
fn a_host_mode_node_shares_the_host_s_loopback_and_owns_its_listeners() {
    let mut l = with_ports(live());
    let edge = "  edge:\n    network_mode: host\n    serve: [http:27801, udp:27802]\n";
    let extended = lab::load_source(
        "t.yaml",
        format!("networks:\n  front: {{}}\n  back: {{}}\n  back2: {{}}\nnodes:\n  web:\n    networks: [front, back]\n    serve: [tcp:7000]\n  client:\n    networks: [front]\n{edge}").as_bytes(),
        Some("t"),
    )
    .expect("valid")
    .lab;
    l.lab.nodes = extended.nodes;
    let check = |l: &mut LiveLab, text: &str| {
        l.lab.checks = vec![lab::Check {
            title: "c".into(),
            timeout: Duration::from_secs(1),
            retry: false,
            capture: false,
            family: None,
            requires: Default::default(),
            kind: kind(edge, text),
        }];
        refused(l)
    };
    assert_eq!(
        check(
            &mut l,
            "http: { from: host, url: \"http://127.0.0.1:27801/whoami\", expect: { status: 200 } }"
        ),
        None
    );
    assert_eq!(
        check(
            &mut l,
            "udp: { from: host, to: \"[::1]:27802\", expect: open }"
        ),
        None
    );
    // From the host-mode node itself, loopback is the host's.
    let why = check(
        &mut l,
        "http: { from: edge, url: \"http://127.0.0.1:2375/\", expect: { status: 200 } }",
    )
    .expect("refused");
    assert!(
        why.starts_with("127.0.0.1:2375 is loopback but not"),
        "{why}"
    );
    assert!(why.contains("0.0.0.0:27801/tcp"), "{why}");
    // http:27801 is a tcp listener: no udp payload goes there.
    assert!(
        check(
            &mut l,
            "udp: { from: host, to: \"127.0.0.1:27801\", expect: open }"
        )
        .is_some()
    );
}

#[test]
fn a_redirect_from_the_host_follows_only_to_the_lab_s_loopback_ports() {
    let l = with_ports(live());
    let url = |s: &str| url::Url::parse(s).expect("url");
    let from_host = reach::follow_only(&l, &Source::Host(None));
    assert_eq!(
        from_host.refusal(&url("http://127.0.0.1:49153/echo"), IpFamily::V4),
        None
    );
    assert_eq!(
        from_host.refusal(&url("http://localhost:49153/"), IpFamily::V6),
        None
    );
    let why = from_host
        .refusal(
            &url("http://127.0.0.1:2375/v1.41/containers/prune"),
            IpFamily::V4,
        )
        .expect("not followed");
    assert!(
        why.starts_with(
            "127.0.0.1:2375 is loopback but not a port the lab publishes or serves there"
        ),
        "{why}"
    );
    // localhost is the loopback of the probe's family; 80 is the default port.
    assert!(
        from_host
            .refusal(&url("http://localhost/"), IpFamily::V4)
            .is_some()
    );
    assert!(
        from_host
            .refusal(&url("http://[::1]:5353/"), IpFamily::V4)
            .is_some()
    );
    // A node's own loopback is its own: any port.
    let from_client = reach::follow_only(&l, &Source::Node("client".into()));
    assert_eq!(from_client.loopback, None);
    assert_eq!(
        from_client.refusal(&url("http://127.0.0.1:2375/"), IpFamily::V4),
        None
    );
    assert_eq!(
        from_client.refusal(&url("http://localhost:2375/"), IpFamily::V4),
        None
    );
}

/// The agent gets `follow_only` over the wire: an agent of this version
/// reading a message without `loopback` (none needed) keeps any loopback.
#[test]
fn follow_only_without_loopback_reads_as_any_loopback_port() {
    let only: crate::agent::protocol::FollowOnly =
        serde_json::from_str(r#"{"names":[],"addresses":[],"subnets":[]}"#).expect("json");
    assert_eq!(only.loopback, None);
    let from_host = reach::follow_only(&with_ports(live()), &Source::Host(None));
    let wire = serde_json::to_string(&from_host).expect("json");
    let back: crate::agent::protocol::FollowOnly = serde_json::from_str(&wire).expect("json");
    assert_eq!(back, from_host);
    assert!(back.loopback.is_some_and(|p| p.len() == 3));
}

#[test]
fn a_step_s_checks_are_judged_before_any_packet_too() {
    let mut l = with_ports(live());
    with(
        &mut l,
        "http: { from: host, url: \"http://127.0.0.1:49153/\", expect: { status: 200 } }",
    );
    let mut step_check = l.lab.checks[0].clone();
    step_check.kind = kind(
        "",
        "http: { from: host, url: \"http://127.0.0.1:2375/\", expect: { status: 200 } }",
    );
    step_check.title = "in a step".into();
    l.lab.steps = vec![lab::Step {
        title: "later".into(),
        actions: Vec::new(),
        checks: vec![step_check],
    }];
    let refused = reach::refusals(&l, &Default::default());
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].title, "in a step");
}
