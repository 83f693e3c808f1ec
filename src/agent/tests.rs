//! The agent against itself on loopback: listeners started by `serve::start`
//! on 127.0.0.1 with port 0, probed by `run_batch`, plus a hand-made DNS
//! server to pin down how resolver answers map to observations. No Docker,
//! and no packet leaves 127.0.0.0/8.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::probe::{self, run_batch};
use super::protocol::*;
use super::resolve::dns;
use super::serve::start;
use crate::vocab::{Listener, ListenerProto, RecordType};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Generous for loopback, short enough that a hang fails the test quickly.
const TEST_DEADLINE: Duration = Duration::from_secs(5);

fn identity() -> Arc<Identity> {
    Arc::new(Identity {
        host: None,
        lab: "unit-lab".into(),
        node: "web".into(),
    })
}

/// Serves one listener of `proto` on a free loopback port and returns it.
async fn serve_one(proto: ListenerProto) -> SocketAddr {
    let bound = start(LOOPBACK, &[Listener { proto, port: 0 }], identity(), None)
        .await
        .expect("loopback listener binds");
    bound[0]
}

/// A port on which nothing listens (bound once, then released).
async fn closed_tcp_port() -> SocketAddr {
    let l = TcpListener::bind((LOOPBACK, 0)).await.expect("bind");
    l.local_addr().expect("local addr")
}

async fn closed_udp_port() -> SocketAddr {
    let s = UdpSocket::bind((LOOPBACK, 0)).await.expect("bind");
    s.local_addr().expect("local addr")
}

/// A UDP socket that swallows everything: no reply, and no ICMP either.
async fn silent_udp() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind((LOOPBACK, 0)).await.expect("bind");
    let addr = s.local_addr().expect("local addr");
    (s, addr)
}

async fn one(probe: Probe) -> Observation {
    let report = run_batch(&ProbeBatch {
        probes: vec![probe],
    })
    .await;
    assert_eq!(report.results.len(), 1);
    report.results[0].observation.clone()
}

#[test]
fn greeting_round_trips() {
    let id = Identity {
        host: None,
        lab: "bridge-basic".into(),
        node: "client-2".into(),
    };
    let line = id.greeting();
    assert_eq!(line, "netlab-agent lab=bridge-basic node=client-2\n");
    assert_eq!(Identity::parse_greeting(&line), Some(id.clone()));
    assert_eq!(Identity::parse_greeting(line.trim_end()), Some(id));
}

#[test]
fn other_lines_are_not_greetings() {
    for line in [
        "",
        "HTTP/1.1 400 Bad Request",
        "SSH-2.0-OpenSSH_9.6",
        "netlab-agent",
        "netlab-agent lab=x",
        "netlab-agentlab=x node=y",
        "netlab-agent node=y lab=x",
        "netlab-agent ready",
    ] {
        assert_eq!(Identity::parse_greeting(line), None, "{line:?}");
    }
}

#[tokio::test]
async fn tcp_open_names_the_node() {
    let addr = serve_one(ListenerProto::Tcp).await;
    let seen = one(Probe {
        id: 1,
        timeout_ms: 2000,
        capture: false,
        host_to_container: false,
        kind: ProbeKind::Tcp {
            addr,
            speak: Speak::Greeting,
            by_name: None,
        },
    })
    .await;
    assert_eq!(
        seen,
        Observation::Tcp(TcpObservation::Open {
            identity: Some((*identity()).clone())
        })
    );
}

#[tokio::test]
async fn tcp_listener_greets_then_echoes() {
    let addr = serve_one(ListenerProto::Tcp).await;
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        let greeting = identity().greeting();
        let mut got = vec![0u8; greeting.len()];
        s.read_exact(&mut got).await?;
        assert_eq!(got, greeting.as_bytes());
        s.write_all(b"ping over tcp\n").await?;
        let mut echo = vec![0u8; 14];
        s.read_exact(&mut echo).await?;
        assert_eq!(echo, b"ping over tcp\n");
        s.shutdown().await?;
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await?;
        assert!(rest.is_empty(), "the agent closes after the client's EOF");
        std::io::Result::Ok(())
    };
    tokio::time::timeout(TEST_DEADLINE, exchange)
        .await
        .expect("no hang")
        .expect("exchange");
}

