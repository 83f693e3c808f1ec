//! Whether a node's name servers can be reached at all: one query to each,
//! on a connected UDP socket of its own, so that the kernel's verdict —
//! no route, ICMP host/network unreachable, ICMP port unreachable — comes
//! back to us instead of vanishing inside a resolver library as a timeout.
//! That is what tells "this node has no resolver it can reach" (evidence
//! that a name cannot resolve) from "a resolver that says nothing" (no
//! evidence at all).
//!
//! The kernel sends at most one ICMP error a second towards one address
//! (`net.ipv4.icmp_ratelimit`, a burst of six), and a batch's resolver
//! queries, sent beside ours, can spend the burst: the "network
//! unreachable" meant for our query is then never sent. So a batch asks
//! each name server once, shared by all its DNS probes, and asks a silent
//! one again on a quiet socket a token later: silence counts only when it
//! holds then.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::os::fd::AsRawFd;

use tokio::net::UdpSocket;
use tokio::sync::OnceCell;

use super::protocol::{Reach, ResolverReach};

/// The `nameserver` lines of a resolv.conf, in order (hickory refuses a
/// file without any, which is itself what we need to report).
pub fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            // A scoped IPv6 address (`fe80::1%eth0`) keeps its address part.
            words.next()?.split('%').next()?.parse().ok()
        })
        .collect()
}

/// How long the kernel needs to allow one more ICMP error towards one
/// address: `net.ipv4.icmp_ratelimit`'s default, one token a second.
const ICMP_TOKEN: Duration = Duration::from_millis(1100);

/// What a batch learnt of each name server, asked once for each name (a
/// batch's DNS probes share one: their node's own name, the control).
#[derive(Default)]
pub struct NameServerReach {
    asked: Mutex<HashMap<Asked, Arc<OnceCell<Reach>>>>,
}

/// A name server and the name it was asked for.
type Asked = (IpAddr, String);

impl NameServerReach {
    /// Asks each name server of `/etc/resolv.conf` for `name` (type A), or
    /// takes what this batch already learnt of it, and says how each one
    /// reacted. `None` when resolv.conf cannot be read.
    pub async fn resolvers(&self, name: &str, deadline: Duration) -> Option<Vec<ResolverReach>> {
        let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
        let asks = nameservers(&text).into_iter().map(|server| async move {
            let cell = self.cell(server, name);
            let reach = cell
                .get_or_init(|| settled_reach(SocketAddr::new(server, 53), name, deadline))
                .await;
            ResolverReach {
                server,
                reach: reach.clone(),
            }
        });
        Some(futures::future::join_all(asks).await)
    }

    fn cell(&self, server: IpAddr, name: &str) -> Arc<OnceCell<Reach>> {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(asked.entry((server, name.to_owned())).or_default())
    }
}

/// One query; when it meets silence, one more a token later.
async fn settled_reach(server: SocketAddr, name: &str, deadline: Duration) -> Reach {
    let query = query_bytes(name);
    let first = reach(server, &query, deadline).await;
    if first != Reach::Silent {
        return first;
    }
    tokio::time::sleep(ICMP_TOKEN).await;
    reach(server, &query, deadline.min(ICMP_TOKEN)).await
}

async fn reach(server: SocketAddr, query: &[u8], deadline: Duration) -> Reach {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    // A socket this namespace cannot make says nothing of the server.
    let Ok(socket) = UdpSocket::bind(local).await else {
        return Reach::Silent;
    };
    // Without IP_RECVERR a UDP socket hears only ICMP port unreachable;
    // network and host unreachable (a router with no route) would pass as
    // silence.
    let (level, name) = match server {
        SocketAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_RECVERR),
        SocketAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_RECVERR),
    };
    if crate::capture::sockopt::set_int(socket.as_raw_fd(), level, name, 1).is_err() {
        return Reach::Silent;
    }
    if let Err(e) = socket.connect(server).await {
        return from_error(&e);
    }
    let exchange = async {
        if let Err(e) = socket.send(query).await {
            return from_error(&e);
        }
        let mut buf = [0u8; 512];
        match socket.recv(&mut buf).await {
            Ok(_) => Reach::Answered,
            Err(e) => from_error(&e),
        }
    };
    tokio::time::timeout(deadline, exchange)
        .await
        .unwrap_or(Reach::Silent)
}

fn from_error(e: &std::io::Error) -> Reach {
    match e.kind() {
        ErrorKind::ConnectionRefused => Reach::Refused,
        _ => Reach::Unreachable {
            message: e.to_string(),
        },
    }
}

/// A standard query for `name`, type A, recursion desired.
fn query_bytes(name: &str) -> Vec<u8> {
    // id, flags (RD), one question, no other records.
    let mut q = vec![0x6e, 0x6c, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        q.push(bytes.len() as u8);
        q.extend_from_slice(bytes);
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_are_read_from_resolv_conf_lines() {
        let text = "# generated\nsearch lab\nnameserver 127.0.0.11\noptions ndots:0\nnameserver fe80::1%eth0\nnameserver bogus\n";
        assert_eq!(
            nameservers(text),
            vec![
                "127.0.0.11".parse::<IpAddr>().expect("ip"),
                "fe80::1".parse().expect("ip")
            ]
        );
        assert!(nameservers("search lab\n").is_empty());
    }

    #[test]
    fn the_query_is_a_well_formed_dns_message() {
        let q = query_bytes("web.lab.");
        let parsed = hickory_resolver::proto::op::Message::from_vec(&q).expect("parses");
        assert_eq!(parsed.queries.len(), 1);
        assert_eq!(parsed.queries[0].name().to_string(), "web.lab.");
    }

    #[tokio::test]
    async fn a_closed_port_on_loopback_is_refused_and_a_listener_answers() {
        let listener = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let q = query_bytes("x");
        assert_eq!(
            reach(addr, &q, Duration::from_secs(2)).await,
            Reach::Refused
        );
        let server = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = server.local_addr().expect("addr");
        let answer = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, peer) = server.recv_from(&mut buf).await.expect("query");
            server.send_to(&buf[..n], peer).await.expect("answer");
        });
        assert_eq!(
            reach(addr, &q, Duration::from_secs(2)).await,
            Reach::Answered
        );
        answer.await.expect("joined");
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = silent.local_addr().expect("addr");
        assert_eq!(
            reach(addr, &q, Duration::from_millis(200)).await,
            Reach::Silent
        );
    }
}
