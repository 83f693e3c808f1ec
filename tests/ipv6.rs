//! IPv6 on real engines: the shipped dual-stack lab on the machine's
//! engine (what it skips, and why, in every report), the IPv6-only lab
//! refused before Docker 28 and passing on 28.5, and the IPv6 subnet netlab
//! picks clear of the engine's networks and the host's routes.

mod support;

use std::process::Command;

use support::engines::{Engines, engines_available};
use support::*;

/// The major version of the machine's own engine.
fn engine_major() -> u32 {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .expect("docker runs");
    stdout(&out)
        .trim()
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// The shipped dual-stack lab under another name, prefix (`fd0e:1ab:6N:`)
/// and host ports (476N2, 476N3), so that copies run side by side and
/// beside the shipped one (the engine matrix uses the machine's engine
/// too).
fn dual_stack(name: &str, n: u8, edit: impl Fn(String) -> String) -> LabGuard {
    LabGuard::from_shipped("dual-stack", name, |y| {
        edit(
            y.replace("fd0e:1ab:60:", &format!("fd0e:1ab:6{n}:"))
                .replace("27602", &format!("276{n}2"))
                .replace("27603", &format!("276{n}3")),
        )
    })
}

#[test]
fn dual_stack_passes_and_every_report_says_what_the_engine_lacks() {
    if !docker_available() {
        return;
    }
    let guard = dual_stack("t-dual", 1, |y| y);
    let dir = tempfile::tempdir().expect("tmp");
    let junit = dir.path().join("report.xml");
    let out = netlab(&[
        "run",
        guard.path(),
        "--output",
        "json",
        "--junit",
        junit.to_str().expect("path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    guard.assert_nothing_left();
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    // Without ip6tables (before Docker 27) the isolation checks are
    // skipped and the one that shows IPv6 crossing runs; with it, the
    // other way round.
    let old = engine_major() < 27;
    let skipped = if old { 2 } else { 1 };
    assert_eq!(doc["skipped"], skipped, "{doc:#}");
    assert_eq!(doc["passed"], 15 - skipped, "{doc:#}");
    let checks = doc["checks"].as_array().expect("checks");
    let reasons: Vec<&str> = checks
        .iter()
        .filter(|c| c["outcome"] == "skipped")
        .map(|c| c["observation"].as_str().unwrap_or_default())
        .collect();
    let why = if old {
        "needs ip6tables rules (by default from Docker 27); host local: Docker "
    } else {
        "shows an engine without ip6tables rules (by default from Docker 27); host local: Docker "
    };
    assert!(reasons.iter().all(|r| r.starts_with(why)), "{reasons:?}");
    // IPv6 addresses in the report: the address probed, the AAAA answer.
    let observed = |title_part: &str| {
        checks
            .iter()
            .find(|c| c["title"].as_str().unwrap_or_default().contains(title_part))
            .map(|c| c["observation"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        observed("[fd0e:1ab:61::10]:7000"),
        "IPv6 [fd0e:1ab:61::10]:7000: open, answered by web of lab t-dual"
    );
    assert_eq!(observed("www AAAA"), "resolved to fd0e:1ab:61::10 (web)");
    assert!(
        observed("is open over IPv4 and IPv6").contains("; IPv6 [fd0e:1ab:61::10]:7000: open"),
        "{doc:#}"
    );
    let both = checks
        .iter()
        .find(|c| c["family"] == "both")
        .expect("a check of both families");
    assert_eq!(both["outcome"], "pass");
    // The up summary shows both addresses of each node.
    assert!(stderr(&out).contains("fd0e:1ab:61::10"), "{}", stderr(&out));
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(xml.matches("<skipped").count(), skipped, "{xml}");
}

#[test]
fn ipv6_crossing_between_bridges_fails_an_isolation_check_where_no_ip6tables_stops_it() {
    if !docker_available() {
        return;
    }
    // The isolation check without its `requires:`: where the engine sets
    // no ip6tables rules, IPv6 crosses from one bridge to the other, and
    // the check must say so by failing.
    let guard = dual_stack("t-dual-cross", 2, |y| {
        y.replace(
            "family: v6, expect: blocked, requires: { ip6tables: true } }",
            "family: v6, expect: blocked }",
        )
    });
    let out = netlab(&["run", guard.path()]);
    let text = stdout(&out);
    guard.assert_nothing_left();
    if engine_major() >= 27 {
        assert_eq!(out.status.code(), Some(0), "{text}");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].contains("tcp outsider → web:7000 is blocked over IPv6")
            && failed[0]
                .contains("IPv6 [fd0e:1ab:62::10]:7000: open, answered by web of lab t-dual-cross"),
        "{text}"
    );
    assert!(text.ends_with("13 passed, 1 failed, 1 skipped\n"), "{text}");
}

#[test]
fn an_ipv6_only_lab_is_refused_before_anything_is_created_on_an_engine_before_28() {
    if !docker_available() || engine_major() >= 28 {
        return;
    }
    let guard = LabGuard::from_shipped("ipv6-only", "t-only6-old", |y| y);
    let out = netlab(&["run", guard.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "lab `t-only6-old` needs Docker 28 or newer: network `v6net` is IPv6-only (`ipv4: false`, Engine API 1.48), and the engine is Docker 2"
        ),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("; nothing was created"),
        "{}",
        stderr(&out)
    );
    guard.assert_nothing_left();
}

#[test]
fn an_ipv6_only_lab_and_the_dual_stack_one_pass_on_docker_28() {
    if !engines_available() {
        return;
    }
    let engines = Engines::start_kind(&["v6t28"], "sid");
    let url = &engines.get("v6t28").url;
    let only = LabGuard::from_shipped("ipv6-only", "t-only6", |y| y);
    let out = netlab_on(url, &["run", only.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.contains("on Docker 28."), "{text}");
    assert!(text.ends_with("9 passed, 0 failed\n"), "{text}");
    // Over IPv6 because the target has no IPv4 address; the host reaches
    // the published port on IPv6 only.
    assert!(
        text.lines()
            .any(|l| l.starts_with("PASS  tcp client → web:7000 is open") && l.contains("IPv6 [fd")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("PASS  tcp host → 127.0.0.1:27611 is refused")),
        "{text}"
    );
    let dual = dual_stack("t-dual28", 3, |y| y);
    let out = netlab_on(url, &["run", dual.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.ends_with("14 passed, 0 failed, 1 skipped\n"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("PASS     tcp outsider → web:7000 is blocked over IPv6")),
        "ip6tables isolates the bridges on 28: {text}"
    );
    for guard in [&only, &dual] {
        let (containers, networks) = engines.get("v6t28").leftovers(&guard.name);
        assert!(
            containers.is_empty() && networks.is_empty(),
            "{containers:?} {networks:?}"
        );
    }
}

/// The IPv6 subnet of network `n` of lab `lab` on the engine at `url`.
fn subnet6_of(engine: &support::engines::Engine, lab: &str) -> String {
    let out = engine.docker(&[
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        &format!("netlab_{lab}_n"),
    ]);
    stdout(&out)
        .split_whitespace()
        .find(|s| s.contains(':'))
        .unwrap_or_else(|| panic!("no IPv6 subnet: {}{}", stdout(&out), stderr(&out)))
        .to_owned()
}

#[test]
fn a_picked_subnet6_avoids_the_engines_networks_and_the_hosts_routes() {
    if !engines_available() {
        return;
    }
    let engines = Engines::start(&["v6pick"]);
    let engine = engines.get("v6pick");
    let lab = "t-pick6";
    let guard = LabGuard::from_yaml(
        lab,
        "name: t-pick6\nnetworks:\n  n: { ipv6: true }\nnodes:\n  a:\n    networks: [n]\n    serve: [tcp:7000]\n  b:\n    networks: [n]\nchecks:\n  - tcp: { from: b, to: a:7000, family: v6, expect: open }\n",
    );
    let up = |expect: i32| {
        let out = netlab_on(&engine.url, &["up", guard.path()]);
        assert_eq!(
            out.status.code(),
            Some(expect),
            "{}\n{}",
            stdout(&out),
            stderr(&out)
        );
        out
    };
    let down = || {
        let out = netlab_on(&engine.url, &["down", lab]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    up(0);
    let first = subnet6_of(engine, lab);
    // Up again while it is up: the same prefix, nothing made again.
    let again = up(0);
    assert!(
        stdout(&again).contains("is up to date (nothing changed)"),
        "{}",
        stdout(&again)
    );
    let out = netlab_on(&engine.url, &["verify", lab]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    down();
    // The first prefix taken by a network of the engine: another one.
    let taken = engine.docker(&[
        "network", "create", "--ipv6", "--subnet", &first, "foreign6",
    ]);
    assert!(taken.status.success(), "{}", stderr(&taken));
    up(0);
    let second = subnet6_of(engine, lab);
    assert_ne!(second, first);
    down();
    // The second covered by a route of the Docker host: a third.
    let route = Command::new("nsenter")
        .args([
            "--net=/run/netns/netlab-v6pick",
            "ip",
            "-6",
            "route",
            "add",
            "blackhole",
            &second,
        ])
        .output()
        .expect("nsenter runs");
    assert!(route.status.success(), "{}", stderr(&route));
    up(0);
    let third = subnet6_of(engine, lab);
    assert!(
        third != first && third != second,
        "{first} {second} {third}"
    );
    down();
    // Declared where the engine has a network or the host a route: refused,
    // naming it, before anything is made.
    for (prefix, named) in [
        (&first, format!("overlaps {first}, a network of the engine")),
        (
            &second,
            format!("overlaps the route {second} dev lo on the Docker host"),
        ),
    ] {
        let declared = LabGuard::from_yaml(
            lab,
            &format!(
                "name: t-pick6\nnetworks:\n  n: {{ ipv6: true, subnet6: \"{prefix}\" }}\nnodes:\n  a:\n    networks: [n]\n"
            ),
        );
        let out = netlab_on(&engine.url, &["up", declared.path()]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(&named), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("nothing was created"),
            "{}",
            stderr(&out)
        );
        let (containers, networks) = engine.leftovers(lab);
        assert!(
            containers.is_empty() && networks.is_empty(),
            "{containers:?} {networks:?}"
        );
    }
}

#[test]
fn the_graph_shows_ipv6_networks_subnets_and_addresses() {
    let out = netlab(&["graph", "dual-stack"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        text.contains("front · bridge, IPv6, fd0e:1ab:60::/64"),
        "{text}"
    );
    assert!(text.contains("back · bridge, IPv6"), "{text}");
    assert!(text.contains("www, fd0e:1ab:60::10"), "{text}");
    let out = netlab(&["graph", "ipv6-only"]);
    assert!(
        stdout(&out).contains("v6net · bridge, IPv6 only"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn probes_over_ipv6_are_recorded_without_the_links_neighbour_discovery() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_yaml(
        "t-cap6",
        "name: t-cap6\nnetworks:\n  front: { ipv6: true }\nnodes:\n  web: { networks: [front], serve: [tcp:7000, http:80] }\n  client: { networks: [front] }\nchecks:\n  - tcp: { from: client, to: web:7000, family: v6, expect: open, capture: true }\n  - http: { from: client, url: \"http://web/echo\", method: POST, body: a=1, family: v6, expect: { plaintext: true } }\n",
    );
    let text = run_passes(&guard, 2);
    let timelines: Vec<&str> = text.lines().filter(|l| l.contains('↳')).collect();
    assert_eq!(timelines.len(), 2, "{text}");
    assert!(
        timelines[0].contains("↳ SYN → SYN/ACK → ACK → \"netlab-agent lab=t-cap6 node=web\""),
        "{text}"
    );
    assert!(timelines[1].contains("DNS(web AAAA → fd"), "{text}");
    assert!(timelines[1].contains("\"POST /echo HTTP/1.1\""), "{text}");
    assert!(!text.contains("Neighbor"), "{text}");
}
