//! Unit tests of parsing and validation: every rule, with its message and
//! its line and column.

use super::diagnostic::Severity;
use super::*;

pub(super) fn load_str(yaml: &str) -> Result<Loaded, LabError> {
    load_source("lab.yaml", yaml.as_bytes(), Some("lab"))
}

/// The lab of `yaml`, which must be valid (else the errors, as printed).
pub(super) fn valid(yaml: &str) -> Lab {
    match load_str(yaml) {
        Ok(loaded) => loaded.lab,
        Err(e) => panic!("not valid: {e}"),
    }
}

/// (line, column, message) of every error, in file order.
pub(super) fn errors(yaml: &str) -> Vec<(u64, u64, String)> {
    match load_str(yaml) {
        Ok(_) => panic!("expected the lab to be invalid"),
        Err(LabError::Invalid(report)) => {
            let mut v: Vec<_> = report
                .items
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| {
                    let p = d.pos.unwrap_or(diagnostic::Pos { line: 0, column: 0 });
                    (p.line, p.column, d.message.clone())
                })
                .collect();
            v.sort();
            v
        }
        Err(other) => panic!("expected validation errors, got: {other}"),
    }
}

pub(super) fn one_error(yaml: &str) -> (u64, u64, String) {
    let e = errors(yaml);
    assert_eq!(e.len(), 1, "expected exactly one error, got {e:#?}");
    e.into_iter().next().unwrap_or_default()
}

fn parse_error(yaml: &str) -> String {
    match load_str(yaml) {
        Err(LabError::Parse(msg)) => msg,
        Ok(_) => panic!("expected a parse error"),
        Err(other) => panic!("expected a parse error, got: {other}"),
    }
}

const BASE: &str = "networks:\n  front: {}\nnodes:\n  web:\n    networks: [front]\n";

#[test]
fn minimal_lab_is_valid_and_named_after_the_file() {
    let lab = valid(BASE);
    assert_eq!(lab.name, "lab");
    assert_eq!(
        lab.nodes["web"]
            .networks()
            .map(|a| a.network.as_str())
            .collect::<Vec<_>>(),
        ["front"]
    );
    assert!(lab.nodes["web"].is_agent());
    assert!(lab.networks["front"].icc);
}

#[test]
fn every_builtin_lab_is_valid() {
    for (name, text) in builtin::all() {
        let loaded = load_source(name, text.as_bytes(), Some(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(loaded.lab.name, name);
        assert!(
            !loaded.lab.description.is_empty(),
            "{name} has no description"
        );
        assert!(!loaded.lab.checks.is_empty(), "{name} has no checks");
    }
}

#[test]
fn unknown_top_level_field_names_line_column_and_suggests() {
    let msg = parse_error("netwrks:\n  front: {}\n");
    assert!(msg.contains("unknown field `netwrks`"), "{msg}");
    assert!(msg.contains("lab.yaml:1:1"), "{msg}");
    assert!(msg.contains("did you mean `networks`?"), "{msg}");
}

#[test]
fn wrong_type_is_a_parse_error_with_location() {
    let msg = parse_error("networks:\n  front: {subnet: [1]}\nnodes: {}\n");
    assert!(msg.contains("lab.yaml:2:19"), "{msg}");
}

#[test]
fn invalid_lab_name() {
    assert_eq!(
        one_error(&format!("name: Bad_Name\n{BASE}")),
        (1, 7, "invalid lab name `Bad_Name`".into())
    );
}

#[test]
fn file_stem_that_is_not_a_name_needs_name_field() {
    let r = load_source("My Lab.yaml", BASE.as_bytes(), Some("My Lab"));
    let Err(LabError::Invalid(report)) = r else {
        panic!("expected invalid")
    };
    assert!(
        report.items[0]
            .message
            .contains("file name `My Lab` is not a valid lab name")
    );
}

#[test]
fn invalid_network_and_node_names() {
    let e = errors(
        "networks:\n  _front: {}\n  bridge: {}\nnodes:\n  web-:\n    networks: [_front]\n  a..b:\n    networks: [bridge]\n",
    );
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "invalid network name `_front`",
            "network name `bridge` is reserved",
            "invalid node name `web-`",
            "invalid node name `a..b`",
        ]
    );
    assert_eq!((e[0].0, e[0].1), (2, 3));
}

#[test]
fn undefined_network_suggests_the_close_one() {
    let yaml = "networks:\n  front: {}\nnodes:\n  web:\n    networks: [frnt]\n";
    assert_eq!(
        one_error(yaml),
        (5, 16, "node `web` joins undefined network `frnt`".into())
    );
    let Err(LabError::Invalid(r)) = load_str(yaml) else {
        panic!()
    };
    assert_eq!(r.items[0].hint.as_deref(), Some("did you mean `front`?"));
}

#[test]
fn cidr_syntax_and_host_bits() {
    let e = errors(
        "networks:\n  a: { subnet: 10.0.0.0/33 }\n  b: { subnet: 10.1.0.5/24 }\nnodes:\n  web:\n    networks: [a]\n",
    );
    assert_eq!(e[0], (2, 16, "`10.0.0.0/33` is not an IPv4 CIDR".into()));
    assert_eq!(
        e[1],
        (3, 16, "subnet `10.1.0.5/24` has host bits set".into())
    );
}

#[test]
fn gateway_outside_subnet_and_without_subnet() {
    let e = errors(
        "networks:\n  a: { subnet: 10.9.0.0/24, gateway: 10.9.1.1 }\n  b: { gateway: 10.8.0.1 }\nnodes:\n  web:\n    networks: [a]\n",
    );
    assert_eq!(
        e[0],
        (
            2,
            38,
            "gateway 10.9.1.1 is not a usable address in subnet 10.9.0.0/24".into()
        )
    );
    assert_eq!(e[1], (3, 17, "a gateway needs a subnet".into()));
}