#[tokio::test]
async fn tcp_open_without_a_greeting_has_no_identity() {
    // An HTTP listener says nothing first: connected, but anonymous.
    let addr = serve_one(ListenerProto::Http).await;
    let seen = one(Probe {
        id: 1,
        timeout_ms: 1500,
        capture: false,
        host_to_container: false,
        kind: ProbeKind::Tcp {
            addr,
            speak: Speak::Greeting,
            by_name: None,
        },
    })
    .await;
    assert_eq!(
        seen,
        Observation::Tcp(TcpObservation::Open { identity: None })
    );
}

#[tokio::test]
async fn tcp_closed_port_is_refused() {
    let addr = closed_tcp_port().await;
    let seen = one(Probe {
        id: 1,
        timeout_ms: 2000,
        capture: false,
        host_to_container: false,
        kind: ProbeKind::Tcp {
            addr,
            speak: Speak::Greeting,
            by_name: None,
        },
    })
    .await;
    assert_eq!(seen, Observation::Tcp(TcpObservation::Refused));
}

#[tokio::test]
async fn udp_answer_names_the_node() {
    let addr = serve_one(ListenerProto::Udp).await;
    let seen = one(Probe {
        id: 1,
        timeout_ms: 2000,
        capture: false,
        host_to_container: false,
        kind: ProbeKind::Udp {
            addr,
            by_name: None,
        },
    })
    .await;
    assert_eq!(
        seen,
        Observation::Udp(UdpObservation::Answered {
            identity: (*identity()).clone()
        })
    );
}

#[tokio::test]
async fn udp_listener_replies_greeting_then_datagram() {
    let addr = serve_one(ListenerProto::Udp).await;
    let exchange = async {
        let s = UdpSocket::bind((LOOPBACK, 0)).await?;
        s.connect(addr).await?;
        s.send(b"hello datagram").await?;
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf).await?;
        std::io::Result::Ok(buf[..n].to_vec())
    };
    let reply = tokio::time::timeout(TEST_DEADLINE, exchange)
        .await
        .expect("no hang")
        .expect("exchange");
    let expected = format!("{}hello datagram", identity().greeting());
    assert_eq!(String::from_utf8_lossy(&reply), expected);
}

#[tokio::test]
async fn udp_closed_port_is_refused_or_times_out() {
    let addr = closed_udp_port().await;
    let started = Instant::now();
    let seen = one(Probe {
        id: 1,
        timeout_ms: 300,
        capture: false,
        host_to_container: false,
        kind: ProbeKind::Udp {
            addr,
            by_name: None,
        },
    })
    .await;
    assert!(
        matches!(
            seen,
            Observation::Udp(UdpObservation::Refused | UdpObservation::Timeout)
        ),
        "{seen:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn udp_reply_without_greeting_is_unrecognised() {
    let (socket, addr) = silent_udp().await;
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((_, peer)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(b"pong from something else\n", peer).await;
        }
    });
    let seen = one(Probe {
        id: 1,
        timeout_ms: 2000,
        capture: false,
        host_to_container: false,
        kind: ProbeKind::Udp {
            addr,
            by_name: None,
        },
    })
    .await;
    assert_eq!(
        seen,
        Observation::Udp(UdpObservation::Unrecognised {
            reply: "pong from something else\n".into()
        })
    );
}

