//! The merged compose tree read as compose reads it, keeping only what
//! bears on the network: networks (the implicit `default` too), each
//! service's attachments, mode, ports and exposed ports. Every other key
//! is sorted into "dropped" (no bearing on the network: one note) or
//! "not honoured" (bears on it, netlab cannot make it: a warning with its
//! place). Only what compose itself rejects is an error.

use std::net::IpAddr;
use std::str::FromStr;

use indexmap::IndexMap;
use ipnet::IpNet;

use super::value::{Node, Pos, Value};
use super::{Message, Messages};
use crate::lab::notation::parse_port_mapping;
use crate::lab::{PortMapping, PortRange, Transport};

#[derive(Debug, Default)]
pub struct Project {
    pub name: String,
    pub networks: IndexMap<String, Net>,
    pub services: IndexMap<String, Service>,
}

#[derive(Debug, Default)]
pub struct Net {
    pub internal: bool,
    pub ipv6: bool,
    pub subnet4: Option<String>,
    pub gateway4: Option<String>,
    pub subnet6: Option<String>,
    pub gateway6: Option<String>,
    pub icc: Option<bool>,
    pub mtu: Option<String>,
    /// `external: true`: the engine's name of the network (`name:`, the
    /// legacy `external: { name: … }`, else the key itself).
    pub external: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Host,
    None,
    Bridge,
    /// `service:X` / `container:X`: another container's namespace.
    Shared(String),
}

#[derive(Debug, Default)]
pub struct Service {
    pub image: Option<String>,
    pub mode: Option<(Mode, Pos)>,
    pub networks: Vec<Attach>,
    pub ports: Vec<(PortMapping, Pos)>,
    pub expose: Vec<(PortRange, Transport, Pos)>,
    pub hostname: Option<(String, Pos)>,
    /// `extra_hosts`: name, address (an IP or `host-gateway`), place.
    pub extra_hosts: Vec<(String, String, Pos)>,
    /// Legacy `links`: service, alias (the service's name without one).
    pub links: Vec<(String, String, Pos)>,
    pub at: Pos,
}

#[derive(Debug, Default)]
pub struct Attach {
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4: Option<String>,
    pub ipv6: Option<String>,
    pub at: Pos,
}

/// Service keys with no bearing on the network.
const DROPPED: &[&str] = &[
    "image",
    "build",
    "volumes",
    "volumes_from",
    "environment",
    "env_file",
    "healthcheck",
    "depends_on",
    "restart",
    "command",
    "entrypoint",
    "secrets",
    "configs",
    "labels",
    "deploy",
    "logging",
    "user",
    "working_dir",
    "stdin_open",
    "tty",
    "init",
    "stop_signal",
    "stop_grace_period",
    "ulimits",
    "tmpfs",
    "read_only",
    "shm_size",
    "develop",
    "platform",
    "pull_policy",
    "annotations",
    "attach",
    "cpus",
    "cpu_shares",
    "cpu_count",
    "cpuset",
    "mem_limit",
    "mem_reservation",
    "memswap_limit",
    "pids_limit",
    "security_opt",
    "devices",
    "group_add",
    "ipc",
    "pid",
    "isolation",
    "oom_score_adj",
    "runtime",
    "scale",
    "blkio_config",
    "cgroup",
    "cgroup_parent",
    "device_cgroup_rules",
    "storage_opt",
    "credential_spec",
    "post_start",
    "pre_stop",
    "expose_ports",
    "privileged",
    "oom_kill_disable",
    "uts",
    "models",
    "gpus",
    "label_file",
    "provider",
    "use_api_socket",
    "container_name",
];

/// Service keys that bear on the network but that netlab cannot make.
const NOT_HONOURED: &[&str] = &[
    "sysctls",
    "cap_add",
    "cap_drop",
    "dns",
    "dns_search",
    "dns_opt",
    "mac_address",
    "domainname",
    "external_links",
    "userns_mode",
    "extends",
];

const TOP_LEVEL: &[&str] = &[
    "version", "name", "services", "networks", "volumes", "secrets", "configs", "include", "models",
];

fn err(at: Pos, text: impl Into<String>) -> Message {
    Message::error(at, text)
}

