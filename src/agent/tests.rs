//! The agent against itself on loopback: listeners, probes and their
//! classification of what came back. No Docker, no address but 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::probe;
use super::protocol::*;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn identity() -> Arc<Identity> {
    Arc::new(Identity {
        lab: "lab-x".into(),
        node: "web".into(),
    })
}

/// Serves one listener of that protocol on an ephemeral loopback port.
async fn start(proto: ListenerProto) -> SocketAddr {
    super::serve::start(LOOPBACK, &[Listener { proto, port: 0 }], identity())
        .await
        .expect("bind on loopback")[0]
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn greeting_round_trips_and_rejects_strangers() {
    let id = identity();
    assert_eq!(id.greeting(), "netlab-agent lab=lab-x node=web\n");
    assert_eq!(
        Identity::parse_greeting(&id.greeting()),
        Some((*id).clone())
    );
    assert_eq!(Identity::parse_greeting("SSH-2.0-OpenSSH_9.2"), None);
    assert_eq!(Identity::parse_greeting("netlab-agent lab=x"), None);
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
async fn tcp_open_greets_with_identity_then_echoes() {
    let addr = start(ListenerProto::Tcp).await;
    let seen = probe::tcp(addr, Duration::from_secs(2)).await;
    assert_eq!(
        seen,
        TcpObservation::Open {
            identity: Some((*identity()).clone())
        }
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut greeting = vec![0u8; identity().greeting().len()];
    stream.read_exact(&mut greeting).await.expect("greeting");
    stream.write_all(b"ping").await.expect("write");
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await.expect("echo");
    assert_eq!(&echo, b"ping");
}

#[tokio::test]
async fn tcp_to_a_closed_port_is_refused() {
    let addr = SocketAddr::new(LOOPBACK, closed_port());
    assert_eq!(
        probe::tcp(addr, Duration::from_secs(2)).await,
        TcpObservation::Refused
    );
}

#[tokio::test]
async fn tcp_to_a_silent_server_is_open_without_identity() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
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

#[tokio::test]
async fn udp_is_answered_with_identity() {
    let addr = start(ListenerProto::Udp).await;
    assert_eq!(
        probe::udp(addr, Duration::from_secs(2)).await,
        UdpObservation::Answered {
            identity: (*identity()).clone()
        }
    );
}

#[tokio::test]
async fn udp_to_nothing_is_refused_or_times_out_within_the_deadline() {
    let addr = SocketAddr::new(LOOPBACK, closed_port());
    let started = Instant::now();
    let seen = probe::udp(addr, Duration::from_millis(300)).await;
    assert!(
        matches!(seen, UdpObservation::Refused | UdpObservation::Timeout),
        "{seen:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(800));
}

#[tokio::test]
async fn a_batch_runs_concurrently_and_keeps_order() {
    // Three probes that each wait out a 300 ms deadline against a silent socket.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = silent.local_addr().expect("addr");
    let batch = ProbeBatch {
        probes: (0..3)
            .map(|id| Probe::Udp {
                id: 10 + id,
                addr,
                timeout_ms: 300,
            })
            .collect(),
    };
    let started = Instant::now();
    let report = super::run_batch(&batch).await;
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        report.results.iter().map(|r| r.id).collect::<Vec<_>>(),
        [10, 11, 12]
    );
    assert!(
        report
            .results
            .iter()
            .all(|r| r.observation == Observation::Udp(UdpObservation::Timeout))
    );
}

#[tokio::test]
async fn http_whoami_and_echo_answer_as_the_node() {
    let addr = start(ListenerProto::Http).await;
    let request = |raw: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(raw.as_bytes()).await.expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("read");
        out
    };
    let whoami = request("GET /whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(whoami.starts_with("HTTP/1.1 200"), "{whoami}");
    assert!(whoami.contains("x-netlab-node: web"), "{whoami}");
    assert!(whoami.contains(r#""node":"web""#), "{whoami}");
    let echo = request(
        "POST /echo?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert!(
        echo.contains(r#""method":"POST""#)
            && echo.contains(r#""body":"hello""#)
            && echo.contains(r#""query":"a=1""#),
        "{echo}"
    );
    let missing = request("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
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
    assert_eq!(
        probe::mtu("192.0.2.123".parse().expect("ip")),
        MtuObservation::NotFound
    );
}

/// A DNS server on loopback that answers `web.` with 10.9.8.7, says NXDOMAIN
/// to everything else, or never answers at all.
async fn fake_dns(answer: bool) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
            if !answer || n < 12 {
                continue;
            }
            let query = &buf[..n];
            let question_end = 12 + query[12..].iter().position(|b| *b == 0).unwrap_or(0) + 5;
            let known = query[12..question_end].starts_with(b"\x03web\x00");
            let mut reply = Vec::from(&query[..2]);
            reply.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]); // QR, RD, RA; rcode 0 or 3
            reply.extend_from_slice(&[0, 1, 0, u8::from(known), 0, 0, 0, 0]);
            reply.extend_from_slice(&query[12..question_end]);
            if known {
                reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, 8, 7]);
            }
            let _ = socket.send_to(&reply, peer).await;
        }
    });
    addr
}

fn resolver_for(server: SocketAddr) -> (ResolverConfig, ResolverOpts) {
    let mut ns = NameServerConfig::udp(server.ip());
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    ns.connections = vec![udp];
    (
        ResolverConfig::from_parts(None, Vec::new(), vec![ns]),
        ResolverOpts::default(),
    )
}

#[tokio::test]
async fn dns_answers_nxdomain_and_timeout_are_told_apart() {
    let (config, opts) = resolver_for(fake_dns(true).await);
    assert_eq!(
        probe::dns(
            config.clone(),
            opts.clone(),
            "web.",
            RecordType::A,
            Duration::from_secs(2)
        )
        .await,
        DnsObservation::Answers {
            addresses: vec!["10.9.8.7".parse().expect("ip")]
        }
    );
    assert_eq!(
        probe::dns(
            config,
            opts,
            "nobody.",
            RecordType::A,
            Duration::from_secs(2)
        )
        .await,
        DnsObservation::NxDomain
    );

    let (config, opts) = resolver_for(fake_dns(false).await);
    let started = Instant::now();
    assert_eq!(
        probe::dns(
            config,
            opts,
            "web.",
            RecordType::A,
            Duration::from_millis(300)
        )
        .await,
        DnsObservation::Timeout
    );
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "took {:?}",
        started.elapsed()
    );
}