#[tokio::test]
async fn batch_keeps_order_and_runs_concurrently() {
    let (_a, silent_a) = silent_udp().await;
    let (_b, silent_b) = silent_udp().await;
    let (_c, silent_c) = silent_udp().await;
    let tcp = serve_one(ListenerProto::Tcp).await;
    let batch = ProbeBatch {
        probes: vec![
            Probe {
                id: 7,
                timeout_ms: 300,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Udp {
                    addr: silent_a,
                    by_name: None,
                },
            },
            Probe {
                id: 3,
                timeout_ms: 300,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Udp {
                    addr: silent_b,
                    by_name: None,
                },
            },
            Probe {
                id: 9,
                timeout_ms: 300,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Tcp {
                    addr: tcp,
                    speak: Speak::Greeting,
                    by_name: None,
                },
            },
            Probe {
                id: 5,
                timeout_ms: 300,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Udp {
                    addr: silent_c,
                    by_name: None,
                },
            },
        ],
    };
    let started = Instant::now();
    let report = run_batch(&batch).await;
    let took = started.elapsed();
    let ids: Vec<usize> = report.results.iter().map(|r| r.id).collect();
    assert_eq!(ids, [7, 3, 9, 5]);
    for r in &report.results {
        match r.id {
            9 => assert!(matches!(
                r.observation,
                Observation::Tcp(TcpObservation::Open { identity: Some(_) })
            )),
            _ => {
                assert_eq!(r.observation, Observation::Udp(UdpObservation::Timeout));
                assert!(
                    (250.0..1000.0).contains(&r.elapsed_ms),
                    "elapsed {}",
                    r.elapsed_ms
                );
            }
        }
    }
    // One after another would be 900 ms and more.
    assert!(took < Duration::from_millis(700), "took {took:?}");
}

#[tokio::test]
async fn a_taken_port_is_an_error_naming_the_listener() {
    let taken = TcpListener::bind((LOOPBACK, 0)).await.expect("bind");
    let port = taken.local_addr().expect("local addr").port();
    let listeners = [Listener {
        proto: ListenerProto::Tcp,
        port,
    }];
    let err = start(LOOPBACK, &listeners, identity(), None)
        .await
        .expect_err("the port is taken");
    assert!(
        format!("{err:#}").contains(&format!("tcp:{port}")),
        "{err:#}"
    );
}

#[tokio::test]
async fn start_reports_every_bound_port_in_order() {
    let listeners = [
        Listener {
            proto: ListenerProto::Udp,
            port: 0,
        },
        Listener {
            proto: ListenerProto::Http,
            port: 0,
        },
        Listener {
            proto: ListenerProto::Tcp,
            port: 0,
        },
    ];
    let bound = start(LOOPBACK, &listeners, identity(), None)
        .await
        .expect("bind");
    assert_eq!(bound.len(), 3);
    assert!(bound.iter().all(|a| a.ip() == LOOPBACK && a.port() != 0));
    assert!(matches!(
        one(Probe {
            id: 0,
            timeout_ms: 2000,
            capture: false,
            host_to_container: false,
            kind: ProbeKind::Udp {
                addr: bound[0],
                by_name: None
            }
        })
        .await,
        Observation::Udp(UdpObservation::Answered { .. })
    ));
    assert!(matches!(
        one(Probe {
            id: 0,
            timeout_ms: 2000,
            capture: false,
            host_to_container: false,
            kind: ProbeKind::Tcp {
                addr: bound[2],
                speak: Speak::Greeting,
                by_name: None,
            }
        })
        .await,
        Observation::Tcp(TcpObservation::Open { identity: Some(_) })
    ));
}

#[test]
fn listener_specs_parse_and_refuse_nonsense() {
    assert_eq!(
        "tcp:7000".parse::<Listener>(),
        Ok(Listener {
            proto: ListenerProto::Tcp,
            port: 7000
        })
    );
    assert!("tcp:0".parse::<Listener>().is_err());
    assert!("sctp:1".parse::<Listener>().is_err());
    assert!("7000".parse::<Listener>().is_err());
}

