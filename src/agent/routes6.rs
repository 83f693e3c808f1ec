//! The IPv6 routes and addresses of the network namespace the agent runs
//! in — in a host helper, the Docker host's own. `up` reads them to pick
//! (or refuse) a lab's IPv6 subnet that would shadow a network of the host
//! (its LAN's /64, a VPN), and to wait until a new bridge's gateway address
//! has passed duplicate address detection (while it is tentative, nothing
//! can be routed through it). From `/proc/net/ipv6_route` (every table the
//! kernel shows there) and `/proc/net/if_inet6` (addresses with their
//! flags): no netlink, no C library.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

use super::protocol::Prefix6;

/// `IFA_F_TENTATIVE`: the address is in duplicate address detection.
const TENTATIVE: u32 = 0x40;

/// Every IPv6 route and address of this namespace; unreadable parts are
/// left out (a namespace without IPv6 has neither file).
pub fn prefixes() -> Vec<Prefix6> {
    let mut out = std::fs::read_to_string("/proc/net/ipv6_route")
        .map(|t| parse_routes(&t))
        .unwrap_or_default();
    out.extend(
        std::fs::read_to_string("/proc/net/if_inet6")
            .map(|t| parse_addresses(&t))
            .unwrap_or_default(),
    );
    out
}

fn hex_address(hex: &str) -> Option<Ipv6Addr> {
    (hex.len() == 32)
        .then(|| u128::from_str_radix(hex, 16).ok())
        .flatten()
        .map(Ipv6Addr::from)
}

fn hex_number(hex: &str) -> Option<u32> {
    u32::from_str_radix(hex, 16).ok()
}

/// `/proc/net/ipv6_route`: `dest plen src plen nexthop metric refcnt use
/// flags iface`, addresses as 32 hex digits in network order.
fn parse_routes(text: &str) -> Vec<Prefix6> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = hex_address(f.first()?)?;
            let len = u8::try_from(hex_number(f.get(1)?)?).ok()?;
            Some(Prefix6 {
                prefix: Ipv6Net::new(dest, len).ok()?.trunc(),
                interface: (*f.get(9)?).to_owned(),
                address: false,
                tentative: false,
            })
        })
        .collect()
}

/// `/proc/net/if_inet6`: `address ifindex plen scope flags name`.
fn parse_addresses(text: &str) -> Vec<Prefix6> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let ip = hex_address(f.first()?)?;
            let len = u8::try_from(hex_number(f.get(2)?)?).ok()?;
            let flags = hex_number(f.get(4)?)?;
            Some(Prefix6 {
                prefix: Ipv6Net::new(ip, len).ok()?,
                interface: (*f.get(5)?).to_owned(),
                address: true,
                tentative: flags & TENTATIVE != 0,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_tables_read_as_it_means_them() {
        let routes = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
fd0e01ab007700000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 br-1a2b3c4d5e6f
";
        let words: Vec<String> = parse_routes(routes)
            .iter()
            .map(|p| format!("{} {}", p.prefix, p.interface))
            .collect();
        assert_eq!(
            words,
            [
                "fd00::/64 eth0",
                "::/0 eth0",
                "fd0e:1ab:77::/64 br-1a2b3c4d5e6f"
            ]
        );
        let addresses = "\
fd000000000000000000000000000002 02 40 00 80     eth0
fd0e01ab007700000000000000000001 0c 40 00 c0 br-1a2b3c4d5e6f
00000000000000000000000000000001 01 80 10 80       lo
";
        let seen: Vec<(String, bool)> = parse_addresses(addresses)
            .iter()
            .map(|p| (format!("{} {}", p.prefix, p.interface), p.tentative))
            .collect();
        assert_eq!(
            seen,
            [
                ("fd00::2/64 eth0".to_owned(), false),
                ("fd0e:1ab:77::1/64 br-1a2b3c4d5e6f".to_owned(), true),
                ("::1/128 lo".to_owned(), false),
            ]
        );
    }

    #[test]
    fn this_namespaces_loopback_is_found_where_the_kernel_lists_it() {
        let listed = std::fs::read_to_string("/proc/net/if_inet6")
            .is_ok_and(|t| t.contains("00000000000000000000000000000001"));
        let found = prefixes();
        assert_eq!(
            found
                .iter()
                .any(|p| p.address && p.prefix.addr() == Ipv6Addr::LOCALHOST),
            listed,
            "{found:?}"
        );
    }
}
