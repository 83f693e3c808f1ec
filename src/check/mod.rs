//! Checks → probes, and observations → outcomes. Pure: the addresses come
//! from a `LiveLab`, the observations from the agent; deciding what to probe
//! and whether a check passed needs no Docker and is unit-tested.

mod dns;
pub mod family;
pub mod identity;
pub mod link;
pub mod matrix;
pub mod measure;
pub mod outcome;
pub mod reach;
pub mod route;
pub mod target;
mod web;
pub mod why;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::agent::protocol::{DnsControl, Probe, ProbeBatch, ProbeKind, Speak};
use crate::lab::{
    Attachment, Check, CheckKind, IpFamily, PortExpect, RecordType, Source, Target, Transport,
    Trust,
};
use crate::live::LiveLab;
use crate::vocab::ListenerProto;

#[cfg(test)]
pub use outcome::classify;
pub use outcome::{Outcome, judge};

/// What verify does for each check: send a probe from a source, or decide
/// at once (its node is down, its target has no address, no port is
/// published where none should be); a matrix does one of those per cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Probe {
        source: Source,
        probe: Probe,
    },
    Done(Outcome),
    /// A matrix: one step per checked cell, in the matrix's cell order.
    Cells(Vec<Step>),
    /// One step per address family, each said in the report; `family:
    /// both` passes when each does.
    Families(Vec<(IpFamily, Step)>),
}

impl Step {
    /// Every probe this step sends, with its source.
    pub fn probes(&self) -> Vec<(&Source, &Probe)> {
        match self {
            Step::Probe { source, probe } => vec![(source, probe)],
            Step::Done(_) => Vec::new(),
            Step::Cells(cells) => cells.iter().flat_map(Step::probes).collect(),
            Step::Families(parts) => parts.iter().flat_map(|(_, s)| s.probes()).collect(),
        }
    }
}

/// One step per check; probe ids are numbered through the whole verify.
#[cfg(test)]
pub fn plan_steps(live: &LiveLab) -> Vec<Step> {
    plan_checks(live, &live.lab.checks)
}

/// One step per check of `checks` (the steady state's, or a step's).
pub fn plan_checks(live: &LiveLab, checks: &[Check]) -> Vec<Step> {
    let mut next_id = 0;
    checks
        .iter()
        .map(|check| {
            if let Some(why) = unmet_requirement(live, check)
                .or_else(|| identity::one_engine_for_two_hosts(live, &check.kind))
            {
                return Step::Done(Outcome::skipped(why));
            }
            match &check.kind {
                CheckKind::Matrix(m) => {
                    Step::Cells(matrix::cell_steps(live, check, m, &mut next_id))
                }
                _ => {
                    let families = family::of_check(live, check);
                    let mut one = |f: IpFamily| {
                        let id = next_id;
                        next_id += 1;
                        step(live, id, check, f)
                    };
                    if family::said(check, &families) {
                        Step::Families(families.iter().map(|&f| (f, one(f))).collect())
                    } else {
                        one(IpFamily::V4)
                    }
                }
            }
        })
        .collect()
}

/// Why the engines a check runs on do not meet its `requires:`: the
/// engine of its source's host, and of its target node's.
fn unmet_requirement(live: &LiveLab, check: &Check) -> Option<String> {
    if check.requires.is_empty() {
        return None;
    }
    let mut hosts = vec![live.lab.host_of(&check.kind.source()).to_owned()];
    if let Some(node) = check.kind.target_node().and_then(|n| live.lab.nodes.get(n))
        && !hosts.contains(&node.host)
    {
        hosts.push(node.host.clone());
    }
    hosts.iter().find_map(|h| {
        let facts = live
            .hosts
            .get(h)
            .map(|l| l.facts.clone())
            .unwrap_or_default();
        check.requires.unmet(h, &facts)
    })
}

/// Why a node cannot probe, if it cannot: its container is missing or not
/// running, so nothing can be observed from it (an error, not a failure).
pub(crate) fn not_running(live: &LiveLab, name: &str) -> Option<Outcome> {
    match live.nodes.get(name) {
        None => Some(Outcome::error(format!("node `{name}` has no container"))),
        Some(n) if !n.running => Some(Outcome::error(format!(
            "node `{name}` is not running: {}",
            n.state
        ))),
        Some(_) => None,
    }
}