#[tokio::test]
async fn tcp_to_a_silent_server_is_open_without_identity_within_the_deadline() {
    let silent = TcpListener::bind((LOOPBACK, 0)).await.expect("bind");
    let addr = silent.local_addr().expect("local addr");
    let started = Instant::now();
    assert_eq!(
        probe::tcp(addr, Duration::from_millis(400)).await,
        TcpObservation::Open { identity: None }
    );
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the greeting wait is bounded by the deadline"
    );
}

#[test]
fn mtu_of_the_loopback_interface() {
    match probe::mtu(LOOPBACK) {
        MtuObservation::Found { interface, mtu } => {
            assert_eq!(interface, "lo");
            assert!(mtu >= 1500, "{mtu}");
        }
        other => panic!("expected lo's MTU, got {other:?}"),
    }
    // TEST-NET-1: documentation only, held by no interface (and never contacted).
    assert_eq!(
        probe::mtu(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 123))),
        MtuObservation::NotFound
    );
}

// --- HTTP -----------------------------------------------------------------

/// A parsed HTTP/1.1 response: status, lower-cased headers, body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// Sends `request` as is (it must ask for `Connection: close`) and reads
/// the response until the server closes.
async fn http_exchange(addr: SocketAddr, request: &str) -> Reply {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        std::io::Result::Ok(raw)
    };
    let raw = tokio::time::timeout(TEST_DEADLINE, exchange)
        .await
        .expect("no hang")
        .expect("exchange");
    let text = String::from_utf8(raw).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn http_whoami_names_node_and_client() {
    let addr = serve_one(ListenerProto::Http).await;
    let reply = http_exchange(
        addr,
        "GET /whoami HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-netlab-node"), Some("web"));
    assert_eq!(reply.header("x-netlab-lab"), Some("unit-lab"));
    let json = reply.json();
    assert_eq!(json["lab"], "unit-lab");
    assert_eq!(json["node"], "web");
    let remote: SocketAddr = json["remote"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("remote is ip:port");
    assert_eq!(remote.ip(), LOOPBACK);
}

#[tokio::test]
async fn http_echo_returns_the_request() {
    let addr = serve_one(ListenerProto::Http).await;
    let body = r#"{"hello":"agent"}"#;
    let request = format!(
        "POST /echo?a=1&b=two HTTP/1.1\r\nHost: web\r\nX-Probe: yes\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let reply = http_exchange(addr, &request).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-netlab-node"), Some("web"));
    assert_eq!(reply.header("x-netlab-lab"), Some("unit-lab"));
    let json = reply.json();
    assert_eq!(json["method"], "POST");
    assert_eq!(json["path"], "/echo");
    assert_eq!(json["query"], "a=1&b=two");
    assert_eq!(json["headers"]["x-probe"], "yes");
    assert_eq!(json["headers"]["host"], "web");
    assert_eq!(json["body"], body);
}

#[tokio::test]
async fn http_unknown_path_is_404_and_still_names_the_node() {
    let addr = serve_one(ListenerProto::Http).await;
    let reply = http_exchange(
        addr,
        "GET /nothing-here HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 404);
    // The body points at the paths the agent has.
    let json = reply.json();
    assert_eq!(json["error"], "no such path /nothing-here");
    assert_eq!(json["paths"][0], "/whoami");
    assert_eq!(json["paths"][1], "/echo");
    assert_eq!(reply.header("x-netlab-node"), Some("web"));
    assert_eq!(reply.header("x-netlab-lab"), Some("unit-lab"));
}

#[tokio::test]
async fn a_bad_client_does_not_take_the_listeners_down() {
    let http = serve_one(ListenerProto::Http).await;
    let tcp = serve_one(ListenerProto::Tcp).await;
    let abuse = async {
        // Garbage instead of HTTP, then a hang-up mid-request.
        let mut s = TcpStream::connect(http).await?;
        s.write_all(b"\x00\xff\xfe not http at all\r\n\r\n").await?;
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink).await;
        let mut s = TcpStream::connect(http).await?;
        s.write_all(b"POST /echo HTTP/1.1\r\nContent-Length: 100000\r\n\r\nshort")
            .await?;
        drop(s);
        // A TCP client that leaves without reading its greeting.
        drop(TcpStream::connect(tcp).await?);
        std::io::Result::Ok(())
    };
    tokio::time::timeout(TEST_DEADLINE, abuse)
        .await
        .expect("no hang")
        .expect("abuse sent");
    let reply = http_exchange(
        http,
        "GET /whoami HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert!(matches!(
        one(Probe {
            id: 0,
            timeout_ms: 2000,
            capture: false,
            host_to_container: false,
            kind: ProbeKind::Tcp {
                addr: tcp,
                speak: Speak::Greeting,
                by_name: None,
            }
        })
        .await,
        Observation::Tcp(TcpObservation::Open { identity: Some(_) })
    ));
}

