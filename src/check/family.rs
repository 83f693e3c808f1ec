//! A check's address families: which family each of its probes speaks
//! (the check's `family:`, or IPv4 where the target has an IPv4 address,
//! else IPv6), and how the verdicts of the families are put together —
//! `family: both` passes only when each family does. A check whose family
//! is worth saying (named in the file, or IPv6 by default) reports each
//! probe with its family and address. Pure.

use std::net::IpAddr;

use crate::agent::protocol::{Probe, ProbeKind};
use crate::lab::reach::default_family;
use crate::lab::{Attachment, Check, CheckKind, IpFamily, MatrixCell, Source, TargetHost};
use crate::live::LiveLab;

use super::Outcome;

/// The families a check probes, in report order.
pub fn of_check(live: &LiveLab, check: &Check) -> Vec<IpFamily> {
    match check.family {
        Some(f) => f.members().to_vec(),
        None => vec![default_of(live, &check.kind)],
    }
}

/// Whether the report names the family of each probe: the file named one,
/// or the target is reached over IPv6 without being asked to.
pub fn said(check: &Check, families: &[IpFamily]) -> bool {
    check.family.is_some() || families != [IpFamily::V4]
}

/// The families of one matrix cell.
pub fn of_cell(live: &LiveLab, check: &Check, cell: &MatrixCell) -> Vec<IpFamily> {
    match check.family {
        Some(f) => f.members().to_vec(),
        None => vec![default_family(
            live.topology_of(&live.nodes_now()),
            &cell.from,
            &TargetHost::Node {
                node: cell.to.clone(),
                network: None,
            },
        )],
    }
}

fn default_of(live: &LiveLab, kind: &CheckKind) -> IpFamily {
    // Decided where the nodes are now, as the address is.
    let nodes = live.nodes_now();
    let lab = live.topology_of(&nodes);
    match kind {
        CheckKind::Tcp { from, to, .. }
        | CheckKind::Udp { from, to, .. }
        | CheckKind::Tls { from, to, .. } => default_family(lab, from, &to.host),
        CheckKind::Http { from, url, .. } => {
            let host = url::Url::parse(url).ok().and_then(|u| match u.host()? {
                url::Host::Ipv4(ip) => Some(TargetHost::Ip(IpAddr::V4(ip))),
                url::Host::Ipv6(ip) => Some(TargetHost::Ip(IpAddr::V6(ip))),
                url::Host::Domain(d) if live.lab.nodes.contains_key(d) => Some(TargetHost::Node {
                    node: d.to_owned(),
                    network: None,
                }),
                url::Host::Domain(_) => None,
            });
            match host {
                Some(h) => default_family(lab, from, &h),
                None if only_ipv6(live, from) => IpFamily::V6,
                None => IpFamily::V4,
            }
        }
        CheckKind::Latency { echo, .. } | CheckKind::Loss { echo, .. } => default_family(
            lab,
            &echo.from,
            &TargetHost::Node {
                node: echo.to.clone(),
                network: echo.network.clone(),
            },
        ),
        _ => IpFamily::V4,
    }
}

/// A node whose every network is IPv6-only.
pub fn only_ipv6(live: &LiveLab, from: &Source) -> bool {
    let Source::Node(n) = from else {
        return false;
    };
    let Some(node) = live.lab.nodes.get(n) else {
        return false;
    };
    matches!(&node.attachment, Attachment::Networks(list) if !list.is_empty())
        && node.networks().all(|a| {
            live.lab
                .networks
                .get(&a.network)
                .is_some_and(|net| !net.ipv4 && net.ipv6)
        })
}

/// `IPv6 [fd0e:1ab:77::2]:7000`: the family of a probe and where it aimed.
pub fn probe_words(family: IpFamily, probe: &Probe) -> String {
    let at = match &probe.kind {
        ProbeKind::Tcp { addr, .. } | ProbeKind::Udp { addr, .. } | ProbeKind::Tls { addr, .. } => {
            Some(addr.to_string())
        }
        _ => None,
    };
    match at {
        Some(at) => format!("{} {at}", family.name()),
        None => family.name().to_owned(),
    }
}

/// `IPv6 [fd0e:1ab:77::2]:7000` for a step that sends a probe, else the
/// family alone.
pub fn part_words(family: IpFamily, step: &super::Step) -> String {
    match step {
        super::Step::Probe { probe, .. } => probe_words(family, probe),
        _ => family.name().to_owned(),
    }
}

/// The verdicts of a check's families as one: each must pass; an error in
/// any is an error of the check. Each part says its family (and address).
pub fn combine(parts: Vec<(String, Outcome)>) -> Outcome {
    let passed = !parts.is_empty() && parts.iter().all(|(_, o)| o.passed);
    let error = parts.iter().any(|(_, o)| o.error);
    let skipped = !parts.is_empty() && parts.iter().all(|(_, o)| o.skipped);
    let observed = parts
        .iter()
        .map(|(what, o)| format!("{what}: {}", o.observed))
        .collect::<Vec<_>>()
        .join("; ");
    Outcome {
        passed: passed && !error,
        error,
        skipped,
        observed,
    }
}
