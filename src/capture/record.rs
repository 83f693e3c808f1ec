//! Recording a probe's own packets in the current network namespace, from
//! just before the probe starts until its connections have closed.
//!
//! One packet socket ([`super::packet_socket`]) sees every packet of the
//! namespace; [`super::filter`] keeps the probe's. Each packet is stamped
//! by the kernel (`SO_TIMESTAMPNS`, wall clock, nanoseconds, taken when the
//! packet passed the tap — not when this task woke up, which would lump a
//! burst together); offsets are from the recorder's start.
//!
//! Loopback: a packet sent to a local address crosses `lo` once and the tap
//! sees it twice (as `PACKET_OUTGOING` on transmit and `PACKET_HOST` on
//! receive). Only the receive copy is kept and its direction is decided
//! from the addresses (the probe's remote or the DNS server's port 53) —
//! the packet type says nothing useful there.
//!
//! What is kept is capped ([`MAX_PACKETS`], [`MAX_BYTES`]) and what was
//! not kept is counted, so a capture never claims to be whole when it is
//! not.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use socket2::Socket;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

use super::filter::{Filter, classify, keep_dns_name, keep_pinned};
use super::packet_socket::{
    ETHERTYPE_IPV4, ETHERTYPE_IPV6, PACKET_OUTGOING, kernel_drops, recv_one,
};

/// At most this many packets are kept …
pub const MAX_PACKETS: usize = 2_000;
/// … and at most this many bytes of them.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;
/// Largest packet read whole (lo's MTU is 65536; GSO super-packets on veth
/// are tapped before segmentation and can be up to 64 KiB).
const SNAPLEN: usize = 65_536 + 64;
/// How long `finish` waits at most for the probe's connections to close.
const LINGER: Duration = Duration::from_millis(200);
/// Without TCP to watch close, recording ends after this long with no
/// packet kept.
const QUIET: Duration = Duration::from_millis(10);

/// One recorded packet, from the IP header on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedPacket {
    /// Since [`Capture::started_at`].
    pub offset: Duration,
    /// Sent by this namespace (else received).
    pub outgoing: bool,
    /// IPv4 or IPv6 packet, header included.
    pub bytes: Vec<u8>,
}

/// What [`Recorder::finish`] returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Capture {
    /// Wall clock when recording started (offsets count from here).
    pub started_at: SystemTime,
    pub packets: Vec<CapturedPacket>,
    /// Matching packets not kept because the cap was reached.
    pub over_cap: u64,
    /// Packets longer than the read buffer (kept cut).
    pub cut: u64,
    /// Packets the kernel dropped because the socket buffer was full
    /// (`PACKET_STATISTICS`, all packets, matching or not).
    pub kernel_drops: u32,
    /// Packets of every kind the socket read (a measure of the work done).
    pub seen: u64,
    /// Offsets come from kernel timestamps (else from the reader's clock).
    pub kernel_timestamps: bool,
}

/// Recording is impossible here; the check runs anyway.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("capture unavailable: {reason}")]
pub struct CaptureUnavailable {
    pub reason: String,
}

/// A running recording. Dropping it without `finish` stops the task.
pub struct Recorder {
    shared: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<Duration>>,
    task: tokio::task::JoinHandle<()>,
    started_at: SystemTime,
}

#[derive(Default)]
struct State {
    filter: Filter,
    pinned: Vec<SocketAddr>,
    packets: Vec<CapturedPacket>,
    bytes: usize,
    over_cap: u64,
    cut: u64,
    seen: u64,
    kernel_drops: u32,
    kernel_timestamps: bool,
    flows: HashMap<(SocketAddr, SocketAddr), FlowEnd>,
    last_kept: Option<Instant>,
}

/// How far a TCP connection of the probe has closed (to stop early).
#[derive(Default, Clone, Copy)]
struct FlowEnd {
    fin_out: bool,
    fin_in: bool,
    rst: bool,
    acked_after_fins: bool,
}

impl FlowEnd {
    fn closed(&self) -> bool {
        self.rst || (self.fin_out && self.fin_in && self.acked_after_fins)
    }
}

