//! No PASS without evidence, pinned without Docker: who answered at a
//! published port, what an all-address binding covers, what a proxy's
//! hang-up proves, whose identity an HTTP answer carries, which requests of
//! a redirect chain crossed the wire readable (and only from a whole
//! recording), what silence from a resolver proves, and which failures are
//! errors rather than verdicts.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::tests::{hop, id, kind, live, with_ports};
use super::*;
use crate::agent::protocol::*;
use crate::capture::{Capture, CapturedPacket};
use crate::lab;

fn tcp_open(identity: Option<Identity>) -> Observation {
    Observation::Tcp(TcpObservation::Open { identity })
}

#[test]
fn open_at_a_published_port_needs_the_greeting_of_the_node_behind_it() {
    let l = with_ports(live());
    let k = kind("tcp: { from: host, to: \"127.0.0.1:49153\", expect: open }");
    assert!(classify(&k, &tcp_open(id("web")), &l).passed);
    // docker-proxy accepts for a port nobody serves inside: no greeting.
    let proxy = classify(&k, &tcp_open(None), &l);
    assert!(!proxy.passed);
    assert_eq!(
        proxy.observed,
        "open, no agent greeting; expected web of lab t"
    );
    let other = classify(&k, &tcp_open(id("client")), &l);
    assert!(!other.passed, "{}", other.observed);
    // `accepts` says only that a handshake completed, and says so.
    let accepts = kind("tcp: { from: host, to: \"127.0.0.1:49153\", expect: accepts }");
    let o = classify(&accepts, &tcp_open(None), &l);
    assert!(o.passed);
    assert!(o.observed.starts_with("accepted: a TCP handshake completed (no agent greeting; a handshake says nothing about who"), "{}", o.observed);
    assert!(!classify(&accepts, &Observation::Tcp(TcpObservation::Refused), &l).passed);
    assert!(!classify(&accepts, &Observation::Tcp(TcpObservation::Timeout), &l).passed);
}

#[test]
fn open_where_the_lab_knows_nothing_needs_a_greeting_of_the_lab() {
    let l = live();
    let k = kind("tcp: { from: host, to: \"127.0.0.1:40000\", expect: open }");
    let anonymous = classify(&k, &tcp_open(None), &l);
    assert!(!anonymous.passed);
    assert!(
        anonymous
            .observed
            .contains("nothing of lab t is known at 127.0.0.1:40000, so an answer there proves nobody of it answered; expect `accepts`"),
        "{}",
        anonymous.observed
    );
    assert!(classify(&k, &tcp_open(id("web")), &l).passed);
    let stranger = Identity {
        lab: "another".into(),
        node: "web".into(),
        host: None,
    };
    assert!(!classify(&k, &tcp_open(Some(stranger)), &l).passed);
}

#[test]
fn an_all_address_binding_covers_every_address_of_its_family() {
    let l = with_ports(live());
    let at = |check: &str| {
        let mut l = l.clone();
        l.lab.checks = vec![lab::Check {
            title: "p".into(),
            timeout: Duration::from_secs(1),
            retry: false,
            capture: false,
            family: None,
            requires: Default::default(),
            kind: kind(check),
        }];
        plan_steps(&l).remove(0)
    };
    // 7000 is published on 0.0.0.0:49153: that covers 127.0.0.1.
    match at("port: { node: web, port: 7000, host_ip: 127.0.0.1, expect: unpublished }") {
        Step::Done(o) => {
            assert!(!o.passed && !o.error);
            assert_eq!(
                o.observed,
                "published on 0.0.0.0:49153→7000/tcp, which listens on every address, 127.0.0.1 included"
            );
        }
        other => panic!("expected a verdict without a probe, got {other:?}"),
    }
    match at("port: { node: web, port: 7000, host_ip: 127.0.0.1, expect: published }") {
        Step::Probe {
            probe:
                Probe {
                    kind:
                        ProbeKind::Published {
                            ip,
                            port,
                            also_external,
                            ..
                        },
                    ..
                },
            ..
        } => {
            assert_eq!((ip.to_string(), port), ("127.0.0.1".into(), 49153));
            assert!(!also_external, "the check names its address");
        }
        other => panic!("expected a probe of the bound host port, got {other:?}"),
    }
    // A binding to 127.0.0.1 does not cover another address.
    assert!(matches!(
        at("port: { node: web, port: 53/udp, host_ip: 10.9.9.9, expect: published }"),
        Step::Done(o) if !o.passed && o.observed.starts_with("not published")
    ));
}

