//! Why a name resolved or not: Docker's embedded DNS at 127.0.0.11 answers
//! for the containers and aliases on the asking node's own networks, and
//! forwards other names upstream (which an internal network cannot); a
//! node on the default bridge or in host mode has no embedded DNS and asks
//! the host's resolver.

use std::net::IpAddr;

use super::{EMBEDDED, Why, code, list};
use crate::agent::protocol::{DnsObservation, DnsReport, Reach};
use crate::check::route::{carriers, networks_of, owner_of};
use crate::lab::{Attachment, Driver, NetworkMode, Source};
use crate::live::LiveLab;

pub(super) fn why(live: &LiveLab, from: &str, name: &str, report: &DnsReport) -> Option<Why> {
    // A sidecar asks as the node whose namespace it shares (its resolv.conf too).
    let node = live.lab.nodes.get(live.lab.namespace_of(from))?;
    let who = code(from);
    let without = match &node.attachment {
        Attachment::Mode(NetworkMode::Host) => Some(format!(
            "{who} runs in host mode: it has no embedded DNS and asks the host's resolver (the host's /etc/resolv.conf)"
        )),
        Attachment::Mode(NetworkMode::Bridge) => Some(format!(
            "{who} is on Docker's default bridge, which has no embedded DNS: it asks the host's resolver"
        )),
        Attachment::Mode(NetworkMode::None) => {
            return Some(Why::new(
                format!("{who} has no network at all (network_mode: none)"),
                "no network".into(),
            ));
        }
        Attachment::Networks(_) | Attachment::Shared(_) => None,
    };
    if let Some(without) = without {
        // Every name server of its resolv.conf shown out of reach.
        let unreachable = report.resolvers.as_deref().is_some_and(|r| {
            !r.is_empty()
                && r.iter()
                    .all(|x| matches!(x.reach, Reach::Unreachable { .. } | Reach::Refused))
        });
        let (tail, short) = match &report.answer {
            DnsObservation::Answers { .. } => {
                (", and that resolver answered", "the host's resolver")
            }
            DnsObservation::Unavailable { .. } => return None,
            _ if unreachable => (
                ", and no name server of its resolv.conf can be reached from it",
                "no embedded DNS; the host's resolver out of reach",
            ),
            DnsObservation::Timeout | DnsObservation::Error { .. } => {
                (", which did not answer", "the host's resolver, no answer")
            }
            _ => (
                ", which knows no container names",
                "no embedded DNS: the host's resolver",
            ),
        };
        return Some(Why::new(format!("{without}{tail}"), short.into()));
    }
    let own = networks_of(node);
    let named = carriers(live, name);
    match &report.answer {
        DnsObservation::Answers { addresses } => Some(answered(live, from, name, addresses)),
        DnsObservation::NxDomain | DnsObservation::NoRecords => {
            let reached: Vec<_> = named
                .iter()
                .filter(|c| own.iter().any(|n| c.is_on(n)))
                .collect();
            if let Some(down) = reached
                .iter()
                .find(|c| live.nodes.get(&c.name).is_none_or(|l| !l.running))
            {
                return Some(Why::new(
                    format!(
                        "{} is not running: {EMBEDDED} answers only for running containers",
                        code(&down.name)
                    ),
                    "not running".into(),
                ));
            }
            if !reached.is_empty() {
                return None;
            }
            Some(unknown_here(
                name,
                &who,
                &own,
                &named,
                "the answer was NXDOMAIN",
            ))
        }
        DnsObservation::ServFail | DnsObservation::Timeout if all_internal(live, &own) => {
            let how = if report.answer == DnsObservation::ServFail {
                "answered SERVFAIL (Docker 26 and later)".to_owned()
            } else if alive(report) {
                format!("stayed silent (Docker 20.10), though it answered {who}'s own name")
            } else {
                return None;
            };
            let mut why = unknown_here(
                name,
                &who,
                &own,
                &named,
                &format!("on an internal network it cannot ask an upstream resolver, so it {how}"),
            );
            why.short = format!("{}; internal: no upstream", why.short);
            Some(why)
        }
        DnsObservation::ServFail => Some(Why::new(
            format!(
                "{EMBEDDED} did not know {} and could not get an answer from its upstream resolver (SERVFAIL)",
                code(name)
            ),
            "embedded DNS: upstream failed".into(),
        )),
        DnsObservation::Timeout if alive(report) => Some(Why::new(
            format!(
                "{EMBEDDED} answered {who}'s own name but not {}: it could not forward it upstream",
                code(name)
            ),
            "embedded DNS: no upstream answer".into(),
        )),
        _ => None,
    }
}

