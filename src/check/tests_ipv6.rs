//! Unit tests of checks in both families: which address each family
//! aims at, the probes a `family:` asks for, how the families' verdicts
//! make one, AAAA answers, `requires:` and the bindings of a port.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use indexmap::IndexMap;

use super::*;
use crate::agent::protocol::*;
use crate::lab::requires::EngineFacts;
use crate::lab::{self, IpFamily};
use crate::live::{LiveHost, LiveLab, LiveNode, PublishedPort};

/// web and client share `front` (dual-stack); six is on `only6` (IPv6
/// only); old is on `plain` (IPv4 only); h runs in host mode.
const LAB: &str = "networks:\n  front: { ipv6: true }\n  only6: { ipv6: true, ipv4: false }\n  plain: {}\nnodes:\n  web:\n    networks: [front]\n    serve: [tcp:7000]\n    ports: [\"47603:7000\"]\n  client:\n    networks: [front, only6]\n  six:\n    networks: [only6]\n    serve: [tcp:7000]\n  old:\n    networks: [plain]\n  h:\n    network_mode: host\n    serve: [tcp:7100]\n";

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, 0, last)
}

fn v6(last: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfd0e, 0x1ab, 0x77, 0, 0, 0, 0, last)
}

fn node(v4s: &[(&str, Ipv4Addr)], v6s: &[(&str, Ipv6Addr)]) -> LiveNode {
    LiveNode {
        host: "local".into(),
        probe_container: Some("id".into()),
        running: true,
        state: "running".into(),
        addresses: v4s.iter().map(|(n, ip)| ((*n).to_owned(), *ip)).collect(),
        gateways: v4s.iter().map(|(n, _)| ((*n).to_owned(), v4(1))).collect(),
        addresses6: v6s.iter().map(|(n, ip)| ((*n).to_owned(), *ip)).collect(),
        gateways6: v6s.iter().map(|(n, _)| ((*n).to_owned(), v6(1))).collect(),
        ports: Vec::new(),
        stale_helper: None,
    }
}

fn live_with(checks: &str, version: &str) -> LiveLab {
    let text = if checks.is_empty() {
        LAB.to_owned()
    } else {
        format!("{LAB}checks:\n{checks}")
    };
    let lab = lab::load_source("t.yaml", text.as_bytes(), Some("t"))
        .expect("valid")
        .lab;
    let mut web = node(&[("front", v4(2))], &[("front", v6(2))]);
    web.ports = vec![
        PublishedPort {
            container_port: 7000,
            transport: lab::Transport::Tcp,
            host_ip: "0.0.0.0".parse().expect("ip"),
            host_port: 47603,
        },
        PublishedPort {
            container_port: 7000,
            transport: lab::Transport::Tcp,
            host_ip: "::".parse().expect("ip"),
            host_port: 47604,
        },
    ];
    let nodes = HashMap::from([
        ("web".to_owned(), web),
        (
            "client".to_owned(),
            node(
                &[("front", v4(3))],
                &[("front", v6(3)), ("only6", v6(0x103))],
            ),
        ),
        ("six".to_owned(), node(&[], &[("only6", v6(0x104))])),
        (
            "old".to_owned(),
            node(&[("plain", Ipv4Addr::new(10, 2, 0, 2))], &[]),
        ),
        ("h".to_owned(), node(&[], &[])),
    ]);
    LiveLab {
        lab,
        ca_pem: None,
        other_ca_pem: None,
        nodes,
        network_subnets: HashMap::new(),
        hosts: IndexMap::from([(
            "local".to_owned(),
            LiveHost {
                helper: Some("helper".into()),
                engine: "e".into(),
                facts: EngineFacts::of_version(version),
            },
        )]),
        subnets: vec![
            "10.1.0.0/24".parse().expect("net"),
            "fd0e:1ab:77::/64".parse().expect("net"),
        ],
        allow_external: false,
        agent_image: String::new(),
    }
}

fn addr_of(step: &Step) -> String {
    match step {
        Step::Probe {
            probe:
                Probe {
                    kind: ProbeKind::Tcp { addr, .. } | ProbeKind::Udp { addr, .. },
                    ..
                },
            ..
        } => addr.to_string(),
        other => panic!("not a tcp/udp probe: {other:?}"),
    }
}

#[test]
fn each_family_aims_at_that_familys_address() {
    let l = live_with("", "28.5.2");
    let t = |s: &str| lab::notation::parse_target(s).expect("target");
    let client = Source::Node("client".into());
    let at = |to: &str, f: IpFamily| target::resolve(&l, &client, &t(to), f);
    assert_eq!(
        at("web:7000", IpFamily::V4),
        Ok("10.1.0.2:7000".parse().expect("addr"))
    );
    assert_eq!(
        at("web:7000", IpFamily::V6),
        Ok("[fd0e:1ab:77::2]:7000".parse().expect("addr"))
    );
    assert_eq!(
        at("six:7000", IpFamily::V6),
        Ok("[fd0e:1ab:77::104]:7000".parse().expect("addr"))
    );
    let none = at("six:7000", IpFamily::V4).expect_err("six has no IPv4");
    assert!(none.starts_with("node `six` has no IPv4 address"), "{none}");
    // A node in host mode: the host's loopback of that family from the
    // host, the gateway of that family from a container.
    let host = target::resolve(&l, &Source::Host(None), &t("h:7100"), IpFamily::V6);
    assert_eq!(host, Ok("[::1]:7100".parse().expect("addr")));
    let from_web = target::resolve(&l, &Source::Node("web".into()), &t("h:7100"), IpFamily::V6);
    assert_eq!(from_web, Ok("[fd0e:1ab:77::1]:7100".parse().expect("addr")));
}

