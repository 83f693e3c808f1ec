//! Validation of `steps:`: each action's verb and fields, the nodes and
//! networks it names, the impairment it asks for, and whether it can happen
//! at that point (walking `LabState` from the declared lab through every
//! action); each step's checks like the steady state's, and whether they
//! can run at that point (a probe from a stopped or paused node cannot; a
//! stopped node has no address to aim at).

use std::collections::HashSet;
use std::time::Duration;

use indexmap::IndexMap;
use serde_saphyr::Location;

use super::hosts::Hosts;
use super::{Validator, did_you_mean};
use crate::impairment::{Impairment, parse_duration, parse_percent, parse_rate};
use crate::lab::model::*;
use crate::lab::raw::Span;
use crate::lab::raw_step::*;
use crate::lab::reach;
use crate::lab::step::{Action, DEFAULT_STOP_GRACE, LabState, Step};

const VERBS: &[&str] = &[
    "connect",
    "disconnect",
    "stop",
    "start",
    "restart",
    "pause",
    "unpause",
    "kill",
    "impair",
    "clear",
    "wait",
];
const IMPAIRMENTS: &[&str] = &[
    "delay",
    "jitter",
    "loss",
    "duplicate",
    "corrupt",
    "reorder",
    "rate",
];
const MAX_DELAY: Duration = Duration::from_secs(60);
const MAX_WAIT: Duration = Duration::from_secs(300);

/// What a step's actions may refer to.
struct Refs<'a> {
    nodes: &'a IndexMap<String, Node>,
    networks: &'a IndexMap<String, Network>,
}

