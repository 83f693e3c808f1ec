//! Observation + expectation → a verdict, with the words the report shows.
//! A verdict is PASS or FAIL only on evidence about the network; when the
//! probe could not look at all (its container is gone, it cannot open a
//! socket, read resolv.conf or record packets), it is an error. The kinds
//! live in rooms of their own: names in `dns`, TLS and HTTP in `web`, who
//! answered in `identity`.

use crate::agent::protocol::{
    CaptureResult, EgressObservation, MtuObservation, Observation, PathMtuObservation, PortAnswer,
    PortAttempt, ProbeResult, SpreadObservation, TcpObservation, UdpObservation,
};
use crate::lab::{
    CheckKind, EgressExpect, PortExpect, Source, SpreadExpect, Target, TcpExpect, UdpExpect,
};
use crate::live::LiveLab;

use super::identity::{self, Answerer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub passed: bool,
    /// The probe could not observe anything (an agent or environment
    /// failure): neither a pass nor a failure of the network.
    pub error: bool,
    /// Not run: the engine lacks what the check `requires:`.
    pub skipped: bool,
    /// What was seen, in words (`open, answered by web`); for a skipped
    /// check, why it was not run.
    pub observed: String,
}

impl Outcome {
    pub(super) fn new(passed: bool, observed: impl Into<String>) -> Self {
        Outcome {
            passed,
            error: false,
            skipped: false,
            observed: observed.into(),
        }
    }

    pub fn skipped(why: impl Into<String>) -> Self {
        Outcome {
            passed: false,
            error: false,
            skipped: true,
            observed: why.into(),
        }
    }

    pub fn pass(observed: impl Into<String>) -> Self {
        Outcome::new(true, observed)
    }

    pub fn fail(observed: impl Into<String>) -> Self {
        Outcome::new(false, observed)
    }

    pub fn error(observed: impl Into<String>) -> Self {
        Outcome {
            passed: false,
            error: true,
            skipped: false,
            observed: observed.into(),
        }
    }
}

pub fn classify(kind: &CheckKind, obs: &Observation, live: &LiveLab) -> Outcome {
    match (kind, obs) {
        (
            CheckKind::Dns {
                from,
                expect,
                record,
                ..
            },
            Observation::Dns(o),
        ) => super::dns::dns(live, from, *record, expect, o),
        (CheckKind::Tcp { from, to, expect }, Observation::Tcp(o)) => {
            tcp(live, from, to, *expect, o)
        }
        (CheckKind::Udp { from, to, expect }, Observation::Udp(o)) => {
            udp(live, from, to, *expect, o)
        }
        (CheckKind::Port { node, expect, .. }, Observation::Published { attempts }) => {
            port(live, kind, node, *expect, attempts)
        }
        (CheckKind::Mtu { expect, .. }, Observation::Mtu(o)) => mtu(*expect, o),
        (CheckKind::Link { expect, to, .. }, Observation::Link(o)) => {
            super::link::judge(*expect, to, o)
        }
        (CheckKind::Mtu { expect, to, .. }, Observation::PathMtu(o)) => {
            path_mtu(*expect, to.as_deref().unwrap_or_default(), o)
        }
        (CheckKind::Tls { expect, .. }, Observation::Tls(o)) => super::web::tls(*expect, o),
        (CheckKind::Http { .. }, Observation::Http(o)) => super::web::http(live, kind, o),
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
        (CheckKind::Egress { expect, .. }, Observation::Egress(o)) => egress(*expect, o),
        (kind, other) => Outcome::error(format!(
            "the agent answered a {} check with {other:?}",
            kind.kind_name()
        )),
    }
}

/// A probe's whole result judged: its observation, and what its recording
/// shows (an http check's `plaintext`); a recording asked for and not made
/// is an error, since the check cannot be what it claims.
pub fn judge(kind: &CheckKind, result: &ProbeResult, live: &LiveLab) -> Outcome {
    let mut o = classify(kind, &result.observation, live);
    if let Some(CaptureResult::Unavailable { reason }) = &result.capture {
        return Outcome::error(format!(
            "{}; the packets could not be recorded: {reason}",
            o.observed
        ));
    }
    if let Some(shown) = super::web::plaintext(kind, result) {
        o.passed &= shown.passed;
        o.error |= shown.error;
        o.observed = format!("{}; {}", o.observed, shown.observed);
    }
    o
}

