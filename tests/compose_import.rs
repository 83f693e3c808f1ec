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

fn import(file: &PathBuf, out: &PathBuf) {
    let o = Command::new(support::netlab_bin())
        .args(["import", "--any-host-port", "-o"])
        .arg(out)
        .arg(file)
        .output()
        .expect("netlab import");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
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
        import(&file, &out);
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