impl Validator {
    pub(super) fn steps(
        &mut self,
        raw: &[Span<RawStep>],
        nodes: &IndexMap<String, Node>,
        networks: &IndexMap<String, Network>,
        hosts: &Hosts,
    ) -> Vec<Step> {
        let refs = Refs { nodes, networks };
        let mut state = LabState::of_nodes(nodes);
        let mut titles = HashSet::new();
        let mut out = Vec::new();
        for (i, step) in raw.iter().enumerate() {
            let s = &step.value;
            let title = s
                .title
                .as_ref()
                .map(|t| t.value.trim().to_owned())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| format!("step {}", i + 1));
            if s.actions.is_empty() && s.checks.is_empty() {
                self.error(
                    &step.referenced,
                    format!("step `{title}` does nothing"),
                    Some("give it `do:` actions, `checks:`, or both".into()),
                );
            }
            if !titles.insert(title.clone())
                && let Some(t) = &s.title
            {
                self.warning(
                    &t.referenced,
                    format!("two steps are titled `{title}`"),
                    Some("reports (and JUnit's test suites) name a step by its title".into()),
                );
            }
            let mut actions = Vec::new();
            for entry in &s.actions {
                let Some((verb, action)) = self.action(entry, &refs) else {
                    continue;
                };
                if let Err(why) = state.apply(&action) {
                    self.error(
                        &verb,
                        format!(
                            "cannot {} `{}`: {why}",
                            action.verb(),
                            action.node().unwrap_or_default()
                        ),
                        None,
                    );
                }
                actions.push(action);
            }
            // A step's checks are judged where its actions leave the nodes:
            // a network joined may be named (`web@back`, an `mtu` there), and
            // paths (which address is aimed at, which families it has) are
            // those of that moment. Being on a network *only* in the file
            // is left to `fits_state`, which says "at this point".
            let joined = reach::moved(nodes, networks, |n| {
                let now = state.node(n)?;
                let declared = nodes.get(n).into_iter().flat_map(|d| d.networks());
                Some(
                    now.networks
                        .iter()
                        .cloned()
                        .chain(declared.map(|a| a.network.clone()))
                        .collect(),
                )
            });
            let paths = reach::moved(nodes, networks, |n| Some(state.node(n)?.networks.clone()));
            let checks = self.checks_located(&s.checks, &joined, Some(&paths), networks, hosts);
            for (at, check) in &checks {
                self.fits_state(at, &check.kind, &state, nodes);
            }
            out.push(Step {
                title,
                actions,
                checks: checks.into_iter().map(|(_, c)| c).collect(),
            });
        }
        out
    }

    /// One entry of `do:`, with the place of its verb.
    fn action(&mut self, entry: &Span<RawAction>, refs: &Refs) -> Option<(Location, Action)> {
        let mut verbs = entry.value.0.iter();
        let Some((verb, body)) = verbs.next() else {
            self.error(
                &entry.referenced,
                "empty action",
                Some(format!("an action is one of: {}", VERBS.join(", "))),
            );
            return None;
        };
        if let Some((extra, _)) = verbs.next() {
            self.error(
                &extra.referenced,
                format!(
                    "an action has exactly one verb, found `{}` and `{}`",
                    verb.value, extra.value
                ),
                Some("start a new list item (`- `) for each action".into()),
            );
            return None;
        }
        let v = verb.value.as_str();
        if !VERBS.contains(&v) {
            self.error(
                &verb.referenced,
                format!("unknown action `{v}`"),
                did_you_mean(v, VERBS.iter().copied())
                    .or_else(|| Some(format!("an action is one of: {}", VERBS.join(", ")))),
            );
            return None;
        }
        let allowed: &[&str] = match v {
            "connect" | "disconnect" | "clear" => &["node", "network"],
            "stop" | "restart" => &["node", "timeout"],
            "impair" => &[
                "node",
                "network",
                "delay",
                "jitter",
                "loss",
                "duplicate",
                "corrupt",
                "reorder",
                "rate",
            ],
            "wait" => &["duration"],
            _ => &["node"],
        };
        let fields = &body.value.fields;
        let mut ok = true;
        for (field, loc) in fields.present() {
            if !allowed.contains(&field) {
                self.error(
                    loc,
                    format!("field `{field}` does not apply to `{v}`"),
                    Some(format!("`{v}` takes: {}", allowed.join(", "))),
                );
                ok = false;
            }
        }
        let word = body.value.word.as_ref();
        if word.is_some() && matches!(v, "connect" | "disconnect" | "impair") {
            self.error(
                &body.referenced,
                format!("`{v}` needs a node and a network"),
                Some(format!("e.g. {v}: {{ node: db, network: back }}")),
            );
            return None;
        }
        if v == "wait" {
            let text = match (&fields.duration, word) {
                (Some(d), _) => Some((d.value.clone(), d.referenced)),
                (None, Some(w)) => Some((w.0.clone(), body.referenced)),
                (None, None) => None,
            };
            let Some((text, at)) = text else {
                self.error(
                    &verb.referenced,
                    "`wait` needs a duration",
                    Some("e.g. - wait: 2s".into()),
                );
                return None;
            };
            let duration = self.bounded_duration(&at, &text, MAX_WAIT)?;
            return ok.then_some((verb.referenced, Action::Wait { duration }));
        }
        let node_span = match (&fields.node, word) {
            (Some(n), _) => Span::new(n.value.clone(), n.referenced, n.defined),
            (None, Some(w)) => Span::new(w.0.clone(), body.referenced, body.defined),
            (None, None) => {
                self.error(
                    &verb.referenced,
                    format!("`{v}` needs `node`"),
                    Some(format!("e.g. - {v}: web")),
                );
                return None;
            }
        };
        let node = self.step_node(&node_span, refs)?;
        let network = match &fields.network {
            Some(n) => Some(self.step_network(verb, n, node, refs)?),
            None if matches!(v, "connect" | "disconnect" | "impair") => {
                self.error(
                    &verb.referenced,
                    format!("`{v}` needs `network`"),
                    Some(format!(
                        "e.g. {v}: {{ node: {}, network: {} }}",
                        node.name,
                        node.networks()
                            .next()
                            .map(|a| a.network.as_str())
                            .unwrap_or("front")
                    )),
                );
                return None;
            }
            None => None,
        };
        let name = node.name.clone();
        let action = match v {
            "connect" => Action::Connect {
                node: name,
                network: network?,
            },
            "disconnect" => Action::Disconnect {
                node: name,
                network: network?,
            },
            "stop" | "restart" => {
                let grace = match &fields.timeout {
                    None => DEFAULT_STOP_GRACE,
                    Some(t) => match parse_duration(&t.value) {
                        Ok(d) if d <= MAX_WAIT => d,
                        _ => {
                            self.error(
                                &t.referenced,
                                format!("`{}` is not a duration up to 5m", t.value),
                                Some("how long to wait for the node to stop before it is killed, e.g. 2s".into()),
                            );
                            return None;
                        }
                    },
                };
                if v == "stop" {
                    Action::Stop { node: name, grace }
                } else {
                    Action::Restart { node: name, grace }
                }
            }
            "start" => Action::Start { node: name },
            "pause" => Action::Pause { node: name },
            "unpause" => Action::Unpause { node: name },
            "kill" => Action::Kill { node: name },
            "clear" => Action::Clear {
                node: name,
                network,
            },
            _ => Action::Impair {
                node: name,
                network: network?,
                impairment: self.impairment(verb, fields)?,
            },
        };
        ok.then_some((verb.referenced, action))
    }

    fn bounded_duration(&mut self, at: &Location, text: &str, max: Duration) -> Option<Duration> {
        match parse_duration(text) {
            Ok(d) if d.is_zero() => {
                self.error(at, format!("`{text}` is no time at all"), None);
                None
            }
            Ok(d) if d > max => {
                self.error(
                    at,
                    format!("`{text}` is too long"),
                    Some(format!(
                        "at most {}",
                        crate::impairment::format_duration(max)
                    )),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(at, e, None);
                None
            }
        }
    }

    fn step_node<'n>(&mut self, name: &Span<String>, refs: &Refs<'n>) -> Option<&'n Node> {
        let node = refs.nodes.get(&name.value);
        if node.is_none() {
            self.error(
                &name.referenced,
                format!("undefined node `{}`", name.value),
                did_you_mean(&name.value, refs.nodes.keys().map(String::as_str)),
            );
        }
        node
    }

    /// The network an action names: a lab network the node can be on.
    fn step_network(
        &mut self,
        verb: &Span<String>,
        net: &Span<String>,
        node: &Node,
        refs: &Refs,
    ) -> Option<String> {
        let Some(network) = refs.networks.get(&net.value) else {
            self.error(
                &net.referenced,
                format!("undefined network `{}`", net.value),
                did_you_mean(&net.value, refs.networks.keys().map(String::as_str)),
            );
            return None;
        };
        if let Attachment::Mode(mode) = node.attachment {
            let why = if mode == NetworkMode::Host && verb.value == "impair" {
                ": impairing it would slow the Docker host's own interface"
            } else {
                ""
            };
            self.error(
                &verb.referenced,
                format!(
                    "node `{}` uses network_mode {}: it is on no lab network{why}",
                    node.name,
                    mode.as_str()
                ),
                Some("steps connect, disconnect and impair nodes on the lab's networks".into()),
            );
            return None;
        }
        if verb.value == "connect" && network.driver == Driver::Bridge {
            let hosts: Vec<&str> = refs
                .nodes
                .values()
                .filter(|n| n.is_on(&network.name))
                .map(|n| n.host.as_str())
                .collect();
            if !hosts.is_empty() && !hosts.contains(&node.host.as_str()) {
                self.error(
                    &net.referenced,
                    format!(
                        "network `{}` is a bridge on host {}, and node `{}` runs on host {}",
                        network.name, hosts[0], node.name, node.host
                    ),
                    Some("a bridge lives on one host: to join nodes of several hosts, use an overlay".into()),
                );
                return None;
            }
        }
        Some(network.name.clone())
    }

    fn impairment(&mut self, verb: &Span<String>, f: &RawActionFields) -> Option<Impairment> {
        let mut ok = true;
        let mut duration = |v: &mut Self, field: &Option<Span<String>>| -> Option<Duration> {
            let span = field.as_ref()?;
            match parse_duration(&span.value) {
                Ok(d) if d <= MAX_DELAY => Some(d),
                Ok(_) => {
                    v.error(
                        &span.referenced,
                        format!("`{}` is too long", span.value),
                        Some("at most 60s".into()),
                    );
                    ok = false;
                    None
                }
                Err(e) => {
                    v.error(&span.referenced, e, None);
                    ok = false;
                    None
                }
            }
        };
        let delay = duration(self, &f.delay);
        let jitter = duration(self, &f.jitter);
        let mut percent = |v: &mut Self, field: &Option<Span<String>>| {
            let span = field.as_ref()?;
            match parse_percent(&span.value) {
                Ok(p) if p.0 > 0.0 => Some(p),
                Ok(_) => {
                    v.error(
                        &span.referenced,
                        format!("`{}` does nothing", span.value),
                        Some("leave the field out instead".into()),
                    );
                    ok = false;
                    None
                }
                Err(e) => {
                    v.error(&span.referenced, e, None);
                    ok = false;
                    None
                }
            }
        };
        let impairment = Impairment {
            delay,
            jitter,
            loss: percent(self, &f.loss),
            duplicate: percent(self, &f.duplicate),
            corrupt: percent(self, &f.corrupt),
            reorder: percent(self, &f.reorder),
            rate: f.rate.as_ref().and_then(|r| {
                parse_rate(&r.value)
                    .map_err(|e| {
                        self.error(&r.referenced, e, None);
                        ok = false;
                    })
                    .ok()
            }),
        };
        if !ok {
            return None;
        }
        if impairment.is_empty() {
            self.error(
                &verb.referenced,
                "`impair` needs at least one impairment",
                Some(format!("any of: {}", IMPAIRMENTS.join(", "))),
            );
            return None;
        }
        let needs_delay = |v: &mut Self, field: &Option<Span<String>>, what: &str| {
            if let Some(span) = field
                && impairment.delay.is_none_or(|d| d.is_zero())
            {
                v.error(
                    &span.referenced,
                    format!("{what} needs a `delay`"),
                    Some("netem varies or reorders around a delay: add e.g. `delay: 100ms`".into()),
                );
                true
            } else {
                false
            }
        };
        let jitter_alone = needs_delay(self, &f.jitter, "`jitter`");
        let reorder_alone = needs_delay(self, &f.reorder, "`reorder`");
        if jitter_alone || reorder_alone {
            return None;
        }
        if let (Some(d), Some(j), Some(span)) = (impairment.delay, impairment.jitter, &f.jitter)
            && j > d
        {
            self.error(
                &span.referenced,
                format!("jitter `{}` is larger than the delay", span.value),
                Some(
                    "netem cannot send a packet before it arrives: keep jitter at most the delay"
                        .into(),
                ),
            );
            return None;
        }
        Some(impairment)
    }

    /// Whether a step's check can run in the state the step's actions
    /// leave: its source running and not paused, its targets running and on
    /// the networks it names.
    fn fits_state(
        &mut self,
        at: &Location,
        kind: &CheckKind,
        state: &LabState,
        nodes: &IndexMap<String, Node>,
    ) {
        let sources: Vec<Source> = match kind {
            CheckKind::Matrix(m) => m.sources.clone(),
            other => vec![other.source()],
        };
        for source in sources {
            let Source::Node(n) = source else { continue };
            match state.node(&n) {
                Some(s) if !s.running => self.error(
                    at,
                    format!("node `{n}` is stopped at this point: a probe from it cannot run"),
                    None,
                ),
                Some(s) if s.paused => self.error(
                    at,
                    format!(
                        "node `{n}` is paused at this point: a probe from it would freeze with it"
                    ),
                    Some("probe from another node, or `unpause` it first".into()),
                ),
                _ => {}
            }
        }
        for (node, network) in aimed_at(kind) {
            let Some(s) = state.node(&node) else { continue };
            let on_networks = nodes
                .get(&node)
                .is_some_and(|n| matches!(n.attachment, Attachment::Networks(_)));
            if !s.running {
                self.error(
                    at,
                    format!("node `{node}` is stopped at this point: it has no address to aim at"),
                    Some("a dns check shows its name is gone; aim at it again once it runs".into()),
                );
            } else if let Some(net) = network {
                if !s.networks.contains(&net) {
                    self.error(
                        at,
                        format!("node `{node}` is not on network `{net}` at this point"),
                        None,
                    );
                }
            } else if on_networks && s.networks.is_empty() {
                self.error(
                    at,
                    format!(
                        "node `{node}` is on no network at this point: it has no address to aim at"
                    ),
                    Some("a dns check shows its name is gone".into()),
                );
            }
        }
    }
}

