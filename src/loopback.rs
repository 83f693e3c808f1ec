//! A Docker host's loopback is shared by everything on that host: the
//! lab's published ports and host-mode listeners sit there beside services
//! that are not the lab's (a Docker API on TCP, a database). A probe from
//! the host's own stack (`from: host`, a node in host mode) that carries a
//! payload (http, tls, udp, a redirect followed) may therefore aim at a
//! loopback port only when the lab owns it (SPEC: "What a lab may touch").
//! The lab file, the running lab and the agent (for redirects) judge with
//! this one rule, so it sits below all three. Pure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::vocab::{IpFamily, Transport};

/// A port the lab owns on a host's loopback: a published port bound there,
/// or a host-mode node's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnPort {
    /// The address it is bound to; unspecified (`0.0.0.0`, `::`): every
    /// address of that family, loopback included.
    pub ip: IpAddr,
    pub port: u16,
    pub transport: Transport,
}

impl OwnPort {
    /// Whether a probe to `ip:port` over `transport` reaches this port. A
    /// binding to `127.0.0.1` is not reached at `127.0.0.2`, where another
    /// service may listen on the same port.
    pub fn covers(&self, ip: IpAddr, port: u16, transport: Transport) -> bool {
        let ip = ip.to_canonical();
        self.port == port
            && self.transport == transport
            && (self.ip == ip || (self.ip.is_unspecified() && self.ip.is_ipv4() == ip.is_ipv4()))
    }
}

impl std::fmt::Display for OwnPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}",
            std::net::SocketAddr::new(self.ip, self.port),
            self.transport.as_str()
        )
    }
}

/// Loopback, also written as an IPv4-mapped IPv6 address
/// (`::ffff:127.0.0.1` reaches `127.0.0.1`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The loopback address `localhost` stands for in a probe of `family`.
pub fn localhost(family: IpFamily) -> IpAddr {
    match family {
        IpFamily::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpFamily::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

/// `None` when `ip:port` is one of `own`; else why a payload may not go
/// there, naming the target.
pub fn refusal(own: &[OwnPort], ip: IpAddr, port: u16, transport: Transport) -> Option<String> {
    if own.iter().any(|p| p.covers(ip, port, transport)) {
        return None;
    }
    let target = std::net::SocketAddr::new(ip, port);
    let owned = if own.is_empty() {
        "it publishes no port there and has no host-mode listener".to_owned()
    } else {
        let list: Vec<String> = own.iter().map(OwnPort::to_string).collect();
        format!("its own are {}", list.join(", "))
    };
    Some(format!(
        "{target} is loopback but not a port the lab publishes or serves there: a {} payload there could reach another service of the host ({owned})",
        transport.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(ip: &str, port: u16, transport: Transport) -> OwnPort {
        OwnPort {
            ip: ip.parse().expect("ip"),
            port,
            transport,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_port_is_owned_at_its_address_and_family_only() {
        let ports = [
            own("127.0.0.1", 8080, Transport::Tcp),
            own("::", 9000, Transport::Udp),
        ];
        assert_eq!(refusal(&ports, ip("127.0.0.1"), 8080, Transport::Tcp), None);
        assert_eq!(refusal(&ports, ip("::1"), 9000, Transport::Udp), None);
        // Another loopback address, another transport, another family:
        // each may be some other service's.
        for (addr, port, transport) in [
            ("127.0.0.2", 8080, Transport::Tcp),
            ("127.0.0.1", 8080, Transport::Udp),
            ("::1", 8080, Transport::Tcp),
            ("127.0.0.1", 9000, Transport::Udp),
            ("127.0.0.1", 2375, Transport::Tcp),
        ] {
            assert!(
                refusal(&ports, ip(addr), port, transport).is_some(),
                "{addr}:{port}"
            );
        }
    }

    #[test]
    fn the_refusal_names_the_target_and_the_lab_s_own_ports() {
        let why = refusal(
            &[own("127.0.0.1", 8080, Transport::Tcp)],
            ip("127.0.0.1"),
            2375,
            Transport::Tcp,
        )
        .expect("refused");
        assert!(
            why.starts_with(
                "127.0.0.1:2375 is loopback but not a port the lab publishes or serves there"
            ),
            "{why}"
        );
        assert!(why.contains("its own are 127.0.0.1:8080/tcp"), "{why}");
        let none = refusal(&[], ip("::1"), 80, Transport::Tcp).expect("refused");
        assert!(none.contains("[::1]:80 is loopback"), "{none}");
        assert!(none.contains("publishes no port there"), "{none}");
    }

    #[test]
    fn a_mapped_ipv4_loopback_is_loopback_and_judged_as_ipv4() {
        assert!(is_loopback(ip("::ffff:127.0.0.1")));
        assert!(!is_loopback(ip("::ffff:10.0.0.1")));
        let ports = [own("0.0.0.0", 80, Transport::Tcp)];
        assert_eq!(
            refusal(&ports, ip("::ffff:127.0.0.1"), 80, Transport::Tcp),
            None
        );
        assert!(refusal(&ports, ip("::ffff:127.0.0.1"), 81, Transport::Tcp).is_some());
    }
}
