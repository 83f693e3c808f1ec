//! `netlab agent serve`: the listeners of a node. Every TCP connection and
//! UDP datagram is answered with the node's identity first, so a check that
//! sees "open" knows *which* node answered, not merely that something did.
//! Runs as PID 1 in a scratch container, so it handles SIGTERM itself.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use super::protocol::{Identity, Listener, ListenerProto, READY_LINE};

/// An idle client is dropped after this, so abandoned connections cannot
/// pile up in a long-running lab.
const IDLE: Duration = Duration::from_secs(120);

/// A client that stops reading is given up after this, so a full send
/// buffer cannot park a connection task forever.
const WRITE_DEADLINE: Duration = Duration::from_secs(10);

pub async fn serve(lab: String, node: String, listeners: Vec<Listener>) -> anyhow::Result<()> {
    // PID 1 has no default signal dispositions: a SIGTERM that arrives before
    // the handlers exist would be ignored and `docker stop` would wait for
    // its SIGKILL. So the handlers come first, before netlab can see "ready".
    let shutdown = Shutdown::install()?;
    let identity = Arc::new(Identity { lab, node });
    start(IpAddr::V4(Ipv4Addr::UNSPECIFIED), &listeners, identity).await?;
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{READY_LINE}")?;
        out.flush()?;
    }
    shutdown.wait().await;
    Ok(())
}

/// Binds every listener on `ip` and serves each in its own task. Returns
/// the bound addresses (a port of 0 becomes the real one), in order.
pub async fn start(
    ip: IpAddr,
    listeners: &[Listener],
    identity: Arc<Identity>,
) -> anyhow::Result<Vec<SocketAddr>> {
    let mut bound = Vec::with_capacity(listeners.len());
    for l in listeners {
        let addr = SocketAddr::new(ip, l.port);
        match l.proto {
            ListenerProto::Tcp | ListenerProto::Http => {
                let socket = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {l}"))?;
                bound.push(socket.local_addr()?);
                let identity = identity.clone();
                if l.proto == ListenerProto::Tcp {
                    tokio::spawn(accept_loop(socket, identity, |s, id| {
                        Box::pin(greet_and_echo(s, id))
                    }));
                } else {
                    tokio::spawn(accept_loop(socket, identity, |s, id| {
                        Box::pin(super::http::serve_connection(s, id))
                    }));
                }
            }
            ListenerProto::Udp => {
                let socket = UdpSocket::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {l}"))?;
                bound.push(socket.local_addr()?);
                tokio::spawn(udp_loop(socket, identity.clone()));
            }
        }
    }
    Ok(bound)
}

type Handler = fn(TcpStream, Arc<Identity>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

async fn accept_loop(socket: TcpListener, identity: Arc<Identity>, handle: Handler) {
    loop {
        match socket.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(handle(stream, identity.clone()));
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
