//! Which packets of the namespace belong to the probe, and which way they
//! go. Every packet crossing the namespace passes through here, so this
//! only slices headers (etherparse) and compares addresses.
//!
//! The probe is recognised by its remote `IP:port` (given up front or with
//! `Recorder::watch` once DNS has answered), ICMP to/from those IPs, and
//! DNS by port 53 or by the resolver's address: inside a Docker container
//! the query to 127.0.0.11:53 is DNATed (nat OUTPUT, before the tap) to
//! 127.0.0.11:<dockerd's port>, so "port 53" alone would miss every query.

use std::net::{IpAddr, SocketAddr};

use etherparse::{SlicedPacket, TransportSlice};
use serde::{Deserialize, Serialize};

use super::packet::ip_pair;

/// Which packets belong to the probe.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// The probe's remote endpoints (TCP or UDP).
    pub remotes: Vec<SocketAddr>,
    /// The resolvers the probe may ask (from resolv.conf); DNS is also
    /// recognised by port 53 on either side.
    pub dns_servers: Vec<IpAddr>,
    /// Record DNS at all.
    pub dns: bool,
    /// The names the probe looks up: other lookups in the namespace (a
    /// concurrent probe's) are dropped at the end. Empty: any name.
    #[serde(default)]
    pub dns_names: Vec<String>,
}

/// A packet of the probe.
pub(super) struct Match {
    /// Sent by this namespace, judged by the addresses alone (on loopback
    /// the packet type cannot tell).
    pub outgoing_by_address: bool,
    pub tcp: Option<TcpBits>,
}

/// What the recorder needs to see a connection close.
pub(super) struct TcpBits {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub fin: bool,
    pub rst: bool,
    pub ack: bool,
}

/// Does this IP packet belong to the probe, and which way would it go?
pub(super) fn classify(bytes: &[u8], filter: &Filter) -> Option<Match> {
    let sliced = SlicedPacket::from_ip(bytes).ok()?;
    let (sip, dip) = ip_pair(sliced.net.as_ref()?)?;
    let (sport, dport, tcp) = match sliced.transport.as_ref() {
        Some(TransportSlice::Tcp(t)) => (t.source_port(), t.destination_port(), Some(t)),
        Some(TransportSlice::Udp(u)) => (u.source_port(), u.destination_port(), None),
        // Neighbour discovery (router and neighbour solicitations and
        // advertisements, redirects) is the link finding its way, not the
        // probe's exchange: it is left out like ARP.
        Some(TransportSlice::Icmpv6(i)) if (133..=137).contains(&i.type_u8()) => return None,
        Some(TransportSlice::Icmpv4(_)) | Some(TransportSlice::Icmpv6(_)) => {
            let to = filter.remotes.iter().any(|r| r.ip() == dip);
            let from = filter.remotes.iter().any(|r| r.ip() == sip);
            return (to || from).then_some(Match {
                outgoing_by_address: to,
                tcp: None,
            });
        }
        _ => return None,
    };
    let src = SocketAddr::new(sip, sport);
    let dst = SocketAddr::new(dip, dport);
    let outgoing_by_address = if filter.remotes.contains(&dst) {
        true
    } else if filter.remotes.contains(&src) || (filter.dns && sport == 53) {
        false
    } else if filter.dns && (dport == 53 || filter.dns_servers.contains(&dip)) {
        true
    } else if filter.dns && filter.dns_servers.contains(&sip) {
        false
    } else {
        return None;
    };
    Some(Match {
        outgoing_by_address,
        tcp: tcp.map(|t| TcpBits {
            src,
            dst,
            fin: t.fin(),
            rst: t.rst(),
            ack: t.ack(),
        }),
    })
}

/// With pinned local endpoints, a packet to/from a watched remote is kept
/// only when its other end is pinned. DNS and ICMP are kept.
pub(super) fn keep_pinned(bytes: &[u8], remotes: &[SocketAddr], pinned: &[SocketAddr]) -> bool {
    let Ok(sliced) = SlicedPacket::from_ip(bytes) else {
        return true;
    };
    let Some((sip, dip)) = sliced.net.as_ref().and_then(ip_pair) else {
        return true;
    };
    let (sport, dport) = match sliced.transport.as_ref() {
        Some(TransportSlice::Tcp(t)) => (t.source_port(), t.destination_port()),
        Some(TransportSlice::Udp(u)) => (u.source_port(), u.destination_port()),
        _ => return true,
    };
    let is_pinned = |ip: IpAddr, port: u16| {
        pinned
            .iter()
            .any(|l| l.port() == port && (l.ip().is_unspecified() || l.ip() == ip))
    };
    let src = SocketAddr::new(sip, sport);
    let dst = SocketAddr::new(dip, dport);
    if remotes.contains(&dst) {
        is_pinned(sip, sport)
    } else if remotes.contains(&src) {
        is_pinned(dip, dport)
    } else {
        true
    }
}