/// The nodes a check aims at (with the network it names, if any).
fn aimed_at(kind: &CheckKind) -> Vec<(String, Option<String>)> {
    let target = |t: &Target| match &t.host {
        TargetHost::Node { node, network } => vec![(node.clone(), network.clone())],
        TargetHost::Name(_) | TargetHost::Ip(_) => Vec::new(),
    };
    match kind {
        CheckKind::Tcp { to, .. } | CheckKind::Udp { to, .. } | CheckKind::Tls { to, .. } => {
            target(to)
        }
        CheckKind::Latency { echo, .. } | CheckKind::Loss { echo, .. } => {
            vec![(echo.to.clone(), echo.network.clone())]
        }
        CheckKind::Mtu {
            node, network, to, ..
        } => std::iter::once(node)
            .chain(to)
            .map(|n| (n.clone(), Some(network.clone())))
            .collect(),
        CheckKind::Link {
            node, network, to, ..
        } => [node, to]
            .into_iter()
            .map(|n| (n.clone(), Some(network.clone())))
            .collect(),
        CheckKind::Port { node, .. } => vec![(node.clone(), None)],
        CheckKind::Matrix(m) => m.targets.iter().map(|t| (t.clone(), None)).collect(),
        CheckKind::Dns { .. }
        | CheckKind::Http { .. }
        | CheckKind::Spread { .. }
        | CheckKind::Egress { .. } => Vec::new(),
    }
}
