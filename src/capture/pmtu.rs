//! "MTU measured, not read": the largest IP packet that crosses the path to
//! a target with Don't Fragment set, found by sending ICMP echo requests of
//! chosen sizes and seeing which are answered.
//!
//! What is sent: ICMP (ICMPv6) echo requests on a *connected* socket —
//! preferably an unprivileged ping socket (`SOCK_DGRAM`/`IPPROTO_ICMP`,
//! allowed by `net.ipv4.ping_group_range`, which Docker opens in containers),
//! else a raw ICMP socket (`CAP_NET_RAW`). `IP_MTU_DISCOVER` is
//! `IP_PMTUDISC_PROBE`: DF is set and the kernel's cached path MTU is
//! ignored, so a probe is refused locally only when it exceeds the outgoing
//! interface's MTU, and otherwise really goes out at its size. The target
//! answers with an echo reply of the same size (the reply must cross the
//! way back as well).
//!
//! How a probe of size N ends:
//! * `Answered` — an echo reply with our sequence number: N crosses.
//! * `LocalRefusal` — `send` failed with EMSGSIZE: bigger than our own
//!   interface's MTU; nothing left the host.
//! * `FragNeeded` — a router sent ICMP "fragmentation needed" (v6: "packet
//!   too big"); on a connected socket the kernel turns it into EMSGSIZE on
//!   the next `recv`. The MTU the router announced is then in the route
//!   cache, read back with `IP_MTU` (a hint, not used as the answer).
//! * `NoReply` — nothing within the probe timeout, after a retry: a black
//!   hole (e.g. a VXLAN underlay dropping what does not fit, a veth whose
//!   peer has a smaller MTU) or plain loss; the retry is what tells one-off
//!   loss from a size that never crosses.
//!
//! The search: one small probe (68 bytes IPv4, 1280 IPv6) must be answered,
//! else the target does not answer echo and nothing is measured. Then a
//! binary search over [small, 9000] where a guess may replace the midpoint:
//! first the interface MTU (`IP_MTU`), later an MTU a router announced; after
//! an answered guess the size just above it is tried. So the common case is
//! three probes (68 ✓, 1500 ✓, 1501 refused locally) and a guess is never
//! the answer unless it was itself answered and the next size was not.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, SlicedPacket,
    TransportSlice,
};
use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::sockopt::{get_int, set_int};

/// The search's ceiling: the usual jumbo-frame MTU. A path that carries
/// more (loopback) is reported as this.
pub const MAX_SIZE: u16 = 9000;

/// How one probe ended (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Answered { rtt_us: u64 },
    LocalRefusal,
    FragNeeded { announced_mtu: Option<u16> },
    NoReply,
    Error { message: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    /// IP packet size, header included.
    pub size: u16,
    pub outcome: Outcome,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathMtu {
    pub target: IpAddr,
    /// Largest answered size.
    pub mtu: u16,
    /// The outgoing interface's MTU as the kernel reports it (a hint).
    pub interface_mtu: Option<u16>,
    /// "ping socket" or "raw socket".
    pub method: String,
    pub probes: Vec<Probe>,
}

/// An ICMP echo socket of the family: a ping socket where the kernel
/// allows one (`net.ipv4.ping_group_range`), else a raw socket
/// (CAP_NET_RAW); `true` when it is raw.
pub fn icmp_socket(v6: bool) -> Result<(Socket, bool), String> {
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => Ok((s, false)),
        Err(dgram) => match Socket::new(domain, Type::RAW, Some(proto)) {
            Ok(s) => Ok((s, true)),
            Err(raw) => Err(format!(
                "cannot send ICMP echo: ping socket: {dgram} (net.ipv4.ping_group_range); raw socket: {raw} (CAP_NET_RAW)"
            )),
        },
    }
}

/// Whether this namespace can send ICMP echo to `target` at all (a ping
/// or raw socket with Don't Fragment): when it cannot, nothing about the
/// path can be observed.
pub fn icmp_available(target: IpAddr) -> Result<(), String> {
    Pinger::open(target).map(drop)
}

/// Measures from the current network namespace. Blocking work runs on
/// tokio's blocking pool.
pub async fn measure(target: IpAddr, deadline: Duration) -> Result<PathMtu, String> {
    tokio::task::spawn_blocking(move || measure_blocking(target, deadline))
        .await
        .map_err(|e| format!("measurement task failed: {e}"))?
}

struct Pinger {
    socket: Socket,
    raw: bool,
    v6: bool,
    id: u16,
    seq: u16,
}

