//! Hand-written small labs whose Docker answers are known (Docker 20.10 and
//! later), held against the model's predictions.

use super::{DnsPrediction, EngineSide, Reach, published, reach, resolve};
use crate::lab::{self, IpFamily, Lab, PortExpect, Source, Transport};

fn lab(yaml: &str) -> Lab {
    match lab::load_source("t.yaml", yaml.as_bytes(), None) {
        Ok(l) => l.lab,
        Err(e) => panic!("{e}"),
    }
}

const THREE_BRIDGES: &str = r#"
name: m
networks:
  front: {}
  back: { icc: false }
  vault: { internal: true }
nodes:
  web: { networks: { front: { aliases: [www, pool] }, back: {} }, serve: [tcp:7000] }
  app: { networks: { back: { aliases: [pool] } }, serve: [tcp:7000] }
  db: { networks: [vault], serve: [tcp:7000] }
  idle: { networks: [front, vault] }
  legacy: { network_mode: bridge, serve: [tcp:7000], ports: ["127.0.0.1:27601:7000"] }
  boxed: { network_mode: none }
  hosted: { network_mode: host, serve: [tcp:27602] }
  sealed: { networks: [vault], serve: [tcp:7000], ports: ["127.0.0.1:27603:7000"] }
checks:
  - tcp: { from: web, to: app:7000, expect: blocked }
"#;

fn node(n: &str) -> Source {
    Source::Node(n.into())
}

/// TCP over IPv6 from node `from` to `to`:7000 on an engine like `side`.
fn tcp_v6(l: &Lab, from: &str, to: &str, side: EngineSide) -> super::reach::ReachPrediction {
    super::reach_family(l, &node(from), to, 7000, Transport::Tcp, IpFamily::V6, side)
}

fn cell(l: &Lab, from: Source, to: &str) -> Reach {
    reach(l, &from, to, 7000, Transport::Tcp).reach
}

#[test]
fn a_shared_user_bridge_forwards_and_a_port_nobody_serves_is_refused() {
    let l = lab(THREE_BRIDGES);
    let p = reach(&l, &node("idle"), "web", 7000, Transport::Tcp);
    assert_eq!(p.reach, Reach::Open);
    assert_eq!(p.network.as_deref(), Some("front"));
    assert!(
        p.reason.contains("user-defined bridge `front`"),
        "{}",
        p.reason
    );
    let p = reach(&l, &node("web"), "idle", 7000, Transport::Tcp);
    assert_eq!(p.reach, Reach::Refused);
    assert!(
        p.reason.contains("nothing listens on 7000/tcp in `idle`"),
        "{}",
        p.reason
    );
}

#[test]
fn icc_off_blocks_between_containers_of_that_bridge_only() {
    let l = lab(THREE_BRIDGES);
    let p = reach(&l, &node("web"), "app", 7000, Transport::Tcp);
    assert_eq!(p.reach, Reach::Blocked);
    assert!(p.reason.contains("icc is off"), "{}", p.reason);
    // The host is no container of the bridge.
    assert_eq!(cell(&l, Source::Host(None), "app"), Reach::Open);
    // A node aiming at its own address never crosses the bridge.
    assert_eq!(cell(&l, node("app"), "app"), Reach::Open);
}

#[test]
fn internal_networks_keep_traffic_within_and_the_host_routes_into_them() {
    let l = lab(THREE_BRIDGES);
    assert_eq!(cell(&l, node("idle"), "db"), Reach::Open);
    let p = reach(&l, &node("web"), "db", 7000, Transport::Tcp);
    assert_eq!(p.reach, Reach::Blocked);
    assert!(
        p.reason.contains("internal network `vault`"),
        "{}",
        p.reason
    );
    let p = reach(&l, &node("db"), "web", 7000, Transport::Tcp);
    assert_eq!(p.reach, Reach::Blocked);
    assert!(
        p.reason.contains("only on internal networks"),
        "{}",
        p.reason
    );
    assert_eq!(cell(&l, Source::Host(None), "db"), Reach::Open);
}

#[test]
fn bridges_are_isolated_from_each_other_and_from_the_default_bridge() {
    let l = lab(THREE_BRIDGES);
    let p = reach(&l, &node("legacy"), "web", 7000, Transport::Tcp);
    assert_eq!(p.reach, Reach::Blocked);
    assert!(p.reason.contains("isolation rules"), "{}", p.reason);
    assert_eq!(cell(&l, node("web"), "legacy"), Reach::Blocked);
    assert_eq!(cell(&l, Source::Host(None), "legacy"), Reach::Open);
}

#[test]
fn host_mode_is_the_hosts_stack_and_none_has_no_route() {
    let l = lab(THREE_BRIDGES);
    let p = reach(&l, &Source::Host(None), "hosted", 27602, Transport::Tcp);
    assert_eq!(p.reach, Reach::Open);
    assert!(p.reason.contains("host mode"), "{}", p.reason);
    assert_eq!(cell(&l, node("hosted"), "web"), Reach::Open);
    let p = reach(&l, &node("boxed"), "web", 7000, Transport::Tcp);
    assert_eq!(p.reach, Reach::Blocked);
    assert!(p.reason.contains("none"), "{}", p.reason);
}

