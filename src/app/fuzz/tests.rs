use super::generate::{Probe, generate, generate_with, load, render};
use super::shrink::candidates;

#[test]
fn one_seed_gives_one_lab() {
    assert_eq!(render(&generate(7)), render(&generate(7)));
    assert_ne!(render(&generate(7)), render(&generate(8)));
}

#[test]
fn every_generated_lab_of_seeds_0_to_200_validates() {
    for seed in 0..200 {
        let spec = generate(seed);
        let text = render(&spec).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let lab = load(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(lab.name, format!("t-fz-{seed}"));
        assert!(!lab.checks.is_empty(), "seed {seed} has no checks");
    }
}

#[test]
fn overlays_add_one_network_and_keep_the_rest_of_the_seed() {
    for seed in 0..200 {
        let plain = generate(seed);
        let spec = generate_with(seed, true);
        let text = render(&spec).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let lab = load(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        assert_eq!(lab.name, format!("t-fzo-{seed}"));
        assert!(text.contains("driver: overlay"), "{text}");
        assert_eq!(spec.networks[..plain.networks.len()], plain.networks[..]);
        assert_eq!(generate_with(seed, false), plain);
    }
}

#[test]
fn shrunk_candidates_keep_the_probe_and_are_smaller() {
    for seed in 0..50 {
        let mut spec = generate(seed);
        let lab = load(&render(&spec).unwrap_or_default()).ok();
        let Some(lab) = lab else { continue };
        let Some(probe) = super::generate::probes_of(&spec, &lab).into_iter().next() else {
            continue;
        };
        spec.only = Some(probe.clone());
        for c in candidates(&spec) {
            assert_eq!(c.only.as_ref(), Some(&probe));
            assert_ne!(c, spec);
            if let Probe::Cell { to, .. } = &probe {
                assert!(c.nodes.iter().any(|n| &n.name == to), "seed {seed}");
            }
        }
    }
}

#[test]
fn a_fail_is_a_disagreement_of_its_probe_and_an_error_is_not() {
    use crate::report::Status;
    use crate::report::tests::{check, report};
    let spec = generate(1);
    let lab = load(&render(&spec).unwrap_or_default()).expect("seed 1 loads");
    let probes = super::generate::probes_of(&spec, &lab);
    let dns = probes
        .iter()
        .find(|p| matches!(p, Probe::Dns { .. }))
        .expect("seed 1 looks a name up")
        .clone();
    let title = super::generate::title(&dns);
    let mut failed = check(&title, false);
    failed.observed = "resolved to 10.0.0.9".into();
    let mut erred = check("port n2", false);
    erred.status = Status::Error;
    let mut skipped = check("reach 7000 over IPv6 with ip6tables", false);
    skipped.status = Status::Skipped;
    let outcome = super::sort(
        &spec,
        &report(vec![failed, erred, skipped, check("x", true)]),
    );
    assert_eq!(outcome.disagreements.len(), 1);
    assert_eq!(outcome.disagreements[0].probe, dns);
    assert_eq!(outcome.disagreements[0].observed, "resolved to 10.0.0.9");
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
    assert!(outcome.errors[0].contains("ERROR"), "{:?}", outcome.errors);
    assert_eq!(outcome.checks, 3);
}
