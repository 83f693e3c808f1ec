//! Validation of `networks:`: names, drivers and their options, subnets
//! (no overlaps), gateways and MTUs; IPv6 in `ipv6`, `options:` in
//! `network_options`.

use std::net::Ipv4Addr;
use std::str::FromStr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::space::{Space, private_words, space_of};
use super::{Validator, did_you_mean, is_valid_network_name};
use crate::lab::model::*;
use crate::lab::raw::*;

/// Docker's own networks: `bridge` is listed in a node's `networks:`
/// undeclared, `host` and `none` are chosen with `network_mode:`. A lab
/// network may be called `default`, as compose's implicit one is.
const RESERVED_NETWORK_NAMES: &[&str] = &["bridge", "host", "none"];

/// The drivers a lab network may have.
const DRIVERS: [&str; 4] = ["bridge", "overlay", "macvlan", "ipvlan"];

impl Validator {
    pub(super) fn networks(
        &mut self,
        raw: &IndexMap<Span<String>, RawNetwork>,
    ) -> IndexMap<String, Network> {
        let mut out = IndexMap::new();
        let mut subnets: Vec<(Ipv4Net, String)> = Vec::new();
        let mut subnets6 = Vec::new();
        for (key, net) in raw {
            let name = key.value.clone();
            if RESERVED_NETWORK_NAMES.contains(&name.as_str()) {
                self.error(
                    &key.referenced,
                    format!("network name `{name}` is reserved"),
                    Some(if name == "bridge" {
                        "`bridge` is Docker's default bridge: list it in a node's `networks:` without declaring it".into()
                    } else {
                        format!("Docker's own networks are chosen per node with `network_mode: {name}`")
                    }),
                );
            } else if !is_valid_network_name(&name) {
                self.error(
                    &key.referenced,
                    format!("invalid network name `{name}`"),
                    Some("a network name is 1-63 of letters, digits, `-`, `_` and `.`, starting with a letter or digit".into()),
                );
            }
            if let Some(external) = self.external(&name, net) {
                out.insert(name.clone(), external);
                continue;
            }
            let driver = match net.driver.as_ref().map(|d| (d, d.value.as_str())) {
                None | Some((_, "bridge")) => Driver::Bridge,
                Some((_, "overlay")) => Driver::Overlay {
                    attachable: net.attachable.as_ref().is_none_or(|a| a.value),
                    encrypted: net.encrypted.as_ref().is_some_and(|e| e.value),
                },
                Some((_, "macvlan")) => Driver::Macvlan,
                // The mode is read from `options:` below.
                Some((_, "ipvlan")) => Driver::Ipvlan { l3: false },
                Some((d, other)) => {
                    self.error(
                        &d.referenced,
                        format!("unknown network driver `{other}`"),
                        did_you_mean(other, DRIVERS).or_else(|| {
                            Some("expected `bridge`, `overlay`, `macvlan` or `ipvlan`".into())
                        }),
                    );
                    Driver::Bridge
                }
            };
            if driver == Driver::Bridge {
                for (field, value) in [
                    ("attachable", &net.attachable),
                    ("encrypted", &net.encrypted),
                ] {
                    if let Some(v) = value {
                        self.error(
                            &v.referenced,
                            format!("`{field}` applies only to overlay networks"),
                            Some("add `driver: overlay`".into()),
                        );
                    }
                }
            } else if let Some(icc) = &net.icc {
                self.error(
                    &icc.referenced,
                    "`icc` applies only to bridge networks",
                    None,
                );
            }
            if let Driver::Overlay {
                attachable: false, ..
            } = driver
                && let Some(a) = &net.attachable
            {
                self.error(
                    &a.referenced,
                    "lab nodes are plain containers, so an overlay network must be attachable",
                    Some("remove `attachable: false`".into()),
                );
            }
            let spans: Vec<&Span<String>> = match (&net.subnet, &net.subnets) {
                (Some(one), None) => vec![one],
                (None, Some(list)) => list.value.iter().collect(),
                (None, None) => Vec::new(),
                (Some(one), Some(_)) => {
                    self.error(
                        &one.referenced,
                        format!("network `{name}` gives both `subnet` and `subnets`"),
                        Some("list every subnet under `subnets:`".into()),
                    );
                    vec![one]
                }
            };
            let mut own = Vec::new();
            for span in spans {
                let Some(sn) = self.subnet(span) else {
                    continue;
                };
                self.subnet_space(&name, sn, span);
                if let Some((_, other)) = subnets
                    .iter()
                    .find(|(o, _)| o.contains(&sn.network()) || sn.contains(&o.network()))
                {
                    let whose = if *other == name {
                        "another subnet of it".to_owned()
                    } else {
                        format!("the subnet of network `{other}`")
                    };
                    self.error(
                        &span.referenced,
                        format!("subnet {sn} of network `{name}` overlaps {whose}"),
                        Some("give each network its own address range".into()),
                    );
                }
                subnets.push((sn, name.clone()));
                own.push(sn);
            }
            let subnet = own.first().copied();
            let more_subnets = own.get(1..).unwrap_or_default().to_vec();
            let gateway = net.gateway.as_ref().and_then(|g| {
                let Ok(ip) = Ipv4Addr::from_str(&g.value) else {
                    self.error(
                        &g.referenced,
                        format!("`{}` is not an IPv4 address", g.value),
                        None,
                    );
                    return None;
                };
                match subnet {
                    None if net.subnet.is_none() => {
                        self.error(
                            &g.referenced,
                            "a gateway needs a subnet",
                            Some("add `subnet:` to this network".into()),
                        );
                        None
                    }
                    None => None,
                    Some(sn) => {
                        if !usable_host(sn, ip) {
                            self.error(
                                &g.referenced,
                                format!("gateway {ip} is not a usable address in subnet {sn}"),
                                Some(format!(
                                    "pick an address between {} and {}",
                                    first_host(sn),
                                    last_host(sn)
                                )),
                            );
                        }
                        Some(ip)
                    }
                }
            });
            let families = self.network_families(&name, key, net, driver, &mut subnets6);
            let given: Vec<&str> = [
                ("icc", net.icc.is_some()),
                ("mtu", net.mtu.is_some()),
                ("encrypted", net.encrypted.is_some()),
            ]
            .into_iter()
            .filter_map(|(f, given)| given.then_some(f))
            .collect();
            let (options, folded) = self.network_options(&name, driver, &net.options, &given);
            let driver = match driver {
                Driver::Overlay {
                    attachable,
                    encrypted,
                } => Driver::Overlay {
                    attachable,
                    encrypted: encrypted || folded.encrypted == Some(true),
                },
                Driver::Ipvlan { .. } => Driver::Ipvlan {
                    l3: options.get("ipvlan_mode").is_some_and(|m| m == "l3"),
                },
                other => other,
            };
            if let Some(list) = &net.subnets
                && driver != (Driver::Ipvlan { l3: true })
            {
                self.error(
                    &list.referenced,
                    "`subnets` (several subnets on one network) applies to ipvlan networks in l3 mode, which route between them",
                    Some("give other networks one `subnet:`".into()),
                );
            }
            let lab_parent = self.lab_parent(driver, net);
            if let Some(mtu) = &net.mtu
                && !(68..=65535).contains(&mtu.value)
            {
                self.error(
                    &mtu.referenced,
                    format!("MTU {} is out of range", mtu.value),
                    Some("an IPv4 MTU is between 68 and 65535".into()),
                );
            }
            out.insert(
                name.clone(),
                Network {
                    name,
                    driver,
                    internal: net.internal.as_ref().is_some_and(|i| i.value),
                    subnet,
                    more_subnets,
                    gateway,
                    icc: net
                        .icc
                        .as_ref()
                        .map(|i| i.value)
                        .or(folded.icc)
                        .unwrap_or(true),
                    mtu: net.mtu.as_ref().map(|m| m.value).or(folded.mtu),
                    options,
                    ipv4: families.ipv4,
                    ipv6: families.ipv6,
                    subnet6: families.subnet6,
                    gateway6: families.gateway6,
                    external: None,
                    lab_parent,
                },
            );
        }
        out
    }

