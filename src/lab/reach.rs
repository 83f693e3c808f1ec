//! What a lab may aim at, decided from the lab file alone (SPEC: "What a
//! lab may touch"). Two rules, both pure:
//!
//! - **The path a check claims.** A node is aimed at by its address on a
//!   network the source shares with it; failing that, by its address on a
//!   bridge of the source's own Docker host (the host routes it and drops
//!   it between bridges: isolation shown at layer 3/4). An overlay address
//!   of a network the source is not on, or any address of a node on
//!   another host, is in no routing table of the source: it would follow
//!   the default route out of the machine. Such a check is refused.
//! - **Nothing outside the lab.** `ip:port` targets and URL hosts must be
//!   the lab's own: loopback, an address in a declared subnet, a name the
//!   lab defines (from a node that resolves lab names). What cannot be
//!   decided without the engine (a subnet Docker allocates) is decided at
//!   run time (`check::reach`); everything else is refused here unless
//!   `--allow-external`.

use std::net::IpAddr;

use indexmap::IndexMap;

use super::model::{
    Attachment, CheckKind, Driver, IpFamily, LOCAL_HOST, Lab, Network, NetworkAttachment,
    NetworkMode, Node, Source, TargetHost,
};

/// The parts of a lab these rules read: validation has them before the lab
/// exists.
#[derive(Clone, Copy)]
pub struct Topology<'a> {
    pub nodes: &'a IndexMap<String, Node>,
    pub networks: &'a IndexMap<String, Network>,
    pub hosts: &'a [String],
}

impl Lab {
    pub fn topology(&self) -> Topology<'_> {
        Topology {
            nodes: &self.nodes,
            networks: &self.networks,
            hosts: &self.hosts,
        }
    }
}

impl Topology<'_> {
    /// The logical host a probe from `source` runs on (as [`Lab::host_of`]).
    pub(crate) fn host_of<'s>(&'s self, source: &'s Source) -> &'s str {
        let first = self.hosts.first().map(String::as_str).unwrap_or(LOCAL_HOST);
        match source {
            Source::Node(n) => self.nodes.get(n).map(|n| n.host.as_str()).unwrap_or(first),
            Source::Host(Some(h)) => h,
            Source::Host(None) => first,
        }
    }
}

/// `nodes` moved onto the networks they are on now (`now` says which, or
/// `None` to keep what the file declares): steps connect and disconnect
/// nodes, and a check in a step aims where they are then. A network kept
/// keeps its aliases and addresses; one joined is listed after them, in
/// the lab's order of networks.
pub fn moved(
    nodes: &IndexMap<String, Node>,
    networks: &IndexMap<String, Network>,
    now: impl Fn(&str) -> Option<std::collections::BTreeSet<String>>,
) -> IndexMap<String, Node> {
    nodes
        .iter()
        .map(|(name, node)| {
            let mut node = node.clone();
            if let (Attachment::Networks(list), Some(on)) = (&node.attachment, now(name)) {
                let kept = list.iter().filter(|a| on.contains(&a.network)).cloned();
                let joined = networks
                    .keys()
                    .filter(|n| on.contains(*n) && !list.iter().any(|a| &a.network == *n))
                    .map(|n| NetworkAttachment {
                        network: n.clone(),
                        aliases: Vec::new(),
                        ipv4: None,
                        ipv6: None,
                    });
                node.attachment = Attachment::Networks(kept.chain(joined).collect());
            }
            (name.clone(), node)
        })
        .collect()
}

/// How a probe from a source may aim at a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aim {
    /// The node shares its Docker host's network stack.
    HostMode,
    /// Its address on one of these networks (in order of preference);
    /// `bridge` is Docker's default bridge.
    Networks(Vec<String>),
}

/// The networks a node joins, with Docker's default bridge as `bridge`.
fn networks_of(node: &Node) -> Vec<&str> {
    match &node.attachment {
        Attachment::Networks(list) => list.iter().map(|a| a.network.as_str()).collect(),
        Attachment::Mode(NetworkMode::Bridge) => vec!["bridge"],
        Attachment::Mode(_) | Attachment::Shared(_) => Vec::new(),
    }
}

/// The node whose network namespace `node` is in (a sidecar's owner).
fn in_namespace<'a>(lab: Topology<'a>, node: &'a str) -> &'a str {
    lab.nodes.get(node).and_then(Node::shares).unwrap_or(node)
}

fn is_overlay(lab: Topology, network: &str) -> bool {
    lab.networks
        .get(network)
        .is_some_and(|n| matches!(n.driver, Driver::Overlay { .. }))
}

/// Why a node cannot be aimed at, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffPath {
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for OffPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n  (hint: {})", self.message, self.hint)
    }
}

