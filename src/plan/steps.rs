//! The way back: from whatever state a lab's steps left it in — nodes
//! stopped or paused, networks left or joined, links impaired — to the
//! state its file declares, as actions in an order the engine accepts.
//! Each action's undo is that way back from the state the action leaves.
//! Pure: the states come from `lab::LabState`, as the file declares it
//! and as the engine shows it.
//!
//! Also the names of the containers steps use: a node's impair helpers
//! and the marker a verify holds while it runs steps.

use std::collections::BTreeSet;

use crate::lab::{Action, LabState};

/// The helper that impairs `node`'s link on `network` (it lives as long
/// as the impairment when netlab emulates it).
pub fn impair_helper_name(lab: &str, node: &str, network: &str) -> String {
    format!("netlab_{lab}_{node}..impair..{network}")
}

/// A short-lived helper that clears `node`'s links and says what is left.
pub fn clear_helper_name(lab: &str, node: &str) -> String {
    format!("netlab_{lab}_{node}..clear")
}

/// Held (created, never started) while a verify runs the lab's steps: a
/// second verify finds it, and after a crash the next one puts the lab back
/// first.
pub fn steps_marker_name(lab: &str) -> String {
    format!("netlab_{lab}.steps")
}

/// On the steps marker: the nodes whose links the steps may impair.
pub const LABEL_IMPAIRED: &str = "io.netlab.impaired";
/// On the steps marker: who runs the steps, `host:pid`.
pub const LABEL_OWNER: &str = "io.netlab.owner";

/// The actions that take `now` back to `declared`: unpause, start, leave
/// the networks not declared, join the declared ones again (the engine
/// refuses network changes of a paused node, and a stopped node has no
/// interface to clear), then clear every impaired link left.
pub fn restore(declared: &LabState, now: &LabState) -> Vec<Action> {
    let mut out = Vec::new();
    let pairs = || {
        declared
            .nodes
            .iter()
            .filter_map(|(name, want)| Some((name, want, now.nodes.get(name)?)))
    };
    for (name, _, is) in pairs() {
        if is.paused {
            out.push(Action::Unpause { node: name.clone() });
        }
    }
    for (name, _, is) in pairs() {
        if !is.running {
            out.push(Action::Start { node: name.clone() });
        }
    }
    for (name, want, is) in pairs() {
        for network in is.networks.difference(&want.networks) {
            out.push(Action::Disconnect {
                node: name.clone(),
                network: network.clone(),
            });
        }
    }
    for (name, want, is) in pairs() {
        for network in want.networks.difference(&is.networks) {
            out.push(Action::Connect {
                node: name.clone(),
                network: network.clone(),
            });
        }
    }
    for (name, want, is) in pairs() {
        // Links that leave with their network or their namespace need no
        // clearing; the rest does.
        let still: BTreeSet<&String> = is.impaired.intersection(&want.networks).collect();
        if !still.is_empty() && is.running {
            out.push(Action::Clear {
                node: name.clone(),
                network: None,
            });
        }
    }
    out
}

