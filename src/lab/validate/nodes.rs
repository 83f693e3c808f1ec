//! Validation of `nodes:`: names, the networks a node joins (aliases,
//! static addresses) or its `network_mode`, published ports (each host port
//! taken once), agent listeners and images.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use indexmap::IndexMap;

use super::hosts::Hosts;
use super::networks::{first_host, last_host, usable_host};
use super::{Validator, did_you_mean, is_valid_node_name, space};
use crate::lab::diagnostic::{Diagnostic, Severity};
use crate::lab::model::*;
use crate::lab::notation::parse_port_mapping;
use crate::lab::raw::*;
use crate::vocab::ListenerProto;
use serde_saphyr::Location;

impl Validator {
    pub(super) fn nodes(
        &mut self,
        raw: &IndexMap<Span<String>, RawNode>,
        networks: &IndexMap<String, Network>,
        hosts: &Hosts,
    ) -> IndexMap<String, Node> {
        let mut out = IndexMap::new();
        if raw.is_empty() {
            self.diags.push(Diagnostic {
                severity: Severity::Error,
                message: "the lab has no nodes".into(),
                pos: None,
                hint: Some("add a `nodes:` map with at least one node".into()),
            });
        }
        let mut static_ips: HashMap<IpAddr, String> = HashMap::new();
        // Host ports are per Docker host: the same port on two hosts is fine.
        let mut host_bindings: HashMap<(String, Option<IpAddr>, u16, Transport), String> =
            HashMap::new();
        // Host ports the lab publishes so far, against `PORTS_PER_LAB`.
        let mut published: u32 = 0;
        for (key, node) in raw {
            let name = key.value.clone();
            if !is_valid_node_name(&name) {
                self.error(
                    &key.referenced,
                    format!("invalid node name `{name}`"),
                    Some(
                        "a node name is 1-63 of letters, digits, `-`, `_` and `.`, starting with a letter or digit, not ending in `-` or `.`"
                            .into(),
                    ),
                );
            } else if let Some(other) = raw
                .keys()
                .take_while(|k| k.value != name)
                .find(|k| k.value.eq_ignore_ascii_case(&name))
            {
                self.error(
                    &key.referenced,
                    format!(
                        "node name `{name}` differs from node `{}` only in case",
                        other.value
                    ),
                    Some("Docker's DNS does not tell upper from lower case: rename one".into()),
                );
            }
            let host = self.node_host(&name, node.host.as_ref(), hosts);
            let attachment = self.attachment(&name, key, node, networks, &mut static_ips);
            let ports: Vec<PortMapping> = node
                .ports
                .iter()
                .filter_map(|p| {
                    let mapping = parse_port_mapping(&p.value.0)
                        .map_err(|e| self.error(&p.referenced, format!("invalid port mapping `{}`: {e}", p.value), Some("compose short syntax: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/udp], e.g. \"127.0.0.1:8080:80\"".into())))
                        .ok()?;
                    self.port_limits(&p.referenced, &p.value.0, &mapping, &mut published)?;
                    if let Some(hp) = mapping.host_ports {
                        for port in hp.iter() {
                            let key_ = (host.clone(), mapping.host_ip, port, mapping.transport);
                            if let Some(other) = host_bindings.insert(key_, name.clone()) {
                                let on = if hosts.is_multi() { format!(" on host {host}") } else { String::new() };
                                self.error(&p.referenced, format!("host port {port}/{}{on} is already published by node `{other}`", mapping.transport.as_str()), None);
                            }
                        }
                    }
                    Some(mapping)
                })
                .collect();
            if let (Attachment::Networks(list), Some(first)) = (&attachment, node.ports.first())
                && !list.is_empty()
                && list
                    .iter()
                    .all(|a| networks.get(&a.network).is_some_and(|n| n.internal))
            {
                self.warning(
                    &first.referenced,
                    format!("node `{name}` is only on internal networks, so Docker will not forward its published ports"),
                    Some("join an ordinary network too, or remove `ports`".into()),
                );
            }
            if let (Attachment::Mode(mode @ (NetworkMode::Host | NetworkMode::None)), Some(first)) =
                (&attachment, node.ports.first())
            {
                self.warning(
                    &first.referenced,
                    format!(
                        "`ports` has no effect with `network_mode: {}`",
                        mode.as_str()
                    ),
                    Some("Docker discards published ports for this mode; remove `ports`".into()),
                );
            }
            let serve: Vec<Listener> = node
                .serve
                .iter()
                .filter_map(|s| {
                    s.value
                        .parse::<Listener>()
                        .map_err(|e| {
                            self.error(
                                &s.referenced,
                                format!("invalid listener: {e}"),
                                Some("e.g. serve: [tcp:7000, udp:7001, http:80]".into()),
                            )
                        })
                        .ok()
                })
                .collect();
            let mut seen = HashSet::new();
            for (l, s) in serve.iter().zip(&node.serve) {
                if !seen.insert((l.port, l.proto.is_udp())) {
                    self.error(
                        &s.referenced,
                        format!("port {} is served twice", l.port),
                        None,
                    );
                }
            }
            // `image: netlab/agent` (any tag) names the agent, which netlab
            // builds itself: the same as leaving `image:` out.
            let image = node.image.as_ref().filter(|i| !is_agent_image(&i.value));
            if let Some(image) = image {
                if image.value.trim().is_empty() {
                    self.error(&image.referenced, "empty image name", None);
                }
                if let Some(first) = node.serve.first() {
                    self.error(
                        &first.referenced,
                        "`serve` needs the netlab agent image",
                        Some("remove `image:` to use the agent, or remove `serve`".into()),
                    );
                }
            }
            let other_ca = match &node.ca {
                None => false,
                Some(ca) if ca.value == "lab" => false,
                Some(ca) if ca.value == "other" => {
                    if !serve.iter().any(|l| l.proto == ListenerProto::Https) {
                        self.error(
                            &ca.referenced,
                            "`ca` applies to a node that serves https",
                            Some("add an https listener, e.g. serve: [https:443]".into()),
                        );
                    }
                    true
                }
                Some(ca) => {
                    self.error(
                        &ca.referenced,
                        format!("unknown ca `{}`", ca.value),
                        Some("`lab` (the lab's CA, the default) or `other` (a CA the checks do not trust)".into()),
                    );
                    false
                }
            };
            let hostname = self.hostname(node, &attachment);
            let extra_hosts = self.extra_hosts(node, &attachment);
            out.insert(
                name.clone(),
                Node {
                    name,
                    host,
                    other_ca,
                    hostname,
                    extra_hosts,
                    links: Vec::new(),
                    image: image.map(|i| i.value.clone()),
                    attachment,
                    ports,
                    serve,
                    command: node.command.clone(),
                    env: node
                        .env
                        .iter()
                        .map(|(k, v)| (k.clone(), v.0.clone()))
                        .collect(),
                },
            );
        }
        self.sidecars(raw, &out);
        self.links(raw, &mut out);
        out
    }

