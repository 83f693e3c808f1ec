//! `netlab agent probe`: run a batch of probes concurrently, each bounded by
//! its own deadline, and report raw observations. Runs inside a node (via
//! exec) or in the netlab process for `from: host`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::proto::rr::{RData, RecordType as HickoryRecordType};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};

use super::protocol::*;
use super::resolve::{classify_dns_error, dns, fresh_resolver, system_resolver_config};
use super::web_client;

/// How long a TCP probe waits for the agent's greeting once connected.
const GREETING_WAIT: Duration = Duration::from_secs(1);
/// UDP loses datagrams: resend this often while waiting for an answer.
const UDP_RESEND: Duration = Duration::from_millis(250);

pub async fn run_batch(batch: &ProbeBatch) -> ProbeReport {
    let results = futures::future::join_all(batch.probes.iter().map(|p| async move {
        let started = Instant::now();
        let observation = run(p).await;
        ProbeResult {
            id: p.id(),
            observation,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
    }))
    .await;
    ProbeReport { results }
}

async fn run(probe: &Probe) -> Observation {
    let deadline = Duration::from_millis(probe.timeout_ms());
    match probe {
        Probe::Dns { name, record, .. } => Observation::Dns(match system_resolver_config() {
            Ok((config, opts)) => dns(config, opts, name, *record, deadline).await,
            Err(message) => DnsObservation::Error { message },
        }),
        Probe::Tcp { addr, .. } => Observation::Tcp(tcp(*addr, deadline).await),
        Probe::Udp { addr, .. } => Observation::Udp(udp(*addr, deadline).await),
        Probe::Mtu { address, .. } => Observation::Mtu(mtu(*address)),
        Probe::Tls {
            addr, sni, ca_pem, ..
        } => Observation::Tls(web_client::tls(*addr, sni, ca_pem.as_deref(), deadline).await),
        Probe::Http {
            url,
            method,
            body,
            ca_pem,
            max_redirects,
            ..
        } => Observation::Http(
            web_client::http(
                url,
                method,
                body.as_deref(),
                ca_pem.as_deref(),
                *max_redirects,
                deadline,
            )
            .await,
        ),
        Probe::Spread {
            name,
            port,
            connections,
            ..
        } => Observation::Spread(match system_resolver_config() {
            Ok((config, opts)) => spread(config, opts, name, *port, *connections, deadline).await,
            Err(message) => SpreadObservation {
                answered: Vec::new(),
                failures: vec![message],
            },
        }),
    }
}

pub async fn tcp(addr: SocketAddr, deadline: Duration) -> TcpObservation {
    let started = Instant::now();
    let mut stream = match tokio::time::timeout(deadline, TcpStream::connect(addr)).await {
        Err(_) => return TcpObservation::Timeout,
        Ok(Err(e)) => return classify_tcp_error(&e),
        Ok(Ok(s)) => s,
    };
    let left = deadline
        .saturating_sub(started.elapsed())
        .min(GREETING_WAIT);
    let identity = match tokio::time::timeout(left, read_line(&mut stream)).await {
        Ok(Some(line)) => Identity::parse_greeting(&line),
        _ => None,
    };
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

fn classify_tcp_error(e: &std::io::Error) -> TcpObservation {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => TcpObservation::Refused,
        ErrorKind::TimedOut => TcpObservation::Timeout,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => TcpObservation::Unreachable {
            message: e.to_string(),
        },
        _ => TcpObservation::Error {
            message: e.to_string(),
        },
    }
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
    if let Err(e) = socket.connect(addr).await {
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
                .lookup(name, HickoryRecordType::A)
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
            match tcp(SocketAddr::new(first, port), left).await {
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