#[test]
fn a_family_gives_one_probe_per_family_and_the_default_stays_as_it_was() {
    let l = live_with(
        "  - tcp: { from: client, to: web:7000, family: both, expect: open }\n  - tcp: { from: client, to: web:7000, expect: open }\n  - tcp: { from: client, to: six:7000, expect: open }\n  - udp: { from: client, to: web:7001, family: v6, expect: blocked }\n",
        "28.5.2",
    );
    let steps = plan_steps(&l);
    let Step::Families(both) = &steps[0] else {
        panic!("family: both is one step per family: {:?}", steps[0]);
    };
    let seen: Vec<(IpFamily, String)> = both.iter().map(|(f, s)| (*f, addr_of(s))).collect();
    assert_eq!(
        seen,
        [
            (IpFamily::V4, "10.1.0.2:7000".to_owned()),
            (IpFamily::V6, "[fd0e:1ab:77::2]:7000".to_owned())
        ]
    );
    assert_eq!(
        addr_of(&steps[1]),
        "10.1.0.2:7000",
        "IPv4 by default, said as before"
    );
    let Step::Families(six) = &steps[2] else {
        panic!("a target reached over IPv6 says so: {:?}", steps[2]);
    };
    assert_eq!(six.len(), 1);
    assert_eq!(addr_of(&six[0].1), "[fd0e:1ab:77::104]:7000");
    let Step::Families(udp) = &steps[3] else {
        panic!("{:?}", steps[3]);
    };
    assert_eq!(addr_of(&udp[0].1), "[fd0e:1ab:77::2]:7001");
    // Ids stay unique through the families.
    let ids: Vec<usize> = steps
        .iter()
        .flat_map(|s| s.probes())
        .map(|(_, p)| p.id)
        .collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
}

#[test]
fn both_families_must_hold_and_each_is_said() {
    let pass = Outcome::pass("open, answered by web");
    let fail = Outcome::fail("blocked: no answer before the deadline");
    let both = family::combine(vec![
        ("IPv4 10.1.0.2:7000".into(), pass.clone()),
        ("IPv6 [fd0e:1ab:77::2]:7000".into(), fail.clone()),
    ]);
    assert!(!both.passed && !both.error);
    assert_eq!(
        both.observed,
        "IPv4 10.1.0.2:7000: open, answered by web; IPv6 [fd0e:1ab:77::2]:7000: blocked: no answer before the deadline"
    );
    assert!(
        family::combine(vec![
            ("IPv4".into(), pass.clone()),
            ("IPv6".into(), pass.clone())
        ])
        .passed
    );
    let broken = family::combine(vec![
        ("IPv4".into(), pass),
        ("IPv6".into(), Outcome::error("no socket")),
    ]);
    assert!(broken.error && !broken.passed);
    assert!(
        !family::combine(Vec::new()).passed,
        "nothing seen proves nothing"
    );
}

#[test]
fn a_requirement_the_engine_lacks_skips_the_check_with_the_reason() {
    let checks = "  - tcp: { from: client, to: web:7000, family: v6, expect: blocked, requires: { ip6tables: true } }\n  - tcp: { from: client, to: web:7000, family: v6, expect: open, requires: { engine: \"<27\" } }\n";
    let old = plan_steps(&live_with(checks, "20.10.24+dfsg1"));
    let Step::Done(skipped) = &old[0] else {
        panic!("{:?}", old[0]);
    };
    assert!(skipped.skipped && !skipped.passed && !skipped.error);
    assert!(
        skipped.observed
            == "needs ip6tables rules (by default from Docker 27); host local: Docker 20.10.24+dfsg1",
        "{}",
        skipped.observed
    );
    assert!(matches!(old[1], Step::Families(_)), "runs where it applies");
    let new = plan_steps(&live_with(checks, "28.5.2+dfsg4"));
    assert!(matches!(new[0], Step::Families(_)));
    assert!(
        matches!(&new[1], Step::Done(o) if o.skipped && o.observed == "needs Docker <27; host local: Docker 28.5.2+dfsg4")
    );
}

