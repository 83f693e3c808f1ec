//! Outcome classification and target resolution against a hand-built
//! `LiveLab`: no Docker.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::*;
use crate::agent::protocol::*;
use crate::lab::{self, CheckKind, IpFamily};
use crate::live::{LiveLab, LiveNode};

/// web on front+back, client on front, outsider on back2, legacy-a/b on the default bridge.
pub(super) fn live() -> LiveLab {
    let lab = lab::load_source(
        "t.yaml",
        b"networks:\n  front: {}\n  back: {}\n  back2: {}\nnodes:\n  web:\n    networks: [front, back]\n    serve: [tcp:7000]\n  client:\n    networks: [front]\n  outsider:\n    networks: [back2]\n  legacy:\n    network_mode: bridge\n  stopped:\n    networks: [front]\n",
        Some("t"),
    )
    .expect("valid")
    .lab;
    let node = |addrs: &[(&str, [u8; 4])], running: bool| LiveNode {
        host: "local".into(),
        probe_container: Some("id".into()),
        running,
        state: if running {
            "running".into()
        } else {
            "exited (exit code 1)".into()
        },
        addresses: addrs
            .iter()
            .map(|(n, ip)| ((*n).to_owned(), Ipv4Addr::from(*ip)))
            .collect::<IndexMap<_, _>>(),
        gateways: addrs
            .iter()
            .map(|(n, ip)| ((*n).to_owned(), Ipv4Addr::new(ip[0], ip[1], ip[2], 1)))
            .collect(),
        ports: Vec::new(),
        stale_helper: None,
        addresses6: IndexMap::new(),
        gateways6: IndexMap::new(),
    };
    let nodes = HashMap::from([
        (
            "web".to_owned(),
            node(&[("front", [10, 1, 0, 2]), ("back", [10, 2, 0, 2])], true),
        ),
        ("client".to_owned(), node(&[("front", [10, 1, 0, 3])], true)),
        (
            "outsider".to_owned(),
            node(&[("back2", [10, 3, 0, 2])], true),
        ),
        (
            "legacy".to_owned(),
            node(&[("bridge", [172, 17, 0, 2])], true),
        ),
        ("stopped".to_owned(), node(&[], false)),
    ]);
    LiveLab {
        lab,
        ca_pem: None,
        other_ca_pem: None,
        nodes,
        network_subnets: HashMap::new(),
        hosts: IndexMap::new(),
        subnets: vec![
            "10.1.0.0/24".parse().expect("net"),
            "10.2.0.0/24".parse().expect("net"),
            "10.3.0.0/24".parse().expect("net"),
        ],
        allow_external: false,
        agent_image: String::new(),
    }
}

pub(super) fn kind(yaml_check: &str) -> CheckKind {
    let text = format!(
        "networks:\n  front: {{}}\n  back: {{}}\n  back2: {{}}\nnodes:\n  web:\n    networks: [front, back]\n    serve: [tcp:7000]\n  client:\n    networks: [front]\n  outsider:\n    networks: [back2]\n  legacy:\n    network_mode: bridge\n  stopped:\n    networks: [front]\nchecks:\n  - {yaml_check}\n"
    );
    lab::load_source("t.yaml", text.as_bytes(), Some("t"))
        .expect("valid")
        .lab
        .checks
        .remove(0)
        .kind
}

pub(super) fn id(node: &str) -> Option<Identity> {
    Some(Identity {
        lab: "t".into(),
        node: node.into(),
        host: None,
    })
}

#[test]
fn target_prefers_a_shared_network_then_the_first() {
    let l = live();
    let t = |s: &str| lab::notation::parse_target(s).expect("target");
    assert_eq!(
        target::resolve(
            &l,
            &Source::Node("client".into()),
            &t("web:80"),
            IpFamily::V4
        ),
        Ok("10.1.0.2:80".parse().expect("addr"))
    );
    assert_eq!(
        target::resolve(
            &l,
            &Source::Node("outsider".into()),
            &t("web:80"),
            IpFamily::V4
        ),
        Ok("10.1.0.2:80".parse().expect("addr"))
    );
    assert_eq!(
        target::resolve(
            &l,
            &Source::Node("client".into()),
            &t("web@back:80"),
            IpFamily::V4
        ),
        Ok("10.2.0.2:80".parse().expect("addr"))
    );
    assert_eq!(
        target::resolve(&l, &Source::Host(None), &t("10.9.9.9:1"), IpFamily::V4),
        Ok("10.9.9.9:1".parse().expect("addr"))
    );
    assert!(
        target::resolve(&l, &Source::Host(None), &t("stopped:80"), IpFamily::V4)
            .expect_err("no address")
            .contains("has no IPv4 address")
    );
}

