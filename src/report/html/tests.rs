//! The page for fixed JSON reports (tests/data/html/*.json: real reports of
//! shipped labs — one failing, one recorded, one on two hosts; error.json is
//! bridge-basic's with one check made an engine error by hand): the same
//! bytes as the golden files beside them (`NETLAB_UPDATE_GOLDEN=1` writes
//! them anew; review the diff by eye), every check's title and status on
//! the page, nothing that could fetch, and a CSP that admits exactly the
//! page's own style and script.

use std::path::PathBuf;

use super::*;

const FIXTURES: &[(&str, &str)] = &[
    ("pass", include_str!("../../../tests/data/html/pass.json")),
    (
        "fail-matrix",
        include_str!("../../../tests/data/html/fail-matrix.json"),
    ),
    ("error", include_str!("../../../tests/data/html/error.json")),
    (
        "capture",
        include_str!("../../../tests/data/html/capture.json"),
    ),
    ("hosts", include_str!("../../../tests/data/html/hosts.json")),
    ("ports", include_str!("../../../tests/data/html/ports.json")),
    (
        "host-mode",
        include_str!("../../../tests/data/html/host-mode.json"),
    ),
];

fn page(json: &str) -> String {
    from_json(json).expect("a JSON report")
}

fn doc(json: &str) -> Document {
    serde_json::from_str(json).expect("a JSON report")
}

#[test]
fn pages_are_the_golden_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/html");
    let update = std::env::var_os("NETLAB_UPDATE_GOLDEN").is_some();
    for (name, json) in FIXTURES {
        let html = page(json);
        let golden = dir.join(format!("{name}.html"));
        if update {
            std::fs::write(&golden, &html).expect("golden written");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (NETLAB_UPDATE_GOLDEN=1 makes it)",
                golden.display()
            )
        });
        if html != want {
            let line = html
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{name}: the page differs from {} from line {}:\n  now:    {}\n  golden: {}\n(NETLAB_UPDATE_GOLDEN=1 writes it anew; review the diff)",
                golden.display(),
                line + 1,
                html.lines()
                    .nth(line)
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect::<String>(),
                want.lines()
                    .nth(line)
                    .unwrap_or_default()
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
    }
}

#[test]
fn the_same_json_gives_the_same_bytes() {
    for (name, json) in FIXTURES {
        assert_eq!(page(json), page(json), "{name}");
    }
}

#[test]
fn every_check_is_on_the_page_with_its_title_and_status() {
    for (name, json) in FIXTURES {
        let html = page(json);
        let d = doc(json);
        let cards = html.matches("<article class=\"check ").count();
        assert_eq!(cards, d.checks.len(), "{name}: one card per check");
        for c in &d.checks {
            let card = format!(
                "<span class=\"badge {}\">{}</span><h3>{}</h3>",
                c.verdict().class(),
                c.verdict().word(),
                esc(&c.title)
            );
            assert!(html.contains(&card), "{name}: {card} is missing");
        }
    }
}

#[test]
fn nothing_on_the_page_can_fetch() {
    for (name, json) in FIXTURES {
        let html = page(json);
        for banned in [
            " src=",
            "srcset",
            "<link",
            "<iframe",
            "<img",
            "<object",
            "<embed",
            "<base",
            "url(",
            "@import",
            "xmlns",
            "xlink:",
            "http-equiv=\"refresh\"",
            "<form",
        ] {
            assert!(!html.contains(banned), "{name}: the page holds {banned}");
        }
        for (i, _) in html.match_indices("href=\"") {
            assert!(
                html[i + 6..].starts_with('#'),
                "{name}: a link that leaves the page: {}",
                &html[i..(i + 60).min(html.len())]
            );
        }
        // URLs appear only as text a check was about, never inside a tag.
        for (i, _) in html.match_indices("://") {
            let (open, close) = (html[..i].rfind('<'), html[..i].rfind('>'));
            assert!(
                open < close,
                "{name}: a URL inside a tag: {}",
                &html[open.unwrap_or(0)..(i + 30).min(html.len())]
            );
        }
    }
}

/// The text between `open` and `close` (the first such element).
fn element<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    let start = html.find(open).expect("the element") + open.len();
    let end = html[start..].find(close).expect("its end") + start;
    &html[start..end]
}

