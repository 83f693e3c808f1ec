//! Each mechanism's sentence from a hand-built `LiveLab`, and for each a
//! case where the network showed something the lab model does not explain:
//! then the sentence must not claim the mechanism (say less, not something
//! false). No Docker.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use indexmap::IndexMap;

use super::*;
use crate::agent::protocol::*;
use crate::lab;
use crate::live::{LiveHost, LiveLab, LiveNode, PublishedPort};

const ONE_HOST: &str = "networks:
  front: {}
  back: { internal: true }
  quiet: { icc: false }
  mesh: { driver: overlay }
nodes:
  web:
    networks:
      front: { aliases: [www] }
    serve: [tcp:7000, https:443, http:80]
    ports: [\"127.0.0.1:8080:80\"]
  client: { networks: [front] }
  app: { networks: [front, back], serve: [tcp:7000] }
  db: { networks: [back], serve: [tcp:7000] }
  a: { networks: [quiet], serve: [tcp:7000] }
  b: { networks: [quiet] }
  m1: { networks: [mesh], serve: [tcp:7000] }
  m2: { networks: [mesh] }
  legacy-a: { network_mode: bridge, serve: [tcp:7000] }
  legacy-b: { network_mode: bridge }
  on-host: { network_mode: host, serve: [tcp:47801] }
  rogue: { networks: [front], serve: [https:443], ca: other }
  down: { networks: [front] }
";

const TWO_HOSTS: &str = "hosts: [east, west]
networks:
  ov: { driver: overlay }
  lan-east: {}
  lan-west: {}
nodes:
  web: { host: east, networks: [ov, lan-east], serve: [tcp:7000], ports: [\"127.0.0.1:47380:7000\"] }
  edge: { host: east, networks: [lan-east] }
  db: { host: west, networks: [ov, lan-west], serve: [tcp:7000] }
  worker: { host: west, networks: [lan-west] }
";

/// The lab of `yaml` as if it ran: network k's nodes at 10.(k+1).0.x —
/// but every bridge of a second host reuses the first host's subnet, as
/// engines do — the default bridge at 172.17.0.x; `engines` names each
/// host's engine.
fn live_of(yaml: &str, engines: &[(&str, &str)]) -> LiveLab {
    let lab = lab::load_source("t.yaml", yaml.as_bytes(), Some("t"))
        .expect("valid")
        .lab;
    let index: Vec<&String> = lab.networks.keys().collect();
    let mut nodes = HashMap::new();
    for (i, (name, n)) in lab.nodes.iter().enumerate() {
        let host_k = lab.hosts.iter().position(|h| *h == n.host).unwrap_or(0);
        let mut addresses = IndexMap::new();
        let mut gateways = IndexMap::new();
        for net in crate::check::route::networks_of(n) {
            let (a, b) = if net == "bridge" {
                (172, 17)
            } else {
                let k = index.iter().position(|x| **x == net).unwrap_or(0);
                let overlay = matches!(
                    lab.networks[&net].driver,
                    crate::lab::Driver::Overlay { .. }
                );
                // Bridges of the second host take the first host's numbers.
                let k = if overlay { k } else { k - host_k.min(k) };
                (10, k as u8 + 1)
            };
            addresses.insert(net.clone(), Ipv4Addr::new(a, b, 0, i as u8 + 2));
            gateways.insert(net, Ipv4Addr::new(a, b, 0, 1));
        }
        let ports = n
            .ports
            .iter()
            .map(|p| PublishedPort {
                container_port: p.container_ports.first,
                transport: p.transport,
                host_ip: p.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                host_port: p.host_ports.map(|r| r.first).unwrap_or(32768),
            })
            .collect();
        nodes.insert(
            name.clone(),
            LiveNode {
                host: n.host.clone(),
                probe_container: Some("id".into()),
                running: name != "down",
                state: "running".into(),
                addresses,
                gateways,
                addresses6: IndexMap::new(),
                gateways6: IndexMap::new(),
                ports,
                stale_helper: None,
            },
        );
    }
    LiveLab {
        hosts: engines
            .iter()
            .map(|(h, e)| {
                (
                    (*h).to_owned(),
                    LiveHost {
                        helper: Some("h".into()),
                        engine: (*e).to_owned(),
                        facts: Default::default(),
                    },
                )
            })
            .collect(),
        lab,
        ca_pem: Some("ca".into()),
        other_ca_pem: Some("other".into()),
        nodes,
        subnets: Vec::new(),
        network_subnets: HashMap::new(),
        agent_image: String::new(),
        allow_external: false,
    }
}

fn one() -> LiveLab {
    live_of(ONE_HOST, &[("local", "e1")])
}

fn kind_in(yaml: &str, check: &str) -> CheckKind {
    let text = format!("{yaml}checks:\n  - {check}\n");
    lab::load_source("t.yaml", text.as_bytes(), Some("t"))
        .expect("valid check")
        .lab
        .checks
        .remove(0)
        .kind
}

fn result(observation: Observation) -> ProbeResult {
    ProbeResult {
        id: 0,
        observation,
        elapsed_ms: 1.0,
        capture: None,
    }
}

fn why_of(live: &LiveLab, yaml: &str, check: &str, o: Observation) -> Option<Why> {
    explain(&kind_in(yaml, check), &result(o), live)
}

fn tcp(o: TcpObservation) -> Observation {
    Observation::Tcp(o)
}

fn open() -> Observation {
    tcp(TcpObservation::Open { identity: None })
}

fn silent() -> Observation {
    tcp(TcpObservation::Timeout)
}

fn sentence(w: Option<Why>) -> String {
    w.map(|w| w.sentence).unwrap_or_default()
}

fn says(live: &LiveLab, check: &str, o: Observation) -> String {
    sentence(why_of(live, ONE_HOST, check, o))
}

/// Words a sentence about `o` must not hold when the lab does not explain it.
const MECHANISMS: &[&str] = &["isolation", "icc", "internal", "VXLAN", "NAT", "host mode"];

fn claims_nothing(s: &str) {
    for m in MECHANISMS {
        assert!(!s.contains(m), "claims {m}: {s}");
    }
}

#[test]
fn a_shared_bridge_forwards() {
    let s = says(
        &one(),
        "tcp: { from: client, to: web:7000, expect: open }",
        open(),
    );
    assert!(
        s.contains("`client` and `web` share the user-defined bridge `front`"),
        "{s}"
    );
}

#[test]
fn silence_on_a_shared_bridge_with_icc_on_is_not_explained() {
    let s = says(
        &one(),
        "tcp: { from: client, to: web:7000, expect: open }",
        silent(),
    );
    assert!(s.contains("yet nothing answered"), "{s}");
    claims_nothing(&s);
}

#[test]
fn bridges_are_isolated_from_each_other() {
    let w = why_of(
        &one(),
        ONE_HOST,
        "tcp: { from: a, to: web:7000, expect: blocked }",
        silent(),
    )
    .expect("a why");
    assert!(
        w.sentence
            .contains("Docker's isolation rules drop traffic between bridges"),
        "{w:?}"
    );
    assert_eq!(w.short, "bridges isolated: quiet ↛ front");
}

#[test]
fn an_answer_across_networks_claims_no_isolation() {
    let s = says(
        &one(),
        "tcp: { from: a, to: web:7000, expect: blocked }",
        open(),
    );
    assert!(s.contains("shares no network"), "{s}");
    claims_nothing(&s);
}

#[test]
fn an_internal_network_has_no_way_in_or_out() {
    let s = says(
        &one(),
        "tcp: { from: client, to: db:7000, expect: blocked }",
        silent(),
    );
    assert!(
        s.contains("`db` is reached on the internal network `back`, which `client` does not join"),
        "{s}"
    );
    let s = says(
        &one(),
        "tcp: { from: db, to: web:7000, expect: blocked }",
        silent(),
    );
    assert!(
        s.contains("only on the internal network `back`, which has no route out"),
        "{s}"
    );
    let s = says(
        &one(),
        "tcp: { from: app, to: db:7000, expect: open }",
        open(),
    );
    assert!(
        s.contains("internal cuts the way out, not the traffic within"),
        "{s}"
    );
}

#[test]
fn icc_off_drops_traffic_between_members() {
    let w = why_of(
        &one(),
        ONE_HOST,
        "tcp: { from: b, to: a:7000, expect: blocked }",
        silent(),
    )
    .expect("a why");
    assert!(w.sentence.contains("where icc is off"), "{w:?}");
    assert_eq!(w.short, "icc off on quiet");
    // An answer on that network is no icc story.
    assert!(
        !says(
            &one(),
            "tcp: { from: b, to: a:7000, expect: blocked }",
            open()
        )
        .contains("icc")
    );
}

#[test]
fn a_reset_means_the_packet_arrived_and_nothing_listens() {
    let s = says(
        &one(),
        "tcp: { from: client, to: web:7001, expect: refused }",
        tcp(TcpObservation::Refused),
    );
    assert!(
        s.contains("so the packet arrived; nothing listens on 7001/tcp in `web`"),
        "{s}"
    );
}

#[test]
fn the_host_routes_to_its_bridges_and_host_mode_is_the_hosts_stack() {
    let s = says(
        &one(),
        "tcp: { from: host, to: db:7000, expect: open }",
        open(),
    );
    assert!(
        s.contains("routes to every bridge it holds, internal ones included"),
        "{s}"
    );
    let s = says(
        &one(),
        "tcp: { from: host, to: on-host:47801, expect: open }",
        open(),
    );
    assert!(
        s.contains("`on-host` runs in host mode") && s.contains("at 127.0.0.1"),
        "{s}"
    );
    let s = says(
        &one(),
        "tcp: { from: client, to: on-host:47801, expect: open }",
        open(),
    );
    assert!(s.contains("the gateway of its network"), "{s}");
}

#[test]
fn the_default_bridge_forwards_by_address_and_has_no_dns() {
    let s = says(
        &one(),
        "tcp: { from: legacy-b, to: legacy-a:7000, expect: open }",
        open(),
    );
    assert!(
        s.contains("Docker's default bridge") && s.contains("no DNS"),
        "{s}"
    );
    let dns = Observation::Dns(DnsReport {
        answer: DnsObservation::NxDomain,
        control: Some(DnsObservation::NxDomain),
        resolvers: None,
    });
    let s = says(
        &one(),
        "dns: { from: legacy-b, name: legacy-a, expect: unresolved }",
        dns,
    );
    assert!(s.contains("which has no embedded DNS"), "{s}");
}

#[test]
fn a_published_port_is_forwarded_to_its_node() {
    let s = says(
        &one(),
        "tcp: { from: host, to: \"127.0.0.1:8080\", expect: open }",
        open(),
    );
    assert!(
        s.contains("a port Docker publishes for `web`") && s.contains("NAT"),
        "{s}"
    );
    let attempts = |node: &str| Observation::Published {
        attempts: vec![PortAttempt {
            addr: "127.0.0.1:8080".parse().expect("addr"),
            answer: PortAnswer::Answered {
                identity: Identity {
                    lab: "t".into(),
                    node: node.into(),
                    host: None,
                },
            },
        }],
    };
    let check = "port: { node: web, port: 80, expect: published }";
    assert!(
        says(&one(), check, attempts("web")).contains("NAT (iptables DNAT) or its userland proxy")
    );
    // Answered by another node: the mapping did not lead to web.
    assert_eq!(says(&one(), check, attempts("client")), "");
}

#[test]
fn vxlan_only_between_engines_that_differ() {
    let two = live_of(TWO_HOSTS, &[("east", "e1"), ("west", "e2")]);
    let check = "tcp: { from: db, to: web:7000, expect: open }";
    let s = sentence(why_of(&two, TWO_HOSTS, check, open()));
    assert!(
        s.contains("VXLAN carries its packets between the hosts"),
        "{s}"
    );
    let same = live_of(TWO_HOSTS, &[("east", "e1"), ("west", "e1")]);
    let s = sentence(why_of(&same, TWO_HOSTS, check, open()));
    assert!(!s.contains("VXLAN") && s.contains("one engine here"), "{s}");
}

#[test]
fn a_bridge_address_of_another_host_is_not_taken_for_this_hosts_node() {
    // worker (west) reaches db on lan-west, whose address equals one on
    // east's lan-east: the route is db's, not east's node's.
    let two = live_of(TWO_HOSTS, &[("east", "e1"), ("west", "e2")]);
    let s = sentence(why_of(
        &two,
        TWO_HOSTS,
        "tcp: { from: worker, to: db@lan-west:7000, expect: open }",
        open(),
    ));
    assert!(
        s.contains("`worker` and `db` share the user-defined bridge `lan-west`"),
        "{s}"
    );
    let s = sentence(why_of(
        &two,
        TWO_HOSTS,
        "tcp: { from: host@west, to: \"127.0.0.1:47380\", expect: refused }",
        tcp(TcpObservation::Refused),
    ));
    assert!(
        s.contains("published by `web` on host east, not on west"),
        "{s}"
    );
}

fn dns(answer: DnsObservation, control: Option<DnsObservation>) -> Observation {
    Observation::Dns(DnsReport {
        answer,
        control,
        resolvers: None,
    })
}

#[test]
fn the_embedded_dns_answers_names_and_aliases_of_shared_networks() {
    let l = one();
    let web = l.nodes["web"].addresses["front"];
    let answer = dns(
        DnsObservation::Answers {
            addresses: vec![IpAddr::V4(web)],
        },
        None,
    );
    let s = says(
        &l,
        "dns: { from: client, name: www, expect: [web] }",
        answer,
    );
    assert!(
        s.contains("(127.0.0.11)") && s.contains("`www` is an alias of `web` on `front`"),
        "{s}"
    );
    let a = l.nodes["a"].addresses["quiet"];
    let answer = dns(
        DnsObservation::Answers {
            addresses: vec![IpAddr::V4(a)],
        },
        None,
    );
    let s = says(&l, "dns: { from: b, name: a, expect: [a] }", answer);
    assert!(s.contains("icc off drops traffic, not names"), "{s}");
}

#[test]
fn a_name_on_another_network_is_unknown_and_internal_networks_cannot_ask_further() {
    let s = says(
        &one(),
        "dns: { from: client, name: db, expect: unresolved }",
        dns(DnsObservation::NxDomain, None),
    );
    assert!(
        s.contains("`db` is on `back`, which `client` does not join: the answer was NXDOMAIN"),
        "{s}"
    );
    let s = says(
        &one(),
        "dns: { from: db, name: web, expect: unresolved }",
        dns(DnsObservation::ServFail, None),
    );
    assert!(
        s.contains("on an internal network it cannot ask an upstream resolver")
            && s.contains("SERVFAIL"),
        "{s}"
    );
    let alive = Some(DnsObservation::Answers {
        addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 2, 0, 5))],
    });
    let s = says(
        &one(),
        "dns: { from: db, name: web, expect: unresolved }",
        dns(DnsObservation::Timeout, alive),
    );
    assert!(s.contains("stayed silent (Docker 20.10)"), "{s}");
    // Silence with no resolver shown alive: nothing to explain it with.
    assert_eq!(
        says(
            &one(),
            "dns: { from: db, name: web, expect: unresolved }",
            dns(DnsObservation::Timeout, None)
        ),
        ""
    );
    let s = says(
        &one(),
        "dns: { from: client, name: down, expect: unresolved }",
        dns(DnsObservation::NxDomain, None),
    );
    assert!(s.contains("`down` is not running"), "{s}");
    // A peer on a shared network that is running, yet NXDOMAIN: not explained.
    assert_eq!(
        says(
            &one(),
            "dns: { from: client, name: web, expect: unresolved }",
            dns(DnsObservation::NxDomain, None)
        ),
        ""
    );
}

