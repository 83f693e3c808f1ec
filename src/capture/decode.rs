//! Captured packets → a [`Timeline`] a person can read. Pure: no I/O.
//!
//! Drives the rest: each packet is parsed ([`super::packet`]), TCP
//! directions are tracked and reassembled ([`super::stream`]), a stream
//! that opens like TLS is cut into records and interpreted per connection
//! ([`super::tls`]), any other stream contributes the first readable line
//! of each segment, and UDP payloads are tried as DNS ([`super::dns`]).
//! Also answers whether a secret crossed the wire readable
//! ([`plaintext_seen`]).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::dns::dns;
use super::packet::{Parsed, parse};
use super::record::{Capture, CapturedPacket};
use super::stream::{Flows, Relative};
use super::timeline::{Direction, Entry, Layer, Timeline, Tls};
use super::tls;

/// The longest readable line kept for a plaintext segment, in bytes.
const TEXT_MAX: usize = 80;

pub fn decode(packets: &[CapturedPacket]) -> Timeline {
    let parsed: Vec<Parsed<'_>> = packets.iter().map(|p| parse(&p.bytes)).collect();
    let base = packets.iter().map(|p| p.offset).min().unwrap_or_default();

    let mut flows = Flows::default();
    let relative: Vec<Option<Relative>> = parsed
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Parsed::Tcp(t) => Some(flows.add(i, t)),
            _ => None,
        })
        .collect();

    // TLS records (by connection: both directions decide what is
    // encrypted) and plain text, by packet index.
    let mut tls_by_packet: HashMap<usize, Vec<Tls>> = HashMap::new();
    let mut text_by_packet: HashMap<usize, String> = HashMap::new();
    let mut records_by_conn: BTreeMap<(SocketAddr, SocketAddr), Vec<tls::RawRecord>> =
        BTreeMap::new();
    for (half, stream) in flows.streams() {
        if stream.looks_like_tls() {
            records_by_conn
                .entry(conn_key(half.0, half.1))
                .or_default()
                .extend(tls::records(half, &stream));
        } else {
            for owner in &stream.owners {
                if let Some(Parsed::Tcp(t)) = parsed.get(owner.packet)
                    && let Some(line) = printable_line(t.payload)
                {
                    text_by_packet.insert(owner.packet, line);
                }
            }
        }
    }
    for records in records_by_conn.into_values() {
        for (packet, items) in tls::interpret(records) {
            tls_by_packet.entry(packet).or_default().extend(items);
        }
    }

    let entries = parsed
        .iter()
        .zip(packets)
        .zip(relative)
        .enumerate()
        .map(|(i, ((p, packet), relative))| {
            let (src, dst, layer) = match p {
                Parsed::Tcp(t) => {
                    let (seq, ack) = match relative {
                        Some(r) => (r.seq, r.ack),
                        None => (t.seq, t.ack.then_some(t.ack_no)),
                    };
                    (
                        t.src.to_string(),
                        t.dst.to_string(),
                        Layer::Tcp {
                            flags: t.flags.clone(),
                            seq,
                            ack,
                            len: t.payload.len(),
                            tls: tls_by_packet.remove(&i).unwrap_or_default(),
                            text: text_by_packet.remove(&i),
                        },
                    )
                }
                Parsed::Udp { src, dst, payload } => (
                    src.to_string(),
                    dst.to_string(),
                    Layer::Udp {
                        len: payload.len(),
                        dns: dns(payload),
                    },
                ),
                Parsed::Icmp { src, dst, text } => (
                    src.to_string(),
                    dst.to_string(),
                    Layer::Icmp { text: text.clone() },
                ),
                Parsed::Other { src, dst, text } => (
                    src.clone(),
                    dst.clone(),
                    Layer::Other { text: text.clone() },
                ),
            };
            Entry {
                offset_ns: u64::try_from(packet.offset.saturating_sub(base).as_nanos())
                    .unwrap_or(u64::MAX),
                direction: if packet.outgoing {
                    Direction::Out
                } else {
                    Direction::In
                },
                src,
                dst,
                length: packet.bytes.len(),
                layer,
            }
        })
        .collect();
    Timeline { entries }
}

/// Did any needle (request line, body) cross the wire readable in a TCP
/// payload? Searches each direction's reassembled stream (so a needle split
/// over two segments is found) and each segment on its own (so a gap in the
/// capture does not hide it).
pub fn plaintext_seen(packets: &[CapturedPacket], needles: &[&[u8]]) -> bool {
    let needles: Vec<&[u8]> = needles.iter().copied().filter(|n| !n.is_empty()).collect();
    if needles.is_empty() {
        return false;
    }
    let contains = |hay: &[u8]| {
        needles
            .iter()
            .any(|n| hay.windows(n.len()).any(|w| w == *n))
    };
    let mut flows = Flows::default();
    for (i, p) in packets.iter().enumerate() {
        let Parsed::Tcp(t) = parse(&p.bytes) else {
            continue;
        };
        if contains(t.payload) {
            return true;
        }
        flows.add(i, &t);
    }
    flows.streams().any(|(_, stream)| contains(&stream.bytes))
}

/// Whether every byte this namespace sent over TCP was recorded, and over
/// how many connections: each direction it sent on seen from its SYN to
/// its FIN or RST with no hole, and nothing lost to the kernel, the cap or
/// a short read. Only then does "not seen in the recording" mean "not
/// sent".
pub fn sent_bytes_whole(capture: &Capture) -> Result<usize, String> {
    if capture.kernel_drops > 0 {
        return Err(format!(
            "the kernel dropped {} packets",
            capture.kernel_drops
        ));
    }
    if capture.over_cap > 0 {
        return Err(format!(
            "{} packets were over the recording's cap",
            capture.over_cap
        ));
    }
    if capture.cut > 0 {
        return Err(format!("{} packets were recorded cut", capture.cut));
    }
    let mut flows = Flows::default();
    let mut sent = std::collections::BTreeSet::new();
    for (i, p) in capture.packets.iter().enumerate() {
        if let Parsed::Tcp(t) = parse(&p.bytes) {
            if p.outgoing {
                sent.insert((t.src, t.dst));
            }
            flows.add(i, &t);
        }
    }
    for half in &sent {
        flows.whole(half)?;
    }
    Ok(sent.len())
}

/// The first line of a payload if it is printable ASCII (a request or
/// status line), cut at [`TEXT_MAX`] bytes.
fn printable_line(payload: &[u8]) -> Option<String> {
    let line = payload.split(|b| *b == b'\n').next()?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() < 3 || !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return None;
    }
    let mut s = String::from_utf8_lossy(&line[..line.len().min(TEXT_MAX)]).into_owned();
    if line.len() > TEXT_MAX {
        s.push('…');
    }
    Some(s)
}

/// Both directions of a connection share this key.
fn conn_key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b { (a, b) } else { (b, a) }
}