#[test]
fn a_hang_up_is_no_evidence_of_no_tls() {
    let l = live();
    let no_tls = kind("tls: { from: client, to: web:7000, expect: no-tls }");
    let closed = Observation::Tls(TlsObservation {
        connect_ms: Some(0.1),
        ..TlsObservation::only(TlsOutcome::Closed {
            reason: "the server hung up during the handshake (unexpected end of file)".into(),
        })
    });
    let o = classify(&no_tls, &closed, &l);
    assert!(!o.passed);
    assert!(
        o.observed.contains("says nothing about TLS"),
        "{}",
        o.observed
    );
}

#[test]
fn from_node_is_the_whole_identity_lab_and_host_included() {
    let l = live();
    let k = kind("http: { from: client, url: \"http://web/whoami\", expect: { from_node: web } }");
    let answered_by = |identity: Option<Identity>| {
        let mut h = hop("GET", "http://web/whoami", 200, false);
        h.identity = identity;
        Observation::Http(HttpObservation {
            hops: vec![h],
            final_body: "{}".into(),
            error: None,
            note: None,
        })
    };
    assert!(classify(&k, &answered_by(id("web")), &l).passed);
    let impostor = Identity {
        lab: "another-lab".into(),
        node: "web".into(),
        host: None,
    };
    let o = classify(&k, &answered_by(Some(impostor)), &l);
    assert!(!o.passed);
    assert!(
        o.observed
            .ends_with("answered by web of lab another-lab instead of web of lab t"),
        "{}",
        o.observed
    );
    let on_another_host = Identity {
        lab: "t".into(),
        node: "web".into(),
        host: Some("west".into()),
    };
    assert!(!classify(&k, &answered_by(Some(on_another_host)), &l).passed);
    assert!(!classify(&k, &answered_by(None), &l).passed);
}

/// A client's side of one TCP connection, as recorded: SYN, a request, FIN.
fn connection(port: u16, request: &[u8], with_fin: bool) -> Vec<CapturedPacket> {
    let packet = |seq: u32, flags: &str, payload: &[u8]| {
        let b = etherparse::PacketBuilder::ipv4([10, 1, 0, 3], [10, 1, 0, 2], 64)
            .tcp(port, 80, seq, 64_000);
        let b = match flags {
            "S" => b.syn(),
            "F" => b.fin().ack(1),
            _ => b.psh().ack(1),
        };
        let mut bytes = Vec::new();
        b.write(&mut bytes, payload).expect("packet");
        CapturedPacket {
            offset: Duration::from_millis(u64::from(seq % 1000)),
            outgoing: true,
            bytes,
        }
    };
    let mut out = vec![packet(1000, "S", b""), packet(1001, "P", request)];
    if with_fin {
        out.push(packet(1001 + request.len() as u32, "F", b""));
    }
    out
}

fn recorded(packets: Vec<CapturedPacket>) -> Option<CaptureResult> {
    Some(CaptureResult::Recorded {
        capture: Capture {
            started_at: std::time::UNIX_EPOCH,
            packets,
            over_cap: 0,
            cut: 0,
            kernel_drops: 0,
            seen: 0,
            kernel_timestamps: true,
        },
    })
}

