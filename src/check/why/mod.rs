//! Why a check came out as it did: one sentence naming the Docker mechanism
//! that decided it — the embedded DNS at 127.0.0.11 (or none: the default
//! bridge, host mode), a shared user-defined bridge, the isolation between
//! bridges, an internal network's missing route, icc off, a published
//! port's NAT, VXLAN between hosts, the CA that signed a certificate, what
//! a redirect code does to the method — and a short form for `-v`.
//!
//! Pure: built from the lab model, the route the probe took and the
//! observation. It explains what was *seen*, whatever was expected, and
//! says less (or nothing) when the model does not account for it: a
//! sentence here must never claim a mechanism the evidence does not show.

mod dns;
mod path;
#[cfg(test)]
mod tests;

use crate::agent::protocol::{
    CaptureResult, EgressObservation, HttpObservation, MtuObservation, Observation,
    PathMtuObservation, PortAnswer, PortAttempt, ProbeResult, SpreadObservation, TcpObservation,
    TlsObservation, TlsOutcome, UdpObservation,
};
use crate::check::route::{self, Route, carriers, networks_of};
use crate::lab::IpFamily;
use crate::lab::{
    CheckKind, Driver, EgressExpect, Matrix, MatrixCell, PortExpect, Source, Transport, Trust,
};
use crate::live::LiveLab;
use crate::model::{self, EngineSide};
use path::Seen;

/// How the sentences name Docker's resolver on user-defined networks.
const EMBEDDED: &str = "Docker's embedded DNS (127.0.0.11)";

/// The mechanism behind a check's outcome: a sentence for the page and the
/// JSON, a few words for `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Why {
    pub sentence: String,
    pub short: String,
}

impl Why {
    fn new(sentence: String, short: String) -> Self {
        Why { sentence, short }
    }
}

/// A name as the sentences quote it.
fn code(name: &str) -> String {
    format!("`{name}`")
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Why a probed check came out as it did.
pub fn explain(kind: &CheckKind, result: &ProbeResult, live: &LiveLab) -> Option<Why> {
    let obs = &result.observation;
    match (kind, obs) {
        (CheckKind::Dns { from, name, .. }, Observation::Dns(report)) => {
            dns::why(live, from, name, report)
        }
        (CheckKind::Tcp { from, to, .. }, Observation::Tcp(o)) => {
            let r = route::route(live, from, to, Transport::Tcp);
            path::why(live, from, &r, Transport::Tcp, tcp_seen(o)?)
        }
        (CheckKind::Udp { from, to, .. }, Observation::Udp(o)) => {
            let r = route::route(live, from, to, Transport::Udp);
            path::why(live, from, &r, Transport::Udp, udp_seen(o)?)
        }
        (
            CheckKind::Tls {
                from,
                to,
                name,
                trust,
                ..
            },
            Observation::Tls(o),
        ) => {
            let r = route::route(live, from, to, Transport::Tcp);
            tls(live, from, &r, name, *trust, o)
        }
        (CheckKind::Http { from, url, .. }, Observation::Http(o)) => {
            http(live, kind, from, url, o, result)
        }
        (CheckKind::Port { node, expect, .. }, Observation::Published { attempts }) => {
            port(live, kind, node, *expect, attempts)
        }
        (CheckKind::Mtu { network, .. }, Observation::Mtu(o)) => mtu(live, network, o),
        (CheckKind::Egress { node, .. }, Observation::Egress(o)) => egress(live, node, o),
        (CheckKind::Link { network, .. }, Observation::Link(o)) => {
            crate::check::link::why(live, network, o)
        }
        (
            CheckKind::Mtu {
                node, network, to, ..
            },
            Observation::PathMtu(o),
        ) => path_mtu(live, node, network, to.as_deref(), o),
        (
            CheckKind::Spread {
                from, name, port, ..
            },
            Observation::Spread(o),
        ) => spread(live, from, name, *port, o),
        _ => None,
    }
}

/// Why one matrix cell came out as it did. Where what was seen is what
/// netlab's model of Docker predicts (`model::reach`, for the lab as it is
/// now, on an engine like this one), the model's reason is the sentence;
/// where it is not, only what the path shows is said.
pub fn explain_cell(
    live: &LiveLab,
    m: &Matrix,
    cell: &MatrixCell,
    family: IpFamily,
    obs: &Observation,
) -> Option<Why> {
    let seen = match obs {
        Observation::Tcp(o) => tcp_seen(o)?,
        Observation::Udp(o) => udp_seen(o)?,
        _ => return None,
    };
    let r = route::cell_route(live, m, cell);
    let on_path = path::why(live, &cell.from, &r, m.transport, seen);
    match model_reason(live, m, cell, family, seen) {
        Some(sentence) => {
            let short = on_path.map_or_else(
                || sentence.split(':').next().unwrap_or_default().to_owned(),
                |w| w.short,
            );
            Some(Why::new(sentence, short))
        }
        None => on_path,
    }
}

/// The model's reason for a cell, when the model predicts what was seen.
fn model_reason(
    live: &LiveLab,
    m: &Matrix,
    cell: &MatrixCell,
    family: IpFamily,
    seen: Seen,
) -> Option<String> {
    let mut now = live.lab.clone();
    now.nodes = live.nodes_now();
    let host = live.lab.host_of(&cell.from);
    let side = live
        .hosts
        .get(host)
        .map_or(EngineSide::NEW, |h| EngineSide::of(&h.facts));
    let p = crate::model::reach_family(
        &now,
        &cell.from,
        &cell.to,
        m.port,
        m.transport,
        family,
        side,
    );
    let agrees = matches!(
        (p.reach, seen),
        (model::Reach::Open, Seen::Answered)
            | (model::Reach::Refused, Seen::Refused)
            | (model::Reach::Blocked, Seen::Silent)
    );
    agrees.then_some(p.reason)
}

/// A matrix as a whole: the distinct causes of its cells, in the order
/// they first appear.
pub fn summarise<'a>(cells: impl IntoIterator<Item = &'a Why>) -> Option<Why> {
    let mut causes: Vec<&str> = Vec::new();
    for w in cells {
        if !causes.contains(&w.short.as_str()) {
            causes.push(&w.short);
        }
    }
    if causes.is_empty() {
        return None;
    }
    Some(Why::new(
        format!(
            "each cell has its own cause (shown with the table): {}",
            causes.join("; ")
        ),
        causes.join("; "),
    ))
}