    /// A sidecar (`network_mode: "container:NODE"`) shares the namespace of
    /// another node of the lab, on its host, that is not a sidecar itself;
    /// its ports are NODE's, so it publishes none (Docker refuses them).
    fn sidecars(&mut self, raw: &IndexMap<Span<String>, RawNode>, nodes: &IndexMap<String, Node>) {
        for (key, node) in raw {
            let Some(sidecar) = nodes.get(&key.value) else {
                continue;
            };
            let (Some(owner), Some(mode)) = (sidecar.shares(), &node.network_mode) else {
                continue;
            };
            let problem = match nodes.get(owner) {
                None => Some((
                    format!("`network_mode: {}` names no node of the lab", mode.value),
                    did_you_mean(owner, nodes.keys().map(String::as_str)).or_else(|| {
                        Some("container:NODE shares the network namespace of lab node NODE".into())
                    }),
                )),
                Some(o) if o.name == sidecar.name => Some((
                    format!("node `{owner}` cannot share its own namespace"),
                    None,
                )),
                Some(o) if o.shares().is_some() => Some((
                    format!("node `{owner}` is a sidecar itself"),
                    o.shares()
                        .map(|first| format!("share the namespace of `{first}` directly")),
                )),
                Some(o) if o.host != sidecar.host => Some((
                    format!(
                        "node `{owner}` runs on host {}, sidecar `{}` on host {}",
                        o.host, sidecar.name, sidecar.host
                    ),
                    Some("a namespace is shared on one host: put both on the same host".into()),
                )),
                Some(_) => None,
            };
            if let Some((message, hint)) = problem {
                self.error(&mode.referenced, message, hint);
            }
            if let Some(first) = node.ports.first() {
                self.error(
                    &first.referenced,
                    format!(
                        "sidecar `{}` publishes no ports of its own: it has `{owner}`'s",
                        sidecar.name
                    ),
                    Some(format!(
                        "publish the port on `{owner}`; it reaches the sidecar's listeners too"
                    )),
                );
            }
        }
    }

