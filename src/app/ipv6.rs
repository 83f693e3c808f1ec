//! What `up` does for a lab's IPv6 networks, beside making them:
//!
//! - refuse an IPv6-only network (`ipv4: false`) on an engine before
//!   Docker 28 (API 1.48), which would silently make it dual-stack —
//!   before anything is created;
//! - give every IPv6 network a subnet: the file's, unless it overlaps a
//!   network of the engine or a route or address of the Docker host (then
//!   refused, naming it), else a free ULA /64 netlab picks;
//! - wait until the gateway addresses of new bridges have passed duplicate
//!   address detection: until then the host routes nothing through them,
//!   and the first checks would see silence that is no isolation.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipnet::{IpNet, Ipv6Net};

use super::Failure;
use super::build::ask;
use super::hosts::Engines;
use crate::agent::protocol::{Observation, Prefix6, Probe, ProbeBatch, ProbeKind};
use crate::engine::{Engine, network};
use crate::lab::Lab;
use crate::lab::requires::major_minor;
use crate::plan::{Plan, ula};

/// The first Docker release that makes IPv6-only networks (`EnableIPv4`).
const IPV6_ONLY_SINCE: (u32, u32) = (28, 0);
const IPV6_ONLY_API: (u32, u32) = (1, 48);

/// The longest wait for a new bridge's IPv6 gateway to become usable.
const DAD_DEADLINE: Duration = Duration::from_secs(10);

/// An IPv6-only network on an engine that cannot make one: exit 2, before
/// anything is created.
pub fn refuse_old_engines(engines: &Engines, lab: &Lab) -> Result<(), Failure> {
    for net in lab.networks.values().filter(|n| !n.ipv4) {
        let hosts: Vec<&str> = match lab.nodes.values().find(|n| n.is_on(&net.name)) {
            Some(node) => vec![node.host.as_str()],
            None => lab.hosts.iter().take(1).map(String::as_str).collect(),
        };
        for host in hosts {
            let engine = engines.of(host);
            let new_enough = major_minor(&engine.version).is_some_and(|v| v >= IPV6_ONLY_SINCE)
                && major_minor(&engine.api_version).is_some_and(|v| v >= IPV6_ONLY_API);
            if !new_enough {
                let on = if lab.is_multi_host() {
                    format!(" of host {host}")
                } else {
                    String::new()
                };
                return Err(Failure::Usage(format!(
                    "lab `{}` needs Docker 28 or newer: network `{}` is IPv6-only (`ipv4: false`, Engine API 1.48), and the engine{on} is Docker {} (API {}), which would make it dual-stack; nothing was created\n  (hint: run it on Docker 28+, or remove `ipv4: false`)",
                    lab.name, net.name, engine.version, engine.api_version
                )));
            }
        }
    }
    Ok(())
}

/// Asks a host helper for its namespace's IPv6 routes and addresses.
async fn prefixes_of(engine: &Engine, helper: &str) -> Result<Vec<Prefix6>, Failure> {
    let batch = ProbeBatch {
        probes: vec![Probe {
            id: 0,
            timeout_ms: 2000,
            capture: false,
            host_to_container: false,
            kind: ProbeKind::Routes6,
        }],
    };
    match ask(engine, helper, &batch, Duration::from_secs(20))
        .await?
        .remove(&0)
    {
        Some(Observation::Routes6 { prefixes }) => Ok(prefixes),
        _ => Ok(Vec::new()),
    }
}

/// What a lab's IPv6 subnet must not overlap on its host: each route and
/// address of the host, leaving out the default route, link-local,
/// multicast and loopback, and the routes of the engine's own networks
/// (those are checked as networks).
pub fn host_collision<'a>(
    subnet: Ipv6Net,
    prefixes: &'a [Prefix6],
    engine_networks: &[IpNet],
) -> Option<&'a Prefix6> {
    prefixes.iter().find(|p| {
        let net = p.prefix.trunc();
        let ordinary = p.prefix.prefix_len() > 0
            && !p.prefix.addr().is_loopback()
            && !p.prefix.addr().is_unicast_link_local()
            && !p.prefix.addr().is_multicast();
        let dockers = engine_networks
            .iter()
            .any(|e| matches!(e, IpNet::V6(e) if e.trunc() == net));
        ordinary
            && (p.address || !dockers)
            && (net.contains(&subnet.network()) || subnet.contains(&net.network()))
    })
}

fn words(p: &Prefix6) -> String {
    if p.address {
        format!("the address {} on {}", p.prefix, p.interface)
    } else {
        format!("the route {} dev {}", p.prefix, p.interface)
    }
}

