//! The lab file exactly as written: serde types that keep the line and column
//! of everything validation may have to point at.
//!
//! Nothing here judges meaning; `validate` turns a `RawLab` into a `Lab` and
//! collects every problem. Structural errors (bad YAML, wrong types, unknown
//! fields) come from the deserializer itself, with its own snippet.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

pub type Span<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLab {
    pub version: Option<Span<u32>>,
    pub name: Option<Span<String>>,
    pub description: Option<String>,
    pub hosts: Option<Span<Vec<Span<String>>>>,
    #[serde(default)]
    pub networks: IndexMap<Span<String>, RawNetwork>,
    #[serde(default)]
    pub nodes: IndexMap<Span<String>, RawNode>,
    #[serde(default)]
    pub checks: Vec<Span<RawCheck>>,
    #[serde(default)]
    pub steps: Vec<Span<super::raw_step::RawStep>>,
    /// What `netlab import` found in the compose files (see `finding`).
    #[serde(default)]
    pub findings: Vec<Span<super::finding::RawFinding>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub driver: Option<Span<String>>,
    pub internal: Option<Span<bool>>,
    pub subnet: Option<Span<String>>,
    /// Several IPv4 subnets (ipvlan l3 routes between them).
    pub subnets: Option<Span<Vec<Span<String>>>>,
    pub gateway: Option<Span<String>>,
    pub icc: Option<Span<bool>>,
    pub mtu: Option<Span<u32>>,
    pub attachable: Option<Span<bool>>,
    pub encrypted: Option<Span<bool>>,
    #[serde(default)]
    pub options: IndexMap<Span<String>, Span<Scalar>>,
    pub ipv4: Option<Span<bool>>,
    pub ipv6: Option<Span<bool>>,
    pub subnet6: Option<Span<String>>,
    pub gateway6: Option<Span<String>>,
    /// A network that exists already: the lab uses it, never makes or
    /// removes it.
    pub external: Option<Span<bool>>,
    /// The engine's name of an external network (default: the lab's).
    pub name: Option<Span<String>>,
    /// `lab`: a macvlan or ipvlan network's parent is a dummy interface
    /// the lab makes on the Docker host (and removes with the lab).
    pub parent: Option<Span<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawNode {
    pub host: Option<Span<String>>,
    pub image: Option<Span<String>>,
    pub networks: Option<RawAttachments>,
    pub network_mode: Option<Span<String>>,
    #[serde(default)]
    pub ports: Vec<Span<Scalar>>,
    #[serde(default)]
    pub serve: Vec<Span<String>>,
    pub ca: Option<Span<String>>,
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub env: IndexMap<String, Scalar>,
    /// The container's host name (default: the node's name).
    pub hostname: Option<Span<String>>,
    /// Lines for the container's `/etc/hosts`: name -> address or
    /// `host-gateway`.
    #[serde(default)]
    pub extra_hosts: IndexMap<Span<String>, Span<String>>,
    /// Legacy links: `NODE` or `NODE:ALIAS`.
    #[serde(default)]
    pub links: Vec<Span<String>>,
}

/// `networks:` of a node: a list of names, or a map name -> settings.
#[derive(Debug, Default)]
pub struct RawAttachments(pub Vec<(Span<String>, RawAttachment)>);

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawAttachment {
    #[serde(default)]
    pub aliases: Vec<Span<String>>,
    pub ipv4: Option<Span<String>>,
    pub ipv6: Option<Span<String>>,
}

/// One entry of `checks:`: a map with exactly one kind key (`dns:`, `tcp:` ...).
/// Kept as a map so an unknown kind is a validation problem, collected with
/// the others, rather than a parse error that stops everything.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct RawCheck(pub IndexMap<Span<String>, RawCheckBody>);

/// Every field any check kind may carry; `validate` says which apply.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCheckBody {
    pub title: Option<Span<String>>,
    pub name: Option<Span<String>>,
    pub timeout: Option<Span<String>>,
    pub retry: Option<Span<bool>>,
    pub from: Option<Span<String>>,
    pub to: Option<Span<String>>,
    #[serde(rename = "type")]
    pub record_type: Option<Span<String>>,
    pub node: Option<Span<String>>,
    pub port: Option<Span<Scalar>>,
    pub host_ip: Option<Span<String>>,
    pub host_port: Option<Span<u16>>,
    pub network: Option<Span<String>>,
    pub url: Option<Span<String>>,
    pub method: Option<Span<String>>,
    pub body: Option<Span<String>>,
    pub ca: Option<Span<String>>,
    pub connections: Option<Span<u32>>,
    pub capture: Option<Span<bool>>,
    pub family: Option<Span<String>>,
    pub requires: Option<Span<RawRequires>>,
    pub count: Option<Span<u32>>,
    pub interval: Option<Span<String>>,
    pub expect: Option<Span<RawExpect>>,
}

