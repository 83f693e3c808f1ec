//! Why a packet from a source reached an address, was refused there or got
//! no answer: the Docker mechanism on the path, from the lab model (who
//! joins which network, internal, icc, overlay, host mode, published
//! ports) and the route the probe took. Says less when the model does not
//! explain what was seen.

use super::{Why, code, list};
use crate::check::route::{Route, networks_of};
use crate::lab::{NetworkMode, Node, Source, Transport};
use crate::live::LiveLab;
use crate::vocab::ListenerProto;

/// What came back to a probe at an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The node (or something) answered.
    Answered,
    /// A TCP reset or ICMP port unreachable: reachable, nothing listens.
    Refused,
    /// No answer before the deadline, or an ICMP unreachable.
    Silent,
}

/// What the lab file says of a network (`bridge`: Docker's default one),
/// as the model reads it (`model::facts`).
struct Net<'a> {
    name: &'a str,
    default_bridge: bool,
    overlay: bool,
    internal: bool,
    icc: bool,
    vlan: Option<&'static str>,
}

fn net<'a>(live: &'a LiveLab, name: &'a str) -> Net<'a> {
    let f = crate::model::facts(&live.lab, name);
    Net {
        name,
        default_bridge: f.default_bridge,
        overlay: f.overlay,
        internal: f.internal,
        icc: f.icc,
        vlan: f.vlan,
    }
}

impl Net<'_> {
    /// `the user-defined bridge `front``, `the internal network `back``.
    fn described(&self) -> String {
        if self.default_bridge {
            "Docker's default bridge".into()
        } else if self.overlay {
            format!("the overlay {}", code(self.name))
        } else if let Some(driver) = self.vlan {
            format!("the {driver} network {}", code(self.name))
        } else if self.internal {
            format!("the internal network {}", code(self.name))
        } else {
            format!("the user-defined bridge {}", code(self.name))
        }
    }
}

fn mode(node: &Node) -> Option<NetworkMode> {
    crate::model::mode(node)
}

/// `nothing listens on 7000/tcp in `cache``.
fn nothing_listens(node: &str, port: u16, transport: Transport) -> String {
    format!(
        "nothing listens on {port}/{} in {}",
        transport.as_str(),
        code(node)
    )
}

fn nothing_listens_short(node: &str, port: u16, transport: Transport) -> String {
    format!("nothing listens on {port}/{} in {node}", transport.as_str())
}

