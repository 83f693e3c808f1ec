//! The overlay scenario and swarm ownership. Swarm mode is engine-wide:
//! initialising or leaving it reconfigures the engine's networking, so these
//! run in their own test binary (cargo runs test binaries one at a time),
//! never beside other labs, and in one test, step after step.

mod support;

use std::process::Command;

use support::*;

fn swarm_state() -> String {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.Swarm.LocalNodeState}}"])
        .output()
        .expect("docker info");
    stdout(&out).trim().to_owned()
}

#[test]
fn overlay_passes_and_netlab_leaves_only_the_swarm_it_made() {
    if !docker_available() {
        return;
    }
    if swarm_state() != "inactive" {
        eprintln!(
            "the engine is already in a swarm that is not this test's; checking only that it survives"
        );
        run_passes(
            &LabGuard::from_shipped("overlay-basic", "t-overlay", |y| y),
            9,
        );
        assert_eq!(swarm_state(), "active");
        return;
    }
    // netlab makes the swarm, and leaves it when the lab goes.
    let text = run_passes(
        &LabGuard::from_shipped("overlay-basic", "t-overlay", |y| y),
        9,
    );
    assert!(text.contains("MTU 1450 on"), "{text}");
    assert_eq!(
        swarm_state(),
        "inactive",
        "netlab must leave the swarm it made"
    );
    let gwbridge = Command::new("docker")
        .args(["network", "inspect", "docker_gwbridge"])
        .output()
        .expect("docker");
    assert!(
        !gwbridge.status.success(),
        "docker_gwbridge must go with netlab's swarm"
    );

    let wrong = LabGuard::from_shipped("overlay-basic", "t-overlay-wrong", |y| {
        y.replace(
            "mtu: { node: alpha, network: mesh, expect: 1450 }",
            "mtu: { node: alpha, network: mesh, expect: 1500 }",
        )
    });
    let text = run_fails_on(&wrong, "mtu alpha on mesh is 1500");
    assert!(text.contains("MTU 1450 on"), "{text}");
    assert_eq!(swarm_state(), "inactive");

    // A swarm that existed before `up` survives `down`.
    let advertise = Command::new("sh")
        .args(["-c", "ip -4 -o addr show scope global | awk '$2 !~ /^(docker|br-|veth)/ {split($4,a,\"/\"); print a[1]; exit}'"])
        .output()
        .expect("ip");
    let addr = stdout(&advertise).trim().to_owned();
    let init = Command::new("docker")
        .args(["swarm", "init", "--advertise-addr", &addr])
        .output()
        .expect("swarm init");
    assert!(init.status.success(), "{}", stderr(&init));
    struct LeaveSwarm;
    impl Drop for LeaveSwarm {
        fn drop(&mut self) {
            let _ = Command::new("docker")
                .args(["swarm", "leave", "--force"])
                .output();
            let _ = Command::new("docker")
                .args(["network", "rm", "docker_gwbridge"])
                .output();
        }
    }
    let _leave = LeaveSwarm;
    run_passes(
        &LabGuard::from_shipped("overlay-basic", "t-overlay-user", |y| y),
        9,
    );
    assert_eq!(
        swarm_state(),
        "active",
        "a swarm netlab did not make must survive"
    );
}
