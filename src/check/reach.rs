//! Before any packet: every target of a verify must be the lab's own (SPEC:
//! "What a lab may touch"). Validation refused what the file alone decides
//! (`lab::reach`); here the running lab decides the rest — the subnets
//! Docker allocated, the containers' addresses, and the addresses of a
//! Docker host itself, which count only together with a port the lab
//! publishes (or a host-mode node serves) there. On a host's loopback, a
//! probe with a payload goes only to the ports the lab owns there
//! (`crate::loopback`). Redirects are kept inside the same bounds by the
//! agent (`follow_only`). Pure.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::agent::protocol::FollowOnly;
use crate::lab::own_ports;
use crate::lab::reach::{self, Verdict};
use crate::lab::{Attachment, Check, CheckKind, NetworkMode, Source, TargetHost, Transport};
use crate::live::LiveLab;
use crate::loopback::{self, OwnPort};

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
    // A step's checks run later, but are judged now, before any packet.
    let steps = live.lab.steps.iter().flat_map(|s| &s.checks);
    for check in live.lab.checks.iter().chain(steps) {
        match &check.kind {
            // A tcp probe sends nothing: a SYN, and for `open` a handshake
            // and the greeting read; it may knock at any loopback port, as
            // the shipped labs do to show `refused` where the lab publishes
            // nothing. tls and udp send a payload.
            CheckKind::Tcp { from, to, .. } | CheckKind::Tls { from, to, .. } => {
                if let TargetHost::Ip(ip) = to.host {
                    let (from, port) = (from.clone(), to.port);
                    let aim = Aim {
                        port,
                        transport: Transport::Tcp,
                        payload: matches!(check.kind, CheckKind::Tls { .. }),
                    };
                    out.push((
                        check,
                        to.to_string(),
                        Box::new(move |h| place(live, &from, ip, aim, h)),
                    ));
                }
            }
            CheckKind::Udp { from, to, .. } => {
                if let TargetHost::Ip(ip) = to.host {
                    let (from, port) = (from.clone(), to.port);
                    let aim = Aim {
                        port,
                        transport: Transport::Udp,
                        payload: true,
                    };
                    out.push((
                        check,
                        to.to_string(),
                        Box::new(move |h| place(live, &from, ip, aim, h)),
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
                // `localhost` is the loopback address of each family the
                // check speaks.
                let ips: Vec<IpAddr> = match parsed.host() {
                    Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
                    Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
                    Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                        super::family::of_check(live, check)
                            .into_iter()
                            .map(loopback::localhost)
                            .collect()
                    }
                    _ => Vec::new(),
                };
                let aim = Aim {
                    port,
                    transport: Transport::Tcp,
                    payload: true,
                };
                out.push((
                    check,
                    url.clone(),
                    Box::new(move |h| match (&verdict, ips.is_empty()) {
                        (Some(Verdict::Outside(why)), true) => Place::Outside(why.clone()),
                        (_, true) => Place::Inside,
                        (_, false) => ips
                            .iter()
                            .map(|ip| place(live, &from, *ip, aim, h))
                            .find(|p| *p != Place::Inside)
                            .unwrap_or(Place::Inside),
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
                // The probe speaks to the node's own binding: not loopback
                // (filtered above), so the payload rule does not apply.
                let aim = Aim {
                    port: host_port.unwrap_or(*port),
                    transport,
                    payload: false,
                };
                out.push((
                    check,
                    ip.to_string(),
                    Box::new(move |h| place(live, &source, ip, aim, h)),
                ));
            }
            _ => {}
        }
    }
    out
}

/// A port a probe aims at, and whether it sends a payload there.
#[derive(Debug, Clone, Copy)]
struct Aim {
    port: u16,
    transport: Transport,
    payload: bool,
}

/// Where `ip` is for a probe from `from`.
fn place(live: &LiveLab, from: &Source, ip: IpAddr, aim: Aim, hosts: &HostAddresses) -> Place {
    let Aim {
        port, transport, ..
    } = aim;
    if loopback::is_loopback(ip) {
        return loopback_place(live, from, ip, aim);
    }
    if super::identity::owner_of_address(live, ip).is_some()
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

/// A payload from a host's own stack goes only to the loopback ports the
/// running lab owns there (random host ports resolved); a container's
/// loopback, and a probe without payload, stay inside.
fn loopback_place(live: &LiveLab, from: &Source, ip: IpAddr, aim: Aim) -> Place {
    if !aim.payload || !own_ports::on_host_stack(live.lab.topology(), from) {
        return Place::Inside;
    }
    let own = loopback_ports(live, live.lab.host_of(from));
    match loopback::refusal(&own, ip, aim.port, aim.transport) {
        None => Place::Inside,
        Some(why) => Place::Outside(why),
    }
}

/// The ports the running lab owns on the loopback of `host`'s stack: the
/// bindings the engines made (on that host's engine) to loopback or to
/// every address, and its host-mode nodes' listeners.
pub fn loopback_ports(live: &LiveLab, host: &str) -> Vec<OwnPort> {
    let mut own: Vec<OwnPort> = live
        .nodes
        .values()
        .filter(|n| live.same_engine(host, &n.host))
        .flat_map(|n| &n.ports)
        .filter(|b| b.host_ip.is_unspecified() || loopback::is_loopback(b.host_ip))
        .map(|b| OwnPort {
            ip: b.host_ip,
            port: b.host_port,
            transport: b.transport,
        })
        .collect();
    for node in live
        .lab
        .nodes
        .values()
        .filter(|n| live.same_engine(host, &n.host))
    {
        own.extend(own_ports::host_mode_ports(node));
    }
    own.sort_by_key(|p| (p.port, p.ip, p.transport.as_str()));
    own.dedup();
    own
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
        // The source's own link aliases: names of its alone.
        if let Source::Node(n) = from
            && let Some(source) = live.lab.nodes.get(n)
        {
            names.extend(source.links.iter().map(|(_, alias)| alias.clone()));
        }
    }
    let mut addresses: Vec<IpAddr> = live
        .nodes
        .values()
        .flat_map(|n| n.all_addresses())
        .collect();
    names.sort();
    names.dedup();
    addresses.sort();
    addresses.dedup();
    let loopback = own_ports::on_host_stack(live.lab.topology(), from)
        .then(|| loopback_ports(live, live.lab.host_of(from)));
    FollowOnly {
        names,
        addresses,
        subnets: live.subnets.clone(),
        loopback,
    }
}