fn step(live: &LiveLab, id: usize, check: &Check, family: IpFamily) -> Step {
    let capture = check.capture;
    let timeout_ms = u64::try_from(check.timeout.as_millis()).unwrap_or(u64::MAX);
    let source = check.kind.source();
    if let Source::Node(name) = &source
        && let Some(why) = not_running(live, name)
    {
        return Step::Done(why);
    }
    let kind = match probe_kind(live, check, family) {
        Ok(kind) => kind,
        Err(outcome) => return Step::Done(outcome),
    };
    let host_to_container = kind
        .destination()
        .is_some_and(|ip| host_to_container(live, &source, ip));
    Step::Probe {
        source,
        probe: Probe {
            id,
            timeout_ms,
            capture,
            host_to_container,
            kind,
        },
    }
}

/// Whether a probe from `source` to `ip` goes from a Docker host's own
/// stack to a lab container: the agent sends it only where the host routes
/// to the container itself (`agent::host_route`).
pub(crate) fn host_to_container(live: &LiveLab, source: &Source, ip: std::net::IpAddr) -> bool {
    identity::from_host_stack(live, source) && identity::owner_of_address(live, ip).is_some()
}

/// The address an `egress` check asks the route to: in documentation space
/// (TEST-NET-1, RFC 5737; 2001:db8::/32, RFC 3849), outside every lab and
/// every network; no packet goes to it.
pub fn outside(family: IpFamily) -> std::net::IpAddr {
    match family {
        IpFamily::V4 => std::net::IpAddr::from([192, 0, 2, 1]),
        IpFamily::V6 => std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
    }
}

/// What to send (in `family`, for the kinds that take one), or the outcome
/// when nothing needs sending.
fn probe_kind(live: &LiveLab, check: &Check, family: IpFamily) -> Result<ProbeKind, Outcome> {
    let address = |from: &Source, to: &crate::lab::Target| {
        target::resolve(live, from, to, family).map_err(Outcome::fail)
    };
    Ok(match &check.kind {
        CheckKind::Dns {
            from, name, record, ..
        } => ProbeKind::Dns {
            name: name.clone(),
            record: *record,
            control: Some(dns_control(live, from)),
        },
        CheckKind::Tcp { from, to, .. } => ProbeKind::Tcp {
            addr: address(from, to)?,
            speak: target_speak(live, from, to),
            by_name: by_name(live, to),
        },
        CheckKind::Udp { from, to, .. } => ProbeKind::Udp {
            addr: address(from, to)?,
            by_name: by_name(live, to),
        },
        // Nothing is sent: the kernel is only asked for its route.
        CheckKind::Egress { .. } => ProbeKind::Egress {
            target: outside(family),
        },
        CheckKind::Mtu {
            node, network, to, ..
        } => {
            // IPv4 where the network has it, else IPv6.
            let address_of = |n: &str| {
                live.nodes
                    .get(n)
                    .and_then(|l| {
                        l.address(network, IpFamily::V4)
                            .or_else(|| l.address(network, IpFamily::V6))
                    })
                    .ok_or_else(|| {
                        Outcome::fail(format!("node `{n}` has no address on network `{network}`"))
                    })
            };
            match to {
                Some(to) => {
                    address_of(node)?;
                    ProbeKind::PathMtu {
                        target: address_of(to)?,
                    }
                }
                None => ProbeKind::Mtu {
                    address: address_of(node)?,
                },
            }
        }
        CheckKind::Link {
            node, network, to, ..
        } => {
            // ARP is IPv4's: the node's and the peer's IPv4 addresses there.
            let address_of = |n: &str| {
                live.nodes
                    .get(n)
                    .and_then(|l| l.address(network, IpFamily::V4))
                    .ok_or_else(|| {
                        Outcome::fail(format!(
                            "node `{n}` has no IPv4 address on network `{network}` (a link check looks at ARP, which is IPv4's)"
                        ))
                    })
            };
            ProbeKind::Link {
                address: address_of(node)?,
                peer: address_of(to)?,
            }
        }
        CheckKind::Tls {
            from,
            to,
            name,
            trust,
            ..
        } => {
            let ca_pem = match (trust, &live.ca_pem) {
                (Trust::Nothing, _) => None,
                (Trust::Lab, Some(pem)) => Some(pem.clone()),
                (Trust::Lab, None) => {
                    return Err(Outcome::fail(
                        "the lab has no CA: it was brought up without TLS (no https listener and no tls or http check)",
                    ));
                }
            };
            ProbeKind::Tls {
                addr: address(from, to)?,
                sni: name.clone(),
                ca_pem,
                by_name: by_name(live, to),
            }
        }
        CheckKind::Http {
            from,
            url,
            method,
            body,
            ..
        } => ProbeKind::Http {
            url: url.clone(),
            method: method.clone(),
            body: body.clone(),
            ca_pem: live.ca_pem.clone(),
            max_redirects: MAX_REDIRECTS,
            // A redirect may lead only inside the lab: a lab file must not
            // steer a node or a host elsewhere.
            follow_only: (!live.allow_external).then(|| Box::new(reach::follow_only(live, from))),
            family: Some(family),
        },
        CheckKind::Spread {
            name,
            port,
            connections,
            ..
        } => ProbeKind::Spread {
            name: name.clone(),
            port: *port,
            connections: *connections,
            speak: carriers_speak(live, name, *port),
        },
        CheckKind::Port { node, expect, .. } => {
            // A stopped node publishes nothing: that is the lab's state.
            if let Some(why) = not_running(live, node) {
                return Err(Outcome::fail(why.observed));
            }
            port_probe(live, check, node, *expect)?
        }
        CheckKind::Matrix(_) => return Err(Outcome::fail("a matrix is probed cell by cell")),
        CheckKind::Latency { echo, .. } | CheckKind::Loss { echo, .. } => {
            let to = crate::lab::Target {
                host: crate::lab::TargetHost::Node {
                    node: echo.to.clone(),
                    network: echo.network.clone(),
                },
                port: 0,
            };
            ProbeKind::Echo {
                target: address(&echo.from, &to)?.ip(),
                count: echo.count,
                interval_us: u64::try_from(echo.interval.as_micros()).unwrap_or(u64::MAX),
            }
        }
    })
}

