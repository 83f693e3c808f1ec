//! Labs that change: `steps:` run after the steady state, each doing
//! something to the running lab (`do:`) and then running its own checks.
//!
//! `LabState` is what the lab looks like between actions — which nodes run,
//! which are paused, which networks each is on, which of its links are
//! impaired — as the file declares it and as each action leaves it.
//! Validation walks it to refuse an action that cannot happen at that
//! point (connecting a node to a network it is on, pausing a stopped node)
//! and a check that cannot run there (probing from a paused node); `plan`
//! compares it with the declared state to put the lab back.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::{Attachment, Check, Lab, Node};
use crate::impairment::{Impairment, format_duration};

/// How long `stop` and `restart` wait for a node to stop before killing
/// it, when the action gives no `timeout:` (docker stop's default).
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub title: String,
    pub actions: Vec<Action>,
    pub checks: Vec<Check>,
}

/// One thing a step does to the lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Joins a network: a network the node declares, with its aliases and
    /// static address, or another network of the lab, by its name alone.
    Connect {
        node: String,
        network: String,
    },
    Disconnect {
        node: String,
        network: String,
    },
    Stop {
        node: String,
        #[serde(with = "millis")]
        grace: Duration,
    },
    Start {
        node: String,
    },
    Restart {
        node: String,
        #[serde(with = "millis")]
        grace: Duration,
    },
    Pause {
        node: String,
    },
    Unpause {
        node: String,
    },
    /// SIGKILL: the node stops at once, as a crash would.
    Kill {
        node: String,
    },
    /// netem on the node's interface in that network, on what it sends.
    Impair {
        node: String,
        network: String,
        impairment: Impairment,
    },
    /// Removes the node's impairments (on one network, or all).
    Clear {
        node: String,
        network: Option<String>,
    },
    Wait {
        #[serde(with = "millis")]
        duration: Duration,
    },
}

impl Action {
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Connect { .. } => "connect",
            Action::Disconnect { .. } => "disconnect",
            Action::Stop { .. } => "stop",
            Action::Start { .. } => "start",
            Action::Restart { .. } => "restart",
            Action::Pause { .. } => "pause",
            Action::Unpause { .. } => "unpause",
            Action::Kill { .. } => "kill",
            Action::Impair { .. } => "impair",
            Action::Clear { .. } => "clear",
            Action::Wait { .. } => "wait",
        }
    }

    /// The node it acts on (`wait` acts on none).
    pub fn node(&self) -> Option<&str> {
        match self {
            Action::Connect { node, .. }
            | Action::Disconnect { node, .. }
            | Action::Stop { node, .. }
            | Action::Start { node }
            | Action::Restart { node, .. }
            | Action::Pause { node }
            | Action::Unpause { node }
            | Action::Kill { node }
            | Action::Impair { node, .. }
            | Action::Clear { node, .. } => Some(node),
            Action::Wait { .. } => None,
        }
    }
}

impl fmt::Display for Action {
    /// `disconnect db from back`, `impair web on front: delay 100ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Connect { node, network } => write!(f, "connect {node} to {network}"),
            Action::Disconnect { node, network } => {
                write!(f, "disconnect {node} from {network}")
            }
            Action::Impair {
                node,
                network,
                impairment,
            } => write!(f, "impair {node} on {network}: {impairment}"),
            Action::Clear {
                node,
                network: Some(n),
            } => write!(f, "clear {node} on {n}"),
            Action::Clear {
                node,
                network: None,
            } => write!(f, "clear {node}"),
            Action::Wait { duration } => write!(f, "wait {}", format_duration(*duration)),
            other => write!(f, "{} {}", other.verb(), other.node().unwrap_or_default()),
        }
    }
}

/// A node between actions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeState {
    pub running: bool,
    pub paused: bool,
    /// The lab networks it is on.
    pub networks: BTreeSet<String>,
    /// The networks on which its interface is impaired.
    pub impaired: BTreeSet<String>,
}

/// Every node of the lab between actions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabState {
    pub nodes: BTreeMap<String, NodeState>,
}

impl LabState {
    /// The lab as its file declares it: every node running, unpaused, on
    /// its networks, unimpaired.
    pub fn declared(lab: &Lab) -> LabState {
        LabState::of_nodes(&lab.nodes)
    }

    pub fn of_nodes(nodes: &indexmap::IndexMap<String, Node>) -> LabState {
        LabState {
            nodes: nodes
                .values()
                .map(|n| {
                    let networks = match &n.attachment {
                        Attachment::Networks(list) => {
                            list.iter().map(|a| a.network.clone()).collect()
                        }
                        Attachment::Mode(_) | Attachment::Shared(_) => BTreeSet::new(),
                    };
                    (
                        n.name.clone(),
                        NodeState {
                            running: true,
                            paused: false,
                            networks,
                            impaired: BTreeSet::new(),
                        },
                    )
                })
                .collect(),
        }
    }

    pub fn node(&self, name: &str) -> Option<&NodeState> {
        self.nodes.get(name)
    }

    /// The state after `action`, or why the action cannot happen here (the
    /// words complete "cannot <verb> <node>: …").
    pub fn apply(&mut self, action: &Action) -> Result<(), String> {
        let Some(name) = action.node() else {
            return Ok(());
        };
        let Some(n) = self.nodes.get_mut(name) else {
            return Err(format!("there is no node `{name}`"));
        };
        let paused = |verb: &str| -> Result<(), String> {
            if n.paused {
                Err(format!(
                    "it is paused at this point (a paused container cannot {verb}; `unpause` it first)"
                ))
            } else {
                Ok(())
            }
        };
        match action {
            Action::Connect { network, .. } => {
                if n.networks.contains(network) {
                    return Err(format!("it is on `{network}` already at this point"));
                }
                paused("change its networks")?;
                n.networks.insert(network.clone());
            }
            Action::Disconnect { network, .. } => {
                if !n.networks.contains(network) {
                    return Err(format!("it is not on `{network}` at this point"));
                }
                paused("change its networks")?;
                n.networks.remove(network);
                n.impaired.remove(network);
            }
            Action::Stop { .. } | Action::Kill { .. } => {
                if !n.running {
                    return Err("it is stopped already at this point".into());
                }
                paused("stop")?;
                n.running = false;
                // A stopped container's network namespace goes with it.
                n.impaired.clear();
            }
            Action::Start { .. } => {
                if n.running {
                    return Err("it is running already at this point".into());
                }
                n.running = true;
            }
            Action::Restart { .. } => {
                paused("restart")?;
                n.running = true;
                n.impaired.clear();
            }
            Action::Pause { .. } => {
                if !n.running {
                    return Err("it is stopped at this point".into());
                }
                if n.paused {
                    return Err("it is paused already at this point".into());
                }
                n.paused = true;
            }
            Action::Unpause { .. } => {
                if !n.paused {
                    return Err("it is not paused at this point".into());
                }
                n.paused = false;
            }
            Action::Impair { network, .. } => {
                if !n.running {
                    return Err("it is stopped at this point: it has no interface to impair".into());
                }
                if !n.networks.contains(network) {
                    return Err(format!(
                        "it is not on `{network}` at this point: it has no interface there"
                    ));
                }
                n.impaired.insert(network.clone());
            }
            Action::Clear { network, .. } => {
                if !n.running {
                    return Err("it is stopped at this point: there is nothing to clear".into());
                }
                match network {
                    Some(net) => {
                        n.impaired.remove(net);
                    }
                    None => n.impaired.clear(),
                }
            }
            Action::Wait { .. } => {}
        }
        Ok(())
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
