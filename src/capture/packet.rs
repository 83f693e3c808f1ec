//! One captured IP packet → the fields the decoder works with. etherparse
//! does the parsing; this only picks out addresses, TCP flags and payloads,
//! and names ICMP messages. Never fails: what does not parse becomes
//! [`Parsed::Other`] with the reason.

use std::net::{IpAddr, SocketAddr};

use etherparse::{Icmpv4Type, Icmpv6Type, NetSlice, SlicedPacket, TransportSlice};

/// The TCP fields the decoder needs, borrowing the payload.
pub(super) struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub syn: bool,
    pub ack: bool,
    /// Names of the flags set, in Wireshark's order.
    pub flags: Vec<String>,
    pub seq: u32,
    pub ack_no: u32,
    pub payload: &'a [u8],
}

pub(super) enum Parsed<'a> {
    Tcp(TcpSegment<'a>),
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    },
    Icmp {
        src: IpAddr,
        dst: IpAddr,
        text: String,
    },
    Other {
        src: String,
        dst: String,
        text: String,
    },
}

pub(super) fn parse(bytes: &[u8]) -> Parsed<'_> {
    let sliced = match SlicedPacket::from_ip(bytes) {
        Ok(sliced) => sliced,
        Err(e) => {
            return Parsed::Other {
                src: "?".into(),
                dst: "?".into(),
                text: format!("undecodable: {e}"),
            };
        }
    };
    let Some((sip, dip)) = sliced.net.as_ref().and_then(ip_pair) else {
        return Parsed::Other {
            src: "?".into(),
            dst: "?".into(),
            text: "not IP".into(),
        };
    };
    match sliced.transport {
        Some(TransportSlice::Tcp(t)) => {
            let flags = [
                (t.syn(), "SYN"),
                (t.fin(), "FIN"),
                (t.rst(), "RST"),
                (t.psh(), "PSH"),
                (t.ack(), "ACK"),
                (t.urg(), "URG"),
                (t.ece(), "ECE"),
                (t.cwr(), "CWR"),
            ]
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| name.to_string())
            .collect();
            Parsed::Tcp(TcpSegment {
                src: SocketAddr::new(sip, t.source_port()),
                dst: SocketAddr::new(dip, t.destination_port()),
                syn: t.syn(),
                ack: t.ack(),
                flags,
                seq: t.sequence_number(),
                ack_no: t.acknowledgment_number(),
                payload: t.payload(),
            })
        }
        Some(TransportSlice::Udp(u)) => Parsed::Udp {
            src: SocketAddr::new(sip, u.source_port()),
            dst: SocketAddr::new(dip, u.destination_port()),
            payload: u.payload(),
        },
        Some(TransportSlice::Icmpv4(i)) => Parsed::Icmp {
            src: sip,
            dst: dip,
            text: icmpv4_text(&i.icmp_type()),
        },
        Some(TransportSlice::Icmpv6(i)) => Parsed::Icmp {
            src: sip,
            dst: dip,
            text: icmpv6_text(&i.icmp_type()),
        },
        _ => Parsed::Other {
            src: sip.to_string(),
            dst: dip.to_string(),
            text: "IP (fragment or other protocol)".into(),
        },
    }
}

/// Source and destination of an IPv4 or IPv6 header (the recorder uses it
/// too, to tell the probe's packets from the rest).
pub(super) fn ip_pair(net: &NetSlice<'_>) -> Option<(IpAddr, IpAddr)> {
    match net {
        NetSlice::Ipv4(v4) => {
            let h = v4.header();
            Some((
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
            ))
        }
        NetSlice::Ipv6(v6) => {
            let h = v6.header();
            Some((
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
            ))
        }
        _ => None,
    }
}

fn icmpv4_text(t: &Icmpv4Type) -> String {
    match t {
        Icmpv4Type::EchoRequest(e) => format!("ICMP echo request id={} seq={}", e.id, e.seq),
        Icmpv4Type::EchoReply(e) => format!("ICMP echo reply id={} seq={}", e.id, e.seq),
        Icmpv4Type::DestinationUnreachable(h) => format!("ICMP destination unreachable: {h:?}"),
        Icmpv4Type::TimeExceeded(c) => format!("ICMP time exceeded: {c:?}"),
        other => format!("ICMP {other:?}"),
    }
}

fn icmpv6_text(t: &Icmpv6Type) -> String {
    match t {
        Icmpv6Type::EchoRequest(e) => format!("ICMPv6 echo request id={} seq={}", e.id, e.seq),
        Icmpv6Type::EchoReply(e) => format!("ICMPv6 echo reply id={} seq={}", e.id, e.seq),
        Icmpv6Type::PacketTooBig { mtu } => format!("ICMPv6 packet too big, mtu {mtu}"),
        other => format!("ICMPv6 {other:?}"),
    }
}
