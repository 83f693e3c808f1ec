//! No PASS without evidence, on the real engine, for what the mutation
//! suite (tests/mutants.rs) does not cover: a probe that cannot look is an
//! error, recorded probes get the time they need, and a lab reaches
//! nothing outside itself — refused before any packet, by validation where
//! the file decides, at run time where the engine does.

mod support;

use std::process::Command;

use support::*;

#[test]
fn a_probe_that_cannot_look_is_an_error_not_a_failure() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml(
        "t-gone",
        "name: t-gone\nnetworks:\n  a: {}\nnodes:\n  web:\n    networks: [a]\n    serve: [tcp:7000]\n  client:\n    networks: [a]\nchecks:\n  - tcp: { from: client, to: web:7000, expect: open }\n  - tcp: { from: web, to: client:7000, expect: refused }\n",
    );
    let up = netlab(&["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let client = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            "label=io.netlab.lab=t-gone",
            "--filter",
            "label=io.netlab.node=client",
            "--filter",
            "label=io.netlab.role=node",
        ])
        .output()
        .expect("docker ps");
    let stopped = Command::new("docker")
        .args(["stop", "-t", "1", stdout(&client).trim()])
        .output()
        .expect("docker stop");
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    let out = netlab(&["verify", "t-gone"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    assert!(
        text.lines()
            .any(|l| l.starts_with("ERROR  tcp client → web:7000 is open")
                && l.contains("node `client` is not running: exited")),
        "{text}"
    );
    let down = netlab(&["down", "t-gone"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}

#[test]
fn recorded_probes_from_one_node_all_get_their_time() {
    if !docker_available() {
        return;
    }
    // An agent records one probe at a time; six silent ones take six
    // deadlines (12 s here), which the batch's own deadline must allow for.
    let mut yaml = "name: t-recorded\nnetworks:\n  front: { icc: false }\nnodes:\n  client:\n    networks: [front]\n  far:\n    networks: [front]\n    serve: [tcp:7000]\nchecks:\n".to_owned();
    for port in 7000..7006 {
        yaml.push_str(&format!(
            "  - tcp: {{ from: client, to: far:{port}, expect: blocked, capture: true }}\n"
        ));
    }
    let guard = LabGuard::from_yaml("t-recorded", &yaml);
    let text = run_passes(&guard, 6);
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("PASS") && l.contains(" blocked: no answer"))
            .count(),
        6,
        "{text}"
    );
}

#[test]
fn targets_outside_the_lab_are_refused_before_anything_is_sent() {
    if !docker_available() {
        return;
    }
    // Decided by the file: refused before anything is created.
    let outside = LabGuard::from_yaml(
        "t-outside",
        "name: t-outside\nnetworks:\n  a: { subnet: 10.213.91.0/24 }\nnodes:\n  client:\n    networks: [a]\nchecks:\n  - tcp: { from: client, to: \"192.0.2.7:53\", expect: refused }\n  - http: { from: host, url: \"http://169.254.169.254/latest/meta-data/\", expect: { status: 200 } }\n",
    );
    let out = netlab(&["run", outside.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`192.0.2.7:53` is outside the lab: 192.0.2.7 is neither loopback nor in a subnet of the lab"),
        "{err}"
    );
    assert!(
        err.contains("`http://169.254.169.254/latest/meta-data/` is outside the lab"),
        "{err}"
    );
    outside.assert_nothing_left();
    // `--allow-external` lifts it (validated only: nothing is sent here).
    let allowed = netlab(&["validate", "--allow-external", outside.path()]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));

    // Decided by the engine (Docker picks the subnet): refused before any
    // probe, and the lab is torn down. The target is an address the engine
    // cannot give the lab whatever it handed out before (its default
    // bridge's), not one picked from a pool: Docker walks its pools in
    // turn, and 172.31.254.254 was once inside the lab's 172.31.0.0/16.
    let target = address_outside_every_lab();
    let late = LabGuard::from_yaml(
        "t-outside-late",
        &format!(
            "name: t-outside-late\nnetworks:\n  a: {{}}\nnodes:\n  web:\n    networks: [a]\n    serve: [http:80]\n  client:\n    networks: [a]\nchecks:\n  - tcp: {{ from: client, to: \"{target}:7000\", expect: blocked }}\n"
        ),
    );
    let out = netlab(&["run", late.path()]);
    // The subnet the engine gave the lab, for whoever reads the log (see
    // harness/pool-end.sh, which makes it 172.31.0.0/16).
    eprintln!("t-outside-late, aimed at {target}:\n{}", stderr(&out));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("1 check aim outside lab `t-outside-late`; nothing was probed")
            && stderr(&out).contains(&format!("{target} is not an address of the lab")),
        "{}",
        stderr(&out)
    );
    late.assert_nothing_left();

    // A redirect off the lab is not followed, from a node either.
    let redirect = LabGuard::from_yaml(
        "t-outside-hop",
        "name: t-outside-hop\nnetworks:\n  a: {}\nnodes:\n  web:\n    networks: [a]\n    serve: [http:80]\n  client:\n    networks: [a]\nchecks:\n  - http: { from: client, url: \"http://web/redirect/302?to=http://192.0.2.9/x\", expect: { status: 302 } }\n",
    );
    let text = run_passes(&redirect, 1);
    assert!(
        text.contains(
            "the redirect to http://192.0.2.9/x was not followed: it leads outside the lab"
        ),
        "{text}"
    );
}

/// Honest both ways: plain truths of a compose-like stack PASS — a service
/// on a front and a back network, resolved from a peer on both (Docker's
/// DNS answers one network's address), and web ports reached with `tcp`
/// (an http/https listener greets nobody and is asked `GET /whoami`) —
/// while a DNS list naming a node the source cannot be answered about is
/// refused instead of dropping it.
#[test]
fn true_expectations_of_a_two_network_stack_pass_and_a_false_list_is_refused() {
    if !docker_available() {
        return;
    }
    let lab = "name: t-two-nets\nnetworks:\n  front: {}\n  back: {}\n  other: {}\nnodes:\n  app:\n    networks: [front, back]\n    serve: [http:8000, https:443, tcp:7000]\n  web:\n    networks: [front, back]\n  far:\n    networks: [other]\nchecks:\n  - dns: { from: web, name: app, expect: [app] }\n  - tcp: { from: web, to: app:8000, expect: open }\n  - tcp: { from: web, to: app:443, expect: open }\n  - matrix: { port: 8000, expect: \"from\\\\to app\\nweb .\\n\" }\n  - tcp: { from: web, to: app:443, connections: 3, expect: open }\n";
    let guard = LabGuard::from_yaml("t-two-nets", lab);
    run_passes(&guard, 5);
    let false_list = LabGuard::from_yaml(
        "t-two-nets-list",
        &format!(
            "{}  - dns: {{ title: both, from: web, name: app, expect: [app, far] }}\n",
            lab.replace("t-two-nets", "t-two-nets-list")
        ),
    );
    // far shares no network with web: no answer Docker's DNS can give web
    // holds far, so the list is refused before anything is made (it used
    // to drop far and PASS on app's address alone).
    let out = netlab(&["run", false_list.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("`far` shares no network with `web` where this check runs"),
        "{}",
        stderr(&out)
    );
    false_list.assert_nothing_left();
}
