//! A matrix check, cell by cell: each cell is probed like a `tcp`/`udp`
//! check from the row's source to the column's node (its address chosen by
//! the same rule as `to: node:port`), and its observation reduced to one
//! symbol — `.` answered by that node, `x` blocked, `r` refused, `?`
//! anything else — that must equal the expected one. Pure.

use std::net::SocketAddr;

use super::{Outcome, Step, family, not_running, outcome, target};
use crate::agent::protocol::{Observation, Probe, ProbeKind, TcpObservation, UdpObservation};
use crate::lab::{
    Check, CheckKind, IpFamily, Matrix, MatrixCell, Source, Target, TargetHost, TcpExpect,
    Transport, UdpExpect,
};
use crate::live::LiveLab;

/// One step per checked cell, ids taken from `next_id`: a probe, or (when
/// the check names a family, or the cell is reached over IPv6) one per
/// family.
pub fn cell_steps(live: &LiveLab, check: &Check, m: &Matrix, next_id: &mut usize) -> Vec<Step> {
    let timeout_ms = u64::try_from(check.timeout.as_millis()).unwrap_or(u64::MAX);
    m.cells
        .iter()
        .map(|cell| {
            let families = family::of_cell(live, check, cell);
            let mut one = |f: IpFamily| {
                let id = *next_id;
                *next_id += 1;
                if let Source::Node(n) = &cell.from
                    && let Some(why) = not_running(live, n)
                {
                    return Step::Done(why);
                }
                match address(live, m, cell, f) {
                    Ok(addr) => Step::Probe {
                        source: cell.from.clone(),
                        probe: Probe {
                            id,
                            timeout_ms,
                            capture: false,
                            host_to_container: super::host_to_container(
                                live,
                                &cell.from,
                                addr.ip(),
                            ),
                            kind: match m.transport {
                                Transport::Tcp => ProbeKind::Tcp {
                                    addr,
                                    speak: super::target_speak(
                                        live,
                                        &cell.from,
                                        &target_of(m, cell),
                                    ),
                                    by_name: None,
                                },
                                Transport::Udp => ProbeKind::Udp {
                                    addr,
                                    by_name: None,
                                },
                            },
                        },
                    },
                    Err(why) => Step::Done(Outcome::fail(why)),
                }
            };
            if family::said(check, &families) {
                Step::Families(families.iter().map(|&f| (f, one(f))).collect())
            } else {
                one(IpFamily::V4)
            }
        })
        .collect()
}

fn target_of(m: &Matrix, cell: &MatrixCell) -> Target {
    Target {
        host: TargetHost::Node {
            node: cell.to.clone(),
            network: None,
        },
        port: m.port,
    }
}

fn address(
    live: &LiveLab,
    m: &Matrix,
    cell: &MatrixCell,
    family: IpFamily,
) -> Result<SocketAddr, String> {
    target::resolve(live, &cell.from, &target_of(m, cell), family)
}

/// What one cell showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellResult {
    /// `.`, `x`, `r`, or `?` for anything else (another node answered, an
    /// error, no result).
    pub observed: char,
    pub passed: bool,
    /// The observation in words.
    pub reason: String,
}

/// A cell that was not probed (its source is down, its target has no
/// address) shows `?`.
pub fn undecided(outcome: &Outcome) -> CellResult {
    CellResult {
        observed: '?',
        passed: false,
        reason: outcome.observed.clone(),
    }
}

pub fn classify_cell(
    live: &LiveLab,
    m: &Matrix,
    cell: &MatrixCell,
    obs: &Observation,
) -> CellResult {
    // Judged as an `open` tcp/udp check: "open" counts only with the right
    // node's greeting.
    let (from, to) = (cell.from.clone(), target_of(m, cell));
    let as_open = match m.transport {
        Transport::Tcp => CheckKind::Tcp {
            from,
            to,
            expect: TcpExpect::Open,
        },
        Transport::Udp => CheckKind::Udp {
            from,
            to,
            expect: UdpExpect::Open,
        },
    };
    let judged = outcome::classify(&as_open, obs, live);
    let observed = match (m.transport, obs) {
        (Transport::Tcp, Observation::Tcp(TcpObservation::Open { .. }))
        | (Transport::Udp, Observation::Udp(UdpObservation::Answered { .. }))
            if judged.passed =>
        {
            '.'
        }
        (Transport::Tcp, Observation::Tcp(TcpObservation::Refused))
        | (Transport::Udp, Observation::Udp(UdpObservation::Refused)) => 'r',
        (
            Transport::Tcp,
            Observation::Tcp(TcpObservation::Timeout | TcpObservation::Unreachable { .. }),
        )
        | (
            Transport::Udp,
            Observation::Udp(UdpObservation::Timeout | UdpObservation::Unreachable { .. }),
        ) => 'x',
        _ => '?',
    };
    let reason = match (m.transport, obs) {
        (Transport::Tcp, Observation::Tcp(_)) | (Transport::Udp, Observation::Udp(_)) => {
            judged.observed
        }
        (_, other) => format!("an answer of another kind: {other:?}"),
    };
    CellResult {
        passed: observed == cell.expect.symbol(),
        observed,
        reason,
    }
}

/// `16/18 cells as expected`, from each cell's verdict.
pub fn summary(passed: impl Iterator<Item = bool>) -> Outcome {
    let (mut good, mut all) = (0, 0);
    for p in passed {
        all += 1;
        good += usize::from(p);
    }
    let words = format!("{good}/{all} cells as expected");
    if good == all {
        Outcome::pass(words)
    } else {
        Outcome::fail(words)
    }
}
