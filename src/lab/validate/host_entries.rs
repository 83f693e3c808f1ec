//! A node's `hostname` (the container's own name for itself) and
//! `extra_hosts` (lines of its `/etc/hosts`: a name and an address, or
//! `host-gateway`, the Docker host's address that Docker 20.10 and later
//! fill in). Both are container settings: a change re-creates the node.

use std::net::IpAddr;
use std::str::FromStr;

use indexmap::IndexMap;

use super::Validator;
use crate::lab::model::{Attachment, NetworkMode};
use crate::lab::raw::RawNode;

/// The literal Docker replaces by the Docker host's address.
pub const HOST_GATEWAY: &str = "host-gateway";

/// Linux keeps at most 64 bytes of host name (`HOST_NAME_MAX`).
const HOSTNAME_MAX: usize = 64;

/// A host name: dot-separated labels of letters, digits and `-`, each
/// 1-63 long and neither starting nor ending with `-`; at most `max` long.
pub fn is_host_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// An `extra_hosts` address: an IP address or `host-gateway`.
pub fn is_host_address(text: &str) -> bool {
    text == HOST_GATEWAY || IpAddr::from_str(text).is_ok()
}

impl Validator {
    /// `hostname:`; Docker refuses one with another container's namespace
    /// (a sidecar has its owner's host name) and ignores one in host mode
    /// (the node has the Docker host's).
    pub(super) fn hostname(&mut self, node: &RawNode, attachment: &Attachment) -> Option<String> {
        let h = node.hostname.as_ref()?;
        if !is_host_name(&h.value, HOSTNAME_MAX) {
            self.error(
                &h.referenced,
                format!("invalid hostname `{}`", h.value),
                Some("a host name is dot-separated labels of letters, digits and `-` (not at a label's ends), at most 64 characters".into()),
            );
            return None;
        }
        if let Some(mode) = shared_stack(attachment) {
            self.error(
                &h.referenced,
                format!("`hostname` cannot go with {mode}"),
                Some(
                    "the node has the host name of the namespace it shares; remove `hostname`"
                        .into(),
                ),
            );
            return None;
        }
        Some(h.value.clone())
    }

    /// `extra_hosts:` name -> address; Docker refuses them with another
    /// container's namespace.
    pub(super) fn extra_hosts(
        &mut self,
        node: &RawNode,
        attachment: &Attachment,
    ) -> IndexMap<String, String> {
        let mut out = IndexMap::new();
        for (name, address) in &node.extra_hosts {
            if !is_host_name(&name.value, 253) {
                self.error(
                    &name.referenced,
                    format!("invalid host name `{}` in `extra_hosts`", name.value),
                    Some(
                        "dot-separated labels of letters, digits and `-`, e.g. `db.internal`"
                            .into(),
                    ),
                );
                continue;
            }
            if !is_host_address(&address.value) {
                self.error(
                    &address.referenced,
                    format!(
                        "invalid address `{}` for `{}` in `extra_hosts`",
                        address.value, name.value
                    ),
                    Some(
                        "an IPv4 or IPv6 address, or `host-gateway` (the Docker host's address)"
                            .into(),
                    ),
                );
                continue;
            }
            out.insert(name.value.clone(), address.value.clone());
        }
        if let (Attachment::Shared(owner), Some((first, _))) =
            (attachment, node.extra_hosts.first())
        {
            self.error(
                &first.referenced,
                format!("`extra_hosts` cannot go with `network_mode: container:{owner}`"),
                Some("Docker refuses it: a sidecar has its owner's /etc/hosts; put `extra_hosts` on the owner".into()),
            );
            return IndexMap::new();
        }
        out
    }
}

/// The mode in which a node has another namespace's host name, if so.
fn shared_stack(attachment: &Attachment) -> Option<String> {
    match attachment {
        Attachment::Mode(NetworkMode::Host) => Some("`network_mode: host`".into()),
        Attachment::Shared(owner) => Some(format!("`network_mode: container:{owner}`")),
        _ => None,
    }
}
