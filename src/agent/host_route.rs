//! A probe from a Docker host's own stack to a lab container's address is
//! sent only when the host routes to that address itself: a connected
//! route (a lab's bridge, a macvlan shim a user made). A route via a
//! gateway leads out of the machine — where a macvlan or ipvlan container
//! is, seen from a host with no address on its parent — and a lab sends
//! nothing off the machine. Such a probe ends unreachable, with the route
//! that says why: the host has no way of its own to the container. The
//! kernel is asked as `ip route get` asks it (RTM_GETROUTE): its own
//! decision, policy rules and all; nothing is sent.

use std::net::IpAddr;

use super::rtnl::{RouteTo, Rtnl};

/// Why a packet from this namespace to `to` would leave the machine, or
/// `None` when it would not (a connected or local route), or when the
/// kernel has no route at all (the probe meets that itself, sending
/// nothing).
pub fn off_machine(to: IpAddr) -> Option<String> {
    let route = Rtnl::open().and_then(|mut rtnl| rtnl.route_to(to));
    match route {
        Ok(route) => why_off_machine(to, &route),
        Err(e) if no_route(&e) => None,
        // Without the kernel's answer nobody can say where it would go.
        Err(e) => Some(format!(
            "not sent: the kernel could not say how this host routes {to} ({e})"
        )),
    }
}

fn no_route(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EACCES | libc::EINVAL)
    )
}

/// Pure: the words for a route via a gateway.
fn why_off_machine(to: IpAddr, route: &RouteTo) -> Option<String> {
    let gateway = route.gateway?;
    let on = route
        .interface
        .as_deref()
        .map(|i| format!(" on {i}"))
        .unwrap_or_default();
    Some(format!(
        "not sent: this host routes {to} via {gateway}{on}, out of the machine — it has no route of its own to the container"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_route_via_a_gateway_leaves_the_machine() {
        let to: IpAddr = "172.16.86.2".parse().expect("ip");
        let via = RouteTo {
            gateway: Some("10.0.2.2".parse().expect("ip")),
            interface: Some("eth0".into()),
        };
        let why = why_off_machine(to, &via).expect("off the machine");
        assert!(why.contains("via 10.0.2.2 on eth0"), "{why}");
        let connected = RouteTo {
            gateway: None,
            interface: Some("br-1".into()),
        };
        assert_eq!(why_off_machine(to, &connected), None);
    }

    /// The kernel's own answer, read back: where this namespace has a
    /// default route via a gateway (`/proc/net/route`), an address of
    /// TEST-NET-2 (RFC 5737, on no network) is off the machine via that
    /// gateway. Nothing is sent.
    #[test]
    fn the_kernel_names_the_gateway_of_the_default_route() {
        let default_gateway = crate::agent::routes::routes()
            .into_iter()
            .find(|r| r.destination.prefix_len() == 0 && !r.address)
            .and_then(|r| r.gateway);
        let to = IpAddr::from([198, 51, 100, 7]);
        match default_gateway {
            Some(gateway) => {
                let why = off_machine(to).expect("off the machine");
                assert!(why.contains(&format!("via {gateway} on ")), "{why}");
            }
            None => eprintln!("this namespace has no default route via a gateway"),
        }
    }

    #[test]
    fn loopback_stays_on_the_machine() {
        // The kernel answers for a local route without a gateway.
        assert_eq!(off_machine(IpAddr::from([127, 0, 0, 1])), None);
    }
}