/// A DNS packet is kept only when it asks one of `names` (when any are
/// given); anything else is kept.
pub(super) fn keep_dns_name(bytes: &[u8], names: &[String]) -> bool {
    if names.is_empty() {
        return true;
    }
    let Ok(sliced) = SlicedPacket::from_ip(bytes) else {
        return true;
    };
    let Some(TransportSlice::Udp(u)) = sliced.transport.as_ref() else {
        return true;
    };
    let Some(dns) = super::dns::dns(u.payload()) else {
        return true;
    };
    dns.questions.iter().any(|q| {
        let name = q
            .split(' ')
            .next()
            .unwrap_or_default()
            .trim_end_matches('.');
        names.iter().any(|n| n.eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_packet(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
            panic!("IPv4 addresses only")
        };
        let builder = etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
            .tcp(src.port(), dst.port(), 1, 1000)
            .syn();
        let mut out = Vec::new();
        builder.write(&mut out, &[]).expect("packet");
        out
    }

    fn udp_packet(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let builder = etherparse::PacketBuilder::ipv4(src, dst, 64).udp(sport, dport);
        let mut out = Vec::new();
        builder.write(&mut out, b"x").expect("packet");
        out
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn classify_by_remote_and_dns() {
        let remote = addr("172.18.0.2:443");
        let local = addr("172.18.0.3:40000");
        let filter = Filter {
            remotes: vec![remote],
            dns_servers: vec!["127.0.0.11".parse().expect("ip")],
            dns: true,
            dns_names: Vec::new(),
        };
        let outgoing = |bytes: &[u8]| classify(bytes, &filter).map(|m| m.outgoing_by_address);
        assert_eq!(outgoing(&tcp_packet(local, remote)), Some(true));
        assert_eq!(outgoing(&tcp_packet(remote, local)), Some(false));
        assert_eq!(
            outgoing(&tcp_packet(local, addr("172.18.0.9:443"))),
            None,
            "another remote is not the probe's"
        );
        // Docker's DNATed query: to 127.0.0.11:<port>, not 53.
        assert_eq!(
            outgoing(&udp_packet([127, 0, 0, 1], [127, 0, 0, 11], 5353, 41000)),
            Some(true)
        );
        assert_eq!(
            outgoing(&udp_packet([127, 0, 0, 11], [127, 0, 0, 1], 53, 5353)),
            Some(false)
        );
    }

    #[test]
    fn neighbour_discovery_is_not_the_probes_but_an_icmpv6_error_is() {
        let remote: std::net::Ipv6Addr = "fd0e:1ab:77::2".parse().expect("ip");
        let local: std::net::Ipv6Addr = "fd0e:1ab:77::3".parse().expect("ip");
        let filter = Filter {
            remotes: vec![SocketAddr::new(IpAddr::V6(remote), 7000)],
            dns_servers: Vec::new(),
            dns: false,
            dns_names: Vec::new(),
        };
        let icmp = |kind: etherparse::Icmpv6Type| {
            let builder =
                etherparse::PacketBuilder::ipv6(remote.octets(), local.octets(), 255).icmpv6(kind);
            let mut out = Vec::new();
            builder.write(&mut out, &[0u8; 20]).expect("packet");
            out
        };
        let advert = icmp(etherparse::Icmpv6Type::NeighborAdvertisement(
            etherparse::icmpv6::NeighborAdvertisementHeader {
                router: false,
                solicited: true,
                r#override: true,
            },
        ));
        assert!(classify(&advert, &filter).is_none());
        let unreachable = icmp(etherparse::Icmpv6Type::DestinationUnreachable(
            etherparse::icmpv6::DestUnreachableCode::Port,
        ));
        assert!(classify(&unreachable, &filter).is_some());
    }

    #[test]
    fn pinning_drops_other_connections() {
        let remote = addr("172.18.0.2:443");
        let mine = addr("172.18.0.3:40000");
        let theirs = addr("172.18.0.3:40001");
        assert!(keep_pinned(&tcp_packet(mine, remote), &[remote], &[mine]));
        assert!(keep_pinned(&tcp_packet(remote, mine), &[remote], &[mine]));
        assert!(!keep_pinned(
            &tcp_packet(theirs, remote),
            &[remote],
            &[mine]
        ));
    }
}