#[test]
fn the_policy_forbids_fetching_and_admits_only_the_pages_own_style_and_script() {
    let html = page(FIXTURES[0].1);
    assert_eq!(html.matches("<script").count(), 1, "one script");
    assert_eq!(html.matches("<style").count(), 1, "one style element");
    assert!(
        !html.contains(" style=\""),
        "no style attributes: the CSP would block them"
    );
    // No inline event handler (` onclick="…"`) inside any tag.
    for tag in html.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        for (i, _) in tag.match_indices(" on") {
            let word: String = tag[i + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(
                !tag[i + 3 + word.len()..].starts_with('='),
                "an inline event handler: <{tag}>"
            );
        }
    }
    let policy = element(
        &html,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"",
        "\"",
    );
    let style = element(&html, "<style>", "</style>");
    let script = element(&html, "<script>", "</script>");
    assert!(policy.starts_with("default-src 'none';"), "{policy}");
    assert!(policy.contains("connect-src 'none'"), "{policy}");
    assert!(
        policy.contains(&format!("style-src '{}'", digest(style))),
        "{policy}"
    );
    assert!(
        policy.contains(&format!("script-src '{}'", digest(script))),
        "{policy}"
    );
    assert!(!policy.contains("unsafe"), "{policy}");
    // The policy comes before anything it governs.
    assert!(html.find("Content-Security-Policy") < html.find("<style>"));
}

#[test]
fn a_report_of_an_older_netlab_still_makes_a_page() {
    let mut v: serde_json::Value = serde_json::from_str(FIXTURES[1].1).expect("json");
    v.as_object_mut().expect("object").remove("topology");
    for c in v["checks"].as_array_mut().expect("checks") {
        let c = c.as_object_mut().expect("check");
        for field in ["why", "endpoints", "touches", "table"] {
            c.remove(field);
        }
    }
    let html = page(&v.to_string());
    assert!(
        html.contains("carries no topology"),
        "says why there is no picture"
    );
    assert!(html.contains("matrix three tiers on 7000"));
    assert!(
        !html.contains("<table class=\"mx\">"),
        "no table without rows and columns"
    );
}

#[test]
fn a_report_that_is_not_one_is_refused_with_its_place() {
    let e = from_json("{\"checks\": []}").expect_err("no lab");
    assert_eq!((e.line(), e.to_string().contains("lab")), (1, true), "{e}");
    assert!(from_json("[1, 2").is_err());
}

