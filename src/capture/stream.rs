//! Per-direction TCP bookkeeping: sequence numbers made relative (as
//! Wireshark shows them), and each direction's byte stream reassembled by
//! sequence number, so that a TLS record or a request line split over
//! segments is seen whole and a retransmission is not counted twice.
//! Reassembly stops at the first gap (bytes lost before the tap): nothing
//! after it is guessed.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::packet::TcpSegment;

/// One direction of a connection: (sender, receiver).
pub(super) type Half = (SocketAddr, SocketAddr);

/// Sequence numbers relative to the first of each direction.
pub(super) struct Relative {
    pub seq: u32,
    /// Relative to the other direction's first sequence number when that
    /// direction has been seen, else as on the wire; None without ACK.
    pub ack: Option<u32>,
}

/// Every TCP direction of a capture, fed packet by packet in capture order.
#[derive(Default)]
pub(super) struct Flows {
    halves: HashMap<Half, HalfFlow>,
}

#[derive(Default)]
struct HalfFlow {
    /// Sequence number of the SYN, or the first sequence number seen.
    isn: Option<u32>,
    syn_seen: bool,
    /// Stream offset of the first FIN or RST: where the direction ended.
    end: Option<u32>,
    segments: Vec<Segment>,
}

struct Segment {
    /// Position of the first payload byte in the direction's stream.
    offset: u32,
    /// Index of the packet in the capture.
    packet: usize,
    data: Vec<u8>,
}

impl HalfFlow {
    /// Stream offset zero: the byte after the SYN, or the first seen.
    fn data_base(&self) -> u32 {
        let isn = self.isn.unwrap_or(0);
        if self.syn_seen {
            isn.wrapping_add(1)
        } else {
            isn
        }
    }
}

impl Flows {
    /// Records the segment (packet `packet` of the capture) and returns its
    /// relative sequence numbers.
    pub fn add(&mut self, packet: usize, t: &TcpSegment<'_>) -> Relative {
        let half = self.halves.entry((t.src, t.dst)).or_default();
        if t.syn && !half.syn_seen {
            half.syn_seen = true;
            half.isn = Some(t.seq);
        }
        let isn = *half.isn.get_or_insert(t.seq);
        if half.end.is_none() && t.flags.iter().any(|f| f == "FIN" || f == "RST") {
            let end = t
                .seq
                .wrapping_add(t.payload.len() as u32)
                .wrapping_sub(half.data_base());
            half.end = (end < u32::MAX / 2).then_some(end);
        }
        if !t.payload.is_empty() {
            let offset = t.seq.wrapping_sub(half.data_base());
            // A payload starting before the base (it wrapped) is not
            // reassembled.
            if offset < u32::MAX / 2 {
                half.segments.push(Segment {
                    offset,
                    packet,
                    data: t.payload.to_vec(),
                });
            }
        }
        let other_isn = self.halves.get(&(t.dst, t.src)).and_then(|o| o.isn);
        Relative {
            seq: t.seq.wrapping_sub(isn),
            ack: t.ack.then(|| match other_isn {
                Some(isn) => t.ack_no.wrapping_sub(isn),
                None => t.ack_no,
            }),
        }
    }

    /// Whether every byte of a direction was recorded: its SYN and its FIN
    /// (or RST) seen, and every byte between them reassembled without a
    /// hole. The error says what is missing.
    pub fn whole(&self, half: &Half) -> Result<(), String> {
        let flow = self
            .halves
            .get(half)
            .ok_or_else(|| format!("nothing of {} → {} was recorded", half.0, half.1))?;
        if !flow.syn_seen {
            return Err(format!(
                "the SYN of {} → {} was not recorded",
                half.0, half.1
            ));
        }
        let Some(end) = flow.end else {
            return Err(format!(
                "the end (FIN or RST) of {} → {} was not recorded",
                half.0, half.1
            ));
        };
        let got = reassemble(flow).bytes.len();
        if got as u64 != u64::from(end) {
            return Err(format!(
                "{} → {}: {got} of {end} bytes recorded",
                half.0, half.1
            ));
        }
        Ok(())
    }

    /// Each direction's reassembled stream.
    pub fn streams(&self) -> impl Iterator<Item = (Half, Stream)> + '_ {
        self.halves
            .iter()
            .map(|(half, flow)| (*half, reassemble(flow)))
    }
}

/// One direction's reassembled bytes, and which packet carried which range.
pub(super) struct Stream {
    pub bytes: Vec<u8>,
    /// The packets that added bytes, in stream order.
    pub owners: Vec<Owner>,
}

pub(super) struct Owner {
    pub start: usize,
    pub end: usize,
    pub packet: usize,
}

impl Stream {
    /// The packet by which the byte range `[start, end)` was complete.
    pub fn completed_by(&self, start: usize, end: usize) -> Option<usize> {
        self.owners
            .iter()
            .filter(|o| o.start < end && o.end > start)
            .map(|o| o.packet)
            .max()
    }

    /// Does the stream open like TLS records (content type 20..=23,
    /// version 3.x)?
    pub fn looks_like_tls(&self) -> bool {
        matches!(self.bytes.as_slice(), [0x14..=0x17, 3, minor, ..] if *minor <= 4)
    }
}

fn reassemble(flow: &HalfFlow) -> Stream {
    let mut segments: Vec<&Segment> = flow.segments.iter().collect();
    segments.sort_by_key(|s| (s.offset, s.packet));
    let mut bytes = Vec::new();
    let mut owners = Vec::new();
    for segment in segments {
        let offset = segment.offset as usize;
        let have = bytes.len();
        if offset > have {
            break; // a gap (lost before the tap): stop here
        }
        let end = offset + segment.data.len();
        if end <= have {
            continue; // retransmission of bytes we have
        }
        bytes.extend_from_slice(&segment.data[have - offset..]);
        owners.push(Owner {
            start: have,
            end,
            packet: segment.packet,
        });
    }
    Stream { bytes, owners }
}
