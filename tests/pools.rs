//! Docker's address pools, exhausted for real: networks are created until
//! the engine has no subnet left, then `up` must fail with the fix in its
//! message and leave nothing. Its own test binary (cargo runs those one at a
//! time), since while it runs no other lab could get a network.

mod support;

use std::process::Command;

use support::*;

/// Networks this test made to fill the pools; removed on drop, also when the
/// test fails.
struct Filler(Vec<String>);

impl Drop for Filler {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = Command::new("docker")
                .args(["network", "rm"])
                .args(&self.0)
                .output();
        }
    }
}

#[test]
fn exhausted_address_pools_are_explained_and_nothing_is_left() {
    if !docker_available() {
        return;
    }
    let mut filler = Filler(Vec::new());
    for i in 0..200 {
        let name = format!("t-pool-filler-{i}");
        let out = Command::new("docker")
            .args([
                "network",
                "create",
                "--label",
                "io.netlab.test=pools",
                &name,
            ])
            .output()
            .expect("docker network create");
        if !out.status.success() {
            assert!(
                stderr(&out)
                    .contains("could not find an available, non-overlapping IPv4 address pool"),
                "unexpected failure while filling the pools: {}",
                stderr(&out)
            );
            break;
        }
        filler.0.push(name);
        assert!(
            i < 199,
            "the engine kept handing out subnets; cannot exhaust its pools here"
        );
    }
    let guard = LabGuard::from_yaml(
        "t-pools",
        "name: x\nnetworks:\n  a: {}\nnodes:\n  one:\n    networks: [a]\n",
    );
    let out = netlab(&["up", guard.path()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot create network netlab_t-pools_a"),
        "{err}"
    );
    assert!(
        err.contains("hint: Docker's address pools are exhausted"),
        "{err}"
    );
    assert!(err.contains("docker network prune"), "{err}");
    guard.assert_nothing_left();
    drop(filler);
}
