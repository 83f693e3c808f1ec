//! The plan of a lab: names, labels, hosts and hashes, and what changes
//! when a lab that is up gets a changed file.

use super::*;
use crate::lab;

fn lab(yaml: &str) -> Lab {
    lab::load_source("t.yaml", yaml.as_bytes(), Some("t"))
        .expect("valid lab")
        .lab
}

fn plan_of(l: &Lab) -> Plan {
    let engines: IndexMap<String, String> = l
        .hosts
        .iter()
        .map(|h| (h.clone(), format!("unix:///run/{h}.sock")))
        .collect();
    plan(
        l,
        &PlanInputs {
            engines: &engines,
            agent_image: "netlab/agent:test",
        },
    )
}

#[test]
fn names_cannot_collide_across_labs() {
    assert_ne!(container_name("a-b", "c"), container_name("a", "b-c"));
    assert_eq!(network_name("lab", "front"), "netlab_lab_front");
    // netlab's own containers use `.`, which no lab or node name has.
    assert_ne!(lock_name("lab"), container_name("lab", "lock"));
    assert_ne!(
        host_helper_name("lab", "east"),
        container_name("lab", "host")
    );
}

#[test]
fn networks_carry_labels_icc_and_mtu() {
    let p = plan_of(&lab(
        "networks:\n  front: { icc: false, mtu: 1400, subnet: 10.77.0.0/24, internal: true }\nnodes:\n  web:\n    networks: [front]\n",
    ));
    let n = &p.networks[0];
    assert_eq!(n.name, "netlab_t_front");
    assert!(n.internal);
    assert_eq!(n.subnet, Some("10.77.0.0/24".parse().expect("cidr")));
    assert_eq!(n.options["com.docker.network.bridge.enable_icc"], "false");
    assert_eq!(n.options["com.docker.network.driver.mtu"], "1400");
    assert_eq!(n.labels[LABEL_LAB], "t");
    assert_eq!(n.labels[LABEL_NETWORK], "front");
    assert_eq!(n.labels[LABEL_HOST], "local");
    assert_eq!(n.labels[LABEL_HASH], n.hash);
}

#[test]
fn a_network_with_a_lab_parent_hangs_off_the_dummy_the_lab_names() {
    let p = plan_of(&lab(
        "networks:\n  l3: { driver: ipvlan, parent: lab, options: { ipvlan_mode: l3 } }\n  other: { driver: ipvlan, parent: lab }\n  own: { driver: macvlan }\nnodes:\n  web:\n    networks: [l3, other, own]\n",
    ));
    let name = parent_interface_name("t", "l3");
    assert!(name.len() <= 15 && name.starts_with("nlp"), "{name}");
    assert_eq!(name, parent_interface_name("t", "l3"));
    assert_ne!(name, parent_interface_name("t", "other"));
    assert_ne!(name, parent_interface_name("u", "l3"));
    let l3 = &p.networks[0];
    assert_eq!(l3.parent.as_deref(), Some(name.as_str()));
    assert_eq!(l3.options["parent"], name);
    assert_eq!(l3.labels[LABEL_PARENT], name);
    let own = &p.networks[2];
    assert_eq!(own.parent, None);
    assert!(!own.options.contains_key("parent") && !own.labels.contains_key(LABEL_PARENT));
}

#[test]
fn containers_get_hostname_node_alias_first_network_and_agent_command() {
    let p = plan_of(&lab(
        "networks:\n  a: {}\n  b: { subnet: 10.78.0.0/24 }\nnodes:\n  web:\n    networks:\n      a: { aliases: [www] }\n      b: { ipv4: 10.78.0.9 }\n    serve: [tcp:7000, udp:7001]\n",
    ));
    let c = &p.containers[0];
    assert_eq!(c.name, "netlab_t_web");
    assert_eq!(c.hostname.as_deref(), Some("web"));
    assert_eq!(c.network_mode, "netlab_t_a");
    assert_eq!(c.endpoints[0].aliases, ["web", "www"]);
    assert_eq!(c.endpoints[1].aliases, ["web"]);
    assert_eq!(c.endpoints[1].ipv4, Some("10.78.0.9".parse().expect("ip")));
    assert_eq!(
        c.cmd.as_deref().expect("agent command").join(" "),
        "agent serve --lab t --node web --listen tcp:7000 --listen udp:7001"
    );
    assert_eq!(c.image, ImageRef::Agent);
    assert_eq!(c.labels[LABEL_ROLE], ROLE_NODE);
    assert_eq!(p.host_helpers.len(), 1);
    assert_eq!(p.host_helpers[0].network_mode, "host");
    assert_eq!(p.host_helpers[0].labels[LABEL_ROLE], ROLE_HOST_HELPER);
}

#[test]
fn host_mode_has_no_hostname_and_ranges_expand_to_bindings() {
    let p = plan_of(&lab(
        "networks:\n  a: {}\nnodes:\n  h:\n    network_mode: host\n  p:\n    networks: [a]\n    ports: [\"127.0.0.1:8000-8001:80-81\", \"53/udp\"]\n",
    ));
    assert_eq!(p.containers[0].hostname, None);
    assert_eq!(p.containers[0].network_mode, "host");
    let ports = &p.containers[1].ports;
    assert_eq!(ports.len(), 3);
    assert_eq!(
        (ports[1].container_port, ports[1].host_port),
        (81, Some(8001))
    );
    assert_eq!(ports[2].port_key(), "53/udp");
    assert_eq!(ports[2].host_port, None);
}