#[test]
fn static_ip_outside_subnet_duplicate_and_without_subnet() {
    let yaml = "networks:\n  a: { subnet: 10.9.0.0/24 }\n  b: {}\nnodes:\n  x:\n    networks: { a: { ipv4: 10.9.0.10 } }\n  y:\n    networks: { a: { ipv4: 10.9.0.10 } }\n  z:\n    networks: { a: { ipv4: 10.9.3.1 }, b: { ipv4: 10.0.0.2 } }\n";
    let e = errors(yaml);
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "10.9.0.10 is already the address of node `x`",
            "10.9.3.1 is not a usable address in subnet 10.9.0.0/24 of network `a`",
            "a static address needs a subnet on network `b`",
        ]
    );
    assert_eq!((e[0].0, e[0].1), (8, 28));
}

#[test]
fn overlapping_subnets_within_the_lab() {
    let e = one_error(
        "networks:\n  a: { subnet: 10.9.0.0/16 }\n  b: { subnet: 10.9.4.0/24 }\nnodes:\n  web:\n    networks: [a]\n",
    );
    assert_eq!(
        e,
        (
            3,
            16,
            "subnet 10.9.4.0/24 of network `b` overlaps the subnet of network `a`".into()
        )
    );
}

#[test]
fn network_mode_with_networks() {
    let e = one_error(
        "networks:\n  a: {}\nnodes:\n  web:\n    network_mode: host\n    networks: [a]\n",
    );
    assert_eq!(
        e,
        (
            6,
            16,
            "node `web` has both `network_mode` and `networks`".into()
        )
    );
}

#[test]
fn unknown_network_mode() {
    let e = one_error("nodes:\n  web:\n    network_mode: hots\n");
    assert_eq!(e, (3, 19, "unknown network_mode `hots`".into()));
}

#[test]
fn port_syntax() {
    let e = errors(&format!(
        "{BASE}    ports: [\"80:80:80:80\", \"abc\", \"8000-8001:80\", \"80/sctp\", \"127.0.0.1:8080:80\"]\n"
    ));
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "invalid port mapping `80:80:80:80`: too many `:`",
            "invalid port mapping `abc`: `abc` is not a port number (1-65535)",
            "invalid port mapping `8000-8001:80`: host range 8000-8001 and container range 80 differ in length",
            "invalid port mapping `80/sctp`: unknown protocol `sctp` (tcp or udp)",
        ]
    );
}

#[test]
fn port_mapping_forms() {
    use notation::parse_port_mapping as p;
    let m = p("127.0.0.1:8080:80").expect("valid");
    assert_eq!(
        (m.host_ip, m.host_ports, m.container_ports.first),
        (
            Some("127.0.0.1".parse().expect("ip")),
            Some(PortRange::single(8080)),
            80
        )
    );
    let m = p("443").expect("valid");
    assert_eq!(
        (m.host_ip, m.host_ports, m.transport),
        (None, None, Transport::Tcp)
    );
    let m = p("9000:9000/udp").expect("valid");
    assert_eq!(m.transport, Transport::Udp);
    let m = p("127.0.0.1::80").expect("valid");
    assert_eq!(m.host_ports, None);
    let m = p("[::1]:8080:80").expect("valid");
    assert_eq!(m.host_ip, Some("::1".parse().expect("ip")));
    let m = p("8000-8002:80-82").expect("valid");
    assert_eq!(m.container_ports.len(), 3);
    let m = p(":443:443").expect("an empty address is every address, as Docker reads it");
    assert_eq!(
        (m.host_ip, m.host_ports, m.container_ports.first),
        (None, Some(PortRange::single(443)), 443)
    );
    assert!(p("0").is_err());
    assert!(p("82-80").is_err());
}

#[test]
fn duplicate_host_port() {
    let e = errors(
        "networks:\n  a: {}\nnodes:\n  x:\n    networks: [a]\n    ports: [\"8080:80\"]\n  y:\n    networks: [a]\n    ports: [\"8080:81\"]\n",
    );
    assert_eq!(
        e,
        [(
            9,
            13,
            "host port 8080/tcp is already published by node `x`".into()
        )]
    );
}

#[test]
fn unknown_check_kind_and_expectation() {
    let e = errors(&format!(
        "{BASE}checks:\n  - ping: {{ from: web }}\n  - tcp: {{ from: web, to: web:80, expect: opne }}\n"
    ));
    assert_eq!(e[0], (7, 5, "unknown check kind `ping`".into()));
    assert_eq!(
        e[1],
        (8, 43, "unknown expectation `opne` for a tcp check".into())
    );
}

#[test]
fn tcp_target_without_port_and_undefined_nodes_in_checks() {
    let e = errors(&format!(
        "{BASE}checks:\n  - tcp: {{ from: web, to: web, expect: open }}\n  - dns: {{ from: clint, name: web, expect: [wbe] }}\n  - udp: {{ from: web, to: nobody:53, expect: open }}\n"
    ));
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "target `web` has no port",
            "undefined node `clint`",
            "`wbe` is neither a node of the lab nor an IP address",
            "undefined node `nobody`",
        ]
    );
    assert_eq!((e[0].0, e[0].1), (7, 27));
}

#[test]
fn field_that_does_not_apply_to_the_kind() {
    let e = one_error(&format!(
        "{BASE}checks:\n  - tcp: {{ from: web, to: web:80, url: http://web/, expect: open }}\n"
    ));
    assert_eq!(
        e,
        (7, 40, "field `url` does not apply to a tcp check".into())
    );
}

#[test]
fn collects_every_problem_at_once() {
    let yaml = "name: X\nnetworks:\n  a: { subnet: nope }\nnodes:\n  web:\n    networks: [b]\nchecks:\n  - dns: { from: web, name: web, expect: resolvs }\n";
    assert_eq!(errors(yaml).len(), 4, "{:#?}", errors(yaml));
}

#[test]
fn ports_on_host_mode_is_a_warning() {
    let loaded = load_str("nodes:\n  web:\n    network_mode: host\n    ports: [\"80\"]\n")
        .expect("valid with a warning");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0].contains("`ports` has no effect with `network_mode: host`"),
        "{}",
        loaded.warnings[0]
    );
}

