//! After a step moves a node (`connect`, `disconnect`), every check that
//! aims at a node — tcp, udp, matrix cells, latency, loss — aims where the
//! two are as they run now, by the same preference as in the steady
//! state; the file's choice holds only while the running lab agrees.
//! Against a hand-built `LiveLab`: no Docker.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use indexmap::IndexMap;

use super::*;
use crate::agent::protocol::ProbeKind;
use crate::lab::{self, IpFamily, Source};
use crate::live::{LiveLab, LiveNode};

/// web on side and back, client on front; every check of one kind.
const LAB: &str = "networks:
  front: {}
  back: {}
  side: {}
nodes:
  web:
    networks: [side, back]
    serve: [tcp:7000, udp:7001]
  client:
    networks: [front]
checks:
  - tcp: { from: client, to: web:7000, expect: blocked }
  - udp: { from: client, to: web:7001, expect: blocked }
  - matrix: { port: 7000, expect: \"from\\\\to  web\\nclient   x\\n\" }
  - latency: { from: client, to: web, expect: { median: ..5ms } }
  - loss: { from: client, to: web, expect: 90%.. }
";

fn node(addrs: &[(&str, [u8; 4])]) -> LiveNode {
    LiveNode {
        host: "local".into(),
        probe_container: Some("id".into()),
        running: true,
        state: "running".into(),
        addresses: addrs
            .iter()
            .map(|(n, ip)| ((*n).to_owned(), Ipv4Addr::from(*ip)))
            .collect(),
        gateways: IndexMap::new(),
        ports: Vec::new(),
        stale_helper: None,
        addresses6: IndexMap::new(),
        gateways6: IndexMap::new(),
    }
}

fn live(yaml: &str, nodes: &[(&str, LiveNode)]) -> LiveLab {
    LiveLab {
        lab: lab::load_source("t.yaml", yaml.as_bytes(), Some("t"))
            .expect("valid")
            .lab,
        ca_pem: None,
        other_ca_pem: None,
        nodes: nodes
            .iter()
            .map(|(n, l)| ((*n).to_owned(), l.clone()))
            .collect::<HashMap<_, _>>(),
        network_subnets: HashMap::new(),
        hosts: IndexMap::new(),
        subnets: Vec::new(),
        allow_external: false,
        agent_image: String::new(),
    }
}

/// The address each planned check's probe aims at, in check order.
fn aimed(l: &LiveLab) -> Vec<IpAddr> {
    plan_checks(l, &l.lab.checks)
        .iter()
        .map(|step| {
            let probes = step.probes();
            let Some((_, probe)) = probes.first() else {
                panic!("no probe: {step:?}");
            };
            match &probe.kind {
                ProbeKind::Tcp { addr, .. } | ProbeKind::Udp { addr, .. } => addr.ip(),
                ProbeKind::Echo { target, .. } => *target,
                other => panic!("unexpected probe {other:?}"),
            }
        })
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("ip")
}

#[test]
fn a_network_joined_by_a_step_is_the_shared_one_every_check_aims_at() {
    let web = node(&[("side", [10, 3, 0, 2]), ("back", [10, 2, 0, 2])]);
    // As the file declares it: no network shared, web's first bridge.
    let before = live(
        LAB,
        &[
            ("web", web.clone()),
            ("client", node(&[("front", [10, 1, 0, 3])])),
        ],
    );
    assert_eq!(aimed(&before), vec![ip("10.3.0.2"); 5]);
    // `connect: { node: client, network: back }`: back is shared now, so
    // tcp, udp, the matrix cell, latency and loss aim at web's back
    // address, not at side, which client cannot reach.
    let after = live(
        LAB,
        &[
            ("web", web),
            (
                "client",
                node(&[("front", [10, 1, 0, 3]), ("back", [10, 2, 0, 3])]),
            ),
        ],
    );
    assert_eq!(aimed(&after), vec![ip("10.2.0.2"); 5]);
}

/// db on an overlay and a bridge, edge on the same overlay and its own
/// bridge, one host.
const OVERLAY: &str = "networks:
  ov: { driver: overlay }
  lan: {}
  front: {}
nodes:
  db:
    networks: [ov, lan]
    serve: [tcp:7000, udp:7001]
  edge:
    networks: [ov, front]
checks:
  - tcp: { from: edge, to: db:7000, expect: blocked }
  - udp: { from: edge, to: db:7001, expect: blocked }
  - matrix: { port: 7000, expect: \"from\\\\to  db\\nedge     x\\n\" }
  - latency: { from: edge, to: db, expect: { median: ..5ms } }
  - loss: { from: edge, to: db, expect: 90%.. }
";

#[test]
fn after_leaving_the_only_shared_network_checks_aim_at_a_bridge_of_the_sources_host() {
    let db = node(&[("ov", [10, 0, 1, 4]), ("lan", [172, 30, 0, 2])]);
    let before = live(
        OVERLAY,
        &[
            ("db", db.clone()),
            (
                "edge",
                node(&[("ov", [10, 0, 1, 5]), ("front", [172, 31, 0, 2])]),
            ),
        ],
    );
    assert_eq!(aimed(&before), vec![ip("10.0.1.4"); 5]);
    // `disconnect: { node: edge, network: ov }`: the overlay address is
    // in no routing table of edge any more (it would leave by the default
    // route); db's bridge address shows the isolation.
    let after = live(
        OVERLAY,
        &[("db", db), ("edge", node(&[("front", [172, 31, 0, 2])]))],
    );
    assert_eq!(aimed(&after), vec![ip("172.30.0.2"); 5]);
}

#[test]
fn a_target_named_on_a_network_it_left_is_not_aimed_elsewhere() {
    let l = live(
        LAB,
        &[
            ("web", node(&[("side", [10, 3, 0, 2])])),
            ("client", node(&[("front", [10, 1, 0, 3])])),
        ],
    );
    let to = lab::notation::parse_target("web@back:7000").expect("target");
    assert_eq!(
        target::resolve(&l, &Source::Node("client".into()), &to, IpFamily::V4),
        Err("node `web` is not on network `back` now".into())
    );
    // Where it still is, it is aimed at there.
    let to = lab::notation::parse_target("web@side:7000").expect("target");
    assert_eq!(
        target::resolve(&l, &Source::Node("client".into()), &to, IpFamily::V4),
        Ok(SocketAddr::new(ip("10.3.0.2"), 7000))
    );
}

#[test]
fn a_node_on_no_network_now_is_on_no_path() {
    let l = live(
        LAB,
        &[
            ("web", node(&[])),
            ("client", node(&[("front", [10, 1, 0, 3])])),
        ],
    );
    let to = lab::notation::parse_target("web:7000").expect("target");
    let refused = target::resolve(&l, &Source::Node("client".into()), &to, IpFamily::V4)
        .expect_err("no address to aim at");
    assert!(
        refused.contains("web is on no network: it has no address to aim at"),
        "{refused}"
    );
}

#[test]
fn the_family_a_check_names_none_of_follows_the_network_shared_now() {
    let yaml = "networks:
  front: {}
  only6: { ipv6: true, ipv4: false }
nodes:
  web:
    networks: [front, only6]
    serve: [tcp:7000]
  client:
    networks: [front]
checks:
  - tcp: { from: client, to: web:7000, expect: blocked }
";
    let six = |last: u16| std::net::Ipv6Addr::new(0xfd0e, 0, 0, 0, 0, 0, 0, last);
    let mut web = node(&[("front", [10, 1, 0, 2])]);
    web.addresses6 = [("only6".to_owned(), six(2))].into_iter().collect();
    let before = live(
        yaml,
        &[
            ("web", web.clone()),
            ("client", node(&[("front", [10, 1, 0, 3])])),
        ],
    );
    assert_eq!(aimed(&before), vec![ip("10.1.0.2")]);
    // `disconnect` from front, `connect` to only6: the one network shared
    // now has IPv6 only, so the check speaks IPv6 to web's address there.
    let mut client = node(&[]);
    client.addresses6 = [("only6".to_owned(), six(3))].into_iter().collect();
    let after = live(yaml, &[("web", web), ("client", client)]);
    assert_eq!(aimed(&after), vec![IpAddr::V6(six(2))]);
}

#[test]
fn the_report_shows_the_network_a_moved_node_was_reached_over() {
    // client joined back: the check touched back only, not front, which
    // the packet no longer leaves by.
    let l = live(
        LAB,
        &[
            (
                "web",
                node(&[("side", [10, 3, 0, 2]), ("back", [10, 2, 0, 2])]),
            ),
            (
                "client",
                node(&[("front", [10, 1, 0, 3]), ("back", [10, 2, 0, 3])]),
            ),
        ],
    );
    let scope = route::scope(&l.lab.checks[0].kind, &l);
    assert_eq!(scope.networks, ["back"]);
    assert_eq!(scope.nodes, ["web", "client"]);
}