/// The plan with a subnet6 for every IPv6 network in `which`: the file's,
/// checked against the engine's networks and the host's routes and
/// addresses, or one picked free of them.
pub async fn subnets(
    engines: &Engines,
    plan: &Plan,
    lab: &Lab,
    which: &[String],
    helpers: &HashMap<String, String>,
) -> Result<Plan, Failure> {
    let mut plan = plan.clone();
    let wanted: Vec<usize> = (0..plan.networks.len())
        .filter(|&i| plan.networks[i].ipv6 && which.contains(&plan.networks[i].network))
        .collect();
    if wanted.is_empty() {
        return Ok(plan);
    }
    // What each host (engine) already has.
    let mut seen: HashMap<String, (Vec<Prefix6>, Vec<IpNet>)> = HashMap::new();
    for &i in &wanted {
        let host = plan.networks[i].host.clone();
        if seen.contains_key(&host) {
            continue;
        }
        let engine = engines.of(&host);
        let prefixes = match helpers.get(&host) {
            Some(helper) => prefixes_of(engine, helper).await?,
            None => Vec::new(),
        };
        let networks: Vec<IpNet> = network::all_subnets(engine)
            .await?
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        seen.insert(host, (prefixes, networks));
    }
    // The lab's own, declared or picked so far, in the order of the file.
    let mut lab_taken: Vec<IpNet> = plan
        .networks
        .iter()
        .filter_map(|n| n.subnet6.map(IpNet::V6))
        .collect();
    let on = |host: &str| {
        if lab.is_multi_host() {
            format!(" of host {host}")
        } else {
            String::new()
        }
    };
    for i in wanted {
        let n = &plan.networks[i];
        let (prefixes, networks) = &seen[&n.host];
        match n.subnet6 {
            Some(subnet) => {
                if let Some(other) = networks.iter().find(|o| match o {
                    IpNet::V6(o) => o.contains(&subnet.network()) || subnet.contains(&o.network()),
                    IpNet::V4(_) => false,
                }) {
                    return Err(Failure::Usage(format!(
                        "subnet6 {subnet} of network `{}` overlaps {other}, a network of the engine{}; nothing was created\n  (hint: choose another `subnet6:`, or leave it out and netlab picks a free one)",
                        n.network,
                        on(&n.host)
                    )));
                }
                if let Some(p) = host_collision(subnet, prefixes, networks) {
                    return Err(Failure::Usage(format!(
                        "subnet6 {subnet} of network `{}` overlaps {} on the Docker host{}; nothing was created\n  (hint: a lab network there would hide that network from the host and its containers; choose another `subnet6:`, or leave it out and netlab picks a free one)",
                        n.network,
                        words(p),
                        on(&n.host)
                    )));
                }
            }
            None => {
                let mut taken = lab_taken.clone();
                taken.extend(networks.iter().copied());
                taken.extend(prefixes.iter().filter_map(|p| {
                    let net = p.prefix.trunc();
                    (p.prefix.prefix_len() > 0).then_some(IpNet::V6(net))
                }));
                let seed = format!("{}/{}", lab.name, n.network);
                let picked = ula::pick(&seed, &taken).ok_or_else(|| {
                    Failure::Usage(format!(
                        "no free IPv6 /64 could be found for network `{}`{}; nothing was created\n  (hint: give it a `subnet6:`)",
                        n.network,
                        on(&n.host)
                    ))
                })?;
                lab_taken.push(IpNet::V6(picked));
                plan.networks[i].subnet6 = Some(picked);
            }
        }
    }
    Ok(plan)
}

/// Waits (up to `DAD_DEADLINE`, and never past `until`) until no address in
/// an IPv6 subnet of the lab is tentative on the hosts of its IPv6
/// networks. A host that cannot be asked is not waited for; one still
/// tentative at the deadline is said, and `up` goes on.
pub async fn wait_usable(
    engines: &Engines,
    plan: &Plan,
    which: &[String],
    helpers: &HashMap<String, String>,
    until: Instant,
) -> Result<(), Failure> {
    let mut per_host: HashMap<&str, Vec<Ipv6Net>> = HashMap::new();
    for n in plan
        .networks
        .iter()
        .filter(|n| n.ipv6 && which.contains(&n.network))
    {
        if let Some(s) = n.subnet6 {
            per_host.entry(n.host.as_str()).or_default().push(s);
        }
    }
    let deadline = until.min(Instant::now() + DAD_DEADLINE);
    for (host, subnets) in per_host {
        let Some(helper) = helpers.get(host) else {
            continue;
        };
        let engine = engines.of(host);
        loop {
            let prefixes = prefixes_of(engine, helper).await?;
            let tentative: Vec<&Prefix6> = prefixes
                .iter()
                .filter(|p| p.address && p.tentative)
                .filter(|p| subnets.iter().any(|s| s.contains(&p.prefix.addr())))
                .collect();
            if tentative.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let list: Vec<String> = tentative.iter().map(|p| words(p)).collect();
                crate::text::say!(
                    "netlab: {} still in duplicate address detection; IPv6 through it may fail for a moment",
                    list.join(", ")
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(p: &str, interface: &str, address: bool) -> Prefix6 {
        Prefix6 {
            prefix: p.parse().expect("prefix"),
            interface: interface.into(),
            address,
            tentative: false,
        }
    }

    #[test]
    fn a_subnet6_on_the_hosts_lan_collides_the_default_route_and_dockers_own_do_not() {
        let host = vec![
            prefix("::/0", "eth0", false),
            prefix("fd00::/64", "eth0", false),
            prefix("fd00::2/64", "eth0", true),
            prefix("fe80::/64", "eth0", false),
            prefix("ff00::/8", "eth0", false),
            prefix("::1/128", "lo", true),
            prefix("fd0e:1ab:5::/64", "br-1a2b", false),
        ];
        let docker: Vec<IpNet> = vec!["fd0e:1ab:5::/64".parse().expect("net")];
        let hit = |s: &str| host_collision(s.parse().expect("net"), &host, &docker).map(words);
        assert_eq!(
            hit("fd00::/64").as_deref(),
            Some("the route fd00::/64 dev eth0")
        );
        assert_eq!(
            hit("fd00::/48").as_deref(),
            Some("the route fd00::/64 dev eth0")
        );
        assert_eq!(hit("fd0e:1ab:77::/64"), None);
        assert_eq!(
            hit("fd0e:1ab:5::/64"),
            None,
            "the engine's own: checked as a network"
        );
    }
}
