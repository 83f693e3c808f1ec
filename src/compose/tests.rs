//! Unit tests of the importer: interpolation, merge, compose's rules and
//! its refusals with line and column.

use super::interpolate::{Outcome, Vars, substitute};
use super::{File, Level, Options, import};

fn vars(pairs: &[(&str, &str)]) -> Vars {
    Vars::new(
        None,
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
}

/// The import of `files`, which must not be refused.
fn imported(files: &[&str]) -> super::Imported {
    match run(files) {
        Ok(done) => done,
        Err(refused) => panic!("refused: {refused:?}"),
    }
}

/// Every one of `parts` is in the lab text `t`.
fn contains_all(t: &str, parts: &[&str]) {
    for part in parts {
        assert!(t.contains(part), "no {part:?} in:\n{t}");
    }
}

fn run(files: &[&str]) -> Result<super::Imported, super::Refused> {
    let files: Vec<File> = files
        .iter()
        .enumerate()
        .map(|(i, t)| File {
            name: format!("c{i}.yaml"),
            text: (*t).to_owned(),
        })
        .collect();
    let options = Options {
        project: "ci-test".into(),
        ..Options::default()
    };
    import(&files, &options)
}

#[test]
fn interpolation_follows_compose() {
    let v = vars(&[("SET", "x"), ("EMPTY", "")]);
    let mut o = Outcome::default();
    assert_eq!(substitute("${SET}", &v, &mut o).ok().as_deref(), Some("x"));
    assert_eq!(
        substitute("${EMPTY:-d}", &v, &mut o).ok().as_deref(),
        Some("d")
    );
    assert_eq!(
        substitute("${EMPTY-d}", &v, &mut o).ok().as_deref(),
        Some("")
    );
    assert_eq!(
        substitute("${NOPE-d}", &v, &mut o).ok().as_deref(),
        Some("d")
    );
    assert_eq!(
        substitute("$$SET", &v, &mut o).ok().as_deref(),
        Some("$SET")
    );
    assert_eq!(
        substitute("$SET-1", &v, &mut o).ok().as_deref(),
        Some("x-1")
    );
    assert!(substitute("${EMPTY:?needed}", &v, &mut o).is_err());
    assert!(substitute("${EMPTY?needed}", &v, &mut o).is_ok());
    assert!(substitute("${NOPE", &v, &mut o).is_err());
}

#[test]
fn dotenv_is_read_and_the_environment_wins() {
    let v = Vars::new(
        Some("A=1\n# c\nexport B='two'\nC=3"),
        [("C".to_owned(), "env".to_owned())],
    );
    assert_eq!(v.values["A"], "1");
    assert_eq!(v.values["B"], "two");
    assert_eq!(v.values["C"], "env");
}

#[test]
fn later_files_add_ports_and_networks() {
    let a = "services:\n  web:\n    image: x\n    ports: ['8080:80']\n    networks: [front]\nnetworks:\n  front:\n  back:\n";
    let b = "services:\n  web:\n    ports: ['9090:90']\n    networks:\n      back: { aliases: [www] }\n";
    let done = imported(&[a, b]);
    assert!(
        done.lab_text.contains("\"8080:80\", \"9090:90\""),
        "{}",
        done.lab_text
    );
    assert!(
        done.lab_text.contains("back: { aliases: [\"www\"] }"),
        "{}",
        done.lab_text
    );
}

#[test]
fn implicit_default_network_and_checks() {
    let a = "services:\n  a:\n    image: x\n    expose: [7000]\n  b:\n    image: x\n";
    let done = imported(&[a]);
    assert!(
        done.lab_text.contains("\n  default: {}\n"),
        "{}",
        done.lab_text
    );
    assert!(
        done.lab_text
            .contains("tcp: { from: b, to: a:7000, expect: open }")
    );
    assert!(
        done.lab_text
            .contains("dns: { from: a, name: b, expect: [b] }")
    );
}

#[test]
fn no_shared_network_is_unresolved_and_blocked() {
    let a = "services:\n  a:\n    image: x\n    networks: [n1]\n    expose: [7000]\n  b:\n    image: x\n    networks: [n2]\nnetworks:\n  n1:\n  n2:\n";
    let done = imported(&[a]);
    assert!(
        done.lab_text
            .contains("dns: { from: b, name: a, expect: unresolved }"),
        "{}",
        done.lab_text
    );
    assert!(
        done.lab_text
            .contains("tcp: { from: b, to: a:7000, expect: blocked }")
    );
}

#[test]
fn profiles_leave_services_out() {
    let a = "services:\n  a:\n    image: x\n  seed:\n    image: x\n    profiles: [seed]\n";
    let done = imported(&[a]);
    assert!(!done.lab_text.contains("  seed:"));
}

#[test]
fn anchors_and_extensions() {
    let a =
        "x-base: &base\n  image: x\n  expose: [81]\nservices:\n  a:\n    <<: *base\n  b: *base\n";
    let done = imported(&[a]);
    assert!(
        done.lab_text
            .contains("tcp: { from: a, to: b:81, expect: open }"),
        "{}",
        done.lab_text
    );
}

#[test]
fn compose_names_are_written_as_compose_writes_them() {
    let a = "services:\n  pay_gw:\n    image: x\n    networks: [Back.end]\n    expose: [7000]\n  host:\n    image: x\n    networks: [Back.end]\nnetworks:\n  Back.end:\n";
    let done = imported(&[a]);
    let t = &done.lab_text;
    contains_all(t, &["\n  pay_gw:\n", "\n  host:\n", "\n  Back.end: {}\n"]);
    assert!(!t.contains("aliases"), "{t}");
    // The service called `host` is named as compose names a service.
    contains_all(
        t,
        &[
            "tcp: { from: service:host, to: pay_gw:7000, expect: open }",
            "dns: { from: service:host, name: pay_gw, expect: [pay_gw] }",
        ],
    );
    // And the lab it wrote is valid.
    let lab = crate::lab::load_source("imported.yaml", t.as_bytes(), None);
    assert!(lab.is_ok(), "{t}");
}

#[test]
fn names_the_lab_cannot_take_keep_compose_name_as_alias() {
    let a = "services:\n  _pay:\n    image: x\n  Web:\n    image: x\n  web:\n    image: x\n";
    let done = imported(&[a]);
    let t = &done.lab_text;
    assert!(t.contains("\n  pay:\n"), "{t}");
    assert!(
        done.messages
            .iter()
            .any(|m| m.text.contains("service `_pay` is node `pay` in the lab")),
        "{t}"
    );
    // Docker's DNS does not tell case apart: `web` is another node, and
    // keeps compose's name as an alias.
    contains_all(
        t,
        &[
            "\n  Web:\n",
            "\n  web-2:\n",
            "default: { aliases: [\"web\"] }",
        ],
    );
}

#[test]
fn keys_netlab_cannot_honour_are_warnings_with_their_place() {
    let a = "services:\n  a:\n    image: x\n    cap_add: [NET_ADMIN]\n";
    let done = imported(&[a]);
    let w = done
        .messages
        .iter()
        .find(|m| m.level == Level::Warning)
        .map(|m| (m.at.line, m.at.column));
    assert_eq!(w, Some((4, 5)));
}

#[test]
fn what_compose_refuses_is_an_error_at_its_place() {
    for (text, line) in [
        ("services:\n  a:\n    image: x\n    networks: [nope]\n", 4),
        (
            "services:\n  a:\n    image: x\n    network_mode: host\n    networks: [n]\nnetworks:\n  n:\n",
            5,
        ),
        (
            "services:\n  a:\n    image: x\n    ports: ['80:70000']\n",
            4,
        ),
        ("services:\n  a:\n    environment: [A=1]\n", 2),
        ("servics:\n  a:\n    image: x\n", 1),
        ("services:\n  a:\n    image: ${X:?set X}\n", 3),
    ] {
        let Err(refused) = run(&[text]) else {
            panic!("accepted: {text}")
        };
        let last = refused.messages.last().map(|m| m.at.line);
        assert_eq!(last, Some(line), "{text}");
    }
}

#[test]
fn a_back_end_service_published_everywhere_is_a_finding() {
    let a = "services:\n  db:\n    image: x\n    networks: [back]\n    ports: ['5432:5432']\nnetworks:\n  back:\n";
    let done = imported(&[a]);
    assert!(
        done.messages
            .iter()
            .any(|m| m.level == Level::Finding && m.at.line == 5)
    );
    // The lab carries it, with its compose line, and is a valid lab.
    assert!(
        done.lab_text
            .contains("findings:\n  - at: \"c0.yaml:5:13\""),
        "{}",
        done.lab_text
    );
    let lab = crate::lab::load_source("x.yaml", done.lab_text.as_bytes(), None)
        .expect("the lab loads")
        .lab;
    assert_eq!(lab.findings.len(), 1);
    assert!(
        lab.findings[0]
            .text
            .contains("`db` is on the back-end network")
    );
}

#[test]
fn a_port_nothing_serves_is_a_finding() {
    // Host mode discards `ports`.
    let host = "services:\n  web:\n    image: x\n    network_mode: host\n    ports: ['8080:80']\n";
    let done = imported(&[host]);
    assert!(
        done.messages.iter().any(|m| m.level == Level::Finding
            && m.at.line == 5
            && m.text.contains("Docker discards")),
        "{:?}",
        done.messages
    );
    // With --keep-images, a port the image does not EXPOSE.
    let kept =
        "services:\n  web:\n    image: shop/web\n    ports: ['8080:80']\n    expose: [9000]\n";
    let files = [File {
        name: "c.yaml".into(),
        text: kept.into(),
    }];
    let mut options = Options {
        project: "ci-test".into(),
        keep_images: true,
        ..Options::default()
    };
    let quiet = import(&files, &options).expect("imports");
    assert_eq!(quiet.images, ["shop/web"]);
    assert!(!quiet.messages.iter().any(|m| m.level == Level::Finding));
    options
        .exposed
        .insert("shop/web".into(), vec![(80, crate::lab::Transport::Tcp)]);
    let done = import(&files, &options).expect("imports");
    let found: Vec<_> = done
        .messages
        .iter()
        .filter(|m| m.level == Level::Finding)
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].at.line, 5);
    assert!(
        found[0].text.contains("9000/tcp in `expose`"),
        "{}",
        found[0].text
    );
}

