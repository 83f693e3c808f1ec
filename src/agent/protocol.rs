//! The wire format between netlab and the agent running inside a container.
//!
//! netlab attaches to the agent's stdin and stdout: it writes one `Request`
//! line per verify (a batch of probes), the agent runs them concurrently and
//! writes one `Reply` line tagged with the request's id. Probes "from the
//! host" go the same way to a host-network helper agent on that engine.
//! Observations are raw facts; deciding pass/fail is `check`'s job.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

pub use super::web_observation::*;
use crate::loopback::OwnPort;
use crate::vocab::{IpFamily, RecordType, Transport};

/// The first line an agent TCP listener sends, and the whole of a UDP reply
/// prefix: `netlab-agent lab=<lab> node=<node>`.
pub const GREETING_PREFIX: &str = "netlab-agent";

/// Where `up` puts a node's certificate (`cert.pem`, `key.pem`) and the lab
/// CA (`ca.pem`) inside its container.
pub const TLS_DIR: &str = "/netlab-tls";

/// The line `netlab agent serve` prints on stdout once every listener is bound.
pub const READY_LINE: &str = "netlab-agent ready";

/// Who answered: the lab and node name an agent announces, and in a lab
/// of several hosts the host it runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub lab: String,
    pub node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Identity {
    /// `netlab-agent lab=<lab> node=<node>[ host=<host>]\n`
    pub fn greeting(&self) -> String {
        match &self.host {
            Some(h) => format!(
                "{GREETING_PREFIX} lab={} node={} host={h}\n",
                self.lab, self.node
            ),
            None => format!("{GREETING_PREFIX} lab={} node={}\n", self.lab, self.node),
        }
    }

    /// Reads a greeting line back; `None` for anything else.
    pub fn parse_greeting(line: &str) -> Option<Identity> {
        let mut words = line
            .trim_end()
            .strip_prefix(GREETING_PREFIX)?
            .strip_prefix(' ')?
            .split(' ');
        let lab = words.next()?.strip_prefix("lab=")?.to_owned();
        let node = words.next()?.strip_prefix("node=")?.to_owned();
        let host = match words.next() {
            Some(w) => Some(w.strip_prefix("host=")?.to_owned()),
            None => None,
        };
        Some(Identity { lab, node, host })
    }

    /// `web` or, on several hosts, `web@east`.
    pub fn node_at_host(&self) -> String {
        match &self.host {
            Some(h) => format!("{}@{h}", self.node),
            None => self.node.clone(),
        }
    }
}

/// The protocol version of `Request` and `Reply`: an agent of another
/// version answers with an error instead of guessing.
pub const PROTOCOL_VERSION: u32 = 2;

/// The prefix of every reply line the agent writes on stdout, so replies
/// stand apart from anything else it prints.
pub const REPLY_PREFIX: &str = "netlab-reply ";

/// One line on the agent's stdin: a batch of probes to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub protocol: u32,
    /// Unique per client and request: every attached client sees every
    /// reply, and keeps its own.
    pub id: String,
    pub batch: ProbeBatch,
}

/// One line on the agent's stdout, after `REPLY_PREFIX`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    pub protocol: u32,
    pub id: String,
    pub outcome: ReplyOutcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyOutcome {
    Report(ProbeReport),
    Error(String),
}

/// A target given by name (an alias): the probe resolves it with the
/// node's resolver, in the family of its `addr`, and aims at the first
/// answer on `addr`'s port — only if that answer is inside `within` (the
/// addresses of the lab's containers), so a name never leads a probe out
/// of the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByName {
    pub name: String,
    pub within: Vec<ipnet::IpNet>,
}