#[test]
fn tcp_open_needs_the_right_identity() {
    let l = live();
    let k = kind("tcp: { from: client, to: web:7000, expect: open }");
    let open = |identity| Observation::Tcp(TcpObservation::Open { identity });
    assert!(classify(&k, &open(id("web")), &l).passed);
    let wrong = classify(&k, &open(id("client")), &l);
    assert!(!wrong.passed);
    assert_eq!(
        wrong.observed,
        "open, answered by client of lab t; expected web of lab t"
    );
    assert!(
        !classify(&k, &open(None), &l).passed,
        "an open port without the agent greeting is not web"
    );
    assert!(!classify(&k, &Observation::Tcp(TcpObservation::Timeout), &l).passed);
}

#[test]
fn tcp_refused_and_blocked() {
    let l = live();
    let refused = kind("tcp: { from: client, to: web:7001, expect: refused }");
    assert!(classify(&refused, &Observation::Tcp(TcpObservation::Refused), &l).passed);
    assert!(!classify(&refused, &Observation::Tcp(TcpObservation::Timeout), &l).passed);
    let blocked = kind("tcp: { from: outsider, to: web:7000, expect: blocked }");
    assert!(classify(&blocked, &Observation::Tcp(TcpObservation::Timeout), &l).passed);
    assert!(
        classify(
            &blocked,
            &Observation::Tcp(TcpObservation::Unreachable {
                message: "no route".into()
            }),
            &l
        )
        .passed
    );
    assert!(!classify(&blocked, &Observation::Tcp(TcpObservation::Refused), &l).passed);
    let o = classify(
        &blocked,
        &Observation::Tcp(TcpObservation::Open {
            identity: id("web"),
        }),
        &l,
    );
    assert_eq!(
        (o.passed, o.observed.as_str()),
        (false, "open, answered by web of lab t")
    );
}

#[test]
fn dns_exact_set_is_the_addresses_on_shared_networks() {
    let l = live();
    let k = kind("dns: { from: client, name: web, expect: [web] }");
    let answers = |ips: &[[u8; 4]]| {
        dns_obs(DnsObservation::Answers {
            addresses: ips.iter().map(|i| Ipv4Addr::from(*i).into()).collect(),
        })
    };
    let ok = classify(&k, &answers(&[[10, 1, 0, 2]]), &l);
    assert!(ok.passed, "{}", ok.observed);
    assert_eq!(ok.observed, "resolved to 10.1.0.2 (web)");
    // web's back address is not reachable from client: it must not be answered.
    let extra = classify(&k, &answers(&[[10, 1, 0, 2], [10, 2, 0, 2]]), &l);
    assert!(!extra.passed);
    assert!(
        extra.observed.ends_with("expected 10.1.0.2 (web)"),
        "{}",
        extra.observed
    );
    assert!(!classify(&k, &dns_obs(DnsObservation::NxDomain), &l).passed);
}

#[test]
fn dns_answers_from_one_network_of_those_the_two_share() {
    // client and web share front and back: Docker's DNS answers web's
    // address on one of them (the first of client's networks), never both.
    let mut l = live();
    if let Some(client) = l.nodes.get_mut("client") {
        client
            .addresses
            .insert("back".to_owned(), Ipv4Addr::new(10, 2, 0, 3));
    }
    let k = kind("dns: { from: client, name: web, expect: [web] }");
    let answers = |ips: &[[u8; 4]]| {
        dns_obs(DnsObservation::Answers {
            addresses: ips.iter().map(|i| Ipv4Addr::from(*i).into()).collect(),
        })
    };
    for one in [[10, 1, 0, 2], [10, 2, 0, 2]] {
        let o = classify(&k, &answers(&[one]), &l);
        assert!(o.passed, "{}", o.observed);
    }
    let both = classify(&k, &answers(&[[10, 1, 0, 2], [10, 2, 0, 2]]), &l);
    assert!(!both.passed);
    assert!(
        both.observed
            .ends_with("expected 10.1.0.2 (web) on front or 10.2.0.2 (web) on back"),
        "{}",
        both.observed
    );
}

#[test]
fn a_named_node_the_source_cannot_be_answered_about_makes_the_list_false() {
    // outsider shares no network with client as they run (validation
    // refuses such a list from the file; a step can still make it so): the
    // list [web, outsider] cannot be Docker's answer, and web's address
    // alone must not pass.
    let l = live();
    let k = CheckKind::Dns {
        from: "client".into(),
        name: "web".into(),
        record: lab::RecordType::A,
        expect: lab::DnsExpect::Exactly(vec![
            lab::DnsAnswer::Node("web".into()),
            lab::DnsAnswer::Node("outsider".into()),
        ]),
    };
    let o = classify(
        &k,
        &dns_obs(DnsObservation::Answers {
            addresses: vec![Ipv4Addr::new(10, 1, 0, 2).into()],
        }),
        &l,
    );
    assert!(!o.passed, "{}", o.observed);
    assert!(
        o.observed.contains(
            "the named nodes do not all have an address of that family on one network with it"
        ),
        "{}",
        o.observed
    );
}

fn dns_obs(answer: DnsObservation) -> Observation {
    Observation::Dns(DnsReport {
        answer,
        control: Some(DnsObservation::Answers {
            addresses: vec![Ipv4Addr::new(10, 3, 0, 2).into()],
        }),
        resolvers: None,
    })
}

