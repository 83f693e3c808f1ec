//! Validation of what IPv6 adds to a lab file: a network's families
//! (`ipv6`, `ipv4: false`, `subnet6`, `gateway6`), a node's static IPv6
//! address, and a check's `family:` — which must name a family the target
//! has on the path the check claims, so a check can never be about an
//! address that does not exist.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use indexmap::IndexMap;
use ipnet::Ipv6Net;

use super::Validator;
use super::checks::CheckCx;
use crate::lab::model::*;
use crate::lab::raw::*;
use crate::lab::reach::aimed_network;

/// Unique local addresses (RFC 4193): the only IPv6 prefixes a lab takes,
/// so it never claims (or routes) anybody's global or site addresses.
pub fn ula() -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7).unwrap_or_default()
}

/// A network's address families, as the file declares them.
pub(super) struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
    pub subnet6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
}

impl Validator {
    /// `ipv6`, `ipv4`, `subnet6` and `gateway6` of one network; `taken`
    /// holds the IPv6 subnets of the networks before it.
    pub(super) fn network_families(
        &mut self,
        name: &str,
        key: &Span<String>,
        net: &RawNetwork,
        driver: Driver,
        taken: &mut Vec<(Ipv6Net, String)>,
    ) -> Families {
        let ipv6 = net.ipv6.as_ref().is_some_and(|v| v.value);
        let ipv4 = net.ipv4.as_ref().is_none_or(|v| v.value);
        if let Some(v4) = &net.ipv4
            && !v4.value
        {
            if !ipv6 {
                self.error(
                    &v4.referenced,
                    format!("network `{name}` would have no address family"),
                    Some("`ipv4: false` makes an IPv6-only network: add `ipv6: true`".into()),
                );
            }
            for (field, value) in [("subnet", &net.subnet), ("gateway", &net.gateway)] {
                if let Some(v) = value {
                    self.error(
                        &v.referenced,
                        format!("`{field}` is IPv4, and network `{name}` has `ipv4: false`"),
                        Some("an IPv6-only network takes `subnet6` and `gateway6`".into()),
                    );
                }
            }
        }
        if !ipv6 {
            for (field, value) in [("subnet6", &net.subnet6), ("gateway6", &net.gateway6)] {
                if let Some(v) = value {
                    self.error(
                        &v.referenced,
                        format!("`{field}` needs `ipv6: true` on network `{name}`"),
                        Some(
                            "add `ipv6: true`: without it Docker gives the network no IPv6".into(),
                        ),
                    );
                }
            }
        }
        if ipv6 && let Driver::Overlay { .. } = driver {
            let at = net
                .ipv6
                .as_ref()
                .map(|v| v.referenced)
                .unwrap_or(key.referenced);
            self.error(
                &at,
                "netlab makes IPv6 networks as bridges only",
                Some("IPv6 across hosts (overlay) is not supported yet: use a bridge".into()),
            );
        }
        let subnet6 = net.subnet6.as_ref().and_then(|s| self.subnet6(s));
        if let (Some(sn), Some(span)) = (subnet6, &net.subnet6) {
            if let Some((_, other)) = taken
                .iter()
                .find(|(o, _)| o.contains(&sn.network()) || sn.contains(&o.network()))
            {
                self.error(
                    &span.referenced,
                    format!(
                        "subnet6 {sn} of network `{name}` overlaps the subnet6 of network `{other}`"
                    ),
                    Some("give each network its own prefix".into()),
                );
            }
            taken.push((sn, name.to_owned()));
        }
        let gateway6 = net.gateway6.as_ref().and_then(|g| {
            let Ok(ip) = Ipv6Addr::from_str(&g.value) else {
                self.error(
                    &g.referenced,
                    format!("`{}` is not an IPv6 address", g.value),
                    None,
                );
                return None;
            };
            match (subnet6, &net.subnet6) {
                (Some(sn), _) if !usable6(sn, ip) => {
                    self.error(
                        &g.referenced,
                        format!("gateway6 {ip} is not a usable address in subnet6 {sn}"),
                        Some(format!("e.g. {}", first6(sn))),
                    );
                    None
                }
                (Some(_), _) => Some(ip),
                (None, None) => {
                    self.error(
                        &g.referenced,
                        "a gateway6 needs a subnet6",
                        Some("add `subnet6:` to this network".into()),
                    );
                    None
                }
                (None, Some(_)) => None,
            }
        });
        Families {
            ipv4,
            ipv6,
            subnet6,
            gateway6,
        }
    }

