//! What a lab may take of its Docker host: which IPv4 space, which
//! addresses (one host's, not a broadcast or multicast group), and how many
//! host ports.
//!
//! A lab's subnet becomes a route of the Docker host for as long as the lab
//! is up: a subnet in public space would send the host's own traffic to
//! those addresses (its DNS server, say) into the lab, and one in
//! link-local space would answer the host's questions to the cloud metadata
//! address. So, like IPv6 subnets are ULA (`ipv6::ula`), IPv4 subnets are
//! private; `--allow-external` lifts this for public space only (and the
//! reports say so). Loopback, link-local, multicast and reserved space are
//! never a lab's: no lab means them, and Docker routes them badly or not at
//! all.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;

use crate::lab::model::Lab;

/// Where a lab's IPv4 subnets lie without `--allow-external`.
///
/// 100.64.0.0/10 is RFC 6598's shared space for carrier-grade NAT: it is not
/// routed on the internet either (RFC 6598 keeps it inside a provider's
/// network), and some CI runners and cloud hosts number their own networks
/// in it, so a lab there is no more foreign than one in RFC 1918 space. A
/// host that does use it has a route there, which `up` refuses to overlap
/// (`app::host_subnets`), as for RFC 1918 space.
const PRIVATE: [(Ipv4Addr, u8); 4] = [
    (Ipv4Addr::new(10, 0, 0, 0), 8),
    (Ipv4Addr::new(172, 16, 0, 0), 12),
    (Ipv4Addr::new(192, 168, 0, 0), 16),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
];

/// Space that is never a lab's, with what it is.
const NEVER: [(Ipv4Addr, u8, &str); 5] = [
    (
        Ipv4Addr::new(0, 0, 0, 0),
        8,
        "\"this network\" space (0.0.0.0/8), which no host is on",
    ),
    (
        Ipv4Addr::new(127, 0, 0, 0),
        8,
        "loopback space (127.0.0.0/8)",
    ),
    (
        Ipv4Addr::new(169, 254, 0, 0),
        16,
        "link-local space (169.254.0.0/16, which holds the cloud metadata address 169.254.169.254)",
    ),
    (
        Ipv4Addr::new(224, 0, 0, 0),
        4,
        "multicast space (224.0.0.0/4)",
    ),
    (
        Ipv4Addr::new(240, 0, 0, 0),
        4,
        "reserved space (240.0.0.0/4, with the broadcast address 255.255.255.255)",
    ),
];

/// What an IPv4 subnet is, for a lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// Within RFC 1918 or RFC 6598 space: a lab's to take.
    Private,
    /// Public space (or partly): a lab's only with `--allow-external`.
    Public,
    /// Never a lab's; the words say what it is.
    Never(&'static str),
}

fn net((addr, len): (Ipv4Addr, u8)) -> Ipv4Net {
    Ipv4Net::new(addr, len).unwrap_or_default()
}

pub fn space_of(subnet: Ipv4Net) -> Space {
    let overlaps = |b: Ipv4Net| b.contains(&subnet.network()) || subnet.contains(&b.network());
    if let Some((_, _, what)) = NEVER.iter().find(|(a, l, _)| overlaps(net((*a, *l)))) {
        return Space::Never(what);
    }
    if PRIVATE.iter().any(|p| net(*p).contains(&subnet)) {
        Space::Private
    } else {
        Space::Public
    }
}

/// The private blocks, for hints.
pub fn private_words() -> String {
    PRIVATE
        .iter()
        .map(|p| net(*p).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why `ip` cannot be one host's address (multicast, broadcast, reserved,
/// "this network"); the unspecified address is the caller's to judge (a
/// host binding of 0.0.0.0 means every address).
pub fn not_one_host(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => None,
        IpAddr::V4(v4) if v4.is_broadcast() => Some(format!("{v4} is the broadcast address")),
        IpAddr::V4(v4) if v4.is_multicast() => Some(format!("{v4} is a multicast address")),
        IpAddr::V4(v4) => NEVER
            .iter()
            .filter(|(a, _, _)| !a.is_loopback() && !a.is_link_local())
            .find(|(a, l, _)| net((*a, *l)).contains(&v4))
            .map(|(_, _, what)| format!("{v4} is in {what}")),
        IpAddr::V6(v6) if v6.is_multicast() => Some(format!("{v6} is a multicast address")),
        IpAddr::V6(_) => None,
    }
}

/// Why `ip` names no single host in one of the lab's subnets: the
/// network's own address or its broadcast address.
pub fn subnet_edge(
    lab_subnets: impl IntoIterator<Item = (Ipv4Net, String)>,
    ip: IpAddr,
) -> Option<String> {
    let IpAddr::V4(v4) = ip else {
        return None;
    };
    lab_subnets.into_iter().find_map(|(sn, name)| {
        // A /31 or /32 has no network or broadcast address to avoid.
        if sn.prefix_len() >= 31 {
            return None;
        }
        if v4 == sn.network() {
            Some(format!(
                "{v4} is the network address of subnet {sn} (network `{name}`)"
            ))
        } else if v4 == sn.broadcast() {
            Some(format!(
                "{v4} is the broadcast address of subnet {sn} (network `{name}`)"
            ))
        } else {
            None
        }
    })
}

/// One line per subnet of the lab in public space, for the reports of a
/// lab that `--allow-external` let take it.
pub fn public_subnet_notes(lab: &Lab) -> Vec<String> {
    lab.networks
        .values()
        .filter_map(|n| Some((n, n.subnet?)))
        .filter(|(_, sn)| space_of(*sn) == Space::Public)
        .map(|(n, sn)| {
            format!(
                "--allow-external: subnet {sn} of network `{}` is public space; while the lab is up, the Docker host's own traffic to it goes into the lab",
                n.name
            )
        })
        .collect()
}

/// Host ports one `ports:` entry may publish. Docker 20.10 starts one
/// docker-proxy process per published port: measured on a 2-core host, a
/// container with 100 published ports took 2.2 s to start (0.35 s with
/// one), 6.0 s to remove (0.2 s) and 129 MB of the host's memory (3.2 MB of
/// RSS per proxy). A range is a convenience for a few services, not the
/// whole port space (`1-65535` would be 65535 processes).
pub const PORTS_PER_ENTRY: u32 = 100;

/// Host ports the whole lab may publish: by the measure above about 650 MB
/// and half a minute to remove, the most a lab should ask of a host.
pub const PORTS_PER_LAB: u32 = 500;