#[test]
fn dns_unresolved_accepts_every_answer_of_no_address_but_says_which() {
    let l = live();
    let k = kind("dns: { from: outsider, name: web, expect: unresolved }");
    for (obs, words) in [
        (DnsObservation::NxDomain, "unresolved: NXDOMAIN"),
        (
            DnsObservation::NoRecords,
            "unresolved: no records of that type",
        ),
        (
            DnsObservation::ServFail,
            "unresolved: SERVFAIL (the server could not answer)",
        ),
        (DnsObservation::Refused, "unresolved: REFUSED"),
        (
            DnsObservation::Timeout,
            "unresolved: no answer before the deadline (the resolver answered `outsider`, so it is alive and could not forward)",
        ),
    ] {
        let o = classify(&k, &dns_obs(obs), &l);
        assert!(o.passed, "{}", o.observed);
        assert_eq!(o.observed, words);
    }
    let resolved = dns_obs(DnsObservation::Answers {
        addresses: vec![Ipv4Addr::new(10, 1, 0, 2).into()],
    });
    assert!(!classify(&k, &resolved, &l).passed);
}

#[test]
fn silence_from_a_resolver_that_answers_nothing_is_inconclusive_never_unresolved() {
    let l = live();
    let k = kind("dns: { from: outsider, name: web, expect: unresolved }");
    let dead = |answer, control| {
        Observation::Dns(DnsReport {
            answer,
            control,
            resolvers: None,
        })
    };
    for obs in [
        dead(DnsObservation::Timeout, Some(DnsObservation::Timeout)),
        dead(DnsObservation::Timeout, None),
        // The node's own name must resolve on a user-defined network: an
        // NXDOMAIN for it is no proof of Docker's DNS.
        dead(DnsObservation::Timeout, Some(DnsObservation::NxDomain)),
        dead(
            DnsObservation::Error {
                message: "connection refused".into(),
            },
            Some(DnsObservation::Error {
                message: "connection refused".into(),
            }),
        ),
    ] {
        let o = classify(&k, &obs, &l);
        assert!(!o.passed, "{obs:?}");
        assert!(
            o.observed.starts_with("inconclusive: no resolver answered"),
            "{}",
            o.observed
        );
    }
    // A node on Docker's default bridge asks the host's resolver: any
    // answer to its control proves that resolver alive.
    let legacy = kind("dns: { from: legacy, name: web, expect: unresolved }");
    assert!(
        classify(
            &legacy,
            &dead(DnsObservation::Timeout, Some(DnsObservation::NxDomain)),
            &l
        )
        .passed
    );
}

#[test]
fn udp_open_and_blocked() {
    let l = live();
    let open = kind("udp: { from: client, to: web:7001, expect: open }");
    assert!(
        classify(
            &open,
            &Observation::Udp(UdpObservation::Answered {
                identity: Identity {
                    lab: "t".into(),
                    node: "web".into(),
                    host: None,
                }
            }),
            &l
        )
        .passed
    );
    assert!(!classify(&open, &Observation::Udp(UdpObservation::Timeout), &l).passed);
    let blocked = kind("udp: { from: outsider, to: web:7001, expect: blocked }");
    assert!(classify(&blocked, &Observation::Udp(UdpObservation::Timeout), &l).passed);
    assert!(
        !classify(&blocked, &Observation::Udp(UdpObservation::Refused), &l).passed,
        "a port-unreachable reply proves the host is reachable"
    );
}

#[test]
fn a_stopped_source_fails_without_probing_and_batches_group_by_source() {
    let mut l = live();
    l.lab.checks = vec![
        lab::Check {
            title: "a".into(),
            timeout: std::time::Duration::from_secs(1),
            retry: false,
            capture: false,
            family: None,
            requires: Default::default(),
            kind: kind("tcp: { from: client, to: web:7000, expect: open }"),
        },
        lab::Check {
            title: "b".into(),
            timeout: std::time::Duration::from_secs(3),
            retry: false,
            capture: false,
            family: None,
            requires: Default::default(),
            kind: kind("dns: { from: client, name: web, expect: resolves }"),
        },
        lab::Check {
            title: "c".into(),
            timeout: std::time::Duration::from_secs(1),
            retry: false,
            capture: false,
            family: None,
            requires: Default::default(),
            kind: kind("tcp: { from: stopped, to: web:7000, expect: open }"),
        },
        lab::Check {
            title: "d".into(),
            timeout: std::time::Duration::from_secs(1),
            retry: false,
            capture: false,
            family: None,
            requires: Default::default(),
            kind: kind("tcp: { from: host, to: web:7000, expect: open }"),
        },
    ];
    let steps = plan_steps(&l);
    assert_eq!(
        steps[2],
        Step::Done(Outcome::error(
            "node `stopped` is not running: exited (exit code 1)"
        ))
    );
    let b = batches(&steps);
    assert_eq!(b.len(), 2);
    assert_eq!(b[&Source::Node("client".into())].probes.len(), 2);
    assert_eq!(b[&Source::Host(None)].probes[0].id, 3);
    // From the host to a container: sent only where the host routes to it
    // itself (agent::host_route); from a node, nothing to ask.
    assert!(b[&Source::Host(None)].probes[0].host_to_container);
    assert!(
        b[&Source::Node("client".into())]
            .probes
            .iter()
            .all(|p| !p.host_to_container)
    );
    assert_eq!(
        batch_deadline(&b[&Source::Node("client".into())]),
        std::time::Duration::from_secs(13)
    );
}

