//! Before any packet of a verify: every check's target must be the lab's
//! own, or the verify is refused (exit 2) naming each target and why —
//! unless `--allow-external`. What the running lab alone decides is in
//! `check::reach`; this asks the host helpers for their hosts' own
//! addresses when a target might be one of them.

use std::time::Duration;

use super::Failure;
use super::hosts::Engines;
use crate::agent::protocol::{Observation, ProbeBatch, ReplyOutcome};
use crate::check::reach::{self, HostAddresses};
use crate::engine::attach;
use crate::lab::Source;
use crate::live::LiveLab;

/// How long a host helper may take to list its addresses.
const ASK_DEADLINE: Duration = Duration::from_secs(10);

pub async fn refuse_outside(engines: &Engines, live: &LiveLab) -> Result<(), Failure> {
    if live.allow_external {
        return Ok(());
    }
    let mut known = HostAddresses::new();
    for host in reach::hosts_to_ask(live) {
        if let Some(addresses) = host_addresses(engines, live, &host).await {
            known.insert(host, addresses);
        }
    }
    let refused = reach::refusals(live, &known);
    if refused.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = refused
        .iter()
        .map(|r| format!("  {}: `{}`: {}", r.title, r.target, r.why))
        .collect();
    Err(Failure::Usage(format!(
        "{} aim outside lab `{}`; nothing was probed:\n{}\n  (hint: a lab reaches its containers, their subnets, loopback and its published ports; `--allow-external` lifts this)",
        crate::report::count(refused.len(), "check"),
        live.lab.name,
        lines.join("\n")
    )))
}

/// The addresses of a logical host's own network stack, as its host helper
/// reads them; `None` when it cannot be asked.
async fn host_addresses(
    engines: &Engines,
    live: &LiveLab,
    host: &str,
) -> Option<Vec<std::net::IpAddr>> {
    let (_, helper) = live.probe_site(&Source::Host(Some(host.to_owned()))).ok()?;
    let batch = ProbeBatch::interfaces();
    let reply = tokio::time::timeout(ASK_DEADLINE, attach::ask(engines.of(host), &helper, &batch))
        .await
        .ok()?
        .ok()?;
    let ReplyOutcome::Report(report) = reply.outcome else {
        return None;
    };
    report
        .results
        .into_iter()
        .find_map(|r| match r.observation {
            Observation::Interfaces { addresses } => {
                Some(addresses.into_iter().map(|a| a.address).collect())
            }
            _ => None,
        })
}
