//! Validation: a `RawLab` as written becomes a `Lab`, or a list of every
//! problem found, each pointing at its line and column.
//!
//! Validation never stops at the first problem: a user fixing a lab file
//! should see all of them at once (the shape of ripgrep's config parsing).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::time::Duration;

use indexmap::IndexMap;
use ipnet::Ipv4Net;
use serde_saphyr::Location;

use super::diagnostic::{Diagnostic, Pos, Severity};
use super::model::*;
use super::raw::*;
use crate::agent::protocol::{Listener, RecordType};

/// Default deadline of a check without `timeout:`.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(300);

/// Names netlab gives special meaning to: `host` is the netlab process in
/// `from:`, and Docker's own networks are chosen with `network_mode:`.
const RESERVED_NODE_NAMES: &[&str] = &["host"];
const RESERVED_NETWORK_NAMES: &[&str] = &["bridge", "host", "none", "default"];

const CHECK_KINDS: &[&str] = &["dns", "tcp", "udp", "port", "http", "tls", "mtu"];

pub struct Validation {
    pub lab: Option<Lab>,
    pub diagnostics: Vec<Diagnostic>,
}

/// `file_stem` names the lab when the file has no `name:`.
pub fn validate(raw: RawLab, file_stem: Option<&str>) -> Validation {
    let mut v = Validator::default();
    let lab = v.lab(raw, file_stem);
    let has_errors = v.diags.iter().any(|d| d.severity == Severity::Error);
    Validation {
        lab: if has_errors { None } else { lab },
        diagnostics: v.diags,
    }
}

#[derive(Default)]
struct Validator {
    diags: Vec<Diagnostic>,
}

fn pos(loc: &Location) -> Option<Pos> {
    // serde-saphyr reports line 0 when it has no location (e.g. defaults).
    (loc.line() > 0).then(|| Pos::from(loc))
}

/// `[a-z0-9][a-z0-9-]{0,max-1}`; DNS labels additionally may not end in `-`.
fn is_valid_name(name: &str, max: usize, dns_label: bool) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !(dns_label && name.ends_with('-'))
}

fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