impl Recorder {
    /// Opens the socket and starts reading. Must run inside a tokio runtime.
    pub fn start(filter: Filter) -> Result<Recorder, CaptureUnavailable> {
        let socket = super::packet_socket::open()?;
        // SAFETY: the socket2::Socket owns its fd; it stays open and the
        // same for as long as the AsyncFd owns the Socket.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE) }.map_err(
            |e| CaptureUnavailable {
                reason: format!("cannot register the packet socket with tokio: {e}"),
            },
        )?;
        let started_at = SystemTime::now();
        let shared = Arc::new(Mutex::new(State {
            filter,
            ..State::default()
        }));
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(read_loop(fd, Arc::clone(&shared), started_at, stop_rx));
        Ok(Recorder {
            shared,
            stop: Some(stop_tx),
            task,
            started_at,
        })
    }

    /// Adds a remote endpoint (e.g. the address DNS just returned).
    pub fn watch(&self, remote: SocketAddr) {
        if let Ok(mut s) = self.shared.lock()
            && !s.filter.remotes.contains(&remote)
        {
            s.filter.remotes.push(remote);
        }
    }

    /// Narrows the probe to the connection from this local endpoint (known
    /// once `connect` returned): other connections to the same remote, e.g.
    /// a concurrent check, are dropped at `finish`.
    pub fn pin_local(&self, local: SocketAddr) {
        if let Ok(mut s) = self.shared.lock()
            && !s.pinned.contains(&local)
        {
            s.pinned.push(local);
        }
    }

    /// Stops, after the probe's TCP connections are seen closed (FIN both
    /// ways and the last ACK, or RST) or at most 200 ms.
    pub async fn finish(self) -> Capture {
        self.finish_within(LINGER).await
    }

    /// As [`Recorder::finish`], waiting at most `linger` for the close.
    pub async fn finish_within(mut self, linger: Duration) -> Capture {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(linger);
        }
        // The task is taken out (Drop aborts whatever is left in its place).
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
        // A reader that panicked leaves what it had recorded: keep it.
        let mut s = match self.shared.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut packets = std::mem::take(&mut s.packets);
        // The socket may hand over packets of several CPUs out of order;
        // the kernel's timestamps put them back in the order they crossed.
        packets.sort_by_key(|p| p.offset);
        if !s.pinned.is_empty() {
            let (remotes, pinned) = (&s.filter.remotes, &s.pinned);
            packets.retain(|p| keep_pinned(&p.bytes, remotes, pinned));
        }
        if !s.filter.dns_names.is_empty() {
            let names = &s.filter.dns_names;
            packets.retain(|p| keep_dns_name(&p.bytes, names));
        }
        Capture {
            started_at: self.started_at,
            packets,
            over_cap: s.over_cap,
            cut: s.cut,
            kernel_drops: s.kernel_drops,
            seen: s.seen,
            kernel_timestamps: s.kernel_timestamps,
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_loop(
    fd: AsyncFd<Socket>,
    shared: Arc<Mutex<State>>,
    started_at: SystemTime,
    mut stop: oneshot::Receiver<Duration>,
) {
    let clock = Clock {
        started_at,
        started: Instant::now(),
    };
    let raw = fd.get_ref().as_raw_fd();
    let mut buf = vec![0u8; SNAPLEN];
    // Phase 1: until finish() is called.
    let linger = loop {
        tokio::select! {
            ready = fd.readable() => match ready {
                Ok(mut guard) => {
                    // Readiness is cleared only once the queue is empty:
                    // a drain cut short must be woken again at once.
                    if drain(raw, &mut buf, &shared, &clock) == Drained::Empty {
                        guard.clear_ready();
                    }
                }
                Err(_) => return,
            },
            linger = &mut stop => break linger.unwrap_or(Duration::ZERO),
        }
    };
    // Phase 2: take what is queued, then wait for the connections to close
    // (or a short quiet spell when there is no TCP), at most `linger`.
    let deadline = tokio::time::Instant::now() + linger;
    loop {
        let drained = drain(raw, &mut buf, &shared, &clock);
        let settled = match shared.lock() {
            Ok(s) if s.flows.is_empty() => s.last_kept.is_none_or(|t| t.elapsed() >= QUIET),
            Ok(s) => s.flows.values().all(FlowEnd::closed),
            Err(_) => true,
        };
        if settled || tokio::time::Instant::now() >= deadline {
            break;
        }
        if drained == Drained::More {
            tokio::task::yield_now().await;
            continue;
        }
        let wake = deadline.min(tokio::time::Instant::now() + QUIET);
        tokio::select! {
            ready = fd.readable() => match ready {
                Ok(mut guard) => guard.clear_ready(),
                Err(_) => break,
            },
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
    drain(raw, &mut buf, &shared, &clock);
    let drops = kernel_drops(raw);
    if let Ok(mut s) = shared.lock() {
        s.kernel_drops = drops;
    }
    // Closing a packet socket waits for an RCU grace period in the kernel
    // (packet_release → synchronize_net, ~10–20 ms): deregister here, close
    // on the blocking pool, off the probe's path.
    let socket = fd.into_inner();
    tokio::task::spawn_blocking(move || drop(socket));
}

/// The recording's start, on the wall clock (kernel timestamps) and on the
/// monotonic clock (the fallback when a packet comes without one).
struct Clock {
    started_at: SystemTime,
    started: Instant,
}

/// Packets read before the reader looks up again: a namespace busier
/// than the reader (a download beside the probe) must not keep it from
/// its deadline or starve the other tasks of its thread.
const DRAIN_BATCH: usize = 512;

#[derive(Debug, PartialEq, Eq)]
enum Drained {
    Empty,
    /// The batch ended with packets still queued.
    More,
}

/// Reads the queued packets (at most [`DRAIN_BATCH`]) and keeps the probe's.
fn drain(fd: RawFd, buf: &mut [u8], shared: &Mutex<State>, clock: &Clock) -> Drained {
    for _ in 0..DRAIN_BATCH {
        let got = match recv_one(fd, buf) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drained::Empty,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Drained::Empty,
        };
        let Ok(mut s) = shared.lock() else {
            return Drained::Empty;
        };
        s.seen += 1;
        if got.ethertype != ETHERTYPE_IPV4 && got.ethertype != ETHERTYPE_IPV6 {
            continue;
        }
        let loopback = got.hatype == libc::ARPHRD_LOOPBACK;
        if loopback && got.pkttype == PACKET_OUTGOING {
            continue; // the receive copy follows
        }
        let bytes = &buf[..got.len];
        let Some(m) = classify(bytes, &s.filter) else {
            continue;
        };
        let outgoing = if loopback {
            m.outgoing_by_address
        } else {
            got.pkttype == PACKET_OUTGOING
        };
        if let Some(tcp) = m.tcp {
            let key = if outgoing {
                (tcp.src, tcp.dst)
            } else {
                (tcp.dst, tcp.src)
            };
            let end = s.flows.entry(key).or_default();
            let both_before = end.fin_out && end.fin_in;
            if tcp.rst {
                end.rst = true;
            }
            if tcp.fin {
                if outgoing {
                    end.fin_out = true
                } else {
                    end.fin_in = true
                }
            } else if both_before && tcp.ack {
                end.acked_after_fins = true;
            }
        }
        if s.packets.len() >= MAX_PACKETS || s.bytes + bytes.len() > MAX_BYTES {
            s.over_cap += 1;
            continue;
        }
        let (offset, kernel) = match got.stamp {
            Some(t) => (
                t.duration_since(clock.started_at).unwrap_or(Duration::ZERO),
                true,
            ),
            None => (clock.started.elapsed(), false),
        };
        if s.packets.is_empty() {
            s.kernel_timestamps = kernel;
        }
        if got.truncated {
            s.cut += 1;
        }
        s.bytes += bytes.len();
        s.last_kept = Some(Instant::now());
        s.packets.push(CapturedPacket {
            offset,
            outgoing,
            bytes: bytes.to_vec(),
        });
    }
    Drained::More
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::capture::test_support::{running_as_root, saved};
    use crate::capture::{Direction, Layer, decode, plaintext_seen, summary, verbose};

    /// One echo over loopback, recorded (`Err` when the recording did not
    /// finish within 2 s); `None` when not root.
    async fn recorded_echo() -> Option<Result<Capture, String>> {
        let listener = TcpListener::bind("127.61.0.1:0").await.expect("bind");
        let remote = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 64];
            let n = s.read(&mut buf).await.expect("read");
            s.write_all(&buf[..n]).await.expect("echo");
            s.shutdown().await.expect("shutdown");
            let _ = s.read(&mut buf).await;
        });
        let recorder = match Recorder::start(Filter {
            remotes: vec![remote],
            dns_servers: vec![],
            dns: false,
            dns_names: Vec::new(),
        }) {
            Ok(r) => r,
            Err(e) if !running_as_root() => {
                eprintln!("skipped, not root (needs CAP_NET_RAW): {e}");
                return None;
            }
            Err(e) => panic!("running as root, yet {e}"),
        };
        let mut client = TcpStream::connect(remote).await.expect("connect");
        recorder.pin_local(client.local_addr().expect("local address"));
        client.write_all(b"hello plaintext").await.expect("write");
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.expect("read back");
        drop(client);
        let capture = tokio::time::timeout(Duration::from_secs(2), recorder.finish())
            .await
            .map_err(|_| "the recording did not finish within 2 s".to_owned());
        server.await.expect("server");
        Some(capture)
    }

    /// The exchange in words, as the summary puts it (the count of bare
    /// ACKs depends on timing: delayed ACKs merge on a loaded machine).
    const EXCHANGE: &str = "SYN → SYN/ACK → ACK → \"hello plaintext\" ×2 → FIN ×2: ";

    /// Records a loopback exchange in the test's own network namespace.
    /// The server listens on its own loopback address, so that other tests
    /// on 127.0.0.1 (ICMP included) are not the probe's. The socket sees
    /// every packet of the namespace (a download beside the test included):
    /// a recording the kernel dropped packets from, that missed a packet of
    /// the exchange, or that did not finish in time, is printed and taken
    /// again, at most three times.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loopback_connection_is_recorded_once_per_packet() {
        let mut attempt = 0;
        let capture = loop {
            attempt += 1;
            let Some(recorded) = recorded_echo().await else {
                return;
            };
            let capture = match recorded {
                Ok(capture) => capture,
                Err(why) if attempt < 3 => {
                    eprintln!("attempt {attempt}: {why}");
                    continue;
                }
                Err(why) => panic!("{why}, three times"),
            };
            let words = summary(&decode(&capture.packets));
            if attempt == 3 || (capture.kernel_drops == 0 && words.starts_with(EXCHANGE)) {
                break capture;
            }
            eprintln!(
                "attempt {attempt}: {} kernel drops; {words}\n{}",
                capture.kernel_drops,
                verbose(&decode(&capture.packets)).join("\n")
            );
        };
        let t = decode(&capture.packets);
        let evidence = format!(
            "{} kernel drops\n{}",
            capture.kernel_drops,
            verbose(&t).join("\n")
        );
        assert!(capture.kernel_timestamps, "{evidence}");
        let syns: Vec<_> = t
            .entries
            .iter()
            .filter(|e| matches!(&e.layer, Layer::Tcp { flags, .. } if flags == &["SYN"]))
            .collect();
        assert_eq!(
            syns.len(),
            1,
            "loopback: one copy of each packet\n{evidence}"
        );
        assert_eq!(syns[0].direction, Direction::Out);
        let words = summary(&t);
        assert!(words.starts_with(EXCHANGE), "{words}\n{evidence}");
        assert!(plaintext_seen(&capture.packets, &[b"hello plaintext"]));
        // Offsets are non-decreasing (kernel timestamps, one clock).
        assert!(
            capture
                .packets
                .windows(2)
                .all(|w| w[0].offset <= w[1].offset)
        );
    }

    #[test]
    fn capture_and_filter_round_trip_through_json() {
        let (started_at, packets) = saved("tls13");
        let capture = Capture {
            started_at,
            packets,
            over_cap: 1,
            cut: 2,
            kernel_drops: 3,
            seen: 4,
            kernel_timestamps: true,
        };
        let json = serde_json::to_string(&capture).expect("serialise");
        assert_eq!(
            serde_json::from_str::<Capture>(&json).expect("deserialise"),
            capture
        );
        let filter = Filter {
            remotes: vec!["[fd00::2]:443".parse().expect("address")],
            dns_servers: vec!["127.0.0.11".parse().expect("address")],
            dns: true,
            dns_names: Vec::new(),
        };
        let json = serde_json::to_string(&filter).expect("serialise");
        assert_eq!(
            serde_json::from_str::<Filter>(&json).expect("deserialise"),
            filter
        );
    }
}
