//! The checks a lab's topology implies, as compose users read it: a node
//! resolves and reaches each node it shares a network with on each port
//! that node serves; nodes that share no network do not resolve each other
//! and are blocked wherever a path exists to test it; a published port is
//! published where it is declared, a served port that is not published is
//! not; a node only on internal networks has no route out. Each check
//! carries the model's reason, which `netlab import`
//! writes beside it and `verify --compose` can show.
//!
//! Only agent nodes are judged: a foreign image serves what it serves.

use super::{DnsPrediction, EngineSide, Reach, egress, networks_of, published, reach, resolve};
use crate::lab::requires::{Requires, VersionReq};
use crate::lab::{
    CheckKind, DnsAnswer, DnsExpect, EgressExpect, IpFamily, Lab, Node, PortExpect, RecordType,
    Source, Target, TargetHost, TcpExpect, Transport, UdpExpect,
};

/// One implied check and why it is there.
#[derive(Debug, Clone, PartialEq)]
pub struct Implied {
    pub kind: CheckKind,
    pub why: String,
    /// What the engine must be for the check to say something there.
    pub requires: Requires,
}

/// Whether a node takes part in name resolution and reach between nodes
/// (host, none and the default bridge have no embedded DNS; their names
/// would go to the host's resolver).
fn on_user_networks(node: &Node) -> bool {
    node.networks().next().is_some()
}

fn shares(lab: &Lab, a: &Node, b: &Node) -> bool {
    let theirs = networks_of(b);
    networks_of(a)
        .iter()
        .any(|n| theirs.contains(n) && lab.networks.contains_key(n))
}

/// The implied checks, in the lab's node order: names, then reach, then
/// published ports, as the model predicts them on an engine of `side`
/// (`netlab import` writes a lab for any engine and asks for
/// [`EngineSide::NEW`]: the checks it writes, IPv4 names and reach and
/// published ports of bridges, are the same on every engine the model knows).
pub fn checks(lab: &Lab, side: EngineSide) -> Vec<Implied> {
    let mut out = Vec::new();
    let nodes: Vec<&Node> = lab.nodes.values().collect();
    for a in nodes.iter().filter(|n| on_user_networks(n)) {
        for b in nodes
            .iter()
            .filter(|n| n.name != a.name && on_user_networks(n))
        {
            match resolve(lab, &a.name, &b.name, IpFamily::V4, side) {
                DnsPrediction::OneOf { reason, .. } if shares(lab, a, b) => out.push(Implied {
                    kind: CheckKind::Dns {
                        from: a.name.clone(),
                        name: b.name.clone(),
                        record: RecordType::A,
                        expect: DnsExpect::Exactly(vec![DnsAnswer::Node(b.name.clone())]),
                    },
                    why: reason,
                    requires: Requires::default(),
                }),
                DnsPrediction::Unresolved(reason) => out.push(Implied {
                    kind: CheckKind::Dns {
                        from: a.name.clone(),
                        name: b.name.clone(),
                        record: RecordType::A,
                        expect: DnsExpect::Unresolved,
                    },
                    why: reason,
                    requires: Requires::default(),
                }),
                DnsPrediction::OneOf { .. } => {}
            }
        }
    }
    out.extend(link_checks(lab, &nodes, side));
    for a in nodes.iter().filter(|n| n.is_agent() && on_user_networks(n)) {
        // A sidecar is reached at its owner, whose namespace it shares.
        for b in nodes
            .iter()
            .filter(|n| n.name != a.name && n.is_agent() && n.shares().is_none())
        {
            let mut blocked_once = false;
            let sidecars = lab.sidecars_of(&b.name).filter_map(|s| lab.nodes.get(s));
            for listener in b.serve.iter().chain(sidecars.flat_map(|s| &s.serve)) {
                let transport = if listener.proto.is_udp() {
                    Transport::Udp
                } else {
                    Transport::Tcp
                };
                let p = reach(
                    lab,
                    &Source::Node(a.name.clone()),
                    &b.name,
                    listener.port,
                    transport,
                );
                let expect = match p.reach {
                    Reach::Open => Some(true),
                    // Blocked is worth one probe per pair: the path, not
                    // the port, decides it.
                    Reach::Blocked if p.network.is_some() && !blocked_once => {
                        blocked_once = true;
                        Some(false)
                    }
                    Reach::Blocked | Reach::Refused => None,
                };
                let Some(open) = expect else { continue };
                let to = Target {
                    host: TargetHost::Node {
                        node: b.name.clone(),
                        network: None,
                    },
                    port: listener.port,
                };
                let from = Source::Node(a.name.clone());
                let kind = match transport {
                    Transport::Udp => CheckKind::Udp {
                        from,
                        to,
                        expect: if open {
                            UdpExpect::Open
                        } else {
                            UdpExpect::Blocked
                        },
                    },
                    Transport::Tcp => CheckKind::Tcp {
                        from,
                        to,
                        expect: if open {
                            TcpExpect::Open
                        } else {
                            TcpExpect::Blocked
                        },
                    },
                };
                out.push(Implied {
                    kind,
                    why: p.reason,
                    requires: Requires::default(),
                });
            }
        }
    }
    // No route out where every network is internal: the kernel's own
    // routing decision, read in the node (nothing is sent). Docker 20.10
    // still routes such a container (and drops in iptables what leaves),
    // so the check says something from 26 on and is skipped before.
    for n in nodes.iter().filter(|n| on_user_networks(n)) {
        if let Some((EgressExpect::None, why)) = egress(lab, &n.name, EngineSide::NEW) {
            out.push(Implied {
                kind: CheckKind::Egress {
                    node: n.name.clone(),
                    expect: EgressExpect::None,
                },
                why,
                requires: Requires {
                    engine: Some(VersionReq {
                        at_least: true,
                        major: 26,
                        minor: 0,
                    }),
                    ip6tables: None,
                },
            });
        }
    }
    for n in nodes.iter().filter(|n| n.is_agent()) {
        for mapping in &n.ports {
            for (i, port) in mapping.container_ports.iter().enumerate() {
                let host_ip = mapping.host_ip.filter(|ip| !ip.is_unspecified());
                let (expect, why) = published(lab, &n.name, port, mapping.transport, host_ip, side);
                let host_port = mapping.host_ports.and_then(|h| h.iter().nth(i));
                out.push(Implied {
                    kind: CheckKind::Port {
                        node: n.name.clone(),
                        host: None,
                        port,
                        transport: mapping.transport,
                        host_ip,
                        host_port,
                        expect,
                    },
                    why,
                    requires: Requires::default(),
                });
            }
        }
        // What it serves without a mapping is not on the host.
        for listener in &n.serve {
            let transport = if listener.proto.is_udp() {
                Transport::Udp
            } else {
                Transport::Tcp
            };
            let mapped = n.ports.iter().any(|m| {
                m.transport == transport && m.container_ports.iter().any(|c| c == listener.port)
            });
            if mapped || !on_user_networks(n) {
                continue;
            }
            let (expect, why) = published(lab, &n.name, listener.port, transport, None, side);
            if expect == PortExpect::Unpublished {
                out.push(Implied {
                    kind: CheckKind::Port {
                        node: n.name.clone(),
                        host: None,
                        port: listener.port,
                        transport,
                        host_ip: None,
                        host_port: None,
                        expect,
                    },
                    why,
                    requires: Requires::default(),
                });
            }
        }
    }
    out
}