fn two_hops() -> Observation {
    Observation::Http(HttpObservation {
        hops: vec![
            hop(
                "GET",
                "https://web/redirect/302?to=http://web/echo",
                302,
                false,
            ),
            hop("GET", "http://web/echo", 200, false),
        ],
        final_body: "{}".into(),
        error: None,
        note: None,
    })
}

#[test]
fn plaintext_is_judged_on_every_hop_of_a_redirect() {
    let l = live();
    let k = kind(
        "http: { from: client, url: \"https://web/redirect/302?to=http://web/echo\", expect: { plaintext: false } }",
    );
    // The first hop went out encrypted, the second in clear.
    let mut packets = connection(40001, &[0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5], true);
    packets.extend(connection(
        40002,
        b"GET /echo HTTP/1.1\r\nhost: web\r\n\r\n",
        true,
    ));
    let result = ProbeResult {
        id: 0,
        observation: two_hops(),
        elapsed_ms: 1.0,
        capture: recorded(packets),
    };
    let o = judge(&k, &result, &l);
    assert!(!o.passed, "{}", o.observed);
    assert!(
        o.observed
            .contains("`GET /echo HTTP/1.1` crossed the wire readable"),
        "{}",
        o.observed
    );
    let both_true = kind(
        "http: { from: client, url: \"https://web/redirect/302?to=http://web/echo\", expect: { plaintext: true } }",
    );
    let o = judge(&both_true, &result, &l);
    assert!(!o.passed, "the first hop was not readable: {}", o.observed);
}

#[test]
fn not_seen_counts_only_from_a_whole_recording() {
    let l = live();
    let k = kind(
        "http: { from: client, url: \"https://web/redirect/302?to=http://web/echo\", expect: { plaintext: false } }",
    );
    let encrypted = |port| connection(port, &[0x17, 3, 3, 0, 2, 9, 9], true);
    let mut whole = encrypted(40001);
    whole.extend(encrypted(40002));
    let result = |capture| ProbeResult {
        id: 0,
        observation: two_hops(),
        elapsed_ms: 1.0,
        capture,
    };
    let o = judge(&k, &result(recorded(whole.clone())), &l);
    assert!(o.passed, "{}", o.observed);
    assert!(
        o.observed
            .contains("every byte the client sent was recorded: 2 connections, SYN to FIN"),
        "{}",
        o.observed
    );
    // The second connection's FIN was not recorded: its bytes may not all be.
    let mut cut_short = encrypted(40001);
    cut_short.extend(connection(40002, &[0x17, 3, 3, 0, 2, 9, 9], false));
    let o = judge(&k, &result(recorded(cut_short)), &l);
    assert!(!o.passed);
    assert!(o.observed.contains("inconclusive"), "{}", o.observed);
    // A hole in the middle: the request segment is missing.
    let mut holed = encrypted(40001);
    let mut second = encrypted(40002);
    second.remove(1);
    holed.extend(second);
    let o = judge(&k, &result(recorded(holed)), &l);
    assert!(o.observed.contains("inconclusive"), "{}", o.observed);
    // The kernel dropped packets: nothing can be said of an absence.
    let mut dropped = recorded(whole.clone());
    if let Some(CaptureResult::Recorded { capture }) = &mut dropped {
        capture.kernel_drops = 3;
    }
    let o = judge(&k, &result(dropped), &l);
    assert!(
        !o.passed && o.observed.contains("the kernel dropped 3 packets"),
        "{}",
        o.observed
    );
    // Nothing recorded at all: not a verdict on the network.
    let unavailable = judge(
        &k,
        &result(Some(CaptureResult::Unavailable {
            reason: "no CAP_NET_RAW".into(),
        })),
        &l,
    );
    assert!(unavailable.error, "{}", unavailable.observed);
}

fn dns_report(answer: DnsObservation, resolvers: Option<Vec<ResolverReach>>) -> Observation {
    Observation::Dns(DnsReport {
        answer,
        control: Some(DnsObservation::Timeout),
        resolvers,
    })
}