fn tcp_seen(o: &TcpObservation) -> Option<Seen> {
    Some(match o {
        TcpObservation::Open { .. } => Seen::Answered,
        TcpObservation::Refused => Seen::Refused,
        TcpObservation::Timeout | TcpObservation::Unreachable { .. } => Seen::Silent,
        TcpObservation::Error { .. } => return None,
    })
}

fn udp_seen(o: &UdpObservation) -> Option<Seen> {
    Some(match o {
        UdpObservation::Answered { .. } => Seen::Answered,
        UdpObservation::Refused => Seen::Refused,
        UdpObservation::Timeout | UdpObservation::Unreachable { .. } => Seen::Silent,
        UdpObservation::Unrecognised { .. } | UdpObservation::Error { .. } => return None,
    })
}

fn tls(
    live: &LiveLab,
    from: &Source,
    r: &Route,
    sni: &str,
    trust: Trust,
    o: &TlsObservation,
) -> Option<Why> {
    let node = r.node.as_deref().and_then(|n| live.lab.nodes.get(n));
    let whose = node
        .map(|n| format!("{}'s certificate", code(&n.name)))
        .unwrap_or_else(|| "the certificate".into());
    Some(match &o.outcome {
        TlsOutcome::Verified => Why::new(
            format!(
                "{whose} names {} and was signed by the lab's CA, which the client trusts",
                code(sni)
            ),
            "signed by the lab CA".into(),
        ),
        TlsOutcome::Untrusted { .. } if trust == Trust::Nothing => Why::new(
            "the client trusts no CA (`ca: none`), so no certificate can be verified".into(),
            "no CA trusted".into(),
        ),
        TlsOutcome::Untrusted { .. } if node.is_some_and(|n| n.other_ca) => Why::new(
            format!(
                "{whose} was signed by another CA (the lab's second one, `ca: other`), which the client does not trust"
            ),
            "signed by another CA".into(),
        ),
        TlsOutcome::WrongName { .. } => {
            let n = node?;
            let mut names = vec![n.name.clone()];
            for a in n.networks().flat_map(|a| &a.aliases) {
                if !names.contains(a) {
                    names.push(a.clone());
                }
            }
            Why::new(
                format!(
                    "{whose} names {}, not {}, the name the client asked for (SNI)",
                    list(names.iter().map(|x| code(x))),
                    code(sni)
                ),
                "certificate for other names".into(),
            )
        }
        TlsOutcome::NoTls { .. } => {
            let n = node?;
            let port = r.addr?.port();
            let proto = path::plain_listener(live, &n.name, port)?;
            Why::new(
                format!(
                    "{} serves plain {} on {port}, not TLS: what came back was no TLS handshake",
                    code(&n.name),
                    proto.as_str()
                ),
                format!("plain {} there", proto.as_str()),
            )
        }
        TlsOutcome::Refused => path::why(live, from, r, Transport::Tcp, Seen::Refused)?,
        TlsOutcome::Timeout => path::why(live, from, r, Transport::Tcp, Seen::Silent)?,
        TlsOutcome::Untrusted { .. } | TlsOutcome::Closed { .. } | TlsOutcome::Error { .. } => {
            return None;
        }
    })
}