impl Pinger {
    fn open(target: IpAddr) -> Result<Pinger, String> {
        let v6 = target.is_ipv6();
        let (socket, raw) = icmp_socket(v6)?;
        let fd = socket.as_raw_fd();
        let r = if v6 {
            set_int(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                libc::IPV6_PMTUDISC_PROBE,
            )
        } else {
            set_int(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_PROBE,
            )
        };
        r.map_err(|e| format!("cannot set DF (IP_PMTUDISC_PROBE): {e}"))?;
        if v6 {
            // With IPV6_PMTUDISC_PROBE the kernel does not make "packet too
            // big" a hard error; IPV6_RECVERR does (EMSGSIZE on recv).
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1)
                .map_err(|e| format!("cannot set IPV6_RECVERR: {e}"))?;
        }
        socket
            .connect(&SockAddr::from(SocketAddr::new(target, 0)))
            .map_err(|e| format!("cannot connect the ICMP socket to {target}: {e}"))?;
        Ok(Pinger {
            socket,
            raw,
            v6,
            id: (std::process::id() & 0xffff) as u16,
            seq: 0,
        })
    }

    fn header_len(&self) -> u16 {
        if self.v6 { 40 } else { 20 }
    }

    fn interface_mtu(&self) -> Option<u16> {
        let fd = self.socket.as_raw_fd();
        let v = if self.v6 {
            get_int(fd, libc::IPPROTO_IPV6, libc::IPV6_MTU)
        } else {
            get_int(fd, libc::IPPROTO_IP, libc::IP_MTU)
        };
        v.ok().and_then(|m| u16::try_from(m).ok())
    }

    fn request(&self, size: u16) -> Vec<u8> {
        let payload_len = size.saturating_sub(self.header_len() + 8) as usize;
        let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
        let echo = IcmpEchoHeader {
            id: self.id,
            seq: self.seq,
        };
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

    /// Is this datagram the reply to our current probe?
    fn is_reply(&self, data: &[u8]) -> bool {
        if self.v6 {
            // ICMPv6 sockets (raw or ping) deliver no IP header.
            match Icmpv6Slice::from_slice(data) {
                Ok(s) => {
                    matches!(s.icmp_type(), Icmpv6Type::EchoReply(e) if e.seq == self.seq && (!self.raw || e.id == self.id))
                }
                Err(_) => false,
            }
        } else if self.raw {
            match SlicedPacket::from_ip(data) {
                Ok(p) => matches!(p.transport, Some(TransportSlice::Icmpv4(s))
                    if matches!(s.icmp_type(), Icmpv4Type::EchoReply(e) if e.seq == self.seq && e.id == self.id)),
                Err(_) => false,
            }
        } else {
            match Icmpv4Slice::from_slice(data) {
                Ok(s) => matches!(s.icmp_type(), Icmpv4Type::EchoReply(e) if e.seq == self.seq),
                Err(_) => false,
            }
        }
    }

    fn probe_once(&mut self, size: u16, timeout: Duration) -> Outcome {
        self.seq = self.seq.wrapping_add(1);
        let packet = self.request(size);
        let sent = Instant::now();
        match self.socket.send(&packet) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => return Outcome::LocalRefusal,
            Err(e) => {
                return Outcome::Error {
                    message: format!("send: {e}"),
                };
            }
        }
        let mut buf = vec![0u8; usize::from(MAX_SIZE) + 128];
        loop {
            let left = timeout.saturating_sub(sent.elapsed());
            if left.is_zero() {
                return Outcome::NoReply;
            }
            if let Err(e) = self
                .socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            {
                return Outcome::Error {
                    message: format!("SO_RCVTIMEO: {e}"),
                };
            }
            match (&self.socket).read(&mut buf) {
                Ok(n) => {
                    if self.is_reply(&buf[..n]) {
                        return Outcome::Answered {
                            rtt_us: u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX),
                        };
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Outcome::NoReply;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                    // The route cache now holds the announced MTU (IPv4);
                    // for IPv6 the socket's MTU is not updated, so only a
                    // value below the probe's size is believed.
                    return Outcome::FragNeeded {
                        announced_mtu: self.interface_mtu().filter(|m| *m < size),
                    };
                }
                Err(e) => {
                    return Outcome::Error {
                        message: format!("recv: {e}"),
                    };
                }
            }
        }
    }
}

fn answered(o: &Outcome) -> bool {
    matches!(o, Outcome::Answered { .. })
}

