//! Real-engine test of legacy `links:` on a user network: Docker's embedded
//! DNS answers the link's alias to the linking node only. Each expectation
//! that passes has a mutant (the expectation flipped) that FAILs.

mod support;

use support::*;

const LINKS: &str = r#"name: t-links
networks:
  n: {}
nodes:
  db:
    networks: [n]
  app:
    networks: [n]
    links: ["db:database"]
  other:
    networks: [n]
checks:
  - dns: { title: linker, from: app, name: database, expect: [db] }
  - dns: { title: bystander, from: other, name: database, expect: unresolved }
  - dns: { title: linked, from: db, name: database, expect: unresolved }
"#;

#[test]
fn a_link_alias_resolves_from_the_linking_node_only() {
    if !docker_available() {
        return;
    }
    let started = std::time::Instant::now();
    let guard = LabGuard::from_yaml("t-links", LINKS);
    run_passes(&guard, 3);
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
    ] {
        let mutant = LabGuard::from_yaml(&format!("t-links-{title}"), &LINKS.replace(from, to));
        run_fails_on(&mutant, title);
    }
}
