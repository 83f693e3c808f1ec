//! Unit tests of legacy `links:`: what is taken, what is refused with its
//! place, the endpoints' links in the plan, and the model's answer (the
//! alias from the linking node only).

use super::tests::{errors, valid};
use crate::model::{DnsPrediction, EngineSide, resolve};
use crate::vocab::IpFamily;

const LINKED: &str = "networks:\n  n: {}\n  m: {}\nnodes:\n  db:\n    networks: [n, m]\n  app:\n    networks: [n]\n    links: [db, \"db:database\"]\n  other:\n    networks: [n]\n";

#[test]
fn links_are_taken_and_only_the_linking_node_resolves_the_alias() {
    let lab = valid(LINKED);
    assert_eq!(
        lab.nodes["app"].links,
        [
            ("db".to_owned(), "db".to_owned()),
            ("db".to_owned(), "database".to_owned())
        ]
    );
    let from = |n: &str| resolve(&lab, n, "database", IpFamily::V4, EngineSide::OLD);
    assert_eq!(from("app").certain_nodes(), Some(&["db".to_owned()][..]));
    assert!(
        matches!(from("other"), DnsPrediction::Unresolved(_)),
        "{:?}",
        from("other")
    );
    assert!(matches!(from("db"), DnsPrediction::Unresolved(_)));
    // On the network they share only: `n`, not `m`.
    let DnsPrediction::OneOf { choices, .. } = from("app") else {
        panic!("resolves")
    };
    assert_eq!(
        choices.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["n"]
    );
    let plan = crate::plan::plan(
        &lab,
        &crate::plan::PlanInputs {
            engines: &indexmap::IndexMap::new(),
            agent_image: "netlab/agent:test",
        },
    );
    let app = plan
        .containers
        .iter()
        .find(|c| c.node == "app")
        .expect("app");
    assert_eq!(
        app.endpoints[0].links,
        ["netlab_lab_db:db", "netlab_lab_db:database"]
    );
    let db = plan.containers.iter().find(|c| c.node == "db").expect("db");
    assert!(db.endpoints.iter().all(|e| e.links.is_empty()));
}

#[test]
fn bad_links_are_refused_each_at_its_place() {
    let e = errors(
        "networks:\n  n: {}\n  m: {}\nnodes:\n  db:\n    networks: [m]\n  side:\n    network_mode: \"container:app\"\n  app:\n    networks: [n]\n    links: [dbx, \"db:data\", app, side, \"other:x y\", \"other:o\", \"other:o\"]\n  other:\n    networks: [n]\n  h:\n    network_mode: host\n    links: [other]\n",
    );
    let msgs: Vec<(u64, &str)> = e.iter().map(|(l, _, m)| (*l, m.as_str())).collect();
    assert_eq!(
        msgs,
        [
            (11, "link to `dbx`, which is no node of the lab"),
            (
                11,
                "`app` links `db` but shares no user network with it: Docker's DNS could never answer the link"
            ),
            (11, "node `app` cannot link itself"),
            (
                11,
                "`side` is a sidecar: it has no endpoint of its own to link"
            ),
            (11, "invalid link alias `x y`"),
            (11, "link alias `o` is given twice"),
            (
                16,
                "`links` of node `h` need it on user networks: Docker's embedded DNS carries them"
            ),
        ]
    );
}

const SERVED: &str = "networks:\n  n: {}\nnodes:\n  db:\n    networks: [n]\n    serve: [tcp:5432]\n  app:\n    networks: [n]\n    links: [\"db:database\"]\n  other:\n    networks: [n]\n";

#[test]
fn a_link_alias_is_a_target_of_the_linking_node_only() {
    let lab = valid(&format!(
        "{SERVED}checks:\n  - tcp: {{ from: app, to: database:5432, expect: open }}\n  - http: {{ from: app, url: \"http://database:5432/\", expect: {{ status: 200 }} }}\n"
    ));
    assert!(
        matches!(&lab.checks[0].kind, crate::lab::CheckKind::Tcp { to, .. } if to.host == crate::lab::TargetHost::Name("database".into())),
        "{:?}",
        lab.checks[0].kind
    );
    let refused = errors(&format!(
        "{SERVED}checks:\n  - tcp: {{ from: other, to: database:5432, expect: blocked }}\n  - http: {{ from: other, url: \"http://database/\", expect: {{ status: 200 }} }}\n"
    ));
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(
        refused.iter().all(|(_, _, m)| m.contains("database")),
        "{refused:#?}"
    );
}

#[test]
fn a_link_implies_its_alias_resolves_and_reaches_from_the_linker_alone() {
    use crate::lab::{CheckKind, DnsAnswer, DnsExpect, TargetHost, TcpExpect};
    let lab = valid(SERVED);
    let implied = crate::model::implied::checks(&lab, EngineSide::NEW);
    let about_alias: Vec<&CheckKind> = implied
        .iter()
        .map(|i| &i.kind)
        .filter(|k| match k {
            CheckKind::Dns { name, .. } => name == "database",
            CheckKind::Tcp { to, .. } => to.host == TargetHost::Name("database".into()),
            _ => false,
        })
        .collect();
    assert_eq!(about_alias.len(), 3, "{about_alias:#?}");
    assert!(about_alias.iter().any(|k| matches!(k, CheckKind::Dns { from, expect: DnsExpect::Exactly(a), .. } if from == "app" && a == &[DnsAnswer::Node("db".into())])));
    assert!(about_alias.iter().any(|k| matches!(k, CheckKind::Dns { from, expect: DnsExpect::Unresolved, .. } if from == "other")));
    assert!(about_alias.iter().any(
        |k| matches!(k, CheckKind::Tcp { expect: TcpExpect::Open, to, .. } if to.port == 5432)
    ));
}
