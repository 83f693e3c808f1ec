//! The validated lab: what every later stage (plan, engine, checks) works on.
//!
//! A `Lab` only exists once validation passed, so its fields are already
//! checked (names legal, references resolved, addresses inside subnets). It is
//! serialised into the engine as a label, which is how `verify` and `down`
//! work without the lab file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use indexmap::IndexMap;
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

pub use super::expect::*;

pub use super::drivers::LinkExpect;

pub use super::requires::Requires;
pub use crate::vocab::{Family, IpFamily, Listener, RecordType, Transport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lab {
    pub name: String,
    pub description: String,
    /// Logical Docker hosts, in declaration order; `[local]` when the file
    /// names none. Which engine each one is is decided when the lab runs.
    pub hosts: Vec<String>,
    pub networks: IndexMap<String, Network>,
    pub nodes: IndexMap<String, Node>,
    pub checks: Vec<Check>,
    /// What happens after the steady state, in order (`steps:`).
    #[serde(default)]
    pub steps: Vec<super::step::Step>,
    /// What `netlab import` found in the compose files; every report shows
    /// them (left out of the stored lab when there are none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<super::Finding>,
}

/// The one host of a lab whose file has no `hosts:`.
pub const LOCAL_HOST: &str = "local";

impl Lab {
    pub fn is_multi_host(&self) -> bool {
        self.hosts.len() > 1
    }

    /// The logical host a probe from `source` runs on.
    pub fn host_of<'a>(&'a self, source: &'a Source) -> &'a str {
        let first = self.hosts.first().map(String::as_str).unwrap_or(LOCAL_HOST);
        match source {
            Source::Node(n) => self.nodes.get(n).map(|n| n.host.as_str()).unwrap_or(first),
            Source::Host(Some(h)) => h,
            Source::Host(None) => first,
        }
    }

    /// The logical host a (one-host) network lives on: that of its first
    /// node, else the lab's first host.
    pub fn host_of_network(&self, network: &str) -> &str {
        self.nodes
            .values()
            .find(|n| n.is_on(network))
            .map(|n| n.host.as_str())
            .or_else(|| self.hosts.first().map(String::as_str))
            .unwrap_or(LOCAL_HOST)
    }

    /// The hosts that run at least one node, in declaration order.
    pub fn used_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .map(String::as_str)
            .filter(|h| self.nodes.values().any(|n| n.host == *h))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub driver: Driver,
    pub internal: bool,
    pub subnet: Option<Ipv4Net>,
    /// IPv4 subnets beyond `subnet` (the file's `subnets:` after its first):
    /// an ipvlan l3 network routes between them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_subnets: Vec<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub icc: bool,
    pub mtu: Option<u32>,
    pub options: IndexMap<String, String>,
    /// IPv4 on the network (`ipv4: false`: IPv6 only, Docker 28+).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub ipv4: bool,
    /// An IPv6 subnet beside (or instead of) the IPv4 one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ipv6: bool,
    /// The IPv6 subnet (a ULA prefix); `None` with `ipv6`: netlab picks a
    /// free one at `up`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Net>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
    /// `external: true`: the engine's name of a network that exists
    /// already; the lab joins it and neither makes nor removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<String>,
    /// `parent: lab`: a macvlan or ipvlan network hung off a dummy
    /// interface the lab makes on its Docker host (not Docker's own
    /// dummy, which makes the network internal).
    #[serde(default, skip_serializing_if = "is_false")]
    pub lab_parent: bool,
}

impl Network {
    /// Every IPv4 subnet the lab file gives the network.
    pub fn subnets(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        self.subnet.iter().chain(&self.more_subnets).copied()
    }

    /// Whether nodes get addresses of that family on it.
    pub fn has(&self, family: IpFamily) -> bool {
        match family {
            IpFamily::V4 => self.ipv4,
            IpFamily::V6 => self.ipv6,
        }
    }
}

// The new fields are left out of the stored lab at their defaults, so a
// lab that does not use them hashes (and converges) as before.
fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    Bridge,
    /// Needs swarm mode; `attachable` lets plain containers join.
    Overlay {
        attachable: bool,
        encrypted: bool,
    },
    /// Containers with MAC addresses of their own on a parent interface
    /// (bridge mode). Without `parent`, Docker makes a dummy one: the
    /// network's containers reach each other, and nothing else reaches them.
    Macvlan,
    /// Containers sharing the parent's MAC address: `l3` routes between the
    /// network's subnets and carries no broadcast (no ARP); `l2` switches.
    Ipvlan {
        l3: bool,
    },
}

