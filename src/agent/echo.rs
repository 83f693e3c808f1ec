//! The probe behind `latency` and `loss`: a series of ICMP echo requests
//! sent at a fixed interval on a connected socket — an unprivileged ping
//! socket (`SOCK_DGRAM`/`IPPROTO_ICMP`, allowed by
//! `net.ipv4.ping_group_range`, which Docker opens in containers), else a
//! raw ICMP socket (`CAP_NET_RAW`, which a host helper has) — as the
//! path-MTU probe does. Replies are matched to requests by sequence
//! number; a reply to a request already answered is counted as a
//! duplicate, not a second answer. After the last request the probe
//! waits for late replies until every request is answered or the check's
//! deadline comes: a reply is lost only when it did not come in the time
//! the check gives (with 3 s of delay every reply arrives, and a linger
//! of a second had counted them all lost). The default deadline leaves
//! the series a second, or twice the highest round trip it expects.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, SlicedPacket,
    TransportSlice,
};
use socket2::{SockAddr, Socket};

use super::protocol::EchoObservation;

/// Bytes of payload in each request (ping's default).
const PAYLOAD: usize = 56;
/// The probe stops this long before its deadline, to report in time.
const MARGIN: Duration = Duration::from_millis(200);

pub async fn measure(
    target: IpAddr,
    count: u32,
    interval: Duration,
    deadline: Duration,
) -> EchoObservation {
    match tokio::task::spawn_blocking(move || measure_blocking(target, count, interval, deadline))
        .await
    {
        Ok(o) => o,
        Err(e) => EchoObservation {
            target: Some(target),
            error: Some(format!("the echo task failed: {e}")),
            ..EchoObservation::default()
        },
    }
}

struct Pinger {
    socket: Socket,
    raw: bool,
    v6: bool,
    id: u16,
}