#[test]
fn a_resolver_out_of_reach_is_said_so_only_when_every_name_server_is() {
    let reach = |r: Reach| {
        Observation::Dns(DnsReport {
            answer: DnsObservation::Error {
                message: "network unreachable".into(),
            },
            control: None,
            resolvers: Some(vec![ResolverReach {
                server: IpAddr::V4(Ipv4Addr::new(10, 250, 77, 1)),
                reach: r,
            }]),
        })
    };
    let check = "dns: { from: on-host, name: web, expect: unresolved }";
    let s = says(
        &one(),
        check,
        reach(Reach::Unreachable {
            message: "no route".into(),
        }),
    );
    assert!(
        s.contains("no name server of its resolv.conf can be reached"),
        "{s}"
    );
    let s = says(&one(), check, reach(Reach::Silent));
    assert!(
        s.contains("which did not answer") && !s.contains("reached"),
        "{s}"
    );
}

#[test]
fn host_mode_has_no_embedded_dns() {
    let s = says(
        &one(),
        "dns: { from: on-host, name: web, expect: unresolved }",
        dns(DnsObservation::NxDomain, None),
    );
    assert!(
        s.contains("runs in host mode: it has no embedded DNS"),
        "{s}"
    );
}

fn tls(outcome: TlsOutcome) -> Observation {
    Observation::Tls(TlsObservation::only(outcome))
}

