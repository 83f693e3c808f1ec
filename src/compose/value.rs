//! A compose file as a tree of values that remember where they were
//! written (file, line, column), so every note, warning and error of the
//! import can point at the compose line. Anchors, aliases and `<<` merge
//! keys are expanded by serde-saphyr while the tree is read.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where something was written: which file of the import, line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub file: usize,
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Numbers keep their text: compose reads `8080` and `"8080"` alike.
    Number(String),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub at: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub at: Pos,
}

impl Node {
    pub fn new(value: Value, at: Pos) -> Self {
        Node { value, at }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// A scalar as compose reads it: strings, numbers and booleans alike.
    pub fn scalar(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) | Value::Number(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// `true`, `"true"`, `yes`: compose's booleans.
    pub fn truthy(&self) -> Option<bool> {
        match &self.value {
            Value::Bool(b) => Some(*b),
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Some(true),
                "false" | "no" | "off" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn is_map(&self) -> bool {
        matches!(self.value, Value::Map(_))
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// What serde-saphyr hands over, before the file index is attached.
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Number(String),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<RawKey>, Spanned<Raw>)>),
}

#[derive(Debug)]
struct RawKey(String);

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Str(s) | Raw::Number(s) => Ok(RawKey(s)),
            Raw::Bool(b) => Ok(RawKey(b.to_string())),
            Raw::Null => Ok(RawKey(String::new())),
            Raw::Seq(_) | Raw::Map(_) => Err(de::Error::custom("a mapping key must be a scalar")),
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Number(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
                Ok(Raw::Number(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Number(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
                    out.push(item);
                }
                Ok(Raw::Seq(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Spanned<RawKey>>()? {
                    let value = map.next_value::<Spanned<Raw>>()?;
                    out.push((key, value));
                }
                Ok(Raw::Map(out))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

fn pos(file: usize, at: &serde_saphyr::Location) -> Pos {
    Pos {
        file,
        line: at.line(),
        column: at.column(),
    }
}

fn attach(file: usize, raw: Spanned<Raw>) -> Node {
    let at = pos(file, &raw.referenced);
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Number(n) => Value::Number(n),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|i| attach(file, i)).collect()),
        Raw::Map(entries) => {
            let mut out: Vec<(Key, Node)> = Vec::new();
            for (k, v) in entries {
                let key = Key {
                    name: k.value.0,
                    at: pos(file, &k.referenced),
                };
                let value = attach(file, v);
                // A key written twice: YAML says the last one counts.
                out.retain(|(old, _)| old.name != key.name);
                out.push((key, value));
            }
            Value::Map(out)
        }
    };
    Node { value, at }
}

/// Parses one compose file's text; the error is serde-saphyr's rendering,
/// which names the line and column.
pub fn parse(file: usize, name: &str, text: &str) -> Result<Node, String> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 64,
            max_events: 200_000,
            max_aliases: 1_000,
        },
    };
    let raw: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        e.render_with_options(serde_saphyr::render_options! {
            source_name: Some(name),
        })
    })?;
    Ok(attach(file, raw))
}
