//! Every shipped scenario passes under `netlab run` against the real engine,
//! and for each one an expectation turned around fails with exit 1 naming
//! that check: every kind of check is shown able to fail.

mod support;

use std::process::Command;

use support::*;

#[test]
fn bridge_isolation_passes_and_icc_off_really_blocks() {
    if !docker_available() {
        return;
    }
    run_passes(
        &LabGuard::from_shipped("bridge-isolation", "t-iso", |y| y),
        6,
    );
    // Two cells turned around: mute-b does not reach mute-a (icc off), and
    // courier does reach clerk.
    let wrong = LabGuard::from_shipped("bridge-isolation", "t-iso-wrong", |y| {
        y.replace(
            "        mute-b   x      x       x        x",
            "        mute-b   x      x       x        .",
        )
        .replace(
            "        courier  .      .       .        x",
            "        courier  x      .       .        x",
        )
    });
    let text = run_fails_on(&wrong, "matrix who reaches whom on 7000");
    assert!(text.contains("14/16 cells as expected"), "{text}");
    // The observed table, each differing cell marked.
    assert!(text.contains("observed"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("mute-b") && l.trim_end().ends_with("x*")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.contains("courier  .*")), "{text}");
}

#[test]
fn segmentation_shows_a_whole_policy_and_a_udp_matrix_works_too() {
    if !docker_available() {
        return;
    }
    let text = run_passes(&LabGuard::from_shipped("segmentation", "t-seg", |y| y), 3);
    assert!(text.contains("56/56 cells as expected"), "{text}");
    let udp = LabGuard::from_yaml(
        "t-seg-udp",
        "name: t-seg-udp\nnetworks:\n  a: {}\n  b: {}\nnodes:\n  one:\n    networks: [a]\n    serve: [udp:7001]\n  two:\n    networks: [a]\n    serve: [udp:7001]\n  far:\n    networks: [b]\n    serve: [udp:7001]\nchecks:\n  - matrix:\n      port: 7001/udp\n      expect: |\n        from\\to  one  two  far\n        one      .    .    x\n        far      x    x    .\n        host     .    .    .\n",
    );
    // With -v a matrix that holds shows its table too.
    let text = assert_all_passed(&netlab(&["run", udp.path(), "-v"]), 1);
    udp.assert_nothing_left();
    assert!(text.contains("matrix on 7001/udp"), "{text}");
    assert!(text.contains("9/9 cells as expected"), "{text}");
    let table: Vec<&str> = text.lines().map(str::trim).collect();
    assert!(table.contains(&"from\\to  one  two  far"), "{text}");
    assert!(table.contains(&"far      x    x    ."), "{text}");
}

#[test]
fn port_mapping_passes_and_an_unpublished_port_is_not_published() {
    if !docker_available() {
        return;
    }
    // One after the other: both copies publish the same host ports.
    let text = run_passes(
        &LabGuard::from_shipped("port-mapping", "t-ports", |y| y),
        12,
    );
    assert!(
        text.contains("published on 127.0.0.1:27180→80/tcp, answered by web of lab t-ports"),
        "{text}"
    );
    let wrong = LabGuard::from_shipped("port-mapping", "t-ports-wrong", |y| {
        y.replace(
            "port: { node: web, port: 443, expect: unpublished }",
            "port: { node: web, port: 443, expect: published }",
        )
    });
    let text = run_fails_on(&wrong, "port web 443/tcp is published");
    assert!(
        text.contains("not published: the engine maps nothing for 443/tcp"),
        "{text}"
    );
}

#[test]
fn a_taken_host_port_is_refused_before_anything_is_created() {
    if !docker_available() {
        return;
    }
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let guard = LabGuard::from_yaml(
        "t-taken",
        &format!(
            "name: t-taken\nnetworks:\n  a: {{}}\nnodes:\n  web:\n    networks: [a]\n    serve: [tcp:80]\n    ports: [\"127.0.0.1:{port}:80\"]\n"
        ),
    );
    let out = netlab(&["up", guard.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "host port {port}/tcp (published by node `web`) cannot be taken"
        )),
        "{}",
        stderr(&out)
    );
    guard.assert_nothing_left();
}

#[test]
fn host_network_passes_and_a_host_mode_node_resolves_no_lab_names() {
    if !docker_available() {
        return;
    }
    run_passes(&LabGuard::from_shipped("host-network", "t-host", |y| y), 7);
    let wrong = LabGuard::from_shipped("host-network", "t-host-wrong", |y| {
        y.replace(
            "dns: { from: on-host, name: boxed, expect: unresolved }",
            "dns: { from: on-host, name: boxed, expect: resolves }",
        )
    });
    run_fails_on(&wrong, "dns on-host → boxed is resolves");
}

