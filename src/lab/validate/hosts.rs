//! Validation of `hosts:` and of what several hosts demand: each node on a
//! declared host, and a bridge network on one host only (a bridge lives on
//! the Docker host that made it; only an overlay spans hosts).

use std::collections::HashSet;

use indexmap::IndexMap;

use super::{Validator, did_you_mean, is_valid_name};
use crate::lab::model::*;
use crate::lab::raw::*;

/// The lab's hosts as validation knows them.
pub(super) struct Hosts {
    pub names: Vec<String>,
    /// Whether the file declared them (`hosts:`), rather than the one
    /// implicit `local` host.
    pub declared: bool,
}

impl Hosts {
    pub fn is_multi(&self) -> bool {
        self.names.len() > 1
    }
}

impl Validator {
    pub(super) fn hosts(&mut self, raw: Option<&Span<Vec<Span<String>>>>) -> Hosts {
        let Some(list) = raw else {
            return Hosts {
                names: vec![LOCAL_HOST.to_owned()],
                declared: false,
            };
        };
        if list.value.is_empty() {
            self.error(
                &list.referenced,
                "`hosts` lists no host",
                Some(
                    "name the lab's Docker hosts, e.g. hosts: [east, west], or remove `hosts`"
                        .into(),
                ),
            );
        }
        let mut seen = HashSet::new();
        for host in &list.value {
            if host.value == "host" {
                self.error(
                    &host.referenced,
                    "host name `host` is reserved",
                    Some(
                        "`host` alone means the lab's only host in `from:`; pick another name"
                            .into(),
                    ),
                );
            } else if !is_valid_name(&host.value, 40, true) {
                self.error(
                    &host.referenced,
                    format!("invalid host name `{}`", host.value),
                    Some("a host name is 1-40 of a-z, 0-9 and `-`, not ending in `-`".into()),
                );
            }
            if !seen.insert(host.value.as_str()) {
                self.error(
                    &host.referenced,
                    format!("host `{}` is listed twice", host.value),
                    None,
                );
            }
        }
        let names: Vec<String> = list.value.iter().map(|h| h.value.clone()).collect();
        Hosts {
            names: if names.is_empty() {
                vec![LOCAL_HOST.to_owned()]
            } else {
                names
            },
            declared: true,
        }
    }

    /// A node's `host:`, or the lab's first host.
    pub(super) fn node_host(
        &mut self,
        node: &str,
        raw: Option<&Span<String>>,
        hosts: &Hosts,
    ) -> String {
        let first = hosts
            .names
            .first()
            .cloned()
            .unwrap_or_else(|| LOCAL_HOST.to_owned());
        let Some(host) = raw else {
            return first;
        };
        if !hosts.declared {
            self.error(
                &host.referenced,
                format!(
                    "node `{node}` names host `{}`, but the lab declares no `hosts:`",
                    host.value
                ),
                Some(format!(
                    "add `hosts: [{}]` at the top of the file",
                    host.value
                )),
            );
            return first;
        }
        if !hosts.names.contains(&host.value) {
            self.error(
                &host.referenced,
                format!("node `{node}` is on undefined host `{}`", host.value),
                did_you_mean(&host.value, hosts.names.iter().map(String::as_str))
                    .or_else(|| Some(format!("the lab's hosts are: {}", hosts.names.join(", ")))),
            );
            return first;
        }
        host.value.clone()
    }

    pub(super) fn bridges_stay_on_one_host(
        &mut self,
        raw: &IndexMap<Span<String>, RawNetwork>,
        networks: &IndexMap<String, Network>,
        nodes: &IndexMap<String, Node>,
    ) {
        for (key, _) in raw {
            let Some(network) = networks.get(&key.value) else {
                continue;
            };
            if network.driver != Driver::Bridge {
                continue;
            }
            let mut by_host: IndexMap<&str, Vec<&str>> = IndexMap::new();
            for node in nodes.values().filter(|n| n.is_on(&network.name)) {
                by_host
                    .entry(node.host.as_str())
                    .or_default()
                    .push(&node.name);
            }
            if by_host.len() > 1 {
                let spread: Vec<String> = by_host
                    .iter()
                    .map(|(host, nodes)| format!("{} on {host}", nodes.join(", ")))
                    .collect();
                self.error(
                    &key.referenced,
                    format!(
                        "bridge network `{}` has nodes on several hosts: {}",
                        network.name,
                        spread.join("; ")
                    ),
                    Some("a bridge lives on one Docker host; use `driver: overlay` for a network that spans hosts".into()),
                );
            }
        }
    }
}
