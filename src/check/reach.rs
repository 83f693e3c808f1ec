//! Before any packet: every target of a verify must be the lab's own (SPEC:
//! "What a lab may touch"). Validation refused what the file alone decides
//! (`lab::reach`); here the running lab decides the rest — the subnets
//! Docker allocated, the containers' addresses, and the addresses of a
//! Docker host itself, which count only together with a port the lab
//! publishes (or a host-mode node serves) there. Redirects are kept inside
//! the same bounds by the agent (`follow_only`). Pure.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::agent::protocol::FollowOnly;
use crate::lab::reach::{self, Verdict};
use crate::lab::{Attachment, Check, CheckKind, NetworkMode, Source, TargetHost, Transport};
use crate::live::LiveLab;

/// A target outside the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub title: String,
    pub target: String,
    pub why: String,
}

/// What one address is, for a probe from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Inside,
    Outside(String),
    /// Only the addresses of this logical host's own stack can tell.
    AskHost(String),
}

/// The addresses of each logical host's own network stack, as its host
/// helper reads them.
pub type HostAddresses = HashMap<String, Vec<IpAddr>>;

/// The logical hosts whose own addresses would decide a target.
pub fn hosts_to_ask(live: &LiveLab) -> Vec<String> {
    let mut hosts: Vec<String> = targets(live)
        .into_iter()
        .filter_map(|(_, _, place)| match place(&HostAddresses::new()) {
            Place::AskHost(h) => Some(h),
            _ => None,
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Every target outside the lab (none with `--allow-external`).
pub fn refusals(live: &LiveLab, hosts: &HostAddresses) -> Vec<Refusal> {
    targets(live)
        .into_iter()
        .filter_map(|(check, target, place)| {
            let why = match place(hosts) {
                Place::Inside => return None,
                Place::Outside(why) => why,
                Place::AskHost(h) => {
                    format!("the addresses of host {h} could not be read to tell")
                }
            };
            Some(Refusal {
                title: check.title.clone(),
                target,
                why,
            })
        })
        .collect()
}

type Judged<'a> = (&'a Check, String, Box<dyn Fn(&HostAddresses) -> Place + 'a>);

/// Each check's target that names an address or a URL host, with a way
/// to judge it once the hosts' addresses are known.
fn targets(live: &LiveLab) -> Vec<Judged<'_>> {
    let mut out: Vec<Judged<'_>> = Vec::new();
    for check in &live.lab.checks {
        match &check.kind {
            CheckKind::Tcp { from, to, .. } | CheckKind::Tls { from, to, .. } => {
                if let TargetHost::Ip(ip) = to.host {
                    let (from, port) = (from.clone(), to.port);
                    out.push((
                        check,
                        to.to_string(),
                        Box::new(move |h| place(live, &from, ip, port, Transport::Tcp, h)),
                    ));
                }
            }
            CheckKind::Udp { from, to, .. } => {
                if let TargetHost::Ip(ip) = to.host {
                    let (from, port) = (from.clone(), to.port);
                    out.push((
                        check,
                        to.to_string(),
                        Box::new(move |h| place(live, &from, ip, port, Transport::Udp, h)),
                    ));
                }
            }
            CheckKind::Http { from, url, .. } => {
                let Ok(parsed) = url::Url::parse(url) else {
                    continue;
                };
                let port = parsed.port_or_known_default().unwrap_or(80);
                let from = from.clone();
                let verdict = parsed
                    .host()
                    .map(|h| reach::url_host_verdict(live.lab.topology(), &from, &h));
                let ip = match parsed.host() {
                    Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
                    Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
                    _ => None,
                };
                out.push((
                    check,
                    url.clone(),
                    Box::new(move |h| match (&verdict, ip) {
                        (Some(Verdict::Outside(why)), None) => Place::Outside(why.clone()),
                        (_, Some(ip)) => place(live, &from, ip, port, Transport::Tcp, h),
                        (_, None) => Place::Inside,
                    }),
                ));
            }
            CheckKind::Port {
                node,
                port,
                transport,
                host_ip: Some(ip),
                host_port,
                ..
            } if !ip.is_loopback() && !ip.is_unspecified() => {
                let (ip, transport) = (*ip, *transport);
                let source = Source::Host(Some(live.lab.nodes[node].host.clone()));
                let host_port = host_port.unwrap_or(*port);
                out.push((
                    check,
                    ip.to_string(),
                    Box::new(move |h| place(live, &source, ip, host_port, transport, h)),
                ));
            }
            _ => {}
        }
    }
    out
}

/// Where `ip` is for a probe from `from`.
fn place(
    live: &LiveLab,
    from: &Source,
    ip: IpAddr,
    port: u16,
    transport: Transport,
    hosts: &HostAddresses,
) -> Place {
    if ip.is_loopback()
        || super::identity::owner_of_address(live, ip).is_some()
        || live.subnets.iter().any(|s| s.contains(&ip))
    {
        return Place::Inside;
    }
    let host = live.lab.host_of(from).to_owned();
    let Some(own) = hosts.get(&host) else {
        return Place::AskHost(host);
    };
    if !own.contains(&ip) {
        return Place::Outside(format!(
            "{ip} is not an address of the lab: not loopback, not a container or subnet of the lab, not an address of host {host}"
        ));
    }
    if served_on_host(live, &host, ip, port, transport) {
        Place::Inside
    } else {
        Place::Outside(format!(
            "{ip} is an address of host {host}, but the lab publishes nothing on {port}/{} there",
            transport.as_str()
        ))
    }
}

/// A port the lab publishes at `ip` on that host, or a host-mode node
/// serves there.
fn served_on_host(live: &LiveLab, host: &str, ip: IpAddr, port: u16, transport: Transport) -> bool {
    let published = live.nodes.values().any(|n| {
        live.same_engine(host, &n.host)
            && n.ports.iter().any(|b| {
                b.host_port == port && b.transport == transport && super::identity::covers(b, ip)
            })
    });
    let host_mode = live.lab.nodes.values().any(|n| {
        n.attachment == Attachment::Mode(NetworkMode::Host)
            && live.same_engine(host, &n.host)
            && n.serve
                .iter()
                .any(|l| l.port == port && l.proto.is_udp() == (transport == Transport::Udp))
    });
    published || host_mode
}

/// Where a redirect may lead an http probe from `from`: the lab's names
/// (where the source resolves them), its addresses and subnets, loopback.
pub fn follow_only(live: &LiveLab, from: &Source) -> FollowOnly {
    let mut names: Vec<String> = vec!["localhost".into()];
    if reach::resolves_lab_names(live.lab.topology(), from) {
        for node in live.lab.nodes.values() {
            names.push(node.name.clone());
            names.extend(node.networks().flat_map(|a| a.aliases.iter().cloned()));
        }
    }
    let mut addresses: Vec<IpAddr> = live
        .nodes
        .values()
        .flat_map(|n| n.addresses.values().map(|ip| IpAddr::V4(*ip)))
        .collect();
    names.sort();
    names.dedup();
    addresses.sort();
    addresses.dedup();
    FollowOnly {
        names,
        addresses,
        subnets: live.subnets.clone(),
    }
}
