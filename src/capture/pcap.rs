//! Writing a capture as a classic pcap file for Wireshark/tcpdump (and
//! reading one back, for tests and tools).
//!
//! The packets are stored from the IP header on (the recorder reads cooked
//! `SOCK_DGRAM` packets), so the link type is `LINKTYPE_RAW` (101): raw IPv4
//! or IPv6, told apart by the version nibble — not `LINKTYPE_IPV4` (228),
//! which would be wrong for an IPv6 probe. Timestamps: the capture's
//! wall-clock start plus each packet's offset, in nanoseconds.
//!
//! Written here rather than with pcap-file: the format is two fixed
//! headers, and that crate brought a proc-macro crate and thiserror 1 into
//! every build (issue 21's first run). Tests read what this writes with
//! pcap-file, as Wireshark's format is its subject.

use std::io::Write;
#[cfg(test)]
use std::io::{BufReader, BufWriter, Read};
#[cfg(test)]
use std::path::Path;
#[cfg(test)]
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

use super::record::CapturedPacket;

/// Longer packets are written cut, with their real length.
pub const SNAPLEN: u32 = 65_535;

/// Raw IPv4 or IPv6 from the IP header on.
pub const LINKTYPE_RAW: u32 = 101;

/// The magic of a pcap with nanosecond timestamps, in the writer's byte
/// order (readers tell the order from it).
const MAGIC_NANOSECONDS: u32 = 0xa1b2_3c4d;
#[cfg(test)]
const MAGIC_MICROSECONDS: u32 = 0xa1b2_c3d4;

/// (timestamp since the Unix epoch, packet bytes)
#[cfg(test)]
pub type TimedPacket = (Duration, Vec<u8>);

/// Writes the packets to any writer; returns it.
pub fn write_to<W: Write>(
    mut out: W,
    started_at: SystemTime,
    packets: &[CapturedPacket],
) -> Result<W, String> {
    let start = started_at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&MAGIC_NANOSECONDS.to_ne_bytes());
    header.extend_from_slice(&2u16.to_ne_bytes());
    header.extend_from_slice(&4u16.to_ne_bytes());
    header.extend_from_slice(&0i32.to_ne_bytes()); // thiszone
    header.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
    header.extend_from_slice(&SNAPLEN.to_ne_bytes());
    header.extend_from_slice(&LINKTYPE_RAW.to_ne_bytes());
    out.write_all(&header)
        .map_err(|e| format!("pcap header: {e}"))?;
    for p in packets {
        let data = &p.bytes[..p.bytes.len().min(SNAPLEN as usize)];
        let orig_len = u32::try_from(p.bytes.len()).unwrap_or(u32::MAX);
        let at = start + p.offset;
        // Seconds as pcap keeps them: 32 bits, wrapping in 2106.
        let seconds = at.as_secs() as u32;
        let mut record = Vec::with_capacity(16 + data.len());
        record.extend_from_slice(&seconds.to_ne_bytes());
        record.extend_from_slice(&at.subsec_nanos().to_ne_bytes());
        record.extend_from_slice(&(data.len() as u32).to_ne_bytes());
        record.extend_from_slice(&orig_len.to_ne_bytes());
        record.extend_from_slice(data);
        out.write_all(&record)
            .map_err(|e| format!("pcap packet: {e}"))?;
    }
    Ok(out)
}

/// Writes `path` (created or truncated); netlab itself writes pcaps
/// through `report::file`, which refuses links.
#[cfg(test)]
pub fn write_file(
    path: &Path,
    started_at: SystemTime,
    packets: &[CapturedPacket],
) -> Result<(), String> {
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut w = write_to(BufWriter::new(file), started_at, packets)?;
    w.flush()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads a classic pcap back, of either byte order and either timestamp
/// resolution: (link type, [(timestamp since the epoch, bytes)]).
#[cfg(test)]
pub fn read_from<R: Read>(mut input: R) -> Result<(u32, Vec<TimedPacket>), String> {
    let mut all = Vec::new();
    input
        .read_to_end(&mut all)
        .map_err(|e| format!("pcap: {e}"))?;
    let word = |at: usize, swapped: bool| -> Result<u32, String> {
        let bytes: [u8; 4] = all
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("pcap: cut short at byte {at}"))?;
        let v = u32::from_ne_bytes(bytes);
        Ok(if swapped { v.swap_bytes() } else { v })
    };
    let magic = word(0, false)?;
    let (swapped, nanoseconds) = match magic {
        MAGIC_NANOSECONDS => (false, true),
        MAGIC_MICROSECONDS => (false, false),
        m if m.swap_bytes() == MAGIC_NANOSECONDS => (true, true),
        m if m.swap_bytes() == MAGIC_MICROSECONDS => (true, false),
        m => return Err(format!("pcap header: not a pcap (magic {m:#010x})")),
    };
    let link = word(20, swapped)?;
    let mut out = Vec::new();
    let mut at = 24;
    while at < all.len() {
        let seconds = word(at, swapped)?;
        let fraction = word(at + 4, swapped)?;
        let stored = word(at + 8, swapped)? as usize;
        let data = all
            .get(at + 16..at + 16 + stored)
            .ok_or_else(|| format!("pcap packet: cut short at byte {at}"))?;
        let nanos = if nanoseconds {
            fraction
        } else {
            fraction * 1000
        };
        out.push((Duration::new(u64::from(seconds), nanos), data.to_vec()));
        at += 16 + stored;
    }
    Ok((link, out))
}

