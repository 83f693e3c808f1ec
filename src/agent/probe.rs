//! The probes: run a batch concurrently, each bounded by its own deadline,
//! and report raw observations. Runs in the agent of a node, of a node's
//! probe helper, or of a Docker host's host-network helper.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::proto::rr::{RData, RecordType as HickoryRecordType};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};

use super::protocol::*;
use super::reach::NameServerReach;
use super::resolve::{
    Unaimed, aimed, classify_dns_error, dns, fresh_resolver, system_resolver_config,
};
use super::web_client;
use crate::capture::{Filter, Recorder};
use crate::vocab::{RecordType, Transport};

/// The least time a TCP probe waits for the agent's greeting once
/// connected, even when the connect took nearly all of its deadline: an
/// agent greets at once, but a loaded machine may take a moment.
const GREETING_WAIT: Duration = Duration::from_millis(500);
/// UDP loses datagrams: resend this often while waiting for an answer.
const UDP_RESEND: Duration = Duration::from_millis(250);

pub async fn run_batch(batch: &ProbeBatch) -> ProbeReport {
    let name_servers = NameServerReach::default();
    let name_servers = &name_servers;
    let results = futures::future::join_all(batch.probes.iter().map(|p| async move {
        let (observation, capture, took) = run_recorded(p, name_servers).await;
        ProbeResult {
            id: p.id,
            observation,
            elapsed_ms: took.as_secs_f64() * 1000.0,
            capture,
        }
    }))
    .await;
    ProbeReport { results }
}