impl Validator {
    fn error(&mut self, loc: &Location, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            pos: pos(loc),
            hint,
        });
    }

    fn warning(&mut self, loc: &Location, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic {
            severity: Severity::Warning,
            message: message.into(),
            pos: pos(loc),
            hint,
        });
    }

    fn lab(&mut self, raw: RawLab, file_stem: Option<&str>) -> Option<Lab> {
        if let Some(version) = &raw.version
            && version.value != 1
        {
            self.error(
                &version.referenced,
                format!("unsupported lab file version {}", version.value),
                Some("this netlab reads version 1".into()),
            );
        }
        let name = match &raw.name {
            Some(n) => {
                if !is_valid_name(&n.value, 40, false) {
                    self.error(
                        &n.referenced,
                        format!("invalid lab name `{}`", n.value),
                        Some("a lab name is 1-40 of a-z, 0-9 and `-`, starting with a letter or digit".into()),
                    );
                }
                n.value.clone()
            }
            None => {
                let stem = file_stem.unwrap_or_default().to_owned();
                if !is_valid_name(&stem, 40, false) {
                    self.diags.push(Diagnostic {
                        severity: Severity::Error,
                        message: format!(
                            "the lab has no `name:` and its file name `{stem}` is not a valid lab name"
                        ),
                        pos: None,
                        hint: Some("add `name: my-lab` (1-40 of a-z, 0-9 and `-`)".into()),
                    });
                }
                stem
            }
        };

        let networks = self.networks(&raw.networks);
        let nodes = self.nodes(&raw.nodes, &networks);
        let checks = self.checks(&raw.checks, &nodes, &networks);
        Some(Lab {
            name,
            description: raw
                .description
                .map(|d| d.trim().to_owned())
                .unwrap_or_default(),
            networks,
            nodes,
            checks,
        })
    }

    fn networks(&mut self, raw: &IndexMap<Span<String>, RawNetwork>) -> IndexMap<String, Network> {
        let mut out = IndexMap::new();
        let mut subnets: Vec<(Ipv4Net, String)> = Vec::new();
        for (key, net) in raw {
            let name = key.value.clone();
            if RESERVED_NETWORK_NAMES.contains(&name.as_str()) {
                self.error(
                    &key.referenced,
                    format!("network name `{name}` is reserved"),
                    Some(format!(
                        "Docker's own networks are chosen per node with `network_mode: {}`",
                        if name == "default" { "bridge" } else { &name }
                    )),
                );
            } else if !is_valid_name(&name, 40, true) {
                self.error(
                    &key.referenced,
                    format!("invalid network name `{name}`"),
                    Some("a network name is 1-40 of a-z, 0-9 and `-`, not ending in `-`".into()),
                );
            }
            let driver = match net.driver.as_ref().map(|d| (d, d.value.as_str())) {
                None | Some((_, "bridge")) => Driver::Bridge,
                Some((_, "overlay")) => Driver::Overlay {
                    attachable: net.attachable.as_ref().is_none_or(|a| a.value),
                    encrypted: net.encrypted.as_ref().is_some_and(|e| e.value),
                },
                Some((d, other)) => {
                    self.error(
                        &d.referenced,
                        format!("unknown network driver `{other}`"),
                        did_you_mean(other, ["bridge", "overlay"])
                            .or_else(|| Some("expected `bridge` or `overlay`".into())),
                    );
                    Driver::Bridge
                }
            };
            if driver == Driver::Bridge {
                for (field, value) in [
                    ("attachable", &net.attachable),
                    ("encrypted", &net.encrypted),
                ] {
                    if let Some(v) = value {
                        self.error(
                            &v.referenced,
                            format!("`{field}` applies only to overlay networks"),
                            Some("add `driver: overlay`".into()),
                        );
                    }
                }
            } else if let Some(icc) = &net.icc {
                self.error(
                    &icc.referenced,
                    "`icc` applies only to bridge networks",
                    None,
                );
            }
            if let Driver::Overlay {
                attachable: false, ..
            } = driver
                && let Some(a) = &net.attachable
            {
                self.error(
                    &a.referenced,
                    "lab nodes are plain containers, so an overlay network must be attachable",
                    Some("remove `attachable: false`".into()),
                );
            }
            let subnet = net.subnet.as_ref().and_then(|s| self.subnet(s));
            if let Some(sn) = subnet {
                if let Some((_, other)) = subnets
                    .iter()
                    .find(|(o, _)| o.contains(&sn.network()) || sn.contains(&o.network()))
                {
                    let loc = net
                        .subnet
                        .as_ref()
                        .map(|s| s.referenced)
                        .unwrap_or(key.referenced);
                    self.error(
                        &loc,
                        format!("subnet {sn} of network `{name}` overlaps the subnet of network `{other}`"),
                        Some("give each network its own address range".into()),
                    );
                }
                subnets.push((sn, name.clone()));
            }
            let gateway = net.gateway.as_ref().and_then(|g| {
                let Ok(ip) = Ipv4Addr::from_str(&g.value) else {
                    self.error(
                        &g.referenced,
                        format!("`{}` is not an IPv4 address", g.value),
                        None,
                    );
                    return None;
                };
                match subnet {
                    None if net.subnet.is_none() => {
                        self.error(
                            &g.referenced,
                            "a gateway needs a subnet",
                            Some("add `subnet:` to this network".into()),
                        );
                        None
                    }
                    None => None,
                    Some(sn) => {
                        if !usable_host(sn, ip) {
                            self.error(
                                &g.referenced,
                                format!("gateway {ip} is not a usable address in subnet {sn}"),
                                Some(format!(
                                    "pick an address between {} and {}",
                                    first_host(sn),
                                    last_host(sn)
                                )),
                            );
                        }
                        Some(ip)
                    }
                }
            });
            if let Some(mtu) = &net.mtu
                && !(68..=65535).contains(&mtu.value)
            {
                self.error(
                    &mtu.referenced,
                    format!("MTU {} is out of range", mtu.value),
                    Some("an IPv4 MTU is between 68 and 65535".into()),
                );
            }
            out.insert(
                name.clone(),
                Network {
                    name,
                    driver,
                    internal: net.internal.as_ref().is_some_and(|i| i.value),
                    subnet,
                    gateway,
                    icc: net.icc.as_ref().is_none_or(|i| i.value),
                    mtu: net.mtu.as_ref().map(|m| m.value),
                    options: net
                        .options
                        .iter()
                        .map(|(k, v)| (k.clone(), v.0.clone()))
                        .collect(),
                },
            );
        }
        out
    }

    fn subnet(&mut self, s: &Span<String>) -> Option<Ipv4Net> {
        match Ipv4Net::from_str(&s.value) {
            Ok(net) if net.trunc() != net => {
                self.error(
                    &s.referenced,
                    format!("subnet `{}` has host bits set", s.value),
                    Some(format!("did you mean `{}`?", net.trunc())),
                );
                None
            }
            Ok(net) if net.prefix_len() > 30 => {
                self.error(
                    &s.referenced,
                    format!("subnet `{}` is too small for containers", s.value),
                    Some("use a prefix of /30 or shorter".into()),
                );
                None
            }
            Ok(net) => Some(net),
            Err(_) => {
                self.error(
                    &s.referenced,
                    format!("`{}` is not an IPv4 CIDR", s.value),
                    Some("write it as address/prefix, e.g. 10.213.7.0/24".into()),
                );
                None
            }
        }
    }

    fn nodes(
        &mut self,
        raw: &IndexMap<Span<String>, RawNode>,
        networks: &IndexMap<String, Network>,
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
        let mut static_ips: HashMap<Ipv4Addr, String> = HashMap::new();
        let mut host_bindings: HashMap<(Option<IpAddr>, u16, Transport), String> = HashMap::new();
        for (key, node) in raw {
            let name = key.value.clone();
            if RESERVED_NODE_NAMES.contains(&name.as_str()) {
                self.error(
                    &key.referenced,
                    format!("node name `{name}` is reserved"),
                    Some("`host` means the machine netlab runs on, in `from:` and `to:`".into()),
                );
            } else if !is_valid_name(&name, 63, true) {
                self.error(
                    &key.referenced,
                    format!("invalid node name `{name}`"),
                    Some(
                        "a node name is a DNS label: 1-63 of a-z, 0-9 and `-`, not ending in `-`"
                            .into(),
                    ),
                );
            }
            let attachment = self.attachment(&name, key, node, networks, &mut static_ips);
            let ports: Vec<PortMapping> = node
                .ports
                .iter()
                .filter_map(|p| {
                    let mapping = parse_port_mapping(&p.value.0)
                        .map_err(|e| self.error(&p.referenced, format!("invalid port mapping `{}`: {e}", p.value), Some("compose short syntax: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/udp], e.g. \"127.0.0.1:8080:80\"".into())))
                        .ok()?;
                    if let Some(hp) = mapping.host_ports {
                        for port in hp.iter() {
                            let key_ = (mapping.host_ip, port, mapping.transport);
                            if let Some(other) = host_bindings.insert(key_, name.clone()) {
                                self.error(&p.referenced, format!("host port {port}/{} is already published by node `{other}`", mapping.transport.as_str()), None);
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
            out.insert(
                name.clone(),
                Node {
                    name,
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
        out
    }

    fn attachment(
        &mut self,
        node_name: &str,
        key: &Span<String>,
        node: &RawNode,
        networks: &IndexMap<String, Network>,
        static_ips: &mut HashMap<Ipv4Addr, String>,
    ) -> Attachment {
        if let Some(mode) = &node.network_mode {
            let parsed = match mode.value.as_str() {
                "host" => Some(NetworkMode::Host),
                "none" => Some(NetworkMode::None),
                "bridge" | "default" => Some(NetworkMode::Bridge),
                other => {
                    self.error(
                        &mode.referenced,
                        format!("unknown network_mode `{other}`"),
                        did_you_mean(other, ["host", "none", "bridge"])
                            .or_else(|| Some("expected host, none or bridge".into())),
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
                if !is_valid_name(&alias.value, 63, true) {
                    self.error(
                        &alias.referenced,
                        format!("invalid alias `{}`", alias.value),
                        Some("an alias is a DNS label: 1-63 of a-z, 0-9 and `-`".into()),
                    );
                }
            }
            let ipv4 = settings.ipv4.as_ref().and_then(|ip| {
                let Ok(addr) = Ipv4Addr::from_str(&ip.value) else {
                    self.error(&ip.referenced, format!("`{}` is not an IPv4 address", ip.value), None);
                    return None;
                };
                match network.subnet {
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
                        if let Some(other) = static_ips.insert(addr, node_name.to_owned()) {
                            self.error(&ip.referenced, format!("{addr} is already the address of node `{other}`"), None);
                        }
                    }
                }
                Some(addr)
            });
            list.push(NetworkAttachment {
                network: net_name.value.clone(),
                aliases: settings.aliases.iter().map(|a| a.value.clone()).collect(),
                ipv4,
            });
        }
        Attachment::Networks(list)
    }

    fn checks(
        &mut self,
        raw: &[Span<RawCheck>],
        nodes: &IndexMap<String, Node>,
        networks: &IndexMap<String, Network>,
    ) -> Vec<Check> {
        let mut out = Vec::new();
        for entry in raw {
            let mut kinds = entry.value.0.iter();
            let Some((kind, body)) = kinds.next() else {
                self.error(
                    &entry.referenced,
                    "empty check",
                    Some(format!("a check is one of: {}", CHECK_KINDS.join(", "))),
                );
                continue;
            };
            if let Some((extra, _)) = kinds.next() {
                self.error(
                    &extra.referenced,
                    format!(
                        "a check has exactly one kind, found `{}` and `{}`",
                        kind.value, extra.value
                    ),
                    Some("start a new list item (`- `) for each check".into()),
                );
                continue;
            }
            let cx = CheckCx {
                kind,
                body,
                nodes,
                networks,
            };
            if let Some(check) = self.check(&cx) {
                out.push(check);
            }
        }
        out
    }

    fn check(&mut self, cx: &CheckCx) -> Option<Check> {
        let kind = cx.kind.value.as_str();
        if !CHECK_KINDS.contains(&kind) {
            self.error(
                &cx.kind.referenced,
                format!("unknown check kind `{kind}`"),
                did_you_mean(kind, CHECK_KINDS.iter().copied())
                    .or_else(|| Some(format!("a check is one of: {}", CHECK_KINDS.join(", ")))),
            );
            return None;
        }
        let allowed: &[&str] = match kind {
            "dns" => &[
                "title", "timeout", "retry", "from", "name", "type", "expect",
            ],
            "port" => &[
                "title",
                "name",
                "timeout",
                "retry",
                "node",
                "port",
                "host_ip",
                "host_port",
                "expect",
            ],
            "mtu" => &[
                "title", "name", "timeout", "retry", "node", "network", "expect",
            ],
            "tls" => &[
                "title", "timeout", "retry", "from", "to", "name", "ca", "expect",
            ],
            "http" => &[
                "title", "name", "timeout", "retry", "from", "url", "method", "body", "expect",
            ],
            "tcp" => &[
                "title",
                "name",
                "timeout",
                "retry",
                "from",
                "to",
                "connections",
                "expect",
            ],
            _ => &["title", "name", "timeout", "retry", "from", "to", "expect"],
        };
        for (field, loc) in cx.body.present_fields() {
            if !allowed.contains(&field) {
                self.error(
                    loc,
                    format!("field `{field}` does not apply to a {kind} check"),
                    Some(format!("a {kind} check takes: {}", allowed.join(", "))),
                );
            }
        }
        let timeout = match &cx.body.timeout {
            None => DEFAULT_CHECK_TIMEOUT,
            Some(t) => match humantime::parse_duration(&t.value) {
                Ok(d) if !d.is_zero() && d <= MAX_CHECK_TIMEOUT => d,
                Ok(_) => {
                    self.error(
                        &t.referenced,
                        format!("timeout `{}` is out of range", t.value),
                        Some("between 1ms and 5m".into()),
                    );
                    DEFAULT_CHECK_TIMEOUT
                }
                Err(_) => {
                    self.error(
                        &t.referenced,
                        format!("`{}` is not a duration", t.value),
                        Some("e.g. 500ms, 2s, 1m".into()),
                    );
                    DEFAULT_CHECK_TIMEOUT
                }
            },
        };
        let retry = cx.body.retry.as_ref().is_some_and(|r| r.value);
        let checked_kind = match kind {
            "dns" => self.dns_check(cx),
            "tcp" if cx.body.connections.is_some() => self.spread_check(cx),
            "tcp" => self.transport_check(cx, Transport::Tcp),
            "mtu" => self.mtu_check(cx),
            "tls" => self.tls_check(cx),
            "http" => self.http_check(cx),
            "port" => self.port_check(cx),
            _ => self.transport_check(cx, Transport::Udp),
        }?;
        let title = cx
            .body
            .title
            .as_ref()
            .or(if kind == "dns" || kind == "tls" {
                None
            } else {
                cx.body.name.as_ref()
            })
            .map(|t| t.value.clone())
            .unwrap_or_else(|| default_title(&checked_kind));
        Some(Check {
            title,
            timeout,
            retry,
            kind: checked_kind,
        })
    }

    fn required<'a>(
        &mut self,
        cx: &CheckCx<'a>,
        field: &'a Option<Span<String>>,
        name: &str,
    ) -> Option<&'a Span<String>> {
        if field.is_none() {
            self.error(
                &cx.kind.referenced,
                format!("{} check needs `{name}`", cx.kind.value),
                None,
            );
        }
        field.as_ref()
    }

    fn source_of(&mut self, cx: &CheckCx, allow_host: bool) -> Option<Source> {
        let from = self.required(cx, &cx.body.from, "from")?;
        if from.value == "host" {
            if allow_host {
                return Some(Source::Host);
            }
            self.error(
                &from.referenced,
                format!("a {} check cannot run from the host", cx.kind.value),
                Some("name a node of the lab".into()),
            );
            return None;
        }
        // Any image will do: a node of another image gets a probe helper.
        self.node_ref(cx, from)?;
        Some(Source::Node(from.value.clone()))
    }

    fn node_ref<'n>(&mut self, cx: &CheckCx<'n>, name: &Span<String>) -> Option<&'n Node> {
        let node = cx.nodes.get(&name.value);
        if node.is_none() {
            self.error(
                &name.referenced,
                format!("undefined node `{}`", name.value),
                did_you_mean(&name.value, cx.nodes.keys().map(String::as_str)),
            );
        }
        node
    }

    fn expect_word(&mut self, cx: &CheckCx, words: &[&str]) -> Option<String> {
        let Some(expect) = &cx.body.expect else {
            self.error(
                &cx.kind.referenced,
                format!("{} check needs `expect`", cx.kind.value),
                Some(format!("one of: {}", words.join(", "))),
            );
            return None;
        };
        match &expect.value {
            RawExpect::Word(w) if words.contains(&w.as_str()) => Some(w.clone()),
            RawExpect::Word(w) => {
                self.error(
                    &expect.referenced,
                    format!("unknown expectation `{w}` for a {} check", cx.kind.value),
                    did_you_mean(w, words.iter().copied())
                        .or_else(|| Some(format!("one of: {}", words.join(", ")))),
                );
                None
            }
            RawExpect::List(_) => {
                self.error(
                    &expect.referenced,
                    format!("a {} check expects one word, not a list", cx.kind.value),
                    Some(format!("one of: {}", words.join(", "))),
                );
                None
            }
            RawExpect::Map(keys) => {
                let keys: Vec<&str> = keys.keys().map(|k| k.value.as_str()).collect();
                self.error(
                    &expect.referenced,
                    format!(
                        "a {} check expects one word, not a map (with {})",
                        cx.kind.value,
                        keys.join(", ")
                    ),
                    Some(format!("one of: {}", words.join(", "))),
                );
                None
            }
        }
    }

    fn dns_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let from = self.source_of(cx, false);
        let name = self
            .required(cx, &cx.body.name, "name")
            .map(|n| n.value.clone());
        let record = match &cx.body.record_type {
            None => Some(RecordType::A),
            Some(t) => match t.value.to_ascii_uppercase().as_str() {
                "A" => Some(RecordType::A),
                "AAAA" => Some(RecordType::Aaaa),
                _ => {
                    self.error(
                        &t.referenced,
                        format!("unsupported DNS record type `{}`", t.value),
                        Some("A or AAAA".into()),
                    );
                    None
                }
            },
        };
        let expect = match &cx.body.expect {
            None => {
                self.error(
                    &cx.kind.referenced,
                    "dns check needs `expect`",
                    Some("a list of node names or addresses, `resolves`, or `unresolved`".into()),
                );
                None
            }
            Some(e) => match &e.value {
                RawExpect::Word(w) if w == "resolves" => Some(DnsExpect::Resolves),
                RawExpect::Word(w) if w == "unresolved" => Some(DnsExpect::Unresolved),
                RawExpect::Word(w) => {
                    self.error(
                        &e.referenced,
                        format!("unknown expectation `{w}` for a dns check"),
                        Some(match closest(w, ["resolves", "unresolved"]) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None => format!("write a list for the exact answers: [{w}]"),
                        }),
                    );
                    None
                }
                RawExpect::List(items) => {
                    let mut answers = Vec::new();
                    for item in items {
                        if let Ok(ip) = IpAddr::from_str(&item.value.0) {
                            answers.push(DnsAnswer::Ip(ip));
                        } else if cx.nodes.contains_key(&item.value.0) {
                            answers.push(DnsAnswer::Node(item.value.0.clone()));
                        } else {
                            self.error(
                                &item.referenced,
                                format!(
                                    "`{}` is neither a node of the lab nor an IP address",
                                    item.value
                                ),
                                did_you_mean(&item.value.0, cx.nodes.keys().map(String::as_str)),
                            );
                        }
                    }
                    Some(DnsExpect::Exactly(answers))
                }
                RawExpect::Map(_) => {
                    self.error(
                        &e.referenced,
                        "a dns check expects a list, `resolves` or `unresolved`",
                        None,
                    );
                    None
                }
            },
        };
        Some(CheckKind::Dns {
            from: match from? {
                Source::Node(n) => n,
                Source::Host => return None,
            },
            name: name?,
            record: record?,
            expect: expect?,
        })
    }

    fn transport_check(&mut self, cx: &CheckCx, transport: Transport) -> Option<CheckKind> {
        let from = self.source_of(cx, true);
        let to = self.target_of(cx);
        let words: &[&str] = match transport {
            Transport::Tcp => &["open", "refused", "blocked"],
            Transport::Udp => &["open", "blocked"],
        };
        let expect = self.expect_word(cx, words);
        let (from, to, expect) = (from?, to?, expect?);
        if expect == "open"
            && let TargetHost::Node { node, .. } = &to.host
            && let (Some(n), Some(span)) = (cx.nodes.get(node), &cx.body.to)
        {
            self.require_identity(n, &span.referenced, "open");
        }
        Some(match transport {
            Transport::Tcp => CheckKind::Tcp {
                from,
                to,
                expect: match expect.as_str() {
                    "open" => TcpExpect::Open,
                    "refused" => TcpExpect::Refused,
                    _ => TcpExpect::Blocked,
                },
            },
            Transport::Udp => CheckKind::Udp {
                from,
                to,
                expect: if expect == "open" {
                    UdpExpect::Open
                } else {
                    UdpExpect::Blocked
                },
            },
        })
    }

    fn tls_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let from = self.source_of(cx, true);
        let to = self.target_of(cx);
        let trust = match &cx.body.ca {
            None => Some(Trust::Lab),
            Some(ca) if ca.value == "lab" => Some(Trust::Lab),
            Some(ca) if ca.value == "none" => Some(Trust::Nothing),
            Some(ca) => {
                self.error(
                    &ca.referenced,
                    format!("unknown ca `{}`", ca.value),
                    Some("`lab` (the lab's CA, the default) or `none` (trust nothing)".into()),
                );
                None
            }
        };
        let expect = self.expect_word(cx, &["verified", "untrusted", "wrong-name", "no-tls"]);
        let (from, to, trust, expect) = (from?, to?, trust?, expect?);
        let name = match (&cx.body.name, &to.host) {
            (Some(n), _) => n.value.clone(),
            (None, TargetHost::Node { node, .. }) => node.clone(),
            (None, TargetHost::Ip(_)) => {
                self.error(
                    &cx.kind.referenced,
                    "a tls check to an address needs `name:`, the server name to present",
                    None,
                );
                return None;
            }
        };
        let expect = match expect.as_str() {
            "verified" => TlsExpect::Verified,
            "untrusted" => TlsExpect::Untrusted,
            "wrong-name" => TlsExpect::WrongName,
            _ => TlsExpect::NoTls,
        };
        Some(CheckKind::Tls {
            from,
            to,
            name,
            trust,
            expect,
        })
    }

    fn http_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let from = self.source_of(cx, true);
        let url =
            self.required(cx, &cx.body.url, "url")
                .and_then(|u| match url::Url::parse(&u.value) {
                    Ok(parsed)
                        if matches!(parsed.scheme(), "http" | "https")
                            && parsed.host_str().is_some() =>
                    {
                        Some(u.value.clone())
                    }
                    Ok(_) => {
                        self.error(
                            &u.referenced,
                            format!("`{}` is not an http or https URL", u.value),
                            None,
                        );
                        None
                    }
                    Err(e) => {
                        self.error(
                            &u.referenced,
                            format!("`{}` is not a URL: {e}", u.value),
                            Some("e.g. http://web/echo".into()),
                        );
                        None
                    }
                });
        let method = match &cx.body.method {
            None => Some("GET".to_owned()),
            Some(m) if !m.value.is_empty() && m.value.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(m.value.to_ascii_uppercase())
            }
            Some(m) => {
                self.error(
                    &m.referenced,
                    format!("`{}` is not an HTTP method", m.value),
                    Some("e.g. GET, POST, PUT".into()),
                );
                None
            }
        };
        let expect = self.http_expect(cx);
        Some(CheckKind::Http {
            from: from?,
            url: url?,
            method: method?,
            body: cx.body.body.as_ref().map(|b| b.value.clone()),
            expect: expect?,
        })
    }

    fn http_expect(&mut self, cx: &CheckCx) -> Option<HttpExpect> {
        const KEYS: &[&str] = &[
            "status",
            "redirects",
            "final_url",
            "final_method",
            "body_kept",
            "from_node",
            "session",
        ];
        let Some(e) = &cx.body.expect else {
            self.error(
                &cx.kind.referenced,
                "http check needs `expect`",
                Some(format!("a map of: {}", KEYS.join(", "))),
            );
            return None;
        };
        let RawExpect::Map(fields) = &e.value else {
            self.error(
                &e.referenced,
                "an http check expects a map",
                Some("e.g. expect: { status: 200, redirects: [303], final_method: GET }".into()),
            );
            return None;
        };
        let mut out = HttpExpect::default();
        let mut ok = !fields.is_empty();
        if fields.is_empty() {
            self.error(
                &e.referenced,
                "an empty expectation checks nothing",
                Some(format!("one of: {}", KEYS.join(", "))),
            );
        }
        let status = |v: &serde_json::Value| {
            v.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (100..=999).contains(n))
        };
        for (key, value) in fields {
            let mut bad = |v: &mut Self, what: &str| {
                v.error(
                    &key.referenced,
                    format!("`{}` expects {what}, not {value}", key.value),
                    None,
                );
                ok = false;
            };
            match key.value.as_str() {
                "status" => match status(value) {
                    Some(s) => out.status = Some(s),
                    None => bad(self, "a status code"),
                },
                "redirects" => match value
                    .as_array()
                    .map(|a| a.iter().map(status).collect::<Option<Vec<u16>>>())
                {
                    Some(Some(codes)) => out.redirects = Some(codes),
                    _ => bad(self, "a list of status codes, e.g. [301, 307]"),
                },
                "final_url" => match value.as_str() {
                    Some(s) => out.final_url = Some(s.to_owned()),
                    None => bad(self, "a URL or a path"),
                },
                "final_method" => match value.as_str() {
                    Some(s) => out.final_method = Some(s.to_ascii_uppercase()),
                    None => bad(self, "a method"),
                },
                "from_node" => match value.as_str() {
                    Some(s) if cx.nodes.contains_key(s) => out.from_node = Some(s.to_owned()),
                    Some(s) => {
                        self.error(
                            &key.referenced,
                            format!("undefined node `{s}`"),
                            did_you_mean(s, cx.nodes.keys().map(String::as_str)),
                        );
                        ok = false;
                    }
                    None => bad(self, "a node name"),
                },
                "body_kept" => match value.as_bool() {
                    Some(b) => out.body_kept = Some(b),
                    None => bad(self, "true or false"),
                },
                "session" => match value.as_bool() {
                    Some(b) => out.session = Some(b),
                    None => bad(self, "true or false"),
                },
                other => {
                    self.error(
                        &key.referenced,
                        format!("unknown http expectation `{other}`"),
                        did_you_mean(other, KEYS.iter().copied())
                            .or_else(|| Some(format!("one of: {}", KEYS.join(", ")))),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn mtu_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let node = self
            .required(cx, &cx.body.node, "node")
            .and_then(|n| self.node_ref(cx, n));
        let network = self.required(cx, &cx.body.network, "network");
        let expect = match &cx.body.expect {
            Some(e) => match &e.value {
                RawExpect::Word(w) => match w.parse::<u32>() {
                    Ok(mtu) if (68..=65535).contains(&mtu) => Some(mtu),
                    _ => {
                        self.error(
                            &e.referenced,
                            format!("`{w}` is not an MTU"),
                            Some("a number of bytes, e.g. 1450".into()),
                        );
                        None
                    }
                },
                _ => {
                    self.error(
                        &e.referenced,
                        "an mtu check expects a number",
                        Some("e.g. expect: 1450".into()),
                    );
                    None
                }
            },
            None => {
                self.error(
                    &cx.kind.referenced,
                    "mtu check needs `expect`",
                    Some("the MTU in bytes, e.g. 1450".into()),
                );
                None
            }
        };
        let (node, network, expect) = (node?, network?, expect?);
        if !cx.networks.contains_key(&network.value) {
            self.error(
                &network.referenced,
                format!("undefined network `{}`", network.value),
                did_you_mean(&network.value, cx.networks.keys().map(String::as_str)),
            );
            return None;
        }
        if !node.is_on(&network.value) {
            self.error(
                &network.referenced,
                format!("node `{}` is not on network `{}`", node.name, network.value),
                None,
            );
            return None;
        }
        Some(CheckKind::Mtu {
            node: node.name.clone(),
            network: network.value.clone(),
            expect,
        })
    }

    /// `tcp` with `connections:`: a name (a node or an alias), resolved in
    /// the node for each connection.
    fn spread_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let from = match self.source_of(cx, false)? {
            Source::Node(n) => n,
            Source::Host => return None,
        };
        let connections = cx.body.connections.as_ref().and_then(|c| {
            if (1..=1000).contains(&c.value) {
                Some(c.value)
            } else {
                self.error(
                    &c.referenced,
                    format!("{} connections is out of range", c.value),
                    Some("between 1 and 1000".into()),
                );
                None
            }
        });
        let target = self.required(cx, &cx.body.to, "to").and_then(|to| {
            let (name, port) = to.value.rsplit_once(':').or_else(|| {
                self.error(&to.referenced, format!("target `{}` has no port", to.value), Some(format!("write it as {}:PORT", to.value)));
                None
            })?;
            let port = port.parse::<u16>().ok().filter(|p| *p != 0).or_else(|| {
                self.error(&to.referenced, format!("`{port}` is not a port number"), None);
                None
            })?;
            let known = cx.nodes.contains_key(name)
                || cx.nodes.values().any(|n| n.networks().any(|a| a.aliases.iter().any(|al| al == name)));
            if !known {
                self.error(
                    &to.referenced,
                    format!("`{name}` is neither a node nor an alias of the lab"),
                    Some("with `connections`, `to` is NAME:PORT and the name is resolved in the node for each connection".into()),
                );
                return None;
            }
            Some((name.to_owned(), port))
        });
        let expect = self.expect_word(cx, &["open", "spread"]);
        let ((name, port), connections, expect) = (target?, connections?, expect?);
        Some(CheckKind::Spread {
            from,
            name,
            port,
            connections,
            expect: if expect == "spread" {
                SpreadExpect::Spread
            } else {
                SpreadExpect::Open
            },
        })
    }

    fn port_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
        let node = self
            .required(cx, &cx.body.node, "node")
            .and_then(|n| self.node_ref(cx, n).map(|node| (n, node)));
        let port = match &cx.body.port {
            None => {
                self.error(
                    &cx.kind.referenced,
                    "port check needs `port`",
                    Some("e.g. port: 80 or port: 53/udp".into()),
                );
                None
            }
            Some(p) => {
                let (number, transport) = match p.value.0.split_once('/') {
                    Some((n, "tcp")) => (n, Some(Transport::Tcp)),
                    Some((n, "udp")) => (n, Some(Transport::Udp)),
                    Some((_, other)) => {
                        self.error(
                            &p.referenced,
                            format!("unknown protocol `{other}`"),
                            Some("tcp or udp".into()),
                        );
                        ("", None)
                    }
                    None => (p.value.0.as_str(), Some(Transport::Tcp)),
                };
                match (number.parse::<u16>().ok().filter(|n| *n != 0), transport) {
                    (Some(n), Some(t)) => Some((n, t)),
                    (None, Some(_)) => {
                        self.error(
                            &p.referenced,
                            format!("`{}` is not a port", p.value),
                            Some("e.g. 80 or 53/udp".into()),
                        );
                        None
                    }
                    _ => None,
                }
            }
        };
        let host_ip = cx.body.host_ip.as_ref().and_then(|ip| {
            IpAddr::from_str(&ip.value)
                .map_err(|_| {
                    self.error(
                        &ip.referenced,
                        format!("`{}` is not an IP address", ip.value),
                        None,
                    )
                })
                .ok()
        });
        let expect = self.expect_word(cx, &["published", "unpublished"]);
        let ((node_span, node), (port, transport), expect) = (node?, port?, expect?);
        let expect = if expect == "published" {
            PortExpect::Published
        } else {
            PortExpect::Unpublished
        };
        if expect == PortExpect::Published {
            self.require_identity(node, &node_span.referenced, "published");
        }
        Some(CheckKind::Port {
            node: node.name.clone(),
            port,
            transport,
            host_ip,
            host_port: cx.body.host_port.as_ref().map(|h| h.value),
            expect,
        })
    }

    /// `open` and `published` mean "that very node answered": only the agent
    /// announces who it is.
    fn require_identity(&mut self, node: &Node, at: &Location, expectation: &str) {
        if !node.is_agent() {
            self.error(
                at,
                format!(
                    "node `{}` runs a foreign image, so `{expectation}` cannot prove it answered",
                    node.name
                ),
                Some(
                    "only the netlab agent announces its identity; target a node without `image:`"
                        .into(),
                ),
            );
        }
    }

    /// The check's `to:`, parsed and resolved against the lab.
    fn target_of(&mut self, cx: &CheckCx) -> Option<Target> {
        self.required(cx, &cx.body.to, "to").and_then(|to| {
            parse_target(&to.value)
                .map_err(|(msg, hint)| self.error(&to.referenced, msg, hint))
                .ok()
                .and_then(|t| self.check_target(cx, to, t))
        })
    }

    fn check_target(
        &mut self,
        cx: &CheckCx,
        span: &Span<String>,
        target: Target,
    ) -> Option<Target> {
        if let TargetHost::Node { node, network } = &target.host {
            let name = Span::new(node.clone(), span.referenced, span.defined);
            let n = self.node_ref(cx, &name)?;
            if let Some(net) = network {
                if !cx.networks.contains_key(net) {
                    self.error(
                        &span.referenced,
                        format!("undefined network `{net}`"),
                        did_you_mean(net, cx.networks.keys().map(String::as_str)),
                    );
                    return None;
                }
                if !n.is_on(net) {
                    self.error(
                        &span.referenced,
                        format!("node `{node}` is not on network `{net}`"),
                        None,
                    );
                    return None;
                }
            }
        }
        Some(target)
    }
}