#[test]
fn the_agent_serves_what_the_image_exposes_where_the_engine_has_it() {
    let text = "services:\n  web:\n    image: shop/web\n    ports: ['8080:80']\n";
    let files = [File {
        name: "c.yaml".into(),
        text: text.into(),
    }];
    let mut options = Options {
        project: "ci-test".into(),
        ..Options::default()
    };
    let unknown = import(&files, &options).expect("imports");
    assert!(
        unknown.lab_text.contains("serve: [tcp:80]\n"),
        "{}",
        unknown.lab_text
    );
    options.exposed.insert(
        "shop/web".into(),
        vec![
            (80, crate::lab::Transport::Tcp),
            (9000, crate::lab::Transport::Udp),
        ],
    );
    let known = import(&files, &options).expect("imports");
    assert!(
        known.lab_text.contains("serve: [tcp:80, udp:9000]\n"),
        "{}",
        known.lab_text
    );
}

#[test]
fn a_service_in_anothers_namespace_is_a_sidecar_reached_at_its_owner() {
    let text = "services:\n  app:\n    image: x\n    expose: [8080]\n  proxy:\n    image: y\n    network_mode: service:app\n    expose: [9901]\n    ports: ['9901:9901']\n  tap:\n    image: z\n    network_mode: service:proxy\n  client:\n    image: c\n";
    let done = imported(&[text]);
    let t = &done.lab_text;
    assert!(
        t.contains("  proxy:\n    network_mode: \"container:app\"\n    serve: [tcp:9901]\n"),
        "{t}"
    );
    // A chain ends at the service with a namespace of its own.
    assert!(
        t.contains("  tap:\n    network_mode: \"container:app\"\n"),
        "{t}"
    );
    assert!(
        done.messages
            .iter()
            .any(|m| m.at.line == 7 && m.text.contains("conflicting options")),
        "{:?}",
        done.messages
    );
    // The sidecar's port is reached at its owner, whose namespace it shares.
    contains_all(
        t,
        &[
            "tcp: { from: client, to: app:9901, expect: open }",
            "tcp: { from: client, to: app:8080, expect: open }",
        ],
    );
    assert!(!t.contains("to: proxy:"), "{t}");
    crate::lab::load_source("imported.yaml", t.as_bytes(), None).expect("valid");
}

