//! The lab's record: what `verify`, a later `up` and `down` need to know of
//! a lab that is up, kept in the engine so no file on netlab's machine is
//! state. It lives as a file inside the lab's claim — a container that is
//! created, never started, and whose name only one netlab can take — on the
//! default engine: the lab as validated (checks included), which engine each
//! logical host is, the lab's CAs, and the agent image.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::container;
use super::{Endpoint, Engine, EngineError, Result};
use crate::lab::Lab;
use crate::pki::StoredCa;
use crate::plan::RECORD_PATH;

/// The record's format; a record of another version is refused with a hint.
pub const RECORD_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub lab: Lab,
    /// Logical host → the engine it is.
    pub engines: IndexMap<String, Endpoint>,
    /// The lab CA: checks trust it.
    pub ca: Option<StoredCa>,
    /// The CA of `ca: other` nodes: checks do not trust it.
    pub other_ca: Option<StoredCa>,
    pub agent_image: String,
}

impl Record {
    /// `east=unix:///…,west=tcp://…` for the claim's label.
    pub fn bindings_label(&self) -> String {
        self.engines
            .iter()
            .map(|(h, e)| format!("{h}={}", e.url))
            .collect::<Vec<_>>()
            .join(",")
    }
}

pub async fn write(engine: &Engine, claim: &str, record: &Record) -> Result<()> {
    let json = serde_json::to_vec_pretty(record)
        .map_err(|e| EngineError::new("cannot encode the lab's record", e))?;
    container::upload(engine, claim, &[(RECORD_PATH.to_owned(), json, 0o600)])
        .await
        .map_err(|e| EngineError::new(format!("cannot write the lab's record into {claim}"), e))
}

pub async fn read(engine: &Engine, claim: &str, lab: &str) -> Result<Record> {
    let bytes = container::read_file(engine, claim, RECORD_PATH).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| EngineError::new(format!("the record of lab `{lab}` is unreadable"), e))?;
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version != u64::from(RECORD_VERSION) {
        return Err(EngineError::new(
            format!("lab `{lab}` was brought up by another netlab (record version {version})"),
            anyhow::anyhow!("run `netlab down {lab}` and bring it up again"),
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        EngineError::new(
            format!("lab `{lab}` was brought up by an incompatible netlab"),
            anyhow::anyhow!("{e}; run `netlab down {lab}` and bring it up again"),
        )
    })
}
