//! The wire format between netlab and the agent running inside a container.
//!
//! netlab sends one `ProbeBatch` per node per verify (as a JSON argument of
//! `netlab agent probe`), the agent answers with one JSON `ProbeReport` on
//! stdout. The same types are used when netlab probes `from: host` in-process.
//! Observations are raw facts; deciding pass/fail is `check`'s job.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::vocab::RecordType;

/// The first line an agent TCP listener sends, and the whole of a UDP reply
/// prefix: `netlab-agent lab=<lab> node=<node>`.
pub const GREETING_PREFIX: &str = "netlab-agent";

/// Where `up` puts a node's certificate (`cert.pem`, `key.pem`) and the lab
/// CA (`ca.pem`) inside its container.
pub const TLS_DIR: &str = "/netlab-tls";

/// The line `netlab agent serve` prints on stdout once every listener is bound.
pub const READY_LINE: &str = "netlab-agent ready";

/// Who answered: the lab and node name an agent announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub lab: String,
    pub node: String,
}

impl Identity {
    /// `netlab-agent lab=<lab> node=<node>\n`
    pub fn greeting(&self) -> String {
        format!("{GREETING_PREFIX} lab={} node={}\n", self.lab, self.node)
    }

    /// Reads a greeting line back; `None` for anything else.
    pub fn parse_greeting(line: &str) -> Option<Identity> {
        let rest = line
            .trim_end()
            .strip_prefix(GREETING_PREFIX)?
            .strip_prefix(' ')?;
        let (lab, node) = rest.split_once(' ')?;
        Some(Identity {
            lab: lab.strip_prefix("lab=")?.to_owned(),
            node: node.strip_prefix("node=")?.to_owned(),
        })
    }
}

/// One probe to run. `id` ties the result back to the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Probe {
    Dns {
        id: usize,
        name: String,
        record: RecordType,
        timeout_ms: u64,
    },
    Tcp {
        id: usize,
        addr: SocketAddr,
        timeout_ms: u64,
    },
    Udp {
        id: usize,
        addr: SocketAddr,
        timeout_ms: u64,
    },
    /// A TLS handshake with `addr`, presenting `sni`, trusting `ca_pem`
    /// (`None`: trusting nothing), then one HTTP request over it.
    Tls {
        id: usize,
        addr: SocketAddr,
        sni: String,
        ca_pem: Option<String>,
        timeout_ms: u64,
    },
    /// An HTTP request that follows redirects as browsers do, reporting
    /// every hop. `ca_pem` is trusted for https.
    Http {
        id: usize,
        url: String,
        method: String,
        body: Option<String>,
        ca_pem: Option<String>,
        max_redirects: u32,
        timeout_ms: u64,
    },
    /// The MTU of the interface that holds `address`.
    Mtu {
        id: usize,
        address: IpAddr,
        timeout_ms: u64,
    },
    /// `connections` TCP connections to `name:port`, resolving the name anew
    /// for each one (as a client would), counting who answers.
    Spread {
        id: usize,
        name: String,
        port: u16,
        connections: u32,
        timeout_ms: u64,
    },
}

impl Probe {
    pub fn timeout_ms(&self) -> u64 {
        match self {
            Probe::Dns { timeout_ms, .. }
            | Probe::Tcp { timeout_ms, .. }
            | Probe::Udp { timeout_ms, .. }
            | Probe::Mtu { timeout_ms, .. }
            | Probe::Tls { timeout_ms, .. }
            | Probe::Http { timeout_ms, .. }
            | Probe::Spread { timeout_ms, .. } => *timeout_ms,
        }
    }

    pub fn id(&self) -> usize {
        match self {
            Probe::Dns { id, .. }
            | Probe::Tcp { id, .. }
            | Probe::Udp { id, .. }
            | Probe::Mtu { id, .. }
            | Probe::Tls { id, .. }
            | Probe::Http { id, .. }
            | Probe::Spread { id, .. } => *id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProbeBatch {
    pub probes: Vec<Probe>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Observation {
    Dns(DnsObservation),
    Tcp(TcpObservation),
    Udp(UdpObservation),
    Mtu(MtuObservation),
    Spread(SpreadObservation),
    Tls(TlsObservation),
    Http(HttpObservation),
}

/// How a TLS exchange went, phase by phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsObservation {
    pub outcome: TlsOutcome,
    /// Milliseconds for the TCP connect, the handshake, and from the request
    /// to the first byte of the answer.
    pub connect_ms: Option<f64>,
    pub handshake_ms: Option<f64>,
    pub first_byte_ms: Option<f64>,
    /// `TLSv1_3`, `TLS13_AES_256_GCM_SHA384`, `CN=web, O=netlab`.
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub subject: Option<String>,
    /// Whether the server ended with a TLS close_notify (an orderly close).
    pub close_notify: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum TlsOutcome {
    Verified,
    /// The certificate does not chain to a trusted CA.
    Untrusted {
        reason: String,
    },
    /// The certificate does not cover the name asked for (SNI).
    WrongName {
        reason: String,
    },
    /// The server does not speak TLS.
    NoTls {
        reason: String,
    },
    Refused,
    Timeout,
    Error {
        message: String,
    },
}

/// One request of an HTTP exchange and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHop {
    pub url: String,
    pub method: String,
    /// Whether this request carried the original body.
    pub body_sent: bool,
    pub status: u16,
    pub location: Option<String>,
    /// `x-netlab-node` of the answer: which node answered.
    pub node: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HttpObservation {
    pub hops: Vec<HttpHop>,
    /// The last answer's body (truncated).
    pub final_body: String,
    /// Why the exchange stopped early, if it did.
    pub error: Option<String>,
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
    /// No answer before the deadline (e.g. an internal network's embedded
    /// DNS, which cannot forward).
    Timeout,
    /// Anything else (unreadable resolv.conf, SERVFAIL, ...).
    Error { message: String },
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
    /// Nothing came back before the deadline.
    Timeout,
    Error {
        message: String,
    },
}