impl Pinger {
    fn open(target: IpAddr) -> Result<Pinger, String> {
        let v6 = target.is_ipv6();
        let (socket, raw) = crate::capture::pmtu::icmp_socket(v6)?;
        socket
            .connect(&SockAddr::from(SocketAddr::new(target, 0)))
            .map_err(|e| format!("cannot connect the ICMP socket to {target}: {e}"))?;
        // Waits are ppoll's (`wait_readable`); reads never block.
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("cannot make the ICMP socket non-blocking: {e}"))?;
        Ok(Pinger {
            socket,
            raw,
            v6,
            id: (std::process::id() & 0xffff) as u16,
        })
    }

    fn request(&self, seq: u16) -> Vec<u8> {
        let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i % 251) as u8).collect();
        let echo = IcmpEchoHeader { id: self.id, seq };
        let mut out = if self.v6 {
            // The kernel computes the ICMPv6 checksum (pseudo-header) itself.
            let mut h = vec![128u8, 0, 0, 0];
            h.extend_from_slice(&echo.to_bytes());
            h
        } else {
            Icmpv4Header::with_checksum(Icmpv4Type::EchoRequest(echo), &payload)
                .to_bytes()
                .to_vec()
        };
        out.extend_from_slice(&payload);
        out
    }

    /// The sequence number of the echo reply in `data`, if it is one of ours.
    fn reply_seq(&self, data: &[u8]) -> Option<u16> {
        if self.v6 {
            // ICMPv6 sockets (raw or ping) deliver no IP header.
            match Icmpv6Slice::from_slice(data).ok()?.icmp_type() {
                Icmpv6Type::EchoReply(e) if !self.raw || e.id == self.id => Some(e.seq),
                _ => None,
            }
        } else if self.raw {
            match SlicedPacket::from_ip(data).ok()?.transport {
                Some(TransportSlice::Icmpv4(s)) => match s.icmp_type() {
                    Icmpv4Type::EchoReply(e) if e.id == self.id => Some(e.seq),
                    _ => None,
                },
                _ => None,
            }
        } else {
            match Icmpv4Slice::from_slice(data).ok()?.icmp_type() {
                Icmpv4Type::EchoReply(e) => Some(e.seq),
                _ => None,
            }
        }
    }

    /// Waits up to `wait` for one datagram; `Ok(None)` when none came.
    fn receive(&self, buf: &mut [u8], wait: Duration) -> io::Result<Option<usize>> {
        if !wait_readable(std::os::fd::AsRawFd::as_raw_fd(&self.socket), wait)? {
            return Ok(None);
        }
        match (&self.socket).read(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Sends `count` requests `interval` apart and collects the replies (see
/// the module doc). Errors that end the series early are reported with
/// what was measured until then.
pub fn measure_blocking(
    target: IpAddr,
    count: u32,
    interval: Duration,
    deadline: Duration,
) -> EchoObservation {
    let started = Instant::now();
    let mut out = EchoObservation {
        target: Some(target),
        ..EchoObservation::default()
    };
    let pinger = match Pinger::open(target) {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    out.method = if pinger.raw {
        "raw socket"
    } else {
        "ping socket"
    }
    .into();
    let stop_at = started + deadline.saturating_sub(MARGIN);
    let n = usize::try_from(count).unwrap_or(usize::MAX);
    let mut sent_at: Vec<Option<Instant>> = vec![None; n];
    let mut rtts: Vec<Option<Duration>> = vec![None; n];
    let mut buf = vec![0u8; 2048];
    let mut next = 0usize;
    let mut last_sent = started;
    loop {
        let now = Instant::now();
        if now >= stop_at {
            break;
        }
        if next < n {
            let due = started + interval * u32::try_from(next).unwrap_or(u32::MAX);
            if now >= due {
                // Sequence numbers wrap after 65536 requests; MAX_COUNT is below.
                let seq = (next % 65_536) as u16;
                match pinger.socket.send(&pinger.request(seq)) {
                    Ok(_) => {}
                    // A lost route or an unreachable neighbour is loss, not
                    // the end: the request is counted as sent.
                    Err(e) if is_transient(&e) => {}
                    Err(e) => {
                        out.error = Some(format!("send: {e}"));
                        break;
                    }
                }
                sent_at[next] = Some(Instant::now());
                last_sent = Instant::now();
                next += 1;
                out.sent += 1;
                continue;
            }
        } else if rtts.iter().all(Option::is_some) {
            break;
        }
        let wake = if next < n {
            started + interval * u32::try_from(next).unwrap_or(u32::MAX)
        } else {
            stop_at
        };
        let wait = wake.min(stop_at).saturating_duration_since(now);
        match pinger.receive(&mut buf, wait) {
            Ok(Some(len)) => {
                let Some(seq) = pinger.reply_seq(&buf[..len]) else {
                    continue;
                };
                let i = usize::from(seq);
                let (Some(Some(at)), Some(slot)) = (sent_at.get(i), rtts.get_mut(i)) else {
                    continue;
                };
                if slot.is_some() {
                    out.duplicates += 1;
                    continue;
                }
                *slot = Some(at.elapsed());
            }
            Ok(None) => {}
            Err(e) if is_transient(&e) => {}
            Err(e) => {
                out.error = Some(format!("recv: {e}"));
                break;
            }
        }
    }
    out.waited_ms =
        u64::try_from(Instant::now().duration_since(last_sent).as_millis()).unwrap_or(0);
    out.rtts_us = rtts
        .into_iter()
        .flatten()
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .collect();
    out
}

/// Waits until `fd` can be read, at most `wait`: `ppoll`, whose timer has
/// the kernel's high resolution (a socket's receive timeout counts in
/// jiffies, 4 ms on a 250 Hz kernel: too coarse to pace or time packets).
pub fn wait_readable(fd: std::os::fd::RawFd, wait: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let timeout = libc::timespec {
        tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(wait.subsec_nanos()),
    };
    // SAFETY: one valid pollfd and a timespec, both live across the call;
    // no signal mask is changed (null).
    let n = unsafe { libc::ppoll(&mut pfd, 1, &timeout, std::ptr::null()) };
    match n {
        0 => Ok(false),
        n if n > 0 => Ok(true),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// ICMP errors a connected socket reports for one request (the target's
/// neighbour did not answer ARP, a router said unreachable): that request
/// is lost, the series goes on.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EHOSTUNREACH | libc::ENETUNREACH | libc::ECONNREFUSED | libc::EAGAIN)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::test_support::running_as_root;

    #[test]
    fn loopback_answers_every_request() {
        let o = measure_blocking(
            IpAddr::from([127, 0, 0, 1]),
            20,
            Duration::from_millis(2),
            Duration::from_secs(5),
        );
        if let Some(e) = &o.error {
            assert!(!running_as_root(), "running as root, yet {e}");
            eprintln!("skipped, not root and no ping socket: {e}");
            return;
        }
        assert_eq!(o.sent, 20, "{o:?}");
        assert_eq!(o.rtts_us.len(), 20, "{o:?}");
        assert_eq!(o.duplicates, 0);
        assert!(o.rtts_us.iter().all(|us| *us < 1_000_000), "{o:?}");
        assert!(!o.method.is_empty());
    }
}
