//! A running compose project as a lab (pure): which project is meant, its
//! services as nodes and its networks under compose's names, merged with
//! what a `--lab` file says (its checks; whatever it declares of nodes and
//! networks must be what runs), and the checks used when there is no file.
//!
//! Replicas: replica 1 of service `web` is node `web`, replica N is node
//! `web-N` (compose's own DNS answers `web` with every replica's address).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde_saphyr::{Location, Spanned};

use crate::engine::compose_labels::{ProjectNetwork, Replica};
use crate::lab::raw::{RawAttachment, RawAttachments, RawLab, RawNetwork, RawNode, Scalar, Span};
use crate::lab::{
    Check, CheckKind, DnsExpect, Lab, Listener, PortExpect, Source, Target, TargetHost, TcpExpect,
    Transport,
};
use crate::model::EngineSide;
use crate::vocab::ListenerProto;

/// Compose's project name: `-p`, else `COMPOSE_PROJECT_NAME`, else the
/// `name:` of the compose files (v2), else the directory of the first `-f`
/// file (or of the compose file found from `cwd` up), as compose makes it:
/// lower case, only `a-z0-9_-`, starting with a letter or digit.
pub fn project_name(
    flag: Option<&str>,
    env: Option<&str>,
    file_name: Option<&str>,
    files: &[PathBuf],
    cwd: &Path,
) -> Result<String, String> {
    let (raw, from) = match (flag, env.filter(|e| !e.is_empty()), file_name) {
        (Some(p), _, _) => (p.to_owned(), "-p"),
        (None, Some(e), _) => (e.to_owned(), "COMPOSE_PROJECT_NAME"),
        (None, None, Some(n)) => (n.to_owned(), "the compose file's `name:`"),
        (None, None, None) => {
            let dir = match files.first() {
                Some(f) => absolute(f, cwd).parent().map(Path::to_path_buf),
                None => find_compose_file(cwd)
                    .and_then(|f| f.parent().map(Path::to_path_buf))
                    .or_else(|| Some(cwd.to_path_buf())),
            };
            let base = dir
                .as_deref()
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            (base, "the compose file's directory")
        }
    };
    let name = normalize(&raw);
    if name.is_empty() {
        return Err(format!(
            "no compose project name can be made from {from} (`{raw}`)\n  (hint: name the project with -p NAME)"
        ));
    }
    Ok(name)
}

fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// Compose's rule: lower case, characters other than `a-z0-9_-` dropped,
/// and no leading `_` or `-`.
pub fn normalize(name: &str) -> String {
    let kept: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_owned()
}

