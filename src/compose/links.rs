//! A service's legacy `links` (`SERVICE` or `SERVICE:ALIAS`) written as the
//! node's `links:`: on user networks Docker's embedded DNS answers ALIAS to
//! the linking service only. What the lab cannot hold (a service not in the
//! project, no shared network, a network mode, a bad alias) is a warning at
//! its place.

use std::fmt::Write as _;

use super::Messages;
use super::read::{Project, Service};
use super::write::Names;
use crate::lab::validate::is_valid_alias;

pub fn write(
    y: &mut String,
    cname: &str,
    s: &Service,
    project: &Project,
    names: &Names,
    msgs: &mut Messages,
) {
    let mut out: Vec<String> = Vec::new();
    for (target, alias, at) in &s.links {
        let Some(linked) = project.services.get(target) else {
            msgs.warn(
                *at,
                format!("link to `{target}`, which is no service of the project; left out"),
            );
            continue;
        };
        if s.mode.is_some() || linked.mode.is_some() {
            msgs.warn(*at, format!("link from `{cname}` to `{target}`: a service with `network_mode` has no link on a user network; left out"));
            continue;
        }
        if !s
            .networks
            .iter()
            .any(|a| linked.networks.iter().any(|b| b.network == a.network))
        {
            msgs.warn(*at, format!("`{cname}` links `{target}` but shares no network with it: Docker's DNS could never answer the link; left out"));
            continue;
        }
        if !is_valid_alias(alias) {
            msgs.warn(
                *at,
                format!("link alias `{alias}` is not a name the lab can carry; left out"),
            );
            continue;
        }
        let node = names.nodes.get(target).unwrap_or(target);
        let entry = format!("{node}:{alias}");
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    if !out.is_empty() {
        let list: Vec<String> = out.iter().map(|l| format!("\"{l}\"")).collect();
        let _ = writeln!(y, "    links: [{}]", list.join(", "));
    }
}
