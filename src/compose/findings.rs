//! What the compose file says that its authors probably did not mean:
//! a service only on back-end networks (internal, or named as a back end:
//! `back`, `db`, `data`, `private` …) published on every host address (which undoes the
//! front/back split they drew), and an alias that two services carry on
//! one network (Docker answers it with both, in no promised order).

use super::Messages;
use super::read::Project;

/// Words that mark a network as a back end in the names people give them.
const BACK_END_WORDS: &[&str] = &["back", "db", "data", "internal", "private", "redis"];

/// Whether a network is a back end: internal, or named as one.
fn back_end(project: &Project, network: &str) -> bool {
    project.networks.get(network).is_some_and(|n| n.internal)
        || BACK_END_WORDS
            .iter()
            .any(|w| network.to_ascii_lowercase().contains(w))
}

pub fn find(project: &Project, msgs: &mut Messages) {
    for (name, s) in &project.services {
        let backs: Vec<&str> = s
            .networks
            .iter()
            .map(|a| a.network.as_str())
            .filter(|n| back_end(project, n))
            .collect();
        // A service also on a front network is published on purpose.
        if backs.is_empty() || backs.len() < s.networks.len() {
            continue;
        }
        for (mapping, at) in &s.ports {
            if mapping.host_ip.is_none_or(|ip| ip.is_unspecified()) {
                msgs.finding(
                    *at,
                    format!(
                        "`{name}` is on the back-end network {} and publishes {}/{} on every host address: anyone who reaches the host reaches it, past the network split",
                        backs
                            .iter()
                            .map(|b| format!("`{b}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        mapping.container_ports,
                        mapping.transport.as_str()
                    ),
                );
            }
        }
    }
    for (net, _) in &project.networks {
        let mut carriers: Vec<(&str, &str, super::value::Pos)> = Vec::new();
        for (name, s) in &project.services {
            for a in s.networks.iter().filter(|a| &a.network == net) {
                for alias in &a.aliases {
                    carriers.push((alias, name, a.at));
                }
            }
        }
        for (i, (alias, who, at)) in carriers.iter().enumerate() {
            let others: Vec<&str> = carriers[..i]
                .iter()
                .filter(|(a, w, _)| a == alias && w != who)
                .map(|(_, w, _)| *w)
                .chain(
                    project
                        .services
                        .keys()
                        .filter(|s| s.as_str() == *alias && s.as_str() != *who)
                        .map(String::as_str),
                )
                .collect();
            if let Some(first) = others.first() {
                msgs.finding(
                    *at,
                    format!(
                        "alias `{alias}` of `{who}` is also carried by `{first}` on network `{net}`: Docker's DNS answers it with both"
                    ),
                );
            }
        }
    }
}
