//! netlab's own link emulator, for kernels without netem (some VM and CI
//! kernels are built without `sch_netem`): every frame an interface sends
//! is taken away at its egress and handed to this process, which drops,
//! duplicates, corrupts, delays and paces it as netem would, then puts it
//! on the wire itself.
//!
//! How the frames are taken: a veth pair of netlab's own (`nlx<index>a`,
//! `nlx<index>b`) in the node's namespace, and on the interface a clsact
//! qdisc with one egress filter, `u32 match all action mirred egress
//! redirect` to `nlx…a`; the frames come out at `nlx…b`, where an
//! `AF_PACKET` socket reads them. How they go out: an `AF_PACKET` socket
//! bound to the interface with `PACKET_QDISC_BYPASS`, which skips the
//! interface's qdisc and so its egress filter (no loop). Both sockets use
//! `PACKET_VNET_HDR`: a frame the stack left for the interface to
//! segment or checksum (GSO, checksum offload) travels with that request
//! and the kernel finishes it on the way out.
//!
//! The effect is the same as netem's, except in one corner: a corrupted
//! frame whose checksum the kernel would still compute (a GSO frame) is
//! dropped instead — which is what its receiver does with a corrupt one.
//! Removing the filter, the clsact qdisc and the veth pair (`teardown`)
//! gives the interface back as it was.

use std::collections::BinaryHeap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::rtnl::{Rtnl, index_of};
use crate::capture::sockopt::set_int;
use crate::impairment::Impairment;

const PACKET_QDISC_BYPASS: libc::c_int = 20;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_OUTGOING: u8 = 4;
/// `struct virtio_net_hdr`: flags, gso_type, hdr_len, gso_size,
/// csum_start, csum_offset.
const VNET_HDR: usize = 10;
const NEEDS_CSUM: u8 = 1;
const ETHERNET: usize = 14;
/// Frames held at once, as netem's default `limit`; more are dropped.
const LIMIT: usize = 1000;
/// How often the loop looks at the stop flag when idle.
const IDLE_WAKE: Duration = Duration::from_millis(50);

/// The names of netlab's veth pair for interface `index`.
pub fn veth_names(index: u32) -> (String, String) {
    (format!("nlx{index}a"), format!("nlx{index}b"))
}

/// Whether netlab's redirect is on interface `index`.
pub fn is_redirected(index: u32) -> bool {
    index_of(&veth_names(index).0).is_ok()
}

/// Removes netlab's redirect from interface `index`: the clsact qdisc
/// (with its filter) and the veth pair. Returns whether there was one.
pub fn teardown(rtnl: &mut Rtnl, index: u32) -> io::Result<bool> {
    let (a, _) = veth_names(index);
    let Ok(veth) = index_of(&a) else {
        return Ok(false);
    };
    match rtnl.delete_qdisc(index, netlink_packet_route::tc::TcHandle::CLSACT) {
        Ok(()) => {}
        // Gone with its interface, or never made.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::EINVAL | libc::ENODEV)
            ) => {}
        Err(e) => return Err(e),
    }
    match rtnl.delete_link(veth) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(true),
        Err(e) => Err(e),
    }
}

/// What the emulator did, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub frames: u64,
    pub sent: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub corrupted: u64,
    pub overflowed: u64,
}

pub struct Emulator {
    rx: Socket,
    tx: Socket,
    /// The interface's own address: only its frames are passed on.
    mac: Option<[u8; 6]>,
    impairment: Impairment,
}

