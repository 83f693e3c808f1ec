//! Unit tests of the drivers' part of the lab file (docs/drivers.md): the
//! `link` check, ipvlan l3's `subnets:`, sidecars (`network_mode:
//! "container:NODE"`), and what the model predicts of them.

use super::tests::{errors, load_str, one_error};
use super::*;
use crate::model::reach::{Reach, reach};

const VLAN: &str = "networks:
  lan: { driver: macvlan, subnet: 10.213.60.0/24 }
  routed:
    driver: ipvlan
    subnets: [10.213.63.0/24, 10.213.64.0/24]
    options: { ipvlan_mode: l3 }
nodes:
  web:
    networks: { lan: { ipv4: 10.213.60.10 } }
    serve: [tcp:7000]
  client:
    networks: [lan]
  east:
    networks: { routed: { ipv4: 10.213.63.10 } }
    serve: [tcp:7000]
  north:
    networks: { routed: { ipv4: 10.213.63.11 } }
  west:
    networks: { routed: { ipv4: 10.213.64.10 } }
";

/// What the model says of TCP from node `from` to `to`:`port`.
fn tcp_from(l: &Lab, from: &str, to: &str, port: u16) -> crate::model::reach::ReachPrediction {
    reach(l, &Source::Node(from.into()), to, port, Transport::Tcp)
}

fn lab(yaml: &str) -> Lab {
    load_str(yaml).expect("valid lab").lab
}

#[test]
fn a_link_check_names_two_nodes_of_one_network_and_one_expectation() {
    let l = lab(&format!(
        "{VLAN}checks:\n  - link: {{ node: client, network: lan, to: web, expect: own-mac }}\n"
    ));
    assert_eq!(
        l.checks[0].kind,
        CheckKind::Link {
            node: "client".into(),
            network: "lan".into(),
            to: "web".into(),
            expect: LinkExpect::OwnMac,
        }
    );
    assert_eq!(l.checks[0].title, "link client → web on lan is own-mac");
    let (_, _, m) = one_error(&format!(
        "{VLAN}checks:\n  - link: {{ node: client, network: lan, to: web, expect: shared-mc }}\n"
    ));
    assert_eq!(m, "`shared-mc` is not what a link check expects");
    let (_, _, m) = one_error(&format!(
        "{VLAN}checks:\n  - link: {{ node: client, network: lan, to: east, expect: no-arp }}\n"
    ));
    assert_eq!(m, "node `east` is not on network `lan`");
    let (_, _, m) = one_error(&format!(
        "{VLAN}checks:\n  - link: {{ node: client, network: lan, expect: no-arp }}\n"
    ));
    assert!(m.contains("`to`"), "{m}");
}

#[test]
fn subnets_are_for_ipvlan_l3_and_each_is_its_own() {
    let l = lab(VLAN);
    let routed = &l.networks["routed"];
    assert_eq!(routed.driver, Driver::Ipvlan { l3: true });
    assert_eq!(routed.subnets().count(), 2);
    let (_, _, m) = one_error(
        "networks:\n  front: { subnets: [10.213.63.0/24, 10.213.64.0/24] }\nnodes:\n  a:\n    networks: [front]\n",
    );
    assert!(
        m.starts_with(
            "`subnets` (several subnets on one network) applies to ipvlan networks in l3 mode"
        ),
        "{m}"
    );
    let e = errors(&VLAN.replace("10.213.64.0/24]", "10.213.63.128/25]"));
    assert!(
        e.iter().any(|(_, _, m)| m
            == "subnet 10.213.63.128/25 of network `routed` overlaps another subnet of it"),
        "{e:#?}"
    );
    let e = errors(&VLAN.replace("ipv4: 10.213.64.10", "ipv4: 10.213.65.10"));
    assert!(
        e.iter()
            .any(|(_, _, m)| m.contains("10.213.65.10 is not a usable address")),
        "{e:#?}"
    );
}