pub(super) fn with_ports(mut l: LiveLab) -> LiveLab {
    use crate::live::PublishedPort;
    let web = l.nodes.get_mut("web").expect("web");
    web.ports = vec![
        PublishedPort {
            container_port: 7000,
            transport: lab::Transport::Tcp,
            host_ip: "0.0.0.0".parse().expect("ip"),
            host_port: 49153,
        },
        PublishedPort {
            container_port: 7000,
            transport: lab::Transport::Tcp,
            host_ip: "::".parse().expect("ip"),
            host_port: 49153,
        },
        PublishedPort {
            container_port: 53,
            transport: lab::Transport::Udp,
            host_ip: "127.0.0.1".parse().expect("ip"),
            host_port: 5353,
        },
    ];
    l
}

fn attempt(addr: &str, answer: PortAnswer) -> PortAttempt {
    PortAttempt {
        addr: addr.parse().expect("addr"),
        answer,
    }
}

#[test]
fn a_port_on_all_addresses_must_answer_on_loopback_and_an_external_address() {
    let mut l = with_ports(live());
    l.lab.checks = vec![lab::Check {
        title: "p".into(),
        timeout: std::time::Duration::from_secs(1),
        retry: false,
        capture: false,
        family: None,
        requires: Default::default(),
        kind: kind("port: { node: web, port: 7000, expect: published }"),
    }];
    let steps = plan_steps(&l);
    let Step::Probe {
        source,
        probe:
            Probe {
                kind:
                    ProbeKind::Published {
                        ip,
                        port,
                        also_external,
                        speak,
                        also,
                        ..
                    },
                ..
            },
    } = &steps[0]
    else {
        panic!("expected a port probe, got {steps:?}")
    };
    assert_eq!(source, &Source::Host(None));
    assert_eq!((ip.to_string().as_str(), *port), ("127.0.0.1", 49153));
    assert!(*also_external, "0.0.0.0 must be shown beyond loopback");
    assert_eq!(
        also,
        &vec!["[::1]:49153".parse::<std::net::SocketAddr>().expect("addr")],
        "the IPv6 binding is proven as well"
    );
    assert_eq!(speak, &Speak::Greeting);
    let k = &l.lab.checks[0].kind;
    let web = || PortAnswer::Answered {
        identity: Identity {
            lab: "t".into(),
            node: "web".into(),
            host: None,
        },
    };
    let ok = classify(
        k,
        &Observation::Published {
            attempts: vec![
                attempt("127.0.0.1:49153", web()),
                attempt("10.0.0.5:49153", web()),
                attempt("[::1]:49153", web()),
            ],
        },
        &l,
    );
    assert_eq!(
        (ok.passed, ok.observed.as_str()),
        (
            true,
            "published on 0.0.0.0:49153→7000/tcp and [::]:49153→7000/tcp, answered by web of lab t (also at 10.0.0.5:49153, [::1]:49153)"
        )
    );
    let v6_elsewhere = classify(
        k,
        &Observation::Published {
            attempts: vec![
                attempt("127.0.0.1:49153", web()),
                attempt("10.0.0.5:49153", web()),
                attempt(
                    "[::1]:49153",
                    PortAnswer::Nothing {
                        detail: "refused".into(),
                    },
                ),
            ],
        },
        &l,
    );
    assert!(!v6_elsewhere.passed, "{}", v6_elsewhere.observed);
    let loopback_only = classify(
        k,
        &Observation::Published {
            attempts: vec![
                attempt("127.0.0.1:49153", web()),
                attempt(
                    "10.0.0.5:49153",
                    PortAnswer::Nothing {
                        detail: "refused".into(),
                    },
                ),
            ],
        },
        &l,
    );
    assert!(!loopback_only.passed);
    assert!(
        loopback_only.observed.contains(
            "but from the host: 127.0.0.1:49153 answered by web of lab t; 10.0.0.5:49153 refused"
        ),
        "{}",
        loopback_only.observed
    );
    let stranger = classify(
        k,
        &Observation::Published {
            attempts: vec![attempt(
                "127.0.0.1:49153",
                PortAnswer::Anonymous {
                    detail: "open, but no agent greeting".into(),
                },
            )],
        },
        &l,
    );
    assert!(!stranger.passed);
}

