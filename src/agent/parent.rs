//! `netlab agent parent`: makes and removes the dummy interfaces that a
//! lab's macvlan and ipvlan networks with `parent: lab` hang off, in the
//! Docker host's network namespace (netlab runs it in a helper on the
//! host's network with NET_ADMIN). Each interface carries its lab in its
//! alias, and only an interface whose alias says so is ever taken or
//! removed: the helper never touches an interface it did not make.

use serde::{Deserialize, Serialize};

use super::rtnl::{self, Rtnl};

/// The line the helper prints its reply on, after this prefix.
pub const PARENT_PREFIX: &str = "netlab-parent ";

/// What the helper did: the interfaces made (or found made by the lab
/// already) and removed (or already gone), or why it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentReply {
    pub made: Vec<String>,
    pub removed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The alias that marks an interface as `lab`'s.
pub fn alias_of(lab: &str) -> String {
    format!("io.netlab.lab={lab}")
}

/// Whose an existing interface is, by its alias: `None` when there is no
/// interface of that name.
fn alias_on_host(name: &str) -> Option<String> {
    let dir = std::path::Path::new("/sys/class/net").join(name);
    if !dir.exists() {
        return None;
    }
    Some(
        std::fs::read_to_string(dir.join("ifalias"))
            .map(|a| a.trim_end().to_owned())
            .unwrap_or_default(),
    )
}

/// The interfaces of this namespace whose alias says `lab` made them.
fn made_by(lab: &str) -> Vec<String> {
    let ours = alias_of(lab);
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| alias_on_host(n).as_deref() == Some(ours.as_str()))
        .collect();
    names.sort();
    names
}

/// Makes `add` for `lab`, and with `sweep` removes every other interface
/// the lab made (one no network of the lab hangs off any more);
/// prints the reply line. Returns whether everything was done.
pub fn command(lab: &str, add: &[String], sweep: bool) -> bool {
    let remove: Vec<String> = if sweep {
        made_by(lab)
            .into_iter()
            .filter(|n| !add.contains(n))
            .collect()
    } else {
        Vec::new()
    };
    let reply = run(lab, add, &remove);
    let ok = reply.error.is_none();
    match serde_json::to_string(&reply) {
        Ok(json) => println!("{PARENT_PREFIX}{json}"),
        Err(e) => eprintln!("netlab agent parent: {e}"),
    }
    ok
}

fn run(lab: &str, add: &[String], remove: &[String]) -> ParentReply {
    let mut reply = ParentReply::default();
    let mut rtnl = match Rtnl::open() {
        Ok(r) => r,
        Err(e) => {
            reply.error = Some(format!("cannot open rtnetlink: {e}"));
            return reply;
        }
    };
    let ours = alias_of(lab);
    for name in remove {
        match alias_on_host(name) {
            None => reply.removed.push(name.clone()),
            Some(alias) if alias == ours => {
                let removed = rtnl::index_of(name).and_then(|i| rtnl.delete_link(i));
                match removed {
                    Ok(()) => reply.removed.push(name.clone()),
                    Err(e) => {
                        reply.error = Some(format!("cannot remove interface {name}: {e}"));
                        return reply;
                    }
                }
            }
            Some(alias) => {
                reply.error = Some(not_ours(name, &alias, lab));
                return reply;
            }
        }
    }
    for name in add {
        let made = match alias_on_host(name) {
            None => rtnl.add_dummy(name, &ours),
            // Left by an earlier `up` of this lab: taken as it is.
            Some(alias) if alias == ours => rtnl.set_up(name),
            Some(alias) => {
                reply.error = Some(not_ours(name, &alias, lab));
                return reply;
            }
        };
        match made {
            Ok(()) => reply.made.push(name.clone()),
            Err(e) => {
                reply.error = Some(format!("cannot make dummy interface {name}: {e}"));
                return reply;
            }
        }
    }
    reply
}

fn not_ours(name: &str, alias: &str, lab: &str) -> String {
    let whose = if alias.is_empty() {
        "no alias".to_owned()
    } else {
        format!("alias `{alias}`")
    };
    format!(
        "the Docker host has an interface called {name} ({whose}) that lab `{lab}` did not make; it is left alone"
    )
}

pub fn parse_reply(line: &str) -> Option<ParentReply> {
    serde_json::from_str(line.trim_end().strip_prefix(PARENT_PREFIX)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_line_reads_back() {
        let reply = ParentReply {
            made: vec!["nlp0123456789".into()],
            removed: Vec::new(),
            error: Some("cannot".into()),
        };
        let line = format!(
            "{PARENT_PREFIX}{}\n",
            serde_json::to_string(&reply).unwrap()
        );
        assert_eq!(parse_reply(&line), Some(reply));
        assert_eq!(parse_reply("netlab-reply {}"), None);
    }

    #[test]
    fn an_interface_of_someone_else_is_named_with_its_alias() {
        let words = not_ours("nlp1", "", "x");
        assert!(words.contains("no alias") && words.contains("left alone"));
        assert!(not_ours("nlp1", "io.netlab.lab=y", "x").contains("`io.netlab.lab=y`"));
    }
}
