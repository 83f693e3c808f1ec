//! Real-engine test of a node's `hostname` and `extra_hosts`, written by
//! `netlab import` from a compose file: the created containers carry them
//! (Config.Hostname, HostConfig.ExtraHosts, and `/etc/hosts` with
//! `host-gateway` made an address by the engine), a node without them has
//! its own name and no such line, and a changed entry re-creates its node
//! alone.

mod support;

use std::process::Command;

use support::*;

const COMPOSE: &str = "services:
  a:
    image: x
    hostname: db.local
    extra_hosts: [\"gw:host-gateway\", \"other=10.0.0.5\"]
  b:
    image: x
";

fn inspect(container: &str, format: &str) -> String {
    let o = Command::new("docker")
        .args(["inspect", "--format", format, container])
        .output()
        .expect("docker inspect");
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_owned()
}

/// The container's `/etc/hosts`, copied out (the agent image has no shell).
fn etc_hosts(container: &str, dir: &std::path::Path) -> String {
    let to = dir.join(format!("{container}.hosts"));
    let o = Command::new("docker")
        .args(["cp", &format!("{container}:/etc/hosts")])
        .arg(&to)
        .output()
        .expect("docker cp");
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(&to).expect("hosts file")
}

#[test]
fn imported_hostname_and_extra_hosts_are_on_the_containers_and_a_change_recreates_the_node() {
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let compose = dir.path().join("compose.yaml");
    std::fs::write(&compose, COMPOSE).expect("write compose");
    let import = netlab(&["import", compose.to_str().expect("utf-8")]);
    assert!(import.status.success(), "{}", stderr(&import));
    let lab_text = stdout(&import);
    assert!(
        !stderr(&import).contains("cannot honour"),
        "{}",
        stderr(&import)
    );
    let guard = LabGuard::from_yaml("t-hostent", &lab_text);
    let started = std::time::Instant::now();
    let up = netlab(&["up", guard.path()]);
    assert!(up.status.success(), "{}\n{}", stdout(&up), stderr(&up));
    eprintln!("up in {:.1?}", started.elapsed());

    let (a, b) = ("netlab_t-hostent_a", "netlab_t-hostent_b");
    assert_eq!(
        inspect(a, "{{.Config.Hostname}} {{json .HostConfig.ExtraHosts}}"),
        r#"db.local ["gw:host-gateway","other:10.0.0.5"]"#
    );
    // The node without them: its own name, no lines (the opposite holds).
    assert_eq!(
        inspect(b, "{{.Config.Hostname}} {{json .HostConfig.ExtraHosts}}"),
        "b null"
    );
    let hosts_a = etc_hosts(a, dir.path());
    let gw_line = hosts_a
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("gw"))
        .unwrap_or_else(|| panic!("no gw line in\n{hosts_a}"));
    let gw: std::net::IpAddr = gw_line
        .split_whitespace()
        .next()
        .and_then(|ip| ip.parse().ok())
        .unwrap_or_else(|| panic!("host-gateway not made an address: {gw_line}"));
    assert!(!gw.is_unspecified(), "{gw_line}");
    assert!(
        hosts_a
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["10.0.0.5", "other"]),
        "{hosts_a}"
    );
    assert!(hosts_a.contains("db.local"), "{hosts_a}");
    let hosts_b = etc_hosts(b, dir.path());
    assert!(
        !hosts_b.contains(" gw") && !hosts_b.contains("10.0.0.5"),
        "{hosts_b}"
    );

    // A changed address: `up` re-creates `a` and leaves `b` alone.
    let (id_a, id_b) = (inspect(a, "{{.Id}}"), inspect(b, "{{.Id}}"));
    let changed = std::fs::read_to_string(&guard.file)
        .expect("lab")
        .replace("10.0.0.5", "10.0.0.6");
    std::fs::write(&guard.file, changed).expect("rewrite lab");
    let again = netlab(&["up", guard.path()]);
    assert!(
        again.status.success(),
        "{}\n{}",
        stdout(&again),
        stderr(&again)
    );
    assert_ne!(inspect(a, "{{.Id}}"), id_a, "a not re-created");
    assert_eq!(inspect(b, "{{.Id}}"), id_b, "b re-created");
    assert_eq!(
        inspect(a, "{{json .HostConfig.ExtraHosts}}"),
        r#"["gw:host-gateway","other:10.0.0.6"]"#
    );
    let down = netlab(&["down", "t-hostent"]);
    assert!(down.status.success(), "{}", stderr(&down));
    guard.assert_nothing_left();
}
