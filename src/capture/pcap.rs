//! Writing a capture as a classic pcap file for Wireshark/tcpdump (and
//! reading one back, for tests and tools).
//!
//! The packets are stored from the IP header on (the recorder reads cooked
//! `SOCK_DGRAM` packets), so the link type is `LINKTYPE_RAW` (101): raw IPv4
//! or IPv6, told apart by the version nibble — not `LINKTYPE_IPV4` (228),
//! which would be wrong for an IPv6 probe. Timestamps: the capture's
//! wall-clock start plus each packet's offset, in nanoseconds.

use std::io::Write;
#[cfg(test)]
use std::io::{BufReader, BufWriter, Read};
#[cfg(test)]
use std::path::Path;
#[cfg(test)]
use std::time::Duration;
use std::time::{SystemTime, UNIX_EPOCH};

#[cfg(test)]
use pcap_file::pcap::PcapReader;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::record::CapturedPacket;

/// Longer packets are written cut, with their real length.
pub const SNAPLEN: u32 = 65_535;

/// (timestamp since the Unix epoch, packet bytes)
#[cfg(test)]
pub type TimedPacket = (Duration, Vec<u8>);

fn header() -> PcapHeader {
    PcapHeader {
        version_major: 2,
        version_minor: 4,
        ts_correction: 0,
        ts_accuracy: 0,
        snaplen: SNAPLEN,
        datalink: DataLink::RAW,
        ts_resolution: TsResolution::NanoSecond,
        endianness: Endianness::native(),
    }
}

/// Writes the packets to any writer; returns it.
pub fn write_to<W: Write>(
    out: W,
    started_at: SystemTime,
    packets: &[CapturedPacket],
) -> Result<W, String> {
    let start = started_at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut writer =
        PcapWriter::with_header(out, header()).map_err(|e| format!("pcap header: {e}"))?;
    for p in packets {
        let data = &p.bytes[..p.bytes.len().min(SNAPLEN as usize)];
        let orig_len = u32::try_from(p.bytes.len()).unwrap_or(u32::MAX);
        writer
            .write_packet(&PcapPacket::new(start + p.offset, orig_len, data))
            .map_err(|e| format!("pcap packet: {e}"))?;
    }
    Ok(writer.into_writer())
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

/// Reads a pcap back: (link type, [(timestamp since the epoch, bytes)]).
#[cfg(test)]
pub fn read_from<R: Read>(input: R) -> Result<(DataLink, Vec<TimedPacket>), String> {
    let mut reader = PcapReader::new(input).map_err(|e| format!("pcap header: {e}"))?;
    let link = reader.header().datalink;
    let mut out = Vec::new();
    while let Some(p) = reader.next_packet() {
        let p = p.map_err(|e| format!("pcap packet: {e}"))?;
        out.push((p.timestamp, p.data.into_owned()));
    }
    Ok((link, out))
}

#[cfg(test)]
pub fn read_file(path: &Path) -> Result<(DataLink, Vec<TimedPacket>), String> {
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
        assert_eq!(link, DataLink::RAW);
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
    fn round_trip_of_real_capture() {
        let (start, packets) = saved("tls13");
        assert_eq!(packets, load("tls13"));
        let bytes = write_to(Vec::new(), start, &packets).expect("write");
        let (link, read) = read_from(&bytes[..]).expect("read");
        assert_eq!(link, DataLink::RAW);
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