#[test]
fn certificates_are_explained_by_who_signed_them_and_what_they_name() {
    let s = says(
        &one(),
        "tls: { from: client, to: web:443, name: www, expect: verified }",
        tls(TlsOutcome::Verified),
    );
    assert!(
        s.contains("names `www` and was signed by the lab's CA"),
        "{s}"
    );
    let untrusted = || {
        tls(TlsOutcome::Untrusted {
            reason: "unknown issuer".into(),
        })
    };
    let s = says(
        &one(),
        "tls: { from: client, to: rogue:443, expect: untrusted }",
        untrusted(),
    );
    assert!(s.contains("signed by another CA"), "{s}");
    let s = says(
        &one(),
        "tls: { from: client, to: web:443, ca: none, expect: no-tls }",
        untrusted(),
    );
    assert!(s.contains("trusts no CA"), "{s}");
    // web's certificate comes from the lab CA: an untrusted one is not explained.
    assert_eq!(
        says(
            &one(),
            "tls: { from: client, to: web:443, expect: verified }",
            untrusted()
        ),
        ""
    );
    let s = says(
        &one(),
        "tls: { from: client, to: web:443, name: db.example.test, expect: wrong-name }",
        tls(TlsOutcome::WrongName {
            reason: "not valid for name".into(),
        }),
    );
    assert!(
        s.contains("names `web` and `www`, not `db.example.test`"),
        "{s}"
    );
    let s = says(
        &one(),
        "tls: { from: client, to: web:7000, expect: no-tls }",
        tls(TlsOutcome::NoTls {
            reason: "garbage".into(),
        }),
    );
    assert!(s.contains("serves plain tcp on 7000"), "{s}");
}

