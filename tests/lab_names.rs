//! Real-engine tests of Docker's own names in a lab: names as compose
//! writes them and a node called `host`, Docker's default bridge beside a
//! user network (Docker's tutorial, both halves), external networks, and
//! aliases as targets. Each expectation that passes has a mutant that
//! fails on the same network.

mod support;

use std::process::Command;

use support::*;

const NAMES: &str = r#"name: t-names
networks:
  Back_end.v2: {}
  default: {}
nodes:
  pay_gw:
    networks:
      Back_end.v2: { aliases: [API.internal] }
    serve: [tcp:7000]
  host:
    networks: [Back_end.v2]
    serve: [tcp:7000]
  Web.v1:
    networks: [default]
checks:
  - dns: { from: service:host, name: pay_gw, expect: [pay_gw] }
  - dns: { from: service:host, name: PAY_GW, expect: [pay_gw] }
  - tcp: { from: service:host, to: pay_gw:7000, expect: open }
  - tcp: { from: pay_gw, to: host:7000, expect: open }
  - dns: { from: pay_gw, name: API.internal, expect: [pay_gw] }
  - dns: { from: Web.v1, name: pay_gw, expect: unresolved }
  - tcp: { from: Web.v1, to: pay_gw:7000, expect: blocked }
"#;

#[test]
fn names_as_compose_writes_them_and_a_node_called_host_work_on_the_engine() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-names", NAMES);
    let text = run_passes(&guard, 7);
    assert!(text.contains("service:host"), "{text}");
    // The Docker names the lab was made of.
    let mutant = LabGuard::from_yaml(
        "t-names-mut",
        &NAMES.replace(
            "tcp: { from: Web.v1, to: pay_gw:7000, expect: blocked }",
            "tcp: { from: Web.v1, to: pay_gw:7000, expect: open }",
        ),
    );
    run_fails_on(&mutant, "Web.v1 → pay_gw:7000");
}

#[test]
fn docker_tutorial_default_bridge_half_passes_and_its_mutant_fails() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("standalone-default-bridge", "t-tut-default", |y| y);
    run_passes(&guard, 5);
    // The default bridge has no embedded DNS: a name there does not resolve.
    let mutant = LabGuard::from_shipped("standalone-default-bridge", "t-tut-default-m", |y| {
        y.replace(
            "dns: { from: alpine2, name: alpine1, expect: unresolved }",
            "dns: { from: alpine2, name: alpine1, expect: resolves }",
        )
    });
    run_fails_on(&mutant, "alpine2");
}

#[test]
fn docker_tutorial_user_bridge_half_passes_and_its_mutants_fail() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("standalone-user-bridge", "t-tut-user", |y| y);
    run_passes(&guard, 14);
    // alpine4 is on the default bridge too, but reaches alpine3 by address
    // only: its name stays unknown.
    let mutant = LabGuard::from_shipped("standalone-user-bridge", "t-tut-user-m1", |y| {
        y.replace(
            "dns: { from: alpine4, name: alpine3, expect: unresolved }",
            "dns: { from: alpine4, name: alpine3, expect: [alpine3] }",
        )
    });
    run_fails_on(&mutant, "alpine4 → alpine3");
    let mutant = LabGuard::from_shipped("standalone-user-bridge", "t-tut-user-m2", |y| {
        y.replace(
            "tcp: { from: alpine3, to: alpine1:7000, expect: blocked }",
            "tcp: { from: alpine3, to: alpine1:7000, expect: open }",
        )
    });
    run_fails_on(&mutant, "alpine3 → alpine1:7000");
}

/// A network made outside netlab, removed on drop.
struct External(String);

impl External {
    fn make(name: &str) -> External {
        let out = Command::new("docker")
            .args(["network", "create", "--label", "io.netlab.test=true", name])
            .output()
            .expect("docker network create");
        assert!(out.status.success(), "{}", stderr(&out));
        External(name.to_owned())
    }

    fn exists(&self) -> bool {
        Command::new("docker")
            .args(["network", "inspect", &self.0])
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for External {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

fn external_lab(network: &str, expect: &str) -> String {
    format!(
        "name: x\nnetworks:\n  shared: {{ external: true, name: {network} }}\n  own: {{}}\nnodes:\n  a:\n    networks:\n      shared: {{ aliases: [svc] }}\n    serve: [tcp:7000]\n  b:\n    networks: [shared]\n  c:\n    networks: [own]\nchecks:\n  - dns: {{ from: b, name: svc, expect: [a] }}\n  - tcp: {{ from: b, to: svc:7000, expect: open }}\n  - tcp: {{ from: b, to: a:7000, expect: {expect} }}\n  - tcp: {{ from: c, to: a:7000, expect: blocked }}\n"
    )
}

#[test]
fn an_external_network_is_joined_never_made_nor_removed() {
    if !docker_available() {
        return;
    }
    let name = format!("c1_ext.{}", std::process::id());
    // Missing: refused before anything is made.
    let missing = LabGuard::from_yaml("t-ext-missing", &external_lab(&name, "open"));
    let out = netlab(&["run", missing.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "network `shared` of lab `t-ext-missing` is external, and the engine has no network named `{name}`; nothing was created"
        )),
        "{}",
        stderr(&out)
    );
    missing.assert_nothing_left();
    let ext = External::make(&name);
    let guard = LabGuard::from_yaml("t-ext", &external_lab(&name, "open"));
    run_passes(&guard, 4);
    assert!(ext.exists(), "`down` removed the external network");
    let mutant = LabGuard::from_yaml("t-ext-m", &external_lab(&name, "blocked"));
    run_fails_on(&mutant, "b → a:7000");
    assert!(ext.exists());
}

const ALIASES: &str = r#"name: t-alias
networks:
  back: {}
  front: {}
nodes:
  db:
    networks:
      back: { aliases: [postgres] }
    serve: [tcp:5432, udp:5433, https:443, http:80]
  app:
    networks: [back]
  other:
    networks: [front]
checks:
  - tcp: { from: app, to: postgres:5432, expect: open }
  - udp: { from: app, to: postgres:5433, expect: open }
  - tls: { from: app, to: postgres:443, expect: verified }
  - http: { from: app, url: "http://postgres/whoami", expect: { status: 200, from_node: db } }
  - tcp: { from: other, to: postgres:5432, expect: blocked }
  - udp: { from: other, to: postgres:5433, expect: blocked }
"#;

#[test]
fn aliases_are_targets_resolved_by_dockers_dns_from_the_probing_node() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-alias", ALIASES);
    let text = run_passes(&guard, 6);
    assert!(text.contains("postgres:5432"), "{text}");
    // From a node that shares no network with db the alias does not
    // resolve: `open` fails there.
    let mutant = LabGuard::from_yaml(
        "t-alias-m",
        &ALIASES.replace(
            "tcp: { from: other, to: postgres:5432, expect: blocked }",
            "tcp: { from: other, to: postgres:5432, expect: open }",
        ),
    );
    let text = run_fails_on(&mutant, "other → postgres:5432");
    assert!(text.contains("`postgres` did not resolve"), "{text}");
}
