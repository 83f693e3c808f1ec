//! Unit tests of Docker's own names in a lab: names as compose writes
//! them, a node called `host`, Docker's default bridge beside user
//! networks, and external networks.

use super::tests::{errors, one_error, valid};
use super::*;

#[test]
fn names_as_compose_writes_them_are_taken() {
    let lab = valid(
        "networks:\n  Back_end.v2: {}\n  default: {}\nnodes:\n  pay_gw:\n    networks: [Back_end.v2, default]\n    serve: [tcp:7000]\n  API.v1:\n    networks: [default]\n  host:\n    networks: [Back_end.v2]\n",
    );
    assert_eq!(
        lab.networks.keys().collect::<Vec<_>>(),
        ["Back_end.v2", "default"]
    );
    assert_eq!(
        lab.nodes.keys().collect::<Vec<_>>(),
        ["pay_gw", "API.v1", "host"]
    );
}

#[test]
fn host_is_the_docker_host_and_service_host_the_node() {
    let lab = valid(
        "networks:\n  n: {}\nnodes:\n  host:\n    networks: [n]\n    serve: [tcp:7000]\n    ports: [\"127.0.0.1:17000:7000\"]\n  web:\n    networks: [n]\nchecks:\n  - tcp: { from: service:host, to: web:7000, expect: refused }\n  - tcp: { from: host, to: \"127.0.0.1:17000\", expect: open }\n  - tcp: { from: web, to: host:7000, expect: open }\n  - tcp: { from: web, to: service:host:7000, expect: open }\n  - dns: { from: service:host, name: web, expect: [web] }\n",
    );
    let sources: Vec<Source> = lab.checks.iter().map(|c| c.kind.source()).collect();
    assert_eq!(
        sources,
        [
            Source::Node("host".into()),
            Source::Host(None),
            Source::Node("web".into()),
            Source::Node("web".into()),
            Source::Node("host".into()),
        ]
    );
    // A target is always a node: `host:7000` and `service:host:7000` alike.
    for c in &lab.checks[2..4] {
        let CheckKind::Tcp { to, .. } = &c.kind else {
            panic!("tcp")
        };
        assert_eq!(to.to_string(), "host:7000");
    }
    // Reports name the node as a lab file must, never as the Docker host.
    assert_eq!(Source::Node("host".into()).to_string(), "service:host");
    assert_eq!(Source::Host(None).to_string(), "host");
}

#[test]
fn a_dns_check_from_host_still_means_the_docker_host() {
    let (_, _, msg) = one_error(
        "networks:\n  n: {}\nnodes:\n  host:\n    networks: [n]\nchecks:\n  - dns: { from: host, name: host, expect: resolves }\n",
    );
    assert_eq!(msg, "a dns check cannot run from the host");
}

#[test]
fn node_names_differing_only_in_case_are_refused() {
    assert_eq!(
        one_error(
            "networks:\n  n: {}\nnodes:\n  Web:\n    networks: [n]\n  web:\n    networks: [n]\n"
        ),
        (
            6,
            3,
            "node name `web` differs from node `Web` only in case".into()
        )
    );
}

#[test]
fn the_default_bridge_goes_beside_user_networks_and_after_them() {
    let lab = valid(
        "networks:\n  alpine-net: {}\nnodes:\n  alpine4:\n    networks: [bridge, alpine-net]\n  alpine3:\n    networks: [bridge]\nchecks:\n  - tcp: { from: alpine3, to: alpine4@bridge:80, expect: refused }\n",
    );
    assert_eq!(
        lab.nodes["alpine4"]
            .networks()
            .map(|a| a.network.as_str())
            .collect::<Vec<_>>(),
        ["alpine-net", "bridge"]
    );
    // On the default bridge alone it is `network_mode: bridge`.
    assert_eq!(
        lab.nodes["alpine3"].attachment,
        Attachment::Mode(NetworkMode::Bridge)
    );
    assert!(lab.nodes["alpine3"].is_on("bridge"));
    assert!(lab.nodes["alpine4"].is_on("bridge"));
    assert!(!lab.networks.contains_key("bridge"));
}

#[test]
fn the_default_bridge_takes_no_alias_nor_address_and_is_not_declared() {
    let e = errors(
        "networks:\n  n: {}\nnodes:\n  a:\n    networks:\n      n: {}\n      bridge: { aliases: [www] }\n  b:\n    networks:\n      bridge: { ipv4: 172.17.0.9 }\n      n: {}\n",
    );
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "Docker's default bridge takes no aliases",
            "Docker's default bridge takes no fixed addresses",
        ]
    );
    let (_, _, msg) = one_error("networks:\n  bridge: {}\nnodes:\n  a:\n    networks: [bridge]\n");
    assert_eq!(msg, "network name `bridge` is reserved");
}

#[test]
fn an_external_network_is_named_and_has_no_settings_of_the_lab() {
    let lab = valid(
        "networks:\n  shared: { external: true }\n  corp: { external: true, name: corp_net.v1 }\nnodes:\n  a:\n    networks: [shared, corp]\n",
    );
    assert_eq!(lab.networks["shared"].external.as_deref(), Some("shared"));
    assert_eq!(
        lab.networks["corp"].external.as_deref(),
        Some("corp_net.v1")
    );
    let e = errors(
        "networks:\n  shared: { external: true, subnet: 10.9.0.0/24, internal: true }\n  mine: { name: other }\n  bad: { external: true, name: netlab_x_y }\n  own: { external: true, name: bridge }\nnodes:\n  a:\n    networks: [shared, mine, bad, own]\n",
    );
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "`subnet` of external network `shared` is not the lab's to set",
            "`internal` of external network `shared` is not the lab's to set",
            "`name` applies only to an external network",
            "`netlab_x_y` cannot be an external network",
            "`bridge` is Docker's own network, not an external one",
        ]
    );
}