#[test]
fn nodes_and_networks_go_to_their_hosts_and_an_overlay_spans_them() {
    let p = plan_of(&lab(
        "hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\n  lan: {}\nnodes:\n  web: { host: east, networks: [ov, lan] }\n  db: { host: west, networks: [ov] }\n",
    ));
    let ov = &p.networks[0];
    assert_eq!(
        (ov.host.as_str(), ov.hosts.clone()),
        ("east", vec!["east".to_owned(), "west".to_owned()])
    );
    assert_eq!(p.networks[1].host, "east");
    assert_eq!(p.swarm_hosts(), ["east", "west"]);
    assert_eq!(p.containers[1].host, "west");
    assert_eq!(
        p.containers[1].cmd.as_deref().expect("cmd").join(" "),
        "agent serve --lab t --node db --host west"
    );
    let helpers: Vec<&str> = p.host_helpers.iter().map(|h| h.host.as_str()).collect();
    assert_eq!(helpers, ["east", "west"]);
}

fn running(p: &Plan) -> Running {
    let mut r = Running::default();
    for n in &p.networks {
        r.networks
            .insert(n.network.clone(), (n.host.clone(), n.hash.clone()));
    }
    for c in &p.containers {
        r.nodes
            .insert(c.node.clone(), (c.host.clone(), c.hash.clone()));
    }
    for h in &p.host_helpers {
        r.helpers
            .insert(h.host.clone(), (h.host.clone(), h.hash.clone()));
    }
    r
}

const BASE: &str = "networks:\n  front: {}\n  back: {}\nnodes:\n  web:\n    networks:\n      front: { aliases: [www] }\n  api:\n    networks: [front, back]\n  db:\n    networks: [back]\n";

#[test]
fn an_unchanged_lab_changes_nothing_and_checks_do_not_count() {
    let before = plan_of(&lab(BASE));
    let with_checks =
        format!("{BASE}checks:\n  - tcp: {{ from: api, to: db:80, expect: refused }}\n");
    let after = plan_of(&lab(&with_checks));
    let c = changes(&after, &running(&before));
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(c.nodes.unchanged, ["web", "api", "db"]);
}

#[test]
fn one_changed_node_is_recreated_alone() {
    let before = plan_of(&lab(BASE));
    let after = plan_of(&lab(&BASE.replace("aliases: [www]", "aliases: [www2]")));
    let c = changes(&after, &running(&before));
    assert_eq!(c.nodes.recreate, ["web"]);
    assert_eq!(c.nodes.unchanged, ["api", "db"]);
    assert!(c.networks.recreate.is_empty() && c.networks.create.is_empty());
}

#[test]
fn a_changed_network_takes_its_nodes_along_and_a_dropped_node_goes() {
    let before = plan_of(&lab(BASE));
    let after_text = BASE
        .replace("  back: {}", "  back: { icc: false }")
        .replace("  db:\n    networks: [back]\n", "");
    let after = plan_of(&lab(&after_text));
    let c = changes(&after, &running(&before));
    assert_eq!(c.networks.recreate, ["back"]);
    assert_eq!(c.nodes.recreate, ["api"]);
    assert_eq!(c.nodes.remove, ["db"]);
    assert_eq!(c.nodes.unchanged, ["web"]);
}

#[test]
fn a_new_network_is_created_and_a_node_moved_to_another_engine_is_recreated() {
    let before = plan_of(&lab(BASE));
    let after = plan_of(&lab(&format!("{BASE}  cache:\n    networks: [extra]\n")
        .replace("  back: {}", "  back: {}\n  extra: {}")));
    let c = changes(&after, &running(&before));
    assert_eq!(c.networks.create, ["extra"]);
    assert_eq!(c.nodes.create, ["cache"]);
    let mut moved = running(&before);
    moved
        .nodes
        .insert("db".into(), ("local".into(), "another-hash".into()));
    assert_eq!(changes(&before, &moved).nodes.recreate, ["db"]);
}

#[test]
fn hostname_and_extra_hosts_reach_the_container_and_a_change_recreates_it() {
    let with = BASE.replace(
        "  db:\n    networks: [back]\n",
        "  db:\n    networks: [back]\n    hostname: pg.local\n    extra_hosts: { gw: host-gateway, cache: 10.1.2.3 }\n",
    );
    let p = plan_of(&lab(&with));
    let db = &p.containers[2];
    assert_eq!(db.hostname.as_deref(), Some("pg.local"));
    assert_eq!(db.extra_hosts, ["gw:host-gateway", "cache:10.1.2.3"]);
    // Without them: the node's name, no lines; and the hash of a node
    // without them is what it was before these fields existed.
    let before = plan_of(&lab(BASE));
    assert_eq!(before.containers[2].hostname.as_deref(), Some("db"));
    assert!(before.containers[2].extra_hosts.is_empty());
    let hashed = serde_json::to_string(&lab(BASE).nodes["db"]).expect("json");
    assert!(!hashed.contains("hostname") && !hashed.contains("extra_hosts"));
    let c = changes(&p, &running(&before));
    assert_eq!(c.nodes.recreate, ["db"]);
    assert_eq!(c.nodes.unchanged, ["web", "api"]);
    let other = plan_of(&lab(&with.replace("10.1.2.3", "10.1.2.4")));
    assert_eq!(changes(&other, &running(&p)).nodes.recreate, ["db"]);
    let renamed = plan_of(&lab(&with.replace("pg.local", "pg2.local")));
    assert_eq!(changes(&renamed, &running(&p)).nodes.recreate, ["db"]);
}