fn reach(server: [u8; 4], reach: Reach) -> ResolverReach {
    ResolverReach {
        server: Ipv4Addr::from(server).into(),
        reach,
    }
}

#[test]
fn no_reachable_resolver_is_evidence_a_silent_one_is_not() {
    let l = live();
    let k = kind("dns: { from: legacy, name: web, expect: unresolved }");
    let unreachable = Reach::Unreachable {
        message: "Network is unreachable (os error 101)".into(),
    };
    let o = classify(
        &k,
        &dns_report(
            DnsObservation::Timeout,
            Some(vec![
                reach([192, 0, 2, 53], unreachable.clone()),
                reach([10, 0, 0, 2], Reach::Refused),
            ]),
        ),
        &l,
    );
    assert!(o.passed, "{}", o.observed);
    assert_eq!(
        o.observed,
        "unresolved: no resolver reachable from this node (192.0.2.53: unreachable (Network is unreachable (os error 101)); 10.0.0.2: refused (nothing listens on port 53)); Docker's embedded DNS (127.0.0.11) is not on this node's network"
    );
    let none = classify(
        &k,
        &dns_report(
            DnsObservation::Unavailable {
                message: "cannot parse /etc/resolv.conf: no nameservers found in config".into(),
            },
            Some(Vec::new()),
        ),
        &l,
    );
    assert!(none.passed, "{}", none.observed);
    assert_eq!(
        none.observed,
        "unresolved: no resolver: the node's resolv.conf names no name server"
    );
    // One resolver silent: it may just be slow. No evidence.
    let silent = classify(
        &k,
        &dns_report(
            DnsObservation::Timeout,
            Some(vec![
                reach([192, 0, 2, 53], unreachable),
                reach([10, 0, 0, 2], Reach::Silent),
            ]),
        ),
        &l,
    );
    assert!(!silent.passed && !silent.error);
    assert!(
        silent
            .observed
            .starts_with("inconclusive: no resolver answered"),
        "{}",
        silent.observed
    );
    // The embedded DNS itself silent: inconclusive as well.
    let embedded = kind("dns: { from: outsider, name: web, expect: unresolved }");
    let o = classify(
        &embedded,
        &dns_report(
            DnsObservation::Timeout,
            Some(vec![reach([127, 0, 0, 11], Reach::Silent)]),
        ),
        &l,
    );
    assert!(o.observed.starts_with("inconclusive"), "{}", o.observed);
    // No resolv.conf to read: the probe could not look.
    let o = classify(
        &k,
        &dns_report(
            DnsObservation::Unavailable {
                message: "cannot read /etc/resolv.conf: No such file or directory".into(),
            },
            None,
        ),
        &l,
    );
    assert!(o.error, "{}", o.observed);
    // Evidence of no resolver fails a positive expectation.
    let resolves = kind("dns: { from: legacy, name: web, expect: resolves }");
    assert!(
        !classify(
            &resolves,
            &dns_report(DnsObservation::Timeout, Some(Vec::new())),
            &l
        )
        .passed
    );
}

#[test]
fn failures_of_the_probe_itself_are_errors_not_verdicts() {
    let l = live();
    let tcp = kind("tcp: { from: client, to: web:7000, expect: blocked }");
    let o = classify(
        &tcp,
        &Observation::Tcp(TcpObservation::Error {
            message: "Address family not supported".into(),
        }),
        &l,
    );
    assert!(o.error && !o.passed, "{o:?}");
    let udp = kind("udp: { from: client, to: web:7001, expect: blocked }");
    assert!(
        classify(
            &udp,
            &Observation::Udp(UdpObservation::Error {
                message: "cannot bind: Permission denied".into()
            }),
            &l
        )
        .error
    );
    let mtu = kind("mtu: { node: client, network: front, to: web, expect: 1500 }");
    assert!(
        classify(
            &mtu,
            &Observation::PathMtu(PathMtuObservation::Unavailable {
                message: "cannot send ICMP echo".into()
            }),
            &l
        )
        .error
    );
    assert!(
        !classify(
            &mtu,
            &Observation::PathMtu(PathMtuObservation::Failed {
                message: "10.1.0.2 did not answer".into()
            }),
            &l
        )
        .error,
        "a target that does not answer is an observation"
    );
}