#[test]
fn the_matrix_marks_the_cell_that_differs_and_colours_what_it_touches() {
    let html = page(FIXTURES[1].1);
    assert_eq!(
        html.matches("class=\"s-open differs\"").count()
            + html.matches("class=\"s-blocked differs\"").count(),
        1
    );
    assert!(
        html.contains("55 of 56 cells as expected"),
        "the count of cells"
    );
    // web → db failed: both nodes and the network of db's address are red,
    // a node that only passed is green.
    for part in [
        "class=\"node st-fail\" data-node=\"web\"",
        "class=\"node st-fail\" data-node=\"db\"",
        "data-network=\"back\"",
        "class=\"node st-pass\" data-node=\"ledger\"",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(html.contains("class=\"bar k-internal st-fail\" data-network=\"back\""));
}

#[test]
fn an_engine_error_shows_as_could_not_run() {
    let html = page(FIXTURES[2].1);
    assert!(html.contains(
        "<span class=\"badge error\">ERROR</span><h3>tcp client → web:7000 is open</h3>"
    ));
    assert!(html.contains("1 could not run"));
    assert!(html.contains("the check could not run: the engine or the agent failed"));
    assert!(
        html.contains("class=\"node st-error\" data-node=\"client\"")
            || html.contains("class=\"node st-fail\" data-node=\"client\"")
    );
}

#[test]
fn a_recorded_https_exchange_is_a_ladder_of_its_packets_and_records() {
    let d = doc(FIXTURES[3].1);
    let tls = d.checks[0]
        .capture
        .as_ref()
        .and_then(|c| c.timeline.as_ref())
        .expect("recorded");
    let labels = ladder::arrow_labels(tls);
    let at = |needle: &str| {
        labels
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no arrow {needle}: {labels:#?}"))
    };
    let order = [
        at("SYN"),
        at("SYN/ACK"),
        at("ClientHello · SNI www · offers TLS1.3, TLS1.2 · key share X25519"),
        at("ServerHello · TLS1.3 · TLS_AES_256_GCM_SHA384 · key share X25519"),
        at("encrypted handshake record · "),
        at("close_notify"),
        at("FIN"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "in time order: {labels:#?}"
    );
    let http = d.checks[1]
        .capture
        .as_ref()
        .and_then(|c| c.timeline.as_ref())
        .expect("recorded");
    let labels = ladder::arrow_labels(http);
    assert!(
        labels[0].starts_with("DNS query: web A"),
        "the lookup comes first: {labels:#?}"
    );
    assert!(
        labels
            .iter()
            .any(|l| l.contains("“POST /echo HTTP/1.1”") && l.contains("readable"))
    );
    let refused = d.checks[3]
        .capture
        .as_ref()
        .and_then(|c| c.timeline.as_ref())
        .expect("recorded");
    assert_eq!(ladder::arrow_labels(refused), ["SYN", "RST/ACK"]);
    let html = page(FIXTURES[3].1);
    assert_eq!(html.matches("<svg class=\"ladder\"").count(), 4);
    for phase in [
        "DNS lookup",
        "TCP handshake",
        "TLS handshake",
        "encrypted data",
        ">close<",
        ">reset<",
    ] {
        assert!(html.contains(phase), "phase {phase}");
    }
}

#[test]
fn several_hosts_stand_side_by_side_with_the_overlay_under_them() {
    let d = doc(FIXTURES[4].1);
    let pic = layout::lay_out(d.topology.as_ref().expect("topology"));
    let names: Vec<&str> = pic.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["east", "west"]);
    let ov = pic.bars.iter().find(|b| b.network == "ov").expect("ov");
    assert!(
        pic.hosts.iter().all(|h| ov.y > h.y + h.h),
        "the overlay runs below both hosts"
    );
    assert!(ov.x1 < pic.hosts[0].x + 20.0 && ov.x2 > pic.hosts[1].x + pic.hosts[1].w - 20.0);
    let east = pic
        .bars
        .iter()
        .find(|b| b.network == "lan-east")
        .expect("lan-east");
    assert!(east.x2 < pic.hosts[1].x, "a bridge stays in its host");
    let html = page(FIXTURES[4].1);
    assert!(html.contains("VXLAN between hosts"));
}

/// No box overlaps another, and no line crosses a box but its own.
#[test]
fn the_picture_never_puts_a_box_on_another_or_on_a_line() {
    for (name, json) in FIXTURES {
        let d = doc(json);
        let pic = layout::lay_out(d.topology.as_ref().expect("topology"));
        for (i, a) in pic.boxes.iter().enumerate() {
            for b in &pic.boxes[i + 1..] {
                let apart =
                    a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                assert!(apart, "{name}: {} and {} overlap", a.node, b.node);
            }
            for b in &pic.boxes {
                let Some(end) = a.end else { continue };
                if a.node == b.node {
                    continue;
                }
                let (top, bottom) = if a.host_mode {
                    (end, a.y)
                } else {
                    (a.y + a.h, end)
                };
                let crosses =
                    a.line_x > b.x && a.line_x < b.x + b.w && top < b.y + b.h && bottom > b.y;
                assert!(
                    !crosses,
                    "{name}: the line of {} crosses {}",
                    a.node, b.node
                );
            }
        }
    }
}

#[test]
fn what_verify_writes_is_what_the_page_reads() {
    use crate::report::tests::{check, report};
    let mut r = report(vec![
        check("tcp a → b:1 is open", true),
        check("tcp b → a:1 is open", false),
    ]);
    r.checks[0].why = Some(crate::check::why::Why {
        sentence: "`a` and `b` share the user-defined bridge `n`".into(),
        short: "shared bridge n".into(),
    });
    let html = page(&crate::report::json::render(&r));
    assert!(html.contains("<dd class=\"why\"><code>a</code> and <code>b</code> share the user-defined bridge <code>n</code></dd>"));
    assert!(html.contains("<span class=\"n fail\">1 failed</span>"));
}

#[test]
fn a_host_probing_its_own_published_port_on_loopback_has_two_ends() {
    use crate::capture::{Direction, Entry, Layer, Timeline};
    let tcp = |offset_ns: u64, out: bool, flags: &[&str]| {
        let (a, b) = ("127.0.0.1:51000", "127.0.0.1:47280");
        Entry {
            offset_ns,
            direction: if out { Direction::Out } else { Direction::In },
            src: if out { a } else { b }.into(),
            dst: if out { b } else { a }.into(),
            length: 60,
            layer: Layer::Tcp {
                flags: flags.iter().map(|f| (*f).to_owned()).collect(),
                seq: 0,
                ack: None,
                len: 0,
                tls: Vec::new(),
                text: None,
            },
        }
    };
    let t = Timeline {
        entries: vec![
            tcp(0, true, &["SYN"]),
            tcp(10, false, &["SYN", "ACK"]),
            tcp(20, true, &["ACK"]),
        ],
    };
    let ends = ladder::arrow_ends(&t);
    assert_eq!(
        ends,
        [
            ("127.0.0.1".into(), "127.0.0.1:47280".into(), "SYN".into()),
            (
                "127.0.0.1:47280".into(),
                "127.0.0.1".into(),
                "SYN/ACK".into()
            ),
            ("127.0.0.1".into(), "127.0.0.1:47280".into(), "ACK".into()),
        ]
    );
}

#[test]
fn steps_make_a_timeline_and_a_shape_not_yet_known_never_breaks_the_page() {
    let mut v: serde_json::Value = serde_json::from_str(FIXTURES[0].1).expect("json");
    let check = v["checks"][3].clone();
    let mut recovered = check.clone();
    recovered["recovered_ms"] = serde_json::json!(1250.0);
    v["steps"] = serde_json::json!([
        { "title": "web leaves front", "actions": ["disconnect web from front"], "checks": [check] },
        { "title": "web comes back", "do": [{ "connect": { "node": "web", "network": "front" } }],
          "checks": [recovered, { "not": "a check" }], "duration_ms": "soon" },
        42
    ]);
    let html = page(&v.to_string());
    assert!(html.contains("<section id=\"steps\">"));
    assert!(
        html.contains("<h3>web leaves front</h3>")
            && html.contains("<li>disconnect web from front</li>")
    );
    assert!(html.contains("{&quot;connect&quot;:{&quot;network&quot;:&quot;front&quot;,&quot;node&quot;:&quot;web&quot;}}"));
    assert!(html.contains("Time to recover: tcp client → web:7000 is open: 1.25 s"));
    assert_eq!(
        html.matches("id=\"step-").count(),
        5,
        "3 steps, 2 check cards (the bad one left out)"
    );
    // Without steps, nothing of them.
    assert!(!page(FIXTURES[0].1).contains("id=\"steps\""));
}

#[test]
fn netlab_steps_show_each_action_in_words_and_a_cancelled_check_as_not_run() {
    let mut v: serde_json::Value = serde_json::from_str(FIXTURES[0].1).expect("json");
    let mut cancelled = v["checks"][3].clone();
    cancelled["outcome"] = serde_json::json!("cancelled");
    v["steps"] = serde_json::json!([{
        "title": "db leaves back",
        "actions": [
            { "action": "disconnect", "text": "disconnect db from back", "outcome": "done",
              "observation": "left back (was 10.0.0.2)", "duration_ms": 40.0 },
            { "action": "wait", "text": "wait 30s", "outcome": "cancelled",
              "observation": "Ctrl-C came while it ran", "duration_ms": 900.0 }
        ],
        "checks": [cancelled],
        "duration_ms": 950.0
    }]);
    let html = page(&v.to_string());
    assert!(
        html.contains("<li>disconnect db from back: left back (was 10.0.0.2)</li>"),
        "{html}"
    );
    assert!(
        html.contains("<li>wait 30s (cancelled: Ctrl-C came while it ran)</li>"),
        "{html}"
    );
    assert!(
        html.contains("class=\"step skip\""),
        "a cancelled check is neither good nor bad"
    );
}