#[test]
fn external_networks_are_used_not_made() {
    let a = "services:\n  a:\n    image: x\n    networks: [shared, corp, old]\nnetworks:\n  shared:\n    external: true\n  corp:\n    external: true\n    name: corp_net\n  old:\n    external:\n      name: legacy.net\n";
    let done = imported(&[a]);
    let t = &done.lab_text;
    contains_all(
        t,
        &[
            "\n  shared: { external: true }\n",
            "\n  corp: { external: true, name: \"corp_net\" }\n",
            "\n  old: { external: true, name: \"legacy.net\" }\n",
        ],
    );
    let lab = crate::lab::load_source("imported.yaml", t.as_bytes(), None).expect("valid");
    assert_eq!(
        lab.lab.networks["corp"].external.as_deref(),
        Some("corp_net")
    );
}

#[test]
fn hostname_and_extra_hosts_are_written_into_the_lab() {
    let a = "services:\n  a:\n    image: x\n    hostname: db.local\n    extra_hosts:\n      - \"gw:host-gateway\"\n      - \"old=10.0.0.5\"\n      - \"v6:[fd00::7]\"\n      - \"bare:::1\"\n  b:\n    image: x\n    extra_hosts:\n      cache: 10.0.0.6\n      many: [10.0.0.7, 10.0.0.8]\n";
    let done = imported(&[a]);
    let t = &done.lab_text;
    contains_all(
        t,
        &[
            "    hostname: \"db.local\"\n",
            "    extra_hosts: { \"gw\": \"host-gateway\", \"old\": \"10.0.0.5\", \"v6\": \"fd00::7\", \"bare\": \"::1\" }\n",
            "    extra_hosts: { \"cache\": \"10.0.0.6\", \"many\": \"10.0.0.7\" }\n",
        ],
    );
    // The lab keeps them (it was validated as any lab file), and nothing
    // says "cannot honour" any more; the second address of `many` does.
    let lab = crate::lab::load_source("i.yaml", t.as_bytes(), Some("i"))
        .expect("valid lab")
        .lab;
    assert_eq!(lab.nodes["a"].hostname.as_deref(), Some("db.local"));
    assert_eq!(lab.nodes["a"].extra_hosts["gw"], "host-gateway");
    let warnings: Vec<(u64, &str)> = done
        .messages
        .iter()
        .filter(|m| m.level == Level::Warning)
        .map(|m| (m.at.line, m.text.as_str()))
        .collect();
    assert_eq!(
        warnings,
        [(
            14,
            "extra host `many` has a second address, `10.0.0.8`: the lab keeps the first, `10.0.0.7`"
        )]
    );
}