// --- DNS ------------------------------------------------------------------

const RCODE_SERVFAIL: u8 = 2;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_REFUSED: u8 = 5;
const TYPE_A: u16 = 1;

/// A DNS server for one zone's worth of test facts, built from raw bytes so
/// the test does not lean on the resolver's own message code:
/// `web` has two A records (loopback addresses) and nothing else, `nope`
/// does not exist, `broken` fails the server, `private` is refused.
async fn fake_dns() -> SocketAddr {
    let socket = UdpSocket::bind((LOOPBACK, 0)).await.expect("bind");
    let addr = socket.local_addr().expect("local addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            if let Some(reply) = fake_dns_reply(&buf[..n]) {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    });
    addr
}

fn fake_dns_reply(query: &[u8]) -> Option<Vec<u8>> {
    // Header (12 bytes), then one question: labels, a zero byte, type, class.
    let mut at = 12;
    let mut first_label = None;
    loop {
        let len = usize::from(*query.get(at)?);
        if len == 0 {
            break;
        }
        let label = query.get(at + 1..at + 1 + len)?;
        first_label.get_or_insert_with(|| String::from_utf8_lossy(label).to_ascii_lowercase());
        at += 1 + len;
    }
    let question_end = at + 1 + 4;
    let question = query.get(12..question_end)?;
    let qtype = u16::from_be_bytes([*query.get(at + 1)?, *query.get(at + 2)?]);

    let (rcode, answers): (u8, Vec<[u8; 4]>) = match first_label.as_deref() {
        Some("web") if qtype == TYPE_A => (0, vec![[127, 0, 0, 42], [127, 0, 0, 43]]),
        Some("web") => (0, vec![]),
        Some("broken") => (RCODE_SERVFAIL, vec![]),
        Some("private") => (RCODE_REFUSED, vec![]),
        _ => (RCODE_NXDOMAIN, vec![]),
    };
    let mut reply = Vec::with_capacity(question_end + answers.len() * 16);
    reply.extend_from_slice(query.get(..2)?); // the query's id
    reply.push(0x81); // QR, RD
    reply.push(0x80 | rcode); // RA, rcode
    reply.extend_from_slice(&1u16.to_be_bytes());
    reply.extend_from_slice(&u16::try_from(answers.len()).ok()?.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]); // no authority, no additional
    reply.extend_from_slice(question);
    for ip in answers {
        reply.extend_from_slice(&[0xc0, 12]); // the name: a pointer to the question's
        reply.extend_from_slice(&TYPE_A.to_be_bytes());
        reply.extend_from_slice(&1u16.to_be_bytes()); // IN
        reply.extend_from_slice(&60u32.to_be_bytes()); // TTL
        reply.extend_from_slice(&4u16.to_be_bytes());
        reply.extend_from_slice(&ip);
    }
    Some(reply)
}