pub(crate) fn why(
    live: &LiveLab,
    from: &Source,
    route: &Route,
    transport: Transport,
    seen: Seen,
) -> Option<Why> {
    let addr = route.addr?;
    let port = addr.port();
    if let Some(binding) = &route.published {
        let node = route.node.as_deref().unwrap_or_default();
        return Some(match seen {
            Seen::Answered => Why::new(
                format!(
                    "{addr} is a port Docker publishes for {} ({binding}): the engine forwards it to the container by NAT or its userland proxy",
                    code(node)
                ),
                format!("published port → {node}:{}", binding.container_port),
            ),
            Seen::Refused => Why::new(
                format!(
                    "{addr} is a port Docker publishes for {} ({binding}), yet the connection was refused: nothing answered behind the mapping",
                    code(node)
                ),
                format!("published port → {node}:{}", binding.container_port),
            ),
            Seen::Silent => Why::new(
                format!(
                    "{addr} is a port Docker publishes for {} ({binding}), yet nothing answered before the deadline",
                    code(node)
                ),
                format!("published port → {node}:{}", binding.container_port),
            ),
        });
    }
    // Explained where the two are now, as the probe aimed (a step may
    // have moved either).
    let now = live.nodes_now();
    let target = route.node.as_deref().and_then(|n| now.get(n));
    // A sidecar probes from its owner's namespace — unless it was left in
    // an old one (its owner restarted without it): loopback alone.
    if let Source::Node(n) = from
        && let Some(owner) = live.lab.nodes.get(n).and_then(|s| s.shares())
        && live.nodes.get(n).is_some_and(|l| l.addresses.is_empty())
        && seen == Seen::Silent
    {
        return Some(Why::new(
            format!(
                "{} is a sidecar left in {}'s old network namespace: {} started again without it (Docker does not restart sidecars), so it has loopback alone and no route anywhere",
                code(n),
                code(owner),
                code(owner)
            ),
            format!("sidecar left behind by {owner}"),
        ));
    }
    // A sidecar probes from its owner's namespace.
    let source_node = match from {
        Source::Node(n) => now.get(live.lab.namespace_of(n)),
        Source::Host(_) => None,
    };
    let from_host = live.lab.host_of(from);
    // A host-mode node is its host's own network stack.
    if let Some(t) = target
        && mode(t) == Some(NetworkMode::Host)
    {
        let how = match from {
            Source::Host(_) => format!("at {} from the host itself", addr.ip()),
            Source::Node(_) => format!(
                "at {} from a container: the gateway of its network, which is the host",
                addr.ip()
            ),
        };
        let tail = match seen {
            Seen::Answered => String::new(),
            Seen::Refused => format!("; {}", nothing_listens(&t.name, port, transport)),
            Seen::Silent => "; yet nothing answered before the deadline".into(),
        };
        return Some(Why::new(
            format!(
                "{} runs in host mode: its listeners are on the host's own network stack, reached {how}{tail}",
                code(&t.name)
            ),
            "host mode: the host's own stack".into(),
        ));
    }
    // From a host: a port nothing of the lab publishes on it.
    if let (Source::Host(_), None) = (from, &route.network) {
        if seen != Seen::Refused || !addr.ip().is_loopback() {
            return None;
        }
        let elsewhere = live.lab.nodes.values().find_map(|n| {
            let l = live.nodes.get(&n.name)?;
            l.ports
                .iter()
                .find(|p| p.host_port == port && p.transport == transport)
                .map(|_| n)
        });
        return Some(match elsewhere {
            Some(n) if n.host != from_host => Why::new(
                format!(
                    "port {port} is published by {} on host {}, not on {from_host}: a published port lives on its own host's network stack, so nothing listens at {addr} here",
                    code(&n.name),
                    n.host
                ),
                format!("published on {}, not on {from_host}", n.host),
            ),
            _ => Why::new(
                format!("no node of the lab publishes port {port}: nothing listens at {addr}"),
                "nothing published there".into(),
            ),
        });
    }
    let to_node = route.node.as_deref()?;
    let to_net_name = route.network.as_deref()?;
    let to_net = net(live, to_net_name);
    let from_name = match from {
        Source::Node(n) => n.as_str(),
        Source::Host(_) => "",
    };
    if from_name == to_node {
        return Some(match seen {
            Seen::Refused => Why::new(
                format!(
                    "{} aimed at its own address: the packet never left the node, and {}",
                    code(to_node),
                    nothing_listens(to_node, port, transport)
                ),
                nothing_listens_short(to_node, port, transport),
            ),
            _ => Why::new(
                format!(
                    "{} aimed at its own address: the packet never left the node, so no network rule applies",
                    code(to_node)
                ),
                "own address".into(),
            ),
        });
    }
    let Some(source) = source_node else {
        // From a host's own stack to a container's address.
        return host_to_container(from_host, to_node, &to_net, seen, live, port, transport);
    };
    if mode(source) == Some(NetworkMode::Host) {
        let tail = match seen {
            Seen::Answered => String::new(),
            Seen::Refused => format!("; {}", nothing_listens(to_node, port, transport)),
            Seen::Silent => "; yet nothing answered before the deadline".into(),
        };
        return Some(Why::new(
            format!(
                "{} runs in host mode, in the host's own network stack, and the host routes to the bridges it holds: it reaches {} on {}{tail}",
                code(&source.name),
                code(to_node),
                code(to_net_name)
            ),
            "host mode: the host routes to its bridges".into(),
        ));
    }
    let source_nets = networks_of(source);
    if seen == Seen::Silent
        && let Some(why) = l3_subnets_apart(live, &source.name, to_node, to_net_name)
    {
        return Some(why);
    }
    if source_nets.iter().any(|n| n == to_net_name) {
        return Some(shared(
            live, source, to_node, &to_net, seen, port, transport,
        ));
    }
    apart(live, source, &source_nets, to_node, &to_net, seen)
}