    fn subnet6(&mut self, s: &Span<String>) -> Option<Ipv6Net> {
        let net = match Ipv6Net::from_str(&s.value) {
            Ok(net) => net,
            Err(_) => {
                self.error(
                    &s.referenced,
                    format!("`{}` is not an IPv6 CIDR", s.value),
                    Some("write it as prefix/length, e.g. fd0e:1ab:1::/64".into()),
                );
                return None;
            }
        };
        let problem = if net.trunc() != net {
            Some((
                format!("subnet6 `{}` has host bits set", s.value),
                format!("did you mean `{}`?", net.trunc()),
            ))
        } else if !ula().contains(&net) {
            Some((
                format!("subnet6 `{}` is not a unique local (ULA) prefix", s.value),
                "a lab takes prefixes of fc00::/7 only (e.g. fd0e:1ab:1::/64), so it never claims addresses of a real network; leave `subnet6` out and netlab picks a free one".into(),
            ))
        } else if net.prefix_len() > 120 {
            Some((
                format!("subnet6 `{}` is too small for containers", s.value),
                "use a prefix of /120 or shorter; /64 is usual".into(),
            ))
        } else {
            None
        };
        match problem {
            Some((message, hint)) => {
                self.error(&s.referenced, message, Some(hint));
                None
            }
            None => Some(net),
        }
    }

    /// A node's static IPv6 address on `network`; `taken` holds every
    /// static address of the lab so far.
    pub(super) fn static_ipv6(
        &mut self,
        node: &str,
        network: &Network,
        ip: &Span<String>,
        taken: &mut HashMap<IpAddr, String>,
    ) -> Option<Ipv6Addr> {
        let Ok(addr) = Ipv6Addr::from_str(&ip.value) else {
            self.error(
                &ip.referenced,
                format!("`{}` is not an IPv6 address", ip.value),
                None,
            );
            return None;
        };
        match network.subnet6 {
            _ if !network.ipv6 => self.error(
                &ip.referenced,
                format!("network `{}` has no IPv6", network.name),
                Some(format!("add `ipv6: true` to network `{}`", network.name)),
            ),
            None => self.error(
                &ip.referenced,
                format!("a static IPv6 address needs a subnet6 on network `{}`", network.name),
                Some(format!("add `subnet6:` to network `{}`; Docker only assigns static addresses in user-declared subnets", network.name)),
            ),
            Some(sn) if !usable6(sn, addr) => self.error(
                &ip.referenced,
                format!("{addr} is not a usable address in subnet6 {sn} of network `{}`", network.name),
                Some(format!("e.g. {}", first6(sn))),
            ),
            Some(_) if network.gateway6 == Some(addr) => self.error(
                &ip.referenced,
                format!("{addr} is the gateway6 of network `{}`", network.name),
                None,
            ),
            Some(_) => {
                if let Some(other) = taken.insert(IpAddr::V6(addr), node.to_owned()) {
                    self.error(
                        &ip.referenced,
                        format!("{addr} is already the address of node `{other}`"),
                        None,
                    );
                }
            }
        }
        Some(addr)
    }

    /// A check's `family:`, if it takes one and it is good.
    pub(super) fn family_of(&mut self, cx: &CheckCx) -> Result<Option<Family>, ()> {
        let Some(word) = &cx.body.family else {
            return Ok(None);
        };
        match Family::parse(&word.value) {
            Some(f) => Ok(Some(f)),
            None => {
                self.error(
                    &word.referenced,
                    format!("unknown family `{}`", word.value),
                    Some("v4, v6 or both".into()),
                );
                Err(())
            }
        }
    }