fn hop(method: &str, url: &str, status: u16, body_sent: bool) -> HttpHop {
    HttpHop {
        url: url.into(),
        method: method.into(),
        body_sent,
        status,
        location: None,
        node: Some("web".into()),
        identity: None,
    }
}

fn http(hops: Vec<HttpHop>) -> Observation {
    Observation::Http(HttpObservation {
        hops,
        final_body: String::new(),
        error: None,
        note: None,
    })
}

#[test]
fn redirects_are_explained_by_what_their_code_did_to_the_method() {
    let check = "http: { from: client, url: \"http://web/redirect/303?to=/echo\", method: POST, body: a=1, expect: { status: 200 } }";
    let w = why_of(
        &one(),
        ONE_HOST,
        check,
        http(vec![
            hop("POST", "http://web/redirect/303?to=/echo", 303, true),
            hop("GET", "http://web/echo", 200, false),
        ]),
    )
    .expect("a why");
    assert!(
        w.sentence
            .starts_with("303 See Other turned POST into GET and dropped the body"),
        "{w:?}"
    );
    assert_eq!(w.short, "303: POST → GET");
    let s = sentence(why_of(
        &one(),
        ONE_HOST,
        check,
        http(vec![
            hop("POST", "http://web/redirect/307?to=/echo", 307, true),
            hop("POST", "http://web/echo", 200, true),
        ]),
    ));
    assert!(s.contains("kept POST and its body"), "{s}");
    let s = sentence(why_of(
        &one(),
        ONE_HOST,
        check,
        http(vec![
            hop(
                "GET",
                "http://web/redirect/301?to=https://web/whoami",
                301,
                false,
            ),
            hop("GET", "https://web/whoami", 200, false),
        ]),
    ));
    assert!(
        s.contains("kept GET") && s.contains("from http to https") && !s.contains("turned"),
        "{s}"
    );
    // No redirect: the path is the reason.
    let s = sentence(why_of(
        &one(),
        ONE_HOST,
        check,
        http(vec![hop("POST", "http://web/echo", 200, true)]),
    ));
    assert!(s.contains("share the user-defined bridge `front`"), "{s}");
}

