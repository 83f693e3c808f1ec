//! A port published on one address (`"10.1.2.3:8080:80"`) must name an
//! address its Docker host has. Docker would refuse it only when the node's
//! container starts, after the lab's networks and other nodes are made;
//! netlab asks each host's helper (on the host's network) for the host's
//! addresses before anything of the lab is made, and refuses naming the
//! entry, the address and the addresses the host has.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use super::Failure;
use super::build::ask;
use super::hosts::Engines;
use crate::agent::protocol::{Observation, ProbeBatch};
use crate::lab::{Lab, PortMapping};

/// One `ports:` entry that names an address its host does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign<'a> {
    pub node: &'a str,
    pub mapping: &'a PortMapping,
    pub address: IpAddr,
}

/// The entries of the nodes in `which` on `host` whose host address is not
/// among `addresses`. The unspecified address (every address) and loopback
/// (every host has it; Linux answers all of 127.0.0.0/8 on `lo`) are
/// always the host's.
pub fn foreign<'a>(
    lab: &'a Lab,
    which: &[String],
    host: &str,
    addresses: &[IpAddr],
) -> Vec<Foreign<'a>> {
    lab.nodes
        .values()
        .filter(|n| n.host == host && which.contains(&n.name))
        .flat_map(|n| n.ports.iter().map(move |p| (n.name.as_str(), p)))
        .filter_map(|(node, mapping)| {
            let address = mapping.host_ip?;
            let own =
                address.is_unspecified() || address.is_loopback() || addresses.contains(&address);
            (!own).then_some(Foreign {
                node,
                mapping,
                address,
            })
        })
        .collect()
}

/// A port mapping as the file writes it (`10.1.2.3:8080:80/udp`).
pub fn entry_words(m: &PortMapping) -> String {
    let ip = match m.host_ip {
        Some(IpAddr::V6(v6)) => format!("[{v6}]:"),
        Some(v4) => format!("{v4}:"),
        None => String::new(),
    };
    let host = m.host_ports.map(|h| format!("{h}:")).unwrap_or_default();
    let udp = if m.transport == crate::lab::Transport::Udp {
        "/udp"
    } else {
        ""
    };
    format!("{ip}{host}{}{udp}", m.container_ports)
}

/// The refusal of `found` on `host`, whose addresses are `addresses`.
pub fn refusal(found: &[Foreign], host: &str, multi: bool, addresses: &[IpAddr]) -> String {
    let on = if multi {
        format!(" {host}")
    } else {
        String::new()
    };
    let mut own: Vec<String> = Vec::new();
    for a in addresses.iter().map(IpAddr::to_string) {
        if !own.contains(&a) {
            own.push(a);
        }
    }
    let what = match found.len() {
        1 => "1 port mapping publishes".to_owned(),
        n => format!("{n} port mappings publish"),
    };
    let lines: Vec<String> = found
        .iter()
        .map(|f| {
            format!(
                "  node `{}`: port mapping `{}` publishes on {}",
                f.node,
                entry_words(f.mapping),
                f.address
            )
        })
        .collect();
    format!(
        "{what} on an address the Docker host{on} does not have; nothing was created:\n{}\n  the host's addresses: {}\n  (hint: publish on 0.0.0.0 (every address), on loopback, or on one of the host's addresses)",
        lines.join("\n"),
        own.join(", ")
    )
}

/// Refuses a `ports:` entry of the nodes in `which` whose host address is
/// not one of its host's, asked of the host's helper in `helpers` (hosts
/// without one there are asked by a later call, once it is made).
pub async fn refuse_foreign_bindings(
    engines: &Engines,
    lab: &Lab,
    which: &[String],
    helpers: &HashMap<String, String>,
) -> Result<(), Failure> {
    let mut hosts: Vec<&str> = Vec::new();
    for n in lab.nodes.values().filter(|n| which.contains(&n.name)) {
        let specific = n
            .ports
            .iter()
            .filter_map(|p| p.host_ip)
            .any(|ip| !ip.is_unspecified() && !ip.is_loopback());
        if specific && !hosts.contains(&n.host.as_str()) {
            hosts.push(&n.host);
        }
    }
    for host in hosts {
        let Some(helper) = helpers.get(host) else {
            continue;
        };
        let batch = ProbeBatch::interfaces();
        let addresses: Vec<IpAddr> =
            match ask(engines.of(host), helper, &batch, Duration::from_secs(20))
                .await?
                .remove(&0)
            {
                Some(Observation::Interfaces { addresses }) => {
                    addresses.into_iter().map(|a| a.address).collect()
                }
                // A helper that cannot list them leaves the binding to
                // the check that binds each port (`build::refuse_taken_host_ports`).
                _ => continue,
            };
        let found = foreign(lab, which, host, &addresses);
        if !found.is_empty() {
            return Err(Failure::Usage(refusal(
                &found,
                host,
                lab.is_multi_host(),
                &addresses,
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(ports: &str) -> Lab {
        let yaml = format!(
            "name: t\nnetworks:\n  front: {{}}\nnodes:\n  web:\n    networks: [front]\n    ports: [{ports}]\n  db:\n    networks: [front]\n"
        );
        crate::lab::load_source("t.yaml", yaml.as_bytes(), Some("t"))
            .expect("valid")
            .lab
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().expect("ip")).collect()
    }

    #[test]
    fn a_host_address_the_host_lacks_is_foreign_every_address_and_loopback_are_not() {
        let lab = lab(
            "\"10.1.2.3:8080:80\", \"192.0.2.2:8081:80\", \"0.0.0.0:8082:80\", \"127.0.0.2:8083:80\", \"[::]:8084:80\", \"[fd00::9]:8085:80/udp\", \"8086:80\"",
        );
        let which = vec!["web".to_owned(), "db".to_owned()];
        let host = ips(&["127.0.0.1", "192.0.2.2", "fd00::2"]);
        let found = foreign(&lab, &which, "local", &host);
        let words: Vec<(String, String)> = found
            .iter()
            .map(|f| (f.address.to_string(), entry_words(f.mapping)))
            .collect();
        assert_eq!(
            words,
            [
                ("10.1.2.3".to_owned(), "10.1.2.3:8080:80".to_owned()),
                ("fd00::9".to_owned(), "[fd00::9]:8085:80/udp".to_owned()),
            ]
        );
        // Nodes not being made now are not asked about.
        assert!(foreign(&lab, &["db".to_owned()], "local", &host).is_empty());
        let text = refusal(&found, "local", false, &host);
        assert_eq!(
            text,
            "2 port mappings publish on an address the Docker host does not have; nothing was created:\n  node `web`: port mapping `10.1.2.3:8080:80` publishes on 10.1.2.3\n  node `web`: port mapping `[fd00::9]:8085:80/udp` publishes on fd00::9\n  the host's addresses: 127.0.0.1, 192.0.2.2, fd00::2\n  (hint: publish on 0.0.0.0 (every address), on loopback, or on one of the host's addresses)"
        );
        assert!(
            refusal(&found[..1], "local", false, &host)
                .starts_with("1 port mapping publishes on an address")
        );
    }
}
