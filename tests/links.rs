//! Real-engine test of legacy `links:` on a user network: Docker's embedded
//! DNS answers the link's alias to the linking node only, again after the
//! node leaves and rejoins the network in a step; the alias is a target of
//! the linking node's probes. Each expectation of the
//! steady state, and the link after the rejoin, has a mutant (the
//! expectation flipped) that FAILs.

mod support;

use support::*;

const LINKS: &str = r#"name: t-links
networks:
  n: {}
nodes:
  db:
    networks: [n]
    serve: [tcp:7000]
  app:
    networks: [n]
    links: ["db:database"]
  other:
    networks: [n]
checks:
  - dns: { title: linker, from: app, name: database, expect: [db] }
  - dns: { title: bystander, from: other, name: database, expect: unresolved }
  - dns: { title: linked, from: db, name: database, expect: unresolved }
  - tcp: { title: reached, from: app, to: database:7000, expect: open }
"#;

/// After the checks: the linking node leaves the network and joins it
/// again; a `connect` brings its link back, as `up` made it.
const STEPS: &str = r#"steps:
  - title: app leaves n
    do:
      - disconnect: { node: app, network: n }
    checks:
      - dns: { title: gone, from: other, name: app, expect: unresolved }
  - title: app comes back
    do:
      - connect: { node: app, network: n }
    checks:
      - dns: { title: back, from: app, name: database, expect: [db], retry: true, timeout: 5s }
"#;

#[test]
fn a_link_alias_resolves_from_the_linking_node_only() {
    if !docker_available() {
        return;
    }
    let started = std::time::Instant::now();
    let guard = LabGuard::from_yaml("t-links", &format!("{LINKS}{STEPS}"));
    run_passes(&guard, 6);
    eprintln!("links lab in {:.1?}", started.elapsed());
    // Mutants: the same network, one expectation flipped each.
    for (title, from, to) in [
        (
            "bystander",
            "from: other, name: database, expect: unresolved",
            "from: other, name: database, expect: [db]",
        ),
        (
            "linker",
            "from: app, name: database, expect: [db]",
            "from: app, name: database, expect: unresolved",
        ),
        (
            "reached",
            "to: database:7000, expect: open",
            "to: database:7000, expect: blocked",
        ),
    ] {
        let mutant = LabGuard::from_yaml(&format!("t-links-{title}"), &LINKS.replace(from, to));
        run_fails_on(&mutant, title);
    }
    // After the rejoin too: the link is back, so `unresolved` FAILs.
    {
        let (title, from, to) = (
            "back",
            "name: database, expect: [db], retry: true",
            "name: database, expect: unresolved",
        );
        let text = format!("{LINKS}{STEPS}").replace(from, to);
        assert!(text.contains(to));
        let mutant = LabGuard::from_yaml("t-links-back", &text);
        run_fails_on(&mutant, title);
    }
}