/// A target given by an alias: resolved in the probing node, and aimed at
/// only when the answer is the address of one of the lab's containers (on
/// any of its networks, external ones too).
fn by_name(live: &LiveLab, to: &crate::lab::Target) -> Option<crate::agent::protocol::ByName> {
    match &to.host {
        crate::lab::TargetHost::Name(name) => Some(crate::agent::protocol::ByName {
            name: name.clone(),
            within: live
                .nodes
                .values()
                .flat_map(|n| n.all_addresses())
                .map(ipnet::IpNet::from)
                .collect(),
        }),
        _ => None,
    }
}

/// What proves a resolver alive beside a name that may get no answer: the
/// node's own name, which Docker's embedded DNS answers on every
/// user-defined network; a node without one (host mode, Docker's default
/// bridge) asks the host's resolver, which proves alive by answering at
/// all.
fn dns_control(live: &LiveLab, from: &str) -> DnsControl {
    let embedded = live
        .lab
        .nodes
        .get(from)
        .is_some_and(|n| matches!(n.attachment, Attachment::Networks(ref l) if !l.is_empty()));
    // A node on IPv6-only networks has no A record of its own.
    let record = if family::only_ipv6(live, &Source::Node(from.to_owned())) {
        RecordType::Aaaa
    } else {
        RecordType::A
    };
    DnsControl {
        name: from.to_owned(),
        needs_address: embedded,
        record,
    }
}

/// A `port` check: the binding the engine reports, then the port itself,
/// probed from the node's Docker host.
fn port_probe(
    live: &LiveLab,
    check: &Check,
    node: &str,
    expect: PortExpect,
) -> Result<ProbeKind, Outcome> {
    let CheckKind::Port {
        port,
        transport,
        host_ip,
        host_port,
        ..
    } = &check.kind
    else {
        return Err(Outcome::fail("not a port check"));
    };
    let speak = speak(live, node, *port, *transport);
    let bindings = target::port_bindings(live, &check.kind);
    let binding = bindings.first().cloned();
    // The other family's binding (without `host_ip`), at its loopback.
    let also: Vec<std::net::SocketAddr> = bindings
        .iter()
        .skip(1)
        .map(target::reachable_from_host)
        .collect();
    match (expect, binding) {
        (PortExpect::Unpublished, Some(b)) => Err(Outcome::fail(match host_ip {
            Some(ip) if *ip != b.host_ip => {
                format!("published on {b}, which listens on every address, {ip} included")
            }
            _ => format!("published on {b}"),
        })),
        (PortExpect::Published, None) => Err(Outcome::fail(format!(
            "not published: the engine maps nothing for {}",
            check.kind.port_words()
        ))),
        (PortExpect::Published, Some(b)) => {
            // Where the check names an address, that address; else where
            // the binding listens (loopback for all addresses, and an
            // external address of the host as well).
            let at = match host_ip {
                Some(ip) if !ip.is_unspecified() => std::net::SocketAddr::new(*ip, b.host_port),
                _ => target::reachable_from_host(&b),
            };
            Ok(ProbeKind::Published {
                ip: at.ip(),
                port: at.port(),
                transport: *transport,
                speak,
                also_external: b.host_ip.is_unspecified()
                    && b.host_ip.is_ipv4()
                    && host_ip.is_none(),
                also,
            })
        }
        // Nothing mapped: show that the node does not answer where it
        // would be published.
        (PortExpect::Unpublished, None) => {
            let ip = host_ip
                .filter(|ip| !ip.is_unspecified())
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
            Ok(ProbeKind::Published {
                ip,
                port: host_port.unwrap_or(*port),
                transport: *transport,
                speak,
                also_external: false,
                also: Vec::new(),
            })
        }
    }
}