#[test]
fn rendered_diagnostic_shows_file_line_and_caret() {
    let Err(LabError::Invalid(report)) =
        load_str("networks:\n  front: {}\nnodes:\n  web:\n    networks: [frnt]\n")
    else {
        panic!("expected invalid")
    };
    let text = report.to_string();
    assert!(
        text.contains("error: node `web` joins undefined network `frnt`"),
        "{text}"
    );
    assert!(text.contains("--> lab.yaml:5:16"), "{text}");
    assert!(text.contains("5 |     networks: [frnt]"), "{text}");
    assert!(text.contains("^^^^"), "{text}");
    assert!(text.contains("help: did you mean `front`?"), "{text}");
    assert!(
        text.ends_with("lab.yaml: 1 error found; nothing was created"),
        "{text}"
    );
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(load_str(&deep).is_err());
    assert!(load_source("x.yaml", &[0xff, 0xfe, 0x00], Some("x")).is_err());
    assert!(load_str("a: &a [*a]").is_err());
    assert!(load_str("").is_err());
    assert!(load_str("nodes: 5").is_err());
}

#[test]
fn check_defaults_timeout_and_title() {
    let lab = valid(&format!(
        "{BASE}checks:\n  - tcp: {{ from: web, to: web:80, expect: refused, timeout: 500ms }}\n"
    ));
    assert_eq!(lab.checks[0].timeout, std::time::Duration::from_millis(500));
    assert_eq!(lab.checks[0].title, "tcp web → web:80 is refused");
}

#[test]
fn overlay_fields_apply_to_their_driver_only() {
    let e = errors(
        "networks:\n  a: { attachable: true }\n  o: { driver: overlay, icc: false }\n  p: { driver: overlay, attachable: false }\n  q: { driver: bridgee }\nnodes:\n  web:\n    networks: [a]\n",
    );
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "`attachable` applies only to overlay networks",
            "`icc` applies only to bridge networks",
            "lab nodes are plain containers, so an overlay network must be attachable",
            "unknown network driver `bridgee`",
        ]
    );
    let lab = valid(
        "networks:\n  o: { driver: overlay, encrypted: true }\nnodes:\n  web:\n    networks: [o]\n",
    );
    assert_eq!(
        lab.networks["o"].driver,
        Driver::Overlay {
            attachable: true,
            encrypted: true
        }
    );
}

#[test]
fn mtu_check_needs_a_network_the_node_is_on_and_a_number() {
    let lab = |check: &str| {
        format!(
            "networks:\n  a: {{}}\n  b: {{}}\nnodes:\n  web:\n    networks: [a]\nchecks:\n  - {check}\n"
        )
    };
    let ok = valid(&lab("mtu: { node: web, network: a, expect: 1450 }"));
    assert_eq!(
        ok.checks[0].kind,
        CheckKind::Mtu {
            to: None,
            node: "web".into(),
            network: "a".into(),
            expect: 1450
        }
    );
    assert_eq!(ok.checks[0].title, "mtu web on a is 1450");
    assert_eq!(
        one_error(&lab("mtu: { node: web, network: b, expect: 1450 }")).2,
        "node `web` is not on network `b`"
    );
    assert_eq!(
        one_error(&lab("mtu: { node: web, network: a, expect: big }")).2,
        "`big` is not an MTU"
    );
}

#[test]
fn tcp_with_connections_is_a_spread_over_a_name() {
    let lab = |check: &str| {
        format!(
            "networks:\n  a: {{}}\nnodes:\n  p1:\n    networks: {{ a: {{ aliases: [pool] }} }}\n    serve: [tcp:7000]\n  c:\n    networks: [a]\nchecks:\n  - {check}\n"
        )
    };
    let ok = valid(&lab(
        "tcp: { from: c, to: pool:7000, connections: 6, expect: spread }",
    ));
    assert_eq!(
        ok.checks[0].kind,
        CheckKind::Spread {
            from: "c".into(),
            name: "pool".into(),
            port: 7000,
            connections: 6,
            expect: SpreadExpect::Spread
        }
    );
    assert_eq!(
        one_error(&lab(
            "tcp: { from: c, to: nobody:7000, connections: 6, expect: open }"
        ))
        .2,
        "`nobody` is neither a node nor an alias of the lab"
    );
    assert_eq!(
        one_error(&lab(
            "tcp: { from: c, to: pool:7000, connections: 0, expect: open }"
        ))
        .2,
        "0 connections is out of range"
    );
    assert_eq!(
        one_error(&lab(
            "tcp: { from: c, to: pool:7000, connections: 2, expect: blocked }"
        ))
        .2,
        "unknown expectation `blocked` for a tcp check"
    );
}

#[test]
fn port_check_fields_and_identity() {
    let lab = |check: &str| {
        format!(
            "networks:\n  a: {{}}\nnodes:\n  web:\n    networks: [a]\n    serve: [tcp:80]\n  box:\n    image: busybox\n    networks: [a]\nchecks:\n  - {check}\n"
        )
    };
    let ok = valid(&lab(
        "port: { node: web, port: 53/udp, host_ip: 127.0.0.1, host_port: 5353, expect: unpublished }",
    ));
    assert_eq!(
        ok.checks[0].kind,
        CheckKind::Port {
            host: None,
            node: "web".into(),
            port: 53,
            transport: Transport::Udp,
            host_ip: Some("127.0.0.1".parse().expect("ip")),
            host_port: Some(5353),
            expect: PortExpect::Unpublished
        }
    );
    assert_eq!(
        one_error(&lab(
            "port: { node: web, port: 80/sctp, expect: published }"
        ))
        .2,
        "unknown protocol `sctp`"
    );
    assert_eq!(
        one_error(&lab("port: { node: box, port: 80, expect: published }")).2,
        "node `box` runs a foreign image, so `published` cannot prove it answered"
    );
    assert_eq!(
        one_error(&lab("tcp: { from: web, to: box:80, expect: open }")).2,
        "node `box` runs a foreign image, so `open` cannot prove it answered"
    );
    // Refused and blocked need no identity, and a foreign node may probe.
    load_str(&lab("tcp: { from: box, to: web:81, expect: refused }")).expect("valid");
}