/// What `/etc/resolv.conf` would say if the nameserver were `server`.
fn resolver_at(server: SocketAddr) -> ResolverConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    ResolverConfig::from_name_servers(vec![NameServerConfig::new(server.ip(), true, vec![udp])])
}

async fn ask(
    server: SocketAddr,
    name: &str,
    record: RecordType,
    deadline: Duration,
) -> DnsObservation {
    tokio::time::timeout(
        TEST_DEADLINE,
        dns(
            resolver_at(server),
            ResolverOpts::default(),
            name,
            record,
            deadline,
        ),
    )
    .await
    .expect("the probe keeps its own deadline")
}

#[tokio::test]
async fn dns_answers_are_every_address() {
    let server = fake_dns().await;
    let seen = ask(server, "web", RecordType::A, Duration::from_secs(2)).await;
    assert_eq!(
        seen,
        DnsObservation::Answers {
            addresses: vec![
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 42)),
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 43)),
            ]
        }
    );
}

#[tokio::test]
async fn dns_nxdomain_is_told_apart_from_no_records() {
    let server = fake_dns().await;
    let missing = ask(server, "nope", RecordType::A, Duration::from_secs(2)).await;
    assert_eq!(missing, DnsObservation::NxDomain);
    let no_aaaa = ask(server, "web", RecordType::Aaaa, Duration::from_secs(2)).await;
    assert_eq!(no_aaaa, DnsObservation::NoRecords);
}

#[tokio::test]
async fn dns_server_failure_and_refusal_are_answers_of_their_own() {
    // Docker 26+ answers SERVFAIL on an internal network: an answer, told
    // apart from silence.
    let server = fake_dns().await;
    let seen = ask(server, "broken", RecordType::A, Duration::from_secs(2)).await;
    assert_eq!(seen, DnsObservation::ServFail);
    let seen = ask(server, "private", RecordType::A, Duration::from_secs(2)).await;
    assert_eq!(seen, DnsObservation::Refused);
}

#[tokio::test]
async fn dns_silent_server_times_out_within_the_deadline() {
    // Like the embedded DNS on an internal network: it hears, never answers.
    let (_silent, server) = silent_udp().await;
    let started = Instant::now();
    let seen = ask(server, "web", RecordType::A, Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert_eq!(seen, DnsObservation::Timeout);
    assert!(took < Duration::from_millis(900), "took {took:?}");
}

#[test]
fn docker_embedded_dns_resolv_conf_is_understood() {
    let text = "# Generated by Docker Engine.\n\
                nameserver 127.0.0.11\n\
                options ndots:0\n";
    let (config, opts) = hickory_resolver::system_conf::parse_resolv_conf(text).expect("parses");
    assert_eq!(opts.ndots, 0);
    let servers = config.name_servers();
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0].ip, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11)));
    assert!(servers[0].connections.iter().all(|c| c.port == 53));
}

mod web {
    use super::*;
    use crate::agent::web_client as web;
    use crate::pki::LabCa;

    fn tls_config(ca: &LabCa, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let leaf = ca
            .leaf(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("leaf");
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("cert.pem"), leaf.cert_pem).expect("cert");
        std::fs::write(dir.path().join("key.pem"), leaf.key_pem).expect("key");
        super::super::serve::load_tls_config(dir.path()).expect("tls config")
    }

    async fn serve_https(ca: &LabCa) -> SocketAddr {
        let config = tls_config(ca, &["web", "www"]);
        super::super::serve::start(
            LOOPBACK,
            &[Listener {
                proto: ListenerProto::Https,
                port: 0,
            }],
            identity(),
            Some(config),
        )
        .await
        .expect("bind")[0]
    }