/// Which of `to`'s addresses a probe from `from` may aim at (on `network`
/// when the target names one), or why none is on a path the source has.
pub fn aim(lab: Topology, from: &Source, to: &str, network: Option<&str>) -> Result<Aim, OffPath> {
    // A sidecar is aimed at, and probes, from its owner's namespace.
    let to = in_namespace(lab, to);
    let owner;
    let from = match from {
        Source::Node(n) => {
            owner = Source::Node(in_namespace(lab, n).to_owned());
            &owner
        }
        Source::Host(_) => from,
    };
    let Some(target) = lab.nodes.get(to) else {
        return Err(OffPath {
            message: format!("undefined node `{to}`"),
            hint: "name a node of the lab".into(),
        });
    };
    if target.attachment == Attachment::Mode(NetworkMode::Host) {
        return Ok(Aim::HostMode);
    }
    let source_networks: Vec<&str> = match from {
        Source::Node(n) => lab.nodes.get(n).map(networks_of).unwrap_or_default(),
        Source::Host(_) => Vec::new(),
    };
    let source_host = lab.host_of(from);
    let same_host = source_host == target.host;
    let target_networks = networks_of(target);
    // A network the source is not on can be aimed at only where its host
    // routes it: a bridge on the source's own host.
    let routed_here = |net: &str| same_host && !is_overlay(lab, net);
    let candidates: Vec<String> = match network {
        Some(net) if source_networks.contains(&net) || routed_here(net) => vec![net.to_owned()],
        Some(net) => {
            return Err(refusal(lab, from, to, Some(net), same_host));
        }
        None => {
            let shared: Vec<String> = target_networks
                .iter()
                .filter(|n| source_networks.contains(n))
                .map(|n| (*n).to_owned())
                .collect();
            if !shared.is_empty() {
                shared
            } else {
                target_networks
                    .iter()
                    .filter(|n| routed_here(n))
                    .map(|n| (*n).to_owned())
                    .collect()
            }
        }
    };
    if candidates.is_empty() {
        return Err(refusal(lab, from, to, network, same_host));
    }
    Ok(Aim::Networks(candidates))
}

/// The network whose `family` address of `to` a probe from `from` aims at
/// (`None`: a node in host mode, its host's own address), or why there is
/// none.
pub fn aimed_network(
    lab: Topology,
    from: &Source,
    to: &str,
    network: Option<&str>,
    family: IpFamily,
) -> Result<Option<String>, String> {
    match aim(lab, from, to, network).map_err(|off| off.message)? {
        Aim::HostMode => Ok(None),
        Aim::Networks(list) => list
            .into_iter()
            .find(|n| lab.networks.get(n).is_some_and(|net| net.has(family)))
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "node `{to}` has no {} address on a network {from} would reach it by",
                    family.name()
                )
            }),
    }
}

/// The family a check aims at when it names none: IPv4 where the target
/// has it on the aimed network, else IPv6.
pub fn default_family(lab: Topology, from: &Source, to: &TargetHost) -> IpFamily {
    match to {
        TargetHost::Ip(ip) => IpFamily::of(*ip),
        // Docker's DNS answers an alias as A records first.
        TargetHost::Name(_) => IpFamily::V4,
        TargetHost::Node { node, network } => {
            if aimed_network(lab, from, node, network.as_deref(), IpFamily::V4).is_err()
                && aimed_network(lab, from, node, network.as_deref(), IpFamily::V6).is_ok()
            {
                IpFamily::V6
            } else {
                IpFamily::V4
            }
        }
    }
}

/// Why a node cannot be aimed at from a source, and what to write instead.
fn refusal(
    lab: Topology,
    from: &Source,
    to: &str,
    network: Option<&str>,
    same_host: bool,
) -> OffPath {
    let target_host = lab.nodes.get(to).map(|n| n.host.as_str()).unwrap_or("?");
    let source_host = lab.host_of(from);
    let what = match network {
        Some(net) => format!("`{to}@{net}`"),
        None => format!("`{to}`"),
    };
    let why = if lab.nodes.get(to).is_some_and(|n| networks_of(n).is_empty()) {
        format!("{to} is on no network: it has no address to aim at")
    } else if !same_host {
        format!(
            "{from} runs on host {source_host} and {to} on host {target_host}, and they share no network: no address of {to} is on a path from {from}; one would be routed by {source_host}'s default route, out of the machine"
        )
    } else {
        format!(
            "{from} is not on {}, and an overlay network is routed by no host: the address would follow the default route out of the machine",
            network
                .map(|n| format!("network `{n}`"))
                .unwrap_or_else(|| {
                    format!("any network of {to} (it is only on overlay networks)")
                })
        )
    };
    let instead = match from {
        Source::Node(n) => format!(
            "to show that {n} cannot reach {to}, expect `unresolved` from a dns check (`dns: {{ from: {n}, name: {to}, expect: unresolved }}`), or probe from a node that shares a network with {to}"
        ),
        Source::Host(_) => format!(
            "reach {to} from its own host through a published port, or from a node that shares a network with it"
        ),
    };
    OffPath {
        message: format!("{what} cannot be aimed at from {from}: {why}"),
        hint: instead,
    }
}