/// Whether the control query proved the resolver alive.
fn alive(report: &DnsReport) -> bool {
    matches!(report.control, Some(DnsObservation::Answers { .. }))
}

fn all_internal(live: &LiveLab, nets: &[String]) -> bool {
    !nets.is_empty()
        && nets
            .iter()
            .all(|n| live.lab.networks.get(n).is_some_and(|x| x.internal))
}

/// A name the embedded DNS of the source's networks does not know.
fn unknown_here(
    name: &str,
    who: &str,
    own: &[String],
    named: &[&crate::lab::Node],
    result: &str,
) -> Why {
    let nets = list(own.iter().map(|n| code(n)));
    let sentence = if named.is_empty() {
        format!(
            "{EMBEDDED} answers for the containers and aliases on {who}'s networks ({nets}), and {} is none of them: {result}",
            code(name)
        )
    } else {
        let holders: Vec<String> = named
            .iter()
            .map(|c| {
                let on = list(networks_of(c).iter().map(|n| code(n)));
                format!("{} is on {on}", code(&c.name))
            })
            .collect();
        format!(
            "{EMBEDDED} answers only for the containers on {who}'s own networks ({nets}); {}, which {who} does not join: {result}",
            holders.join("; ")
        )
    };
    Why::new(sentence, "embedded DNS: not on a shared network".into())
}

fn answered(live: &LiveLab, from: &str, name: &str, addresses: &[IpAddr]) -> Why {
    let mut owners: Vec<(String, String)> = addresses
        .iter()
        .filter_map(|ip| owner_of(live, *ip, live.lab.host_of(&Source::Node(from.to_owned()))))
        .collect();
    if owners.len() != addresses.len() || owners.is_empty() {
        return Why::new(
            format!("{EMBEDDED} answered for {}", code(name)),
            "embedded DNS".into(),
        );
    }
    let order: Vec<&String> = live.lab.nodes.keys().collect();
    owners.sort_by_key(|(n, _)| order.iter().position(|x| *x == n));
    let mut nets: Vec<&str> = owners.iter().map(|(_, n)| n.as_str()).collect();
    nets.dedup();
    let on = list(nets.iter().map(|n| code(n)));
    let nodes: Vec<String> = owners.iter().map(|(n, _)| code(n)).collect();
    let alias = !owners.iter().any(|(n, _)| n == name);
    let joins = format!("which {} joins", code(from));
    let what = if owners.len() > 1 {
        format!(
            "{} is an alias of {} on {on}, {joins}, and it answers with every address that carries it",
            code(name),
            list(nodes)
        )
    } else if alias {
        format!(
            "{} is an alias of {} on {on}, {joins}",
            code(name),
            nodes.join("")
        )
    } else {
        format!("{} is on {on}, {joins}", code(name))
    };
    let overlay = nets.iter().any(|n| {
        live.lab
            .networks
            .get(*n)
            .is_some_and(|x| matches!(x.driver, Driver::Overlay { .. }))
    });
    let icc_off = nets
        .iter()
        .any(|n| live.lab.networks.get(*n).is_some_and(|x| !x.icc));
    let mut sentence = format!(
        "{EMBEDDED} answers for the containers on {}'s networks: {what}",
        code(from)
    );
    if overlay && live.lab.is_multi_host() {
        sentence.push_str(" (the swarm shares an overlay's names between its hosts)");
    }
    if icc_off {
        sentence.push_str("; icc off drops traffic, not names");
    }
    Why::new(sentence, format!("embedded DNS on {}", nets.join(", ")))
}
