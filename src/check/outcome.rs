//! Observation + expectation → pass or fail, with the words the report shows.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::agent::protocol::{
    CaptureResult, DnsObservation, DnsReport, HttpObservation, Identity, MtuObservation,
    Observation, PathMtuObservation, PortAnswer, PortAttempt, SpreadObservation, TcpObservation,
    TlsObservation, TlsOutcome, UdpObservation,
};
use crate::lab::{
    CheckKind, DnsAnswer, DnsExpect, HttpExpect, PortExpect, SpreadExpect, TargetHost, TcpExpect,
    TlsExpect, UdpExpect,
};
use crate::live::LiveLab;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// What was seen, in words (`open, answered by web`).
    pub observed: String,
}

impl Outcome {
    fn new(passed: bool, observed: impl Into<String>) -> Self {
        Outcome {
            passed,
            observed: observed.into(),
        }
    }

    pub fn pass(observed: impl Into<String>) -> Self {
        Outcome::new(true, observed)
    }

    pub fn fail(observed: impl Into<String>) -> Self {
        Outcome::new(false, observed)
    }
}

pub fn classify(kind: &CheckKind, obs: &Observation, live: &LiveLab) -> Outcome {
    match (kind, obs) {
        (CheckKind::Dns { from, expect, .. }, Observation::Dns(o)) => dns(live, from, expect, o),
        (CheckKind::Tcp { to, expect, .. }, Observation::Tcp(o)) => tcp(live, &to.host, *expect, o),
        (CheckKind::Udp { to, expect, .. }, Observation::Udp(o)) => udp(live, &to.host, *expect, o),
        (CheckKind::Port { node, expect, .. }, Observation::Published { attempts }) => {
            port(live, kind, node, *expect, attempts)
        }
        (CheckKind::Mtu { expect, .. }, Observation::Mtu(o)) => mtu(*expect, o),
        (CheckKind::Mtu { expect, to, .. }, Observation::PathMtu(o)) => {
            path_mtu(*expect, to.as_deref().unwrap_or_default(), o)
        }
        (CheckKind::Tls { expect, .. }, Observation::Tls(o)) => tls(*expect, o),
        (CheckKind::Http { body, expect, .. }, Observation::Http(o)) => {
            http(body.as_deref(), expect, o)
        }
        (
            CheckKind::Spread {
                name,
                expect,
                connections,
                ..
            },
            Observation::Spread(o),
        ) => spread(live, name, *expect, *connections, o),
        (CheckKind::Latency { expect, .. }, Observation::Echo(o)) => {
            super::measure::latency(expect, o)
        }
        (CheckKind::Loss { expect, .. }, Observation::Echo(o)) => super::measure::loss(expect, o),
        (kind, other) => Outcome::new(
            false,
            format!(
                "the agent answered a {} check with {other:?}",
                kind.kind_name()
            ),
        ),
    }
}

/// `10.1.0.3 (web)`: addresses with the node that holds them.
fn describe_ip(live: &LiveLab, ip: IpAddr) -> String {
    let owner = live
        .nodes
        .iter()
        .find(|(_, n)| n.addresses.values().any(|a| IpAddr::V4(*a) == ip));
    match owner {
        Some((name, _)) => format!("{ip} ({name})"),
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
        DnsObservation::Timeout | DnsObservation::Error { .. } => return None,
    })
}

/// Whether the control query shows a resolver that answers: with an
/// address when one was needed, with anything at all otherwise.
fn resolver_alive(control: Option<&DnsObservation>, needs_address: bool) -> bool {
    match control {
        Some(DnsObservation::Answers { .. }) => true,
        Some(DnsObservation::Timeout | DnsObservation::Error { .. }) | None => false,
        Some(_) => !needs_address,
    }
}

