//! Every compose file of the corpus (tests/data/compose/) imports, and its
//! lab, run on the engine with netlab's agents, passes every implied check;
//! a mutant (a pair that shares no network expected open) fails. Labs run
//! four at a time; ports are ones Docker picks (`--any-host-port`), so a
//! shared engine's taken ports do not matter.

mod support;

use std::path::PathBuf;
use std::process::Command;

fn corpus() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/compose");
    for dir in std::fs::read_dir(&root).expect("corpus").flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let file = std::fs::read_dir(dir.path())
            .expect("corpus dir")
            .flatten()
            .map(|f| f.path())
            .find(|p| p.file_name().is_some_and(|n| n != "SOURCE"))
            .expect("a compose file");
        out.push((name, file));
    }
    out.sort();
    out
}

fn run(lab: &PathBuf, name: &str) -> (bool, String) {
    let o = Command::new(support::netlab_bin())
        .args(["run", "-q", "--wait", "120s", "--name", name])
        .arg(lab)
        .output()
        .expect("netlab run");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn corpus_imports_and_its_implied_checks_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut labs = Vec::new();
    for (name, file) in corpus() {
        let out = dir.path().join(format!("{name}.yaml"));
        import_merged(&[&file], &out);
        labs.push((name, out));
    }
    assert!(labs.len() >= 10);
    let atsea = dir.path().join("atsea.yaml");
    let text = std::fs::read_to_string(&atsea).expect("atsea lab");
    assert!(text.contains("expect: blocked"));
    let mutant = dir.path().join("mutant.yaml");
    std::fs::write(&mutant, text.replacen("expect: blocked", "expect: open", 1)).expect("write");
    let started = std::time::Instant::now();
    for chunk in labs.chunks(4) {
        std::thread::scope(|s| {
            let runs: Vec<_> = chunk
                .iter()
                .map(|(name, lab)| s.spawn(move || (name, run(lab, &format!("ci-imp-{name}")))))
                .collect();
            for r in runs {
                let (name, (ok, out)) = r.join().expect("thread");
                assert!(ok, "{name}:\n{out}");
            }
        });
    }
    let (ok, out) = run(&mutant, "ci-imp-mutant");
    assert!(!ok && out.contains("FAIL"), "the mutant passed:\n{out}");
    eprintln!("corpus ran in {:.0?}", started.elapsed());
}

/// Imports `files` (merged in compose's order) into `out`.
fn import_merged(files: &[&PathBuf], out: &PathBuf) -> String {
    let o = Command::new(support::netlab_bin())
        .args(["import", "--any-host-port", "-o"])
        .arg(out)
        .args(files)
        .output()
        .expect("netlab import");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).expect("imported lab")
}

/// Docker's own page "Networking in Compose" (docker/docs @0ff924b,
/// content/manuals/compose/how-tos/networking.md), two of its examples as
/// written there: "`db` is reachable from `web` at the hostnames `db` and
/// `database`" (links), and "The `proxy` service is isolated from the `db`
/// service, because they do not share a network in common. Only `app` can
/// talk to both" (custom networks; its `custom-driver` is imported as a
/// bridge, with a warning). A second file exposes db's 5432, as the
/// postgres image does (nothing is pulled here). The implied checks say
/// what the page says and pass; each turned around, it FAILs.
#[test]
fn the_examples_of_dockers_networking_in_compose_page_import_and_pass() {
    if !support::docker_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let links = write(
        "links.yaml",
        "services:\n  web:\n    build: .\n    links:\n      - \"db:database\"\n  db:\n    image: postgres\n",
    );
    let custom = write(
        "custom.yaml",
        "services:\n  proxy:\n    build: ./proxy\n    networks:\n      - frontend\n  app:\n    build: ./app\n    networks:\n      - frontend\n      - backend\n  db:\n    image: postgres\n    networks:\n      - backend\n\nnetworks:\n  frontend:\n    # Specify driver options\n    driver: bridge\n    driver_opts:\n      com.docker.network.bridge.host_binding_ipv4: \"127.0.0.1\"\n  backend:\n    # Use a custom driver\n    driver: custom-driver\n",
    );
    let expose = write("expose.yaml", "services:\n  db:\n    expose: [\"5432\"]\n");
    let cases = [
        (
            "links",
            &links,
            [
                "- dns: { from: web, name: database, expect: [db] }",
                "- tcp: { from: web, to: database:5432, expect: open }",
                "- dns: { from: web, name: db, expect: [db] }",
            ],
            (
                "name: database, expect: [db]",
                "name: database, expect: unresolved",
            ),
        ),
        (
            "custom",
            &custom,
            [
                "- dns: { from: proxy, name: db, expect: unresolved }",
                "- tcp: { from: proxy, to: db:5432, expect: blocked }",
                "- tcp: { from: app, to: db:5432, expect: open }",
            ],
            (
                "from: proxy, to: db:5432, expect: blocked",
                "from: proxy, to: db:5432, expect: open",
            ),
        ),
    ];
    for (name, file, says, (honest, flipped)) in cases {
        let out = dir.path().join(format!("{name}.lab.yaml"));
        let text = import_merged(&[file, &expose], &out);
        for line in says {
            assert!(text.contains(line), "{name} lacks `{line}`:\n{text}");
        }
        let (ok, report) = run(&out, &format!("ci-docs-{name}"));
        assert!(ok, "{name}:\n{report}");
        let mutant = dir.path().join(format!("{name}.mutant.yaml"));
        std::fs::write(&mutant, text.replacen(honest, flipped, 1)).expect("write");
        let (ok, report) = run(&mutant, &format!("ci-docs-{name}-m"));
        assert!(
            !ok && report.contains("FAIL"),
            "{name}: the mutant passed:\n{report}"
        );
    }
}