#[test]
fn a_batch_waits_for_its_recorded_probes_one_after_another() {
    let probe = |id: usize, capture: bool| Probe {
        id,
        timeout_ms: 2000,
        capture,
        host_to_container: false,
        kind: ProbeKind::Tcp {
            addr: "10.1.0.2:7000".parse().expect("addr"),
            speak: Speak::Greeting,
            by_name: None,
        },
    };
    let batch = ProbeBatch {
        probes: (0..6)
            .map(|i| probe(i, true))
            .chain([probe(6, false)])
            .collect(),
    };
    // Six recordings of 2 s each (plus their linger), one at a time.
    assert_eq!(batch_deadline(&batch), Duration::from_secs(6 * 3 + 10));
    let plain = ProbeBatch {
        probes: (0..6).map(|i| probe(i, false)).collect(),
    };
    assert_eq!(batch_deadline(&plain), Duration::from_secs(12));
}

#[test]
fn targets_outside_the_lab_are_refused_before_any_packet() {
    let mut l = with_ports(live());
    let with = |l: &mut crate::live::LiveLab, check: &str| {
        l.lab.checks = vec![lab::Check {
            title: "c".into(),
            timeout: Duration::from_secs(1),
            retry: false,
            capture: false,
            family: None,
            requires: Default::default(),
            kind: kind(check),
        }];
    };
    // Docker picked 10.1.0.0/24: inside. 172.30.9.9 is in no subnet.
    with(
        &mut l,
        "tcp: { from: client, to: \"10.1.0.200:7000\", expect: blocked }",
    );
    assert!(reach::refusals(&l, &Default::default()).is_empty());
    with(
        &mut l,
        "tcp: { from: client, to: \"172.30.9.9:7000\", expect: blocked }",
    );
    assert_eq!(reach::hosts_to_ask(&l), ["local"]);
    let hosts = std::collections::HashMap::from([(
        "local".to_owned(),
        vec!["192.168.5.20".parse().expect("ip")],
    )]);
    let refused = reach::refusals(&l, &hosts);
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0].why,
        "172.30.9.9 is not an address of the lab: not loopback, not a container or subnet of the lab, not an address of host local"
    );
    // The host's own address with a port the lab publishes there: inside.
    with(
        &mut l,
        "tcp: { from: host, to: \"192.168.5.20:49153\", expect: open }",
    );
    assert!(reach::refusals(&l, &hosts).is_empty());
    with(
        &mut l,
        "tcp: { from: host, to: \"192.168.5.20:22\", expect: refused }",
    );
    assert_eq!(
        reach::refusals(&l, &hosts)[0].why,
        "192.168.5.20 is an address of host local, but the lab publishes nothing on 22/tcp there"
    );
    // Redirects are bounded for nodes too.
    let only = reach::follow_only(&l, &lab::Source::Node("client".into()));
    assert!(only.allows(&url::Url::parse("http://web/echo").expect("url")));
    assert!(only.allows(&url::Url::parse("http://10.1.0.77/").expect("url")));
    assert!(!only.allows(&url::Url::parse("http://example.com/").expect("url")));
    assert!(!only.allows(&url::Url::parse("http://169.254.169.254/").expect("url")));
    let from_host = reach::follow_only(&l, &lab::Source::Host(None));
    assert!(
        !from_host.allows(&url::Url::parse("http://web/").expect("url")),
        "the host resolves names outside the lab"
    );
}
