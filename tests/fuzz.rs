//! `netlab fuzz` on the real engine: generated labs whose checks netlab's
//! model wrote agree with what the engine does, for a fixed set of seeds.
//! A longer run is `netlab fuzz --seed 1 --count 30 --keep-going`.

mod support;

use std::sync::Mutex;

use support::{LabGuard, docker_available, netlab, stderr, stdout};

/// Generated labs of different seeds may pick the same 10.214.X.0/24
/// subnet, and a seed's lab has one name: the runs here take turns.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn generated_labs_of_seeds_1_to_5_agree_with_the_engine() {
    if !docker_available() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Guards remove whatever a failed run left of the labs, which are named
    // `t-fz-<seed>`.
    let guards: Vec<LabGuard> = (1..=5)
        .map(|s| LabGuard::from_yaml(&format!("t-fz-{s}"), "name: x\n"))
        .collect();
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out_path = out_dir.path().to_str().expect("utf-8 path");
    let o = netlab(&[
        "fuzz",
        "--seed",
        "1",
        "--count",
        "5",
        "--keep-going",
        "--out",
        out_path,
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{text}\n{}", stderr(&o));
    for s in 1..=5 {
        assert!(
            text.contains(&format!("seed {s}: "))
                && text.contains(", 0 disagreement(s), 0 error(s)"),
            "{text}"
        );
        assert!(out_dir.path().join(format!("t-fz-{s}.yaml")).is_file());
    }
    assert!(text.contains("5 lab(s), 0 with disagreements"), "{text}");
    for g in &guards {
        g.assert_nothing_left();
    }
}

#[test]
fn a_mutant_model_disagrees_and_is_shrunk_to_a_small_lab() {
    if !docker_available() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _guard = LabGuard::from_yaml("t-fz-3", "name: x\n");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out_path = out_dir.path().to_str().expect("utf-8 path");
    let o = netlab(&[
        "fuzz",
        "--seed",
        "3",
        "--mutant",
        "--shrink-runs",
        "6",
        "--out",
        out_path,
    ]);
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}\n{}", stderr(&o));
    assert!(text.contains("DISAGREE cell "), "{text}");
    assert!(text.contains("smallest lab that still shows"), "{text}");
    let shrunk = std::fs::read_to_string(out_dir.path().join("t-fz-3-shrunk.yaml"))
        .expect("the shrunk lab is written");
    let full = std::fs::read_to_string(out_dir.path().join("t-fz-3.yaml")).expect("the lab");
    assert!(shrunk.len() < full.len(), "{shrunk}");
    assert_eq!(shrunk.matches("- matrix:").count(), 1, "{shrunk}");
}
