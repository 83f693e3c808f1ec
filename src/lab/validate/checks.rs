//! Validation of `checks:`: one kind per entry, the fields each kind takes,
//! the deadline and retry, and what every kind shares (the source node, the
//! target, a one-word expectation). Each kind's own rules are in
//! `check_kinds`.

use std::net::IpAddr;
use std::time::Duration;

use indexmap::IndexMap;
use serde_saphyr::Location;

use super::hosts::Hosts;
use super::{Validator, closest, did_you_mean};
use crate::lab::model::*;
use crate::lab::notation::parse_target;
use crate::lab::raw::*;

/// Default deadline of a check without `timeout:`.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_CHECK_TIMEOUT: Duration = Duration::from_secs(300);
/// The shortest deadline: before it, silence cannot be told from slowness.
const MIN_CHECK_TIMEOUT: Duration = Duration::from_millis(200);

pub(super) const CHECK_KINDS: &[&str] = &[
    "dns", "tcp", "udp", "port", "http", "tls", "mtu", "matrix", "latency", "loss", "egress",
    "link",
];

impl Validator {
    pub(super) fn checks(
        &mut self,
        raw: &[Span<RawCheck>],
        nodes: &IndexMap<String, Node>,
        networks: &IndexMap<String, Network>,
        hosts: &Hosts,
    ) -> Vec<Check> {
        self.checks_located(raw, nodes, None, networks, hosts)
            .into_iter()
            .map(|(_, c)| c)
            .collect()
    }

