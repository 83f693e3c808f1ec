//! The report page in a real browser: `netlab run --html` of shipped labs,
//! rendered by headless Chromium (Debian's package) in a network namespace
//! with no way out. The test fails if a page is blank, a check is missing
//! from the DOM (with scripts on and off), or the console shows an error
//! or a request (the page must fetch nothing; its CSP blocks and reports
//! any try). It leaves screenshots in target/browser/; with
//! `NETLAB_UPDATE_SCREENSHOTS=1` it also refreshes docs/reports.md's
//! (docs/report-*.png).

#[path = "support/cdp.rs"]
mod cdp;
mod support;

use std::path::Path;

use support::*;

/// Runs a shipped lab under its own name with `--html` and JSON on stdout.
fn page_of(shipped: &str, name: &str, extra: &[&str], dir: &Path) -> (String, serde_json::Value) {
    let guard = LabGuard::from_shipped(shipped, name, |y| y);
    let html = dir.join(format!("{shipped}.html"));
    let mut args = vec![
        "run",
        guard.path(),
        "--output",
        "json",
        "--html",
        html.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let out = netlab(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    guard.assert_nothing_left();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    (format!("file://{}", html.display()), doc)
}

fn titles(doc: &serde_json::Value) -> Vec<String> {
    doc["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["title"].as_str().expect("a title").to_owned())
        .collect()
}

const LOOK: &str = "JSON.stringify({\
  text: document.body.innerText.length,\
  titles: Array.from(document.querySelectorAll('article.check h3')).map(e => e.textContent),\
  statuses: Array.from(document.querySelectorAll('article.check .badge')).map(e => e.textContent),\
  lab: (function () { var s = document.querySelector('svg.lab'); return s ? s.getBoundingClientRect().height : 0; })(),\
  ladders: document.querySelectorAll('svg.ladder').length,\
  tables: document.querySelectorAll('table.mx').length,\
  buttons: document.querySelectorAll('#filters button').length,\
  height: document.documentElement.scrollHeight\
})";

fn look(b: &mut cdp::Browser) -> serde_json::Value {
    let text = b.eval(LOOK);
    serde_json::from_str(text.as_str().expect("a string")).expect("JSON")
}

#[test]
fn pages_of_shipped_labs_render_offline_with_every_check_and_no_request() {
    let Some(chromium) = cdp::chromium() else {
        return;
    };
    if !docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&shots).expect("target/browser");
    let pages = [
        (
            "segmentation",
            page_of("segmentation", "t-page-seg", &[], dir.path()),
        ),
        (
            "https-on-the-wire",
            page_of(
                "https-on-the-wire",
                "t-page-wire",
                &["--capture"],
                dir.path(),
            ),
        ),
    ];
    let profile = dir.path().join("profile");
    let mut b = cdp::Browser::start(&chromium, &profile);
    for (lab, (url, doc)) in &pages {
        b.open(url);
        let seen = look(&mut b);
        let want = titles(doc);
        assert_eq!(
            seen["titles"].as_array().map(|a| a.len()),
            Some(want.len()),
            "{lab}: every check is on the page: {seen}"
        );
        for t in &want {
            assert!(
                seen["titles"]
                    .as_array()
                    .expect("titles")
                    .iter()
                    .any(|x| x == t),
                "{lab}: check {t:?} is missing from the DOM"
            );
        }
        assert!(
            seen["statuses"]
                .as_array()
                .expect("statuses")
                .iter()
                .all(|s| s == "PASS"),
            "{lab}: every check's status is shown: {seen}"
        );
        assert!(
            seen["text"].as_u64() > Some(1500),
            "{lab}: the page is blank: {seen}"
        );
        assert!(
            seen["lab"].as_f64() > Some(100.0),
            "{lab}: the lab's picture has no height: {seen}"
        );
        assert_eq!(
            seen["buttons"].as_u64(),
            Some(4),
            "{lab}: the script ran and added its filters: {seen}"
        );
        if *lab == "segmentation" {
            assert_eq!(seen["tables"].as_u64(), Some(2), "{lab}: {seen}");
        } else {
            assert_eq!(
                seen["ladders"].as_u64(),
                Some(4),
                "{lab}: a ladder per recorded check: {seen}"
            );
        }
        let height = seen["height"].as_u64().unwrap_or(900).min(1800);
        let png = b.screenshot(height);
        assert!(
            png.len() > 40_000,
            "{lab}: a screenshot of {} bytes is a blank page",
            png.len()
        );
        let shot = shots.join(format!("report-{lab}.png"));
        std::fs::write(&shot, &png).expect("screenshot written");
        eprintln!("{lab}: {} ({} KB)", shot.display(), png.len() / 1024);
        if std::env::var_os("NETLAB_UPDATE_SCREENSHOTS").is_some() {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
            std::fs::create_dir_all(&docs).expect("docs/");
            std::fs::write(docs.join(format!("report-{lab}.png")), &png).expect("docs png");
        }
    }
    // Readable with scripts off: the same checks, only the filters gone.
    b.page(
        "Emulation.setScriptExecutionDisabled",
        serde_json::json!({"value": true}),
    );
    for (lab, (url, doc)) in &pages {
        b.open(url);
        let seen = look(&mut b);
        assert_eq!(
            seen["titles"].as_array().map(|a| a.len()),
            Some(titles(doc).len()),
            "{lab} without scripts: {seen}"
        );
        assert_eq!(
            seen["buttons"].as_u64(),
            Some(0),
            "{lab} without scripts: {seen}"
        );
    }
    assert!(
        b.complaints.is_empty(),
        "the pages made the browser complain: {:#?}",
        b.complaints
    );
    // The detector itself: the same page with a fetch and a foreign script
    // in it must be caught (the CSP blocks both, the console says so).
    b.page(
        "Emulation.setScriptExecutionDisabled",
        serde_json::json!({"value": false}),
    );
    let (url, _) = &pages[0].1;
    let real = std::fs::read_to_string(url.trim_start_matches("file://")).expect("page");
    let tampered = dir.path().join("tampered.html");
    std::fs::write(
        &tampered,
        real.replace(
            "</body>",
            "<img src=\"http://192.0.2.1/pixel.png\" alt=\"\"><script>console.log('not ours')</script></body>",
        ),
    )
    .expect("tampered page");
    b.open(&format!("file://{}", tampered.display()));
    let caught = b.complaints.join("\n");
    assert!(
        caught.contains("192.0.2.1") && caught.contains("Content Security Policy"),
        "a request and a foreign script are reported: {caught}"
    );
}