    /// The family fits what the check aims at (see `family_fits`).
    pub(super) fn family_fits_kind(
        &mut self,
        cx: &CheckCx,
        kind: &CheckKind,
        family: Option<Family>,
    ) -> bool {
        if family.is_none() {
            return true;
        }
        match kind {
            CheckKind::Tcp { from, to, .. }
            | CheckKind::Udp { from, to, .. }
            | CheckKind::Tls { from, to, .. } => self.family_fits(cx, from, &to.host, family),
            CheckKind::Http { from, url, .. } => {
                let host = url::Url::parse(url).ok().and_then(|u| match u.host()? {
                    url::Host::Ipv4(ip) => Some(TargetHost::Ip(IpAddr::V4(ip))),
                    url::Host::Ipv6(ip) => Some(TargetHost::Ip(IpAddr::V6(ip))),
                    url::Host::Domain(d) if cx.nodes.contains_key(d) => Some(TargetHost::Node {
                        node: d.to_owned(),
                        network: None,
                    }),
                    url::Host::Domain(_) => None,
                });
                host.is_none_or(|h| self.family_fits(cx, from, &h, family))
            }
            CheckKind::Matrix(m) => m.cells.iter().all(|c| {
                let to = TargetHost::Node {
                    node: c.to.clone(),
                    network: None,
                };
                self.family_fits(cx, &c.from, &to, family)
            }),
            CheckKind::Latency { echo, .. } | CheckKind::Loss { echo, .. } => {
                let to = TargetHost::Node {
                    node: echo.to.clone(),
                    network: echo.network.clone(),
                };
                self.family_fits(cx, &echo.from, &to, family)
            }
            CheckKind::Spread { .. } => {
                self.error(
                    &cx.place_of(&cx.body.family),
                    "`family` does not apply to a tcp check with `connections`",
                    Some("with `connections` the name is resolved (type A) for each connection, as a client does".into()),
                );
                false
            }
            _ => true,
        }
    }

    /// A family must be one the target has on the path from `from`: its
    /// literal's own, or a network the probe would aim at that carries it.
    pub(super) fn family_fits(
        &mut self,
        cx: &CheckCx,
        from: &Source,
        to: &TargetHost,
        family: Option<Family>,
    ) -> bool {
        let Some(family) = family else {
            return true;
        };
        let at = cx.place_of(&cx.body.family);
        match to {
            // Docker's DNS says which family the alias has.
            TargetHost::Name(_) => true,
            TargetHost::Ip(ip) => {
                if family != Family::from(IpFamily::of(*ip)) {
                    self.error(
                        &at,
                        format!(
                            "`family: {}` does not fit {ip}, an {} address",
                            family.word(),
                            IpFamily::of(*ip).name()
                        ),
                        Some(
                            "an address is of one family: leave `family` out, or aim at a node"
                                .into(),
                        ),
                    );
                    return false;
                }
                true
            }
            TargetHost::Node { node, network } => {
                if cx.left_every_network(node) {
                    return true;
                }
                for &f in family.members() {
                    if let Err(why) = aimed_network(cx.paths(), from, node, network.as_deref(), f) {
                        self.error(&at, why, Some(format!("add `ipv6: true` (or leave `ipv4` on) on a network {from} reaches {node} by, or choose another `family`")));
                        return false;
                    }
                }
                true
            }
        }
    }
}

fn usable6(net: Ipv6Net, ip: Ipv6Addr) -> bool {
    net.contains(&ip) && ip != net.network()
}

fn first6(net: Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(net.network()) + 1)
}

/// The IPv6 networks of a lab, for checks that need one.
pub fn has_ipv6(networks: &IndexMap<String, Network>) -> bool {
    networks.values().any(|n| n.ipv6)
}