/// Whether a target decided from the file alone is the lab's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Inside,
    /// Outside the lab, with the reason.
    Outside(String),
    /// Only the running lab can tell (a subnet Docker allocates).
    AtRunTime,
}

/// An address a check names: loopback, an address in a declared subnet, or
/// (when some subnet is Docker's to pick) something to decide at run time.
pub fn address_verdict(lab: Topology, ip: IpAddr) -> Verdict {
    if ip.is_loopback() {
        return Verdict::Inside;
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return Verdict::Outside(format!("{ip} is not the address of a host"));
    }
    if lab.networks.values().any(|n| {
        n.subnets().any(|s| ipnet::IpNet::V4(s).contains(&ip))
            || n.subnet6.is_some_and(|s| ipnet::IpNet::V6(s).contains(&ip))
    }) {
        return Verdict::Inside;
    }
    // A subnet of that family that the engine allocates (IPv4) or netlab
    // picks (IPv6) is known only once the lab is up.
    let family = IpFamily::of(ip);
    let undecided = lab.networks.values().any(|n: &Network| {
        n.has(family)
            && match family {
                IpFamily::V4 => n.subnet.is_none(),
                IpFamily::V6 => n.subnet6.is_none(),
            }
    }) || lab
        .nodes
        .values()
        .any(|n| !matches!(n.attachment, Attachment::Networks(_)));
    if undecided {
        Verdict::AtRunTime
    } else {
        Verdict::Outside(format!(
            "{ip} is neither loopback nor in a subnet of the lab"
        ))
    }
}

/// The names the lab defines: node names and aliases.
pub fn is_lab_name(lab: Topology, name: &str) -> bool {
    lab.nodes.contains_key(name)
        || lab
            .nodes
            .values()
            .any(|n| n.networks().any(|a| a.aliases.iter().any(|al| al == name)))
}

/// Whether `name` is the alias of one of `from`'s legacy links: Docker's
/// DNS answers it to that node alone.
pub fn is_link_alias_of(lab: Topology, from: &Source, name: &str) -> bool {
    matches!(from, Source::Node(n) if lab.nodes.get(n).is_some_and(|n| n.links.iter().any(|(_, alias)| alias == name)))
}

/// Whether a source resolves names with Docker's embedded DNS (a node on
/// user-defined networks), which knows the lab's names; anything else asks
/// its Docker host's resolver, outside the lab.
pub fn resolves_lab_names(lab: Topology, from: &Source) -> bool {
    matches!(from, Source::Node(n) if lab.nodes.get(n).is_some_and(|n| matches!(&n.attachment, Attachment::Networks(l) if !l.is_empty())))
}

/// A URL's host as a check's first request aims at it.
pub fn url_host_verdict(lab: Topology, from: &Source, host: &url::Host<&str>) -> Verdict {
    match host {
        url::Host::Ipv4(ip) => address_verdict(lab, IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => address_verdict(lab, IpAddr::V6(*ip)),
        url::Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => Verdict::Inside,
        url::Host::Domain(d)
            if resolves_lab_names(lab, from)
                && (is_lab_name(lab, d) || is_link_alias_of(lab, from, d)) =>
        {
            Verdict::Inside
        }
        url::Host::Domain(d) if is_lab_name(lab, d) => Verdict::Outside(format!(
            "{from} does not resolve the lab's names (it asks its Docker host's resolver), so `{d}` would be looked up outside the lab"
        )),
        url::Host::Domain(d) => Verdict::Outside(format!(
            "`{d}` is not a name of the lab (a node or an alias): it would be looked up and reached outside the lab"
        )),
    }
}

impl CheckKind {
    /// The node a check aims at, when it names one.
    pub fn target_node(&self) -> Option<&str> {
        match self {
            CheckKind::Tcp { to, .. } | CheckKind::Udp { to, .. } | CheckKind::Tls { to, .. } => {
                match &to.host {
                    TargetHost::Node { node, .. } => Some(node),
                    TargetHost::Name(_) | TargetHost::Ip(_) => None,
                }
            }
            CheckKind::Port { node, .. } => Some(node),
            CheckKind::Mtu { to, .. } => to.as_deref(),
            CheckKind::Link { to, .. } => Some(to),
            _ => None,
        }
    }
}