#[test]
fn unpublished_is_probed_and_fails_when_the_node_answers_anyway() {
    let mut l = with_ports(live());
    let check = |y: &str| lab::Check {
        title: "p".into(),
        timeout: std::time::Duration::from_secs(1),
        retry: false,
        capture: false,
        family: None,
        requires: Default::default(),
        kind: kind(y),
    };
    l.lab.checks = vec![
        check("port: { node: web, port: 80, expect: unpublished }"),
        check("port: { node: web, port: 7000, expect: unpublished }"),
        check("port: { node: web, port: 7000, host_port: 1234, expect: published }"),
        check("port: { node: web, port: 53/udp, host_ip: 127.0.0.1, expect: published }"),
    ];
    let steps = plan_steps(&l);
    assert!(
        matches!(&steps[0], Step::Probe { probe: Probe { kind: ProbeKind::Published { ip, port: 80, also_external: false, .. }, .. }, .. } if ip.is_loopback()),
        "{steps:?}"
    );
    assert_eq!(
        steps[1],
        Step::Done(Outcome::fail("published on 0.0.0.0:49153→7000/tcp"))
    );
    assert_eq!(
        steps[2],
        Step::Done(Outcome::fail(
            "not published: the engine maps nothing for 7000/tcp on host port 1234"
        ))
    );
    assert!(
        matches!(&steps[3], Step::Probe { probe: Probe { kind: ProbeKind::Published { ip, port: 5353, transport: lab::Transport::Udp, also_external: false, .. }, .. }, .. } if ip.to_string() == "127.0.0.1")
    );
    let k = &l.lab.checks[0].kind;
    let refused = classify(
        k,
        &Observation::Published {
            attempts: vec![attempt(
                "127.0.0.1:80",
                PortAnswer::Nothing {
                    detail: "refused".into(),
                },
            )],
        },
        &l,
    );
    assert_eq!(
        (refused.passed, refused.observed.as_str()),
        (
            true,
            "unpublished: the engine maps nothing for 80/tcp, and from the host 127.0.0.1:80 refused"
        )
    );
    let answered = classify(
        k,
        &Observation::Published {
            attempts: vec![attempt(
                "127.0.0.1:80",
                PortAnswer::Answered {
                    identity: Identity {
                        lab: "t".into(),
                        node: "web".into(),
                        host: None,
                    },
                },
            )],
        },
        &l,
    );
    assert!(!answered.passed, "{}", answered.observed);
}

#[test]
fn a_host_mode_node_is_loopback_from_the_host_and_the_gateway_from_a_container() {
    let mut l = live();
    l.lab = lab::load_source("t.yaml", b"networks:\n  front: {}\nnodes:\n  h:\n    network_mode: host\n  client:\n    networks: [front]\n", Some("t")).expect("valid").lab;
    l.nodes.insert(
        "h".into(),
        LiveNode {
            host: "local".into(),
            probe_container: Some("h".into()),
            running: true,
            state: "running".into(),
            addresses: IndexMap::new(),
            gateways: IndexMap::new(),
            addresses6: IndexMap::new(),
            gateways6: IndexMap::new(),
            ports: Vec::new(),
            stale_helper: None,
        },
    );
    let t = lab::notation::parse_target("h:47801").expect("target");
    assert_eq!(
        target::resolve(&l, &Source::Host(None), &t, IpFamily::V4),
        Ok("127.0.0.1:47801".parse().expect("addr"))
    );
    assert_eq!(
        target::resolve(&l, &Source::Node("client".into()), &t, IpFamily::V4),
        Ok("10.1.0.1:47801".parse().expect("addr"))
    );
}

fn tls_obs(outcome: TlsOutcome) -> Observation {
    Observation::Tls(TlsObservation {
        outcome,
        connect_ms: Some(0.5),
        handshake_ms: Some(2.25),
        first_byte_ms: Some(1.0),
        version: Some("TLSv1_3".into()),
        cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
        subject: Some("CN=web, O=netlab".into()),
        close_notify: Some(true),
    })
}

#[test]
fn tls_outcomes_match_only_their_expectation_and_show_the_phases() {
    let l = live();
    let verified = kind("tls: { from: client, to: web:443, expect: verified }");
    let ok = classify(&verified, &tls_obs(TlsOutcome::Verified), &l);
    assert!(ok.passed);
    assert_eq!(
        ok.observed,
        "verified [CN=web, O=netlab]: TLSv1_3 TLS13_AES_256_GCM_SHA384; connect 0.5 ms, handshake 2.2 ms, first byte 1.0 ms; closed with close_notify"
    );
    let wrong = TlsOutcome::WrongName {
        reason: "not valid for db".into(),
    };
    assert!(!classify(&verified, &tls_obs(wrong.clone()), &l).passed);
    let expects_wrong = kind("tls: { from: client, to: web:443, name: db, expect: wrong-name }");
    assert!(classify(&expects_wrong, &tls_obs(wrong), &l).passed);
    assert!(!classify(&expects_wrong, &tls_obs(TlsOutcome::Refused), &l).passed);
    let no_tls = kind("tls: { from: client, to: web:7000, expect: no-tls }");
    assert!(
        classify(
            &no_tls,
            &tls_obs(TlsOutcome::NoTls {
                reason: "plain text".into()
            }),
            &l
        )
        .passed
    );
    assert!(
        !classify(&no_tls, &tls_obs(TlsOutcome::Timeout), &l).passed,
        "silence is not proof of no TLS"
    );
}