/// Runs a probe, recording its packets when asked: without a packet
/// socket (no CAP_NET_RAW) it still runs, and says why there is no record.
/// Returns how long the probe itself took (not its wait for its turn to
/// be recorded).
async fn run_recorded(
    probe: &Probe,
    name_servers: &NameServerReach,
) -> (Observation, Option<CaptureResult>, Duration) {
    if !probe.capture {
        let started = Instant::now();
        return (
            run(probe, None, name_servers).await,
            None,
            started.elapsed(),
        );
    }
    // Only an http probe looks names up; a tcp or tls probe knows its
    // address, and DNS of the namespace is not its own.
    let (remotes, dns_names) = match &probe.kind {
        ProbeKind::Tcp { addr, .. } | ProbeKind::Tls { addr, .. } => (vec![*addr], Vec::new()),
        ProbeKind::Http { url, .. } => (
            Vec::new(),
            url::Url::parse(url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .into_iter()
                .collect(),
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let filter = Filter {
        remotes,
        dns_servers: resolvers(),
        dns: !dns_names.is_empty(),
        dns_names,
    };
    // One recording at a time: a packet socket sees the whole namespace,
    // and two recordings side by side would see each other's probe.
    let _turn = RECORDING.lock().await;
    let started = Instant::now();
    match Recorder::start(filter) {
        Ok(recorder) => {
            let observation = run(probe, Some(&recorder), name_servers).await;
            let took = started.elapsed();
            let capture = recorder.finish().await;
            (observation, Some(CaptureResult::Recorded { capture }), took)
        }
        Err(e) => {
            let observation = run(probe, None, name_servers).await;
            let unavailable = CaptureResult::Unavailable {
                reason: e.to_string(),
            };
            (observation, Some(unavailable), started.elapsed())
        }
    }
}

static RECORDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a probe that was not sent saw: no way there (`why` says which).
fn not_sent(kind: &ProbeKind, why: String) -> Observation {
    match kind {
        ProbeKind::Udp { .. } => Observation::Udp(UdpObservation::Unreachable { message: why }),
        ProbeKind::Tls { .. } => {
            Observation::Tls(TlsObservation::only(TlsOutcome::Error { message: why }))
        }
        ProbeKind::Echo { target, .. } => Observation::Echo(EchoObservation {
            target: Some(*target),
            sent: 0,
            rtts_us: Vec::new(),
            duplicates: 0,
            waited_ms: 0,
            method: String::new(),
            error: Some(why),
        }),
        ProbeKind::Http { .. } => Observation::Http(HttpObservation {
            hops: Vec::new(),
            final_body: String::new(),
            error: Some(why),
            note: None,
        }),
        _ => Observation::Tcp(TcpObservation::Unreachable { message: why }),
    }
}

/// The name servers of resolv.conf: DNS to them is the probe's too.
fn resolvers() -> Vec<IpAddr> {
    system_resolver_config()
        .map(|(config, _)| config.name_servers().iter().map(|s| s.ip).collect())
        .unwrap_or_default()
}

async fn run(
    probe: &Probe,
    recorder: Option<&Recorder>,
    name_servers: &NameServerReach,
) -> Observation {
    let deadline = Duration::from_millis(probe.timeout_ms);
    if probe.host_to_container
        && let Some(why) = probe
            .kind
            .destination()
            .and_then(super::host_route::off_machine)
    {
        return not_sent(&probe.kind, why);
    }
    match &probe.kind {
        ProbeKind::Dns {
            name,
            record,
            control,
        } => Observation::Dns(
            dns_with_control(name, *record, control.as_ref(), deadline, name_servers).await,
        ),
        ProbeKind::Tcp {
            addr,
            speak,
            by_name,
        } => Observation::Tcp(match aimed(*addr, by_name.as_ref(), deadline).await {
            Ok((addr, left)) => tcp_recorded(addr, speak, left, recorder).await,
            Err(Unaimed::Unresolved(message)) => TcpObservation::Unreachable { message },
            Err(Unaimed::Refused(message)) => TcpObservation::Error { message },
        }),
        ProbeKind::Udp { addr, by_name } => {
            Observation::Udp(match aimed(*addr, by_name.as_ref(), deadline).await {
                Ok((addr, left)) => udp(addr, left).await,
                Err(Unaimed::Unresolved(message)) => UdpObservation::Unreachable { message },
                Err(Unaimed::Refused(message)) => UdpObservation::Error { message },
            })
        }
        ProbeKind::Mtu { address } => Observation::Mtu(mtu(*address)),
        ProbeKind::Egress { target } => Observation::Egress(super::egress::route_out(*target)),
        ProbeKind::Link { address, peer } => {
            let (address, peer) = (*address, *peer);
            Observation::Link(
                tokio::task::spawn_blocking(move || super::link::observe(address, peer, deadline))
                    .await
                    .unwrap_or_else(|e| super::link::LinkObservation::Error {
                        message: format!("the link probe stopped: {e}"),
                    }),
            )
        }
        ProbeKind::PathMtu { target } => {
            Observation::PathMtu(match crate::capture::pmtu::icmp_available(*target) {
                Err(message) => PathMtuObservation::Unavailable { message },
                Ok(()) => match crate::capture::pmtu::measure(*target, deadline).await {
                    Ok(path) => PathMtuObservation::Measured { path },
                    Err(message) => PathMtuObservation::Failed { message },
                },
            })
        }
        ProbeKind::Tls {
            addr,
            sni,
            ca_pem,
            by_name,
        } => Observation::Tls(match aimed(*addr, by_name.as_ref(), deadline).await {
            Ok((addr, left)) => web_client::tls(addr, sni, ca_pem.as_deref(), left, recorder).await,
            Err(Unaimed::Unresolved(message) | Unaimed::Refused(message)) => {
                TlsObservation::only(TlsOutcome::Error { message })
            }
        }),
        ProbeKind::Http {
            url,
            method,
            body,
            ca_pem,
            max_redirects,
            follow_only,
            family,
        } => Observation::Http(
            web_client::http(
                &web_client::HttpRequest {
                    url,
                    method,
                    body: body.as_deref(),
                    ca_pem: ca_pem.as_deref(),
                    max_redirects: *max_redirects,
                    follow_only: follow_only.as_deref(),
                    recorder,
                    family: family.unwrap_or(crate::vocab::IpFamily::V4),
                },
                deadline,
            )
            .await,
        ),
        ProbeKind::Spread {
            name,
            port,
            connections,
            speak,
        } => Observation::Spread(match system_resolver_config() {
            Ok((config, opts)) => {
                spread(config, opts, name, *port, *connections, speak, deadline).await
            }
            Err(message) => SpreadObservation {
                answered: Vec::new(),
                failures: vec![message],
            },
        }),
        ProbeKind::Published {
            ip,
            port,
            transport,
            speak,
            also_external,
            also,
        } => Observation::Published {
            attempts: published(
                SocketAddr::new(*ip, *port),
                also,
                *transport,
                speak,
                *also_external,
                deadline,
            )
            .await,
        },
        ProbeKind::Bind { addr, transport } => Observation::Bind(bind(*addr, *transport)),
        ProbeKind::Interfaces => Observation::Interfaces {
            addresses: interfaces(),
        },
        ProbeKind::Routes6 => Observation::Routes6 {
            prefixes: super::routes6::prefixes(),
        },
        ProbeKind::Echo {
            target,
            count,
            interval_us,
        } => Observation::Echo(
            super::echo::measure(
                *target,
                *count,
                Duration::from_micros(*interval_us),
                deadline,
            )
            .await,
        ),
        ProbeKind::Routes => Observation::Routes {
            routes: super::routes::routes(),
        },
    }
}

/// The name asked, and beside it the control name and a query to each name
/// server on a socket of its own: when the answer is silence, only a
/// control that was answered shows the resolver alive, and only name
/// servers that cannot be reached show there is none.
async fn dns_with_control(
    name: &str,
    record: RecordType,
    control: Option<&DnsControl>,
    deadline: Duration,
    name_servers: &NameServerReach,
) -> DnsReport {
    let (config, opts) = match system_resolver_config() {
        Ok(c) => c,
        Err(message) => {
            return DnsReport {
                answer: DnsObservation::Unavailable { message },
                control: None,
                resolvers: name_servers.resolvers(name, deadline).await,
            };
        }
    };
    let answer = dns(config.clone(), opts.clone(), name, record, deadline);
    let control_name = control.map(|c| c.name.as_str()).unwrap_or(name);
    let control = async {
        match control {
            Some(c) => Some(dns(config, opts, &c.name, c.record, deadline).await),
            None => None,
        }
    };
    let resolvers = name_servers.resolvers(control_name, deadline);
    let (answer, control, resolvers) = tokio::join!(answer, control, resolvers);
    DnsReport {
        answer,
        control,
        resolvers,
    }
}

/// A published port tried at `at` and, for a binding on all addresses, at
/// this host's first external IPv4 address too, and at the bindings of
/// the other family (`also`): each must lead to the node.
async fn published(
    at: SocketAddr,
    also: &[SocketAddr],
    transport: Transport,
    speak: &Speak,
    also_external: bool,
    deadline: Duration,
) -> Vec<PortAttempt> {
    let (ip, port) = (at.ip(), at.port());
    let mut addrs = vec![at];
    if also_external {
        match external_address(&interfaces()) {
            Some(external) => addrs.push(SocketAddr::new(external, port)),
            None => {
                return vec![PortAttempt {
                    addr: SocketAddr::new(ip, port),
                    answer: PortAnswer::Nothing {
                        detail: "this host has no address but loopback to try the binding on all addresses".into(),
                    },
                }];
            }
        }
    }
    addrs.extend(also.iter().copied());
    let attempts = addrs.into_iter().map(|addr| async move {
        let answer = match (transport, speak) {
            (Transport::Udp, _) => match udp(addr, deadline).await {
                UdpObservation::Answered { identity } => PortAnswer::Answered { identity },
                UdpObservation::Unrecognised { reply } => PortAnswer::Anonymous {
                    detail: format!("answered, but not by an agent: {reply:?}"),
                },
                other => PortAnswer::Nothing {
                    detail: udp_words(&other),
                },
            },
            (Transport::Tcp, Speak::Greeting) => match tcp(addr, deadline).await {
                TcpObservation::Open {
                    identity: Some(identity),
                } => PortAnswer::Answered { identity },
                TcpObservation::Open { identity: None } => PortAnswer::Anonymous {
                    detail: "open, but no agent greeting".into(),
                },
                other => PortAnswer::Nothing {
                    detail: tcp_words(&other),
                },
            },
            (Transport::Tcp, Speak::Http) => {
                whoami_answer(web_client::whoami(addr, None, deadline).await)
            }
            (Transport::Tcp, Speak::Https { sni, ca_pem }) => whoami_answer(
                web_client::whoami(addr, Some((sni, ca_pem.as_deref())), deadline).await,
            ),
        };
        PortAttempt { addr, answer }
    });
    futures::future::join_all(attempts).await
}

fn whoami_answer(result: Result<Identity, String>) -> PortAnswer {
    match result {
        Ok(identity) => PortAnswer::Answered { identity },
        Err(detail) if detail.contains("refused") || detail.contains("deadline") => {
            PortAnswer::Nothing { detail }
        }
        Err(detail) => PortAnswer::Anonymous { detail },
    }
}

fn tcp_words(o: &TcpObservation) -> String {
    match o {
        TcpObservation::Refused => "refused".into(),
        TcpObservation::Timeout => "no answer before the deadline".into(),
        TcpObservation::Unreachable { message } => format!("unreachable ({message})"),
        TcpObservation::Error { message } => format!("error: {message}"),
        TcpObservation::Open { .. } => "open".into(),
    }
}

fn udp_words(o: &UdpObservation) -> String {
    match o {
        UdpObservation::Refused => "refused (ICMP port unreachable)".into(),
        UdpObservation::Timeout => "no answer before the deadline".into(),
        UdpObservation::Error { message } => format!("error: {message}"),
        UdpObservation::Unreachable { message } => format!("unreachable ({message})"),
        UdpObservation::Answered { .. } | UdpObservation::Unrecognised { .. } => "answered".into(),
    }
}

/// The first IPv4 address of an interface that is not loopback and not one
/// of Docker's own: what a host shows the rest of its network.
pub fn external_address(interfaces: &[InterfaceAddress]) -> Option<IpAddr> {
    interfaces
        .iter()
        .filter(|i| !i.address.is_loopback() && i.address.is_ipv4())
        .filter(|i| {
            let n = i.interface.as_str();
            !(n.starts_with("docker") || n.starts_with("br-") || n.starts_with("veth"))
        })
        .map(|i| i.address)
        .next()
}

/// Whether this network namespace can take `addr` now.
pub fn bind(addr: SocketAddr, transport: Transport) -> BindObservation {
    let bound = match transport {
        Transport::Tcp => std::net::TcpListener::bind(addr).map(drop),
        Transport::Udp => std::net::UdpSocket::bind(addr).map(drop),
    };
    match bound {
        Ok(()) => BindObservation::Free,
        Err(e) => BindObservation::Taken {
            message: e.to_string(),
        },
    }
}

/// Every address of every interface, loopback included (IPv6 link-local
/// ones left out: they need a zone to mean anything).
pub fn interfaces() -> Vec<InterfaceAddress> {
    if_addrs::get_if_addrs()
        .map(|list| {
            list.into_iter()
                .filter(|i| match i.ip() {
                    IpAddr::V4(_) => true,
                    IpAddr::V6(v6) => !v6.is_unicast_link_local(),
                })
                .map(|i| InterfaceAddress {
                    address: i.ip(),
                    interface: i.name,
                })
                .collect()
        })
        .unwrap_or_default()
}

pub async fn tcp(addr: SocketAddr, deadline: Duration) -> TcpObservation {
    tcp_recorded(addr, &Speak::Greeting, deadline, None).await
}

/// A TCP probe; a recorder is told which connection is the probe's. A
/// web listener sends no greeting: it is asked `GET /whoami` on the same
/// connection (over TLS on the lab CA for https).
async fn tcp_recorded(
    addr: SocketAddr,
    speak: &Speak,
    deadline: Duration,
    recorder: Option<&Recorder>,
) -> TcpObservation {
    let started = Instant::now();
    let mut stream = match tokio::time::timeout(deadline, TcpStream::connect(addr)).await {
        Err(_) => return TcpObservation::Timeout,
        Ok(Err(e)) => return classify_tcp_error(&e, addr),
        Ok(Ok(s)) => s,
    };
    if let (Some(r), Ok(local)) = (recorder, stream.local_addr()) {
        r.pin_local(local);
    }
    let left = deadline
        .saturating_sub(started.elapsed())
        .max(GREETING_WAIT);
    let tls = match speak {
        Speak::Greeting => {
            let identity = match tokio::time::timeout(left, read_line(&mut stream)).await {
                Ok(Some(line)) => Identity::parse_greeting(&line),
                _ => None,
            };
            return TcpObservation::Open { identity };
        }
        Speak::Http => None,
        Speak::Https { sni, ca_pem } => Some((sni.as_str(), ca_pem.as_deref())),
    };
    let identity = tokio::time::timeout(left, web_client::whoami_on(stream, addr, tls))
        .await
        .ok()
        .and_then(Result::ok);
    TcpObservation::Open { identity }
}

/// The first line the server sends, up to 256 bytes.
async fn read_line(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(256);
    let mut byte = [0u8; 256];
    while buf.len() < 256 {
        let n = stream.read(&mut byte).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&byte[..n]);
        if buf.contains(&b'\n') {
            break;
        }
    }
    let line = buf.split(|b| *b == b'\n').next()?;
    Some(String::from_utf8_lossy(line).into_owned())
}

fn classify_tcp_error(e: &std::io::Error, addr: SocketAddr) -> TcpObservation {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => TcpObservation::Refused,
        ErrorKind::TimedOut => TcpObservation::Timeout,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => TcpObservation::Unreachable {
            message: e.to_string(),
        },
        ErrorKind::AddrNotAvailable if no_source_address(addr) => TcpObservation::Unreachable {
            message: no_source_words(addr),
        },
        _ => TcpObservation::Error {
            message: e.to_string(),
        },
    }
}

/// Whether this namespace has no address of `addr`'s family to send from
/// (loopback aside): a node without IPv6 cannot reach an IPv6 address at
/// all — a fact about the network, not a failure of the probe.
fn no_source_address(addr: SocketAddr) -> bool {
    if addr.ip().is_loopback() {
        return false;
    }
    !interfaces()
        .iter()
        .any(|i| !i.address.is_loopback() && i.address.is_ipv4() == addr.is_ipv4())
}

fn no_source_words(addr: SocketAddr) -> String {
    let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
    format!("no route: this node has no {family} address to send from")
}

pub async fn udp(addr: SocketAddr, deadline: Duration) -> UdpObservation {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => {
            return UdpObservation::Error {
                message: format!("cannot bind: {e}"),
            };
        }
    };
    let unreachable = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable
        )
    };
    if let Err(e) = socket.connect(addr).await {
        // No route there (a node without IPv6 asked for an IPv6 address).
        if unreachable(&e) {
            return UdpObservation::Unreachable {
                message: e.to_string(),
            };
        }
        if e.kind() == std::io::ErrorKind::AddrNotAvailable && no_source_address(addr) {
            return UdpObservation::Unreachable {
                message: no_source_words(addr),
            };
        }
        return UdpObservation::Error {
            message: format!("cannot connect: {e}"),
        };
    }
    let exchange = async {
        let mut buf = [0u8; 2048];
        loop {
            if let Err(e) = socket.send(b"netlab-probe\n").await {
                return match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => UdpObservation::Refused,
                    _ if unreachable(&e) => UdpObservation::Unreachable {
                        message: e.to_string(),
                    },
                    _ => UdpObservation::Error {
                        message: e.to_string(),
                    },
                };
            }
            match tokio::time::timeout(UDP_RESEND, socket.recv(&mut buf)).await {
                Err(_) => continue,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return UdpObservation::Refused;
                }
                Ok(Err(e)) => {
                    return UdpObservation::Error {
                        message: e.to_string(),
                    };
                }
                Ok(Ok(n)) => {
                    let reply = String::from_utf8_lossy(&buf[..n]);
                    return match Identity::parse_greeting(reply.lines().next().unwrap_or_default())
                    {
                        Some(identity) => UdpObservation::Answered { identity },
                        None => UdpObservation::Unrecognised {
                            reply: reply.chars().take(80).collect(),
                        },
                    };
                }
            }
        }
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or(UdpObservation::Timeout)
}

