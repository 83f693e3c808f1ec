//! Whether a node has a route out, without sending a packet: a UDP socket
//! connected to an address outside every lab makes the kernel choose a
//! route (and a source address) or answer "network unreachable" — the same
//! decision a first packet would meet, as Docker's internal networks make
//! it (their containers get no default route). Connecting a UDP socket
//! sends nothing.

use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use super::protocol::EgressObservation;

/// The discard port: nothing is sent to it either.
const PORT: u16 = 9;

pub fn route_out(target: IpAddr) -> EgressObservation {
    let to = SocketAddr::new(target, PORT);
    let socket = match Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP)) {
        Ok(s) => s,
        Err(e) => {
            return EgressObservation::Error {
                target,
                message: format!("no UDP socket: {e}"),
            };
        }
    };
    match socket.connect(&to.into()) {
        Ok(()) => {
            let source = match socket.local_addr().map(|a| a.as_socket()) {
                Ok(Some(a)) => a.ip(),
                Ok(None) | Err(_) => {
                    return EgressObservation::Error {
                        target,
                        message: "the kernel chose a route but gave no source address".into(),
                    };
                }
            };
            let interface = if_addrs::get_if_addrs()
                .ok()
                .and_then(|list| list.into_iter().find(|i| i.ip() == source).map(|i| i.name));
            let gateway = interface
                .as_deref()
                .and_then(|name| default_gateway(target, name));
            EgressObservation::Routed {
                target,
                source,
                interface,
                gateway,
            }
        }
        Err(e) if is_unreachable(&e) => EgressObservation::Unreachable {
            target,
            message: e.to_string(),
        },
        Err(e) => EgressObservation::Error {
            target,
            message: format!("connect: {e}"),
        },
    }
}

fn is_unreachable(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENETUNREACH | libc::EHOSTUNREACH)
    )
}

/// The main table's default route's gateway on `interface` (IPv4 only:
/// `/proc/net/route`; an IPv6 route is said without one).
fn default_gateway(target: IpAddr, interface: &str) -> Option<IpAddr> {
    if !target.is_ipv4() {
        return None;
    }
    super::routes::routes()
        .into_iter()
        .find(|r| r.interface == interface && r.destination.prefix_len() == 0 && !r.address)
        .and_then(|r| r.gateway)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_routed_and_nothing_is_sent() {
        // Loopback always has a route; the answer names its source.
        match route_out(IpAddr::from([127, 0, 0, 1])) {
            EgressObservation::Routed { source, .. } => assert!(source.is_loopback()),
            other => panic!("{other:?}"),
        }
    }
}
