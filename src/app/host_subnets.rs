//! A lab subnet must not collide with the Docker host's own networks: a
//! bridge on the host's LAN, its router's subnet or a VPN's route would
//! shadow them for the host and every container. Before anything of the
//! lab's own is made, each host's helper (on the host's network) reports
//! the host's routes and addresses, and a subnet that overlaps one is
//! refused, naming it. Docker's own networks are left to the check against
//! the engine's networks (`build::refuse_overlapping_subnets`).

use std::collections::HashMap;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};

use super::Failure;
use super::build::ask;
use super::hosts::Engines;
use crate::agent::protocol::{HostRoute, Observation, Probe, ProbeBatch, ProbeKind};
use crate::engine::network;
use crate::lab::{Driver, Lab};
use crate::plan::{NetworkPlan, Plan};

/// The route or address of the host that `subnet` overlaps, if any. The
/// default route overlaps everything and routes to Docker's own networks
/// (`docker`) are Docker's business: both are left out.
pub fn collision<'a>(
    subnet: Ipv4Net,
    routes: &'a [HostRoute],
    docker: &[IpNet],
) -> Option<&'a HostRoute> {
    routes
        .iter()
        .filter(|r| r.destination.prefix_len() > 0)
        .filter(|r| !docker.iter().any(|d| d.trunc() == r.destination.trunc()))
        .find(|r| match r.destination {
            IpNet::V4(d) => d.contains(&subnet.network()) || subnet.contains(&d.network()),
            IpNet::V6(_) => false,
        })
}

/// `the route 192.0.2.0/24 dev eth0` / `the address 192.0.2.2/24 on eth0`
pub fn words(r: &HostRoute) -> String {
    if r.address {
        return format!("the address {} on {}", r.destination, r.interface);
    }
    let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
    format!("the route {}{via} dev {}", r.destination, r.interface)
}

/// Refuses a subnet of the networks named in `which` that overlaps a route
/// or an address of a Docker host it will exist on, asked by that host's
/// helper.
pub async fn refuse_host_overlaps(
    engines: &Engines,
    plan: &Plan,
    lab: &Lab,
    which: &[String],
    helpers: &HashMap<String, String>,
) -> Result<(), Failure> {
    let wanted: Vec<(&NetworkPlan, Ipv4Net)> = plan
        .networks
        .iter()
        .filter(|n| which.contains(&n.network))
        .filter_map(|n| Some((n, n.subnet?)))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let mut hosts: Vec<&str> = Vec::new();
    for (n, _) in &wanted {
        let on: Vec<&str> = match n.driver {
            Driver::Overlay { .. } => std::iter::once(&n.host)
                .chain(&n.hosts)
                .map(String::as_str)
                .collect(),
            Driver::Bridge | Driver::Macvlan | Driver::Ipvlan { .. } => vec![n.host.as_str()],
        };
        for h in on {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    let seen = futures::future::try_join_all(hosts.iter().filter_map(|&host| {
        let helper = helpers.get(host)?;
        Some(async move {
            let engine = engines.of(host);
            let batch = ProbeBatch {
                probes: vec![Probe {
                    id: 0,
                    timeout_ms: 2000,
                    capture: false,
                    host_to_container: false,
                    kind: ProbeKind::Routes,
                }],
            };
            let routes = match ask(engine, helper, &batch, Duration::from_secs(20))
                .await?
                .remove(&0)
            {
                Some(Observation::Routes { routes }) => routes,
                _ => Vec::new(),
            };
            let docker: Vec<IpNet> = network::all_subnets(engine)
                .await?
                .into_iter()
                .map(|(_, s)| s)
                .collect();
            Ok::<_, Failure>((host, routes, docker))
        })
    }))
    .await?;
    for (host, routes, docker) in &seen {
        for (n, subnet) in &wanted {
            let here = *host == n.host || n.hosts.iter().any(|h| h == host);
            if !here {
                continue;
            }
            if let Some(r) = collision(*subnet, routes, docker) {
                let on = if lab.is_multi_host() {
                    format!(" of host {host}")
                } else {
                    String::new()
                };
                return Err(Failure::Usage(format!(
                    "subnet {subnet} of network `{}` overlaps {} on the Docker host{on}; nothing was created\n  (hint: a lab network there would hide that network from the host and its containers; choose another `subnet:`)",
                    n.network,
                    words(r)
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dest: &str, gateway: Option<&str>, iface: &str, address: bool) -> HostRoute {
        HostRoute {
            destination: dest.parse().expect("net"),
            gateway: gateway.map(|g| g.parse().expect("ip")),
            interface: iface.into(),
            address,
        }
    }

    #[test]
    fn a_subnet_on_the_hosts_lan_or_inside_a_vpn_route_collides_the_default_route_does_not() {
        let routes = vec![
            route("0.0.0.0/0", Some("192.0.2.1"), "eth0", false),
            route("192.0.2.0/24", None, "eth0", false),
            route("10.8.0.0/16", Some("10.8.0.1"), "tun0", false),
            route("172.17.0.0/16", None, "docker0", false),
            route("198.51.100.7/32", None, "wg0", true),
        ];
        let docker: Vec<IpNet> = vec!["172.17.0.0/16".parse().expect("net")];
        let hit = |s: &str| collision(s.parse().expect("net"), &routes, &docker).map(words);
        assert_eq!(
            hit("192.0.2.0/25").as_deref(),
            Some("the route 192.0.2.0/24 dev eth0")
        );
        assert_eq!(
            hit("10.0.0.0/8").as_deref(),
            Some("the route 10.8.0.0/16 via 10.8.0.1 dev tun0")
        );
        assert_eq!(
            hit("198.51.100.0/24").as_deref(),
            Some("the address 198.51.100.7/32 on wg0")
        );
        assert_eq!(hit("10.213.7.0/24"), None);
        assert_eq!(
            hit("172.17.0.0/24"),
            None,
            "Docker's own: checked elsewhere"
        );
    }
}