/// The MTU of the interface holding `address`, from sysfs.
pub fn mtu(address: IpAddr) -> MtuObservation {
    let interfaces = match if_addrs::get_if_addrs() {
        Ok(i) => i,
        Err(e) => {
            return MtuObservation::Error {
                message: format!("cannot list interfaces: {e}"),
            };
        }
    };
    let Some(interface) = interfaces.into_iter().find(|i| i.ip() == address) else {
        return MtuObservation::NotFound;
    };
    let path = format!("/sys/class/net/{}/mtu", interface.name);
    match std::fs::read_to_string(&path).map(|t| t.trim().parse::<u32>()) {
        Ok(Ok(mtu)) => MtuObservation::Found {
            interface: interface.name,
            mtu,
        },
        Ok(Err(e)) => MtuObservation::Error {
            message: format!("{path}: {e}"),
        },
        Err(e) => MtuObservation::Error {
            message: format!("cannot read {path}: {e}"),
        },
    }
}

/// Connects `connections` times to `name:port`, one after another, each time
/// resolving the name anew and taking the first answer, as an ordinary
/// client does; counts which node answered. The deadline covers them all.
pub async fn spread(
    config: ResolverConfig,
    opts: ResolverOpts,
    name: &str,
    port: u16,
    connections: u32,
    speak: &Speak,
    deadline: Duration,
) -> SpreadObservation {
    let mut out = SpreadObservation::default();
    let resolver = match fresh_resolver(config, opts, deadline) {
        Ok(r) => r,
        Err(message) => {
            out.failures.push(message);
            return out;
        }
    };
    let started = Instant::now();
    for _ in 0..connections {
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            out.failures
                .push("the deadline passed before this connection".into());
            continue;
        }
        let attempt = async {
            let lookup = resolver
                .lookup(super::resolve::dns_name(name)?, HickoryRecordType::A)
                .await
                .map_err(|e| format!("{:?}", classify_dns_error(&e)))?;
            let first = lookup
                .answers()
                .iter()
                .find_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    _ => None,
                })
                .ok_or_else(|| "no address in the answer".to_owned())?;
            match tcp_recorded(SocketAddr::new(first, port), speak, left, None).await {
                TcpObservation::Open { identity: Some(id) } => Ok(id),
                other => Err(format!("{first}: {other:?}")),
            }
        };
        match tokio::time::timeout(left, attempt).await {
            Ok(Ok(id)) => match out.answered.iter_mut().find(|(known, _)| *known == id) {
                Some((_, n)) => *n += 1,
                None => out.answered.push((id, 1)),
            },
            Ok(Err(why)) => out.failures.push(why),
            Err(_) => out.failures.push("no answer before the deadline".into()),
        }
    }
    out
}