/// The blocking measurement (see the module doc).
pub fn measure_blocking(target: IpAddr, deadline: Duration) -> Result<PathMtu, String> {
    let start = Instant::now();
    let mut p = Pinger::open(target)?;
    let interface_mtu = p.interface_mtu();
    let mut probes: Vec<Probe> = Vec::new();
    let mut timeout = Duration::from_millis(500);

    // A size is tried twice when nothing came back (loss vs black hole).
    let run = |p: &mut Pinger,
               size: u16,
               timeout: Duration,
               probes: &mut Vec<Probe>|
     -> Result<Outcome, String> {
        let mut outcome = Outcome::NoReply;
        for _ in 0..2 {
            if start.elapsed() + timeout > deadline {
                return Err(format!("deadline reached after {} probes", probes.len()));
            }
            outcome = p.probe_once(size, timeout);
            probes.push(Probe {
                size,
                outcome: outcome.clone(),
            });
            if outcome != Outcome::NoReply {
                break;
            }
        }
        Ok(outcome)
    };

    let small: u16 = if target.is_ipv6() { 1280 } else { 68 };
    match run(&mut p, small, Duration::from_secs(1), &mut probes)? {
        Outcome::Answered { rtt_us } => {
            // Per-probe wait: ten round trips (the shortest seen so far),
            // 50 ms to 500 ms.
            timeout = Duration::from_micros(rtt_us.saturating_mul(10))
                .clamp(Duration::from_millis(50), timeout);
        }
        other => {
            return Err(format!(
                "{target} did not answer a {small}-byte echo request ({other:?}): nothing to measure with"
            ));
        }
    }
    let mut good = small;
    let mut bad = MAX_SIZE + 1;
    // A size worth trying next: first the interface MTU, later the MTU a
    // router announced in "fragmentation needed". Each guess is verified
    // by probing it and the size just above; it only saves probes.
    let mut guess = interface_mtu;
    while bad - good > 1 {
        let (size, was_guess) = match guess.take().filter(|g| *g > good && *g < bad) {
            Some(g) => (g, true),
            None => (good + (bad - good) / 2, false),
        };
        let outcome = run(&mut p, size, timeout, &mut probes)?;
        if let Outcome::Answered { rtt_us } = outcome {
            timeout = timeout.min(
                Duration::from_micros(rtt_us.saturating_mul(10)).max(Duration::from_millis(50)),
            );
        }
        if answered(&outcome) {
            good = size;
            if was_guess {
                guess = Some(size + 1);
            }
        } else {
            bad = size;
            if let Outcome::FragNeeded {
                announced_mtu: Some(m),
            } = outcome
            {
                guess = Some(m);
            }
        }
    }
    Ok(PathMtu {
        target,
        mtu: good,
        interface_mtu,
        method: if p.raw {
            "raw socket".into()
        } else {
            "ping socket".into()
        },
        probes,
    })
}

/// "1450 bytes (interface 1450; 4 probes: 68 ok 0.1 ms, 1450 ok, 1451 refused locally, …)"
pub fn describe(m: &PathMtu) -> String {
    let probes = m
        .probes
        .iter()
        .map(|p| match &p.outcome {
            Outcome::Answered { rtt_us } => {
                format!("{} answered ({:.2} ms)", p.size, *rtt_us as f64 / 1000.0)
            }
            Outcome::LocalRefusal => format!("{} refused locally (EMSGSIZE)", p.size),
            Outcome::FragNeeded { announced_mtu } => format!(
                "{} ICMP too big{}",
                p.size,
                announced_mtu
                    .map(|m| format!(" (mtu {m})"))
                    .unwrap_or_default()
            ),
            Outcome::NoReply => format!("{} no reply", p.size),
            Outcome::Error { message } => format!("{} error: {message}", p.size),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "path MTU to {} = {} bytes (interface MTU {}, {}; {} probes: {probes})",
        m.target,
        m.mtu,
        m.interface_mtu
            .map(|m| m.to_string())
            .unwrap_or_else(|| "?".into()),
        m.method,
        m.probes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::test_support::running_as_root;

    /// lo's MTU (65536) is above the search's ceiling: every size up to
    /// it is answered.
    #[test]
    fn loopback_measures_the_ceiling() {
        let target = IpAddr::from([127, 0, 0, 1]);
        let m = match measure_blocking(target, Duration::from_secs(20)) {
            Ok(m) => m,
            Err(e) if !running_as_root() => {
                eprintln!("skipped, not root and no ping socket: {e}");
                return;
            }
            Err(e) => panic!("running as root, yet {e}"),
        };
        eprintln!("{}", describe(&m));
        assert_eq!(m.mtu, MAX_SIZE, "{}", describe(&m));
        assert_eq!(m.probes[0].size, 68);
        assert!(m.probes.iter().all(|p| answered(&p.outcome)));
        let json = serde_json::to_string(&m).expect("serialise");
        assert_eq!(
            serde_json::from_str::<PathMtu>(&json).expect("deserialise"),
            m
        );
    }

    #[test]
    fn every_outcome_round_trips_through_json() {
        let m = PathMtu {
            target: IpAddr::from([10, 0, 0, 1]),
            mtu: 1400,
            interface_mtu: Some(1500),
            method: "raw socket".into(),
            probes: [
                Outcome::Answered { rtt_us: 120 },
                Outcome::LocalRefusal,
                Outcome::FragNeeded {
                    announced_mtu: Some(1400),
                },
                Outcome::FragNeeded {
                    announced_mtu: None,
                },
                Outcome::NoReply,
                Outcome::Error {
                    message: "send: boom".into(),
                },
            ]
            .into_iter()
            .map(|outcome| Probe {
                size: 1401,
                outcome,
            })
            .collect(),
        };
        let json = serde_json::to_string(&m).expect("serialise");
        assert_eq!(
            serde_json::from_str::<PathMtu>(&json).expect("deserialise"),
            m
        );
        assert!(describe(&m).starts_with("path MTU to 10.0.0.1 = 1400 bytes"));
    }
}
