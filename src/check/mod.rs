//! Checks → probes, and observations → outcomes. Pure: the addresses come
//! from a `LiveLab`, the observations from the agent; deciding what to probe
//! and whether a check passed needs no Docker and is unit-tested.

pub mod outcome;
pub mod target;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::agent::protocol::{Probe, ProbeBatch};
use crate::lab::{Check, CheckKind, PortExpect, Source, Transport, Trust};
use crate::live::LiveLab;

pub use outcome::{Outcome, classify};

/// What verify does for each check: send a probe from a source, or decide
/// at once (its node is down, its target has no address, no port is
/// published where none should be).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Probe { source: Source, probe: Probe },
    Done(Outcome),
}

/// One step per check; the check's index is the probe id.
pub fn plan_steps(live: &LiveLab) -> Vec<Step> {
    live.lab
        .checks
        .iter()
        .enumerate()
        .map(|(id, check)| step(live, id, check))
        .collect()
}

/// Why a node cannot be probed, if it cannot.
fn not_running(live: &LiveLab, name: &str) -> Option<Outcome> {
    match live.nodes.get(name) {
        None => Some(Outcome::fail(format!("node `{name}` has no container"))),
        Some(n) if !n.running => Some(Outcome::fail(format!(
            "node `{name}` is not running: {}",
            n.state
        ))),
        Some(_) => None,
    }
}

fn step(live: &LiveLab, id: usize, check: &Check) -> Step {
    let timeout_ms = u64::try_from(check.timeout.as_millis()).unwrap_or(u64::MAX);
    let source = check.kind.source();
    if let Source::Node(name) = &source
        && let Some(why) = not_running(live, name)
    {
        return Step::Done(why);
    }
    let probe = match &check.kind {
        CheckKind::Dns { name, record, .. } => Probe::Dns {
            id,
            name: name.clone(),
            record: *record,
            timeout_ms,
        },
        CheckKind::Tcp { from, to, .. } | CheckKind::Udp { from, to, .. } => {
            let addr = match target::resolve(live, from, to) {
                Ok(a) => a,
                Err(why) => return Step::Done(Outcome::fail(why)),
            };
            if matches!(check.kind, CheckKind::Tcp { .. }) {
                Probe::Tcp {
                    id,
                    addr,
                    timeout_ms,
                }
            } else {
                Probe::Udp {
                    id,
                    addr,
                    timeout_ms,
                }
            }
        }
        CheckKind::Mtu { node, network, .. } => {
            match live.nodes.get(node).and_then(|n| n.addresses.get(network)) {
                Some(ip) => Probe::Mtu {
                    id,
                    address: std::net::IpAddr::V4(*ip),
                    timeout_ms,
                },
                None => {
                    return Step::Done(Outcome::fail(format!(
                        "node `{node}` has no address on network `{network}`"
                    )));
                }
            }
        }
        CheckKind::Tls {
            from,
            to,
            name,
            trust,
            ..
        } => {
            let addr = match target::resolve(live, from, to) {
                Ok(a) => a,
                Err(why) => return Step::Done(Outcome::fail(why)),
            };
            let ca_pem = match (trust, &live.ca_pem) {
                (Trust::Nothing, _) => None,
                (Trust::Lab, Some(pem)) => Some(pem.clone()),
                (Trust::Lab, None) => {
                    return Step::Done(Outcome::fail(
                        "the lab has no CA: it was brought up without TLS (no https listener and no tls or http check)",
                    ));
                }
            };
            Probe::Tls {
                id,
                addr,
                sni: name.clone(),
                ca_pem,
                timeout_ms,
            }
        }
        CheckKind::Http {
            url, method, body, ..
        } => Probe::Http {
            id,
            url: url.clone(),
            method: method.clone(),
            body: body.clone(),
            ca_pem: live.ca_pem.clone(),
            max_redirects: MAX_REDIRECTS,
            timeout_ms,
        },
        CheckKind::Spread {
            name,
            port,
            connections,
            ..
        } => Probe::Spread {
            id,
            name: name.clone(),
            port: *port,
            connections: *connections,
            timeout_ms,
        },
        CheckKind::Port { node, expect, .. } => {
            if let Some(why) = not_running(live, node) {
                return Step::Done(why);
            }
            let binding = target::port_binding(live, &check.kind);
            match (expect, binding) {
                (PortExpect::Unpublished, None) => {
                    return Step::Done(Outcome::pass(format!(
                        "unpublished: {}",
                        check.kind.port_words()
                    )));
                }
                (PortExpect::Unpublished, Some(b)) => {
                    return Step::Done(Outcome::fail(format!("published on {b}")));
                }
                (PortExpect::Published, None) => {
                    return Step::Done(Outcome::fail(format!(
                        "not published: the engine maps nothing for {}",
                        check.kind.port_words()
                    )));
                }
                (PortExpect::Published, Some(b)) => {
                    let addr = target::reachable_from_host(&b);
                    match b.transport {
                        Transport::Tcp => Probe::Tcp {
                            id,
                            addr,
                            timeout_ms,
                        },
                        Transport::Udp => Probe::Udp {
                            id,
                            addr,
                            timeout_ms,
                        },
                    }
                }
            }
        }
    };
    Step::Probe { source, probe }
}

/// Redirects an http check follows before it calls it a loop.
pub const MAX_REDIRECTS: u32 = 10;

/// Probes grouped by where they run: one exec per node, one in-process batch
/// for the host.
pub fn batches<'a>(steps: impl IntoIterator<Item = &'a Step>) -> BTreeMap<Source, ProbeBatch> {
    let mut out: BTreeMap<Source, ProbeBatch> = BTreeMap::new();
    for step in steps {
        if let Step::Probe { source, probe } = step {
            out.entry(source.clone())
                .or_default()
                .probes
                .push(probe.clone());
        }
    }
    out
}

/// How long an exec of this batch may take: its slowest probe plus room for
/// the engine to start the exec.
pub fn batch_deadline(batch: &ProbeBatch) -> Duration {
    let slowest = batch
        .probes
        .iter()
        .map(Probe::timeout_ms)
        .max()
        .unwrap_or(0);
    Duration::from_millis(slowest) + Duration::from_secs(10)
}

#[cfg(test)]
mod tests;
