//! The rules of a dns check: who asks, which record type, and what may
//! come back — a list of nodes or addresses, `resolves` or `unresolved`;
//! an AAAA question where the lab has no IPv6 is refused, since it could
//! not fail (or could not pass).

use std::net::IpAddr;
use std::str::FromStr;

use super::checks::CheckCx;
use super::{Validator, closest, did_you_mean};
use crate::lab::model::*;
use crate::lab::raw::*;
use crate::vocab::RecordType;

impl Validator {
    pub(super) fn dns_check(&mut self, cx: &CheckCx) -> Option<CheckKind> {
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
                RawExpect::List(items) if items.is_empty() => {
                    self.error(
                        &e.referenced,
                        "an empty list expects no answer at all",
                        Some(
                            "write `expect: unresolved`, which also says why nothing came back"
                                .into(),
                        ),
                    );
                    None
                }
                RawExpect::List(items) => {
                    let mut answers = Vec::new();
                    for item in items {
                        if let Ok(ip) = IpAddr::from_str(&item.value.0) {
                            answers.push(DnsAnswer::Ip(ip));
                        } else if cx.nodes.contains_key(&item.value.0) {
                            self.answerable(cx, from.as_ref(), item);
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
        let (name, record, expect) = (name?, record?, expect?);
        // Without IPv6 networks, an AAAA query for a lab name always comes
        // back empty: `unresolved` could not fail, and anything else could
        // not pass.
        if record == RecordType::Aaaa && !super::ipv6::has_ipv6(cx.networks) {
            let lab_name = crate::lab::reach::is_lab_name(cx.topology(), &name);
            let names_nodes = matches!(&expect, DnsExpect::Exactly(list) if list.iter().any(|a| matches!(a, DnsAnswer::Node(_))));
            if lab_name || names_nodes {
                let at = cx.place_of(&cx.body.record_type);
                self.error(
                    &at,
                    format!("no network of the lab has IPv6: an AAAA query for `{name}` can only come back empty, so this check cannot fail (or cannot pass)"),
                    Some("ask type A, or add `ipv6: true` to a network".into()),
                );
                return None;
            }
        }
        Some(CheckKind::Dns {
            from: match from? {
                Source::Node(n) => n,
                Source::Host(_) => return None,
            },
            name,
            record,
            expect,
        })
    }

    /// A node in a dns list must share a network with the source where the
    /// check runs: Docker's DNS answers a node's address only on a network
    /// of the asker, so a list naming one that shares none can never be
    /// the answer (it would not drop out of the list: the check would FAIL
    /// on every run).
    fn answerable(&mut self, cx: &CheckCx, from: Option<&Source>, item: &Span<Scalar>) {
        let Some(Source::Node(asker)) = from else {
            return;
        };
        let named = &item.value.0;
        if self.unsettled.contains(asker) || self.unsettled.contains(named) {
            return;
        }
        // A sidecar asks from its owner's namespace, on its owner's networks.
        let owner = cx
            .paths
            .get(asker)
            .and_then(|n| n.shares())
            .unwrap_or(asker);
        let shares = match (cx.paths.get(owner), cx.paths.get(named)) {
            (Some(a), Some(b)) => a.networks().any(|n| b.is_on(&n.network)),
            _ => true,
        };
        if !shares {
            self.error(
                &item.referenced,
                format!(
                    "`{named}` shares no network with `{asker}` where this check runs: Docker's DNS answers a node's address only on a network of the node that asks, so this list can never be the answer"
                ),
                Some(format!(
                    "leave `{named}` out, or show it is not answered with `dns: {{ from: {asker}, name: {named}, expect: unresolved }}`"
                )),
            );
        }
    }
}