struct CheckCx<'a> {
    kind: &'a Span<String>,
    body: &'a RawCheckBody,
    nodes: &'a IndexMap<String, Node>,
    networks: &'a IndexMap<String, Network>,
}

fn default_title(kind: &CheckKind) -> String {
    match kind {
        CheckKind::Dns {
            from, name, expect, ..
        } => {
            let exp = match expect {
                DnsExpect::Resolves => "resolves".to_owned(),
                DnsExpect::Unresolved => "unresolved".to_owned(),
                DnsExpect::Exactly(list) => list
                    .iter()
                    .map(|a| match a {
                        DnsAnswer::Node(n) => n.clone(),
                        DnsAnswer::Ip(ip) => ip.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            };
            format!("dns {from} → {name} is {exp}")
        }
        CheckKind::Tcp { from, to, expect } => format!(
            "tcp {from} → {to} is {}",
            format!("{expect:?}").to_lowercase()
        ),
        CheckKind::Port {
            node,
            port,
            transport,
            expect,
            ..
        } => format!(
            "port {node} {port}/{} is {}",
            transport.as_str(),
            format!("{expect:?}").to_lowercase()
        ),
        CheckKind::Spread {
            from,
            name,
            port,
            connections,
            expect,
        } => format!(
            "tcp {from} → {name}:{port} ×{connections} is {}",
            format!("{expect:?}").to_lowercase()
        ),
        CheckKind::Mtu {
            node,
            network,
            expect,
        } => format!("mtu {node} on {network} is {expect}"),
        CheckKind::Tls {
            from,
            to,
            name,
            expect,
            ..
        } => format!("tls {from} → {to} as {name} is {}", expect.as_str()),
        CheckKind::Http {
            from, url, method, ..
        } => format!("http {from} {method} {url}"),
        CheckKind::Udp { from, to, expect } => format!(
            "udp {from} → {to} is {}",
            format!("{expect:?}").to_lowercase()
        ),
    }
}

fn is_agent_image(image: &str) -> bool {
    image == "netlab/agent" || image.starts_with("netlab/agent:")
}

fn usable_host(net: Ipv4Net, ip: Ipv4Addr) -> bool {
    net.contains(&ip) && ip != net.network() && ip != net.broadcast()
}

fn first_host(net: Ipv4Net) -> Ipv4Addr {
    net.hosts().next().unwrap_or(net.network())
}

fn last_host(net: Ipv4Net) -> Ipv4Addr {
    net.hosts().last().unwrap_or(net.broadcast())
}

/// `node:port`, `node@network:port`, `ip:port`, `[v6]:port`.
pub fn parse_target(s: &str) -> Result<Target, (String, Option<String>)> {
    let no_port = || {
        (
            format!("target `{s}` has no port"),
            Some(format!("write it as {s}:PORT")),
        )
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest
            .split_once(']')
            .ok_or_else(|| (format!("target `{s}` has an unclosed `[`"), None))?;
        (ip, port.strip_prefix(':').ok_or_else(no_port)?)
    } else {
        s.rsplit_once(':').ok_or_else(no_port)?
    };
    let port: u16 = port.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
        (
            format!("`{port}` in target `{s}` is not a port number"),
            Some("a port is 1-65535".into()),
        )
    })?;
    if let Ok(ip) = IpAddr::from_str(host) {
        return Ok(Target {
            host: TargetHost::Ip(ip),
            port,
        });
    }
    let (node, network) = match host.split_once('@') {
        Some((n, net)) => (n, Some(net.to_owned())),
        None => (host, None),
    };
    if node.is_empty() {
        return Err((format!("target `{s}` has no node"), None));
    }
    Ok(Target {
        host: TargetHost::Node {
            node: node.to_owned(),
            network,
        },
        port,
    })
}