/// `requires: { engine: ">=27", ip6tables: true }`
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRequires {
    pub engine: Option<Span<String>>,
    pub ip6tables: Option<Span<bool>>,
}

impl RawCheckBody {
    /// The fields that are present, by their YAML name, for "does not apply"
    /// diagnostics.
    pub fn present_fields(&self) -> Vec<(&'static str, &serde_saphyr::Location)> {
        let mut out = Vec::new();
        macro_rules! field {
            ($($f:ident => $n:literal),*) => {$(
                if let Some(v) = &self.$f { out.push(($n, &v.referenced)); }
            )*};
        }
        field!(title => "title", name => "name", timeout => "timeout", retry => "retry",
            from => "from", to => "to", record_type => "type", node => "node", port => "port",
            host_ip => "host_ip", host_port => "host_port", network => "network", url => "url",
            method => "method", body => "body", ca => "ca", connections => "connections",
            capture => "capture", family => "family", requires => "requires",
            count => "count", interval => "interval", expect => "expect");
        out
    }
}

/// `expect:` takes a word (`open`), a list (`[web, 10.0.0.2]`) or a map
/// (`{ status: 200 }`) depending on the check kind.
#[derive(Debug)]
pub enum RawExpect {
    Word(String),
    List(Vec<Span<Scalar>>),
    Map(IndexMap<Span<String>, serde_json::Value>),
}

/// A scalar written as a string or a number (`ports: [443, "80:80"]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scalar(pub String);

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

impl<'de> Deserialize<'de> for RawAttachments {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AttachVisitor;
        impl<'de> Visitor<'de> for AttachVisitor {
            type Value = RawAttachments;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of network names or a map of network name to settings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = seq.next_element::<Span<String>>()? {
                    out.push((name, RawAttachment::default()));
                }
                Ok(RawAttachments(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(name) = map.next_key::<Span<String>>()? {
                    let settings = map.next_value::<Option<RawAttachment>>()?;
                    out.push((name, settings.unwrap_or_default()));
                }
                Ok(RawAttachments(out))
            }
        }
        d.deserialize_any(AttachVisitor)
    }
}

impl<'de> Deserialize<'de> for RawExpect {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ExpectVisitor;
        impl<'de> Visitor<'de> for ExpectVisitor {
            type Value = RawExpect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a word (e.g. open), a list, or a map")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawExpect, E> {
                Ok(RawExpect::Word(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawExpect, E> {
                Ok(RawExpect::Word(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawExpect, E> {
                Ok(RawExpect::Word(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawExpect, E> {
                Ok(RawExpect::Word(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Span<Scalar>>()? {
                    out.push(item);
                }
                Ok(RawExpect::List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = IndexMap::new();
                while let Some(key) = map.next_key::<Span<String>>()? {
                    let value = map.next_value::<serde_json::Value>()?;
                    out.insert(key, value);
                }
                Ok(RawExpect::Map(out))
            }
        }
        d.deserialize_any(ExpectVisitor)
    }
}
