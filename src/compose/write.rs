//! The lab text of an imported project: networks and nodes under
//! compose's own names (`pay_gw`, `default`, a service called `host`);
//! only a name the lab cannot take becomes a lab name with compose's name
//! kept as an alias, so the services still find each other by it. Then the
//! implied checks, each under a comment saying why.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::read::{Mode, Project};
use super::{Level, Messages, Options};
use crate::lab::{CheckKind, DnsAnswer, DnsExpect, PortMapping, Source, TargetHost, Transport};
use crate::model::implied::Implied;

/// At most this many listeners per node: a long range is a range of one
/// service, and the agent listens on each port separately.
const MAX_SERVED: usize = 32;

/// A lab name for a compose name: lower case, `-` for `_` and `.`, other
/// characters left out.
pub fn lab_name(compose: &str, max: usize) -> String {
    let mut s: String = compose
        .chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            '_' | '.' => Some('-'),
            _ => None,
        })
        .collect();
    s.truncate(max);
    let s = s.trim_matches('-').to_owned();
    if s.is_empty() { "x".into() } else { s }
}

/// Whether compose's name can stay as an alias (the lab's alias rule).
fn alias_ok(name: &str) -> bool {
    crate::lab::validate::is_valid_alias(name)
}

fn unique(mut name: String, taken: &mut Vec<String>) -> String {
    let base = name.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

/// The names of networks and nodes in the lab, by compose name.
pub struct Names {
    pub networks: HashMap<String, String>,
    pub nodes: HashMap<String, String>,
}

pub fn names(project: &Project) -> Names {
    use crate::lab::validate::{is_valid_network_name, is_valid_node_name};
    let mut taken = Vec::new();
    let mut networks = HashMap::new();
    for n in project.networks.keys() {
        // Compose's own name where the lab takes it (`default` too); the
        // names of Docker's own networks are not a lab network's.
        let wanted = match n.as_str() {
            "bridge" | "host" | "none" => format!("{n}-net"),
            _ if is_valid_network_name(n) => n.clone(),
            _ => lab_name(n, 40),
        };
        networks.insert(n.clone(), unique(wanted, &mut taken));
    }
    // Docker's DNS does not tell case apart: one node name per spelling.
    let mut taken = Vec::new();
    let mut nodes = HashMap::new();
    for s in project.services.keys() {
        let wanted = if is_valid_node_name(s) {
            s.clone()
        } else {
            lab_name(s, 63)
        };
        let node = unique(wanted.to_ascii_lowercase(), &mut taken);
        let node = if node == wanted.to_ascii_lowercase() {
            wanted
        } else {
            node
        };
        nodes.insert(s.clone(), node);
    }
    Names { networks, nodes }
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn port_text(m: &PortMapping, any_host_port: bool) -> String {
    let mut s = String::new();
    match m.host_ip {
        Some(std::net::IpAddr::V6(ip)) => {
            let _ = write!(s, "[{ip}]:");
        }
        Some(ip) => {
            let _ = write!(s, "{ip}:");
        }
        None => {}
    }
    match (m.host_ports, any_host_port) {
        (Some(h), false) => {
            let _ = write!(s, "{h}:");
        }
        _ if m.host_ip.is_some() => s.push(':'),
        _ => {}
    }
    let _ = write!(s, "{}", m.container_ports);
    if m.transport == Transport::Udp {
        s.push_str("/udp");
    }
    s
}

/// The topology (no checks yet) and the header comment.
pub fn topology(
    project: &Project,
    options: &Options,
    files: &[String],
    msgs: &mut Messages,
) -> String {
    let names = names(project);
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Imported by `netlab import` from {} (compose project `{}`).",
        files.join(", "),
        project.name
    );
    let _ = writeln!(y, "name: {}", lab_name(&project.name, 40));
    let _ = writeln!(
        y,
        "description: {}",
        quoted(&format!(
            "Compose project {}: {} service{} on {} network{}, with the checks compose implies.",
            project.name,
            project.services.len(),
            if project.services.len() == 1 { "" } else { "s" },
            project.networks.len(),
            if project.networks.len() == 1 { "" } else { "s" }
        ))
    );
    y.push_str("\nnetworks:\n");
    for (cname, n) in &project.networks {
        let mut fields: Vec<String> = Vec::new();
        // Someone else's network: the lab joins it by its engine name and
        // says nothing of its settings.
        if let Some(engine_name) = &n.external {
            fields.push("external: true".into());
            if engine_name != &names.networks[cname] {
                fields.push(format!("name: {}", quoted(engine_name)));
            }
            let _ = writeln!(y, "  {}: {}", names.networks[cname], flow(&fields));
            continue;
        }
        if n.internal {
            fields.push("internal: true".into());
        }
        if let Some(s) = &n.subnet4 {
            fields.push(format!("subnet: {}", quoted(s)));
        }
        if let Some(g) = &n.gateway4 {
            fields.push(format!("gateway: {}", quoted(g)));
        }
        if n.ipv6 {
            fields.push("ipv6: true".into());
        }
        if let Some(s) = &n.subnet6 {
            fields.push(format!("subnet6: {}", quoted(s)));
        }
        if let Some(g) = &n.gateway6 {
            fields.push(format!("gateway6: {}", quoted(g)));
        }
        if n.icc == Some(false) {
            fields.push("icc: false".into());
        }
        if let Some(m) = &n.mtu {
            fields.push(format!("mtu: {m}"));
        }
        let _ = writeln!(y, "  {}: {}", names.networks[cname], flow(&fields));
    }
    if project.networks.is_empty() {
        y.truncate(y.len() - "networks:\n".len());
        y.push_str("networks: {}\n");
    }
    y.push_str("\nnodes:\n");
    for (cname, s) in &project.services {
        let node = &names.nodes[cname];
        if cname != node && !alias_ok(cname) {
            msgs.warn(
                s.at,
                format!("service `{cname}` is node `{node}` in the lab: `{cname}` is no name a lab node or alias can have"),
            );
        }
        let _ = writeln!(y, "  {node}:");
        if options.keep_images
            && let Some(image) = &s.image
        {
            let _ = writeln!(y, "    image: {}", quoted(image));
        }
        match &s.mode {
            Some((Mode::Host, _)) => y.push_str("    network_mode: host\n"),
            Some((Mode::Shared(m), at)) => match owner_of(project, m) {
                // A sidecar: in the namespace of the service at the end of
                // the chain (the lab takes no sidecar of a sidecar).
                Some(owner) => {
                    let _ = writeln!(
                        y,
                        "    network_mode: {}",
                        quoted(&format!("container:{}", names.nodes[owner]))
                    );
                    if !s.ports.is_empty() {
                        msgs.warn(*at, format!("`{cname}` shares `{owner}`'s namespace and publishes ports: Docker refuses both at once (conflicting options); its `ports` are left out"));
                    }
                }
                None => y.push_str("    network_mode: none\n"),
            },
            Some((Mode::None, _)) => y.push_str("    network_mode: none\n"),
            Some((Mode::Bridge, _)) => y.push_str("    network_mode: bridge\n"),
            None => {
                y.push_str("    networks:\n");
                for a in &s.networks {
                    let mut aliases: Vec<String> = a
                        .aliases
                        .iter()
                        .filter(|al| alias_ok(al))
                        .cloned()
                        .collect();
                    if cname != node && alias_ok(cname) && !aliases.contains(cname) {
                        aliases.push(cname.clone());
                    }
                    for bad in a.aliases.iter().filter(|al| !alias_ok(al)) {
                        msgs.warn(
                            a.at,
                            format!("alias `{bad}` is not a name the lab can carry; left out"),
                        );
                    }
                    let mut fields = Vec::new();
                    if !aliases.is_empty() {
                        fields.push(format!(
                            "aliases: [{}]",
                            aliases
                                .iter()
                                .map(|a| quoted(a))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    if let Some(ip) = &a.ipv4 {
                        fields.push(format!("ipv4: {}", quoted(ip)));
                    }
                    if let Some(ip) = &a.ipv6 {
                        fields.push(format!("ipv6: {}", quoted(ip)));
                    }
                    let _ = writeln!(y, "      {}: {}", names.networks[&a.network], flow(&fields));
                }
            }
        }
        super::hosts::write(&mut y, cname, s, msgs);
        super::links::write(&mut y, cname, s, project, &names, msgs);
        let agent = !(options.keep_images && s.image.is_some());
        let shared = matches!(&s.mode, Some((Mode::Shared(_), _)));
        unserved(cname, s, agent, options, msgs);
        if agent {
            let mut serve: Vec<(u16, Transport)> = Vec::new();
            for (p, _) in &s.ports {
                serve.extend(p.container_ports.iter().map(|c| (c, p.transport)));
            }
            for (r, t, _) in &s.expose {
                serve.extend(r.iter().map(|c| (c, *t)));
            }
            // What the service's own image EXPOSEs, where the engine has it:
            // the real service listens there too.
            if let Some(exposed) = s.image.as_ref().and_then(|i| options.exposed.get(i)) {
                serve.extend(exposed.iter().copied());
            }
            let mut seen = Vec::new();
            serve.retain(|x| {
                let new = !seen.contains(x);
                seen.push(*x);
                new
            });
            if serve.len() > MAX_SERVED {
                msgs.finding(
                    s.at,
                    format!(
                        "`{cname}` declares {} ports; the agent serves the first {MAX_SERVED}, so nothing in the lab serves {}",
                        serve.len(),
                        ports_words(&serve[MAX_SERVED..])
                    ),
                );
                serve.truncate(MAX_SERVED);
            }
            if !serve.is_empty() {
                let list: Vec<String> = serve
                    .iter()
                    .map(|(p, t)| format!("{}:{p}", t.as_str()))
                    .collect();
                let _ = writeln!(y, "    serve: [{}]", list.join(", "));
            }
        }
        if !s.ports.is_empty() && !shared {
            let list: Vec<String> = s
                .ports
                .iter()
                .map(|(p, _)| quoted(&port_text(p, options.any_host_port)))
                .collect();
            let _ = writeln!(y, "    ports: [{}]", list.join(", "));
        }
    }
    y
}

/// `80/tcp, 53/udp`.
fn ports_words(ports: &[(u16, Transport)]) -> String {
    ports
        .iter()
        .map(|(p, t)| format!("{p}/{}", t.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Findings for ports a service declares that nothing in the lab serves:
/// `ports` of a service in network mode host (Docker discards them) or
/// none (nothing can reach it); with `--keep-images`, a port its image
/// does not EXPOSE, where the engine has the image (`Options::exposed`).
fn unserved(
    cname: &str,
    s: &super::read::Service,
    agent: bool,
    options: &Options,
    msgs: &mut Messages,
) {
    match &s.mode {
        Some((Mode::Host, _)) => {
            for (p, at) in &s.ports {
                msgs.finding(
                    *at,
                    format!(
                        "`{cname}` has network mode host and publishes {}/{}: Docker discards a host-mode container's `ports`, so nothing is published there",
                        p.container_ports,
                        p.transport.as_str()
                    ),
                );
            }
            return;
        }
        Some((Mode::None, _)) => {
            for (p, at) in &s.ports {
                msgs.finding(
                    *at,
                    format!(
                        "`{cname}` has network mode none and publishes {}/{}: a container with no network serves nothing",
                        p.container_ports,
                        p.transport.as_str()
                    ),
                );
            }
            return;
        }
        _ => {}
    }
    if agent {
        return;
    }
    let Some(image) = &s.image else { return };
    let Some(exposed) = options.exposed.get(image) else {
        return;
    };
    let declared = s
        .ports
        .iter()
        .map(|(p, at)| (p.container_ports, p.transport, *at, "ports"))
        .chain(s.expose.iter().map(|(r, t, at)| (*r, *t, *at, "expose")));
    for (range, transport, at, key) in declared {
        let missing: Vec<(u16, Transport)> = range
            .iter()
            .filter(|p| !exposed.contains(&(*p, transport)))
            .map(|p| (p, transport))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let has = if exposed.is_empty() {
            "no port".to_owned()
        } else {
            let mut list = exposed.clone();
            list.sort_unstable_by_key(|(p, t)| (*p, t.as_str()));
            ports_words(&list)
        };
        msgs.finding(
            at,
            format!(
                "`{cname}` declares {} in `{key}`, but its image `{image}` EXPOSEs {has}: nothing in the lab is known to serve it",
                ports_words(&missing)
            ),
        );
    }
}

/// The `findings:` section of the lab: each finding with its compose line.
pub fn findings_section(messages: &[super::Message], files: &[String]) -> String {
    let mut y = String::new();
    for f in messages.iter().filter(|m| m.level == Level::Finding) {
        if y.is_empty() {
            y.push_str("\nfindings:\n");
        }
        let file = files.get(f.at.file).map(String::as_str).unwrap_or("?");
        let at = if f.at.line == 0 {
            format!("{file}:1:1")
        } else {
            format!("{file}:{}", f.at)
        };
        let _ = writeln!(y, "  - at: {}", quoted(&at));
        let _ = writeln!(y, "    text: {}", quoted(&one_line(&f.text)));
    }
    y
}

fn flow(fields: &[String]) -> String {
    if fields.is_empty() {
        "{}".into()
    } else {
        format!("{{ {} }}", fields.join(", "))
    }
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One implied check as a lab file writes it.
pub fn check_line(kind: &CheckKind) -> Option<String> {
    let target = |t: &crate::lab::Target| match &t.host {
        TargetHost::Node {
            node,
            network: None,
        } => format!("{node}:{}", t.port),
        TargetHost::Node {
            node,
            network: Some(n),
        } => format!("{node}@{n}:{}", t.port),
        TargetHost::Name(name) => format!("{name}:{}", t.port),
        TargetHost::Ip(ip) => quoted(&format!("{ip}:{}", t.port)),
    };
    let source = |s: &Source| s.to_string();
    Some(match kind {
        CheckKind::Dns {
            from, name, expect, ..
        } => {
            let e = match expect {
                DnsExpect::Unresolved => "unresolved".to_owned(),
                DnsExpect::Resolves => "resolves".to_owned(),
                DnsExpect::Exactly(list) => format!(
                    "[{}]",
                    list.iter()
                        .map(|a| match a {
                            DnsAnswer::Node(n) => n.clone(),
                            DnsAnswer::Ip(ip) => quoted(&ip.to_string()),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let from = Source::Node(from.clone());
            format!("dns: {{ from: {from}, name: {name}, expect: {e} }}")
        }
        CheckKind::Tcp { from, to, expect } => format!(
            "tcp: {{ from: {}, to: {}, expect: {} }}",
            source(from),
            target(to),
            serde_json::to_value(expect).ok()?.as_str()?
        ),
        CheckKind::Udp { from, to, expect } => format!(
            "udp: {{ from: {}, to: {}, expect: {} }}",
            source(from),
            target(to),
            serde_json::to_value(expect).ok()?.as_str()?
        ),
        CheckKind::Port {
            node,
            port,
            transport,
            host_ip,
            host_port,
            expect,
            ..
        } => {
            let mut s = format!("port: {{ node: {node}, port: {port}");
            if *transport == Transport::Udp {
                s.push_str("/udp");
            }
            if let Some(ip) = host_ip {
                let _ = write!(s, ", host_ip: {}", quoted(&ip.to_string()));
            }
            if let Some(h) = host_port {
                let _ = write!(s, ", host_port: {h}");
            }
            let _ = write!(
                s,
                ", expect: {} }}",
                serde_json::to_value(expect).ok()?.as_str()?
            );
            s
        }
        CheckKind::Egress { node, expect } => {
            format!("egress: {{ node: {node}, expect: {} }}", expect.as_str())
        }
        _ => return None,
    })
}

/// The topology with its implied checks appended.
pub fn with_checks(mut y: String, checks: &[Implied]) -> String {
    if checks.is_empty() {
        return y;
    }
    y.push_str("\nchecks:\n");
    for c in checks {
        if let Some(mut line) = check_line(&c.kind) {
            if let Some(req) = &c.requires.engine
                && let Some(open) = line.strip_suffix(" }")
            {
                line = format!("{open}, requires: {{ engine: \"{req}\" }} }}");
            }
            let _ = writeln!(y, "  # {}", one_line(&c.why));
            let _ = writeln!(y, "  - {line}");
        }
    }
    y
}

/// The service whose namespace `mode` (`service:X`) ends in, following a
/// chain of `service:` modes; `None` for `container:` (outside the project)
/// or a loop.
fn owner_of<'a>(project: &'a super::read::Project, mode: &str) -> Option<&'a str> {
    let mut name = mode.strip_prefix("service:")?;
    for _ in 0..project.services.len() {
        let (key, service) = project.services.get_key_value(name)?;
        match &service.mode {
            Some((Mode::Shared(next), _)) => name = next.strip_prefix("service:")?,
            _ => return Some(key.as_str()),
        }
    }
    None
}
