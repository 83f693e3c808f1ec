//! `netlab agent serve`: the listeners of a node. Every TCP connection and
//! UDP datagram is answered with the node's identity first, so a check that
//! sees "open" knows *which* node answered, not merely that something did.
//! Runs as PID 1 in a scratch container, so it handles SIGTERM itself.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::protocol::{Identity, READY_LINE, TLS_DIR};
use crate::vocab::{Listener, ListenerProto};

/// An idle client is dropped after this, so abandoned connections cannot
/// pile up in a long-running lab.
const IDLE: Duration = Duration::from_secs(120);

/// A client that stops reading is given up after this, so a full send
/// buffer cannot park a connection task forever.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// A TLS client gets this long to finish its handshake.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

pub async fn serve(identity: Identity, listeners: Vec<Listener>) -> anyhow::Result<()> {
    // PID 1 has no default signal dispositions: a SIGTERM that arrives before
    // the handlers exist would be ignored and `docker stop` would wait for
    // its SIGKILL. So the handlers come first, before netlab can see "ready".
    let shutdown = Shutdown::install()?;
    let identity = Arc::new(identity);
    let tls = if listeners.iter().any(|l| l.proto == ListenerProto::Https) {
        Some(load_tls_config(Path::new(TLS_DIR))?)
    } else {
        None
    };
    start(IpAddr::V6(Ipv6Addr::UNSPECIFIED), &listeners, identity, tls).await?;
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{READY_LINE}")?;
        out.flush()?;
    }
    tokio::spawn(super::requests::answer_stdin());
    shutdown.wait().await;
    Ok(())
}

/// A socket bound to `addr`; on `[::]`, one that takes IPv4 too
/// (IPV6_V6ONLY off), so a node answers in both families alike — or, in a
/// network namespace without IPv6, one on `0.0.0.0`.
fn socket(addr: SocketAddr, udp: bool) -> std::io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let (kind, protocol) = if udp {
        (Type::DGRAM, Protocol::UDP)
    } else {
        (Type::STREAM, Protocol::TCP)
    };
    let dual = addr.ip() == IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let open = |addr: SocketAddr| -> std::io::Result<Socket> {
        let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
        if addr.is_ipv6() {
            socket.set_only_v6(!dual)?;
        }
        if !udp {
            socket.set_reuse_address(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        if !udp {
            socket.listen(1024)?;
        }
        Ok(socket)
    };
    match open(addr) {
        // No IPv6 in this namespace (disabled, or no address to bind).
        Err(e)
            if dual
                && matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT)
                ) =>
        {
            open(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                addr.port(),
            ))
        }
        other => other,
    }
}

/// Binds every listener on `ip` and serves each in its own task. Returns
/// the bound addresses (a port of 0 becomes the real one), in order. `tls`
/// is the server configuration for `https` listeners. On `[::]` every
/// listener answers IPv4 and IPv6 alike.
pub async fn start(
    ip: IpAddr,
    listeners: &[Listener],
    identity: Arc<Identity>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let mut bound = Vec::with_capacity(listeners.len());
    for l in listeners {
        let addr = SocketAddr::new(ip, l.port);
        let udp = l.proto == ListenerProto::Udp;
        let raw = socket(addr, udp).with_context(|| format!("cannot listen on {l}"))?;
        if udp {
            let socket = UdpSocket::from_std(raw.into())?;
            bound.push(socket.local_addr()?);
            tokio::spawn(udp_loop(socket, identity.clone()));
            continue;
        }
        let socket = TcpListener::from_std(raw.into())?;
        bound.push(socket.local_addr()?);
        let identity = identity.clone();
        match l.proto {
            ListenerProto::Tcp => {
                tokio::spawn(accept_loop(socket, move |s, _| {
                    greet_and_echo(s, identity.clone())
                }));
            }
            ListenerProto::Http => {
                tokio::spawn(accept_loop(socket, move |s, remote| {
                    super::web_server::serve_connection(s, remote, "http", identity.clone())
                }));
            }
            ListenerProto::Https => {
                let config = tls.clone().with_context(|| format!("{l} needs the node's certificate in {TLS_DIR}, which `netlab up` puts there"))?;
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                tokio::spawn(accept_loop(socket, move |s, remote| {
                    let (acceptor, identity) = (acceptor.clone(), identity.clone());
                    async move {
                        // A client that never finishes its handshake is dropped.
                        if let Ok(Ok(tls)) =
                            tokio::time::timeout(HANDSHAKE_DEADLINE, acceptor.accept(s)).await
                        {
                            super::web_server::serve_connection(tls, remote, "https", identity)
                                .await;
                        }
                    }
                }));
            }
            ListenerProto::Udp => {}
        }
    }
    Ok(bound)
}

/// The TLS server configuration from the files `up` put into the container.
pub fn load_tls_config(dir: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .with_context(|| format!("cannot read {}", cert_path.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad certificate in {}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("cannot read the key {}", key_path.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn accept_loop<F, Fut>(socket: TcpListener, handle: F)
where
    F: Fn(TcpStream, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        match socket.accept().await {
            Ok((stream, peer)) => {
                // An IPv4 client of a dual-stack socket shows as
                // ::ffff:a.b.c.d: reported as the IPv4 address it is.
                let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                tokio::spawn(handle(stream, peer.to_string()));
            }
            // Out of file descriptors and the like: wait instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn greet_and_echo(mut stream: TcpStream, identity: Arc<Identity>) {
    let greeting = identity.greeting();
    if !write_within(&mut stream, greeting.as_bytes()).await {
        return;
    }
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(IDLE, stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                if !write_within(&mut stream, &buf[..n]).await {
                    return;
                }
            }
            _ => return,
        }
    }
}

/// `false` when the client is gone or stopped reading.
async fn write_within(stream: &mut TcpStream, bytes: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(WRITE_DEADLINE, stream.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

async fn udp_loop(socket: UdpSocket, identity: Arc<Identity>) {
    let greeting = identity.greeting();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            // A persistent socket error would otherwise spin the only core
            // the agent's runtime has.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut reply = Vec::with_capacity(greeting.len() + n);
        reply.extend_from_slice(greeting.as_bytes());
        reply.extend_from_slice(&buf[..n.min(1024)]);
        let _ = socket.send_to(&reply, peer).await;
    }
}

/// SIGTERM (`docker stop`) or SIGINT (`docker run` with Ctrl-C).
struct Shutdown {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Shutdown {
    fn install() -> anyhow::Result<Shutdown> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Shutdown {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