#[test]
fn the_mtu_is_explained_by_vxlan_only_when_it_is_50_below() {
    let mtu = |m: u32| {
        Observation::Mtu(MtuObservation::Found {
            interface: "eth0".into(),
            mtu: m,
        })
    };
    let s = says(
        &one(),
        "mtu: { node: m1, network: mesh, expect: 1450 }",
        mtu(1450),
    );
    assert!(s.contains("VXLAN wraps each packet in 50 bytes"), "{s}");
    assert_eq!(
        says(
            &one(),
            "mtu: { node: m1, network: mesh, expect: 1450 }",
            mtu(1500)
        ),
        ""
    );
    let s = says(
        &one(),
        "mtu: { node: client, network: front, expect: 1500 }",
        mtu(1500),
    );
    assert!(s.contains("nothing wraps its packets"), "{s}");
}

#[test]
fn a_matrix_lists_its_causes_once_each() {
    let w = |s: &str| Why::new(format!("sentence {s}"), s.to_owned());
    let cells = [
        w("shared bridge front"),
        w("icc off on quiet"),
        w("shared bridge front"),
    ];
    let m = summarise(cells.iter()).expect("a why");
    assert_eq!(m.short, "shared bridge front; icc off on quiet");
    assert!(summarise([].iter()).is_none());
}