/// Two nodes in different subnets of a parentless ipvlan l3 network.
fn l3_subnets_apart(live: &LiveLab, from: &str, to: &str, network: &str) -> Option<Why> {
    let at = |n: &str| live.nodes.get(n)?.addresses.get(network).copied();
    let sentence = crate::model::reach::l3_apart(&live.lab, network, at(from)?, at(to)?)?;
    Some(Why::new(
        sentence,
        format!("ipvlan l3 without parent: no route to the other subnet of {network}"),
    ))
}

fn host_to_container(
    host: &str,
    to_node: &str,
    to_net: &Net,
    seen: Seen,
    live: &LiveLab,
    port: u16,
    transport: Transport,
) -> Option<Why> {
    if to_net.overlay {
        return None;
    }
    if let Some(driver) = to_net.vlan {
        // Only silence is what the driver explains.
        return matches!(seen, Seen::Silent).then(|| {
            Why::new(
                crate::model::reach::vlan_from_host(driver, to_net.name),
                format!("{driver}: the host cannot reach its containers"),
            )
        });
    }
    let internal = if to_net.internal {
        ", internal ones included"
    } else {
        ""
    };
    let tail = match seen {
        Seen::Answered => String::new(),
        Seen::Refused => format!(
            "; the packet arrived, and {}",
            nothing_listens(to_node, port, transport)
        ),
        Seen::Silent => "; yet nothing answered before the deadline".into(),
    };
    let who = if live.lab.is_multi_host() {
        format!("the Docker host {host}")
    } else {
        "the Docker host".to_owned()
    };
    Some(Why::new(
        format!(
            "{who} routes to every bridge it holds{internal}: it reaches {}'s address on {} directly, without a published port{tail}",
            code(to_node),
            code(to_net.name)
        ),
        match seen {
            Seen::Refused => nothing_listens_short(to_node, port, transport),
            _ => format!("host routes to {}", to_net.name),
        },
    ))
}

/// Source and target on one network.
fn shared(
    live: &LiveLab,
    source: &Node,
    to_node: &str,
    n: &Net,
    seen: Seen,
    port: u16,
    transport: Transport,
) -> Why {
    let (a, b) = (code(&source.name), code(to_node));
    let target_host = live
        .lab
        .nodes
        .get(to_node)
        .map(|t| t.host.as_str())
        .unwrap_or_default();
    let across = n.overlay && source.host != target_host;
    let vxlan = across && !live.same_engine(&source.host, target_host);
    let carrier = if vxlan {
        format!(
            "{a} (host {}) and {b} (host {target_host}) share {}: VXLAN carries its packets between the hosts",
            source.host,
            n.described()
        )
    } else if across {
        format!(
            "{a} and {b} share {} (hosts {} and {target_host} are one engine here, so no packet crossed between hosts)",
            n.described(),
            source.host
        )
    } else {
        format!("{a} and {b} share {}", n.described())
    };
    let short_carrier = if vxlan {
        format!(
            "VXLAN between {} and {target_host} ({})",
            source.host, n.name
        )
    } else if n.default_bridge {
        "both on Docker's default bridge".into()
    } else if n.overlay {
        format!("shared overlay {}", n.name)
    } else if let Some(driver) = n.vlan {
        format!("shared {driver} {}", n.name)
    } else if n.internal {
        format!("shared internal network {}", n.name)
    } else {
        format!("shared bridge {}", n.name)
    };
    match seen {
        Seen::Answered => {
            let how = if n.default_bridge {
                ", which forwards between its containers (by address: it has no DNS)"
            } else if n.internal {
                ": internal cuts the way out, not the traffic within the network"
            } else if vxlan {
                ""
            } else {
                ", which forwards between its containers"
            };
            Why::new(format!("{carrier}{how}"), short_carrier)
        }
        Seen::Refused => Why::new(
            format!(
                "{carrier}, so the packet arrived; {}, so its kernel answered with a reset",
                nothing_listens(to_node, port, transport)
            ),
            nothing_listens_short(to_node, port, transport),
        ),
        Seen::Silent if !n.icc => Why::new(
            format!(
                "{carrier}, where icc is off: Docker drops traffic between the containers of that bridge"
            ),
            format!("icc off on {}", n.name),
        ),
        Seen::Silent => Why::new(
            format!("{carrier}, yet nothing answered before the deadline"),
            short_carrier,
        ),
    }
}