/// Reads the merged tree; `profiles`: the active ones.
pub fn read(
    root: &Node,
    default_name: &str,
    profiles: &[String],
    msgs: &mut Messages,
) -> Result<Project, Message> {
    if !root.is_map() {
        return Err(err(
            root.at,
            "a compose file is a mapping (services:, networks: …)",
        ));
    }
    let mut dropped: Vec<String> = Vec::new();
    for (key, _) in root.entries() {
        let k = key.name.as_str();
        if k.starts_with("x-") {
            continue;
        }
        match k {
            "version" | "volumes" | "secrets" | "configs" | "models" => {
                dropped.push(k.to_owned());
            }
            "include" => msgs.warn(key.at, "`include:` is not read by netlab import: pass the included files with their own arguments"),
            _ if TOP_LEVEL.contains(&k) => {}
            _ => {
                return Err(err(
                    key.at,
                    format!("additional property `{k}` is not allowed at the top level of a compose file"),
                ));
            }
        }
    }
    let name = match root.get("name").and_then(Node::scalar) {
        Some(n) => n,
        None => default_name.to_owned(),
    };
    let mut project = Project {
        name,
        ..Project::default()
    };
    if let Some(nets) = root.get("networks") {
        for (key, def) in nets.entries() {
            project
                .networks
                .insert(key.name.clone(), read_network(&key.name, def, msgs)?);
        }
    }
    let Some(services) = root.get("services") else {
        return Err(err(root.at, "a compose project needs `services:`"));
    };
    if !matches!(services.value, Value::Map(_) | Value::Null) {
        return Err(err(services.at, "`services` must be a mapping"));
    }
    for (key, def) in services.entries() {
        if !def.is_map() {
            return Err(err(
                def.at,
                format!("service `{}` must be a mapping", key.name),
            ));
        }
        let wanted: Vec<String> = def
            .get("profiles")
            .map(|p| p.items().iter().filter_map(Node::scalar).collect())
            .unwrap_or_default();
        if !wanted.is_empty() && !wanted.iter().any(|p| profiles.contains(p)) {
            msgs.note(
                key.at,
                format!(
                    "service `{}` is left out: its profiles ({}) are not active (--profile)",
                    key.name,
                    wanted.join(", ")
                ),
            );
            continue;
        }
        let service = read_service(&key.name, def, key.at, &mut dropped, msgs)?;
        project.services.insert(key.name.clone(), service);
    }
    // A reference to an undefined network, or a service namespace that is
    // not there: compose refuses the file.
    let mut uses_default = false;
    for (name, s) in &project.services {
        if s.mode.is_none() && s.networks.is_empty() {
            uses_default = true;
        }
        for a in &s.networks {
            if a.network == "default" {
                uses_default = true;
            } else if !project.networks.contains_key(&a.network) {
                return Err(err(
                    a.at,
                    format!(
                        "service `{name}` refers to undefined network `{}`",
                        a.network
                    ),
                ));
            }
        }
        if let Some((Mode::Shared(other), at)) = &s.mode
            && other.starts_with("service:")
        {
            let target = &other["service:".len()..];
            if !project.services.contains_key(target) {
                return Err(err(
                    *at,
                    format!(
                        "service `{name}` depends on undefined service `{target}` (network_mode)"
                    ),
                ));
            }
        }
    }
    if uses_default && !project.networks.contains_key("default") {
        project.networks.insert("default".into(), Net::default());
    }
    if !uses_default {
        project.networks.shift_remove("default");
    }
    for (name, s) in project.services.iter_mut() {
        if s.mode.is_none() && s.networks.is_empty() {
            s.networks.push(Attach {
                network: "default".into(),
                at: s.at,
                ..Attach::default()
            });
        }
        let _ = name;
    }
    dropped.sort();
    dropped.dedup();
    if !dropped.is_empty() {
        msgs.note(
            root.at,
            format!("dropped, no bearing on the network: {}", dropped.join(", ")),
        );
    }
    Ok(project)
}