/// Compose short syntax: `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`,
/// ports may be ranges (`8000-8002:80-82`).
pub fn parse_port_mapping(s: &str) -> Result<PortMapping, String> {
    let (spec, transport) = match s.rsplit_once('/') {
        Some((spec, "tcp")) => (spec, Transport::Tcp),
        Some((spec, "udp")) => (spec, Transport::Udp),
        Some((_, other)) => return Err(format!("unknown protocol `{other}` (tcp or udp)")),
        None => (s, Transport::Tcp),
    };
    let (host_ip, rest) = if let Some(rest) = spec.strip_prefix('[') {
        let (ip, rest) = rest
            .split_once("]:")
            .ok_or("an IPv6 host address is written [ADDR]:PORT:PORT")?;
        (
            Some(IpAddr::from_str(ip).map_err(|_| format!("`{ip}` is not an IP address"))?),
            rest,
        )
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        match parts.as_slice() {
            [_] | [_, _] => (None, spec),
            [ip, _, _] => (
                Some(IpAddr::from_str(ip).map_err(|_| format!("`{ip}` is not an IP address"))?),
                &spec[ip.len() + 1..],
            ),
            _ => return Err("too many `:`".into()),
        }
    };
    let (host_ports, container_ports) = match rest.split_once(':') {
        Some(("", c)) => (None, parse_range(c)?),
        Some((h, c)) => (Some(parse_range(h)?), parse_range(c)?),
        None => (None, parse_range(rest)?),
    };
    if let Some(h) = host_ports
        && h.len() != container_ports.len()
    {
        return Err(format!(
            "host range {h} and container range {container_ports} differ in length"
        ));
    }
    Ok(PortMapping {
        host_ip,
        host_ports,
        container_ports,
        transport,
    })
}

fn parse_range(s: &str) -> Result<PortRange, String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{p}` is not a port number (1-65535)"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (first, last) = (port(a)?, port(b)?);
            if first > last {
                return Err(format!("range {s} runs backwards"));
            }
            Ok(PortRange { first, last })
        }
        None => Ok(PortRange::single(port(s)?)),
    }
}
