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
use crate::lab::{DnsAnswer, DnsExpect, IpFamily, RecordType};
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

/// The answers a list of nodes and addresses may get from `from`, one per
/// network of the source: Docker's embedded DNS answers a name with the
/// addresses it has on one network — the first of the source's networks
/// that knows it — never with several networks' at once. A network is a
/// choice only when every named node has an address of the record's family
/// (A: IPv4, AAAA: IPv6) there: a node the source cannot be answered about
/// on it makes that choice impossible instead of dropping out of it.
fn expected_answers(
    live: &LiveLab,
    from: &str,
    record: RecordType,
    answers: &[DnsAnswer],
) -> Vec<(Option<String>, BTreeSet<IpAddr>)> {
    let family = match record {
        RecordType::A => IpFamily::V4,
        RecordType::Aaaa => IpFamily::V6,
    };
    let literal: BTreeSet<IpAddr> = answers
        .iter()
        .filter_map(|a| match a {
            DnsAnswer::Ip(ip) => Some(*ip),
            DnsAnswer::Node(_) => None,
        })
        .collect();
    let named: Vec<&str> = answers
        .iter()
        .filter_map(|a| match a {
            DnsAnswer::Node(n) => Some(n.as_str()),
            DnsAnswer::Ip(_) => None,
        })
        .collect();
    if named.is_empty() {
        return vec![(None, literal)];
    }
    let Some(source) = live.nodes.get(from) else {
        return Vec::new();
    };
    let mut networks: Vec<&String> = Vec::new();
    for net in source.addresses.keys().chain(source.addresses6.keys()) {
        if !networks.contains(&net) {
            networks.push(net);
        }
    }
    networks
        .into_iter()
        .filter_map(|net| {
            let mut want = literal.clone();
            for n in &named {
                want.insert(live.nodes.get(*n)?.address(net, family)?);
            }
            Some((Some(net.clone()), want))
        })
        .collect()
}

/// `10.1.0.3 (web) on front or 10.2.0.3 (web) on back`.
fn choices_words(live: &LiveLab, choices: &[(Option<String>, BTreeSet<IpAddr>)]) -> String {
    let one = |(net, want): &(Option<String>, BTreeSet<IpAddr>)| {
        let list: Vec<String> = want.iter().map(|ip| describe_ip(live, *ip)).collect();
        match net {
            Some(net) if choices.len() > 1 => format!("{} on {net}", list.join(", ")),
            _ => list.join(", "),
        }
    };
    let all: Vec<String> = choices.iter().map(one).collect();
    all.join(" or ")
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

pub(super) fn dns(
    live: &LiveLab,
    from: &str,
    record: RecordType,
    expect: &DnsExpect,
    report: &DnsReport,
) -> Outcome {
    let o = &report.answer;
    let Some(observed) = dns_answer_words(live, o) else {
        return silence(live, from, expect, report);
    };
    let passed = match (expect, o) {
        (DnsExpect::Resolves, DnsObservation::Answers { .. }) => true,
        (DnsExpect::Unresolved, DnsObservation::Answers { .. }) => false,
        (DnsExpect::Unresolved, _) => true,
        (DnsExpect::Exactly(answers), DnsObservation::Answers { addresses }) => {
            let choices = expected_answers(live, from, record, answers);
            let got: BTreeSet<IpAddr> = addresses.iter().copied().collect();
            if !choices.iter().any(|(_, want)| *want == got) {
                return Outcome::new(
                    false,
                    format!(
                        "{observed}; expected {}",
                        if choices.is_empty() {
                            format!(
                                "an answer Docker's DNS cannot give {from}: the named nodes do not all have an address of that family on one network with it (it answers from one network)"
                            )
                        } else {
                            choices_words(live, &choices)
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
