//! `steps:` exactly as written, with the line and column of everything
//! validation may point at. An action is a map with one key, the verb,
//! whose value is a map of fields (`disconnect: { node: db, network: back }`)
//! or one word (`restart: web`, `wait: 2s`).

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use super::raw::{RawCheck, Scalar, Span};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub title: Option<Span<String>>,
    #[serde(rename = "do", default)]
    pub actions: Vec<Span<RawAction>>,
    #[serde(default)]
    pub checks: Vec<Span<RawCheck>>,
}

/// One entry of `do:`: a map with exactly one verb. Kept as a map so an
/// unknown verb is a validation problem, collected with the others.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct RawAction(pub IndexMap<Span<String>, Span<RawActionBody>>);

/// What follows the verb: one word, or a map of fields.
#[derive(Debug, Default)]
pub struct RawActionBody {
    pub word: Option<Scalar>,
    pub fields: RawActionFields,
}

/// Every field any action may carry; `validate` says which apply.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawActionFields {
    pub node: Option<Span<String>>,
    pub network: Option<Span<String>>,
    pub timeout: Option<Span<String>>,
    pub duration: Option<Span<String>>,
    pub delay: Option<Span<String>>,
    pub jitter: Option<Span<String>>,
    pub loss: Option<Span<String>>,
    pub duplicate: Option<Span<String>>,
    pub corrupt: Option<Span<String>>,
    pub reorder: Option<Span<String>>,
    pub rate: Option<Span<String>>,
}

impl RawActionFields {
    /// The fields that are present, by their YAML name.
    pub fn present(&self) -> Vec<(&'static str, &serde_saphyr::Location)> {
        let mut out = Vec::new();
        macro_rules! field {
            ($($f:ident),*) => {$(
                if let Some(v) = &self.$f { out.push((stringify!($f), &v.referenced)); }
            )*};
        }
        field!(
            node, network, timeout, duration, delay, jitter, loss, duplicate, corrupt, reorder,
            rate
        );
        out
    }
}

impl<'de> Deserialize<'de> for RawActionBody {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl<'de> Visitor<'de> for BodyVisitor {
            type Value = RawActionBody;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of fields (e.g. { node: web, network: front }) or one word (e.g. web, 2s)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawActionBody, E> {
                Ok(word(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawActionBody, E> {
                Ok(word(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawActionBody, E> {
                Ok(word(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawActionBody, E> {
                Ok(word(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawActionBody, E> {
                Ok(word(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawActionBody, E> {
                Ok(RawActionBody::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let fields =
                    RawActionFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawActionBody { word: None, fields })
            }
        }
        d.deserialize_any(BodyVisitor)
    }
}

fn word(v: String) -> RawActionBody {
    RawActionBody {
        word: Some(Scalar(v)),
        fields: RawActionFields::default(),
    }
}