#[test]
fn aaaa_answers_are_the_nodes_ipv6_addresses_on_shared_networks() {
    let l = live_with(
        "  - dns: { from: client, name: web, type: AAAA, expect: [web] }\n  - dns: { from: client, name: six, type: AAAA, expect: [six] }\n",
        "28.5.2",
    );
    let answer = |ips: &[IpAddr]| {
        Observation::Dns(DnsReport {
            answer: DnsObservation::Answers {
                addresses: ips.to_vec(),
            },
            control: None,
            resolvers: None,
        })
    };
    let judge = |i: usize, ips: &[IpAddr]| classify(&l.lab.checks[i].kind, &answer(ips), &l);
    let web6 = IpAddr::V6(v6(2));
    let ok = judge(0, &[web6]);
    assert!(ok.passed, "{}", ok.observed);
    assert_eq!(ok.observed, "resolved to fd0e:1ab:77::2 (web)");
    let wrong = judge(0, &[IpAddr::V4(v4(2))]);
    assert!(!wrong.passed);
    assert!(
        wrong.observed.ends_with("expected fd0e:1ab:77::2 (web)"),
        "{}",
        wrong.observed
    );
    assert!(judge(1, &[IpAddr::V6(v6(0x104))]).passed);
}

#[test]
fn a_node_on_ipv6_only_networks_proves_its_resolver_with_aaaa() {
    let l = live_with(
        "  - dns: { from: six, name: client, type: AAAA, expect: resolves }\n  - dns: { from: client, name: web, expect: resolves }\n",
        "28.5.2",
    );
    let control = |i: usize| match &plan_steps(&l)[i] {
        Step::Probe {
            probe:
                Probe {
                    kind:
                        ProbeKind::Dns {
                            control: Some(c), ..
                        },
                    ..
                },
            ..
        } => c.record,
        other => panic!("{other:?}"),
    };
    assert_eq!(control(0), lab::RecordType::Aaaa);
    assert_eq!(control(1), lab::RecordType::A);
}

#[test]
fn a_port_of_both_families_proves_each_binding_and_says_when_their_ports_differ() {
    let l = live_with(
        "  - port: { node: web, port: 7000, expect: published }\n",
        "20.10.24",
    );
    let Step::Probe {
        probe:
            Probe {
                kind: ProbeKind::Published { ip, port, also, .. },
                ..
            },
        ..
    } = &plan_steps(&l)[0]
    else {
        panic!("a port probe");
    };
    assert_eq!((ip.to_string(), *port), ("127.0.0.1".to_owned(), 47603));
    assert_eq!(
        also,
        &vec!["[::1]:47604".parse::<std::net::SocketAddr>().expect("addr")]
    );
    let web = PortAnswer::Answered {
        identity: Identity {
            lab: "t".into(),
            node: "web".into(),
            host: None,
        },
    };
    let attempts = |v6: PortAnswer| Observation::Published {
        attempts: vec![
            PortAttempt {
                addr: "127.0.0.1:47603".parse().expect("addr"),
                answer: web.clone(),
            },
            PortAttempt {
                addr: "[::1]:47604".parse().expect("addr"),
                answer: v6,
            },
        ],
    };
    let ok = classify(&l.lab.checks[0].kind, &attempts(web.clone()), &l);
    assert!(ok.passed, "{}", ok.observed);
    assert!(
        ok.observed
            .ends_with("; the engine gave IPv4 and IPv6 different host ports (47603, 47604)"),
        "{}",
        ok.observed
    );
    let nobody = classify(
        &l.lab.checks[0].kind,
        &attempts(PortAnswer::Nothing {
            detail: "refused".into(),
        }),
        &l,
    );
    assert!(!nobody.passed, "the IPv6 binding must lead to the node too");
}

#[test]
fn a_matrix_of_both_families_probes_each_cell_twice() {
    let l = live_with(
        "  - matrix:\n      port: 7000\n      family: both\n      expect: |\n        from\\to  web  client\n        client   .    -\n        web      -    x\n",
        "28.5.2",
    );
    let Step::Cells(cells) = &plan_steps(&l)[0] else {
        panic!("a matrix");
    };
    assert_eq!(cells.len(), 2);
    for cell in cells {
        let Step::Families(parts) = cell else {
            panic!("{cell:?}");
        };
        let families: Vec<IpFamily> = parts.iter().map(|(f, _)| *f).collect();
        assert_eq!(families, [IpFamily::V4, IpFamily::V6]);
    }
    let Step::Families(first) = &cells[0] else {
        unreachable!()
    };
    assert_eq!(addr_of(&first[1].1), "[fd0e:1ab:77::2]:7000");
}

#[test]
fn redirects_may_lead_to_the_labs_ipv6_addresses() {
    let l = live_with("", "28.5.2");
    let only = reach::follow_only(&l, &Source::Node("client".into()));
    let url = |u: &str| url::Url::parse(u).expect("url");
    assert!(only.allows(&url("http://[fd0e:1ab:77::2]/echo")));
    assert!(only.allows(&url("http://[::1]:8080/")));
    assert!(!only.allows(&url("http://[fd00::1]/")), "not the lab's");
    assert_eq!(
        identity::owner_of_address(&l, IpAddr::V6(v6(0x104))).as_deref(),
        Some("six")
    );
}