fn read_network(key_name: &str, def: &Node, msgs: &mut Messages) -> Result<Net, Message> {
    let mut net = Net::default();
    for (key, v) in def.entries() {
        match key.name.as_str() {
            "internal" => net.internal = v.truthy().unwrap_or(false),
            "enable_ipv6" => net.ipv6 = v.truthy().unwrap_or(false),
            "external" if v.truthy().unwrap_or(v.is_map()) => {
                let name = v
                    .get("name")
                    .or(def.get("name"))
                    .and_then(Node::scalar)
                    .unwrap_or_else(|| key_name.to_owned());
                net.external = Some(name);
            }
            "external" => {}
            "driver" => match v.scalar().as_deref() {
                Some("bridge") | None => {}
                Some("overlay") => msgs.warn(v.at, "driver `overlay` needs swarm mode; imported as a bridge on one host (the same reach and names between the lab's nodes)"),
                Some(other) => msgs.warn(v.at, format!("driver `{other}` is imported as a bridge")),
            },
            "driver_opts" => {
                for (k, o) in v.entries() {
                    match k.name.as_str() {
                        "com.docker.network.bridge.enable_icc" => net.icc = o.truthy(),
                        "com.docker.network.driver.mtu" => net.mtu = o.scalar(),
                        other => msgs.warn(k.at, format!("driver option `{other}` is not honoured")),
                    }
                }
            }
            "ipam" => {
                for c in v.get("config").map(Node::items).unwrap_or_default() {
                    let Some(subnet) = c.get("subnet").and_then(Node::scalar) else {
                        continue;
                    };
                    let parsed = IpNet::from_str(&subnet)
                        .map_err(|_| err(c.at, format!("invalid subnet `{subnet}`")))?;
                    let gateway = c.get("gateway").and_then(Node::scalar);
                    match parsed {
                        IpNet::V4(_) => (net.subnet4, net.gateway4) = (Some(subnet), gateway),
                        IpNet::V6(_) => {
                            (net.subnet6, net.gateway6) = (Some(subnet), gateway);
                            net.ipv6 = true;
                        }
                    }
                    for extra in ["ip_range", "aux_addresses"] {
                        if let Some(x) = c.get(extra) {
                            msgs.warn(x.at, format!("ipam `{extra}` is not honoured"));
                        }
                    }
                }
            }
            "name" | "labels" | "attachable" => {}
            other if other.starts_with("x-") => {}
            other => msgs.warn(key.at, format!("network key `{other}` is not honoured")),
        }
    }
    Ok(net)
}

fn read_service(
    name: &str,
    def: &Node,
    at: Pos,
    dropped: &mut Vec<String>,
    msgs: &mut Messages,
) -> Result<Service, Message> {
    let mut s = Service {
        at,
        image: def.get("image").and_then(Node::scalar),
        ..Service::default()
    };
    if def.get("image").is_none() && def.get("build").is_none() {
        return Err(err(
            at,
            format!("service `{name}` has neither an image nor a build context specified"),
        ));
    }
    if let (Some(_), Some(n)) = (def.get("network_mode"), def.get("networks")) {
        return Err(err(
            n.at,
            format!("service `{name}` declares mutually exclusive `network_mode` and `networks`"),
        ));
    }
    for (key, v) in def.entries() {
        let k = key.name.as_str();
        match k {
            "networks" => {
                for (net, settings) in v.entries() {
                    s.networks
                        .push(read_attach(&net.name, settings, net.at, msgs));
                }
            }
            "network_mode" => {
                let mode = v.scalar().unwrap_or_default();
                let m = match mode.as_str() {
                    "host" => Mode::Host,
                    "none" => Mode::None,
                    "bridge" | "default" => Mode::Bridge,
                    m if m.starts_with("service:") => Mode::Shared(m.to_owned()),
                    m if m.starts_with("container:") => {
                        msgs.warn(v.at, format!("`network_mode: {m}` shares the namespace of a container outside the project, which the lab does not have: the node is imported with network mode none"));
                        Mode::Shared(m.to_owned())
                    }
                    other => return Err(err(v.at, format!("invalid network_mode `{other}`"))),
                };
                s.mode = Some((m, v.at));
            }
            "ports" => {
                for p in v.items() {
                    s.ports.extend(read_port(p, msgs)?);
                }
            }
            "expose" => {
                for p in v.items() {
                    let text = p.scalar().unwrap_or_default();
                    let (spec, transport) = match text.rsplit_once('/') {
                        Some((spec, "udp")) => (spec.to_owned(), Transport::Udp),
                        Some((spec, _)) => (spec.to_owned(), Transport::Tcp),
                        None => (text.clone(), Transport::Tcp),
                    };
                    let mapping = parse_port_mapping(&spec)
                        .map_err(|e| err(p.at, format!("invalid expose `{text}`: {e}")))?;
                    s.expose.push((mapping.container_ports, transport, p.at));
                }
            }
            "links" => {
                for l in v.items() {
                    let text = l.scalar().unwrap_or_default();
                    let (target, alias) = text.split_once(':').unwrap_or((&text, &text));
                    s.links.push((target.to_owned(), alias.to_owned(), l.at));
                }
            }
            "hostname" => s.hostname = v.scalar().map(|h| (h, v.at)),
            "extra_hosts" => s.extra_hosts = super::hosts::read_extra_hosts(v, msgs),
            "profiles" => {}
            _ if k.starts_with("x-") => {}
            _ if NOT_HONOURED.contains(&k) => {
                msgs.warn(
                    key.at,
                    format!("`{k}` bears on the network but netlab cannot honour it; left out"),
                );
            }
            _ if DROPPED.contains(&k) => dropped.push(k.to_owned()),
            _ => {
                return Err(err(
                    key.at,
                    format!("service `{name}`: additional property `{k}` is not allowed"),
                ));
            }
        }
    }
    Ok(s)
}