#[test]
fn a_network_joined_by_a_step_is_explained_as_shared() {
    // `connect: { node: a, network: front }`: a reaches web over front now.
    let mut l = one();
    if let Some(a) = l.nodes.get_mut("a") {
        a.addresses
            .insert("front".into(), Ipv4Addr::new(10, 1, 0, 99));
    }
    let s = says(&l, "tcp: { from: a, to: web:7000, expect: open }", open());
    assert!(
        s.contains("`a` and `web` share the user-defined bridge `front`"),
        "{s}"
    );
}

/// A matrix cell's sentence is the model's reason where the model predicts
/// what was seen; where it does not, the model is not quoted.
#[test]
fn a_matrix_cell_is_explained_by_the_model_where_it_agrees() {
    let l = one();
    let m = match kind_in(
        ONE_HOST,
        "matrix: { port: 7000, expect: \"from\\\\to web db\\nclient . x\\n\" }",
    ) {
        CheckKind::Matrix(m) => m,
        other => panic!("{other:?}"),
    };
    let cell = |to: &str| m.cells.iter().find(|c| c.to == to).cloned().expect("cell");
    let model = |to: &str| {
        crate::model::reach_family(
            &l.lab,
            &Source::Node("client".into()),
            to,
            7000,
            Transport::Tcp,
            IpFamily::V4,
            EngineSide::NEW,
        )
        .reason
    };
    let agreeing = explain_cell(&l, &m, &cell("db"), IpFamily::V4, &silent()).expect("a why");
    assert_eq!(agreeing.sentence, model("db"));
    let db_open = sentence(explain_cell(&l, &m, &cell("db"), IpFamily::V4, &open()));
    assert_ne!(
        db_open,
        model("db"),
        "the model said blocked; open was seen"
    );
    let web = explain_cell(&l, &m, &cell("web"), IpFamily::V4, &open()).expect("a why");
    assert_eq!(web.sentence, model("web"));
}
