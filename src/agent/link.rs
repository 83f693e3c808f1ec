//! The link layer between a node and a peer on one network, as the node's
//! kernel sees it: the MAC address of the node's interface there, whether
//! that interface speaks ARP (`IFF_NOARP`), and the MAC address the peer's
//! address resolved to after the node sent it a datagram. This is what
//! tells the drivers apart: a bridge or macvlan peer answers ARP with a MAC
//! of its own, an ipvlan l2 peer with the parent's (the node's own), and
//! ipvlan l3 sends no ARP at all.
//!
//! Read from sysfs and `/proc/net/arp` of the node's namespace (both are
//! there in any container, a `FROM scratch` one included); the datagram
//! goes to the discard port of a lab node.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// `IFF_NOARP` in an interface's flags.
const IFF_NOARP: u32 = 0x80;
/// `ATF_COM` in `/proc/net/arp`: the entry holds a resolved address.
const ATF_COM: u32 = 0x2;
/// How long an interface that does not speak ARP is watched for an entry
/// anyway (one would prove it wrong).
const NOARP_WATCH: Duration = Duration::from_millis(600);
/// The discard port: nothing need listen there, the datagram is only what
/// makes the kernel resolve the peer.
const DISCARD: u16 = 9;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum LinkObservation {
    Found {
        interface: String,
        /// The interface's own MAC address.
        mac: String,
        /// Whether the interface carries `NOARP`.
        noarp: bool,
        /// The peer's MAC address as the node's ARP table holds it;
        /// `None`: the table holds no resolved entry for the peer.
        peer_mac: Option<String>,
    },
    /// No interface holds the node's address on that network.
    NotFound,
    Error {
        message: String,
    },
}

/// Looks at the interface holding `address` and at how `peer` is reached
/// from it, within `deadline`.
pub fn observe(address: IpAddr, peer: IpAddr, deadline: Duration) -> LinkObservation {
    match observe_inner(address, peer, deadline) {
        Ok(Some(o)) => o,
        Ok(None) => LinkObservation::NotFound,
        Err(message) => LinkObservation::Error { message },
    }
}

fn observe_inner(
    address: IpAddr,
    peer: IpAddr,
    deadline: Duration,
) -> Result<Option<LinkObservation>, String> {
    let (IpAddr::V4(_), IpAddr::V4(peer4)) = (address, peer) else {
        return Err("a link check looks at IPv4 addresses (ARP); this network has none".into());
    };
    let interfaces =
        if_addrs::get_if_addrs().map_err(|e| format!("cannot list interfaces: {e}"))?;
    let Some(interface) = interfaces.into_iter().find(|i| i.ip() == address) else {
        return Ok(None);
    };
    let name = interface.name;
    let mac = read_sys(&name, "address")?;
    let flags = read_sys(&name, "flags")?;
    let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16)
        .map_err(|e| format!("flags of {name} `{flags}`: {e}"))?;
    let noarp = flags & IFF_NOARP != 0;
    let socket = UdpSocket::bind(SocketAddr::new(address, 0))
        .map_err(|e| format!("cannot bind a UDP socket to {address}: {e}"))?;
    let started = Instant::now();
    let watch = if noarp {
        deadline.min(NOARP_WATCH)
    } else {
        deadline
    };
    let mut peer_mac = None;
    let mut sent = 0u32;
    while started.elapsed() < watch {
        // A datagram every 200 ms: the first one starts the resolution.
        if started.elapsed() >= Duration::from_millis(200) * sent {
            // Unreachable or refused is fine: only the resolution matters.
            let _ = socket.send_to(b"netlab link", SocketAddr::new(peer, DISCARD));
            sent += 1;
        }
        let table = std::fs::read_to_string("/proc/net/arp")
            .map_err(|e| format!("cannot read /proc/net/arp: {e}"))?;
        peer_mac = resolved(&table, peer4, &name);
        if peer_mac.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Some(LinkObservation::Found {
        interface: name,
        mac,
        noarp,
        peer_mac,
    }))
}

fn read_sys(interface: &str, what: &str) -> Result<String, String> {
    let path = format!("/sys/class/net/{interface}/{what}");
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_owned())
        .map_err(|e| format!("cannot read {path}: {e}"))
}

/// The resolved MAC address of `peer` on `interface` in a `/proc/net/arp`
/// table (`IP address  HW type  Flags  HW address  Mask  Device`).
pub fn resolved(table: &str, peer: Ipv4Addr, interface: &str) -> Option<String> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [ip, _, flags, hw, _, device] = f.as_slice() else {
            return None;
        };
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
        (ip.parse::<Ipv4Addr>().ok()? == peer && *device == interface && flags & ATF_COM != 0)
            .then(|| (*hw).to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "IP address       HW type     Flags       HW address            Mask     Device
10.9.0.3         0x1         0x2         02:42:0a:09:00:03     *        eth0
10.9.0.4         0x1         0x0         00:00:00:00:00:00     *        eth0
10.8.0.3         0x1         0x2         02:42:0a:08:00:03     *        eth1
";

    #[test]
    fn only_a_complete_entry_on_that_interface_counts() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().expect("address");
        assert_eq!(
            resolved(TABLE, ip("10.9.0.3"), "eth0").as_deref(),
            Some("02:42:0a:09:00:03")
        );
        // Incomplete: ARP asked, nobody answered.
        assert_eq!(resolved(TABLE, ip("10.9.0.4"), "eth0"), None);
        // Another interface's entry.
        assert_eq!(resolved(TABLE, ip("10.8.0.3"), "eth0"), None);
        assert_eq!(
            resolved("IP address HW type\n", ip("10.9.0.3"), "eth0"),
            None
        );
    }
}
