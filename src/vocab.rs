//! The words netlab's parts share: what an agent listens on, which DNS
//! record a probe asks for, which transport a port uses and which address
//! family a probe speaks. The lab file,
//! the plan and the agent all speak them, so they belong to none of those.

use serde::{Deserialize, Serialize};

/// DNS record type asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum RecordType {
    #[default]
    A,
    #[serde(rename = "AAAA")]
    Aaaa,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// A listener the agent serves: `tcp:7000`, `udp:7001`, `http:80`,
/// `https:443`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listener {
    pub proto: ListenerProto,
    pub port: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListenerProto {
    Tcp,
    Udp,
    Http,
    Https,
}

impl ListenerProto {
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerProto::Tcp => "tcp",
            ListenerProto::Udp => "udp",
            ListenerProto::Http => "http",
            ListenerProto::Https => "https",
        }
    }

    /// The transport a published port for this listener uses.
    pub fn is_udp(self) -> bool {
        self == ListenerProto::Udp
    }
}

impl std::fmt::Display for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.proto.as_str(), self.port)
    }
}

impl std::str::FromStr for Listener {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (proto, port) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not of the form proto:port (e.g. tcp:7000)"))?;
        let proto = match proto {
            "tcp" => ListenerProto::Tcp,
            "udp" => ListenerProto::Udp,
            "http" => ListenerProto::Http,
            "https" => ListenerProto::Https,
            other => {
                return Err(format!(
                    "unknown listener protocol `{other}` (expected tcp, udp, http or https)"
                ));
            }
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("`{port}` is not a port number (1-65535)"))?;
        Ok(Listener { proto, port })
    }
}

impl Serialize for Listener {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Listener {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IP address family: what a probe speaks and what an address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    pub fn of(ip: std::net::IpAddr) -> IpFamily {
        if ip.is_ipv4() {
            IpFamily::V4
        } else {
            IpFamily::V6
        }
    }

    /// `v4`, `v6`: the lab file's word.
    pub fn word(self) -> &'static str {
        match self {
            IpFamily::V4 => "v4",
            IpFamily::V6 => "v6",
        }
    }

    /// `IPv4`, `IPv6`: the report's word.
    pub fn name(self) -> &'static str {
        match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        }
    }

    /// Loopback of this family.
    pub fn loopback(self) -> std::net::IpAddr {
        match self {
            IpFamily::V4 => std::net::Ipv4Addr::LOCALHOST.into(),
            IpFamily::V6 => std::net::Ipv6Addr::LOCALHOST.into(),
        }
    }

    /// The unspecified address of this family.
    pub fn unspecified(self) -> std::net::IpAddr {
        match self {
            IpFamily::V4 => std::net::Ipv4Addr::UNSPECIFIED.into(),
            IpFamily::V6 => std::net::Ipv6Addr::UNSPECIFIED.into(),
        }
    }
}

/// `family:` of a check: one family, or both (each probed, both must
/// hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    V4,
    V6,
    Both,
}

impl Family {
    /// The families probed, in report order.
    pub fn members(self) -> &'static [IpFamily] {
        match self {
            Family::V4 => &[IpFamily::V4],
            Family::V6 => &[IpFamily::V6],
            Family::Both => &[IpFamily::V4, IpFamily::V6],
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
            Family::Both => "both",
        }
    }

    pub fn parse(word: &str) -> Option<Family> {
        Some(match word {
            "v4" => Family::V4,
            "v6" => Family::V6,
            "both" => Family::Both,
            _ => return None,
        })
    }
}

impl From<IpFamily> for Family {
    fn from(f: IpFamily) -> Family {
        match f {
            IpFamily::V4 => Family::V4,
            IpFamily::V6 => Family::V6,
        }
    }
}