/// Why an answer that names nobody (or somebody else) does not show that
/// the target answered, and what to write instead.
fn unproven(
    live: &LiveLab,
    to: &Target,
    want: &Answerer,
    seen: Option<&crate::agent::protocol::Identity>,
) -> Option<String> {
    match (want, seen) {
        (Answerer::Node(w), Some(got)) if w == got => None,
        (Answerer::AnyOf(ws), Some(got)) if ws.contains(got) => None,
        (Answerer::AnyOf(ws), _) => Some(format!(
            "expected one of {}",
            ws.iter()
                .map(identity::words)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (Answerer::Node(w), _) => Some(format!("expected {}", identity::words(w))),
        (Answerer::Foreign(n), _) => Some(format!(
            "node `{n}` runs a foreign image and cannot say it answered; expect `accepts` to show only that a TCP handshake completed"
        )),
        (Answerer::Unknown, Some(got)) if identity::is_lab_node(live, got) => None,
        (Answerer::Unknown, _) => Some(format!(
            "nothing of lab {} is known at {to}, so an answer there proves nobody of it answered; expect `accepts` to show only that a TCP handshake completed",
            live.lab.name
        )),
    }
}

fn tcp(
    live: &LiveLab,
    from: &Source,
    to: &Target,
    expect: TcpExpect,
    o: &TcpObservation,
) -> Outcome {
    match o {
        TcpObservation::Open { identity: seen } => {
            let greeting = match seen {
                Some(id) => format!("answered by {}", identity::words(id)),
                None => "no agent greeting".to_owned(),
            };
            match expect {
                TcpExpect::Accepts => Outcome::pass(format!(
                    "accepted: a TCP handshake completed ({greeting}; a handshake says nothing about who completed it, Docker's port proxy included)"
                )),
                TcpExpect::Open => {
                    let want = identity::answerer(
                        live,
                        from,
                        &to.host,
                        to.port,
                        crate::lab::Transport::Tcp,
                    );
                    match unproven(live, to, &want, seen.as_ref()) {
                        None => Outcome::pass(format!("open, {greeting}")),
                        Some(why) => Outcome::fail(format!("open, {greeting}; {why}")),
                    }
                }
                TcpExpect::Refused | TcpExpect::Blocked => {
                    Outcome::fail(format!("open, {greeting}"))
                }
            }
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
        TcpObservation::Error { message } => {
            Outcome::error(format!("the probe could not connect: {message}"))
        }
    }
}

fn udp(
    live: &LiveLab,
    from: &Source,
    to: &Target,
    expect: UdpExpect,
    o: &UdpObservation,
) -> Outcome {
    match o {
        UdpObservation::Answered { identity: seen } => {
            let observed = format!("answered by {}", identity::words(seen));
            if expect == UdpExpect::Blocked {
                return Outcome::fail(observed);
            }
            let want =
                identity::answerer(live, from, &to.host, to.port, crate::lab::Transport::Udp);
            match unproven(live, to, &want, Some(seen)) {
                None => Outcome::pass(observed),
                Some(why) => Outcome::fail(format!("{observed}; {why}")),
            }
        }
        UdpObservation::Unrecognised { reply } => {
            Outcome::fail(format!("answered, but not by an agent: {reply:?}"))
        }
        UdpObservation::Refused => {
            Outcome::fail("refused (ICMP port unreachable: reachable, nothing listens)")
        }
        UdpObservation::Timeout => Outcome::new(
            expect == UdpExpect::Blocked,
            "blocked: no answer before the deadline",
        ),
        UdpObservation::Unreachable { message } => Outcome::new(
            expect == UdpExpect::Blocked,
            format!("blocked: unreachable ({message})"),
        ),
        UdpObservation::Error { message } => {
            Outcome::error(format!("the probe could not send: {message}"))
        }
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
    let want = identity::identity_of(live, node);
    let is_node = |a: &PortAttempt| matches!(&a.answer, PortAnswer::Answered { identity } if Some(identity) == want.as_ref());
    let words: Vec<String> = attempts
        .iter()
        .map(|a| {
            let what = match &a.answer {
                PortAnswer::Answered { identity } => {
                    format!("answered by {}", identity::words(identity))
                }
                PortAnswer::Anonymous { detail } | PortAnswer::Nothing { detail } => detail.clone(),
            };
            format!("{} {what}", a.addr)
        })
        .collect();
    let seen = words.join("; ");
    match expect {
        PortExpect::Published => {
            let bindings = super::target::port_bindings(live, kind);
            let mapping = if bindings.is_empty() {
                "published".to_owned()
            } else {
                let list: Vec<String> = bindings.iter().map(|b| b.to_string()).collect();
                format!("published on {}", list.join(" and "))
            };
            // Docker has given one container port different host ports
            // per family: worth saying, as clients of either family differ.
            let ports: Vec<u16> = bindings.iter().map(|b| b.host_port).collect();
            let apart = if ports.windows(2).any(|w| w[0] != w[1]) {
                format!(
                    "; the engine gave IPv4 and IPv6 different host ports ({})",
                    ports
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            };
            let all = !attempts.is_empty() && attempts.iter().all(is_node);
            if all {
                let who = want.as_ref().map(identity::words).unwrap_or_default();
                let extra = if attempts.len() > 1 {
                    let rest: Vec<String> =
                        attempts[1..].iter().map(|a| a.addr.to_string()).collect();
                    format!(" (also at {})", rest.join(", "))
                } else {
                    String::new()
                };
                Outcome::pass(format!("{mapping}, answered by {who}{extra}{apart}"))
            } else {
                let expected = want.as_ref().map(identity::words).unwrap_or_default();
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
        MtuObservation::Error { message } => {
            Outcome::error(format!("the interface could not be read: {message}"))
        }
    }
}

/// A node's routing decision for an address outside the lab.
fn egress(expect: EgressExpect, o: &EgressObservation) -> Outcome {
    let (routed, words) = match o {
        EgressObservation::Routed {
            target,
            source,
            interface,
            gateway,
        } => {
            let on = interface
                .as_deref()
                .map(|i| format!(" on {i}"))
                .unwrap_or_default();
            let via = gateway.map(|g| format!(" via {g}")).unwrap_or_default();
            (
                true,
                format!(
                    "a route to {target}: from {source}{on}{via} (the kernel's choice; nothing was sent)"
                ),
            )
        }
        EgressObservation::Unreachable { target, message } => (
            false,
            format!("no route to {target}: {message} (the kernel's answer; nothing was sent)"),
        ),
        EgressObservation::Error { target, message } => {
            return Outcome::error(format!(
                "the route to {target} could not be asked: {message}"
            ));
        }
    };
    if routed == (expect == EgressExpect::Routed) {
        Outcome::pass(words)
    } else {
        Outcome::fail(format!("{words}; expected {}", expect.as_str()))
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
        PathMtuObservation::Unavailable { message } => {
            Outcome::error(format!("no ICMP echo can be sent here: {message}"))
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
