//! Several compose files as one (`-f a -f b`): the compose specification's
//! merge rules. Mappings merge key by key, a later file's scalar wins,
//! sequences of unique things (`ports`, `expose`, `dns` …) are appended,
//! other sequences (`command`) are replaced. A service's `networks:` list
//! is read as a mapping first, so a list and a mapping of two files merge.

use super::value::{Key, Node, Value};

/// Keys whose sequences are appended when files merge (compose-spec
/// "merge": unique resources).
const APPENDED: &[&str] = &[
    "ports",
    "expose",
    "extra_hosts",
    "links",
    "external_links",
    "dns",
    "dns_search",
    "dns_opt",
    "cap_add",
    "cap_drop",
    "profiles",
    "aliases",
];

/// `networks: [a, b]` of a service → `networks: {a: null, b: null}`.
pub fn normalise(file: &mut Node) {
    let Value::Map(top) = &mut file.value else {
        return;
    };
    for (key, services) in top.iter_mut() {
        if key.name != "services" {
            continue;
        }
        let Value::Map(services) = &mut services.value else {
            continue;
        };
        for (_, service) in services.iter_mut() {
            let Value::Map(fields) = &mut service.value else {
                continue;
            };
            for (k, v) in fields.iter_mut() {
                if k.name == "networks"
                    && let Value::Seq(items) = &v.value
                {
                    let entries = items
                        .iter()
                        .map(|i| {
                            (
                                Key {
                                    name: i.scalar().unwrap_or_default(),
                                    at: i.at,
                                },
                                Node::new(Value::Null, i.at),
                            )
                        })
                        .collect();
                    v.value = Value::Map(entries);
                }
            }
        }
    }
}

/// Whether two values are the same, wherever they were written.
pub fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Seq(x), Value::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka.name == kb.name && same(a, b))
        }
        (x, y) => x == y,
    }
}

/// `over` merged onto `base` (`key`: the field both are the value of).
pub fn merge(base: &mut Node, over: Node, key: &str) {
    match (&mut base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (k, v) in o {
                match b.iter_mut().find(|(bk, _)| bk.name == k.name) {
                    Some((_, bv)) => merge(bv, v, &k.name),
                    None => b.push((k, v)),
                }
            }
        }
        (Value::Seq(b), Value::Seq(o)) if APPENDED.contains(&key) => {
            for item in o {
                if !b.iter().any(|x| same(x, &item)) {
                    b.push(item);
                }
            }
        }
        (_, value) => {
            base.value = value;
            base.at = over.at;
        }
    }
}
