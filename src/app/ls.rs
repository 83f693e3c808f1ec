//! `netlab ls`: the labs that are up, from the default engine's labels and
//! each lab's claim: nodes running, networks, hosts and state. A lab on
//! several engines is counted on all of them.

use super::CommandResult;
use super::down::recorded_engines;
use crate::engine::{Engine, EngineError, discover};
use crate::exit;
use crate::plan::LABEL_HOSTS;
use crate::report;

pub async fn ls(home: &Engine) -> CommandResult {
    let labs = discover::labs(home, None).await?;
    if labs.is_empty() {
        println!("no lab is up");
        return Ok(exit::SUCCESS);
    }
    let mut rows = vec![
        ["LAB", "NODES", "NETWORKS", "HOSTS", "STATE"]
            .map(String::from)
            .to_vec(),
    ];
    let counted = futures::future::try_join_all(labs.iter().map(|(name, objects)| async move {
        let mut all = objects.clone();
        let hosts = objects
            .claim()
            .and_then(|c| c.label(LABEL_HOSTS))
            .unwrap_or_default()
            .to_owned();
        // Other engines of the lab hold the rest of it.
        if objects.claim().is_some() {
            let recorded = recorded_engines(home, name, objects).await?;
            for (host, url, e) in &recorded.unreachable {
                crate::text::say!(
                    "netlab: host {host} ({url}) of lab `{name}` cannot be reached ({e:#}); its objects there are not counted"
                );
            }
            for e in recorded.engines.distinct() {
                if e.endpoint.url == home.endpoint.url {
                    continue;
                }
                if let Some(there) = discover::labs(e, Some(name)).await?.remove(name.as_str()) {
                    all.extend(there);
                }
            }
        }
        let lock = objects
            .lock()
            .map(|l| super::lock::state_in_ls(name, &l.labels));
        Ok::<_, EngineError>((name, all, hosts, lock))
    }))
    .await?;
    let mut hints = Vec::new();
    for (name, objects, hosts, locked) in counted {
        let (total, running) = objects.node_counts();
        let state = if let Some((state, hint)) = locked {
            hints.extend(hint);
            state
        } else if objects.claim().is_none() {
            "partial: no record (run `netlab down`)".to_owned()
        } else if total == 0 {
            "partial: no nodes (run `netlab down`)".to_owned()
        } else if running == total {
            "running".to_owned()
        } else {
            format!("degraded: {} of {total} not running", total - running)
        };
        let hosts = hosts
            .split(',')
            .filter_map(|pair| pair.split_once('=').map(|(h, _)| h))
            .collect::<Vec<_>>()
            .join(",");
        rows.push(vec![
            name.clone(),
            format!("{running}/{total}"),
            objects.networks.len().to_string(),
            hosts,
            state,
        ]);
    }
    print!(
        "{}",
        report::fit::for_stream(&report::table(&rows), report::colour::Stream::Stdout)
    );
    for hint in hints {
        let hint = crate::text::safe::for_terminal(&hint);
        eprintln!(
            "{}",
            report::fit::for_stream(&hint, report::colour::Stream::Stderr)
        );
    }
    Ok(exit::SUCCESS)
}