/// One probe to run. `id` ties the result back to the check; every probe
/// ends by its own deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub id: usize,
    pub timeout_ms: u64,
    /// Record the probe's own packets (tcp, tls, http).
    #[serde(default)]
    pub capture: bool,
    /// Sent from a Docker host's own stack to a lab container's address:
    /// only where the host routes to it itself (`agent::host_route`).
    #[serde(default)]
    pub host_to_container: bool,
    #[serde(flatten)]
    pub kind: ProbeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProbeKind {
    /// Resolve `name`; `control` is asked beside it, to prove a resolver
    /// answers when `name` gets no answer at all.
    Dns {
        name: String,
        record: RecordType,
        control: Option<DnsControl>,
    },
    Tcp {
        addr: SocketAddr,
        /// How the listener there says who it is: a web listener greets
        /// nobody, and is asked `GET /whoami` on the connection.
        #[serde(default)]
        speak: Speak,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_name: Option<ByName>,
    },
    Udp {
        addr: SocketAddr,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_name: Option<ByName>,
    },
    /// A TLS handshake with `addr`, presenting `sni`, trusting `ca_pem`
    /// (`None`: trusting nothing), then one HTTP request over it.
    Tls {
        addr: SocketAddr,
        sni: String,
        ca_pem: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_name: Option<ByName>,
    },
    /// An HTTP request that follows redirects as browsers do, reporting
    /// every hop. `ca_pem` is trusted for https. With `follow_only`, a
    /// redirect to a host not in it is reported, not followed.
    Http {
        url: String,
        method: String,
        body: Option<String>,
        ca_pem: Option<String>,
        max_redirects: u32,
        // Boxed: every planned probe is as large as its largest kind.
        follow_only: Option<Box<FollowOnly>>,
        /// The family a name in the URL is resolved to (A or AAAA);
        /// `None`: IPv4.
        #[serde(default)]
        family: Option<IpFamily>,
    },
    /// The MTU of the interface that holds `address`.
    Mtu { address: IpAddr },
    /// The link layer from the interface holding `address` to `peer`.
    Link { address: IpAddr, peer: IpAddr },
    /// The largest packet that crosses the path to `target` with Don't
    /// Fragment set, measured.
    PathMtu { target: IpAddr },
    /// The route the kernel would take to `target` (an address outside
    /// every lab), asked by connecting a UDP socket: nothing is sent.
    Egress { target: IpAddr },
    /// `connections` TCP connections to `name:port`, resolving the name anew
    /// for each one (as a client would), counting who answers.
    Spread {
        name: String,
        port: u16,
        connections: u32,
        /// How the name's carriers say who they are on `port` (a web
        /// listener is asked `GET /whoami`).
        #[serde(default)]
        speak: Speak,
    },
    /// A published port, from the Docker host it is published on: at `ip`
    /// and, with `also_external`, at the host's first address that is not
    /// loopback too. `speak` is how the listener behind it proves who it is.
    Published {
        ip: IpAddr,
        port: u16,
        transport: crate::vocab::Transport,
        speak: Speak,
        also_external: bool,
        /// Further bindings of the same port to try (the other family's).
        #[serde(default)]
        also: Vec<SocketAddr>,
    },
    /// Whether `addr` can be bound (a host port `up` is about to publish).
    Bind {
        addr: SocketAddr,
        transport: crate::vocab::Transport,
    },
    /// The addresses of this network namespace's interfaces.
    Interfaces,
    /// The IPv6 routes and addresses of this network namespace: what an
    /// IPv6 subnet of a lab must not overlap on its Docker host, and
    /// whether a gateway's address is still being checked for duplicates.
    Routes6,
    /// `count` ICMP echo requests to `target`, `interval_us` apart: the
    /// round-trip time of each, and which got no reply.
    Echo {
        target: IpAddr,
        count: u32,
        interval_us: u64,
    },
    /// The routes and addresses of this network namespace (`up` refuses a
    /// subnet that overlaps one of its Docker host's).
    Routes,
}

/// Where a redirect may lead: these names, these addresses, addresses in
/// these subnets, and loopback — on a Docker host's own stack, only its
/// loopback ports that are the lab's (`loopback`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FollowOnly {
    pub names: Vec<String>,
    pub addresses: Vec<IpAddr>,
    pub subnets: Vec<ipnet::IpNet>,
    /// `None`: any loopback port (a container's loopback is its own);
    /// `Some`: the probe runs on a host's stack, whose loopback holds other
    /// services too, so only these ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback: Option<Vec<OwnPort>>,
}

impl FollowOnly {
    #[cfg(test)]
    pub fn allows(&self, url: &url::Url) -> bool {
        self.refusal(url, IpFamily::V4).is_none()
    }

    /// Why a redirect to `url` (names resolved to `family`) is not
    /// followed, or `None`.
    pub fn refusal(&self, url: &url::Url, family: IpFamily) -> Option<String> {
        const OUTSIDE: &str = "it leads outside the lab (netlab follows redirects to the lab's names, addresses and subnets and to loopback)";
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => {
                crate::loopback::localhost(family)
            }
            Some(url::Host::Domain(d)) => {
                let named = self.names.iter().any(|n| n.eq_ignore_ascii_case(d));
                return (!named).then(|| OUTSIDE.to_owned());
            }
            None => return Some(OUTSIDE.to_owned()),
        };
        if crate::loopback::is_loopback(ip) {
            let own = self.loopback.as_deref()?;
            let port = url.port_or_known_default().unwrap_or(80);
            return crate::loopback::refusal(own, ip, port, Transport::Tcp);
        }
        let inside = self.addresses.contains(&ip) || self.subnets.iter().any(|s| s.contains(&ip));
        (!inside).then(|| OUTSIDE.to_owned())
    }
}

