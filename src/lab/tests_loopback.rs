//! SPEC "What a lab may touch": from a host's own stack, a check that
//! carries a payload reaches on loopback only the ports the lab publishes
//! or serves there; validation refuses what the file decides.

use super::tests::{errors, load_str, one_error};
use super::*;

const LAB: &str = "networks:\n  front: {}\nnodes:\n  web:\n    networks: [front]\n    ports: [\"127.0.0.1:8080:80\", \"9000:9000/udp\", \"[::1]:8443:443\"]\n    serve: [http:80, udp:9000, https:443]\n  client:\n    networks: [front]\n  edge:\n    network_mode: host\n    serve: [http:27801, udp:27802]\nchecks:\n";

fn with(check: &str) -> String {
    format!("{LAB}  - {check}\n")
}

#[test]
fn from_the_host_a_payload_reaches_only_the_lab_s_loopback_ports() {
    for check in [
        "http: { from: host, url: \"http://127.0.0.1:8080/whoami\", expect: { status: 200 } }",
        "http: { from: host, url: \"http://localhost:8080/whoami\", expect: { status: 200 } }",
        "udp: { from: host, to: \"127.0.0.1:9000\", expect: open }",
        "udp: { from: host, to: \"[::1]:9000\", expect: open }",
        "tls: { from: host, to: \"[::1]:8443\", name: web, expect: verified }",
        "http: { from: host, url: \"http://127.0.0.1:27801/whoami\", expect: { status: 200 } }",
        "udp: { from: host, to: \"127.0.0.1:27802\", expect: open }",
        // A SYN and a greeting read: no payload, any port.
        "tcp: { from: host, to: \"127.0.0.1:2375\", expect: refused }",
        // A container's loopback is its own namespace.
        "http: { from: client, url: \"http://127.0.0.1:2375/\", expect: { status: 200 } }",
        "udp: { from: client, to: \"127.0.0.1:9\", expect: blocked }",
    ] {
        load_str(&with(check)).unwrap_or_else(|e| panic!("{check}: {e}"));
    }
    let (line, column, message) = one_error(&with(
        "http: { from: host, url: \"http://127.0.0.1:2375/v1.41/containers/prune\", method: POST, expect: { status: 200 } }",
    ));
    assert_eq!((line, column), (14, 30));
    assert_eq!(
        message,
        "`http://127.0.0.1:2375/v1.41/containers/prune` is outside the lab: 127.0.0.1:2375 is loopback but not a port the lab publishes or serves there: a tcp payload there could reach another service of the host (its own are 127.0.0.1:8080/tcp, 0.0.0.0:9000/udp, [::]:9000/udp, [::1]:8443/tcp, 0.0.0.0:27801/tcp, [::]:27801/tcp, 0.0.0.0:27802/udp, [::]:27802/udp)"
    );
    for check in [
        // Another loopback address, family or transport may be another
        // service's.
        "http: { from: host, url: \"http://127.0.0.2:8080/\", expect: { status: 200 } }",
        "http: { from: host, url: \"http://[::1]:8080/\", expect: { status: 200 } }",
        "tls: { from: host, to: \"127.0.0.1:8443\", name: web, expect: verified }",
        "udp: { from: host, to: \"127.0.0.1:8080\", expect: blocked }",
        "http: { from: host, url: \"http://localhost:2375/\", expect: { status: 200 } }",
        // A host-mode node's loopback is its host's.
        "http: { from: edge, url: \"http://127.0.0.1:2375/\", expect: { status: 200 } }",
    ] {
        let (_, _, message) = one_error(&with(check));
        assert!(
            message.contains("is loopback but not a port the lab publishes or serves there"),
            "{check}: {message}"
        );
    }
    let allowed = load_source_with(
        "lab.yaml",
        with("http: { from: host, url: \"http://127.0.0.1:2375/\", expect: { status: 200 } }")
            .as_bytes(),
        Some("lab"),
        LoadOptions {
            allow_external: true,
        },
    );
    assert!(allowed.is_ok(), "--allow-external lifts it");
}

#[test]
fn a_host_port_docker_picks_is_decided_when_the_lab_runs() {
    let lab = "networks:\n  front: {}\nnodes:\n  web:\n    networks: [front]\n    ports: [\"127.0.0.1::80\"]\n    serve: [http:80]\nchecks:\n";
    load_str(&format!(
        "{lab}  - http: {{ from: host, url: \"http://127.0.0.1:32768/\", expect: {{ status: 200 }} }}\n"
    ))
    .expect("perhaps the port Docker picks: the running lab decides");
    // Picked on 127.0.0.1 over tcp: nothing on udp or on ::1 could be it.
    assert_eq!(
        errors(&format!(
            "{lab}  - udp: {{ from: host, to: \"127.0.0.1:32768\", expect: open }}\n  - http: {{ from: host, url: \"http://[::1]:32768/\", expect: {{ status: 200 }} }}\n"
        ))
        .len(),
        2
    );
}

#[test]
fn a_payload_to_a_host_mode_node_needs_a_port_it_serves() {
    load_str(&with("udp: { from: client, to: edge:27802, expect: open }")).expect("served");
    load_str(&with(
        "tcp: { from: client, to: edge:2375, expect: refused }",
    ))
    .expect("no payload");
    let (_, _, message) = one_error(&with("udp: { from: host, to: edge:53, expect: blocked }"));
    assert_eq!(
        message,
        "`edge:53` is outside the lab: node `edge` shares its host's network stack and serves nothing on 53/udp: a payload there could reach another service of the host"
    );
    let (_, _, message) = one_error(&with(
        "tls: { from: client, to: edge:27802, name: edge, expect: no-tls }",
    ));
    assert!(message.contains("serves nothing on 27802/tcp"), "{message}");
}

#[test]
fn on_several_hosts_the_port_must_be_the_lab_s_on_the_probing_host() {
    let lab = "hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\nnodes:\n  web: { host: east, networks: [ov], ports: [\"127.0.0.1:27380:80\"], serve: [http:80] }\n  db: { host: west, networks: [ov] }\nchecks:\n";
    load_str(&format!(
        "{lab}  - http: {{ from: host@east, url: \"http://127.0.0.1:27380/whoami\", expect: {{ status: 200 }} }}\n  - tcp: {{ from: host@west, to: \"127.0.0.1:27380\", expect: refused }}\n"
    ))
    .expect("published on east; a tcp knock on west sends nothing");
    let (_, _, message) = one_error(&format!(
        "{lab}  - http: {{ from: host@west, url: \"http://127.0.0.1:27380/whoami\", expect: {{ status: 200 }} }}\n"
    ));
    assert!(
        message.contains("publishes no port there and has no host-mode listener"),
        "{message}"
    );
}

#[test]
fn a_udp_matrix_sends_to_a_host_mode_node_only_on_a_port_it_serves() {
    let lab = "networks:\n  front: {}\nnodes:\n  client:\n    networks: [front]\n    serve: [udp:9000]\n  edge:\n    network_mode: host\n    serve: [udp:9000]\nchecks:\n";
    let cells = |port: &str| {
        format!(
            "{lab}  - matrix:\n      port: {port}\n      expect: |\n        from\\to  client  edge\n        host     .       .\n"
        )
    };
    load_str(&cells("9000/udp")).expect("edge serves 9000/udp");
    let (_, _, message) = one_error(&cells("9001/udp"));
    assert_eq!(
        message,
        "cell host → edge aims outside the lab: node `edge` shares its host's network stack and serves nothing on 9001/udp: a payload there could reach another service of the host"
    );
    load_str(&cells("9001")).expect("a tcp matrix sends no payload");
}