    /// A `ports:` entry publishes on an address that can be one host's and
    /// no more host ports than `space::PORTS_PER_ENTRY` (the lab no more
    /// than `space::PORTS_PER_LAB`); `None` when it does not.
    fn port_limits(
        &mut self,
        at: &Location,
        entry: &str,
        mapping: &PortMapping,
        published: &mut u32,
    ) -> Option<()> {
        let hint = "publish on 0.0.0.0 (every address of the Docker host), on loopback, or on one address the Docker host has";
        if let Some(why) = mapping.host_ip.and_then(space::not_one_host) {
            self.error(
                at,
                format!("port mapping `{entry}` publishes on an address that is no host's: {why}"),
                Some(hint.into()),
            );
            return None;
        }
        // Without a host port, Docker picks one for each container port.
        let ports = mapping.host_ports.unwrap_or(mapping.container_ports).len();
        let ports = u32::try_from(ports).unwrap_or(u32::MAX);
        let why = "Docker starts one docker-proxy process per published port";
        if ports > space::PORTS_PER_ENTRY {
            self.error(
                at,
                format!(
                    "port mapping `{entry}` publishes {ports} host ports; one entry may publish at most {}",
                    space::PORTS_PER_ENTRY
                ),
                Some(format!("{why}: publish the ports the lab uses, not a whole range")),
            );
            return None;
        }
        let before = *published;
        *published += ports;
        // Said once, at the entry that goes over.
        if *published > space::PORTS_PER_LAB && before <= space::PORTS_PER_LAB {
            self.error(
                at,
                format!(
                    "with port mapping `{entry}` the lab publishes {} host ports; a lab may publish at most {}",
                    *published,
                    space::PORTS_PER_LAB
                ),
                Some(format!("{why}: publish the ports the lab uses")),
            );
            return None;
        }
        Some(())
    }

