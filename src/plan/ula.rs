//! An IPv6 subnet for a network whose file gives none: a unique local
//! /64 (RFC 4193, `fd` + a 40-bit global ID + a 16-bit subnet ID) that
//! overlaps nothing already taken — the engine's networks, the Docker
//! host's routes and addresses, the lab's other subnets. The global ID comes
//! from a hash of the lab and network name, so the same lab picks the same
//! prefix again while it is free (a converge, a second `up`). Pure.

use std::net::Ipv6Addr;

use ipnet::{IpNet, Ipv6Net};
use sha2::{Digest, Sha256};

/// How many candidates are tried before giving up (each is free unless
/// something of the same /64 exists: 2^56 of them).
const ATTEMPTS: u32 = 64;

/// The `attempt`-th candidate for `seed`: `fdXX:XXXX:XXXX:YYYY::/64`.
fn candidate(seed: &str, attempt: u32) -> Ipv6Net {
    let digest = Sha256::digest(format!("{seed}/{attempt}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes[0] = 0xfd;
    bytes[1..8].copy_from_slice(&digest[..7]);
    Ipv6Net::new(Ipv6Addr::from(bytes), 64).unwrap_or_default()
}

/// Whether a /64 is one people set by hand: a global ID of all zeros or
/// all ones (`fd00::/64`, the prefix of many a LAN and of this kind of
/// machine's own interface) — never picked, whatever the host shows.
fn hand_made(net: &Ipv6Net) -> bool {
    let octets = net.network().octets();
    octets[1..6].iter().all(|b| *b == 0) || octets[1..6].iter().all(|b| *b == 0xff)
}

/// A free /64 for `seed` (the lab's and network's names), overlapping none
/// of `taken`; `None` when every attempt overlapped something.
pub fn pick(seed: &str, taken: &[IpNet]) -> Option<Ipv6Net> {
    (0..ATTEMPTS).map(|i| candidate(seed, i)).find(|c| {
        !hand_made(c)
            && !taken.iter().any(|t| match t {
                IpNet::V6(t) => t.contains(&c.network()) || c.contains(&t.network()),
                IpNet::V4(_) => false,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("net")
    }

    #[test]
    fn a_pick_is_a_ula_64_and_the_same_for_the_same_names() {
        let a = pick("dual-stack/front", &[]).expect("a prefix");
        assert_eq!(a.prefix_len(), 64);
        assert_eq!(a.network().octets()[0], 0xfd);
        assert_eq!(pick("dual-stack/front", &[]), Some(a));
        assert_ne!(pick("dual-stack/back", &[]), Some(a));
    }

    #[test]
    fn a_pick_overlaps_no_network_route_or_address_taken() {
        let first = pick("lab/net", &[]).expect("a prefix");
        // The first candidate taken as a network, a route that covers the
        // second, and an address inside the third: the pick moves on.
        let second = candidate("lab/net", 1);
        let third = candidate("lab/net", 2);
        let inside_third =
            Ipv6Net::new(Ipv6Addr::from(u128::from(third.network()) + 2), 64).expect("net");
        let taken = vec![
            IpNet::V6(first),
            IpNet::V6(Ipv6Net::new(second.network(), 48).expect("net").trunc()),
            IpNet::V6(inside_third),
            net("10.0.0.0/8"),
        ];
        let picked = pick("lab/net", &taken).expect("a prefix");
        for t in &taken {
            if let IpNet::V6(t) = t {
                assert!(
                    !t.contains(&picked.network()) && !picked.contains(&t.network()),
                    "{picked} overlaps {t}"
                );
            }
        }
        // Everything taken: no prefix, never an overlapping one.
        assert_eq!(pick("lab/net", &[net("fc00::/7")]), None);
    }

    #[test]
    fn the_machines_own_kind_of_prefix_is_never_picked() {
        assert!(hand_made(&"fd00::/64".parse().expect("net")));
        assert!(hand_made(&"fd00:0:0:1::/64".parse().expect("net")));
        assert!(!hand_made(&"fd0e:1ab:77::/64".parse().expect("net")));
        let machine: Ipv6Net = "fd00::/64".parse().expect("net");
        for lab in 0..200 {
            let picked = pick(&format!("lab-{lab}/net"), &[]).expect("a prefix");
            assert!(!hand_made(&picked) && !machine.contains(&picked.network()));
        }
    }
}