#[test]
fn publishing_from_internal_networks_only_is_a_warning() {
    let loaded = load_str("networks:\n  v: { internal: true }\nnodes:\n  web:\n    networks: [v]\n    ports: [\"8080:80\"]\n").expect("valid with a warning");
    assert_eq!(loaded.warnings.len(), 1);
    assert!(loaded.warnings[0].contains("node `web` is only on internal networks, so Docker will not forward its published ports"), "{}", loaded.warnings[0]);
}

#[test]
fn tls_checks_take_a_name_a_ca_and_one_of_four_outcomes() {
    let lab = |check: &str| format!("{BASE}    serve: [https:443]\nchecks:\n  - {check}\n");
    let ok = valid(&lab(
        "tls: { from: web, to: web:443, ca: none, expect: no-tls }",
    ));
    assert_eq!(
        ok.checks[0].kind,
        CheckKind::Tls {
            from: Source::Node("web".into()),
            to: notation::parse_target("web:443").expect("target"),
            name: "web".into(),
            trust: Trust::Nothing,
            expect: TlsExpect::NoTls
        }
    );
    assert_eq!(ok.checks[0].title, "tls web → web:443 as web is no-tls");
    // Trusting nothing, every certificate is untrusted: that proves nothing.
    assert_eq!(
        one_error(&lab("tls: { from: web, to: web:443, ca: none, expect: untrusted }")),
        (
            8,
            40,
            "with `ca: none` every certificate is untrusted, so expecting `untrusted` proves nothing".into()
        )
    );
    assert_eq!(
        one_error(&lab(
            "tls: { from: web, to: web:443, ca: mine, expect: verified }"
        ))
        .2,
        "unknown ca `mine`"
    );
    assert_eq!(
        one_error(&lab("tls: { from: web, to: web:443, expect: trusted }")).2,
        "unknown expectation `trusted` for a tls check"
    );
    assert_eq!(
        one_error(&lab(
            "tls: { from: web, to: 10.0.0.1:443, expect: verified }"
        ))
        .2,
        "a tls check to an address needs `name:`, the server name to present"
    );
}

#[test]
fn http_checks_take_a_url_a_method_and_a_map_of_expectations() {
    // From the host, a loopback URL needs a port the lab publishes there.
    let lab = |check: &str| {
        format!(
            "{BASE}    ports: [\"127.0.0.1:8080:80\"]\n    serve: [http:80]\nchecks:\n  - {check}\n"
        )
    };
    let ok = valid(&lab(
        "http: { from: host, url: \"http://127.0.0.1:8080/redirect/307?to=/echo\", method: post, body: x, expect: { redirects: [307], final_method: POST, body_kept: true, from_node: web, status: 200, final_url: /echo } }",
    ));
    let CheckKind::Http {
        from,
        method,
        body,
        expect,
        ..
    } = &ok.checks[0].kind
    else {
        panic!("an http check")
    };
    assert_eq!(
        (from, method.as_str(), body.as_deref()),
        (&Source::Host(None), "POST", Some("x"))
    );
    assert_eq!(expect.redirects, Some(vec![307]));
    assert_eq!(expect.final_method.as_deref(), Some("POST"));
    assert_eq!(
        (expect.body_kept, expect.session, expect.status),
        (Some(true), None, Some(200))
    );
    let e = errors(&lab(
        "http: { from: web, url: \"ftp://web/\", expect: { redirect: [301], status: two, from_node: nobody } }",
    ));
    let msgs: Vec<&str> = e.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "`ftp://web/` is not an http or https URL",
            "unknown http expectation `redirect`",
            "`status` expects a status code, not \"two\"",
            "undefined node `nobody`",
        ]
    );
    assert_eq!(
        one_error(&lab(
            "http: { from: web, url: \"http://web/\", expect: open }"
        ))
        .2,
        "an http check expects a map"
    );
    assert_eq!(
        one_error(&lab(
            "http: { from: web, url: \"http://web/\", expect: {} }"
        ))
        .2,
        "an empty expectation checks nothing"
    );
}

#[test]
fn naming_the_agent_image_is_the_same_as_leaving_it_out() {
    let lab = valid(
        "networks:\n  a: {}\nnodes:\n  web:\n    image: netlab/agent\n    networks: [a]\n    serve: [tcp:7000]\n  api:\n    image: netlab/agent:0.1.0\n    networks: [a]\n",
    );
    assert!(lab.nodes["web"].is_agent() && lab.nodes["api"].is_agent());
    let other =
        valid("networks:\n  a: {}\nnodes:\n  box:\n    image: netlab/agentx\n    networks: [a]\n");
    assert!(!other.nodes["box"].is_agent());
}