fn read_attach(network: &str, settings: &Node, at: Pos, msgs: &mut Messages) -> Attach {
    let mut a = Attach {
        network: network.to_owned(),
        at,
        ..Attach::default()
    };
    for (key, v) in settings.entries() {
        match key.name.as_str() {
            "aliases" => a.aliases = v.items().iter().filter_map(Node::scalar).collect(),
            "ipv4_address" => a.ipv4 = v.scalar(),
            "ipv6_address" => a.ipv6 = v.scalar(),
            "priority" | "gw_priority" => {}
            other => msgs.warn(
                key.at,
                format!("`{other}` of a network attachment is not honoured"),
            ),
        }
    }
    a
}

/// One `ports:` entry, short (`"127.0.0.1:8080:80/udp"`) or long syntax.
fn read_port(p: &Node, msgs: &mut Messages) -> Result<Vec<(PortMapping, Pos)>, Message> {
    if p.is_map() {
        let target = p
            .get("target")
            .and_then(Node::scalar)
            .ok_or_else(|| err(p.at, "a port in long syntax needs `target`"))?;
        let mut spec = String::new();
        if let Some(ip) = p.get("host_ip").and_then(Node::scalar) {
            match IpAddr::from_str(&ip) {
                Ok(IpAddr::V6(_)) => spec.push_str(&format!("[{ip}]:")),
                Ok(IpAddr::V4(_)) => spec.push_str(&format!("{ip}:")),
                Err(_) => return Err(err(p.at, format!("invalid host_ip `{ip}`"))),
            }
        }
        match p.get("published").and_then(Node::scalar) {
            Some(h) => spec.push_str(&format!("{h}:")),
            None if !spec.is_empty() => spec.push(':'),
            None => {}
        }
        spec.push_str(&target);
        if let Some(proto) = p.get("protocol").and_then(Node::scalar) {
            spec.push_str(&format!("/{proto}"));
        }
        if let Some(m) = p.get("mode").and_then(Node::scalar)
            && m != "ingress"
            && m != "host"
        {
            return Err(err(p.at, format!("invalid port mode `{m}`")));
        }
        return short(&spec, p, msgs);
    }
    let text = p
        .scalar()
        .ok_or_else(|| err(p.at, "a port is a string, a number or a mapping"))?;
    short(&text, p, msgs)
}

fn short(text: &str, p: &Node, msgs: &mut Messages) -> Result<Vec<(PortMapping, Pos)>, Message> {
    // `8000-8010:80`: Docker picks one host port of the range.
    if let Some(m) = host_range_one_port(text) {
        msgs.warn(p.at, format!("`{text}`: a host range for one container port; the lab publishes it on a port Docker picks"));
        return Ok(vec![(m, p.at)]);
    }
    parse_port_mapping(text)
        .map(|m| vec![(m, p.at)])
        .map_err(|e| err(p.at, format!("invalid port `{text}`: {e}")))
}

fn host_range_one_port(text: &str) -> Option<PortMapping> {
    let (spec, transport) = match text.rsplit_once('/') {
        Some((s, "udp")) => (s, Transport::Udp),
        Some((s, _)) => (s, Transport::Tcp),
        None => (text, Transport::Tcp),
    };
    let (head, container) = spec.rsplit_once(':')?;
    let host = head.rsplit(':').next()?;
    if !host.contains('-') || container.contains('-') {
        return None;
    }
    let port = container.parse::<u16>().ok()?;
    let ip_part = head.strip_suffix(host)?.trim_end_matches(':');
    let host_ip = if ip_part.is_empty() {
        None
    } else {
        IpAddr::from_str(ip_part.trim_start_matches('[').trim_end_matches(']')).ok()
    };
    Some(PortMapping {
        host_ip,
        host_ports: None,
        container_ports: PortRange::single(port),
        transport,
    })
}
