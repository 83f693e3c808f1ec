//! Legacy `links:` of a node (`NODE` or `NODE:ALIAS`): on user networks
//! Docker's embedded DNS answers ALIAS (and NODE) with the linked node's
//! address, to the linking node only, on each network the two share. The
//! linked node must exist, be another node with an endpoint of its own (no
//! sidecar), and share a user network with the linking node.

use indexmap::IndexMap;

use super::{Validator, did_you_mean, is_valid_alias};
use crate::lab::model::{Attachment, Node};
use crate::lab::raw::{RawNode, Span};
use crate::plan::DEFAULT_BRIDGE;

impl Validator {
    pub(super) fn links(
        &mut self,
        raw: &IndexMap<Span<String>, RawNode>,
        nodes: &mut IndexMap<String, Node>,
    ) {
        for (key, node) in raw {
            let mut links: Vec<(String, String)> = Vec::new();
            for l in &node.links {
                let (target, alias) = match l.value.split_once(':') {
                    Some((t, a)) => (t, a),
                    None => (l.value.as_str(), l.value.as_str()),
                };
                let problem = self.link_problem(&key.value, target, alias, nodes);
                if let Some((message, hint)) = problem {
                    self.error(&l.referenced, message, hint);
                } else if links.iter().any(|(_, a)| a == alias) {
                    self.error(
                        &l.referenced,
                        format!("link alias `{alias}` is given twice"),
                        None,
                    );
                } else {
                    links.push((target.to_owned(), alias.to_owned()));
                }
            }
            if let Some(n) = nodes.get_mut(&key.value) {
                n.links = links;
            }
        }
    }

    fn link_problem(
        &self,
        from: &str,
        target: &str,
        alias: &str,
        nodes: &IndexMap<String, Node>,
    ) -> Option<(String, Option<String>)> {
        let source = nodes.get(from)?;
        let Attachment::Networks(own) = &source.attachment else {
            return Some((
                format!(
                    "`links` of node `{from}` need it on user networks: Docker's embedded DNS carries them"
                ),
                Some("remove `network_mode`, or remove `links`".into()),
            ));
        };
        if !is_valid_alias(alias) {
            return Some((format!("invalid link alias `{alias}`"), None));
        }
        let Some(linked) = nodes.get(target) else {
            return Some((
                format!("link to `{target}`, which is no node of the lab"),
                did_you_mean(target, nodes.keys().map(String::as_str)),
            ));
        };
        if linked.name == from {
            return Some((format!("node `{from}` cannot link itself"), None));
        }
        if linked.shares().is_some() {
            return Some((
                format!("`{target}` is a sidecar: it has no endpoint of its own to link"),
                linked.shares().map(|o| format!("link its owner `{o}`")),
            ));
        }
        let shared = own
            .iter()
            .any(|a| a.network != DEFAULT_BRIDGE && linked.is_on(&a.network));
        if !shared {
            return Some((
                format!(
                    "`{from}` links `{target}` but shares no user network with it: Docker's DNS could never answer the link"
                ),
                Some(format!("put `{from}` and `{target}` on one network")),
            ));
        }
        None
    }
}