#[test]
fn embedded_dns_answers_per_network_and_only_on_user_networks() {
    let l = lab(THREE_BRIDGES);
    // `pool` is web's alias on front and app's on back: web, on both,
    // gets one network's carrier, never both at once.
    match resolve(&l, "web", "pool", IpFamily::V4, EngineSide::OLD) {
        DnsPrediction::OneOf { choices, .. } => assert_eq!(
            choices,
            vec![
                ("front".to_owned(), vec!["web".to_owned()]),
                ("back".to_owned(), vec!["app".to_owned()]),
            ]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        resolve(&l, "web", "pool", IpFamily::V4, EngineSide::OLD).certain_nodes(),
        None
    );
    assert_eq!(
        resolve(&l, "idle", "www", IpFamily::V4, EngineSide::OLD).certain_nodes(),
        Some(&["web".to_owned()][..])
    );
    // icc off does not stop the DNS.
    assert_eq!(
        resolve(&l, "app", "web", IpFamily::V4, EngineSide::OLD).certain_nodes(),
        Some(&["web".to_owned()][..])
    );
    for (from, name) in [
        ("db", "web"),
        ("legacy", "web"),
        ("boxed", "web"),
        ("hosted", "web"),
        ("app", "db"),
    ] {
        assert!(
            matches!(
                resolve(&l, from, name, IpFamily::V4, EngineSide::OLD),
                DnsPrediction::Unresolved(_)
            ),
            "{from} -> {name}"
        );
    }
    // No AAAA records on an IPv4-only network.
    assert!(matches!(
        resolve(&l, "idle", "web", IpFamily::V6, EngineSide::OLD),
        DnsPrediction::Unresolved(_)
    ));
}

#[test]
fn ports_are_published_except_on_internal_only_nodes() {
    let l = lab(THREE_BRIDGES);
    assert_eq!(
        published(&l, "legacy", 7000, Transport::Tcp, None, EngineSide::NEW).0,
        PortExpect::Published
    );
    let (expect, why) = published(&l, "sealed", 7000, Transport::Tcp, None, EngineSide::NEW);
    assert_eq!(expect, PortExpect::Unpublished);
    assert!(why.contains("internal"), "{why}");
    assert_eq!(
        published(&l, "web", 7000, Transport::Tcp, None, EngineSide::NEW).0,
        PortExpect::Unpublished
    );
}

const DUAL: &str = r#"
name: m6
networks:
  one: { ipv6: true }
  two: { ipv6: true }
  cold: { ipv6: true, icc: false }
  vault: { ipv6: true, internal: true }
nodes:
  a: { networks: [one], serve: [tcp:7000] }
  b: { networks: [two], serve: [tcp:7000] }
  c: { networks: [cold], serve: [tcp:7000] }
  d: { networks: [cold], serve: [tcp:7000] }
  e: { networks: [vault], serve: [tcp:7000] }
  legacy: { network_mode: bridge }
checks:
  - tcp: { from: a, to: b:7000, expect: blocked }
"#;

#[test]
fn without_ip6tables_docker_enforces_none_of_its_ipv6_rules() {
    let l = lab(DUAL);
    let v6 = |from: &str, to: &str, side: EngineSide| tcp_v6(&l, from, to, side).reach;
    for (from, to) in [("a", "b"), ("c", "d"), ("a", "e"), ("e", "a")] {
        assert_eq!(
            v6(from, to, EngineSide::NEW),
            Reach::Blocked,
            "{from} -> {to}"
        );
        assert_eq!(v6(from, to, EngineSide::OLD), Reach::Open, "{from} -> {to}");
    }
    // The default bridge has no IPv6 here: no route, with or without.
    assert_eq!(v6("legacy", "a", EngineSide::OLD), Reach::Blocked);
    let p = tcp_v6(&l, "a", "b", EngineSide::OLD);
    assert!(p.reason.contains("ip6tables"), "{}", p.reason);
    assert_eq!(p.network.as_deref(), Some("two"));
}

/// Docker 26.1 without ip6tables (seeds 33, 78, 85): a container whose IPv6
/// networks are all internal has no IPv6 default route, so IPv6 neither
/// leaves nor enters an internal network across bridges; on one network
/// it still flows.
#[test]
fn from_docker_26_internal_ipv6_has_no_default_route() {
    let l = lab(DUAL);
    let docker26 = EngineSide {
        ip6tables: false,
        major: 26,
    };
    for (from, to) in [("a", "e"), ("e", "a")] {
        let p = tcp_v6(&l, from, to, docker26);
        assert_eq!(p.reach, Reach::Blocked, "{from} -> {to}");
        assert!(p.reason.contains("default route"), "{}", p.reason);
        assert_eq!(tcp_v6(&l, from, to, EngineSide::OLD).reach, Reach::Open);
    }
    // Between two non-internal bridges nothing changed.
    assert_eq!(tcp_v6(&l, "a", "b", docker26).reach, Reach::Open);
    assert_eq!(tcp_v6(&l, "c", "d", docker26).reach, Reach::Open);
}

/// Docker 28.5 (seed 107): an AAAA question ends at the first network in
/// Docker's order that knows the name, empty when it has no IPv6 there;
/// older engines go on to the next network.
#[test]
fn docker_28_answers_aaaa_from_the_first_network_that_knows_the_name() {
    let l = lab(r#"
name: m28
networks:
  plain: {}
  sealed: { ipv6: true, internal: true }
  open6: { ipv6: true }
nodes:
  a: { networks: [plain, sealed] }
  b: { networks: [plain, sealed] }
  c: { networks: [plain, open6] }
  d: { networks: [plain, open6] }
checks:
  - dns: { from: a, name: b, expect: [b] }
"#);
    let docker28 = EngineSide::NEW;
    // `plain` sorts before the internal `sealed`.
    match resolve(&l, "a", "b", IpFamily::V6, docker28) {
        DnsPrediction::Unresolved(why) => assert!(why.contains("`plain`"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        resolve(&l, "a", "b", IpFamily::V6, EngineSide::OLD).certain_nodes(),
        Some(&["b".to_owned()][..])
    );
    // A dual-stack network that is not internal sorts before `plain`.
    assert_eq!(
        resolve(&l, "c", "d", IpFamily::V6, docker28).certain_nodes(),
        Some(&["d".to_owned()][..])
    );
}

/// Docker 20.10 (overlay seed 5, shrunk): a node on an internal bridge and
/// an overlay has no published port; 26.1 and 28.5 publish it.
#[test]
fn docker_20_publishes_nothing_of_a_node_on_internal_and_overlay_networks() {
    let l = lab(r#"
name: mov
networks:
  back: { internal: true }
  ov: { driver: overlay }
nodes:
  n5: { networks: [back, ov], serve: [tcp:7000], ports: ["27925:7000"] }
  n6: { networks: [ov], serve: [tcp:7000], ports: ["27926:7000"] }
checks:
  - port: { node: n5, port: 7000, expect: published }
"#);
    let old = published(&l, "n5", 7000, Transport::Tcp, None, EngineSide::OLD);
    assert_eq!(old.0, PortExpect::Unpublished, "{}", old.1);
    assert!(old.1.contains("20.10"), "{}", old.1);
    let new = published(&l, "n5", 7000, Transport::Tcp, None, EngineSide::NEW);
    assert_eq!(new.0, PortExpect::Published);
    // Only an overlay: published on every engine seen.
    for side in [EngineSide::OLD, EngineSide::NEW] {
        assert_eq!(
            published(&l, "n6", 7000, Transport::Tcp, None, side).0,
            PortExpect::Published
        );
    }
}

/// Docker 28.5 (overlay seed 38, shrunk): in swarm mode the embedded DNS
/// asks a container's overlays before its bridges, so an IPv4-only
/// overlay ends an AAAA question before a dual-stack bridge is asked.
#[test]
fn docker_28_asks_overlays_first() {
    let l = lab(r#"
name: m38
networks:
  net1: { ipv6: true }
  ov: { driver: overlay }
nodes:
  n1: { networks: [net1, ov] }
checks:
  - dns: { from: n1, name: n1, expect: [n1] }
"#);
    match resolve(&l, "n1", "n1", IpFamily::V6, EngineSide::NEW) {
        DnsPrediction::Unresolved(why) => assert!(why.contains("`ov`"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        resolve(&l, "n1", "n1", IpFamily::V6, EngineSide::OLD).certain_nodes(),
        Some(&["n1".to_owned()][..])
    );
}

#[test]
fn only_internal_networks_or_mode_none_mean_no_route_out() {
    use crate::lab::EgressExpect;
    let l = lab(THREE_BRIDGES);
    let said = |n: &str| super::egress(&l, n, EngineSide::NEW).map(|(e, _)| e);
    assert_eq!(said("db"), Some(EgressExpect::None));
    assert_eq!(said("sealed"), Some(EgressExpect::None));
    assert_eq!(said("boxed"), Some(EgressExpect::None));
    assert_eq!(said("idle"), Some(EgressExpect::Routed));
    assert_eq!(said("web"), Some(EgressExpect::Routed));
    assert_eq!(said("legacy"), Some(EgressExpect::Routed));
    // The Docker host's routes are not the lab's to say.
    assert_eq!(said("hosted"), None);
    // Docker 20.10 still routes a container of internal networks.
    assert_eq!(
        super::egress(&l, "db", EngineSide::OLD).map(|(e, _)| e),
        Some(EgressExpect::Routed)
    );
    let implied = super::implied::checks(&l, EngineSide::OLD);
    let egress: Vec<&str> = implied
        .iter()
        .filter_map(|i| match &i.kind {
            crate::lab::CheckKind::Egress { node, .. } => Some(node.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(egress, ["db", "sealed"]);
}
