//! Whether a node has a route out (IPv4), as Docker sets a container's
//! routes: a default route through the gateway of a network that is not
//! internal (Docker's default bridge included); none on internal networks
//! alone, and none in network mode `none`. Host mode has the Docker host's
//! routes, which the lab does not say.

use super::{facts, mode, networks_of};
use crate::lab::{EgressExpect, Lab, NetworkMode};

/// The prediction for `node`, with its reason; `None` where the lab does
/// not decide it (host mode, an unknown node).
pub fn egress(lab: &Lab, node: &str) -> Option<(EgressExpect, String)> {
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
        None => Some((
            EgressExpect::None,
            format!(
                "every network of `{node}` is internal ({}): Docker gives its containers no default route, so nothing leaves",
                nets.iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
