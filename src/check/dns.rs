//! A `dns` check judged: the answer a node's resolver gave, compared with
//! what the lab says the name should give from there; and when no answer
//! came, whether that silence is evidence. It is when the node has no
//! resolver it can reach (resolv.conf names none, or every one is
//! unreachable or refuses port 53) or when its resolver is shown alive by
//! answering the control name. Silence from a resolver that should answer
//! proves nothing: inconclusive, never a pass. Pure.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::agent::protocol::{DnsObservation, DnsReport, Reach, ResolverReach};
use crate::lab::{DnsAnswer, DnsExpect};
use crate::live::LiveLab;

use super::Outcome;

/// Docker's embedded DNS server, in every container on a user-defined
/// network.
const EMBEDDED_DNS: &str = "127.0.0.11";

/// `10.1.0.3 (web)`: addresses with the node that holds them.
fn describe_ip(live: &LiveLab, ip: IpAddr) -> String {
    match super::identity::owner_of_address(live, ip) {
        Some(name) => format!("{ip} ({name})"),
        None => ip.to_string(),
    }
}

/// The addresses a node name should resolve to from `from`: its addresses on
/// the networks the two share.
fn expected_addresses(live: &LiveLab, from: &str, answers: &[DnsAnswer]) -> BTreeSet<IpAddr> {
    let from_nets = live.nodes.get(from).map(|n| &n.addresses);
    answers
        .iter()
        .flat_map(|a| -> Vec<IpAddr> {
            match a {
                DnsAnswer::Ip(ip) => vec![*ip],
                DnsAnswer::Node(n) => live
                    .nodes
                    .get(n)
                    .map(|node| {
                        node.addresses
                            .iter()
                            .filter(|(net, _)| from_nets.is_some_and(|f| f.contains_key(*net)))
                            .map(|(_, ip)| IpAddr::V4(*ip))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// What a DNS answer says, in the report's words; `None` for silence.
fn dns_answer_words(live: &LiveLab, o: &DnsObservation) -> Option<String> {
    Some(match o {
        DnsObservation::Answers { addresses } => {
            let list: Vec<String> = addresses.iter().map(|ip| describe_ip(live, *ip)).collect();
            format!("resolved to {}", list.join(", "))
        }
        DnsObservation::NxDomain => "unresolved: NXDOMAIN".into(),
        DnsObservation::NoRecords => "unresolved: no records of that type".into(),
        DnsObservation::ServFail => "unresolved: SERVFAIL (the server could not answer)".into(),
        DnsObservation::Refused => "unresolved: REFUSED".into(),
        DnsObservation::Timeout
        | DnsObservation::Error { .. }
        | DnsObservation::Unavailable { .. } => return None,
    })
}

/// Whether the control query shows a resolver that answers: with an
/// address when one was needed, with anything at all otherwise.
fn resolver_alive(control: Option<&DnsObservation>, needs_address: bool) -> bool {
    match control {
        Some(DnsObservation::Answers { .. }) => true,
        Some(
            DnsObservation::Timeout
            | DnsObservation::Error { .. }
            | DnsObservation::Unavailable { .. },
        )
        | None => false,
        Some(_) => !needs_address,
    }
}

pub(super) fn dns(live: &LiveLab, from: &str, expect: &DnsExpect, report: &DnsReport) -> Outcome {
    let o = &report.answer;
    let Some(observed) = dns_answer_words(live, o) else {
        return silence(live, from, expect, report);
    };
    let passed = match (expect, o) {
        (DnsExpect::Resolves, DnsObservation::Answers { .. }) => true,
        (DnsExpect::Unresolved, DnsObservation::Answers { .. }) => false,
        (DnsExpect::Unresolved, _) => true,
        (DnsExpect::Exactly(answers), DnsObservation::Answers { addresses }) => {
            let want = expected_addresses(live, from, answers);
            let got: BTreeSet<IpAddr> = addresses.iter().copied().collect();
            if want != got {
                let want: Vec<String> = want.iter().map(|ip| describe_ip(live, *ip)).collect();
                return Outcome::new(
                    false,
                    format!(
                        "{observed}; expected {}",
                        if want.is_empty() {
                            "no address (the named nodes share no network with the source)".into()
                        } else {
                            want.join(", ")
                        }
                    ),
                );
            }
            true
        }
        _ => false,
    };
    Outcome::new(passed, observed)
}

/// No answer to the name itself: what the control query and the name
/// servers' reachability make of it.
fn silence(live: &LiveLab, from: &str, expect: &DnsExpect, report: &DnsReport) -> Outcome {
    let unresolved = *expect == DnsExpect::Unresolved;
    if let Some(absent) = report.resolvers.as_deref().and_then(no_resolver) {
        return Outcome::new(unresolved, format!("unresolved: {absent}"));
    }
    let why = match &report.answer {
        DnsObservation::Unavailable { message } => {
            return Outcome::error(format!("the node's resolver could not be asked: {message}"));
        }
        DnsObservation::Error { message } => message.clone(),
        _ => "no answer before the deadline".into(),
    };
    // Silence from a resolver shown alive by the control name: it heard
    // us and could not answer this name (20.10 on an internal network).
    let needs_address = live
        .lab
        .nodes
        .get(from)
        .is_some_and(|n| n.networks().next().is_some());
    if matches!(report.answer, DnsObservation::Timeout)
        && resolver_alive(report.control.as_ref(), needs_address)
    {
        return Outcome::new(
            unresolved,
            format!(
                "unresolved: no answer before the deadline (the resolver answered `{from}`, so it is alive and could not forward)"
            ),
        );
    }
    let servers = report
        .resolvers
        .as_deref()
        .map(|r| format!("; name servers: {}", reach_words(r)))
        .unwrap_or_default();
    Outcome::fail(format!(
        "inconclusive: no resolver answered ({why}; the control name `{from}` got {}{servers})",
        report
            .control
            .as_ref()
            .and_then(|c| dns_answer_words(live, c))
            .unwrap_or_else(|| "no answer either".into())
    ))
}

/// Evidence that the node has no resolver it can reach, in words: none
/// configured, or each one unreachable or refusing.
fn no_resolver(resolvers: &[ResolverReach]) -> Option<String> {
    if resolvers.is_empty() {
        return Some("no resolver: the node's resolv.conf names no name server".into());
    }
    if !resolvers.iter().all(|r| r.reach.proves_absent()) {
        return None;
    }
    let embedded = resolvers
        .iter()
        .any(|r| r.server.to_string() == EMBEDDED_DNS);
    Some(format!(
        "no resolver reachable from this node ({}){}",
        reach_words(resolvers),
        if embedded {
            ""
        } else {
            "; Docker's embedded DNS (127.0.0.11) is not on this node's network"
        }
    ))
}

/// `192.0.2.53: unreachable (Network is unreachable); 10.0.0.2: refused`
fn reach_words(resolvers: &[ResolverReach]) -> String {
    if resolvers.is_empty() {
        return "none".into();
    }
    resolvers
        .iter()
        .map(|r| {
            let how = match &r.reach {
                Reach::Answered => "answers".to_owned(),
                Reach::Unreachable { message } => format!("unreachable ({message})"),
                Reach::Refused => "refused (nothing listens on port 53)".to_owned(),
                Reach::Silent => "silent".to_owned(),
            };
            format!("{}: {how}", r.server)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