/// The compose file compose would read in `dir` or the nearest parent.
pub fn find_compose_file(dir: &Path) -> Option<PathBuf> {
    const NAMES: [&str; 4] = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
    ];
    dir.ancestors()
        .flat_map(|d| NAMES.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// What the compose files say that verify needs: the project's `name:`
/// and each service with its profiles (a service only in a profile is not
/// expected to run unless the profile is active).
#[derive(Debug, Default, PartialEq)]
pub struct Declared {
    pub name: Option<String>,
    pub services: IndexMap<String, Vec<String>>,
}

/// Reads the top of each compose file; a later file adds services.
pub fn declared(files: &[(String, String)]) -> Result<Declared, String> {
    let mut out = Declared::default();
    for (path, text) in files {
        let doc: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| format!("{path}: not a compose file: {e}"))?;
        if let Some(n) = doc.get("name").and_then(|n| n.as_str())
            && !n.contains('$')
        {
            out.name = Some(n.to_owned());
        }
        if let Some(services) = doc.get("services").and_then(|s| s.as_object()) {
            for (name, body) in services {
                let profiles = body
                    .get("profiles")
                    .and_then(|p| p.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                out.services.insert(name.clone(), profiles);
            }
        }
    }
    Ok(out)
}

/// The node name of a replica.
pub fn node_name(r: &Replica) -> String {
    if r.number <= 1 {
        r.service.clone()
    } else {
        format!("{}-{}", r.service, r.number)
    }
}

/// The project's replicas as nodes, in service order, replica 1 first.
pub fn nodes(replicas: &[Replica]) -> IndexMap<String, &Replica> {
    let mut sorted: Vec<&Replica> = replicas.iter().collect();
    sorted.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
    sorted.into_iter().map(|r| (node_name(r), r)).collect()
}

fn span<T>(value: T) -> Span<T> {
    Spanned::new(value, Location::UNKNOWN, Location::UNKNOWN)
}

/// Where a located thing of the `--lab` file is, for an error.
fn at(file: &str, loc: &Location) -> String {
    if loc.line() > 0 {
        format!("{file}:{}:{}", loc.line(), loc.column())
    } else {
        file.to_owned()
    }
}

/// Engine network name → compose's name, for the project's own networks.
fn compose_names(networks: &[ProjectNetwork]) -> IndexMap<&str, &str> {
    networks
        .iter()
        .map(|n| (n.name.as_str(), n.compose_name.as_str()))
        .collect()
}

/// A replica's compose networks, in the order of the project's networks.
pub fn networks_of<'a>(r: &Replica, networks: &'a [ProjectNetwork]) -> Vec<&'a ProjectNetwork> {
    networks
        .iter()
        .filter(|n| r.addresses.contains_key(&n.name) || r.addresses6.contains_key(&n.name))
        .collect()
}

/// The node a replica is, as a lab file would write it.
fn raw_node(r: &Replica, networks: &[ProjectNetwork]) -> RawNode {
    let mode = match r.network_mode.as_str() {
        "host" => Some("host"),
        "none" => Some("none"),
        m if m.starts_with("container:") || m.starts_with("service:") => Some("none"),
        _ => None,
    };
    let on = networks_of(r, networks);
    let (network_mode, attachments) = match mode {
        Some(m) => (Some(span(m.to_owned())), None),
        None if on.is_empty() => (Some(span("bridge".to_owned())), None),
        None => (
            None,
            Some(RawAttachments(
                on.iter()
                    .map(|n| {
                        let own = |a: &String| {
                            *a == r.service || *a == r.name || r.id.starts_with(a.as_str())
                        };
                        let aliases = r
                            .aliases
                            .get(&n.name)
                            .map(|list| {
                                list.iter()
                                    .filter(|a| !own(a))
                                    .map(|a| span(a.clone()))
                                    .collect()
                            })
                            .unwrap_or_default();
                        (
                            span(n.compose_name.clone()),
                            RawAttachment {
                                aliases,
                                ..RawAttachment::default()
                            },
                        )
                    })
                    .collect(),
            )),
        ),
    };
    // One entry per (port, host port), IPv4 bindings only: 0.0.0.0 is
    // "every address". Docker picks the host port of each family on its
    // own, so the `::` binding of one container may have the number of
    // another container's `0.0.0.0` one; the lab's ports say IPv4.
    let mut ports: Vec<String> = Vec::new();
    for p in r.ports.iter().filter(|p| p.host_ip.is_ipv4()) {
        let entry = if p.host_ip.is_unspecified() {
            format!(
                "{}:{}/{}",
                p.host_port,
                p.container_port,
                p.transport.as_str()
            )
        } else {
            format!(
                "{}:{}:{}/{}",
                p.host_ip,
                p.host_port,
                p.container_port,
                p.transport.as_str()
            )
        };
        if !ports.contains(&entry) {
            ports.push(entry);
        }
    }
    RawNode {
        image: Some(span(if r.image.is_empty() {
            "unknown".to_owned()
        } else {
            r.image.clone()
        })),
        networks: attachments,
        network_mode,
        ports: ports.into_iter().map(|p| span(Scalar(p))).collect(),
        ..RawNode::default()
    }
}