fn dns(live: &LiveLab, from: &str, expect: &DnsExpect, report: &DnsReport) -> Outcome {
    let o = &report.answer;
    let Some(observed) = dns_answer_words(live, o) else {
        // Silence, or no resolver at all: evidence only if a resolver is
        // shown alive by the control name.
        let needs_address = live
            .lab
            .nodes
            .get(from)
            .is_some_and(|n| n.networks().next().is_some());
        let why = match o {
            DnsObservation::Error { message } => message.clone(),
            _ => "no answer before the deadline".into(),
        };
        if matches!(o, DnsObservation::Timeout)
            && resolver_alive(report.control.as_ref(), needs_address)
        {
            return Outcome::new(
                *expect == DnsExpect::Unresolved,
                format!(
                    "unresolved: no answer before the deadline (the resolver answered `{from}`, so it is alive and could not forward)"
                ),
            );
        }
        return Outcome::fail(format!(
            "inconclusive: no resolver answered ({why}; the control name `{from}` got {})",
            report
                .control
                .as_ref()
                .and_then(|c| dns_answer_words(live, c))
                .unwrap_or_else(|| "no answer either".into())
        ));
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

/// Who should answer at a target: the node's identity, when the target is
/// an agent node of this lab.
fn expected_identity(live: &LiveLab, host: &TargetHost) -> Option<Identity> {
    let node = match host {
        TargetHost::Node { node, .. } => node.clone(),
        TargetHost::Ip(ip) => live
            .nodes
            .iter()
            .find(|(_, n)| n.addresses.values().any(|a| IpAddr::V4(*a) == *ip))?
            .0
            .clone(),
    };
    live.lab
        .nodes
        .get(&node)
        .filter(|n| n.is_agent())
        .map(|n| Identity {
            lab: live.lab.name.clone(),
            host: live.lab.is_multi_host().then(|| n.host.clone()),
            node,
        })
}

fn identity_words(id: &Identity) -> String {
    format!("{} of lab {}", id.node_at_host(), id.lab)
}

fn tcp(live: &LiveLab, host: &TargetHost, expect: TcpExpect, o: &TcpObservation) -> Outcome {
    let want = expected_identity(live, host);
    match o {
        TcpObservation::Open { identity } => {
            let observed = match identity {
                Some(id) => format!("open, answered by {}", identity_words(id)),
                None => "open (no agent greeting)".to_owned(),
            };
            let right_node = match (&want, identity) {
                (Some(w), Some(got)) => w == got,
                (Some(_), None) => false,
                (None, _) => true,
            };
            if expect == TcpExpect::Open && !right_node {
                let w = want.as_ref().map(identity_words).unwrap_or_default();
                return Outcome::new(false, format!("{observed}; expected {w}"));
            }
            Outcome::new(expect == TcpExpect::Open, observed)
        }
        TcpObservation::Refused => Outcome::new(
            expect == TcpExpect::Refused,
            "refused (reset: reachable, nothing listens)",
        ),
        TcpObservation::Timeout => Outcome::new(
            expect == TcpExpect::Blocked,
            "blocked: no answer before the deadline",
        ),
        TcpObservation::Unreachable { message } => Outcome::new(
            expect == TcpExpect::Blocked,
            format!("blocked: unreachable ({message})"),
        ),
        TcpObservation::Error { message } => Outcome::new(false, format!("error: {message}")),
    }
}

fn udp(live: &LiveLab, host: &TargetHost, expect: UdpExpect, o: &UdpObservation) -> Outcome {
    match o {
        UdpObservation::Answered { identity } => {
            let observed = format!("answered by {}", identity_words(identity));
            let right = expected_identity(live, host).is_none_or(|w| &w == identity);
            if expect == UdpExpect::Open && !right {
                return Outcome::new(
                    false,
                    format!(
                        "{observed}; expected {}",
                        expected_identity(live, host)
                            .map(|w| identity_words(&w))
                            .unwrap_or_default()
                    ),
                );
            }
            Outcome::new(expect == UdpExpect::Open, observed)
        }
        UdpObservation::Unrecognised { reply } => {
            Outcome::new(false, format!("answered, but not by an agent: {reply:?}"))
        }
        UdpObservation::Refused => Outcome::new(
            false,
            "refused (ICMP port unreachable: reachable, nothing listens)",
        ),
        UdpObservation::Timeout => Outcome::new(
            expect == UdpExpect::Blocked,
            "blocked: no answer before the deadline",
        ),
        UdpObservation::Error { message } => Outcome::new(false, format!("error: {message}")),
    }
}

/// A port probed on its Docker host: `published` passes only if that very
/// node answered at every address tried (loopback, and for a binding on
/// all addresses an external one too); `unpublished` only if it answered
/// at none.
fn port(
    live: &LiveLab,
    kind: &CheckKind,
    node: &str,
    expect: PortExpect,
    attempts: &[PortAttempt],
) -> Outcome {
    let want = expected_identity(
        live,
        &TargetHost::Node {
            node: node.to_owned(),
            network: None,
        },
    );
    let is_node = |a: &PortAttempt| matches!(&a.answer, PortAnswer::Answered { identity } if Some(identity) == want.as_ref());
    let words: Vec<String> = attempts
        .iter()
        .map(|a| {
            let what = match &a.answer {
                PortAnswer::Answered { identity } => {
                    format!("answered by {}", identity_words(identity))
                }
                PortAnswer::Anonymous { detail } | PortAnswer::Nothing { detail } => detail.clone(),
            };
            format!("{} {what}", a.addr)
        })
        .collect();
    let seen = words.join("; ");
    match expect {
        PortExpect::Published => {
            let mapping = super::target::port_binding(live, kind)
                .map(|b| format!("published on {b}"))
                .unwrap_or_else(|| "published".into());
            let all = !attempts.is_empty() && attempts.iter().all(is_node);
            if all {
                let who = want.as_ref().map(identity_words).unwrap_or_default();
                let extra = if attempts.len() > 1 {
                    format!(" (also at {})", attempts[1].addr)
                } else {
                    String::new()
                };
                Outcome::pass(format!("{mapping}, answered by {who}{extra}"))
            } else {
                let expected = want.as_ref().map(identity_words).unwrap_or_default();
                Outcome::fail(format!(
                    "{mapping}, but from the host: {seen}; expected {expected}"
                ))
            }
        }
        PortExpect::Unpublished => {
            if attempts.iter().any(is_node) {
                Outcome::fail(format!("reachable from the host: {seen}"))
            } else {
                Outcome::pass(format!(
                    "unpublished: the engine maps nothing for {}, and from the host {seen}",
                    kind.port_words()
                ))
            }
        }
    }
}

fn mtu(expect: u32, o: &MtuObservation) -> Outcome {
    match o {
        MtuObservation::Found { interface, mtu } if *mtu == expect => Outcome::pass(format!(
            "MTU {mtu} on {interface} (read from the interface's setting)"
        )),
        MtuObservation::Found { interface, mtu } => Outcome::fail(format!(
            "MTU {mtu} on {interface} (read from the interface's setting); expected {expect}"
        )),
        MtuObservation::NotFound => {
            Outcome::fail("no interface holds the node's address on that network")
        }
        MtuObservation::Error { message } => Outcome::fail(format!("error: {message}")),
    }
}

/// The largest packet that crossed the path, measured.
fn path_mtu(expect: u32, to: &str, o: &PathMtuObservation) -> Outcome {
    match o {
        PathMtuObservation::Measured { path } => {
            let words = format!("{to}: {}", crate::capture::pmtu::describe(path));
            if u32::from(path.mtu) == expect {
                Outcome::pass(words)
            } else {
                Outcome::fail(format!("{words}; expected {expect}"))
            }
        }
        PathMtuObservation::Failed { message } => {
            Outcome::fail(format!("the path MTU could not be measured: {message}"))
        }
    }
}

/// Nodes that answer to `name`: the node of that name, and every node with
/// it as an alias.
fn carriers(live: &LiveLab, name: &str) -> Vec<String> {
    live.lab
        .nodes
        .values()
        .filter(|n| n.name == name || n.networks().any(|a| a.aliases.iter().any(|al| al == name)))
        .map(|n| n.name.clone())
        .collect()
}

fn spread(
    live: &LiveLab,
    name: &str,
    expect: SpreadExpect,
    connections: u32,
    o: &SpreadObservation,
) -> Outcome {
    let counts: Vec<String> = o
        .answered
        .iter()
        .map(|(id, n)| format!("{} ×{n}", id.node))
        .collect();
    let mut observed = format!(
        "{connections} connections: {}",
        if counts.is_empty() {
            "none answered".into()
        } else {
            counts.join(", ")
        }
    );
    if let Some(first) = o.failures.first() {
        observed.push_str(&format!("; {} failed ({first})", o.failures.len()));
    }
    let allowed = carriers(live, name);
    let strangers: Vec<&str> = o
        .answered
        .iter()
        .filter(|(id, _)| id.lab != live.lab.name || !allowed.contains(&id.node))
        .map(|(id, _)| id.node.as_str())
        .collect();
    if !strangers.is_empty() {
        return Outcome::fail(format!(
            "{observed}; {} does not carry the name {name}",
            strangers.join(", ")
        ));
    }
    let all_answered = o.failures.is_empty() && !o.answered.is_empty();
    match expect {
        SpreadExpect::Open => Outcome::new(all_answered, observed),
        SpreadExpect::Spread if o.answered.len() < 2 => {
            Outcome::fail(format!("{observed}; expected more than one node"))
        }
        SpreadExpect::Spread => Outcome::new(all_answered, observed),
    }
}

fn tls_phases(o: &TlsObservation) -> String {
    let mut parts = Vec::new();
    for (what, v) in [
        ("connect", o.connect_ms),
        ("handshake", o.handshake_ms),
        ("first byte", o.first_byte_ms),
    ] {
        if let Some(ms) = v {
            parts.push(format!("{what} {ms:.1} ms"));
        }
    }
    parts.join(", ")
}

fn tls(expect: TlsExpect, o: &TlsObservation) -> Outcome {
    let subject = o
        .subject
        .as_deref()
        .map(|s| format!(" [{s}]"))
        .unwrap_or_default();
    let (seen, words) = match &o.outcome {
        TlsOutcome::Verified => (
            Some(TlsExpect::Verified),
            format!(
                "verified{subject}: {} {}; {}; {}",
                o.version.as_deref().unwrap_or("?"),
                o.cipher.as_deref().unwrap_or("?"),
                tls_phases(o),
                match o.close_notify {
                    Some(true) => "closed with close_notify",
                    Some(false) => "closed without close_notify",
                    None => "no close seen",
                }
            ),
        ),
        TlsOutcome::Untrusted { reason } => (
            Some(TlsExpect::Untrusted),
            format!("untrusted{subject}: {reason}"),
        ),
        TlsOutcome::WrongName { reason } => (
            Some(TlsExpect::WrongName),
            format!("wrong name{subject}: {reason}"),
        ),
        TlsOutcome::NoTls { reason } => (Some(TlsExpect::NoTls), format!("no TLS: {reason}")),
        TlsOutcome::Refused => (None, "refused (nothing listens)".into()),
        TlsOutcome::Timeout => (None, "no answer before the deadline".into()),
        TlsOutcome::Error { message } => (None, format!("error: {message}")),
    };
    Outcome::new(seen == Some(expect), words)
}

fn http(sent_body: Option<&str>, expect: &HttpExpect, o: &HttpObservation) -> Outcome {
    let hops: Vec<String> = o
        .hops
        .iter()
        .map(|h| {
            let node = h
                .node
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            format!("{} {} → {}{node}", h.method, h.url, h.status)
        })
        .collect();
    let mut observed = hops.join(" ⇒ ");
    if let Some(note) = &o.note {
        observed = format!("{observed} ({note})");
    }
    if let Some(e) = &o.error {
        observed = if observed.is_empty() {
            e.clone()
        } else {
            format!("{observed}; {e}")
        };
        return Outcome::fail(observed);
    }
    let Some(last) = o.hops.last() else {
        return Outcome::fail("no answer");
    };
    let echoed: Option<serde_json::Value> = serde_json::from_str(&o.final_body).ok();
    let field = |name: &str| echoed.as_ref().and_then(|v| v.get(name));
    let mut wrong = Vec::new();
    if let Some(s) = expect.status
        && last.status != s
    {
        wrong.push(format!("status {} instead of {s}", last.status));
    }
    if let Some(r) = &expect.redirects {
        let seen: Vec<u16> = o.hops[..o.hops.len() - 1]
            .iter()
            .map(|h| h.status)
            .collect();
        if &seen != r {
            wrong.push(format!("redirects {seen:?} instead of {r:?}"));
        }
    }
    if let Some(u) = &expect.final_url {
        let matches = if u.starts_with('/') {
            url::Url::parse(&last.url).ok().is_some_and(|p| {
                let path = match p.query() {
                    Some(q) => format!("{}?{q}", p.path()),
                    None => p.path().to_owned(),
                };
                &path == u
            })
        } else {
            url::Url::parse(u).ok().map(|x| x.to_string()).as_deref() == Some(last.url.as_str())
        };
        if !matches {
            wrong.push(format!("final URL {} instead of {u}", last.url));
        }
    }
    if let Some(m) = &expect.final_method
        && &last.method != m
    {
        wrong.push(format!("final method {} instead of {m}", last.method));
    }
    if let Some(kept) = expect.body_kept {
        let arrived = field("body").and_then(|b| b.as_str()).unwrap_or_default();
        let was_kept = sent_body.is_some_and(|b| !b.is_empty() && arrived == b);
        if was_kept != kept {
            wrong.push(format!(
                "body {} (the last answer saw {arrived:?})",
                if was_kept { "kept" } else { "not kept" }
            ));
        }
    }
    if let Some(n) = &expect.from_node
        && last.node.as_deref() != Some(n.as_str())
    {
        wrong.push(format!(
            "answered by {} instead of {n}",
            last.node.as_deref().unwrap_or("no agent")
        ));
    }
    if let Some(s) = expect.session {
        let has = field("session").is_some_and(|v| v.is_string());
        if has != s {
            wrong.push(format!("session {}", if has { "kept" } else { "lost" }));
        }
    }
    if wrong.is_empty() {
        Outcome::pass(observed)
    } else {
        Outcome::fail(format!("{observed}; {}", wrong.join(", ")))
    }
}

/// Whether an http check's request crossed the wire readable, as its
/// `plaintext` expectation asks: the request line and body searched for in
/// the recorded TCP payloads. `None` when the check does not ask.
pub fn plaintext(kind: &CheckKind, capture: Option<&CaptureResult>) -> Option<Outcome> {
    let CheckKind::Http {
        url,
        method,
        body,
        expect,
        ..
    } = kind
    else {
        return None;
    };
    let want = expect.plaintext?;
    let packets = match capture {
        Some(CaptureResult::Recorded { capture }) => &capture.packets,
        Some(CaptureResult::Unavailable { reason }) => {
            return Some(Outcome::fail(format!(
                "plaintext cannot be shown: capture unavailable ({reason})"
            )));
        }
        None => {
            return Some(Outcome::fail(
                "plaintext cannot be shown: nothing was recorded",
            ));
        }
    };
    let target = url::Url::parse(url).ok()?;
    let path = match target.query() {
        Some(q) => format!("{}?{q}", target.path()),
        None => target.path().to_owned(),
    };
    let request_line = format!("{method} {path} HTTP/1.1");
    let mut needles: Vec<&[u8]> = vec![request_line.as_bytes()];
    if let Some(b) = body.as_deref().filter(|b| !b.is_empty()) {
        needles.push(b.as_bytes());
    }
    let seen = crate::capture::plaintext_seen(packets, &needles);
    let words = if seen {
        format!("`{request_line}` crossed the wire readable")
    } else {
        format!(
            "neither `{request_line}` nor the body crossed the wire readable ({} packets recorded)",
            packets.len()
        )
    };
    Some(Outcome::new(seen == want, words))
}