/// Takes interface `index` (called `name`) over: makes the veth pair, opens
/// both sockets, then installs the redirect (so no frame falls between).
pub fn setup(
    rtnl: &mut Rtnl,
    index: u32,
    name: &str,
    impairment: Impairment,
) -> io::Result<Emulator> {
    let (a, b) = veth_names(index);
    let stage =
        |what: &'static str| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    rtnl.add_veth_pair(&a, &b)
        .map_err(stage("making a veth pair"))?;
    let made = (|| {
        let rx =
            packet_socket(index_of(&b)?).map_err(stage("opening a packet socket on the veth"))?;
        let tx = packet_socket(index).map_err(stage("opening a packet socket on the interface"))?;
        set_int(tx.as_raw_fd(), libc::SOL_PACKET, PACKET_QDISC_BYPASS, 1)
            .map_err(stage("PACKET_QDISC_BYPASS"))?;
        rtnl.redirect_egress(index, index_of(&a)?)
            .map_err(stage("redirecting the interface's egress"))?;
        Ok::<_, io::Error>((rx, tx))
    })();
    match made {
        Ok((rx, tx)) => Ok(Emulator {
            rx,
            tx,
            mac: mac_of(name),
            impairment,
        }),
        Err(e) => {
            let _ = teardown(rtnl, index);
            Err(e)
        }
    }
}

fn packet_socket(index: u32) -> io::Result<Socket> {
    let protocol = (libc::ETH_P_ALL as u16).to_be();
    let socket = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(protocol))),
    )?;
    set_int(socket.as_raw_fd(), libc::SOL_PACKET, PACKET_VNET_HDR, 1)?;
    // SAFETY: a zeroed sockaddr_ll is valid; the fields set are plain ints.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol;
    addr.sll_ifindex = i32::try_from(index).map_err(io::Error::other)?;
    // SAFETY: sockaddr_ll fits in sockaddr_storage; the length says how
    // much of it is set.
    let address = unsafe {
        SockAddr::try_init(|storage, len| {
            std::ptr::write(storage.cast::<libc::sockaddr_ll>(), addr);
            *len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            Ok(())
        })
    }?
    .1;
    socket.bind(&address)?;
    Ok(socket)
}

fn mac_of(name: &str) -> Option<[u8; 6]> {
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/address")).ok()?;
    let bytes: Vec<u8> = text
        .trim()
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    bytes.try_into().ok()
}

/// A frame waiting for its time.
struct Held {
    at: Instant,
    order: u64,
    frame: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    /// Earliest first (the heap is a max-heap).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.at, other.order).cmp(&(self.at, self.order))
    }
}

/// The fate of one frame, decided from the impairment and random numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Fate {
    pub dropped: bool,
    pub copies: u32,
    pub corrupt: bool,
    /// Delay of each copy.
    pub delays: Vec<Duration>,
}

/// netem's order: loss first, then duplication, corruption, and a delay
/// per copy (jitter uniform around the delay; with `reorder`, a share of
/// frames goes at once, ahead of the delayed ones).
pub fn fate(i: &Impairment, rng: &mut fastrand::Rng) -> Fate {
    let chance = |p: Option<crate::impairment::Percent>, rng: &mut fastrand::Rng| {
        p.is_some_and(|p| rng.f64() * 100.0 < p.0)
    };
    if chance(i.loss, rng) {
        return Fate {
            dropped: true,
            copies: 0,
            corrupt: false,
            delays: Vec::new(),
        };
    }
    let copies = 1 + u32::from(chance(i.duplicate, rng));
    let corrupt = chance(i.corrupt, rng);
    let delays = (0..copies)
        .map(|_| {
            if chance(i.reorder, rng) {
                return Duration::ZERO;
            }
            let base = i.delay.unwrap_or_default().as_secs_f64();
            let spread = i.jitter.unwrap_or_default().as_secs_f64();
            let d = base + (rng.f64() * 2.0 - 1.0) * spread;
            Duration::from_secs_f64(d.max(0.0))
        })
        .collect();
    Fate {
        dropped: false,
        copies,
        corrupt,
        delays,
    }
}

