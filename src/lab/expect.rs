//! What a check expects, and where it looks from and at: the matrix and its
//! cells, sources and targets, and each kind's expectation. Part of the
//! validated lab (`model`), kept apart so each file stays one subject.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::model::Transport;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    /// `title:` of the matrix, if given.
    pub title: Option<String>,
    pub port: u16,
    pub transport: Transport,
    /// Rows, in the table's order.
    pub sources: Vec<Source>,
    /// Columns: nodes.
    pub targets: Vec<String>,
    /// Every cell that is checked (`-` cells are left out), row by row.
    pub cells: Vec<MatrixCell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCell {
    pub from: Source,
    pub to: String,
    pub expect: CellExpect,
}

/// A matrix cell: `.` open (answered by that node), `x` blocked, `r`
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellExpect {
    Open,
    Blocked,
    Refused,
}

impl CellExpect {
    pub fn symbol(self) -> char {
        match self {
            CellExpect::Open => '.',
            CellExpect::Blocked => 'x',
            CellExpect::Refused => 'r',
        }
    }

    pub fn from_symbol(c: char) -> Option<Option<CellExpect>> {
        Some(match c {
            '.' => Some(CellExpect::Open),
            'x' => Some(CellExpect::Blocked),
            'r' => Some(CellExpect::Refused),
            '-' => None,
            _ => return None,
        })
    }
}

/// Where a probe runs: inside a node, or in a Docker host's own network
/// namespace (`host`: the lab's only host; `host@east`: that one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Host(Option<String>),
    Node(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Host(None) => f.write_str("host"),
            Source::Host(Some(h)) => write!(f, "host@{h}"),
            // A node called `host` is named as compose names a service.
            Source::Node(n) if n == "host" => write!(f, "service:{n}"),
            Source::Node(n) => f.write_str(n),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub host: TargetHost,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetHost {
    /// A node; with a network, its address on that network.
    Node {
        node: String,
        network: Option<String>,
    },
    /// A name of the lab that is no node's (an alias), resolved by Docker's
    /// DNS in the probing node, as the services that use it resolve it.
    Name(String),
    Ip(IpAddr),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            TargetHost::Node {
                node,
                network: None,
            } => write!(f, "{node}:{}", self.port),
            TargetHost::Node {
                node,
                network: Some(net),
            } => write!(f, "{node}@{net}:{}", self.port),
            TargetHost::Name(name) => write!(f, "{name}:{}", self.port),
            TargetHost::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            TargetHost::Ip(ip) => write!(f, "{ip}:{}", self.port),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsExpect {
    /// The exact set of answers: node names (their addresses as seen from
    /// `from`) and literal addresses.
    Exactly(Vec<DnsAnswer>),
    Resolves,
    Unresolved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsAnswer {
    Node(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpExpect {
    /// Answered by the node the target names (its greeting proves it).
    Open,
    /// A TCP handshake completed, whoever completed it (a proxy, a foreign
    /// server): says nothing about who answered.
    Accepts,
    Refused,
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UdpExpect {
    Open,
    Blocked,
}

/// Which CAs a TLS client trusts: the lab's, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    Lab,
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsExpect {
    Verified,
    Untrusted,
    WrongName,
    NoTls,
}

impl TlsExpect {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsExpect::Verified => "verified",
            TlsExpect::Untrusted => "untrusted",
            TlsExpect::WrongName => "wrong-name",
            TlsExpect::NoTls => "no-tls",
        }
    }
}

/// What an HTTP exchange must show; only what is given is checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HttpExpect {
    /// The final answer's status.
    pub status: Option<u16>,
    /// The status of each redirect hop, in order (`[]`: no redirect).
    pub redirects: Option<Vec<u16>>,
    /// The last URL, absolute or as a path (`/echo`).
    pub final_url: Option<String>,
    pub final_method: Option<String>,
    /// Whether the request body reached the final `/echo`.
    pub body_kept: Option<bool>,
    /// Which node gave the final answer.
    pub from_node: Option<String>,
    /// Whether the final answer saw the session cookie set along the way.
    pub session: Option<bool>,
    /// Whether the request line or body crossed the wire readable (shown
    /// by recording the probe's packets).
    #[serde(default)]
    pub plaintext: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpreadExpect {
    /// Every connection answered by a node that carries the name.
    Open,
    /// That, and at least two different nodes answered.
    Spread,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortExpect {
    /// Mapped as declared, and answered from the host by that very node.
    Published,
    /// No mapping exists.
    Unpublished,
}