#[test]
fn several_hosts_place_nodes_and_keep_each_bridge_on_one_host() {
    let ok = load_str(
        "hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\n  lan: {}\nnodes:\n  web: { host: east, networks: [ov, lan], ports: [\"8080:80\"] }\n  db: { host: west, networks: [ov], ports: [\"8080:80\"] }\n  edge: { networks: [lan] }\nchecks:\n  - tcp: { from: host@east, to: web:80, expect: refused }\n  - port: { node: db, port: 80, expect: unpublished }\n",
    )
    .expect("the same host port on two hosts is fine")
    .lab;
    assert_eq!(ok.hosts, ["east", "west"]);
    assert_eq!(ok.nodes["db"].host, "west");
    assert_eq!(
        ok.nodes["edge"].host, "east",
        "a node without host: is on the first"
    );
    assert_eq!(
        ok.checks[0].kind.source(),
        Source::Host(Some("east".into()))
    );
    assert_eq!(ok.checks[0].title, "tcp host@east → web:80 is refused");
    assert_eq!(
        ok.checks[1].kind.source(),
        Source::Host(Some("west".into()))
    );

    let bridge = "hosts: [east, west]\nnetworks:\n  lan: {}\nnodes:\n  a: { host: east, networks: [lan] }\n  b: { host: west, networks: [lan] }\n";
    let (line, column, message) = one_error(bridge);
    assert_eq!((line, column), (3, 3));
    assert_eq!(
        message,
        "bridge network `lan` has nodes on several hosts: a on east; b on west"
    );
    let rendered = load_str(bridge).expect_err("invalid").to_string();
    assert!(
        rendered.contains("a bridge lives on one Docker host; use `driver: overlay`"),
        "{rendered}"
    );

    assert_eq!(
        one_error("hosts: [east, west]\nnodes:\n  a: { host: esat, network_mode: none }\n"),
        (3, 14, "node `a` is on undefined host `esat`".into())
    );
    assert!(
        load_str("hosts: [east, west]\nnodes:\n  a: { host: esat, network_mode: none }\n")
            .expect_err("invalid")
            .to_string()
            .contains("did you mean `east`?")
    );
    assert_eq!(
        one_error("nodes:\n  a: { host: east, network_mode: none }\n").2,
        "node `a` names host `east`, but the lab declares no `hosts:`"
    );
    assert_eq!(
        one_error("hosts: [east, east]\nnodes:\n  a: { network_mode: none }\n").2,
        "host `east` is listed twice"
    );
    let same_host_port = "hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\nnodes:\n  a: { host: east, networks: [ov], ports: [\"8080:80\"] }\n  b: { host: east, networks: [ov], ports: [\"8080:80\"] }\n";
    assert_eq!(
        one_error(same_host_port).2,
        "host port 8080/tcp on host east is already published by node `a`"
    );
    let from_host = "hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\nnodes:\n  a: { host: east, networks: [ov], serve: [tcp:80] }\nchecks:\n";
    assert_eq!(
        one_error(&format!(
            "{from_host}  - tcp: {{ from: host, to: a:80, expect: open }}\n"
        ))
        .2,
        "this lab has several hosts: `from: host` must say which"
    );
    assert_eq!(
        one_error(&format!(
            "{from_host}  - tcp: {{ from: host@wset, to: a:80, expect: open }}\n"
        ))
        .2,
        "undefined host `wset`"
    );
}

#[test]
fn a_negative_needs_a_real_deadline_and_no_retry() {
    let lab = |check: &str| {
        format!(
            "{BASE}    serve: [tcp:80]\n  client:\n    networks: [front]\nchecks:\n  - {check}\n"
        )
    };
    assert_eq!(
        one_error(&lab(
            "tcp: { from: client, to: web:81, expect: blocked, timeout: 50ms }"
        ))
        .2,
        "timeout `50ms` is too short"
    );
    assert_eq!(
        one_error(&lab(
            "tcp: { from: client, to: web:81, expect: blocked, retry: true }"
        ))
        .2,
        "`retry` applies to positive expectations; this check expects `blocked`"
    );
    assert_eq!(
        one_error(&lab(
            "dns: { from: client, name: nope, expect: unresolved, retry: true }"
        ))
        .2,
        "`retry` applies to positive expectations; this check expects `unresolved`"
    );
    load_str(&lab(
        "tcp: { from: client, to: web:80, expect: open, retry: true, timeout: 200ms }",
    ))
    .expect("a positive may retry");
}

#[test]
fn expectations_that_cannot_show_anything_are_errors() {
    let lab = |check: &str| {
        format!(
            "{BASE}    serve: [http:80]\n  client:\n    networks: [front]\nchecks:\n  - {check}\n"
        )
    };
    assert_eq!(
        one_error(&lab("dns: { from: client, name: web, expect: [] }")).2,
        "an empty list expects no answer at all"
    );
    assert_eq!(
        one_error(&lab(
            "dns: { from: client, name: web, type: AAAA, expect: [web] }"
        ))
        .2,
        "no network of the lab has IPv6: an AAAA query for `web` can only come back empty, so this check cannot fail (or cannot pass)"
    );
    // `unresolved` could not fail: refused too, and the hint no longer
    // suggests it.
    let (_, _, message) = one_error(&lab(
        "dns: { from: client, name: web, type: AAAA, expect: unresolved }",
    ));
    assert!(message.contains("cannot fail"), "{message}");
    assert_eq!(
        one_error(&lab("http: { from: client, url: http://web/whoami, method: POST, body: x, expect: { body_kept: true } }")).2,
        "`body_kept` is shown by the agent's /echo only, and this request does not end there"
    );
    assert_eq!(
        one_error(&lab(
            "http: { from: client, url: http://web/echo, expect: { body_kept: false } }"
        ))
        .2,
        "`body_kept` needs a request `body:`"
    );
    load_str(&lab("http: { from: client, url: \"http://web/redirect/307\", method: PUT, body: x, expect: { body_kept: true } }"))
        .expect("a redirect goes to /echo by default");
    assert_eq!(
        one_error(&lab(
            "http: { from: client, url: http://web/echo, expect: { session: true } }"
        ))
        .2,
        "`session` is shown by the agent's /session/ paths only, and this request does not end there"
    );
}

#[test]
fn a_node_may_take_its_certificate_from_another_ca() {
    let ok = valid(&format!("{BASE}    serve: [https:443]\n    ca: other\n"));
    assert!(ok.nodes["web"].other_ca);
    assert_eq!(
        one_error(&format!("{BASE}    ca: other\n")).2,
        "`ca` applies to a node that serves https"
    );
    assert_eq!(
        one_error(&format!("{BASE}    serve: [https:443]\n    ca: mine\n")).2,
        "unknown ca `mine`"
    );
}

const MATRIX_LAB: &str = "networks:\n  a: {}\nnodes:\n  web:\n    networks: [a]\n    serve: [tcp:7000, udp:7001]\n  app:\n    networks: [a]\n  box:\n    image: busybox\n    networks: [a]\nchecks:\n  - matrix:\n      title: tiers\n      port: PORT\n      expect: |\n        from\\to  web  app\n";