#[cfg(test)]
pub fn read_file(path: &Path) -> Result<(u32, Vec<TimedPacket>), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    read_from(BufReader::new(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::test_support::{load, saved};
    use crate::capture::{decode, summary};

    #[test]
    fn round_trip() {
        let start = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let packets = vec![
            CapturedPacket {
                offset: Duration::from_micros(0),
                outgoing: true,
                bytes: vec![0x45, 0, 0, 20],
            },
            CapturedPacket {
                offset: Duration::from_nanos(4_100_123),
                outgoing: false,
                bytes: vec![0x60; 40],
            },
        ];
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("t.pcap");
        write_file(&path, start, &packets).expect("write");
        let (link, read) = read_file(&path).expect("read");
        assert_eq!(link, LINKTYPE_RAW);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].0, Duration::new(1_700_000_000, 123_456_789));
        assert_eq!(read[1].0, Duration::new(1_700_000_000, 127_556_912));
        assert_eq!(read[1].1, packets[1].bytes);
        // nanosecond magic, as Wireshark expects for ns pcaps
        let raw = std::fs::read(&path).expect("read bytes");
        assert_eq!(
            u32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]),
            0xa1b2_3c4d
        );
    }

    #[test]
    fn pcap_file_reads_what_this_writes() {
        let start = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        let packet = CapturedPacket {
            offset: Duration::from_millis(3),
            outgoing: true,
            bytes: vec![0x45; 1500],
        };
        let bytes = write_to(Vec::new(), start, std::slice::from_ref(&packet)).expect("write");
        let mut reader = pcap_file::pcap::PcapReader::new(&bytes[..]).expect("header");
        let header = reader.header();
        assert_eq!(header.datalink, pcap_file::DataLink::RAW);
        assert_eq!(header.ts_resolution, pcap_file::TsResolution::NanoSecond);
        assert_eq!(header.snaplen, SNAPLEN);
        let read = reader.next_packet().expect("one packet").expect("readable");
        assert_eq!(read.timestamp, Duration::new(1_700_000_000, 3_000_005));
        assert_eq!(read.orig_len, 1500);
        assert_eq!(read.data, packet.bytes);
        assert!(reader.next_packet().is_none());
    }

    #[test]
    fn a_packet_over_the_snaplen_is_cut_and_keeps_its_length() {
        let long = CapturedPacket {
            offset: Duration::ZERO,
            outgoing: false,
            bytes: vec![0x60; SNAPLEN as usize + 10],
        };
        let bytes = write_to(Vec::new(), UNIX_EPOCH, std::slice::from_ref(&long)).expect("write");
        let orig_len = u32::from_ne_bytes(bytes[36..40].try_into().expect("4 bytes"));
        assert_eq!(orig_len, SNAPLEN + 10);
        let (_, read) = read_from(&bytes[..]).expect("read");
        assert_eq!(read[0].1.len(), SNAPLEN as usize);
    }

    #[test]
    fn round_trip_of_real_capture() {
        let (start, packets) = saved("tls13");
        assert_eq!(packets, load("tls13"));
        let bytes = write_to(Vec::new(), start, &packets).expect("write");
        let (link, read) = read_from(&bytes[..]).expect("read");
        assert_eq!(link, LINKTYPE_RAW);
        let epoch = start.duration_since(UNIX_EPOCH).expect("after the epoch");
        let back: Vec<CapturedPacket> = read
            .into_iter()
            .zip(&packets)
            .map(|((ts, data), orig)| CapturedPacket {
                offset: ts - epoch,
                outgoing: orig.outgoing,
                bytes: data,
            })
            .collect();
        assert_eq!(back, packets);
        assert_eq!(summary(&decode(&back)), summary(&decode(&packets)));
    }
}
