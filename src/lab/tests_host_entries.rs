//! Unit tests of a node's `hostname` and `extra_hosts`: what is taken,
//! what is refused (with its place) and which modes refuse them.

use super::tests::{errors, one_error, valid};

const NET: &str = "networks:\n  n: {}\nnodes:\n";

#[test]
fn hostname_and_extra_hosts_are_taken() {
    let lab = valid(&format!(
        "{NET}  web:\n    networks: [n]\n    hostname: www.example.test\n    extra_hosts:\n      db.internal: 10.9.8.7\n      gw: host-gateway\n      v6: \"fd00::1\"\n"
    ));
    let web = &lab.nodes["web"];
    assert_eq!(web.hostname.as_deref(), Some("www.example.test"));
    assert_eq!(
        web.extra_hosts
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["db.internal=10.9.8.7", "gw=host-gateway", "v6=fd00::1"]
    );
    // In host mode Docker takes extra_hosts too.
    let lab = valid(&format!(
        "{NET}  web:\n    networks: [n]\n  h:\n    network_mode: host\n    extra_hosts: {{ gw: host-gateway }}\n"
    ));
    assert_eq!(lab.nodes["h"].extra_hosts["gw"], "host-gateway");
}

#[test]
fn a_bad_hostname_is_refused_at_its_place() {
    for bad in ["-web", "web-", "a..b", "we b", "under_score"] {
        let (line, col, msg) = one_error(&format!(
            "{NET}  web:\n    networks: [n]\n    hostname: \"{bad}\"\n"
        ));
        assert_eq!((line, col), (6, 15), "{bad}");
        assert_eq!(msg, format!("invalid hostname `{bad}`"));
    }
    let long = "a".repeat(65);
    let (_, _, msg) = one_error(&format!(
        "{NET}  web:\n    networks: [n]\n    hostname: {long}\n"
    ));
    assert!(msg.starts_with("invalid hostname"), "{msg}");
}

#[test]
fn bad_extra_hosts_are_refused_each_at_its_place() {
    let e = errors(&format!(
        "{NET}  web:\n    networks: [n]\n    extra_hosts:\n      db: 10.0.0.300\n      \"bad name\": 10.0.0.1\n      gw: host_gateway\n"
    ));
    assert_eq!(
        e,
        [
            (
                7,
                11,
                "invalid address `10.0.0.300` for `db` in `extra_hosts`".into()
            ),
            (8, 7, "invalid host name `bad name` in `extra_hosts`".into()),
            (
                9,
                11,
                "invalid address `host_gateway` for `gw` in `extra_hosts`".into()
            ),
        ]
    );
}

#[test]
fn modes_that_share_a_namespace_refuse_them() {
    let (line, _, msg) = one_error(&format!(
        "{NET}  web:\n    networks: [n]\n  h:\n    network_mode: host\n    hostname: box\n"
    ));
    assert_eq!(
        (line, msg.as_str()),
        (8, "`hostname` cannot go with `network_mode: host`")
    );
    let e = errors(&format!(
        "{NET}  web:\n    networks: [n]\n  side:\n    network_mode: \"container:web\"\n    hostname: box\n    extra_hosts: {{ gw: host-gateway }}\n"
    ));
    assert_eq!(
        e.iter()
            .map(|(l, _, m)| (*l, m.as_str()))
            .collect::<Vec<_>>(),
        [
            (8, "`hostname` cannot go with `network_mode: container:web`"),
            (
                9,
                "`extra_hosts` cannot go with `network_mode: container:web`"
            ),
        ]
    );
}
