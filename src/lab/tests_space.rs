//! Unit tests of what address space a lab may take (SPEC: "What a lab may
//! touch"): IPv4 subnets in private space, addresses that are one host's,
//! and the caps on published ports.

use super::diagnostic::Severity;
use super::tests::{errors, load_str, one_error, valid};
use super::validate::space::{self, Space, space_of};
use super::*;

fn allowed(yaml: &str) -> Result<Loaded, LabError> {
    load_source_with(
        "lab.yaml",
        yaml.as_bytes(),
        Some("lab"),
        LoadOptions {
            allow_external: true,
        },
    )
}

fn with_subnet(subnet: &str) -> String {
    format!("networks:\n  front: {{ subnet: {subnet} }}\nnodes:\n  web:\n    networks: [front]\n")
}

#[test]
fn a_subnet_in_public_space_is_refused_at_its_line() {
    let (line, column, message) = one_error(&with_subnet("8.8.8.0/24"));
    assert_eq!((line, column), (2, 20));
    assert_eq!(
        message,
        "subnet 8.8.8.0/24 of network `front` is public space, not private"
    );
    let text = load_str(&with_subnet("8.8.8.0/24"))
        .expect_err("invalid")
        .to_string();
    assert!(
        text.contains("10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10")
            && text.contains("`--allow-external`"),
        "{text}"
    );
    // Partly private is not private: 10.0.0.0/7 holds 11.0.0.0/8.
    assert!(
        one_error(&with_subnet("10.0.0.0/7"))
            .2
            .contains("public space")
    );
    // Documentation space is not private either.
    assert!(
        one_error(&with_subnet("192.0.2.0/24"))
            .2
            .contains("public space")
    );
}

#[test]
fn the_cloud_metadata_subnet_loopback_multicast_and_reserved_space_are_refused_even_when_allowed() {
    for (subnet, words) in [
        (
            "169.254.169.0/24",
            "link-local space (169.254.0.0/16, which holds the cloud metadata address 169.254.169.254)",
        ),
        ("127.1.0.0/16", "loopback space (127.0.0.0/8)"),
        ("224.1.1.0/24", "multicast space (224.0.0.0/4)"),
        (
            "255.255.255.0/24",
            "reserved space (240.0.0.0/4, with the broadcast address 255.255.255.255)",
        ),
        (
            "0.0.0.0/24",
            "\"this network\" space (0.0.0.0/8), which no host is on",
        ),
        // Wider than private space and over the never-space: never wins.
        (
            "0.0.0.0/1",
            "\"this network\" space (0.0.0.0/8), which no host is on",
        ),
    ] {
        assert_eq!(
            one_error(&with_subnet(subnet)).2,
            format!("subnet {subnet} of network `front` is in {words}")
        );
        assert!(
            matches!(allowed(&with_subnet(subnet)), Err(LabError::Invalid(_))),
            "--allow-external does not lift {subnet}"
        );
    }
}

#[test]
fn private_space_and_carrier_grade_nat_space_are_a_labs() {
    for subnet in [
        "10.213.7.0/24",
        "172.16.0.0/12",
        "172.31.255.0/24",
        "192.168.77.0/24",
        "100.64.0.0/10",
        "100.127.3.0/24",
    ] {
        let loaded = load_str(&with_subnet(subnet)).expect("private");
        assert!(
            loaded.warnings.is_empty(),
            "{subnet}: {:?}",
            loaded.warnings
        );
    }
    assert_eq!(
        space_of("172.32.0.0/24".parse().expect("net")),
        Space::Public
    );
    assert_eq!(
        space_of("100.128.0.0/24".parse().expect("net")),
        Space::Public
    );
}

#[test]
fn allow_external_lifts_the_public_space_rule_and_says_so() {
    let loaded = allowed(&with_subnet("8.8.8.0/24")).expect("allowed");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(
        loaded.warnings[0].contains(
            "subnet 8.8.8.0/24 of network `front` is public space: `--allow-external` lets the lab take it"
        ),
        "{}",
        loaded.warnings[0]
    );
    assert_eq!(
        space::public_subnet_notes(&loaded.lab),
        [
            "--allow-external: subnet 8.8.8.0/24 of network `front` is public space; while the lab is up, the Docker host's own traffic to it goes into the lab"
        ]
    );
    let private = valid(&with_subnet("10.1.2.0/24"));
    assert!(space::public_subnet_notes(&private).is_empty());
}

fn with_ports(ports: &str) -> String {
    format!(
        "networks:\n  front: {{}}\nnodes:\n  web:\n    networks: [front]\n    ports: [{ports}]\n"
    )
}

#[test]
fn one_ports_entry_publishes_at_most_100_host_ports() {
    let (line, column, message) = one_error(&with_ports("\"1-65535:1-65535\""));
    assert_eq!((line, column), (6, 13));
    assert_eq!(
        message,
        "port mapping `1-65535:1-65535` publishes 65535 host ports; one entry may publish at most 100"
    );
    // Docker picks a host port for each container port of a bare range.
    assert!(
        one_error(&with_ports("\"8000-8100\""))
            .2
            .contains("publishes 101 host ports")
    );
    load_str(&with_ports("\"8000-8099:8000-8099\"")).expect("100 is the cap");
    // The cap holds with --allow-external too: it is not about reach.
    assert!(matches!(
        allowed(&with_ports("\"1-65535:1-65535\"")),
        Err(LabError::Invalid(_))
    ));
}

