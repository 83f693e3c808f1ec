//! What a lab may take of its Docker host, on the real engine: a port
//! published on an address the host does not have is refused at `up`
//! before anything is made, and a subnet in public space only with
//! `--allow-external`, which the output says.

mod support;

use support::*;

#[test]
fn a_port_published_on_an_address_the_host_lacks_is_refused_at_up_and_nothing_is_left() {
    if !docker_available() {
        return;
    }
    // 10.254.254.254 is private (validation takes it) and on no interface of
    // the test machines; `up` must find that out from the host's helper.
    let lab = LabGuard::from_yaml(
        "t-lb-bind",
        "name: t-lb-bind\nnetworks:\n  front: {}\nnodes:\n  db:\n    networks: [front]\n  web:\n    networks: [front]\n    ports: [\"10.254.254.254:18181:80\", \"127.0.0.1:18182:80\"]\n",
    );
    let out = netlab(&["up", lab.path()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("1 port mapping publishes on an address the Docker host does not have; nothing was created")
            && err.contains("node `web`: port mapping `10.254.254.254:18181:80` publishes on 10.254.254.254")
            && err.contains("the host's addresses: ")
            && err.contains("127.0.0.1"),
        "{err}"
    );
    // The loopback entry is the host's: it is not named.
    assert!(!err.contains("127.0.0.1:18182:80"), "{err}");
    lab.assert_nothing_left();
}

#[test]
fn a_public_subnet_is_refused_and_allow_external_says_it_takes_it() {
    let lab = LabGuard::from_yaml(
        "t-lb-public",
        "name: t-lb-public\nnetworks:\n  lan: { subnet: 8.8.8.0/24 }\nnodes:\n  a: { networks: [lan] }\n",
    );
    let refused = netlab(&["validate", lab.path()]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused)
            .contains("subnet 8.8.8.0/24 of network `lan` is public space, not private"),
        "{}",
        stderr(&refused)
    );
    let allowed = netlab(&["validate", "--allow-external", lab.path()]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    assert!(
        stderr(&allowed).contains("`--allow-external` lets the lab take it"),
        "{}",
        stderr(&allowed)
    );
    assert!(
        stdout(&allowed).contains("1 warning"),
        "{}",
        stdout(&allowed)
    );
}

#[test]
fn a_lab_that_allow_external_let_take_public_space_says_so_in_its_report() {
    if !docker_available() {
        return;
    }
    // 198.51.100.0/24 is documentation space: public by the rule, routed
    // nowhere, so the lab shadows nothing the host uses.
    let lab = LabGuard::from_yaml(
        "t-lb-note",
        "name: t-lb-note\nnetworks:\n  lan: { subnet: 198.51.100.0/24 }\nnodes:\n  a:\n    networks: [lan]\n    serve: [tcp:7000]\n  b: { networks: [lan] }\nchecks:\n  - tcp: { from: b, to: a:7000, expect: open }\n",
    );
    let refused = netlab(&["run", lab.path()]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    lab.assert_nothing_left();
    let out = netlab(&["run", "--allow-external", lab.path(), "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let note = "--allow-external: subnet 198.51.100.0/24 of network `lan` is public space; while the lab is up, the Docker host's own traffic to it goes into the lab";
    assert!(
        doc["notes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|v| v == note)),
        "{doc}"
    );
    assert_eq!(doc["passed"], 1, "{doc}");
    lab.assert_nothing_left();
}
