//! Whether a node has a route out (IPv4), as Docker sets a container's
//! routes: a default route through the gateway of a network that is not
//! internal (Docker's default bridge included); none in network mode
//! `none`; on internal networks alone, none from Docker 26 on, while 20.10
//! still gives one through the bridge's gateway (and drops what leaves
//! with iptables, which a routing decision does not show). Host mode has
//! the Docker host's routes, which the lab does not say.

use super::{EngineSide, facts, mode, networks_of};
use crate::lab::{EgressExpect, Lab, NetworkMode};

/// The prediction for `node` on an engine of `side`, with its reason;
/// `None` where the lab does not decide it (host mode, an unknown node).
pub fn egress(lab: &Lab, node: &str, side: EngineSide) -> Option<(EgressExpect, String)> {
    let n = lab.nodes.get(node)?;
    match mode(n) {
        Some(NetworkMode::Host) => return None,
        Some(NetworkMode::None) => {
            return Some((
                EgressExpect::None,
                format!("`{node}` has network mode none: only loopback, no route out"),
            ));
        }
        Some(NetworkMode::Bridge) | None => {}
    }
    let nets = networks_of(n);
    if nets.is_empty() {
        return Some((
            EgressExpect::None,
            format!("`{node}` is on no network: no route out"),
        ));
    }
    match nets.iter().find(|net| !facts(lab, net).internal) {
        Some(open) => Some((
            EgressExpect::Routed,
            format!(
                "`{open}` is not internal: Docker gives `{node}` a default route through its gateway"
            ),
        )),
        None => {
            let list = nets
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            Some(if side.internal_default_route() {
                (
                    EgressExpect::Routed,
                    format!(
                        "every network of `{node}` is internal ({list}), but Docker before 26 still gives its containers a default route through the bridge's gateway (its iptables rules drop what leaves)"
                    ),
                )
            } else {
                (
                    EgressExpect::None,
                    format!(
                        "every network of `{node}` is internal ({list}): Docker (26 and later) gives its containers no default route, so nothing leaves"
                    ),
                )
            })
        }
    }
}