#[test]
fn a_lab_publishes_at_most_500_host_ports_said_once() {
    let entries: Vec<String> = (0..7)
        .map(|i| {
            format!(
                "\"{}-{}:{}-{}\"",
                10000 + i * 100,
                10099 + i * 100,
                1000,
                1099
            )
        })
        .collect();
    let e = errors(&with_ports(&entries.join(", ")));
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(
        e[0].2,
        "with port mapping `10500-10599:1000-1099` the lab publishes 600 host ports; a lab may publish at most 500"
    );
    load_str(&with_ports(&entries[..5].join(", "))).expect("500 is the cap");
}

#[test]
fn a_host_binding_on_broadcast_multicast_or_reserved_addresses_is_refused() {
    for (ip, why) in [
        (
            "255.255.255.255",
            "255.255.255.255 is the broadcast address",
        ),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("240.0.0.1", "240.0.0.1 is in reserved space"),
        ("[ff02::1]", "ff02::1 is a multicast address"),
    ] {
        let (line, _, message) = one_error(&with_ports(&format!("\"{ip}:8080:80\"")));
        assert_eq!(line, 6);
        assert!(
            message.starts_with(&format!(
                "port mapping `{ip}:8080:80` publishes on an address that is no host's: {why}"
            )),
            "{message}"
        );
    }
    for ip in ["0.0.0.0", "127.0.0.1", "10.1.2.3", "[::]", "[::1]"] {
        load_str(&with_ports(&format!("\"{ip}:8080:80\""))).expect(ip);
    }
}

#[test]
fn a_port_checks_host_ip_must_be_one_hosts() {
    let yaml = format!(
        "{}checks:\n  - port: {{ node: web, port: 80, host_ip: 255.255.255.255, expect: unpublished }}\n",
        with_ports("\"8080:80\"")
    );
    let (line, column, message) = one_error(&yaml);
    assert_eq!((line, column), (8, 43));
    assert_eq!(
        message,
        "host_ip 255.255.255.255 is no host's address: 255.255.255.255 is the broadcast address"
    );
}

#[test]
fn a_check_aimed_at_no_single_host_is_refused_even_when_allowed() {
    let lab = "networks:\n  front: { subnet: 10.213.7.0/24 }\nnodes:\n  web:\n    networks: [front]\n    serve: [tcp:7000, http:80]\n  client:\n    networks: [front]\nchecks:\n";
    let with = |check: &str| format!("{lab}  - {check}\n");
    for (to, why) in [
        (
            "255.255.255.255:7000",
            "255.255.255.255 is the broadcast address",
        ),
        ("0.0.0.0:7000", "0.0.0.0 is the unspecified address"),
        ("224.0.0.1:7000", "224.0.0.1 is a multicast address"),
        (
            "10.213.7.255:7000",
            "10.213.7.255 is the broadcast address of subnet 10.213.7.0/24 (network `front`)",
        ),
        (
            "10.213.7.0:7000",
            "10.213.7.0 is the network address of subnet 10.213.7.0/24 (network `front`)",
        ),
    ] {
        let yaml = with(&format!(
            "tcp: {{ from: client, to: \"{to}\", expect: open }}"
        ));
        let (line, column, message) = one_error(&yaml);
        assert_eq!((line, column), (10, 30), "{to}");
        assert_eq!(message, format!("`{to}` names no single host: {why}"));
        match allowed(&yaml) {
            Err(LabError::Invalid(report)) => assert!(
                report
                    .items
                    .iter()
                    .any(|d| d.severity == Severity::Error && d.message.contains(why)),
                "{to}"
            ),
            other => panic!("{to}: --allow-external must not lift this: {other:?}"),
        }
    }
    let url =
        with("http: { from: client, url: \"http://255.255.255.255/\", expect: { status: 200 } }");
    assert_eq!(
        one_error(&url).2,
        "`http://255.255.255.255/` names no single host: 255.255.255.255 is the broadcast address"
    );
    // One host in the subnet is fine.
    load_str(&with(
        "tcp: { from: client, to: \"10.213.7.9:7000\", expect: refused }",
    ))
    .expect("valid");
}

#[test]
fn gateways_and_fixed_addresses_stay_inside_their_subnet_never_at_its_edges() {
    let gateway = "networks:\n  front: { subnet: 10.9.0.0/24, gateway: 255.255.255.255 }\nnodes:\n  web:\n    networks: [front]\n";
    assert_eq!(
        one_error(gateway).2,
        "gateway 255.255.255.255 is not a usable address in subnet 10.9.0.0/24"
    );
    for ip in ["255.255.255.255", "10.9.0.255", "10.9.0.0"] {
        let fixed = format!(
            "networks:\n  front: {{ subnet: 10.9.0.0/24 }}\nnodes:\n  web:\n    networks:\n      front: {{ ipv4: {ip} }}\n"
        );
        assert_eq!(
            one_error(&fixed).2,
            format!("{ip} is not a usable address in subnet 10.9.0.0/24 of network `front`")
        );
    }
}

#[test]
fn a_networks_host_binding_address_must_be_one_hosts() {
    let with = |ip: &str| {
        format!(
            "networks:\n  front:\n    options: {{ com.docker.network.bridge.host_binding_ipv4: \"{ip}\" }}\nnodes:\n  web:\n    networks: [front]\n"
        )
    };
    let (line, _, message) = one_error(&with("255.255.255.255"));
    assert_eq!(line, 3);
    assert!(
        message.contains("takes one address of the host: 255.255.255.255 is the broadcast address"),
        "{message}"
    );
    load_str(&with("127.0.0.1")).expect("loopback is the host's");
}