    /// `parent: lab` on a macvlan or ipvlan network; any other parent is
    /// an interface of the Docker host, which a lab never takes.
    fn lab_parent(&mut self, driver: Driver, net: &RawNetwork) -> bool {
        let Some(parent) = &net.parent else {
            return false;
        };
        if !driver.is_vlan() {
            self.error(
                &parent.referenced,
                "`parent` applies to macvlan and ipvlan networks",
                Some("a bridge or overlay network has no parent interface".into()),
            );
            return false;
        }
        if parent.value != "lab" {
            self.error(
                &parent.referenced,
                format!(
                    "`parent: {}` would put the network's containers on an interface of the Docker host",
                    parent.value
                ),
                Some("`parent: lab` hangs the network off a dummy interface the lab makes on the Docker host and removes with it; without `parent`, Docker makes a dummy of its own and the network is internal".into()),
            );
            return false;
        }
        true
    }

    /// `external: true` (with `name:`, the engine's name when it is not
    /// the lab's): a network someone else made, so none of its settings
    /// are the lab's to give. `None` for a network the lab makes.
    fn external(&mut self, name: &str, net: &RawNetwork) -> Option<Network> {
        let external = net.external.as_ref().filter(|e| e.value);
        if external.is_none() {
            if let Some(n) = &net.name {
                self.error(
                    &n.referenced,
                    "`name` applies only to an external network",
                    Some("add `external: true`, or remove `name`: netlab names the networks it makes".into()),
                );
            }
            return None;
        }
        let settings = [
            ("driver", net.driver.as_ref().map(|x| x.referenced)),
            ("internal", net.internal.as_ref().map(|x| x.referenced)),
            ("subnet", net.subnet.as_ref().map(|x| x.referenced)),
            ("gateway", net.gateway.as_ref().map(|x| x.referenced)),
            ("icc", net.icc.as_ref().map(|x| x.referenced)),
            ("mtu", net.mtu.as_ref().map(|x| x.referenced)),
            ("parent", net.parent.as_ref().map(|x| x.referenced)),
            ("attachable", net.attachable.as_ref().map(|x| x.referenced)),
            ("encrypted", net.encrypted.as_ref().map(|x| x.referenced)),
            ("options", net.options.keys().next().map(|x| x.referenced)),
            ("ipv4", net.ipv4.as_ref().map(|x| x.referenced)),
            ("ipv6", net.ipv6.as_ref().map(|x| x.referenced)),
            ("subnet6", net.subnet6.as_ref().map(|x| x.referenced)),
            ("gateway6", net.gateway6.as_ref().map(|x| x.referenced)),
        ];
        for (field, at) in settings {
            if let Some(at) = at {
                self.error(
                    &at,
                    format!("`{field}` of external network `{name}` is not the lab's to set"),
                    Some("an external network exists already, made by someone else: remove the setting, or let the lab make the network (no `external`)".into()),
                );
            }
        }
        let engine_name = match &net.name {
            Some(n) if RESERVED_NETWORK_NAMES.contains(&n.value.as_str()) => {
                self.error(
                    &n.referenced,
                    format!("`{}` is Docker's own network, not an external one", n.value),
                    Some("list `bridge` in a node's `networks:` (Docker's default bridge); `host` and `none` are a node's `network_mode`".into()),
                );
                n.value.clone()
            }
            Some(n) if is_valid_network_name(&n.value) && !n.value.starts_with("netlab_") => {
                n.value.clone()
            }
            Some(n) => {
                self.error(
                    &n.referenced,
                    format!("`{}` cannot be an external network", n.value),
                    Some("a Docker network name: letters, digits, `-`, `_` and `.`, starting with a letter or digit, and not one of netlab's own (`netlab_…`)".into()),
                );
                n.value.clone()
            }
            None => name.to_owned(),
        };
        Some(Network {
            name: name.to_owned(),
            driver: Driver::Bridge,
            internal: false,
            subnet: None,
            more_subnets: Vec::new(),
            gateway: None,
            icc: true,
            mtu: None,
            options: IndexMap::new(),
            ipv4: true,
            ipv6: false,
            subnet6: None,
            gateway6: None,
            external: Some(engine_name),
            lab_parent: false,
        })
    }