impl Driver {
    /// Docker's name of the driver.
    pub fn docker_name(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Overlay { .. } => "overlay",
            Driver::Macvlan => "macvlan",
            Driver::Ipvlan { .. } => "ipvlan",
        }
    }

    /// Whether the network hangs off a parent interface (macvlan, ipvlan):
    /// the Docker host has no address on it and cannot reach its containers.
    pub fn is_vlan(self) -> bool {
        matches!(self, Driver::Macvlan | Driver::Ipvlan { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    /// The logical host the node runs on.
    pub host: String,
    /// `None`: the netlab agent image.
    pub image: Option<String>,
    pub attachment: Attachment,
    pub ports: Vec<PortMapping>,
    pub serve: Vec<Listener>,
    /// Its https certificate comes from the lab's other CA, which checks do
    /// not trust (`ca: other`): a server a client rightly calls untrusted.
    #[serde(default)]
    pub other_ca: bool,
    pub command: Option<Vec<String>>,
    pub env: IndexMap<String, String>,
    /// The container's host name (`None`: the node's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Its `/etc/hosts` lines: name -> IP address or `host-gateway`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub extra_hosts: IndexMap<String, String>,
    /// Legacy links: (linked node, alias), an alias only this node resolves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<(String, String)>,
}

impl Node {
    pub fn is_agent(&self) -> bool {
        self.image.is_none()
    }

    /// The lab networks this node joins, in declaration order.
    pub fn networks(&self) -> impl Iterator<Item = &NetworkAttachment> {
        match &self.attachment {
            Attachment::Networks(list) => list.as_slice().iter(),
            Attachment::Mode(_) | Attachment::Shared(_) => [].iter(),
        }
    }

    /// The node whose network namespace this one shares (a sidecar's).
    pub fn shares(&self) -> Option<&str> {
        match &self.attachment {
            Attachment::Shared(owner) => Some(owner),
            _ => None,
        }
    }

    /// Whether it joins `network` (`bridge`: Docker's default bridge, also
    /// in `network_mode: bridge`).
    pub fn is_on(&self, network: &str) -> bool {
        self.networks().any(|a| a.network == network)
            || (network == "bridge" && self.attachment == Attachment::Mode(NetworkMode::Bridge))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Attachment {
    Networks(Vec<NetworkAttachment>),
    Mode(NetworkMode),
    /// `network_mode: "container:NODE"`: a sidecar in NODE's network
    /// namespace (its addresses, ports and loopback), with none of its own.
    Shared(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    Host,
    None,
    /// Docker's default bridge (`docker0`): addresses, but no name resolution.
    Bridge,
}

impl NetworkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
            NetworkMode::Bridge => "bridge",
        }
    }
}

/// One `ports:` entry in compose short syntax, ranges kept as ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: Option<IpAddr>,
    /// `None`: Docker picks a free host port.
    pub host_ports: Option<PortRange>,
    pub container_ports: PortRange,
    pub transport: Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn single(port: u16) -> Self {
        PortRange {
            first: port,
            last: port,
        }
    }

    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Shown in reports: the `title:`/`name:` given, or one made from the check.
    pub title: String,
    #[serde(with = "millis")]
    pub timeout: Duration,
    /// Keep trying a positive expectation until the timeout.
    pub retry: bool,
    /// Record the probe's own packets (tcp, tls and http checks).
    #[serde(default)]
    pub capture: bool,
    /// The address family of tcp, udp, tls, http and matrix probes;
    /// `None`: IPv4 where the target has an IPv4 address, else IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// What the engine must be for this check to say something there;
    /// else it is skipped, with the reason.
    #[serde(default, skip_serializing_if = "Requires::is_empty")]
    pub requires: Requires,
    pub kind: CheckKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Dns {
        from: String,
        name: String,
        record: RecordType,
        expect: DnsExpect,
    },
    Tcp {
        from: Source,
        to: Target,
        expect: TcpExpect,
    },
    Udp {
        from: Source,
        to: Target,
        expect: UdpExpect,
    },
    /// `connections` TCP connections from a node to a name, resolved in the
    /// node for each one: shows how DNS round-robin spreads clients.
    Spread {
        from: String,
        name: String,
        port: u16,
        connections: u32,
        expect: SpreadExpect,
    },
    /// The MTU of a node's interface on a network; with `to`, the path MTU
    /// to that node on that network, measured with Don't Fragment probes.
    Mtu {
        node: String,
        network: String,
        #[serde(default)]
        to: Option<String>,
        expect: u32,
    },
    /// A TLS handshake from `from` with `to`, presenting `name` (SNI).
    Tls {
        from: Source,
        to: Target,
        name: String,
        trust: Trust,
        expect: TlsExpect,
    },
    /// An HTTP exchange that follows redirects as a browser does.
    Http {
        from: Source,
        url: String,
        method: String,
        body: Option<String>,
        expect: HttpExpect,
    },
    /// Who may reach whom on one port, as a table: every cell is probed
    /// like a `tcp`/`udp` check from the row's source to the column's node.
    Matrix(Matrix),
    /// A published port, seen from the node's own Docker host (`host` is
    /// that host's name in a lab of several hosts).
    Port {
        node: String,
        host: Option<String>,
        port: u16,
        transport: Transport,
        host_ip: Option<IpAddr>,
        host_port: Option<u16>,
        expect: PortExpect,
    },
    /// What a node's interface on a network shows of the link layer to
    /// another node there: the MAC address the peer is reached at, next to
    /// the node's own, and whether ARP is spoken at all.
    Link {
        node: String,
        network: String,
        to: String,
        expect: LinkExpect,
    },
    /// Round-trip times of a series of ICMP echo requests.
    Latency {
        echo: super::measure::Echo,
        expect: super::measure::LatencyExpect,
    },
    /// The share of a series of ICMP echo requests that got no reply.
    Loss {
        echo: super::measure::Echo,
        expect: super::measure::PercentRange,
    },
    /// Whether a node has a route out: the kernel's routing decision in the
    /// node's namespace for an address outside every lab (TEST-NET-1,
    /// 192.0.2.1; 2001:db8::1 for IPv6), asked without sending a packet.
    Egress { node: String, expect: EgressExpect },
}

/// What an `egress` check expects: `none` (no route: an internal network's
/// container, a node with network mode none) or `routed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EgressExpect {
    None,
    Routed,
}