pub(super) fn hop(method: &str, url: &str, status: u16, body_sent: bool) -> HttpHop {
    HttpHop {
        url: url.into(),
        method: method.into(),
        body_sent,
        status,
        location: None,
        node: Some("web".into()),
        identity: Some(Identity {
            lab: "t".into(),
            node: "web".into(),
            host: None,
        }),
    }
}

#[test]
fn a_404_from_the_agent_points_at_its_paths() {
    let l = live();
    let k = kind("http: { from: client, url: \"http://web/\", expect: { status: 200 } }");
    let answered = |status: u16, by_agent: bool| {
        let mut h = hop("GET", "http://web/", status, false);
        if !by_agent {
            h.node = None;
            h.identity = None;
        }
        Observation::Http(HttpObservation {
            hops: vec![h],
            final_body: String::new(),
            error: None,
            note: None,
        })
    };
    let o = classify(&k, &answered(404, true), &l);
    assert!(!o.passed);
    assert!(
        o.observed.ends_with(
            "status 404 instead of 200, netlab's agent serves /whoami, /echo, /status/CODE, /redirect/CODE?to=URL, /session/login (POST), /session/whoami only (docs/agent.md)"
        ),
        "{}",
        o.observed
    );
    // Another server's 404 is its own business; a 200 passes.
    let foreign = classify(&k, &answered(404, false), &l);
    assert!(
        foreign.observed.ends_with("status 404 instead of 200"),
        "{}",
        foreign.observed
    );
    assert!(classify(&k, &answered(200, true), &l).passed);
}

#[test]
fn http_expectations_are_checked_one_by_one() {
    let l = live();
    let k = kind(
        "http: { from: client, url: \"http://web/redirect/303?to=/echo\", method: POST, body: order=1, expect: { redirects: [303], status: 200, final_method: GET, body_kept: false, from_node: web, final_url: /echo } }",
    );
    let obs = |final_method: &str, body: &str| {
        Observation::Http(HttpObservation {
            hops: vec![
                hop("POST", "http://web/redirect/303?to=/echo", 303, true),
                hop(final_method, "http://web/echo", 200, body == "order=1"),
            ],
            final_body: serde_json::json!({ "method": final_method, "body": body }).to_string(),
            error: None,
            note: None,
        })
    };
    let ok = classify(&k, &obs("GET", ""), &l);
    assert!(ok.passed, "{}", ok.observed);
    assert_eq!(
        ok.observed,
        "POST http://web/redirect/303?to=/echo → 303 (web) ⇒ GET http://web/echo → 200 (web)"
    );
    let kept = classify(&k, &obs("POST", "order=1"), &l);
    assert!(!kept.passed);
    assert!(
        kept.observed.ends_with(
            "final method POST instead of GET, body kept (the last answer saw \"order=1\")"
        ),
        "{}",
        kept.observed
    );
    let stopped = Observation::Http(HttpObservation {
        hops: vec![hop("GET", "http://web/a", 302, false)],
        final_body: String::new(),
        error: Some("stopped after 10 redirects (a redirect loop?)".into()),
        note: None,
    });
    let looped = classify(&k, &stopped, &l);
    assert!(!looped.passed);
    assert!(
        looped
            .observed
            .ends_with("; stopped after 10 redirects (a redirect loop?)"),
        "{}",
        looped.observed
    );
}

#[test]
fn a_matrix_probes_each_cell_and_reduces_each_answer_to_a_symbol() {
    let mut l = live();
    l.lab.checks = vec![lab::Check {
        title: "m".into(),
        timeout: std::time::Duration::from_secs(2),
        retry: false,
        capture: false,
        family: None,
        requires: Default::default(),
        kind: kind(
            "matrix: { port: 7000, expect: \"from\\\\to  web  client\\nclient   .    -\\noutsider x    r\\nstopped  .    .\\n\" }",
        ),
    }];
    let CheckKind::Matrix(m) = l.lab.checks[0].kind.clone() else {
        panic!("a matrix");
    };
    let steps = plan_steps(&l);
    let Step::Cells(cells) = &steps[0] else {
        panic!("cell steps: {steps:?}");
    };
    assert_eq!(cells.len(), 5, "`-` is not probed");
    let probes: Vec<(usize, String)> = cells
        .iter()
        .flat_map(Step::probes)
        .map(|(s, p)| (p.id, s.to_string()))
        .collect();
    assert_eq!(
        probes,
        [
            (0, "client".into()),
            (1, "outsider".into()),
            (2, "outsider".into())
        ]
    );
    assert!(
        matches!(&cells[3], Step::Done(o) if o.observed.contains("not running")),
        "a stopped source decides its row at once"
    );
    // outsider → web: web's first network, not shared.
    let Step::Probe { probe, .. } = &cells[1] else {
        panic!()
    };
    assert_eq!(
        probe.kind,
        ProbeKind::Tcp {
            addr: "10.1.0.2:7000".parse().expect("addr"),
            speak: Speak::Greeting,
            by_name: None,
        }
    );
    let cell = |i: usize| &m.cells[i];
    let open = |node: &str| Observation::Tcp(TcpObservation::Open { identity: id(node) });
    let judge = |i: usize, obs: &Observation| matrix::classify_cell(&l, &m, cell(i), obs);
    assert_eq!(judge(0, &open("web")).observed, '.');
    assert!(judge(0, &open("web")).passed);
    let stranger = judge(0, &open("client"));
    assert_eq!(
        (stranger.observed, stranger.passed),
        ('?', false),
        "{}",
        stranger.reason
    );
    let blocked = judge(1, &Observation::Tcp(TcpObservation::Timeout));
    assert_eq!((blocked.observed, blocked.passed), ('x', true));
    let refused = judge(2, &Observation::Tcp(TcpObservation::Refused));
    assert_eq!((refused.observed, refused.passed), ('r', true));
    let open_not_refused = judge(2, &open("client"));
    assert!(!open_not_refused.passed);
    assert_eq!(
        matrix::summary([true, false, true].into_iter()).observed,
        "2/3 cells as expected"
    );
}