#[test]
fn dns_round_robin_spreads_and_a_single_name_does_not() {
    if !docker_available() {
        return;
    }
    let text = run_passes(&LabGuard::from_shipped("dns-round-robin", "t-rr", |y| y), 4);
    assert!(text.contains("24 connections: pool-"), "{text}");
    let wrong = LabGuard::from_shipped("dns-round-robin", "t-rr-wrong", |y| {
        y.replace(
            "to: pool-1:7000, connections: 5, expect: open",
            "to: pool-1:7000, connections: 5, expect: spread",
        )
    });
    let text = run_fails_on(&wrong, "tcp client → pool-1:7000 ×5 is spread");
    assert!(
        text.contains("5 connections: pool-1 ×5; expected more than one node"),
        "{text}"
    );
}

const FOREIGN_LAB: &str = "name: x
description: A node of another image probes like any other, through a helper in its network namespace.
networks:
  front: {}
nodes:
  web:
    networks: [front]
    serve: [tcp:7000, udp:7001]
  box:
    image: netlab-test/busybox:1
    command: [sleep, '3600']
    networks:
      front: { aliases: [busy] }
checks:
  - dns: { from: box, name: web, expect: [web] }
  - tcp: { from: box, to: web:7000, expect: open }
  - udp: { from: box, to: web:7001, expect: open }
  - tcp: { from: box, to: web:7002, expect: refused }
  - dns: { from: web, name: busy, expect: [box] }
  - tcp: { from: web, to: box:7000, expect: refused }
";

#[test]
fn a_node_of_a_foreign_image_probes_through_a_helper_that_goes_with_the_lab() {
    if !docker_available() {
        return;
    }
    ensure_foreign_image();
    let guard = LabGuard::from_yaml("t-foreign", FOREIGN_LAB);
    let up = netlab(&["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let helpers = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            "label=io.netlab.lab=t-foreign",
            "--filter",
            "label=io.netlab.role=probe",
        ])
        .output()
        .expect("docker ps");
    assert_eq!(
        stdout(&helpers).lines().count(),
        1,
        "one probe helper for the one foreign node"
    );
    let verify = netlab(&["verify", "t-foreign"]);
    assert_all_passed(&verify, 6);
    // Restarted, the node has a new network namespace; its helper must
    // probe from that one, not from the one the node had (where the
    // positive checks would fail and a `blocked` would pass on nothing).
    let node = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            "label=io.netlab.lab=t-foreign",
            "--filter",
            "label=io.netlab.node=box",
            "--filter",
            "label=io.netlab.role=node",
        ])
        .output()
        .expect("docker ps");
    let node = stdout(&node).trim().to_owned();
    let restarted = Command::new("docker")
        .args(["restart", "-t", "1", &node])
        .output()
        .expect("docker restart");
    assert!(restarted.status.success(), "{}", stderr(&restarted));
    let verify = netlab(&["verify", "t-foreign"]);
    assert_all_passed(&verify, 6);
    let down = netlab(&["down", "t-foreign"]);
    assert_eq!(down.status.code(), Some(0));
    assert!(
        stdout(&down).contains("removed: 2 nodes, 1 network"),
        "{}",
        stdout(&down)
    );
    // The probe helper goes with its node.
    guard.assert_nothing_left();

    let wrong = LabGuard::from_yaml(
        "t-foreign-wrong",
        &FOREIGN_LAB.replace(
            "to: web:7002, expect: refused",
            "to: web:7002, expect: open",
        ),
    );
    run_fails_on(&wrong, "tcp box → web:7002 is open");
}

#[test]
fn a_foreign_image_cannot_be_the_target_of_an_identity_check() {
    let guard = LabGuard::from_yaml(
        "t-foreign-id",
        &FOREIGN_LAB.replace(
            "to: box:7000, expect: refused",
            "to: box:7000, expect: open",
        ),
    );
    let out = Command::new(netlab_bin())
        .args(["validate", guard.path()])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("node `box` runs a foreign image, so `open` cannot prove it answered"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn https_redirect_passes_and_turned_around_expectations_fail() {
    if !docker_available() {
        return;
    }
    let text = run_passes(
        &LabGuard::from_shipped("https-redirect", "t-https", |y| y),
        15,
    );
    assert!(text.contains("closed with close_notify"), "{text}");
    let wrong_name = LabGuard::from_shipped("https-redirect", "t-https-name", |y| {
        y.replace(
            "name: db.example.test, expect: wrong-name",
            "name: db.example.test, expect: verified",
        )
    });
    let text = run_fails_on(
        &wrong_name,
        "tls client → web:443 as db.example.test is verified",
    );
    assert!(
        text.contains("certificate not valid for name \"db.example.test\""),
        "{text}"
    );
    let post_kept = LabGuard::from_shipped("https-redirect", "t-https-303", |y| {
        y.replace(
            "expect: { redirects: [303], status: 200, final_method: GET, body_kept: false } }",
            "expect: { redirects: [303], status: 200, final_method: POST, body_kept: true } }",
        )
    });
    let text = run_fails_on(
        &post_kept,
        "http client POST http://web/redirect/303?to=/echo",
    );
    assert!(
        text.contains("final method GET instead of POST, body not kept"),
        "{text}"
    );
}