impl EgressExpect {
    pub fn as_str(self) -> &'static str {
        match self {
            EgressExpect::None => "none",
            EgressExpect::Routed => "routed",
        }
    }
}

impl CheckKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            CheckKind::Dns { .. } => "dns",
            CheckKind::Tcp { .. } => "tcp",
            CheckKind::Udp { .. } => "udp",
            CheckKind::Port { .. } => "port",
            CheckKind::Matrix(_) => "matrix",
            CheckKind::Spread { .. } => "tcp",
            CheckKind::Mtu { .. } => "mtu",
            CheckKind::Link { .. } => "link",
            CheckKind::Tls { .. } => "tls",
            CheckKind::Http { .. } => "http",
            CheckKind::Latency { .. } => "latency",
            CheckKind::Loss { .. } => "loss",
            CheckKind::Egress { .. } => "egress",
        }
    }

    /// Whether the expectation is a negative one, met by an absence
    /// (nothing answered, nothing resolved, nothing published).
    pub fn expects_silence(&self) -> bool {
        matches!(
            self,
            CheckKind::Tcp {
                expect: TcpExpect::Blocked | TcpExpect::Refused,
                ..
            } | CheckKind::Udp {
                expect: UdpExpect::Blocked,
                ..
            } | CheckKind::Dns {
                expect: DnsExpect::Unresolved,
                ..
            } | CheckKind::Port {
                expect: PortExpect::Unpublished,
                ..
            } | CheckKind::Egress {
                expect: EgressExpect::None,
                ..
            }
        ) || matches!(self, CheckKind::Matrix(m) if m.cells.iter().any(|c| c.expect != CellExpect::Open))
    }

    /// Whether `retry:` can mean something: trying again until a positive
    /// expectation holds. A negative one (an absence) and a TLS failure
    /// (which a server not ready yet would also show) would pass on the
    /// first unlucky try.
    pub fn retry_allowed(&self) -> bool {
        !self.expects_silence()
            && !matches!(
                self,
                CheckKind::Tls {
                    expect: TlsExpect::Untrusted | TlsExpect::WrongName | TlsExpect::NoTls,
                    ..
                }
            )
    }

    /// Where the probe runs.
    pub fn source(&self) -> Source {
        match self {
            CheckKind::Dns { from, .. } => Source::Node(from.clone()),
            CheckKind::Tcp { from, .. }
            | CheckKind::Udp { from, .. }
            | CheckKind::Tls { from, .. }
            | CheckKind::Http { from, .. } => from.clone(),
            CheckKind::Port { host, .. } => Source::Host(host.clone()),
            // Each cell has its own source; the first row stands for them.
            CheckKind::Matrix(m) => m.sources.first().cloned().unwrap_or(Source::Host(None)),
            CheckKind::Spread { from, .. } => Source::Node(from.clone()),
            CheckKind::Mtu { node, .. }
            | CheckKind::Egress { node, .. }
            | CheckKind::Link { node, .. } => Source::Node(node.clone()),
            CheckKind::Latency { echo, .. } | CheckKind::Loss { echo, .. } => echo.from.clone(),
        }
    }
}

/// Durations travel as whole milliseconds in the stored lab.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