#[test]
fn a_node_sharing_no_network_is_aimed_at_by_its_bridge_address_and_never_across_hosts() {
    let mut l = live();
    l.lab = lab::load_source(
        "t.yaml",
        b"networks:\n  ov: { driver: overlay }\n  lan: {}\n  side: {}\nnodes:\n  db:\n    networks: [ov, lan]\n  edge:\n    networks: [side]\n",
        Some("t"),
    )
    .expect("valid")
    .lab;
    let node = |addrs: &[(&str, [u8; 4])]| LiveNode {
        host: "local".into(),
        probe_container: Some("id".into()),
        running: true,
        state: "running".into(),
        addresses: addrs
            .iter()
            .map(|(n, ip)| ((*n).to_owned(), Ipv4Addr::from(*ip)))
            .collect(),
        gateways: IndexMap::new(),
        ports: Vec::new(),
        stale_helper: None,
        addresses6: IndexMap::new(),
        gateways6: IndexMap::new(),
    };
    l.nodes = HashMap::from([
        (
            "db".to_owned(),
            node(&[("ov", [10, 0, 1, 4]), ("lan", [172, 30, 0, 2])]),
        ),
        ("edge".to_owned(), node(&[("side", [172, 31, 0, 2])])),
    ]);
    let t = lab::notation::parse_target("db:7000").expect("target");
    assert_eq!(
        target::resolve(&l, &Source::Node("edge".into()), &t, IpFamily::V4),
        Ok("172.30.0.2:7000".parse().expect("addr")),
        "an overlay address would leave the host by its default route"
    );
    let on_overlay = lab::notation::parse_target("db@ov:7000").expect("target");
    let refused = target::resolve(&l, &Source::Node("edge".into()), &on_overlay, IpFamily::V4)
        .expect_err("an overlay edge is not on is routed by no host");
    assert!(
        refused.contains("an overlay network is routed by no host"),
        "{refused}"
    );
    // On another host, no address of db is on a path edge has: its bridge
    // address could be a node of edge's own host, its overlay address is
    // routed by no host and would leave by the default route.
    for (name, host) in [("db", "west"), ("edge", "east")] {
        if let Some(n) = l.nodes.get_mut(name) {
            n.host = host.into();
        }
    }
    l.lab.hosts = vec!["east".into(), "west".into()];
    for (name, host) in [("db", "west"), ("edge", "east")] {
        if let Some(n) = l.lab.nodes.get_mut(name) {
            n.host = host.into();
        }
    }
    l.hosts = [("east", "engine-1"), ("west", "engine-2")]
        .into_iter()
        .map(|(h, e)| {
            (
                h.to_owned(),
                crate::live::LiveHost {
                    helper: None,
                    engine: e.into(),
                    facts: Default::default(),
                },
            )
        })
        .collect();
    let refused =
        target::resolve(&l, &Source::Node("edge".into()), &t, IpFamily::V4).expect_err("refused");
    assert!(
        refused.starts_with("`db` cannot be aimed at from edge: edge runs on host east and db on host west, and they share no network"),
        "{refused}"
    );
    assert!(
        refused.contains("expect `unresolved` from a dns check"),
        "{refused}"
    );
}