#[test]
fn host_entries_the_lab_cannot_hold_are_warnings_at_their_place() {
    let a = "services:\n  a:\n    image: x\n    hostname: bad_name\n    extra_hosts: [\"noaddress\", \"x:not-an-ip\"]\n  side:\n    image: x\n    network_mode: service:a\n    hostname: side\n    extra_hosts: [\"gw:host-gateway\"]\n  h:\n    image: x\n    network_mode: host\n    hostname: h1\n    extra_hosts: [\"gw:host-gateway\"]\n";
    let done = imported(&[a]);
    let warned: Vec<u64> = done
        .messages
        .iter()
        .filter(|m| m.level == Level::Warning)
        .map(|m| m.at.line)
        .collect();
    assert_eq!(warned, [5, 4, 5, 9, 10, 14], "{:#?}", done.messages);
    let t = &done.lab_text;
    assert!(!t.contains("hostname"), "{t}");
    // Host mode keeps its extra_hosts (Docker takes them there).
    assert_eq!(t.matches("extra_hosts").count(), 1, "{t}");
    assert!(
        t.contains("  h:\n    network_mode: host\n    extra_hosts: { \"gw\": \"host-gateway\" }\n"),
        "{t}"
    );
}

#[test]
fn links_are_written_as_the_nodes_links_and_resolve_from_the_linker_only() {
    let a = "services:\n  app:\n    image: x\n    links: [db, \"db:database\", \"ghost:g\", \"lone:l\"]\n  db:\n    image: x\n  lone:\n    image: x\n    networks: [solo]\nnetworks:\n  solo: {}\n";
    let done = imported(&[a]);
    let t = &done.lab_text;
    assert!(
        t.contains("    links: [\"db:db\", \"db:database\"]\n"),
        "{t}"
    );
    let warned: Vec<(u64, &str)> = done
        .messages
        .iter()
        .filter(|m| m.level == Level::Warning)
        .map(|m| (m.at.line, m.text.as_str()))
        .collect();
    assert_eq!(
        warned,
        [
            (
                4,
                "link to `ghost`, which is no service of the project; left out"
            ),
            (
                4,
                "`app` links `lone` but shares no network with it: Docker's DNS could never answer the link; left out"
            ),
        ]
    );
    let lab = crate::lab::load_source("i.yaml", t.as_bytes(), Some("i"))
        .expect("valid lab")
        .lab;
    let from = |n: &str| {
        crate::model::resolve(
            &lab,
            n,
            "database",
            crate::vocab::IpFamily::V4,
            crate::model::EngineSide::OLD,
        )
    };
    assert_eq!(from("app").certain_nodes(), Some(&["db".to_owned()][..]));
    assert!(from("db").certain_nodes().is_none());
}