/// What a redirect code did to the method, by the Fetch standard.
fn redirect_effect(code_: u16, before: &str, after: &str, body_sent: bool) -> Option<String> {
    let name = match code_ {
        301 => "301 Moved Permanently",
        302 => "302 Found",
        303 => "303 See Other",
        307 => "307 Temporary Redirect",
        308 => "308 Permanent Redirect",
        _ => return None,
    };
    Some(if before != after {
        format!("{name} turned {before} into {after} and dropped the body")
    } else if matches!(code_, 307 | 308) && body_sent {
        format!("{name} kept {before} and its body")
    } else {
        format!("{name} kept {before}")
    })
}

fn http(
    live: &LiveLab,
    kind: &CheckKind,
    from: &Source,
    url: &str,
    o: &HttpObservation,
    result: &ProbeResult,
) -> Option<Why> {
    if o.error.is_some() || o.hops.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    let mut shorts: Vec<String> = Vec::new();
    for pair in o.hops.windows(2) {
        let (hop, next) = (&pair[0], &pair[1]);
        if let Some(effect) = redirect_effect(hop.status, &hop.method, &next.method, next.body_sent)
        {
            shorts.push(format!("{}: {} → {}", hop.status, hop.method, next.method));
            parts.push(effect);
        }
        if hop.url.starts_with("http://") && next.url.starts_with("https://") {
            parts.push("the redirect led from http to https".into());
            shorts.push("http → https".into());
        }
    }
    if !parts.is_empty() {
        parts[0] = format!("{} (the Fetch standard, as browsers do)", parts[0]);
    }
    if let Some(shown) = super::web::plaintext(kind, result)
        && !shown.error
        && let CheckKind::Http { expect, .. } = kind
        && let Some(want) = expect.plaintext
        && matches!(result.capture, Some(CaptureResult::Recorded { .. }))
    {
        let readable = shown.passed == want;
        let tls = url.starts_with("https://");
        match (tls, readable) {
            (false, true) => {
                parts.push(
                    "over plain http the request line and body cross the wire as they are".into(),
                );
                shorts.push("plain http: readable".into());
            }
            (true, false) => {
                parts.push("over https the request travels inside TLS records: only their sizes show on the wire".into());
                shorts.push("https: encrypted".into());
            }
            _ => {}
        }
    }
    if parts.is_empty() {
        let r = route::url_route(live, from, url)?;
        return path::why(live, from, &r, Transport::Tcp, Seen::Answered);
    }
    let mut sentence = parts.join("; ");
    if let Some(first) = sentence.get(..1) {
        sentence = format!("{}{}", first.to_uppercase(), &sentence[1..]);
    }
    Some(Why::new(sentence, shorts.join("; ")))
}

fn port(
    live: &LiveLab,
    kind: &CheckKind,
    node: &str,
    expect: PortExpect,
    attempts: &[PortAttempt],
) -> Option<Why> {
    let binding = crate::check::target::port_binding(live, kind);
    let by_node = attempts.iter().any(|a| {
        matches!(&a.answer, PortAnswer::Answered { identity } if identity.node == node && identity.lab == live.lab.name)
    });
    match (expect, binding) {
        (PortExpect::Published, Some(b)) if by_node => Some(Why::new(
            format!(
                "Docker publishes {}'s {}/{} on {}: the engine forwards that host port to the container by NAT (iptables DNAT) or its userland proxy, and {} answered there",
                code(node),
                b.container_port,
                b.transport.as_str(),
                std::net::SocketAddr::new(b.host_ip, b.host_port),
                code(node)
            ),
            format!("published: NAT/proxy → {node}:{}", b.container_port),
        )),
        (PortExpect::Unpublished, None) if !by_node => Some(Why::new(
            format!(
                "the engine maps no host port to {}'s {}: a container's port is reachable from the host's addresses only when it is published",
                code(node),
                kind.port_words()
            ),
            "not published".into(),
        )),
        _ => None,
    }
}