/// How a port's listener proves who it is: the agent's greeting (tcp, udp),
/// `GET /whoami` (http), or that over TLS on the lab CA (https).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speak {
    #[default]
    Greeting,
    Http,
    Https {
        sni: String,
        ca_pem: Option<String>,
    },
}

/// The name a DNS probe asks beside the real one, and what proves the
/// resolver alive: an address (a lab peer, the node's own name), or any
/// answer at all (a host's resolver, which may rightly say NXDOMAIN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsControl {
    pub name: String,
    pub needs_address: bool,
    /// AAAA for a node with IPv6 addresses only.
    #[serde(default)]
    pub record: RecordType,
}

impl ProbeKind {
    /// The address the probe sends its first packet to, where it is known
    /// before it starts (an http URL with an address for its host).
    pub fn destination(&self) -> Option<IpAddr> {
        match self {
            ProbeKind::Tcp { addr, .. }
            | ProbeKind::Udp { addr, .. }
            | ProbeKind::Tls { addr, .. } => Some(addr.ip()),
            ProbeKind::Echo { target, .. } => Some(*target),
            ProbeKind::Http { url, .. } => match url::Url::parse(url).ok()?.host()? {
                url::Host::Ipv4(a) => Some(a.into()),
                url::Host::Ipv6(a) => Some(a.into()),
                url::Host::Domain(_) => None,
            },
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProbeBatch {
    pub probes: Vec<Probe>,
}

impl ProbeBatch {
    /// One probe (id 0) that lists the addresses of the network namespace
    /// it runs in: a host helper's answer is its Docker host's addresses.
    pub fn interfaces() -> Self {
        ProbeBatch {
            probes: vec![Probe {
                id: 0,
                timeout_ms: 2000,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Interfaces,
            }],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub results: Vec<ProbeResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub id: usize,
    pub observation: Observation,
    /// Wall time of this probe, in milliseconds.
    pub elapsed_ms: f64,
    /// The probe's own packets, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureResult>,
}

/// What recording a probe's packets gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum CaptureResult {
    Recorded {
        capture: crate::capture::Capture,
    },
    /// No packet socket (no CAP_NET_RAW): the probe still ran.
    Unavailable {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Observation {
    Dns(DnsReport),
    Tcp(TcpObservation),
    Udp(UdpObservation),
    Mtu(MtuObservation),
    Link(super::link::LinkObservation),
    Spread(SpreadObservation),
    Tls(TlsObservation),
    Http(HttpObservation),
    Bind(BindObservation),
    Interfaces { addresses: Vec<InterfaceAddress> },
    Routes6 { prefixes: Vec<Prefix6> },
    Routes { routes: Vec<HostRoute> },
    Published { attempts: Vec<PortAttempt> },
    PathMtu(PathMtuObservation),
    Echo(EchoObservation),
    Egress(EgressObservation),
}

/// The node's routing decision for an address outside the lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum EgressObservation {
    /// The kernel chose a route: from `source`, on `interface` via
    /// `gateway` (the main table's default route there) when they are known.
    Routed {
        target: IpAddr,
        source: IpAddr,
        interface: Option<String>,
        gateway: Option<IpAddr>,
    },
    /// No route: the kernel answered that the network (or host) is
    /// unreachable.
    Unreachable { target: IpAddr, message: String },
    /// The question could not be asked (no socket).
    Error { target: IpAddr, message: String },
}

/// A series of ICMP echo requests and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EchoObservation {
    pub target: Option<IpAddr>,
    /// Requests sent.
    pub sent: u32,
    /// The round-trip time of every answered request, in microseconds,
    /// in the order they were sent.
    pub rtts_us: Vec<u64>,
    /// Replies to a request already answered (netem `duplicate`).
    pub duplicates: u32,
    /// How long the last request was given to be answered, in milliseconds.
    pub waited_ms: u64,
    /// "ping socket" or "raw socket".
    pub method: String,
    /// Why the series could not be sent (no ICMP socket, no route).
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PathMtuObservation {
    Measured {
        path: crate::capture::pmtu::PathMtu,
    },
    /// The path gave no measurement (the target did not answer).
    Failed {
        message: String,
    },
    /// No ICMP socket could be opened here: nothing was observed.
    Unavailable {
        message: String,
    },
}

/// One address a published port was tried at, and what answered there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortAttempt {
    pub addr: SocketAddr,
    pub answer: PortAnswer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum PortAnswer {
    /// An agent said who it is.
    Answered { identity: Identity },
    /// Something answered without saying who it is.
    Anonymous { detail: String },
    /// Refused, silent, unreachable.
    Nothing { detail: String },
}

/// A DNS probe's answer, and its control query's when one was asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsReport {
    pub answer: DnsObservation,
    /// The control name's answer.
    pub control: Option<DnsObservation>,
    /// Each name server of the node's resolv.conf, and whether it can be
    /// reached at all: what tells "no resolver here" from "a resolver that
    /// says nothing". `None` when resolv.conf could not be read.
    #[serde(default)]
    pub resolvers: Option<Vec<ResolverReach>>,
}

/// One name server of a resolv.conf, asked one query on its own socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverReach {
    pub server: IpAddr,
    pub reach: Reach,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Reach {
    /// Something answered the query.
    Answered,
    /// No route, or an ICMP host/network unreachable came back.
    Unreachable { message: String },
    /// ICMP port unreachable: nothing listens on port 53 there.
    Refused,
    /// No answer and no error before the deadline.
    Silent,
}

impl Reach {
    /// Whether this proves nobody can answer there (as opposed to silence,
    /// which proves nothing).
    pub fn proves_absent(&self) -> bool {
        matches!(self, Reach::Unreachable { .. } | Reach::Refused)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum BindObservation {
    Free,
    Taken { message: String },
}

/// An IPv6 route of a namespace, or one of its addresses (`address`,
/// with its prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefix6 {
    pub prefix: ipnet::Ipv6Net,
    pub interface: String,
    pub address: bool,
    /// An address still being checked for duplicates (DAD): nothing can
    /// be sent from it yet.
    #[serde(default)]
    pub tentative: bool,
}

/// A route of the main table, or an address with its prefix (`address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRoute {
    pub destination: ipnet::IpNet,
    pub gateway: Option<IpAddr>,
    pub interface: String,
    #[serde(default)]
    pub address: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAddress {
    pub interface: String,
    pub address: IpAddr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum MtuObservation {
    Found {
        interface: String,
        mtu: u32,
    },
    /// No interface holds that address.
    NotFound,
    Error {
        message: String,
    },
}

/// Who answered each of a series of connections to one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SpreadObservation {
    /// Answers per node, in order of first answer.
    pub answered: Vec<(Identity, u32)>,
    /// Connections that got no agent answer, and why.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum DnsObservation {
    /// The server answered with these addresses (never empty).
    Answers { addresses: Vec<IpAddr> },
    /// NXDOMAIN: the server says the name does not exist.
    NxDomain,
    /// The name exists but has no record of the asked type.
    NoRecords,
    /// SERVFAIL: the server could not answer (Docker 26+ says this on an
    /// internal network, where it cannot forward).
    ServFail,
    /// REFUSED: the server will not answer this client.
    Refused,
    /// No answer before the deadline (Docker 20.10's embedded DNS on an
    /// internal network, or a resolver that is not there).
    Timeout,
    /// Anything else on the wire: no server reachable, a malformed answer.
    Error { message: String },
    /// The probe could not ask at all: no resolv.conf to read, no resolver
    /// to build (an agent or environment failure, not an observation).
    Unavailable { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum TcpObservation {
    /// Connected. `identity` is the agent greeting read after connecting, if
    /// one arrived (a non-agent server sends none).
    Open {
        identity: Option<Identity>,
    },
    /// Reset: the host answered, nothing listens.
    Refused,
    /// No answer before the deadline (packets dropped).
    Timeout,
    /// ICMP unreachable / no route.
    Unreachable {
        message: String,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum UdpObservation {
    /// An agent answered with its identity.
    Answered {
        identity: Identity,
    },
    /// Something answered, but not with an agent greeting.
    Unrecognised {
        reply: String,
    },
    /// ICMP port unreachable came back (connection refused on the socket).
    Refused,
    /// No route to the address, or an ICMP host/network unreachable.
    Unreachable {
        message: String,
    },
    /// Nothing came back before the deadline.
    Timeout,
    Error {
        message: String,
    },
}
