//! A `link` check judged, and explained: what a node's interface on a
//! network showed of the link layer to a peer (its own MAC address, the
//! peer's as ARP resolved it, whether ARP is spoken at all) against what the
//! lab expects — `shared-mac` (ipvlan: every container carries the parent's
//! MAC), `own-mac` (bridge, macvlan: a MAC per container), `no-arp` (ipvlan
//! l3: the interface routes by address, no broadcast, no ARP). Pure.

use super::outcome::Outcome;
use super::why::Why;
use crate::agent::link::LinkObservation;
use crate::lab::{Driver, LinkExpect};
use crate::live::LiveLab;

/// The outcome of a link check: every expectation can fail, on the very
/// observation the others pass on.
pub fn judge(expect: LinkExpect, to: &str, o: &LinkObservation) -> Outcome {
    let (interface, mac, noarp, peer_mac) = match o {
        LinkObservation::Found {
            interface,
            mac,
            noarp,
            peer_mac,
        } => (interface, mac, *noarp, peer_mac.as_deref()),
        LinkObservation::NotFound => {
            return Outcome::fail("no interface holds the node's address on that network");
        }
        LinkObservation::Error { message } => {
            return Outcome::error(format!("the link could not be read: {message}"));
        }
    };
    let arp = if noarp { "NOARP" } else { "ARP" };
    let seen = match peer_mac {
        Some(p) if p.eq_ignore_ascii_case(mac) => {
            format!("{interface} {mac} ({arp}); {to} is at {p}, the same MAC")
        }
        Some(p) => format!("{interface} {mac} ({arp}); {to} is at {p}, a MAC of its own"),
        None => format!("{interface} {mac} ({arp}); no ARP entry for {to} after sending to it"),
    };
    let shared = peer_mac.is_some_and(|p| p.eq_ignore_ascii_case(mac));
    let met = match expect {
        LinkExpect::SharedMac => shared,
        LinkExpect::OwnMac => peer_mac.is_some() && !shared,
        LinkExpect::NoArp => noarp && peer_mac.is_none(),
    };
    if met {
        Outcome::pass(seen)
    } else {
        Outcome::fail(format!("{seen}; expected {}", expect.as_str()))
    }
}

/// The driver's mechanism behind what was seen, where the driver accounts
/// for it.
pub fn why(live: &LiveLab, network: &str, o: &LinkObservation) -> Option<Why> {
    let LinkObservation::Found {
        mac,
        noarp,
        peer_mac,
        ..
    } = o
    else {
        return None;
    };
    let driver = live.lab.networks.get(network)?.driver;
    let shared = peer_mac
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(mac));
    let n = format!("`{network}`");
    let (sentence, short) = match (driver, *noarp, peer_mac.is_some(), shared) {
        (Driver::Ipvlan { l3: true }, true, false, _) => (
            format!(
                "{n} is an ipvlan network in l3 mode: the parent routes by IP address and its interfaces carry NOARP, so no ARP request (a broadcast) is sent and the peer is reached without learning its MAC"
            ),
            "ipvlan l3: routed, no ARP".to_owned(),
        ),
        (Driver::Ipvlan { l3: false }, false, true, true) => (
            format!(
                "{n} is an ipvlan network in l2 mode: every container's interface carries the MAC address of the parent (Docker's dummy interface here), so ARP answers with the node's own MAC and the parent tells containers apart by IP address"
            ),
            "ipvlan: the parent's MAC for all".to_owned(),
        ),
        (Driver::Macvlan, false, true, false) => (
            format!(
                "{n} is a macvlan network: each container gets a MAC address of its own on the parent, as if it were a machine of its own on that wire, and ARP answers with it"
            ),
            "macvlan: a MAC per container".to_owned(),
        ),
        (Driver::Bridge, false, true, false) => (
            format!(
                "{n} is a bridge: each container's veth has a MAC address of its own on the Linux bridge, and ARP answers with it"
            ),
            "bridge: a MAC per container".to_owned(),
        ),
        _ => return None,
    };
    Some(Why { sentence, short })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(noarp: bool, peer: Option<&str>) -> LinkObservation {
        LinkObservation::Found {
            interface: "eth0".into(),
            mac: "02:42:0a:09:00:02".into(),
            noarp,
            peer_mac: peer.map(str::to_owned),
        }
    }

    #[test]
    fn each_expectation_fails_where_another_passes() {
        let ipvlan_l2 = seen(false, Some("02:42:0A:09:00:02"));
        let macvlan = seen(false, Some("02:42:0a:09:00:03"));
        let ipvlan_l3 = seen(true, None);
        let cases = [
            (LinkExpect::SharedMac, &ipvlan_l2, true),
            (LinkExpect::SharedMac, &macvlan, false),
            (LinkExpect::SharedMac, &ipvlan_l3, false),
            (LinkExpect::OwnMac, &macvlan, true),
            (LinkExpect::OwnMac, &ipvlan_l2, false),
            (LinkExpect::OwnMac, &ipvlan_l3, false),
            (LinkExpect::NoArp, &ipvlan_l3, true),
            (LinkExpect::NoArp, &ipvlan_l2, false),
            (LinkExpect::NoArp, &macvlan, false),
        ];
        for (expect, o, passes) in cases {
            let out = judge(expect, "b", o);
            assert_eq!(out.passed, passes, "{expect:?} on {o:?}: {}", out.observed);
        }
        // An ARP entry on a NOARP interface disproves no-arp.
        assert!(
            !judge(
                LinkExpect::NoArp,
                "b",
                &seen(true, Some("02:42:0a:09:00:03"))
            )
            .passed
        );
        assert!(!judge(LinkExpect::OwnMac, "b", &LinkObservation::NotFound).passed);
        let e = judge(
            LinkExpect::OwnMac,
            "b",
            &LinkObservation::Error {
                message: "x".into(),
            },
        );
        assert!(e.error && !e.passed);
    }

    #[test]
    fn the_observation_names_both_macs() {
        let out = judge(
            LinkExpect::OwnMac,
            "b",
            &seen(false, Some("02:42:0a:09:00:03")),
        );
        assert_eq!(
            out.observed,
            "eth0 02:42:0a:09:00:02 (ARP); b is at 02:42:0a:09:00:03, a MAC of its own"
        );
    }
}