    #[tokio::test]
    async fn a_handshake_verifies_against_the_lab_ca_and_reports_its_phases() {
        let ca = LabCa::generate("lab-x", &["web".into(), "www".into()]).expect("ca");
        let addr = serve_https(&ca).await;
        let obs = web::tls(
            addr,
            "www",
            Some(&ca.cert_pem()),
            Duration::from_secs(3),
            None,
        )
        .await;
        assert_eq!(obs.outcome, TlsOutcome::Verified, "{obs:?}");
        assert_eq!(obs.subject.as_deref(), Some("CN=web, O=netlab"));
        assert_eq!(obs.version.as_deref(), Some("TLSv1_3"));
        assert!(
            obs.cipher
                .as_deref()
                .is_some_and(|c| c.starts_with("TLS13_")),
            "{obs:?}"
        );
        assert!(
            obs.connect_ms.is_some() && obs.handshake_ms.is_some() && obs.first_byte_ms.is_some(),
            "{obs:?}"
        );
        assert_eq!(
            obs.close_notify,
            Some(true),
            "hyper closes a Connection: close exchange with close_notify"
        );
    }

    #[tokio::test]
    async fn untrusted_wrong_name_and_no_tls_are_told_apart() {
        let ca = LabCa::generate("lab-x", &["web".into(), "www".into()]).expect("ca");
        let addr = serve_https(&ca).await;
        let other = LabCa::generate("other", &["web".into(), "www".into()]).expect("ca");
        let untrusted = web::tls(
            addr,
            "web",
            Some(&other.cert_pem()),
            Duration::from_secs(3),
            None,
        )
        .await;
        assert!(
            matches!(untrusted.outcome, TlsOutcome::Untrusted { .. }),
            "{untrusted:?}"
        );
        assert_eq!(
            untrusted.subject.as_deref(),
            Some("CN=web, O=netlab"),
            "the subject is reported even when untrusted"
        );
        let nothing = web::tls(addr, "web", None, Duration::from_secs(3), None).await;
        assert!(
            matches!(nothing.outcome, TlsOutcome::Untrusted { .. }),
            "{nothing:?}"
        );
        let wrong = web::tls(
            addr,
            "db",
            Some(&ca.cert_pem()),
            Duration::from_secs(3),
            None,
        )
        .await;
        assert!(
            matches!(wrong.outcome, TlsOutcome::WrongName { .. }),
            "{wrong:?}"
        );
        let plain = serve_one(ListenerProto::Tcp).await;
        let no_tls = web::tls(
            plain,
            "web",
            Some(&ca.cert_pem()),
            Duration::from_secs(3),
            None,
        )
        .await;
        assert!(
            matches!(no_tls.outcome, TlsOutcome::NoTls { .. }),
            "{no_tls:?}"
        );
        let closed = web::tls(
            closed_tcp_port().await,
            "web",
            None,
            Duration::from_secs(3),
            None,
        )
        .await;
        assert_eq!(closed.outcome, TlsOutcome::Refused);
    }

    fn hops(obs: &HttpObservation) -> Vec<(u16, &str, bool)> {
        obs.hops
            .iter()
            .map(|h| (h.status, h.method.as_str(), h.body_sent))
            .collect()
    }

    #[tokio::test]
    async fn redirects_change_or_keep_method_and_body_per_code() {
        let addr = serve_one(ListenerProto::Http).await;
        for (code, method_after, body_after) in [
            (301, "GET", false),
            (302, "GET", false),
            (303, "GET", false),
            (307, "POST", true),
            (308, "POST", true),
        ] {
            let url = format!("http://{addr}/redirect/{code}?to=/echo");
            let obs = web::http(
                &web::HttpRequest {
                    url: &url,
                    method: "POST",
                    body: Some("form"),
                    ca_pem: None,
                    max_redirects: 10,
                    follow_only: None,
                    recorder: None,
                    family: crate::vocab::IpFamily::V4,
                },
                Duration::from_secs(3),
            )
            .await;
            assert_eq!(obs.error, None);
            assert_eq!(
                hops(&obs),
                [(code, "POST", true), (200, method_after, body_after)],
                "{code}"
            );
            let echoed: serde_json::Value =
                serde_json::from_str(&obs.final_body).expect("echo JSON");
            assert_eq!(echoed["method"], method_after);
            assert_eq!(echoed["body"], if body_after { "form" } else { "" });
            assert_eq!(obs.hops[1].node.as_deref(), Some("web"));
        }
    }