#[test]
fn the_model_says_the_host_cannot_reach_vlan_containers_nor_l3_cross_its_subnets() {
    let l = lab(VLAN);
    let from_host = reach(&l, &Source::Host(None), "web", 7000, Transport::Tcp);
    assert_eq!(from_host.reach, Reach::Blocked);
    assert!(
        from_host
            .reason
            .contains("macvlan passes no traffic between a parent and its containers"),
        "{}",
        from_host.reason
    );
    let same_subnet = tcp_from(&l, "north", "east", 7000);
    assert_eq!(same_subnet.reach, Reach::Open);
    let across = tcp_from(&l, "west", "east", 7000);
    assert_eq!(across.reach, Reach::Blocked);
    assert!(
        across.reason.contains("no default route"),
        "{}",
        across.reason
    );
    let mac = tcp_from(&l, "client", "web", 7000);
    assert_eq!(mac.reach, Reach::Open);
}

const SIDECAR: &str = "networks:
  front: {}
nodes:
  web:
    networks: [front]
    serve: [tcp:7000]
  metrics:
    network_mode: \"container:web\"
    serve: [tcp:9100]
  client:
    networks: [front]
";

#[test]
fn a_sidecar_is_in_its_owners_namespace() {
    let l = lab(SIDECAR);
    assert_eq!(l.nodes["metrics"].shares(), Some("web"));
    assert_eq!(l.namespace_of("metrics"), "web");
    assert_eq!(l.sidecars_of("web").collect::<Vec<_>>(), ["metrics"]);
    // Reached at its owner's address, from its owner's networks.
    let to = tcp_from(&l, "client", "metrics", 7000);
    assert_eq!(to.reach, Reach::Open);
    let from = tcp_from(&l, "metrics", "client", 7001);
    assert_eq!(from.reach, Reach::Refused);
}

#[test]
fn a_sidecar_of_a_sidecar_of_another_host_or_with_ports_is_refused() {
    let chain = format!("{SIDECAR}  logs:\n    network_mode: \"container:metrics\"\n");
    let (_, _, m) = one_error(&chain);
    assert_eq!(m, "node `metrics` is a sidecar itself");
    let own = SIDECAR.replace("container:web", "container:metrics");
    let (_, _, m) = one_error(&own);
    assert_eq!(m, "node `metrics` cannot share its own namespace");
    let with_networks = SIDECAR.replace(
        "    network_mode: \"container:web\"\n",
        "    network_mode: \"container:web\"\n    networks: [front]\n",
    );
    let (_, _, m) = one_error(&with_networks);
    assert_eq!(m, "node `metrics` has both `network_mode` and `networks`");
}

#[test]
fn a_parent_is_only_one_the_lab_makes_and_only_on_macvlan_or_ipvlan() {
    let with_parent = VLAN.replace(
        "    driver: ipvlan\n",
        "    driver: ipvlan\n    parent: lab\n",
    );
    let l = lab(&with_parent);
    assert!(l.networks["routed"].lab_parent);
    assert!(!l.networks["lan"].lab_parent);
    let (line, col, m) = one_error(&VLAN.replace(
        "    driver: ipvlan\n",
        "    driver: ipvlan\n    parent: eth0\n",
    ));
    assert_eq!((line, col), (5, 13));
    assert_eq!(
        m,
        "`parent: eth0` would put the network's containers on an interface of the Docker host"
    );
    let (_, _, m) = one_error("networks:\n  n: { parent: lab }\nnodes:\n  a: { networks: [n] }\n");
    assert_eq!(m, "`parent` applies to macvlan and ipvlan networks");
    let (_, _, m) = one_error(
        "networks:\n  n: { external: true, parent: lab }\nnodes:\n  a: { networks: [n] }\n",
    );
    assert!(m.contains("parent"), "{m}");
}

#[test]
fn with_a_parent_of_its_own_ipvlan_l3_routes_between_its_subnets() {
    let l = lab(&VLAN.replace(
        "    driver: ipvlan\n",
        "    driver: ipvlan\n    parent: lab\n",
    ));
    let across = tcp_from(&l, "west", "east", 7000);
    assert_eq!(across.reach, Reach::Open, "{}", across.reason);
    // The host still has no way to them: no address on the parent.
    let from_host = reach(&l, &Source::Host(None), "east", 7000, Transport::Tcp);
    assert_eq!(from_host.reach, Reach::Blocked);
}