/// Why a node has (or has not) a route out: the model's reason where it
/// predicted what the kernel answered, for the networks the node is on now.
fn egress(live: &LiveLab, node: &str, o: &EgressObservation) -> Option<Why> {
    let routed = match o {
        EgressObservation::Routed { .. } => EgressExpect::Routed,
        EgressObservation::Unreachable { .. } => EgressExpect::None,
        EgressObservation::Error { .. } => return None,
    };
    let mut now = live.lab.clone();
    now.nodes = live.nodes_now();
    let source = Source::Node(node.to_owned());
    let host = live.lab.host_of(&source);
    let side = live
        .hosts
        .get(host)
        .map_or(EngineSide::NEW, |h| EngineSide::of(&h.facts));
    let (predicted, reason) = model::egress(&now, node, side)?;
    (predicted == routed).then(|| {
        let short = match routed {
            EgressExpect::None => "internal networks: no default route",
            EgressExpect::Routed => "a default route via a bridge's gateway",
        };
        Why::new(reason, short.into())
    })
}

fn mtu(live: &LiveLab, network: &str, o: &MtuObservation) -> Option<Why> {
    let MtuObservation::Found { mtu, .. } = o else {
        return None;
    };
    let n = live.lab.networks.get(network)?;
    if n.mtu == Some(*mtu) {
        return Some(Why::new(
            format!("the lab file sets `mtu: {mtu}` on {}", code(network)),
            format!("mtu: {mtu} in the lab file"),
        ));
    }
    match n.driver {
        Driver::Overlay { .. } if *mtu + 50 == 1500 => Some(Why::new(
            format!(
                "{} is an overlay: VXLAN wraps each packet in 50 bytes of headers, so Docker gives its interfaces an MTU 50 below 1500",
                code(network)
            ),
            "VXLAN: 50 bytes of headers".into(),
        )),
        Driver::Bridge if n.mtu.is_none() => Some(Why::new(
            format!(
                "{} is a bridge: nothing wraps its packets, so its interfaces keep the engine's MTU ({mtu})",
                code(network)
            ),
            "bridge: no encapsulation".into(),
        )),
        _ => None,
    }
}

fn path_mtu(
    live: &LiveLab,
    node: &str,
    network: &str,
    to: Option<&str>,
    o: &PathMtuObservation,
) -> Option<Why> {
    let PathMtuObservation::Measured { path } = o else {
        return None;
    };
    let mtu = u32::from(path.mtu);
    let n = live.lab.networks.get(network)?;
    let hosts = |x: &str| live.lab.nodes.get(x).map(|n| n.host.as_str());
    let (a, b) = (hosts(node)?, hosts(to?)?);
    match n.driver {
        Driver::Overlay { .. } if mtu + 50 == 1500 => {
            let between = if a != b && !live.same_engine(a, b) {
                format!(" between hosts {a} and {b}")
            } else {
                String::new()
            };
            Some(Why::new(
                format!(
                    "{} is an overlay: VXLAN carries its packets{between} inside 50 bytes of headers, so the largest packet that crossed is {mtu} bytes",
                    code(network)
                ),
                format!("VXLAN{between}: 50 bytes of headers"),
            ))
        }
        Driver::Bridge if n.mtu.is_none() => Some(Why::new(
            format!(
                "{} is a bridge on one host: nothing wraps its packets, so a packet of the interface's full MTU ({mtu}) crossed",
                code(network)
            ),
            "bridge: no encapsulation".into(),
        )),
        _ => None,
    }
}

fn spread(live: &LiveLab, from: &str, name: &str, port: u16, o: &SpreadObservation) -> Option<Why> {
    if o.answered.is_empty() {
        return None;
    }
    let node = live.lab.nodes.get(from)?;
    let own = networks_of(node);
    let named: Vec<String> = carriers(live, name)
        .iter()
        .filter(|c| own.iter().any(|n| c.is_on(n)))
        .map(|c| code(&c.name))
        .collect();
    let answered = o.answered.len();
    if named.len() == 1 {
        return Some(Why::new(
            format!(
                "{EMBEDDED} answers {} with the one address of {} on {}'s networks, so every connection reached it",
                code(name),
                named.join(""),
                code(from)
            ),
            "embedded DNS: one address".into(),
        ));
    }
    Some(Why::new(
        format!(
            "{EMBEDDED} answers {} with the address of every node that carries it on {}'s networks ({}); each connection resolved it anew, so {answered} of them answered on {port}",
            code(name),
            code(from),
            list(named)
        ),
        format!("embedded DNS round robin over {answered}"),
    ))
}