impl Emulator {
    /// Passes frames on until `stop` is set or a socket fails.
    pub fn run(&self, stop: &AtomicBool) -> io::Result<Stats> {
        let mut stats = Stats::default();
        let mut rng = fastrand::Rng::new();
        let mut held: BinaryHeap<Held> = BinaryHeap::new();
        let mut order = 0u64;
        // When the last frame finishes its transmission at `rate`.
        let mut line_free = Instant::now();
        let mut buf = vec![0u8; VNET_HDR + 65_550];
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            while held.peek().is_some_and(|h| h.at <= now) {
                if let Some(h) = held.pop() {
                    match self.tx.send(&h.frame) {
                        Ok(_) => stats.sent += 1,
                        // The link went away for a moment (the node's
                        // peer restarted): that frame is lost.
                        Err(e)
                            if matches!(
                                e.raw_os_error(),
                                Some(libc::ENETDOWN | libc::ENXIO | libc::ENOBUFS | libc::EAGAIN)
                            ) =>
                        {
                            stats.dropped += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            let wait = held
                .peek()
                .map(|h| h.at.saturating_duration_since(now))
                .unwrap_or(IDLE_WAKE)
                .min(IDLE_WAKE);
            let Some(len) = self.receive(&mut buf, wait)? else {
                continue;
            };
            stats.frames += 1;
            let fate = fate(&self.impairment, &mut rng);
            if fate.dropped {
                stats.dropped += 1;
                continue;
            }
            if fate.copies > 1 {
                stats.duplicated += 1;
            }
            let mut frame = buf[..len].to_vec();
            if fate.corrupt {
                stats.corrupted += 1;
                if !corrupt(&mut frame, &mut rng) {
                    stats.dropped += 1;
                    continue;
                }
            }
            let arrived = Instant::now();
            for delay in fate.delays {
                if held.len() >= LIMIT {
                    stats.overflowed += 1;
                    continue;
                }
                let mut at = arrived + delay;
                if let Some(rate) = self.impairment.rate {
                    let bits = ((frame.len() - VNET_HDR) * 8) as f64;
                    let transmit = Duration::from_secs_f64(bits / rate.0 as f64);
                    at = at.max(line_free) + transmit;
                    line_free = at;
                }
                order += 1;
                held.push(Held {
                    at,
                    order,
                    frame: frame.clone(),
                });
            }
        }
        Ok(stats)
    }

    /// One frame from the interface (with its vnet header), or `None`
    /// after `wait` with none, or for a frame that is not the interface's.
    fn receive(&self, buf: &mut [u8], wait: Duration) -> io::Result<Option<usize>> {
        if !super::echo::wait_readable(self.rx.as_raw_fd(), wait)? {
            return Ok(None);
        }
        // SAFETY: a zeroed sockaddr_ll receives the sender's address; the
        // buffer and lengths are ours and live across the call.
        let (n, addr) = unsafe {
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            let n = libc::recvfrom(
                self.rx.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
                std::ptr::from_mut(&mut addr).cast(),
                &mut len,
            );
            (n, addr)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let n = usize::try_from(n).unwrap_or(0);
        if addr.sll_pkttype == PACKET_OUTGOING || n < VNET_HDR + ETHERNET {
            return Ok(None);
        }
        // Only what the interface itself sent, not the veth pair's own
        // chatter (IPv6 neighbour discovery of a fresh link).
        if let Some(mac) = self.mac
            && buf[VNET_HDR + 6..VNET_HDR + 12] != mac
        {
            return Ok(None);
        }
        Ok(Some(n))
    }
}

/// Flips one random bit past the Ethernet header. A frame whose checksum
/// the kernel would compute on the way out has it computed here first, so
/// the error shows; a GSO frame cannot be, and is reported as not
/// corrupted (the caller drops it).
fn corrupt(frame: &mut [u8], rng: &mut fastrand::Rng) -> bool {
    let gso_type = frame[1];
    if gso_type != 0 {
        return false;
    }
    if frame[0] & NEEDS_CSUM != 0 {
        let start = VNET_HDR + usize::from(u16::from_le_bytes([frame[6], frame[7]]));
        let offset = usize::from(u16::from_le_bytes([frame[8], frame[9]]));
        let at = start + offset;
        if at + 2 > frame.len() || start > frame.len() {
            return false;
        }
        // The field holds the pseudo-header's sum: it is summed along,
        // as the kernel's skb_checksum_help does.
        let sum = !ones_complement(&frame[start..]);
        frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        frame[0] &= !NEEDS_CSUM;
    }
    let payload = VNET_HDR + ETHERNET..frame.len();
    if payload.is_empty() {
        return false;
    }
    let byte = rng.usize(payload);
    frame[byte] ^= 1 << rng.u8(0..8);
    true
}

/// The 16-bit ones' complement sum the kernel starts from when it
/// finishes a partial checksum (the pseudo-header is already folded in).
fn ones_complement(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = match pair {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::impairment::Percent;

    #[test]
    fn fates_follow_the_probabilities() {
        let mut rng = fastrand::Rng::with_seed(7);
        let i = Impairment {
            delay: Some(Duration::from_millis(100)),
            jitter: Some(Duration::from_millis(10)),
            loss: Some(Percent(10.0)),
            duplicate: Some(Percent(20.0)),
            ..Impairment::default()
        };
        let fates: Vec<Fate> = (0..20_000).map(|_| fate(&i, &mut rng)).collect();
        let share = |f: &dyn Fn(&Fate) -> bool| {
            fates.iter().filter(|x| f(x)).count() as f64 / fates.len() as f64 * 100.0
        };
        let lost = share(&|f| f.dropped);
        assert!((9.0..11.0).contains(&lost), "{lost}");
        let doubled = share(&|f| f.copies == 2);
        assert!((16.0..20.0).contains(&doubled), "{doubled}");
        for f in fates.iter().filter(|f| !f.dropped) {
            for d in &f.delays {
                assert!(
                    (Duration::from_millis(90)..=Duration::from_millis(110)).contains(d),
                    "{d:?}"
                );
            }
        }
        let nothing = fate(&Impairment::default(), &mut rng);
        assert_eq!(
            (nothing.dropped, nothing.copies, nothing.delays[0]),
            (false, 1, Duration::ZERO)
        );
    }

    #[test]
    fn reordered_frames_skip_the_delay() {
        let mut rng = fastrand::Rng::with_seed(3);
        let i = Impairment {
            delay: Some(Duration::from_millis(50)),
            reorder: Some(Percent(100.0)),
            ..Impairment::default()
        };
        assert_eq!(fate(&i, &mut rng).delays, vec![Duration::ZERO]);
    }

    #[test]
    fn a_corrupted_frame_fails_its_checksum() {
        // An IPv4/UDP frame whose UDP checksum the kernel would finish:
        // the partial sum (pseudo-header) sits in the checksum field.
        let mut frame = vec![0u8; VNET_HDR];
        frame[0] = NEEDS_CSUM;
        let csum_start: u16 = 14 + 20;
        frame[6..8].copy_from_slice(&csum_start.to_le_bytes());
        frame[8..10].copy_from_slice(&6u16.to_le_bytes());
        frame.extend_from_slice(&[0u8; 14]);
        frame.extend_from_slice(&[
            0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        frame.extend_from_slice(&[
            0x30, 0x39, 0x1b, 0x58, 0, 16, 0x12, 0x34, b'h', b'e', b'l', b'l', b'o', b'!', b'!',
            b'!',
        ]);
        // What the kernel would send: the checksum finished.
        let mut expected = frame.clone();
        let sum = !ones_complement(&expected[VNET_HDR + 34..]);
        expected[VNET_HDR + 40..VNET_HDR + 42].copy_from_slice(&sum.to_be_bytes());
        let mut rng = fastrand::Rng::with_seed(1);
        let mut corrupted = frame.clone();
        assert!(corrupt(&mut corrupted, &mut rng));
        assert_eq!(corrupted[0] & NEEDS_CSUM, 0, "the checksum is final now");
        // Exactly one bit differs from the finished frame: the error shows.
        let flipped: u32 = expected[1..]
            .iter()
            .zip(&corrupted[1..])
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(flipped, 1);
        let mut gso = frame.clone();
        gso[1] = 1;
        assert!(!corrupt(&mut gso, &mut rng), "a GSO frame is not corrupted");
    }
}

/// The emulator against the kernel (root only): two network namespaces
/// joined by a veth pair, echo requests across, with and without it.
#[cfg(test)]
mod namespace_tests {
    use std::net::IpAddr;
    use std::process::Command;
    use std::sync::Arc;

    use super::*;

    struct Namespaces(String, String);

    impl Drop for Namespaces {
        fn drop(&mut self) {
            for n in [&self.0, &self.1] {
                let _ = Command::new("ip").args(["netns", "del", n]).output();
            }
        }
    }

    fn ip(args: &[&str]) {
        let out = Command::new("ip").args(args).output().expect("ip runs");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `f` in a thread inside namespace `name`.
    fn inside<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{name}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("netns file");
            // SAFETY: setns on a valid namespace fd changes this thread only.
            let r =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns: {}", io::Error::last_os_error());
            f()
        })
        .join()
        .expect("thread")
    }

    #[test]
    fn delay_and_loss_are_seen_and_the_interface_is_given_back() {
        if !crate::capture::test_support::running_as_root()
            || Command::new("ip").arg("-V").output().is_err()
        {
            eprintln!("skipped: needs root and iproute2");
            return;
        }
        let id = std::process::id();
        let ns = Namespaces(format!("nltest{id}a"), format!("nltest{id}b"));
        ip(&["netns", "add", &ns.0]);
        ip(&["netns", "add", &ns.1]);
        ip(&[
            "link", "add", "v0", "netns", &ns.0, "type", "veth", "peer", "name", "v1", "netns",
            &ns.1,
        ]);
        ip(&["-n", &ns.0, "addr", "add", "10.253.7.1/24", "dev", "v0"]);
        ip(&["-n", &ns.1, "addr", "add", "10.253.7.2/24", "dev", "v1"]);
        ip(&["-n", &ns.0, "link", "set", "v0", "up"]);
        ip(&["-n", &ns.1, "link", "set", "v1", "up"]);
        let peer: IpAddr = "10.253.7.2".parse().expect("ip");
        let ping = |ns: &str, count: u32| {
            inside(ns, move || {
                crate::agent::echo::measure_blocking(
                    peer,
                    count,
                    Duration::from_millis(10),
                    Duration::from_secs(10),
                )
            })
        };
        let plain = ping(&ns.0, 20);
        assert_eq!(plain.rtts_us.len(), 20, "{plain:?}");
        let impairment = Impairment {
            delay: Some(Duration::from_millis(30)),
            loss: Some(crate::impairment::Percent(50.0)),
            ..Impairment::default()
        };
        let emulator = inside(&ns.0, move || {
            let mut rtnl = Rtnl::open().expect("rtnl");
            let index = index_of("v0").expect("v0");
            (
                setup(&mut rtnl, index, "v0", impairment).expect("setup"),
                index,
            )
        });
        let stop = Arc::new(AtomicBool::new(false));
        let running = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (emulator, index) = emulator;
                let stats = emulator.run(&stop);
                (stats, index)
            })
        };
        let slowed = ping(&ns.0, 200);
        stop.store(true, Ordering::Relaxed);
        let (stats, index) = running.join().expect("emulator thread");
        let stats = stats.expect("ran");
        let (removed, after) = inside(&ns.0, move || {
            let mut rtnl = Rtnl::open().expect("rtnl");
            let removed = teardown(&mut rtnl, index).expect("teardown");
            (removed, is_redirected(index))
        });
        let answered = slowed.rtts_us.len();
        assert!(
            (60..=140).contains(&answered),
            "about half of 200 lost: {answered}; {stats:?}"
        );
        let median = crate::lab::measure::RttStats::of(
            &slowed
                .rtts_us
                .iter()
                .map(|u| Duration::from_micros(*u))
                .collect::<Vec<_>>(),
        )
        .expect("some")
        .median;
        assert!(
            (Duration::from_millis(29)..Duration::from_millis(45)).contains(&median),
            "{median:?}"
        );
        assert!(stats.dropped > 0 && stats.sent > 0, "{stats:?}");
        assert!(removed && !after, "the redirect is gone");
        let again = ping(&ns.0, 20);
        assert_eq!(
            again.rtts_us.len(),
            20,
            "the link is clean again: {again:?}"
        );
    }
}