    /// The valid checks, each with the place of its kind in the file.
    /// `paths`: the nodes on the networks they are on where the checks run
    /// (a step's actions move them), when that is not `nodes`.
    pub(super) fn checks_located(
        &mut self,
        raw: &[Span<RawCheck>],
        nodes: &IndexMap<String, Node>,
        paths: Option<&IndexMap<String, Node>>,
        networks: &IndexMap<String, Network>,
        hosts: &Hosts,
    ) -> Vec<(Location, Check)> {
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
                paths: paths.unwrap_or(nodes),
                networks,
                hosts,
            };
            if let Some(check) = self.check(&cx) {
                out.push((kind.referenced, check));
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
                "title", "timeout", "retry", "from", "name", "type", "requires", "expect",
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
                "requires",
                "expect",
            ],
            "mtu" | "link" => &[
                "title", "name", "timeout", "retry", "node", "network", "to", "requires", "expect",
            ],
            "egress" => &[
                "title", "name", "timeout", "retry", "node", "family", "requires", "expect",
            ],
            "tls" => &[
                "title", "timeout", "retry", "from", "to", "name", "ca", "capture", "family",
                "requires", "expect",
            ],
            "http" => &[
                "title", "name", "timeout", "retry", "from", "url", "method", "body", "capture",
                "family", "requires", "expect",
            ],
            "tcp" => &[
                "title",
                "name",
                "timeout",
                "retry",
                "from",
                "to",
                "connections",
                "capture",
                "family",
                "requires",
                "expect",
            ],
            "matrix" => &[
                "title", "name", "timeout", "port", "family", "requires", "expect",
            ],
            "latency" | "loss" => &[
                "title", "name", "timeout", "retry", "from", "to", "count", "interval", "family",
                "requires", "expect",
            ],
            _ => &[
                "title", "name", "timeout", "retry", "from", "to", "family", "requires", "expect",
            ],
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
                Ok(d) if (MIN_CHECK_TIMEOUT..=MAX_CHECK_TIMEOUT).contains(&d) => d,
                Ok(d) if d < MIN_CHECK_TIMEOUT => {
                    self.error(
                        &t.referenced,
                        format!("timeout `{}` is too short", t.value),
                        Some(
                            "at least 200ms: silence before so short a deadline proves nothing"
                                .into(),
                        ),
                    );
                    DEFAULT_CHECK_TIMEOUT
                }
                Ok(_) => {
                    self.error(
                        &t.referenced,
                        format!("timeout `{}` is out of range", t.value),
                        Some("between 200ms and 5m".into()),
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
            "egress" => self.egress_check(cx),
            "link" => self.link_check(cx),
            "tls" => self.tls_check(cx),
            "http" => self.http_check(cx),
            "port" => self.port_check(cx),
            "matrix" => self.matrix_check(cx),
            "latency" => self.echo_check(cx, false),
            "loss" => self.echo_check(cx, true),
            _ => self.transport_check(cx, Transport::Udp),
        }?;
        let timeout = self.echo_timeout(cx, &checked_kind).unwrap_or(timeout);
        if let Some(r) = &cx.body.retry
            && r.value
            && allowed.contains(&"retry")
            && !checked_kind.retry_allowed()
        {
            self.error(
                &r.referenced,
                format!(
                    "`retry` applies to positive expectations; this check expects `{}`",
                    checked_kind.expectation_words()
                ),
                Some(if checked_kind.expects_silence() {
                    "a negative passes only when every try is negative: remove `retry`".into()
                } else {
                    "a failed handshake is also what a server that is not ready yet shows, so trying until one comes proves nothing: remove `retry`".into()
                }),
            );
        }
        // A matrix's `title:` names its table; the check's title says more.
        let title = cx
            .body
            .title
            .as_ref()
            .filter(|_| kind != "matrix")
            .or(if kind == "dns" || kind == "tls" || kind == "matrix" {
                None
            } else {
                cx.body.name.as_ref()
            })
            .map(|t| t.value.clone())
            .unwrap_or_else(|| {
                let title = checked_kind.default_title();
                match cx
                    .body
                    .family
                    .as_ref()
                    .and_then(|f| Family::parse(&f.value))
                {
                    Some(f) => format!("{title} {}", crate::lab::wording::over(f)),
                    None => title,
                }
            });
        // `plaintext` is shown by the packets: it records them.
        let capture = cx.body.capture.as_ref().is_some_and(|c| c.value)
            || matches!(&checked_kind, CheckKind::Http { expect, .. } if expect.plaintext.is_some());
        if let (Some(c), CheckKind::Spread { .. }) = (&cx.body.capture, &checked_kind)
            && c.value
        {
            self.error(
                &c.referenced,
                "`capture` records one connection; a tcp check with `connections` makes many",
                Some("capture a plain tcp check to one node".into()),
            );
        }
        let family = self.family_of(cx).ok()?;
        if !self.family_fits_kind(cx, &checked_kind, family) {
            return None;
        }
        let requires = self.requires_of(cx).ok()?;
        Some(Check {
            title,
            timeout,
            retry,
            capture,
            family,
            requires,
            kind: checked_kind,
        })
    }

    pub(super) fn required<'a>(
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

    pub(super) fn source_of(&mut self, cx: &CheckCx, allow_host: bool) -> Option<Source> {
        let from = self.required(cx, &cx.body.from, "from")?;
        let host = match from.value.as_str() {
            "host" => Some(None),
            other => other.strip_prefix("host@").map(Some),
        };
        if let Some(host) = host {
            if !allow_host {
                self.error(
                    &from.referenced,
                    format!("a {} check cannot run from the host", cx.kind.value),
                    Some("name a node of the lab".into()),
                );
                return None;
            }
            return self.host_source(cx, from, host);
        }
        // Any image will do: a node of another image gets a probe helper.
        let node = self.node_ref(cx, from)?;
        Some(Source::Node(node.name.clone()))
    }

    /// `host` (the lab's only host) or `host@NAME`.
    fn host_source(
        &mut self,
        cx: &CheckCx,
        from: &Span<String>,
        host: Option<&str>,
    ) -> Option<Source> {
        let names = &cx.hosts.names;
        match host {
            None if cx.hosts.is_multi() => {
                self.error(
                    &from.referenced,
                    "this lab has several hosts: `from: host` must say which",
                    Some(format!("e.g. from: host@{}", names[0])),
                );
                None
            }
            None => Some(Source::Host(None)),
            Some(h) if names.iter().any(|n| n == h) => {
                Some(Source::Host(cx.hosts.is_multi().then(|| h.to_owned())))
            }
            Some(h) => {
                self.error(
                    &from.referenced,
                    format!("undefined host `{h}`"),
                    closest(h, names.iter().map(String::as_str))
                        .map(|c| format!("did you mean `host@{c}`?"))
                        .or_else(|| Some(format!("the lab's hosts are: {}", names.join(", ")))),
                );
                None
            }
        }
    }