/// What undoes `action` done to a lab in state `before` (how the
/// tests pin each action's undo).
#[cfg(test)]
pub fn undo(before: &LabState, action: &Action) -> Result<Vec<Action>, String> {
    let mut after = before.clone();
    after.apply(action)?;
    Ok(restore(before, &after))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::impairment::Impairment;
    use crate::lab::step::DEFAULT_STOP_GRACE;

    fn declared() -> LabState {
        let lab = crate::lab::load_source(
            "t.yaml",
            b"networks:\n  front: {}\n  back: {}\nnodes:\n  web:\n    networks: [front, back]\n  db:\n    networks: [back]\n",
            Some("t"),
        )
        .expect("valid")
        .lab;
        LabState::declared(&lab)
    }

    fn node(n: &str) -> String {
        n.to_owned()
    }

    fn undo_of(action: Action) -> Vec<Action> {
        undo(&declared(), &action).expect("the action applies")
    }

    #[test]
    fn every_action_has_its_undo() {
        assert_eq!(
            undo_of(Action::Disconnect {
                node: node("web"),
                network: node("back")
            }),
            vec![Action::Connect {
                node: node("web"),
                network: node("back")
            }]
        );
        assert_eq!(
            undo_of(Action::Connect {
                node: node("db"),
                network: node("front")
            }),
            vec![Action::Disconnect {
                node: node("db"),
                network: node("front")
            }]
        );
        for stopping in [
            Action::Stop {
                node: node("db"),
                grace: DEFAULT_STOP_GRACE,
            },
            Action::Kill { node: node("db") },
        ] {
            assert_eq!(undo_of(stopping), vec![Action::Start { node: node("db") }]);
        }
        assert_eq!(
            undo_of(Action::Pause { node: node("web") }),
            vec![Action::Unpause { node: node("web") }]
        );
        assert_eq!(
            undo_of(Action::Impair {
                node: node("web"),
                network: node("front"),
                impairment: Impairment {
                    delay: Some(Duration::from_millis(100)),
                    ..Impairment::default()
                },
            }),
            vec![Action::Clear {
                node: node("web"),
                network: None
            }]
        );
        // Running, unpaused, unimpaired afterwards: nothing to undo.
        for nothing in [
            Action::Restart {
                node: node("web"),
                grace: DEFAULT_STOP_GRACE,
            },
            Action::Clear {
                node: node("web"),
                network: None,
            },
            Action::Wait {
                duration: Duration::from_secs(1),
            },
        ] {
            assert_eq!(undo_of(nothing), Vec::<Action>::new());
        }
    }

    #[test]
    fn actions_that_cannot_happen_have_no_undo() {
        assert!(undo(&declared(), &Action::Start { node: node("web") }).is_err());
        assert!(undo(&declared(), &Action::Unpause { node: node("web") }).is_err());
        assert!(
            undo(
                &declared(),
                &Action::Connect {
                    node: node("web"),
                    network: node("front")
                }
            )
            .is_err()
        );
    }

    #[test]
    fn the_way_back_from_many_changes_is_in_an_order_the_engine_takes() {
        let before = declared();
        let mut now = before.clone();
        for a in [
            Action::Impair {
                node: node("web"),
                network: node("front"),
                impairment: Impairment::default(),
            },
            Action::Disconnect {
                node: node("db"),
                network: node("back"),
            },
            Action::Connect {
                node: node("db"),
                network: node("front"),
            },
            Action::Pause { node: node("web") },
            Action::Stop {
                node: node("db"),
                grace: DEFAULT_STOP_GRACE,
            },
        ] {
            now.apply(&a).expect("applies");
        }
        let back = restore(&before, &now);
        assert_eq!(
            back,
            vec![
                Action::Unpause { node: node("web") },
                Action::Start { node: node("db") },
                Action::Disconnect {
                    node: node("db"),
                    network: node("front")
                },
                Action::Connect {
                    node: node("db"),
                    network: node("back")
                },
                Action::Clear {
                    node: node("web"),
                    network: None
                },
            ]
        );
        // Done in that order, they lead back to the declared state.
        let mut state = now.clone();
        for a in &back {
            state.apply(a).expect("each step of the way back applies");
        }
        assert_eq!(state, before);
    }

    #[test]
    fn a_link_that_went_with_its_namespace_needs_no_clearing() {
        let before = declared();
        let mut now = before.clone();
        now.apply(&Action::Impair {
            node: node("web"),
            network: node("back"),
            impairment: Impairment::default(),
        })
        .expect("applies");
        now.apply(&Action::Restart {
            node: node("web"),
            grace: DEFAULT_STOP_GRACE,
        })
        .expect("applies");
        assert_eq!(restore(&before, &now), Vec::<Action>::new());
    }
}