#[test]
fn a_check_between_two_hosts_on_one_engine_is_skipped_with_the_reason() {
    use crate::live::{LiveHost, PublishedPort};
    let lab = lab::load_source(
        "t.yaml",
        b"hosts: [east, west]\nnetworks:\n  ov: { driver: overlay }\nnodes:\n  web: { host: east, networks: [ov], ports: [\"127.0.0.1:27380:80\"], serve: [http:80] }\n  db: { host: west, networks: [ov] }\nchecks:\n  - tcp: { from: host@west, to: \"127.0.0.1:27380\", expect: refused }\n  - tcp: { from: host@east, to: \"127.0.0.1:27380\", expect: open }\n",
        Some("t"),
    )
    .expect("valid")
    .lab;
    let node = |host: &str, ip: [u8; 4], ports: Vec<PublishedPort>| LiveNode {
        host: host.into(),
        probe_container: Some("id".into()),
        running: true,
        state: "running".into(),
        addresses: IndexMap::from([("ov".to_owned(), Ipv4Addr::from(ip))]),
        gateways: IndexMap::new(),
        ports,
        stale_helper: None,
        addresses6: IndexMap::new(),
        gateways6: IndexMap::new(),
    };
    let published = PublishedPort {
        container_port: 80,
        transport: lab::Transport::Tcp,
        host_ip: "127.0.0.1".parse().expect("ip"),
        host_port: 27380,
    };
    let host = |engine: &str| LiveHost {
        helper: Some("helper".into()),
        engine: engine.into(),
        ..LiveHost::default()
    };
    let mut l = LiveLab {
        lab,
        ca_pem: None,
        other_ca_pem: None,
        nodes: HashMap::from([
            (
                "web".to_owned(),
                node("east", [10, 0, 1, 4], vec![published]),
            ),
            ("db".to_owned(), node("west", [10, 0, 1, 2], Vec::new())),
        ]),
        network_subnets: HashMap::new(),
        hosts: IndexMap::from([
            ("east".to_owned(), host("one")),
            ("west".to_owned(), host("one")),
        ]),
        subnets: vec!["10.0.1.0/24".parse().expect("net")],
        allow_external: false,
        agent_image: String::new(),
    };
    let skipped =
        |l: &LiveLab, i: usize| identity::one_engine_for_two_hosts(l, &l.lab.checks[i].kind);
    let why = skipped(&l, 0).expect("west's loopback is east's on one engine");
    assert!(
        why.starts_with("hosts west and east are one engine here: 127.0.0.1:27380 on west's own stack is web's (on east)"),
        "{why}"
    );
    // East's own port, from east: a check like any other.
    assert_eq!(skipped(&l, 1), None);
    // On two engines, west's stack has nothing of east's: checked, not skipped.
    l.hosts.insert("west".to_owned(), host("two"));
    assert_eq!(skipped(&l, 0), None);
}

/// An alias two nodes carry on `front`: a probe from a node there may be
/// answered by either, and by nobody else.
#[test]
fn an_alias_target_is_answered_by_one_of_its_carriers() {
    let yaml = "networks:\n  front: {}\n  back: {}\n  back2: {}\nnodes:\n  web:\n    networks:\n      front: { aliases: [api] }\n      back: {}\n    serve: [tcp:7000]\n  client:\n    networks:\n      front: { aliases: [api] }\n  outsider:\n    networks: [back2]\n  legacy:\n    network_mode: bridge\n  stopped:\n    networks: [front]\nchecks:\n  - tcp: { from: client, to: api:7000, expect: open }\n";
    let mut lab = lab::load_source("t.yaml", yaml.as_bytes(), Some("t"))
        .expect("valid")
        .lab;
    let k = lab.checks.remove(0).kind;
    let l = LiveLab { lab, ..live() };
    let open = |identity| Observation::Tcp(TcpObservation::Open { identity });
    assert!(classify(&k, &open(id("web")), &l).passed);
    assert!(classify(&k, &open(id("client")), &l).passed);
    let wrong = classify(&k, &open(id("outsider")), &l);
    assert!(!wrong.passed);
    assert_eq!(
        wrong.observed,
        "open, answered by outsider of lab t; expected one of web of lab t, client of lab t"
    );
    // A name that did not resolve from the source: nothing reaches it by
    // that name, which is what `blocked` says.
    let unresolved = Observation::Tcp(TcpObservation::Unreachable {
        message: "`api` did not resolve: NxDomain".into(),
    });
    assert!(!classify(&k, &unresolved, &l).passed);
    // The probe resolves the name itself: only the family and port are
    // known here.
    let CheckKind::Tcp { from, to, .. } = &k else {
        panic!("tcp")
    };
    assert_eq!(
        target::resolve(&l, from, to, IpFamily::V4).expect("aim"),
        "0.0.0.0:7000".parse().expect("addr")
    );
    // And aims only at an answer that is one of the lab's containers.
    let by = by_name(&l, to).expect("by name");
    assert_eq!(by.name, "api");
    assert!(by.within.contains(&"10.1.0.2/32".parse().expect("net")));
    assert!(!by.within.contains(&"10.1.0.0/24".parse().expect("net")));
}

#[test]
fn only_a_hosts_probe_to_a_container_asks_the_hosts_route() {
    let l = live();
    let web = std::net::IpAddr::V4(l.nodes["web"].addresses["front"]);
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    assert!(host_to_container(&l, &Source::Host(None), web));
    assert!(!host_to_container(&l, &Source::Host(None), loopback));
    assert!(!host_to_container(&l, &Source::Node("client".into()), web));
}