    pub(super) fn node_ref<'n>(
        &mut self,
        cx: &CheckCx<'n>,
        name: &Span<String>,
    ) -> Option<&'n Node> {
        let word = super::node_word(&name.value);
        let node = cx.nodes.get(word);
        if node.is_none() {
            self.error(
                &name.referenced,
                format!("undefined node `{word}`"),
                did_you_mean(word, cx.nodes.keys().map(String::as_str)),
            );
        }
        node
    }

    pub(super) fn expect_word(&mut self, cx: &CheckCx, words: &[&str]) -> Option<String> {
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

    /// `open` and `published` mean "that very node answered": only the agent
    /// announces who it is.
    /// `accepts_instead`: the check may expect `accepts` instead (tcp).
    pub(super) fn require_identity(
        &mut self,
        node: &Node,
        at: &Location,
        expectation: &str,
        accepts_instead: bool,
    ) {
        if !node.is_agent() {
            self.error(
                at,
                format!(
                    "node `{}` runs a foreign image, so `{expectation}` cannot prove it answered",
                    node.name
                ),
                Some(if accepts_instead {
                    "only the netlab agent announces its identity; target a node without `image:`, or expect `accepts` (a TCP handshake completed, nothing about who)".into()
                } else {
                    "only the netlab agent announces its identity; target a node without `image:`"
                        .into()
                }),
            );
        }
    }

    /// A target must be on a path the source has, and (unless
    /// `--allow-external`) inside the lab. Reports at `to:` and says
    /// whether the target may be probed.
    pub(super) fn aimable(&mut self, cx: &CheckCx, from: &Source, to: &Target) -> bool {
        use crate::lab::reach::{self, Verdict};
        let at = cx.place_of(&cx.body.to);
        match &to.host {
            TargetHost::Node { node, .. } if cx.left_every_network(node) => true,
            // A node whose networks have an error already: a path rule
            // would only repeat it.
            TargetHost::Node { node, .. }
                if self.unsettled.contains(node)
                    || matches!(from, Source::Node(n) if self.unsettled.contains(n)) =>
            {
                true
            }
            TargetHost::Node { node, network } => {
                match reach::aim(cx.paths(), from, node, network.as_deref()) {
                    Ok(_) => true,
                    Err(off) => {
                        self.error(&at, off.message, Some(off.hint));
                        false
                    }
                }
            }
            TargetHost::Name(name) => {
                match reach::url_host_verdict(cx.topology(), from, &url::Host::Domain(name)) {
                    Verdict::Outside(why) => {
                        self.outside(&at, &to.to_string(), &why);
                        false
                    }
                    _ => true,
                }
            }
            TargetHost::Ip(ip) if self.one_host(cx, &at, &to.to_string(), *ip).is_none() => false,
            TargetHost::Ip(ip) => match reach::address_verdict(cx.topology(), *ip) {
                Verdict::Outside(why) if !self.allow_external => {
                    self.outside(&at, &to.to_string(), &why);
                    false
                }
                _ => true,
            },
        }
    }

    /// A target address must be one host's: not the unspecified,
    /// broadcast or a multicast address, nor the network or broadcast
    /// address of a lab subnet. Refused even with `--allow-external`: no
    /// probe to such an address says anything about one host.
    pub(super) fn one_host(
        &mut self,
        cx: &CheckCx,
        at: &Location,
        target: &str,
        ip: IpAddr,
    ) -> Option<()> {
        let subnets = cx
            .networks
            .values()
            .flat_map(|n| n.subnets().map(|s| (s, n.name.clone())));
        let why = if ip.is_unspecified() {
            Some(format!("{ip} is the unspecified address"))
        } else {
            super::space::not_one_host(ip).or_else(|| super::space::subnet_edge(subnets, ip))
        };
        match why {
            Some(why) => {
                self.error(
                    at,
                    format!("`{target}` names no single host: {why}"),
                    Some("aim a check at a node, or at one address of a host".into()),
                );
                None
            }
            None => Some(()),
        }
    }

    /// A target outside the lab, refused.
    pub(super) fn outside(&mut self, at: &Location, target: &str, why: &str) {
        self.error(
            at,
            format!("`{target}` is outside the lab: {why}"),
            Some(
                "a lab reaches its containers, their subnets, loopback and its published ports; `--allow-external` lifts this".into(),
            ),
        );
    }

    /// The check's `to:`, parsed and resolved against the lab.
    pub(super) fn target_of(&mut self, cx: &CheckCx) -> Option<Target> {
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
        // A legacy link's alias is a name of the linking node's alone.
        let linked_by_source = |name: &str| {
            cx.body
                .from
                .as_ref()
                .and_then(|f| cx.nodes.get(&f.value))
                .is_some_and(|n| n.links.iter().any(|(_, alias)| alias == name))
        };
        if let TargetHost::Node { node, network } = &target.host
            && !cx.nodes.contains_key(node)
            && (crate::lab::reach::is_lab_name(cx.topology(), node) || linked_by_source(node))
        {
            // An alias: Docker's DNS in the probing node says where it leads.
            if let Some(net) = network {
                self.error(
                    &span.referenced,
                    format!("`{node}` is an alias, not a node: `@{net}` cannot pick its address"),
                    Some(format!("Docker's DNS answers an alias on the networks the probing node shares with its carriers: write `{node}:{}`", target.port)),
                );
                return None;
            }
            return Some(Target {
                host: TargetHost::Name(node.clone()),
                port: target.port,
            });
        }
        if let TargetHost::Node { node, network } = &target.host {
            let name = Span::new(node.clone(), span.referenced, span.defined);
            let n = self.node_ref(cx, &name)?;
            if let Some(net) = network {
                let default_bridge = net == super::nodes::DEFAULT_BRIDGE;
                if !cx.networks.contains_key(net) && !default_bridge {
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

pub(super) struct CheckCx<'a> {
    pub kind: &'a Span<String>,
    pub body: &'a RawCheckBody,
    pub nodes: &'a IndexMap<String, Node>,
    /// The nodes on the networks they are on when the check runs: what a
    /// path is decided by.
    pub paths: &'a IndexMap<String, Node>,
    pub networks: &'a IndexMap<String, Network>,
    pub hosts: &'a Hosts,
}

impl CheckCx<'_> {
    /// The lab as far as the rules of `lab::reach` read it.
    pub fn topology(&self) -> crate::lab::reach::Topology<'_> {
        crate::lab::reach::Topology {
            nodes: self.nodes,
            networks: self.networks,
            hosts: &self.hosts.names,
        }
    }

    /// The lab as the paths of its checks are decided: each node on the
    /// networks it is on when the check runs.
    pub fn paths(&self) -> crate::lab::reach::Topology<'_> {
        crate::lab::reach::Topology {
            nodes: self.paths,
            ..self.topology()
        }
    }

    /// Whether a step's actions took `node` off every network it was on:
    /// `fits_state` says so, in those words, and no path to it is judged.
    pub fn left_every_network(&self, node: &str) -> bool {
        let on_none = |nodes: &IndexMap<String, Node>| {
            nodes
                .get(node)
                .is_some_and(|n| matches!(&n.attachment, Attachment::Networks(l) if l.is_empty()))
        };
        on_none(self.paths) && !on_none(self.nodes)
    }

    /// Where a problem about an optional field points: at the field when it
    /// is written, else at the check's kind.
    pub fn place_of<T>(&self, field: &Option<Span<T>>) -> Location {
        field
            .as_ref()
            .map(|f| f.referenced)
            .unwrap_or(self.kind.referenced)
    }
}