/// A matrix lab whose table has `rows` under its header.
fn matrix_lab(port: &str, rows: &str) -> String {
    format!("{}{rows}", MATRIX_LAB.replace("PORT", port))
}

#[test]
fn a_matrix_reads_every_symbol_and_host_as_a_row() {
    let lab = valid(&matrix_lab(
        "7000",
        "        web      .    r\n        app      x    -\n        host     .    x\n        box      .    r\n",
    ));
    let CheckKind::Matrix(m) = &lab.checks[0].kind else {
        panic!("a matrix");
    };
    assert_eq!(lab.checks[0].title, "matrix tiers on 7000");
    assert_eq!((m.port, m.transport), (7000, Transport::Tcp));
    assert_eq!(m.targets, ["web", "app"]);
    assert_eq!(
        m.sources,
        [
            Source::Node("web".into()),
            Source::Node("app".into()),
            Source::Host(None),
            Source::Node("box".into())
        ]
    );
    let symbols: Vec<(String, &str, char)> = m
        .cells
        .iter()
        .map(|c| (c.from.to_string(), c.to.as_str(), c.expect.symbol()))
        .collect();
    assert_eq!(
        symbols,
        [
            ("web".into(), "web", '.'),
            ("web".into(), "app", 'r'),
            ("app".into(), "web", 'x'),
            ("host".into(), "web", '.'),
            ("host".into(), "app", 'x'),
            ("box".into(), "web", '.'),
            ("box".into(), "app", 'r'),
        ],
        "`-` is not checked"
    );
    let udp = valid(&matrix_lab("7001/udp", "        web      .    x\n"));
    assert_eq!(udp.checks[0].title, "matrix tiers on 7001/udp");
}

#[test]
fn matrix_errors_point_into_the_table() {
    // The table's header is line 17; its rows follow; columns count from 1.
    let e = |rows: &str| one_error(&matrix_lab("7000", rows));
    assert_eq!(
        e("        web      .    o\n"),
        (18, 23, "unknown matrix symbol `o`".into())
    );
    assert_eq!(
        e("        web      .\n"),
        (18, 9, "row `web` has 1 cells, the header 2 columns".into())
    );
    assert_eq!(
        e("        wbe      .    .\n"),
        (18, 9, "undefined node `wbe`".into())
    );
    assert!(
        load_str(&matrix_lab("7000", "        wbe      .    .\n"))
            .expect_err("invalid")
            .to_string()
            .contains("did you mean `web`?")
    );
    assert_eq!(
        e("        web      .    .\n        web      .    .\n"),
        (19, 9, "row `web` is written twice".into())
    );
}

#[test]
fn matrix_headers_ports_and_open_cells_towards_foreign_images() {
    let header = |h: &str| {
        one_error(&format!(
            "{}        web      .    .\n",
            MATRIX_LAB
                .replace("PORT", "7000")
                .replace("from\\to  web  app", h)
        ))
    };
    assert_eq!(
        header("from  web  app"),
        (
            17,
            9,
            "a matrix table starts with `from\\to`, not `from`".into()
        )
    );
    assert_eq!(
        header("from\\to  web  web"),
        (17, 23, "column `web` is written twice".into())
    );
    let foreign = format!(
        "{}        web      .    .    .\n",
        MATRIX_LAB
            .replace("PORT", "7000")
            .replace("from\\to  web  app", "from\\to  web  app  box")
    );
    assert_eq!(
        one_error(&foreign),
        (
            18,
            28,
            "node `box` runs a foreign image, so an open cell cannot prove it answered".into()
        )
    );
    assert_eq!(
        one_error(&matrix_lab("7001/udp", "        web      .    r\n")),
        (18, 23, "a udp matrix has no `r` cells".into())
    );
    assert_eq!(
        one_error(&matrix_lab("http", "        web      .    x\n")).2,
        "`http` is not a port"
    );
    assert_eq!(
        one_error(&format!(
            "{}        web      .    x\n",
            MATRIX_LAB.replace(
                "      port: PORT\n",
                "      retry: true\n      port: 7000\n"
            )
        ))
        .2,
        "field `retry` does not apply to a matrix check"
    );
}

/// The paths a check may claim: a node is aimed at on a network the source
/// shares with it, or on a bridge of the source's own host; never across
/// hosts without a shared network, never at an overlay the source is not
/// on (both would follow a default route out of the machine).
#[test]
fn a_target_off_every_path_of_its_source_is_refused_with_what_to_write_instead() {
    let two_hosts = "hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\n  lan-east: {}\n  lan-west: {}\nnodes:\n  web: { host: east, networks: [ov, lan-east], serve: [tcp:7000] }\n  edge: { host: east, networks: [lan-east] }\n  db: { host: west, networks: [ov, lan-west], serve: [tcp:7000] }\n  worker: { host: west, networks: [lan-west] }\nchecks:\n";
    let (line, column, message) = one_error(&format!(
        "{two_hosts}  - tcp: {{ from: edge, to: db:7000, expect: blocked }}\n"
    ));
    assert_eq!((line, column), (12, 28));
    assert_eq!(
        message,
        "`db` cannot be aimed at from edge: edge runs on host east and db on host west, and they share no network: no address of db is on a path from edge; one would be routed by east's default route, out of the machine"
    );
    let rendered = load_str(&format!(
        "{two_hosts}  - tcp: {{ from: edge, to: db:7000, expect: blocked }}\n"
    ))
    .expect_err("invalid")
    .to_string();
    assert!(
        rendered.contains("dns: { from: edge, name: db, expect: unresolved }"),
        "{rendered}"
    );
    // The same from the other host's stack, and a cell of a matrix.
    assert!(
        one_error(&format!(
            "{two_hosts}  - udp: {{ from: host@east, to: db:7000, expect: blocked }}\n"
        ))
        .2
        .contains("host@east runs on host east and db on host west")
    );
    let matrix = format!(
        "{two_hosts}  - matrix:\n      port: 7000\n      expect: |\n        from\\to  web  db\n        edge     .    x\n"
    );
    let (line, column, message) = one_error(&matrix);
    assert_eq!((line, column), (16, 23));
    assert!(
        message.starts_with("cell edge → db: `db` cannot be aimed at"),
        "{message}"
    );
    // Shared networks and a bridge on the same host are paths.
    load_str(&format!(
        "{two_hosts}  - tcp: {{ from: worker, to: db:7000, expect: open }}\n  - tcp: {{ from: edge, to: web:7000, expect: open }}\n  - tcp: {{ from: web, to: db:7000, expect: open }}\n  - matrix:\n      port: 7000\n      expect: |\n        from\\to  web  db\n        edge     .    -\n        worker   -    .\n"
    ))
    .expect("valid");
    // One host: an overlay the source is not on is routed by nobody.
    let one_host = "networks:\n  ov: { driver: overlay }\n  lan: {}\nnodes:\n  web: { networks: [ov, lan], serve: [tcp:7000] }\n  lonely: { networks: [ov], serve: [tcp:7000] }\n  edge: { networks: [lan] }\nchecks:\n";
    assert!(
        one_error(&format!(
            "{one_host}  - tcp: {{ from: edge, to: web@ov:7000, expect: blocked }}\n"
        ))
        .2
        .contains("edge is not on network `ov`, and an overlay network is routed by no host")
    );
    assert!(
        one_error(&format!(
            "{one_host}  - tcp: {{ from: host, to: lonely:7000, expect: blocked }}\n"
        ))
        .2
        .contains("it is only on overlay networks")
    );
    load_str(&format!(
        "{one_host}  - tcp: {{ from: edge, to: web:7000, expect: open }}\n  - tcp: {{ from: host, to: web:7000, expect: open }}\n"
    ))
    .expect("web's bridge address is on edge's host: a path");
}