fn raw_network(n: &ProjectNetwork) -> RawNetwork {
    let v4 = n.subnets.iter().find(|s| matches!(s, ipnet::IpNet::V4(_)));
    let v6 = n.subnets.iter().find(|s| matches!(s, ipnet::IpNet::V6(_)));
    RawNetwork {
        driver: (n.driver == "overlay").then(|| span("overlay".to_owned())),
        internal: n.internal.then(|| span(true)),
        subnet: v4.map(|s| span(s.to_string())),
        ipv6: (n.ipv6 && v6.is_some()).then(|| span(true)),
        subnet6: v6.filter(|_| n.ipv6).map(|s| span(s.to_string())),
        ..RawNetwork::default()
    }
}

/// An empty lab file: the project alone.
pub fn empty_raw() -> RawLab {
    RawLab {
        version: None,
        name: None,
        description: None,
        hosts: None,
        networks: IndexMap::new(),
        nodes: IndexMap::new(),
        checks: Vec::new(),
        steps: Vec::new(),
        findings: Vec::new(),
    }
}

/// The `--lab` file's lab with the project's nodes and networks in it.
/// What the file declares must be what runs: a node is a service (or
/// replica) of the project and may say only its `networks:` (which must
/// be the service's); a network is one of the project's and may say only
/// `internal:` and `subnet:` (compared with the engine's). `hosts:` and
/// `steps:` are refused: the project is one engine's, and verify changes
/// nothing of it. Every problem is listed, each at its line and column.
pub fn merge(
    mut raw: RawLab,
    file: &str,
    lab_name: &str,
    replicas: &[Replica],
    networks: &[ProjectNetwork],
) -> Result<RawLab, Vec<String>> {
    let mut problems = Vec::new();
    let nodes = nodes(replicas);
    let names = compose_names(networks);
    if let Some(step) = raw.steps.first() {
        problems.push(format!(
            "{}: steps: a compose project is verified as it runs; netlab changes nothing of it, so `steps:` are refused",
            at(file, &step.referenced)
        ));
    }
    if let Some(hosts) = &raw.hosts {
        problems.push(format!(
            "{}: hosts: a compose project runs on one engine; `hosts:` does not apply",
            at(file, &hosts.referenced)
        ));
    }
    for (name, declared) in &raw.networks {
        let Some(n) = networks.iter().find(|n| n.compose_name == name.value) else {
            problems.push(format!(
                "{}: networks.{}: compose project `{lab_name}` has no network `{}` (its networks: {})",
                at(file, &name.referenced),
                name.value,
                name.value,
                list(names.values().copied())
            ));
            continue;
        };
        let field = |what: &str, loc: &Location, why: String| {
            format!("{}: networks.{}.{what}: {why}", at(file, loc), name.value)
        };
        if let Some(i) = &declared.internal
            && i.value != n.internal
        {
            problems.push(field(
                "internal",
                &i.referenced,
                format!(
                    "the file says {}, the running network {} is {}",
                    i.value, n.name, n.internal
                ),
            ));
        }
        if let Some(s) = &declared.subnet
            && !n.subnets.iter().any(|x| x.to_string() == s.value)
        {
            problems.push(field(
                "subnet",
                &s.referenced,
                format!(
                    "the running network {} has {}",
                    n.name,
                    list(n.subnets.iter().map(ToString::to_string))
                ),
            ));
        }
        let others: [(&str, Option<&Location>); 10] = [
            ("driver", declared.driver.as_ref().map(|x| &x.referenced)),
            ("gateway", declared.gateway.as_ref().map(|x| &x.referenced)),
            ("icc", declared.icc.as_ref().map(|x| &x.referenced)),
            ("mtu", declared.mtu.as_ref().map(|x| &x.referenced)),
            (
                "attachable",
                declared.attachable.as_ref().map(|x| &x.referenced),
            ),
            (
                "encrypted",
                declared.encrypted.as_ref().map(|x| &x.referenced),
            ),
            ("ipv4", declared.ipv4.as_ref().map(|x| &x.referenced)),
            ("ipv6", declared.ipv6.as_ref().map(|x| &x.referenced)),
            ("subnet6", declared.subnet6.as_ref().map(|x| &x.referenced)),
            (
                "gateway6",
                declared.gateway6.as_ref().map(|x| &x.referenced),
            ),
        ];
        for (key, loc) in others {
            if let Some(loc) = loc {
                problems.push(field(
                    key,
                    loc,
                    "the project made this network; a --lab file may say only `internal:` and `subnet:` of it (compared with what runs)".into(),
                ));
            }
        }
    }
    for (name, declared) in &raw.nodes {
        let Some(r) = nodes.get(&name.value) else {
            problems.push(format!(
                "{}: nodes.{}: compose project `{lab_name}` has no service (or replica) `{}` (its nodes: {})",
                at(file, &name.referenced),
                name.value,
                name.value,
                list(nodes.keys().map(String::as_str))
            ));
            continue;
        };
        let fixed: [(&str, Option<&Location>); 7] = [
            ("host", declared.host.as_ref().map(|x| &x.referenced)),
            ("image", declared.image.as_ref().map(|x| &x.referenced)),
            (
                "network_mode",
                declared.network_mode.as_ref().map(|x| &x.referenced),
            ),
            ("ca", declared.ca.as_ref().map(|x| &x.referenced)),
            ("ports", declared.ports.first().map(|x| &x.referenced)),
            ("serve", declared.serve.first().map(|x| &x.referenced)),
            ("command", None),
        ];
        for (key, loc) in fixed {
            if let Some(loc) = loc {
                problems.push(format!(
                    "{}: nodes.{}.{key}: the project made this container; a --lab file may say only `networks:` of a node (compared with what runs)",
                    at(file, loc),
                    name.value
                ));
            }
        }
        if declared.command.is_some() || !declared.env.is_empty() {
            problems.push(format!(
                "{}: nodes.{}: `command:` and `env:` do not apply to a container the project made",
                at(file, &name.referenced),
                name.value
            ));
        }
        if let Some(RawAttachments(list_)) = &declared.networks {
            let said: BTreeSet<&str> = list_.iter().map(|(n, _)| n.value.as_str()).collect();
            let runs: BTreeSet<&str> = networks_of(r, networks)
                .iter()
                .map(|n| n.compose_name.as_str())
                .collect();
            if said != runs {
                let loc = list_
                    .first()
                    .map(|(n, _)| n.referenced)
                    .unwrap_or(name.referenced);
                problems.push(format!(
                    "{}: nodes.{}.networks: the file says [{}], service container {} is on [{}]",
                    at(file, &loc),
                    name.value,
                    list(said.iter().copied()),
                    r.name,
                    list(runs.iter().copied())
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // The project's view replaces what the file declared (kept at its
    // place, for the file's order), and fills in the rest.
    let mut merged_networks = IndexMap::new();
    for n in networks {
        let key = raw
            .networks
            .keys()
            .find(|k| k.value == n.compose_name)
            .cloned()
            .unwrap_or_else(|| span(n.compose_name.clone()));
        merged_networks.insert(key, raw_network(n));
    }
    let mut merged_nodes = IndexMap::new();
    for (node, r) in &nodes {
        let key = raw
            .nodes
            .keys()
            .find(|k| k.value == *node)
            .cloned()
            .unwrap_or_else(|| span(node.clone()));
        merged_nodes.insert(key, raw_node(r, networks));
    }
    raw.networks = merged_networks;
    raw.nodes = merged_nodes;
    if raw.name.is_none() {
        raw.name = Some(span(lab_name.to_owned()));
    }
    Ok(raw)
}

fn list<'a>(items: impl IntoIterator<Item = impl AsRef<str> + 'a>) -> String {
    let all: Vec<String> = items.into_iter().map(|s| s.as_ref().to_owned()).collect();
    if all.is_empty() {
        "none".into()
    } else {
        all.join(", ")
    }
}

/// A lab name from a project name: `_` (which a lab name cannot hold)
/// becomes `-`, at most 40 characters.
pub fn lab_name(project: &str) -> String {
    let mut name: String = project.replace('_', "-").chars().take(40).collect();
    if name.is_empty() {
        name.push_str("compose");
    }
    name
}

/// The checks a project implies when no `--lab` file gives any: those of
/// [`crate::model::implied`], asked of the project as a lab whose running
/// services (replica 1 of each) serve what they expose (`expose`, `ports`
/// targets, the image's EXPOSE) — and then said as a foreign container
/// can answer them: `open` becomes `accepts` (a handshake, not netlab's
/// greeting), a published TCP port becomes a handshake from the Docker
/// host at its host address (127.0.0.1 for every address), and what needs
/// netlab's agent to answer (UDP, a port proven unpublished) is left out.
/// A name with several replicas is expected to resolve, not to one node.
pub fn implied_checks(lab: &Lab, replicas: &[Replica], side: EngineSide) -> Vec<Check> {
    let by_node = nodes(replicas);
    let several = |service: &str| replicas.iter().filter(|r| r.service == service).count() > 1;
    let mut model = lab.clone();
    model.checks.clear();
    model.nodes.retain(|name, _| {
        by_node
            .get(name)
            .is_some_and(|r| r.running && r.number <= 1)
    });
    for (name, node) in model.nodes.iter_mut() {
        let Some(r) = by_node.get(name) else { continue };
        node.image = None;
        node.serve = r
            .exposed
            .iter()
            .filter_map(|p| {
                // Compose v2 writes `expose` entries without a protocol
                // (`3306`), which Docker reads as TCP.
                let (port, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
                let proto = match proto {
                    "tcp" => ListenerProto::Tcp,
                    "udp" => ListenerProto::Udp,
                    _ => return None,
                };
                Some(Listener {
                    proto,
                    port: port.parse().ok()?,
                })
            })
            .collect();
    }
    let mut out = Vec::new();
    for implied in crate::model::implied::checks(&model, side) {
        let requires = implied.requires;
        let kind = match implied.kind {
            CheckKind::Dns {
                from,
                name,
                record,
                expect: DnsExpect::Exactly(_),
            } if several(&name) => CheckKind::Dns {
                from,
                name,
                record,
                expect: DnsExpect::Resolves,
            },
            CheckKind::Tcp {
                from,
                to,
                expect: TcpExpect::Open,
            } => CheckKind::Tcp {
                from,
                to,
                expect: TcpExpect::Accepts,
            },
            CheckKind::Udp { .. } => continue,
            CheckKind::Port {
                node,
                port,
                transport: Transport::Tcp,
                host_ip,
                expect: PortExpect::Published,
                ..
            } => {
                let Some(r) = by_node.get(&node) else {
                    continue;
                };
                let Some(bound) = r.ports.iter().find(|p| {
                    p.container_port == port
                        && p.transport == Transport::Tcp
                        && p.host_ip.is_ipv4()
                        && host_ip.is_none_or(|ip| ip == p.host_ip)
                }) else {
                    continue;
                };
                let ip = if bound.host_ip.is_unspecified() {
                    std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
                } else {
                    bound.host_ip
                };
                CheckKind::Tcp {
                    from: Source::Host(None),
                    to: Target {
                        host: TargetHost::Ip(ip),
                        port: bound.host_port,
                    },
                    expect: TcpExpect::Accepts,
                }
            }
            CheckKind::Port { .. } => continue,
            kind => kind,
        };
        out.push(Check {
            title: kind.default_title(),
            timeout: Duration::from_secs(2),
            retry: false,
            capture: false,
            family: None,
            requires,
            kind,
        });
    }
    out
}

#[cfg(test)]
#[path = "compose_lab_tests.rs"]
mod tests;