/// How whoever answers at a tcp target proves who it is: a port the node
/// serves as `http:` or `https:` greets nobody and is asked `GET /whoami`.
pub fn target_speak(live: &LiveLab, from: &Source, to: &Target) -> Speak {
    identity::listener(live, from, &to.host, to.port, Transport::Tcp)
        .map(|(node, port)| speak(live, &node, port, Transport::Tcp))
        .unwrap_or_default()
}

/// How the nodes that carry `name` prove who they are on `port`: as the
/// first of them that serves it does, presenting `name` over TLS (the lab
/// CA's certificates name each https node's aliases too).
fn carriers_speak(live: &LiveLab, name: &str, port: u16) -> Speak {
    let first = route::carriers(live, name)
        .into_iter()
        .find(|n| n.serve.iter().any(|l| l.port == port && !l.proto.is_udp()));
    match first.map(|n| speak(live, &n.name, port, Transport::Tcp)) {
        Some(Speak::Https { ca_pem, .. }) => Speak::Https {
            sni: name.to_owned(),
            ca_pem,
        },
        Some(other) => other,
        None => Speak::Greeting,
    }
}

/// How the node's listener on `port` proves who it is.
fn speak(live: &LiveLab, node: &str, port: u16, transport: Transport) -> Speak {
    let listener = live.lab.nodes.get(node).and_then(|n| {
        n.serve
            .iter()
            .find(|l| l.port == port && l.proto.is_udp() == (transport == Transport::Udp))
            .map(|l| (l.proto, n.other_ca))
    });
    match listener {
        Some((ListenerProto::Http, _)) => Speak::Http,
        Some((ListenerProto::Https, other)) => Speak::Https {
            sni: node.to_owned(),
            ca_pem: if other {
                live.other_ca_pem.clone()
            } else {
                live.ca_pem.clone()
            },
        },
        _ => Speak::Greeting,
    }
}

/// Redirects an http check follows before it calls it a loop.
pub const MAX_REDIRECTS: u32 = 10;

/// Probes grouped by where they run: one batch per node, one per host.
pub fn batches<'a>(steps: impl IntoIterator<Item = &'a Step>) -> BTreeMap<Source, ProbeBatch> {
    let mut out: BTreeMap<Source, ProbeBatch> = BTreeMap::new();
    for step in steps {
        for (source, probe) in step.probes() {
            out.entry(source.clone())
                .or_default()
                .probes
                .push(probe.clone());
        }
    }
    out
}

/// How long a recording may outlast its probe: the recorder waits for the
/// probe's connections to close (see `capture::record`).
const RECORDING_LINGER: Duration = Duration::from_secs(1);

/// How long a batch may take: its slowest unrecorded probe, or all its
/// recorded probes one after another (an agent records one probe at a
/// time: a packet socket sees the whole namespace), whichever is longer,
/// plus room for the engine to attach.
pub fn batch_deadline(batch: &ProbeBatch) -> Duration {
    let ms = Duration::from_millis;
    let slowest = batch
        .probes
        .iter()
        .filter(|p| !p.capture)
        .map(|p| ms(p.timeout_ms))
        .max()
        .unwrap_or_default();
    let recorded: Duration = batch
        .probes
        .iter()
        .filter(|p| p.capture)
        .map(|p| ms(p.timeout_ms) + RECORDING_LINGER)
        .sum();
    slowest.max(recorded) + Duration::from_secs(10)
}

#[cfg(test)]
mod evidence_tests;
#[cfg(test)]
mod loopback_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ipv6;
#[cfg(test)]
mod tests_moved;
#[cfg(test)]
mod tests_terminal;