/// A legacy link's alias is the linking node's alone: from there it
/// resolves to the linked node and reaches it on the first TCP port the
/// linked node serves; from a node beside the linked one it does not
/// resolve.
fn link_checks(lab: &Lab, nodes: &[&Node], side: EngineSide) -> Vec<Implied> {
    let mut out = Vec::new();
    for a in nodes.iter().filter(|n| on_user_networks(n)) {
        for (linked, alias) in &a.links {
            let Some(target) = lab.nodes.get(linked) else {
                continue;
            };
            let DnsPrediction::OneOf { reason, .. } =
                resolve(lab, &a.name, alias, IpFamily::V4, side)
            else {
                continue;
            };
            out.push(Implied {
                kind: CheckKind::Dns {
                    from: a.name.clone(),
                    name: alias.clone(),
                    record: RecordType::A,
                    expect: DnsExpect::Exactly(vec![DnsAnswer::Node(linked.clone())]),
                },
                why: reason,
                requires: Requires::default(),
            });
            let bystander = nodes.iter().find(|c| {
                c.name != a.name
                    && c.name != *linked
                    && on_user_networks(c)
                    && shares(lab, c, target)
            });
            if let Some(c) = bystander
                && let DnsPrediction::Unresolved(reason) =
                    resolve(lab, &c.name, alias, IpFamily::V4, side)
            {
                out.push(Implied {
                    kind: CheckKind::Dns {
                        from: c.name.clone(),
                        name: alias.clone(),
                        record: RecordType::A,
                        expect: DnsExpect::Unresolved,
                    },
                    why: reason,
                    requires: Requires::default(),
                });
            }
            let first_tcp = target.serve.iter().find(|l| !l.proto.is_udp());
            if let Some(listener) = first_tcp.filter(|_| a.is_agent() && target.is_agent()) {
                let p = reach(
                    lab,
                    &Source::Node(a.name.clone()),
                    linked,
                    listener.port,
                    Transport::Tcp,
                );
                if p.reach == Reach::Open {
                    out.push(Implied {
                        kind: CheckKind::Tcp {
                            from: Source::Node(a.name.clone()),
                            to: Target {
                                host: TargetHost::Name(alias.clone()),
                                port: listener.port,
                            },
                            expect: TcpExpect::Open,
                        },
                        why: format!("`{alias}` is {}'s link to {linked}: {}", a.name, p.reason),
                        requires: Requires::default(),
                    });
                }
            }
        }
    }
    out
}