    /// A subnet is private space; public space only with
    /// `--allow-external`, said as a warning (SPEC: "What a lab may touch").
    fn subnet_space(&mut self, name: &str, sn: Ipv4Net, span: &Span<String>) {
        let why = "a lab's subnet becomes a route of the Docker host while the lab is up";
        match space_of(sn) {
            Space::Private => {}
            Space::Never(what) => self.error(
                &span.referenced,
                format!("subnet {sn} of network `{name}` is in {what}"),
                Some(format!(
                    "{why}; choose a subnet in private space ({})",
                    private_words()
                )),
            ),
            Space::Public if self.allow_external => self.warning(
                &span.referenced,
                format!(
                    "subnet {sn} of network `{name}` is public space: `--allow-external` lets the lab take it"
                ),
                Some(format!(
                    "{why}: the host's own traffic to {sn} goes into the lab"
                )),
            ),
            Space::Public => self.error(
                &span.referenced,
                format!("subnet {sn} of network `{name}` is public space, not private"),
                Some(format!(
                    "{why}, and the host's own traffic to {sn} would go into the lab; choose a subnet in private space ({}), or give `--allow-external` if the lab means it",
                    private_words()
                )),
            ),
        }
    }

    fn subnet(&mut self, s: &Span<String>) -> Option<Ipv4Net> {
        match Ipv4Net::from_str(&s.value) {
            Ok(net) if net.trunc() != net => {
                self.error(
                    &s.referenced,
                    format!("subnet `{}` has host bits set", s.value),
                    Some(format!("did you mean `{}`?", net.trunc())),
                );
                None
            }
            Ok(net) if net.prefix_len() > 30 => {
                self.error(
                    &s.referenced,
                    format!("subnet `{}` is too small for containers", s.value),
                    Some("use a prefix of /30 or shorter".into()),
                );
                None
            }
            Ok(net) => Some(net),
            Err(_) => {
                self.error(
                    &s.referenced,
                    format!("`{}` is not an IPv4 CIDR", s.value),
                    Some("write it as address/prefix, e.g. 10.213.7.0/24".into()),
                );
                None
            }
        }
    }
}

pub(super) fn usable_host(net: Ipv4Net, ip: Ipv4Addr) -> bool {
    net.contains(&ip) && ip != net.network() && ip != net.broadcast()
}

pub(super) fn first_host(net: Ipv4Net) -> Ipv4Addr {
    net.hosts().next().unwrap_or(net.network())
}

pub(super) fn last_host(net: Ipv4Net) -> Ipv4Addr {
    net.hosts().last().unwrap_or(net.broadcast())
}
