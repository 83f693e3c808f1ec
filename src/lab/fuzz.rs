//! Property tests: no lab file, however malformed — random bytes, truncated
//! or spliced shipped labs, deep nesting, wrong types — makes parsing or
//! validation panic. Case counts are fixed so `make test` stays bounded.

use proptest::prelude::*;

use super::{builtin, load_source};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A shipped lab with one random edit: truncated, a byte replaced, a slice
/// duplicated elsewhere.
fn mutated_lab() -> impl Strategy<Value = Vec<u8>> {
    let labs: Vec<&'static str> = builtin::all().map(|(_, t)| t).collect();
    (
        0..labs.len(),
        any::<u16>(),
        any::<u16>(),
        any::<u8>(),
        0..3u8,
    )
        .prop_map(move |(i, a, b, byte, how)| {
            let text = labs[i].as_bytes();
            let (a, b) = (usize::from(a) % text.len(), usize::from(b) % text.len());
            let mut out = text.to_vec();
            match how {
                0 => out.truncate(a),
                1 => out[a] = byte,
                _ => {
                    let (lo, hi) = (a.min(b), a.max(b));
                    let slice = text[lo..hi].to_vec();
                    out.splice(b..b, slice);
                }
            }
            out
        })
}

/// YAML-shaped text from the lab file's own vocabulary.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "name:",
        "networks:",
        "nodes:",
        "checks:",
        "- ",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\n",
        "  ",
        "web",
        "front",
        "subnet: 10.0.0.0/24",
        "ipv4: 10.0.0.300",
        "driver: overlay",
        "expect: open",
        "tcp:",
        "dns:",
        "port:",
        "mtu:",
        "to: web:7000",
        "from: host",
        "&a",
        "*a",
        "!!binary",
        "~",
        "null",
        "\"",
        "'",
        "#",
        "1e999",
        "-1",
        "99999",
        "connections: 5",
        "network_mode: host",
        "ports: [\"80\"]",
        "serve: [tcp:7000]",
    ]);
    prop::collection::vec(token, 0..80).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = load_source("fuzz.yaml", &bytes, Some("fuzz"));
    }

    #[test]
    fn mutated_shipped_labs_never_panic(bytes in mutated_lab()) {
        let _ = load_source("fuzz.yaml", &bytes, Some("fuzz"));
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in yamlish()) {
        let _ = load_source("fuzz.yaml", text.as_bytes(), Some("fuzz"));
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow(depth in 50usize..5000, flow in any::<bool>()) {
        let text = if flow {
            format!("nodes: {}{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            (0..depth).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect()
        };
        prop_assert!(load_source("deep.yaml", text.as_bytes(), Some("deep")).is_err());
    }
}
