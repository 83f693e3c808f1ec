//! Unit tests of `compose_lab`: project names, replicas, the `--lab` merge
//! and the implied checks said as a foreign container can answer them.

use super::*;

#[test]
fn project_names_are_made_as_compose_makes_them() {
    assert_eq!(normalize("My_App.v2"), "my_appv2");
    assert_eq!(normalize("-_x"), "x");
    let cwd = Path::new("/srv/Shop.Front");
    assert_eq!(
        project_name(Some("CV-a"), Some("e"), None, &[], cwd).unwrap(),
        "cv-a"
    );
    assert_eq!(
        project_name(None, Some("env_p"), Some("n"), &[], cwd).unwrap(),
        "env_p"
    );
    assert_eq!(
        project_name(None, Some(""), Some("named"), &[], cwd).unwrap(),
        "named"
    );
    let files = [PathBuf::from("/x/Cv_Dir/compose.yaml")];
    assert_eq!(
        project_name(None, None, None, &files, cwd).unwrap(),
        "cv_dir"
    );
    assert!(project_name(Some("..."), None, None, &[], cwd).is_err());
}

#[test]
fn services_and_profiles_are_read_from_the_files() {
    let d = declared(&[(
        "c.yaml".into(),
        "name: shop\nservices:\n  web: {image: a}\n  dbg: {image: b, profiles: [debug]}\n".into(),
    )])
    .unwrap();
    assert_eq!(d.name.as_deref(), Some("shop"));
    assert_eq!(d.services["dbg"], vec!["debug".to_owned()]);
    assert!(d.services["web"].is_empty());
}

#[test]
fn replicas_after_the_first_get_their_number() {
    let r = |s: &str, n| Replica {
        service: s.into(),
        number: n,
        ..Replica::default()
    };
    let all = [r("web", 2), r("web", 1), r("db", 1)];
    let names: Vec<String> = nodes(&all).keys().cloned().collect();
    assert_eq!(names, ["db", "web", "web-2"]);
}

#[test]
fn steps_and_unknown_nodes_in_the_lab_file_are_refused_at_their_line() {
    let text = "checks: []\nnodes:\n  ghost: {}\nsteps:\n  - title: s\n";
    let raw = crate::lab::parse_raw("l.yaml", text).unwrap();
    let problems = merge(raw, "l.yaml", "p", &[], &[]).unwrap_err();
    assert!(
        problems[0].starts_with("l.yaml:5:5: steps:"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("l.yaml:3:3: nodes.ghost:"),
        "{problems:?}"
    );
}

/// A project: `web` on front and back (publishing 80 on every address),
/// `db` on back only (internal), `cache` on front; all running.
fn shop() -> (Lab, Vec<Replica>) {
    use crate::engine::compose_labels::ProjectNetwork;
    use crate::live::PublishedPort;
    let net = |name: &str, internal: bool| ProjectNetwork {
        name: format!("shop_{name}"),
        compose_name: name.into(),
        driver: "bridge".into(),
        internal,
        ipv6: false,
        subnets: Vec::new(),
    };
    let networks = [net("front", false), net("back", true)];
    let replica = |service: &str, on: &[(&str, [u8; 4])], exposed: &[&str]| Replica {
        id: format!("{service}000000000000"),
        name: format!("shop-{service}-1"),
        service: service.into(),
        number: 1,
        image: "x".into(),
        running: true,
        state: "running".into(),
        network_mode: "shop_front".into(),
        addresses: on
            .iter()
            .map(|(n, ip)| (format!("shop_{n}"), (*ip).into()))
            .collect(),
        exposed: exposed.iter().map(|e| (*e).to_owned()).collect(),
        ..Replica::default()
    };
    let mut web = replica(
        "web",
        &[("front", [10, 1, 0, 2]), ("back", [10, 2, 0, 2])],
        &["80/tcp"],
    );
    web.ports.push(PublishedPort {
        container_port: 80,
        transport: crate::lab::Transport::Tcp,
        host_ip: std::net::IpAddr::from([0, 0, 0, 0]),
        host_port: 8080,
    });
    let replicas = vec![
        web,
        replica("db", &[("back", [10, 2, 0, 3])], &["5432/tcp", "53/udp"]),
        // As compose v2 writes an `expose` entry: no protocol.
        replica("cache", &[("front", [10, 1, 0, 4])], &["6379"]),
    ];
    let raw = merge(empty_raw(), "p", "shop", &replicas, &networks).expect("merges");
    let lab = crate::lab::validate_raw("p", "", raw, None, Default::default())
        .expect("valid")
        .lab;
    (lab, replicas)
}

#[test]
fn implied_checks_come_from_the_model_as_a_foreign_container_answers_them() {
    let (lab, replicas) = shop();
    let checks = implied_checks(&lab, &replicas, EngineSide::OLD);
    let lines: Vec<String> = checks.iter().map(|c| c.title.clone()).collect();
    let has = |t: &str| lines.iter().any(|l| l == t);
    // Names: shared network → the node; none shared → unresolved.
    assert!(has("dns web → db is db"), "{lines:#?}");
    assert!(has("dns cache → db is unresolved"), "{lines:#?}");
    // Reach: a handshake (not netlab's greeting); blocked across bridges.
    assert!(has("tcp web → db:5432 is accepts"), "{lines:#?}");
    assert!(has("tcp db → cache:6379 is blocked"), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains(" is open")), "{lines:#?}");
    // No UDP (only an agent answers it) and no `port` check (needs one).
    assert!(
        !checks
            .iter()
            .any(|c| matches!(c.kind, CheckKind::Udp { .. } | CheckKind::Port { .. }))
    );
    // The published port, from the host at 127.0.0.1.
    assert!(has("tcp host → 127.0.0.1:8080 is accepts"), "{lines:#?}");
    // Only on an internal network: no route out.
    assert!(has("egress db has no route out"), "{lines:#?}");
    assert!(!has("egress web has no route out"), "{lines:#?}");
}

#[test]
fn a_service_with_replicas_is_expected_to_resolve_not_to_one_node() {
    let (lab, mut replicas) = shop();
    let mut second = replicas[1].clone();
    second.number = 2;
    second.id = "db2".into();
    replicas.push(second);
    let checks = implied_checks(&lab, &replicas, EngineSide::OLD);
    assert!(
        checks.iter().any(|c| c.title == "dns web → db is resolves"),
        "{:#?}",
        checks.iter().map(|c| &c.title).collect::<Vec<_>>()
    );
}

#[test]
fn a_containers_ipv6_binding_does_not_become_a_lab_port() {
    // Docker picked 33108 for web's `0.0.0.0` and db's `::` binding.
    use crate::live::PublishedPort;
    let bind = |ip: [u8; 4], v6: bool, port: u16| PublishedPort {
        container_port: 80,
        transport: crate::lab::Transport::Tcp,
        host_ip: if v6 {
            std::net::IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            std::net::IpAddr::from(ip)
        },
        host_port: port,
    };
    let r = |s: &str, ports: Vec<PublishedPort>| Replica {
        service: s.into(),
        number: 1,
        running: true,
        network_mode: "bridge".into(),
        ports,
        ..Replica::default()
    };
    let replicas = [
        r(
            "web",
            vec![bind([0; 4], false, 33108), bind([0; 4], true, 33109)],
        ),
        r(
            "db",
            vec![bind([0; 4], false, 33107), bind([0; 4], true, 33108)],
        ),
    ];
    let raw = merge(empty_raw(), "p", "p", &replicas, &[]).expect("merges");
    assert!(crate::lab::validate_raw("p", "", raw, None, Default::default()).is_ok());
}