#[test]
fn plans_join_external_networks_and_the_default_bridge_without_making_them() {
    let lab = valid(
        "networks:\n  corp: { external: true, name: corp_net }\n  n: {}\nnodes:\n  a:\n    networks:\n      n: { aliases: [www] }\n      corp: { aliases: [api] }\n      bridge: {}\n",
    );
    let urls = indexmap::IndexMap::from([("local".to_owned(), "unix:///x".to_owned())]);
    let p = crate::plan::plan(
        &lab,
        &crate::plan::PlanInputs {
            engines: &urls,
            agent_image: "netlab/agent:test",
        },
    );
    assert_eq!(
        p.networks
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>(),
        ["netlab_lab_n"]
    );
    let eps: Vec<(&str, Vec<&str>)> = p.containers[0]
        .endpoints
        .iter()
        .map(|e| {
            (
                e.network.as_str(),
                e.aliases.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        eps,
        [
            ("netlab_lab_n", vec!["a", "www"]),
            ("corp_net", vec!["a", "api"]),
            ("bridge", vec![]),
        ]
    );
}

#[test]
fn helper_names_cannot_be_a_node_container() {
    use crate::plan::{container_name, probe_helper_name, steps};
    // A node name never holds `..`: a helper's name always does.
    for helper in [
        probe_helper_name("l", "web"),
        steps::impair_helper_name("l", "web", "front"),
        steps::clear_helper_name("l", "web"),
    ] {
        assert!(helper.contains(".."), "{helper}");
        let tail = helper.trim_start_matches("netlab_l_");
        assert!(!validate::is_valid_node_name(tail), "{tail}");
        assert_ne!(container_name("l", tail), container_name("l", "web"));
    }
    assert!(validate::is_valid_node_name("web_probe"));
    assert_ne!(
        probe_helper_name("l", "web"),
        container_name("l", "web_probe")
    );
}

const ALIASED: &str = "networks:\n  back: {}\nnodes:\n  db:\n    networks:\n      back: { aliases: [postgres] }\n    serve: [tcp:5432, https:443]\n  app:\n    networks: [back]\n  old:\n    network_mode: bridge\n";

#[test]
fn an_alias_is_a_target_resolved_from_the_probing_node() {
    let lab = valid(&format!(
        "{ALIASED}checks:\n  - tcp: {{ from: app, to: postgres:5432, expect: open }}\n  - tls: {{ from: app, to: postgres:443, expect: verified }}\n"
    ));
    let CheckKind::Tcp { to, .. } = &lab.checks[0].kind else {
        panic!("tcp")
    };
    assert_eq!(to.host, TargetHost::Name("postgres".into()));
    assert_eq!(to.to_string(), "postgres:5432");
    // The name presented over TLS is the alias, which the certificate
    // covers.
    let CheckKind::Tls { name, .. } = &lab.checks[1].kind else {
        panic!("tls")
    };
    assert_eq!(name, "postgres");
}

#[test]
fn an_alias_target_needs_dockers_dns_and_no_network() {
    let e = errors(&format!(
        "{ALIASED}checks:\n  - tcp: {{ from: host, to: postgres:5432, expect: open }}\n  - tcp: {{ from: old, to: postgres:5432, expect: open }}\n  - tcp: {{ from: app, to: postgres@back:5432, expect: open }}\n  - tcp: {{ from: app, to: nobody:5432, expect: open }}\n"
    ));
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert!(
        msgs[0].starts_with(
            "`postgres:5432` is outside the lab: host does not resolve the lab's names"
        ),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[1].starts_with(
            "`postgres:5432` is outside the lab: old does not resolve the lab's names"
        ),
        "{}",
        msgs[1]
    );
    assert_eq!(
        msgs[2],
        "`postgres` is an alias, not a node: `@back` cannot pick its address"
    );
    assert_eq!(msgs[3], "undefined node `nobody`");
}

#[test]
fn the_model_knows_the_tutorial_a_node_on_bridge_and_a_user_network() {
    use crate::model::{EngineSide, dns, reach};
    let lab = valid(
        "networks:\n  alpine-net: {}\nnodes:\n  alpine1:\n    networks: [alpine-net]\n    serve: [tcp:7000]\n  alpine3:\n    networks: [bridge]\n    serve: [tcp:7000]\n  alpine4:\n    networks: [alpine-net, bridge]\n    serve: [tcp:7000]\n",
    );
    let resolves = |from: &str, name: &str| {
        dns::resolve(&lab, from, name, IpFamily::V4, EngineSide::NEW)
            .certain_nodes()
            .map(<[String]>::to_vec)
    };
    assert_eq!(resolves("alpine4", "alpine1"), Some(vec!["alpine1".into()]));
    // The default bridge gives no names, also to a node on a user network.
    assert_eq!(resolves("alpine4", "alpine3"), None);
    assert_eq!(resolves("alpine3", "alpine4"), None);
    let reaches = |from: &str, to: &str| {
        reach::reach(&lab, &Source::Node(from.into()), to, 7000, Transport::Tcp).reach
    };
    assert_eq!(reaches("alpine4", "alpine3"), reach::Reach::Open);
    assert_eq!(reaches("alpine3", "alpine4"), reach::Reach::Open);
    assert_eq!(reaches("alpine1", "alpine3"), reach::Reach::Blocked);
    assert_eq!(reaches("alpine3", "alpine1"), reach::Reach::Blocked);
}