    /// From the host, a redirect may lead to loopback and the lab only: one
    /// elsewhere is the last hop, and nothing is sent there.
    #[tokio::test]
    async fn from_the_host_a_redirect_elsewhere_is_reported_not_followed() {
        let addr = serve_one(ListenerProto::Http).await;
        let outside = "http://192.0.2.55/x";
        let from_host = |url: String| async move {
            web::http(
                &web::HttpRequest {
                    url: &url,
                    method: "GET",
                    body: None,
                    ca_pem: None,
                    max_redirects: 10,
                    follow_only: Some(&FollowOnly::default()),
                    recorder: None,
                    family: crate::vocab::IpFamily::V4,
                },
                Duration::from_secs(3),
            )
            .await
        };
        let obs = from_host(format!("http://{addr}/redirect/302?to={outside}")).await;
        assert_eq!(obs.error, None);
        assert_eq!(hops(&obs), [(302, "GET", false)]);
        let note = obs.note.expect("a note");
        assert!(note.contains("was not followed"), "{note}");
        // Loopback stays allowed.
        let obs = from_host(format!("http://{addr}/redirect/302?to=http://{addr}/echo")).await;
        assert_eq!(hops(&obs), [(302, "GET", false), (200, "GET", false)]);
    }

    #[tokio::test]
    async fn a_session_survives_post_redirect_get_and_a_loop_is_stopped() {
        let addr = serve_one(ListenerProto::Http).await;
        let obs = web::http(
            &web::HttpRequest {
                url: &format!("http://{addr}/session/login"),
                method: "POST",
                body: Some("user=a"),
                ca_pem: None,
                max_redirects: 10,
                follow_only: None,
                recorder: None,
                family: crate::vocab::IpFamily::V4,
            },
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(hops(&obs), [(303, "POST", true), (200, "GET", false)]);
        let whoami: serde_json::Value = serde_json::from_str(&obs.final_body).expect("JSON");
        assert!(
            whoami["session"]
                .as_str()
                .is_some_and(|s| s.starts_with("web-")),
            "{whoami}"
        );
        // Two redirects in a row against a limit of one.
        let looped = web::http(
            &web::HttpRequest {
                url: &format!("http://{addr}/redirect/302?to=/redirect/302"),
                method: "GET",
                body: None,
                ca_pem: None,
                max_redirects: 1,
                follow_only: None,
                recorder: None,
                family: crate::vocab::IpFamily::V4,
            },
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(
            looped.error.as_deref(),
            Some("stopped after 1 redirects (a redirect loop?)")
        );
        assert_eq!(hops(&looped), [(302, "GET", false), (302, "GET", false)]);
    }

    #[tokio::test]
    async fn http_follows_a_redirect_to_https_on_the_lab_ca() {
        let ca = LabCa::generate("lab-x", &["web".into(), "www".into()]).expect("ca");
        let https = serve_https(&ca).await;
        let http = serve_one(ListenerProto::Http).await;
        // The hop to https reaches the listener by address, which the node's
        // certificate does not name: the cross-scheme hop is made, and fails
        // on the name as it must.
        let url = format!("http://{http}/redirect/301?to=https://{https}/whoami");
        let obs = web::http(
            &web::HttpRequest {
                url: &url,
                method: "GET",
                body: None,
                ca_pem: Some(&ca.cert_pem()),
                max_redirects: 10,
                follow_only: None,
                recorder: None,
                family: crate::vocab::IpFamily::V4,
            },
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(obs.hops.len(), 1);
        assert!(
            obs.error
                .as_deref()
                .is_some_and(|e| e.contains("TLS with 127.0.0.1")),
            "{obs:?}"
        );
    }
}