/// Source and target share no network.
fn apart(
    live: &LiveLab,
    source: &Node,
    source_nets: &[String],
    to_node: &str,
    to_net: &Net,
    seen: Seen,
) -> Option<Why> {
    let (a, b) = (code(&source.name), code(to_node));
    let now = live.nodes_now();
    let target = now.get(to_node)?;
    let joined = list(source_nets.iter().map(|n| code(n)));
    if seen != Seen::Silent {
        // An answer across networks: nothing the lab declares explains it.
        return Some(Why::new(
            format!(
                "{a} shares no network with {b}, yet the address of {b} on {} answered",
                code(to_net.name)
            ),
            "no shared network".into(),
        ));
    }
    if source.host != target.host && !live.same_engine(&source.host, &target.host) {
        let overlays: Vec<String> = networks_of(target)
            .into_iter()
            .filter(|n| net(live, n).overlay)
            .collect();
        let joiner = if overlays.is_empty() {
            "no network joins them".to_owned()
        } else {
            format!(
                "only the overlay {}, which {a} does not join, spans the hosts",
                list(overlays.iter().map(|n| code(n)))
            )
        };
        return Some(Why::new(
            format!(
                "{a} (host {}) and {b} (host {}) share no network: a bridge stays on its host, and {joiner}",
                source.host, target.host
            ),
            format!(
                "no shared network across {} and {}",
                source.host, target.host
            ),
        ));
    }
    if to_net.internal {
        return Some(Why::new(
            format!(
                "{b} is reached on {}, which {a} does not join: Docker drops traffic between an internal network and any other",
                to_net.described()
            ),
            format!("internal {}: no way in", to_net.name),
        ));
    }
    let all_internal = !source_nets.is_empty() && source_nets.iter().all(|n| net(live, n).internal);
    if all_internal {
        return Some(Why::new(
            format!(
                "{a} is only on the internal network {joined}, which has no route out: its packets to {b} on {} go nowhere",
                code(to_net.name)
            ),
            format!("internal {}: no route out", source_nets.join(", ")),
        ));
    }
    if to_net.overlay {
        return Some(Why::new(
            format!(
                "{a} does not join {}, the only network of {b}'s address: packets from {joined} have no path to it",
                to_net.described()
            ),
            format!("not on overlay {}", to_net.name),
        ));
    }
    let source_side = if source_nets.iter().any(|n| n == "bridge") {
        "Docker's default bridge".to_owned()
    } else if source_nets.len() > 1 {
        format!("the bridges {joined}")
    } else {
        format!("the bridge {joined}")
    };
    Some(Why::new(
        format!(
            "{a} and {b} share no network: {b}'s address is on {}, {a} is on {source_side}, and Docker's isolation rules drop traffic between bridges",
            to_net.described()
        ),
        format!(
            "bridges isolated: {} ↛ {}",
            source_nets.join(","),
            to_net.name
        ),
    ))
}

/// Whether a node serves TLS (or plain) on a port, for the `no-tls` case.
pub(crate) fn plain_listener(live: &LiveLab, node: &str, port: u16) -> Option<ListenerProto> {
    live.lab
        .nodes
        .get(node)?
        .serve
        .iter()
        .find(|l| l.port == port && !l.proto.is_udp())
        .map(|l| l.proto)
        .filter(|p| *p != ListenerProto::Https)
}
