//! A service's `hostname` and `extra_hosts` as compose reads them, and as
//! the lab writes them: a node's `hostname:` and `extra_hosts:` map. What
//! the lab cannot hold (a name that is no host name, a second address for
//! one name, a mode whose namespace is shared) is a warning at its place.

use std::fmt::Write as _;

use super::Messages;
use super::read::{Mode, Service};
use super::value::{Node, Pos};
use crate::lab::validate::host_entries::{HOST_GATEWAY, is_host_address, is_host_name};

/// `extra_hosts:` as a list (`"name:addr"`, `"name=addr"`, `"name:[v6]"`)
/// or a map (`name: addr`, or a list of addresses).
pub fn read_extra_hosts(v: &Node, msgs: &mut Messages) -> Vec<(String, String, Pos)> {
    let mut out = Vec::new();
    if v.is_map() {
        for (key, value) in v.entries() {
            let addresses: Vec<&Node> = if value.is_map() || value.scalar().is_some() {
                vec![value]
            } else {
                value.items().iter().collect()
            };
            for a in addresses {
                out.push((key.name.clone(), a.scalar().unwrap_or_default(), a.at));
            }
        }
    } else {
        for item in v.items() {
            let text = item.scalar().unwrap_or_default();
            // compose splits at `=` if there is one, else at the first `:`.
            let split = match text.split_once('=') {
                Some(pair) => Some(pair),
                None => text.split_once(':'),
            };
            match split {
                Some((name, address)) => {
                    out.push((name.to_owned(), address.to_owned(), item.at));
                }
                None => msgs.warn(
                    item.at,
                    format!("extra host `{text}` has no address (NAME:ADDRESS); left out"),
                ),
            }
        }
    }
    out.into_iter()
        .map(|(n, a, at)| {
            let a = a.trim();
            let a = a
                .strip_prefix('[')
                .and_then(|x| x.strip_suffix(']'))
                .unwrap_or(a);
            (n.trim().to_owned(), a.to_owned(), at)
        })
        .collect()
}

/// Writes a node's `hostname:` and `extra_hosts:` lines for service
/// `cname`, warning about what the lab cannot hold.
pub fn write(y: &mut String, cname: &str, s: &Service, msgs: &mut Messages) {
    let shared = matches!(&s.mode, Some((Mode::Shared(_), _)));
    let host_mode = matches!(&s.mode, Some((Mode::Host, _)));
    if let Some((h, at)) = &s.hostname {
        if shared || host_mode {
            msgs.warn(*at, format!("`{cname}` has the host name of the namespace it shares: its `hostname` is left out"));
        } else if !is_host_name(h, 64) {
            msgs.warn(
                *at,
                format!("hostname `{h}` is no host name the lab can give; left out"),
            );
        } else {
            let _ = writeln!(y, "    hostname: {}", quote(h));
        }
    }
    if s.extra_hosts.is_empty() {
        return;
    }
    if shared {
        if let Some((_, _, at)) = s.extra_hosts.first() {
            msgs.warn(*at, format!("`{cname}` shares another service's namespace: Docker refuses `extra_hosts` with it (conflicting options); left out"));
        }
        return;
    }
    let mut lines: Vec<(String, String)> = Vec::new();
    for (name, address, at) in &s.extra_hosts {
        if !is_host_name(name, 253) {
            msgs.warn(
                *at,
                format!("extra host name `{name}` is no host name the lab can carry; left out"),
            );
        } else if !is_host_address(address) {
            msgs.warn(*at, format!("extra host `{name}`: `{address}` is neither an IP address nor `{HOST_GATEWAY}`; left out"));
        } else if let Some((_, first)) = lines.iter().find(|(n, _)| n == name) {
            msgs.warn(*at, format!("extra host `{name}` has a second address, `{address}`: the lab keeps the first, `{first}`"));
        } else {
            lines.push((name.clone(), address.clone()));
        }
    }
    if !lines.is_empty() {
        let fields: Vec<String> = lines
            .iter()
            .map(|(n, a)| format!("{}: {}", quote(n), quote(a)))
            .collect();
        let _ = writeln!(y, "    extra_hosts: {{ {} }}", fields.join(", "));
    }
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}