/// SPEC "What a lab may touch": addresses and URL hosts outside the lab
/// are refused unless `--allow-external`.
#[test]
fn targets_outside_the_lab_are_refused_unless_allowed() {
    let declared = "networks:\n  front: { subnet: 10.213.7.0/24 }\nnodes:\n  web:\n    networks: [front]\n    serve: [tcp:7000, http:80]\n  client:\n    networks: [front]\nchecks:\n";
    let with = |check: &str| format!("{declared}  - {check}\n");
    let (line, column, message) = one_error(&with(
        "tcp: { from: client, to: \"192.0.2.7:53\", expect: refused }",
    ));
    assert_eq!((line, column), (10, 30));
    assert_eq!(
        message,
        "`192.0.2.7:53` is outside the lab: 192.0.2.7 is neither loopback nor in a subnet of the lab"
    );
    assert!(
        load_str(&with(
            "tcp: { from: client, to: \"192.0.2.7:53\", expect: refused }"
        ))
        .expect_err("invalid")
        .to_string()
        .contains("`--allow-external` lifts this")
    );
    let allowed = load_source_with(
        "lab.yaml",
        with("tcp: { from: client, to: \"192.0.2.7:53\", expect: refused }").as_bytes(),
        Some("lab"),
        LoadOptions {
            allow_external: true,
        },
    );
    assert!(allowed.is_ok(), "--allow-external lets it through");
    assert_eq!(
        one_error(&with(
            "http: { from: client, url: \"http://example.com/\", expect: { status: 200 } }"
        ))
        .2,
        "`http://example.com/` is outside the lab: `example.com` is not a name of the lab (a node or an alias): it would be looked up and reached outside the lab"
    );
    assert!(
        one_error(&with(
            "http: { from: host, url: \"http://web/whoami\", expect: { status: 200 } }"
        ))
        .2
        .contains("host does not resolve the lab's names")
    );
    assert!(one_error(&with("http: { from: client, url: \"http://169.254.169.254/latest\", expect: { status: 200 } }"))
        .2
        .contains("169.254.169.254 is neither loopback nor in a subnet of the lab"));
    load_str(&with(
        "tcp: { from: client, to: \"10.213.7.9:7000\", expect: blocked }",
    ))
    .expect("an address in the lab's subnet");
    load_str(&with(
        "http: { from: client, url: \"http://127.0.0.1:8080/\", expect: { status: 200 } }",
    ))
    .expect("a container's own loopback");
    load_str(&with(
        "http: { from: client, url: \"http://web/whoami\", expect: { status: 200 } }",
    ))
    .expect("a lab name from a node that resolves it");
    // Where Docker picks a subnet, only the running lab can tell.
    load_str("networks:\n  front: {}\nnodes:\n  client:\n    networks: [front]\nchecks:\n  - tcp: { from: client, to: \"172.30.9.9:7000\", expect: blocked }\n")
        .expect("decided at run time");
}

#[test]
fn retry_is_refused_where_trying_again_proves_nothing() {
    let lab = |check: &str| {
        format!(
            "{BASE}    serve: [https:443]\n  client:\n    networks: [front]\nchecks:\n  - {check}\n"
        )
    };
    for expect in ["untrusted", "wrong-name", "no-tls"] {
        let (_, _, message) = one_error(&lab(&format!(
            "tls: {{ from: client, to: web:443, expect: {expect}, retry: true }}"
        )));
        assert_eq!(
            message,
            format!("`retry` applies to positive expectations; this check expects `{expect}`")
        );
    }
    load_str(&lab(
        "tls: { from: client, to: web:443, expect: verified, retry: true }",
    ))
    .expect("a verified handshake may be waited for");
}

#[test]
fn accepts_is_the_expectation_for_servers_that_cannot_say_who_they_are() {
    let foreign = "networks:\n  front: {}\nnodes:\n  box:\n    image: some/image\n    command: [sleep, \"3600\"]\n    networks: [front]\n  client:\n    networks: [front]\nchecks:\n";
    let rendered = load_str(&format!(
        "{foreign}  - tcp: {{ from: client, to: box:80, expect: open }}\n"
    ))
    .expect_err("open needs an identity")
    .to_string();
    assert!(rendered.contains("or expect `accepts`"), "{rendered}");
    let lab = valid(&format!(
        "{foreign}  - tcp: {{ from: client, to: box:80, expect: accepts }}\n"
    ));
    assert_eq!(lab.checks[0].title, "tcp client → box:80 is accepts");
}