    fn attachment(
        &mut self,
        node_name: &str,
        key: &Span<String>,
        node: &RawNode,
        networks: &IndexMap<String, Network>,
        static_ips: &mut HashMap<IpAddr, String>,
    ) -> Attachment {
        if let Some(mode) = &node.network_mode
            && let Some(owner) = mode.value.strip_prefix("container:")
        {
            if let Some(nets) = &node.networks
                && let Some((first, _)) = nets.0.first()
            {
                self.error(
                    &first.referenced,
                    format!("node `{node_name}` has both `network_mode` and `networks`"),
                    Some(format!(
                        "a sidecar is on the networks of `{owner}`, whose namespace it shares; remove `networks`"
                    )),
                );
            }
            return Attachment::Shared(owner.to_owned());
        }
        if let Some(mode) = &node.network_mode {
            let parsed = match mode.value.as_str() {
                "host" => Some(NetworkMode::Host),
                "none" => Some(NetworkMode::None),
                "bridge" | "default" => Some(NetworkMode::Bridge),
                other => {
                    self.error(
                        &mode.referenced,
                        format!("unknown network_mode `{other}`"),
                        did_you_mean(other, ["host", "none", "bridge"]).or_else(|| {
                            Some("expected host, none, bridge or container:NODE".into())
                        }),
                    );
                    None
                }
            };
            if let Some(nets) = &node.networks
                && let Some((first, _)) = nets.0.first()
            {
                self.error(
                    &first.referenced,
                    format!("node `{node_name}` has both `network_mode` and `networks`"),
                    Some(
                        "a node either joins lab networks or uses a network_mode; remove one"
                            .into(),
                    ),
                );
            }
            return Attachment::Mode(parsed.unwrap_or(NetworkMode::None));
        }
        let Some(nets) = node.networks.as_ref().filter(|n| !n.0.is_empty()) else {
            self.error(
                &key.referenced,
                format!("node `{node_name}` joins no network"),
                Some(
                    "add `networks: [NAME]`, or `network_mode: none` for a node without network"
                        .into(),
                ),
            );
            return Attachment::Networks(Vec::new());
        };
        let mut list = Vec::new();
        for (net_name, settings) in &nets.0 {
            if net_name.value == DEFAULT_BRIDGE {
                self.default_bridge(node_name, net_name, settings, &list);
                list.push(NetworkAttachment {
                    network: DEFAULT_BRIDGE.to_owned(),
                    aliases: Vec::new(),
                    ipv4: None,
                    ipv6: None,
                });
                continue;
            }
            let Some(network) = networks.get(&net_name.value) else {
                self.error(
                    &net_name.referenced,
                    format!(
                        "node `{node_name}` joins undefined network `{}`",
                        net_name.value
                    ),
                    did_you_mean(&net_name.value, networks.keys().map(String::as_str)).or_else(
                        || Some("define it under `networks:` at the top of the file".into()),
                    ),
                );
                self.unsettled.insert(node_name.to_owned());
                continue;
            };
            if list
                .iter()
                .any(|a: &NetworkAttachment| a.network == net_name.value)
            {
                self.error(
                    &net_name.referenced,
                    format!(
                        "node `{node_name}` joins network `{}` twice",
                        net_name.value
                    ),
                    None,
                );
                continue;
            }
            for alias in &settings.aliases {
                if !super::is_valid_alias(&alias.value) {
                    self.error(
                        &alias.referenced,
                        format!("invalid alias `{}`", alias.value),
                        Some("an alias is a name as Docker takes it: 1-63 of A-Z, a-z, 0-9, `_`, `.` and `-`, starting with a letter or digit".into()),
                    );
                }
            }
            let ipv4 = settings.ipv4.as_ref().and_then(|ip| {
                let Ok(addr) = Ipv4Addr::from_str(&ip.value) else {
                    self.error(&ip.referenced, format!("`{}` is not an IPv4 address", ip.value), None);
                    return None;
                };
                // The subnet that holds it, of several (ipvlan l3).
                let subnet = network.subnets().find(|sn| sn.contains(&addr)).or(network.subnet);
                match subnet {
                    _ if !network.ipv4 => self.error(
                        &ip.referenced,
                        format!("network `{}` has `ipv4: false`: it gives no IPv4 address", network.name),
                        Some("write the node's address as `ipv6:`".into()),
                    ),
                    None => self.error(
                        &ip.referenced,
                        format!("a static address needs a subnet on network `{}`", network.name),
                        Some(format!("add `subnet:` to network `{}`; Docker only assigns static addresses in user-declared subnets", network.name)),
                    ),
                    Some(sn) if !usable_host(sn, addr) => self.error(
                        &ip.referenced,
                        format!("{addr} is not a usable address in subnet {sn} of network `{}`", network.name),
                        Some(format!("pick an address between {} and {}", first_host(sn), last_host(sn))),
                    ),
                    Some(_) if network.gateway == Some(addr) => self.error(&ip.referenced, format!("{addr} is the gateway of network `{}`", network.name), None),
                    Some(_) => {
                        if let Some(other) = static_ips.insert(IpAddr::V4(addr), node_name.to_owned()) {
                            self.error(&ip.referenced, format!("{addr} is already the address of node `{other}`"), None);
                        }
                    }
                }
                Some(addr)
            });
            let ipv6 = settings
                .ipv6
                .as_ref()
                .and_then(|ip| self.static_ipv6(node_name, network, ip, static_ips));
            list.push(NetworkAttachment {
                network: net_name.value.clone(),
                aliases: settings.aliases.iter().map(|a| a.value.clone()).collect(),
                ipv4,
                ipv6,
            });
        }
        // Docker's default bridge after the lab's networks, as `docker
        // network connect bridge` adds it: the node keeps the embedded DNS
        // of its first (user-defined) network. On the default bridge alone
        // it is `network_mode: bridge`.
        list.sort_by_key(|a| a.network == DEFAULT_BRIDGE);
        if list.len() == 1 && list[0].network == DEFAULT_BRIDGE {
            return Attachment::Mode(NetworkMode::Bridge);
        }
        Attachment::Networks(list)
    }

    /// `bridge` in a node's `networks:`: Docker's default bridge, which
    /// takes no aliases and no fixed addresses.
    fn default_bridge(
        &mut self,
        node_name: &str,
        net_name: &Span<String>,
        settings: &RawAttachment,
        list: &[NetworkAttachment],
    ) {
        if list.iter().any(|a| a.network == DEFAULT_BRIDGE) {
            self.error(
                &net_name.referenced,
                format!("node `{node_name}` joins network `bridge` twice"),
                None,
            );
        }
        let fixed = settings
            .aliases
            .first()
            .map(|a| (&a.referenced, "aliases"))
            .or(settings
                .ipv4
                .as_ref()
                .map(|a| (&a.referenced, "fixed addresses")))
            .or(settings
                .ipv6
                .as_ref()
                .map(|a| (&a.referenced, "fixed addresses")));
        if let Some((at, what)) = fixed {
            self.error(
                at,
                format!("Docker's default bridge takes no {what}"),
                Some("Docker gives aliases and fixed addresses only on user-defined networks: declare one under `networks:`".into()),
            );
        }
    }
}

/// Docker's default bridge, as `docker network connect bridge` names it.
pub const DEFAULT_BRIDGE: &str = "bridge";

fn is_agent_image(image: &str) -> bool {
    image == "netlab/agent" || image.starts_with("netlab/agent:")
}
