//! `up` of a lab that is already up brings it in line with its file, as
//! compose does: only what changed is made again, told by container ids.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use support::*;

const LAB: &str = "name: t-conv\nnetworks:\n  front: {}\n  back: {}\nnodes:\n  web:\n    networks:\n      front: { aliases: [www] }\n    serve: [tcp:7000]\n  api:\n    networks: [front, back]\n    serve: [tcp:7000]\n  db:\n    networks: [back]\n    serve: [tcp:7000]\nchecks:\n  - tcp: { from: api, to: db:7000, expect: open }\n";

/// node → container id, of the lab's nodes.
fn node_ids(lab: &str) -> BTreeMap<String, String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.netlab.lab={lab}"),
            "--filter",
            "label=io.netlab.role=node",
            "--format",
            "{{.Label \"io.netlab.node\"}} {{.ID}}",
        ])
        .output()
        .expect("docker ps");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, id)| (n.to_owned(), id.to_owned()))
        .collect()
}

fn network_ids(lab: &str) -> BTreeMap<String, String> {
    let out = Command::new("docker")
        .args([
            "network",
            "ls",
            "--filter",
            &format!("label=io.netlab.lab={lab}"),
            "--format",
            "{{.Label \"io.netlab.network\"}} {{.ID}}",
        ])
        .output()
        .expect("docker network ls");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, id)| (n.to_owned(), id.to_owned()))
        .collect()
}

fn up(guard: &LabGuard, yaml: &str) -> String {
    std::fs::write(&guard.file, yaml).expect("write");
    let out = netlab(&["up", guard.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn up_again_recreates_only_what_changed() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-conv", LAB);
    up(&guard, LAB);
    let first = node_ids("t-conv");
    let networks = network_ids("t-conv");
    assert_eq!(first.len(), 3);

    // No change: nothing touched.
    let text = up(&guard, LAB);
    assert!(
        text.contains("lab `t-conv` is up to date (nothing changed)"),
        "{text}"
    );
    assert_eq!(node_ids("t-conv"), first);
    assert_eq!(network_ids("t-conv"), networks);

    // A changed check needs no new container, and verify runs the new one.
    let refused = LAB.replace("expect: open", "expect: refused");
    let text = up(&guard, &refused);
    assert!(text.contains("is up to date"), "{text}");
    let verify = netlab(&["verify", "t-conv"]);
    assert_eq!(
        verify.status.code(),
        Some(1),
        "the stored check is the new one"
    );

    // One node's alias changed: that node alone is made again.
    let alias = LAB.replace("aliases: [www]", "aliases: [www, w3]");
    let text = up(&guard, &alias);
    assert!(
        text.contains("changed (recreated node web; 2 nodes unchanged)"),
        "{text}"
    );
    let after = node_ids("t-conv");
    assert_ne!(after["web"], first["web"]);
    assert_eq!((&after["api"], &after["db"]), (&first["api"], &first["db"]));
    assert_all_passed(&netlab(&["verify", "t-conv"]), 1);

    // A node removed, a network and a node added.
    let grown = alias
        .replace(
            "  db:\n    networks: [back]\n    serve: [tcp:7000]\n",
            "  cache:\n    networks: [extra]\n",
        )
        .replace("  back: {}\n", "  back: {}\n  extra: {}\n")
        .replace("to: db:7000, expect: open", "to: web:7000, expect: open");
    let text = up(&guard, &grown);
    assert!(text.contains("created network extra"), "{text}");
    assert!(text.contains("created node cache"), "{text}");
    assert!(text.contains("removed node db"), "{text}");
    let last = node_ids("t-conv");
    assert_eq!(last.keys().collect::<Vec<_>>(), ["api", "cache", "web"]);
    assert_eq!((&last["api"], &last["web"]), (&after["api"], &after["web"]));
    assert_eq!(network_ids("t-conv").len(), 3);
    assert_all_passed(&netlab(&["verify", "t-conv"]), 1);

    let down = netlab(&["down", "t-conv"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}

/// The lab's record as the claim holds it.
fn record_text(lab: &str) -> String {
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("docker cp netlab_{lab}:/netlab-record.json - | tar -xO"),
        ])
        .output()
        .expect("docker cp");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

const HTTPS: &str = "name: t-conv-ca\nnetworks:\n  n: {}\nnodes:\n  web: { networks: [n], serve: [https:443] }\n  client: { networks: [n] }\nchecks:\n  - tls: { from: client, to: web:443, expect: verified }\n";

#[test]
fn no_ca_key_is_kept_and_an_https_node_added_later_is_signed_by_a_new_ca() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml("t-conv-ca", HTTPS);
    up(&guard, HTTPS);
    let first = node_ids("t-conv-ca");
    let record = record_text("t-conv-ca");
    assert!(record.contains("BEGIN CERTIFICATE"), "{record}");
    assert!(
        !record.contains("PRIVATE KEY"),
        "the CA key must not be in the engine"
    );

    let grown = HTTPS
        .replace(
            "  client: { networks: [n] }\n",
            "  client: { networks: [n] }\n  api: { networks: [n], serve: [https:443] }\n",
        )
        .replace(
            "expect: verified }\n",
            "expect: verified }\n  - tls: { from: client, to: api:443, expect: verified }\n",
        );
    let text = up(&guard, &grown);
    assert!(
        text.contains(
            "changed (created node api; recreated node web; 1 node unchanged; a new CA signed every https node: netlab keeps no CA key)"
        ),
        "{text}"
    );
    let after = node_ids("t-conv-ca");
    assert_ne!(after["web"], first["web"], "web re-signed by the new CA");
    assert_eq!(after["client"], first["client"]);
    assert_ne!(record_text("t-conv-ca"), record, "the new CA is recorded");
    assert!(!record_text("t-conv-ca").contains("PRIVATE KEY"));
    assert_all_passed(&netlab(&["verify", "t-conv-ca"]), 2);

    let down = netlab(&["down", "t-conv-ca"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}