#[test]
fn a_dns_list_naming_a_node_the_source_shares_no_network_with_is_refused() {
    let (line, column, message) = one_error(
        "networks:\n  a: {}\n  b: {}\nnodes:\n  web: { networks: [a] }\n  far: { networks: [b] }\n  client: { networks: [a] }\nchecks:\n  - dns: { from: client, name: web, expect: [web, far] }\n",
    );
    assert_eq!((line, column), (9, 51), "{message}");
    assert!(
        message.contains("`far` shares no network with `client` where this check runs"),
        "{message}"
    );
    // After a step connects far to a, the same list is Docker's answer.
    assert!(
        load_str("networks:\n  a: {}\n  b: {}\nnodes:\n  web: { networks: [a] }\n  far: { networks: [b] }\n  client: { networks: [a] }\nsteps:\n  - title: far joins a\n    do: [ { connect: { node: far, network: a } } ]\n    checks:\n      - dns: { from: client, name: web, expect: [web] }\n      - dns: { from: client, name: far, expect: [far] }\n").is_ok()
    );
}

#[test]
fn a_lab_argument_that_names_nothing_says_what_was_probably_meant() {
    let typo = load("bridge-basics").map(|_| ()).expect_err("no such lab");
    assert!(
        typo.to_string()
            .contains("did you mean the built-in lab `bridge-basic`?"),
        "{typo}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("mylab.yaml"), "nodes:\n  a: {}\n").expect("write");
    let bare = dir.path().join("mylab").display().to_string();
    let err = load(&bare)
        .map(|_| ())
        .expect_err("no file without the extension");
    assert!(
        err.to_string()
            .contains(&format!("did you mean the file `{bare}.yaml`?")),
        "{err}"
    );
    let far = load("zzz").map(|_| ()).expect_err("nothing near");
    assert!(
        far.to_string().contains("built-in labs are: bridge-basic"),
        "{far}"
    );
}

#[test]
fn one_typo_in_a_network_name_is_one_error() {
    let all = errors(
        "networks:\n  private: {}\nnodes:\n  web:\n    networks: [privat]\n    serve: [tcp:7000]\n  client:\n    networks: [private]\nchecks:\n  - tcp: { from: client, to: web:7000, expect: open }\n  - dns: { from: client, name: web, expect: [web] }\n  - tcp: { from: web, to: client:7000, expect: refused }\n",
    );
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].0, 5);
    assert!(
        all[0].2.contains("joins undefined network `privat`"),
        "{all:?}"
    );
}

#[test]
fn a_yaml_error_says_error_once_names_its_place_once_and_counts() {
    let typo = parse_error("nodes:\n  web:\n    servee: [tcp:7000]\n");
    assert!(typo.starts_with("unknown field `servee`"), "{typo}");
    assert!(!typo.contains("error: line"), "{typo}");
    assert!(typo.contains("did you mean `serve`?"), "{typo}");
    assert!(
        typo.ends_with("lab.yaml: 1 error found; nothing was created"),
        "{typo}"
    );
    let scalar = parse_error("nodes:\n  web:\n    serve: tcp:5432\n");
    assert!(
        scalar.contains("= help: `serve` takes a list: write `serve: [tcp:5432]`"),
        "{scalar}"
    );
}

#[test]
fn an_egress_check_names_a_node_and_expects_none_or_routed() {
    let ok = format!(
        "{BASE}checks:\n  - egress: {{ node: web, expect: none }}\n  - egress: {{ node: web, expect: routed, family: v4, retry: true }}\n"
    );
    let lab = valid(&ok);
    assert_eq!(
        lab.checks[0].kind,
        CheckKind::Egress {
            node: "web".into(),
            expect: EgressExpect::None
        }
    );
    assert_eq!(lab.checks[0].title, "egress web has no route out");
    let (line, _, msg) = one_error(&format!(
        "{BASE}checks:\n  - egress: {{ node: wbe, expect: none }}\n"
    ));
    assert!(line == 7 && msg.contains("undefined node `wbe`"), "{msg}");
    let (_, _, msg) = one_error(&format!(
        "{BASE}checks:\n  - egress: {{ node: web, expect: open }}\n"
    ));
    assert!(msg.contains("open"), "{msg}");
    // `retry` is for a positive expectation: no route is an absence.
    let (_, _, msg) = one_error(&format!(
        "{BASE}checks:\n  - egress: {{ node: web, expect: none, retry: true }}\n"
    ));
    assert!(
        msg.contains("`retry` applies to positive expectations"),
        "{msg}"
    );
    let (_, _, msg) = one_error(&format!(
        "{BASE}checks:\n  - egress: {{ node: web, to: web:80, expect: none }}\n"
    ));
    assert!(
        msg.contains("field `to` does not apply to a egress check"),
        "{msg}"
    );
}

#[test]
fn an_unclosed_bracket_is_pointed_at_where_it_opens() {
    let brace = parse_error(
        "nodes:\n  web: { networks: [a], serve: [tcp:7000] }\nchecks:\n  - tcp: { from: web, to: web:7000, expect: open # a } here is a comment\n  - dns: { from: web, name: web, expect: [web] }\n",
    );
    assert!(
        brace.contains(
            "= help: the `{` at line 4 column 10 is not closed: end it with `}` on line 4"
        ),
        "{brace}"
    );
    let list = parse_error("nodes:\n  web: { networks: [a, \"b]\", serve: [tcp:7000] }\n");
    assert!(
        !list.contains("is not closed"),
        "a bracket in quotes is text:\n{list}"
    );
    let bracket = parse_error("nodes:\n  web:\n    networks: [a, b\n    serve: [tcp:7000]\n");
    assert!(
        bracket.contains("the `[` at line 3 column 15 is not closed: end it with `]` on line 3"),
        "{bracket}"
    );
}
