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

    // overlay-multihost with no host bound: refused before any engine is
    // asked (exit 2), with the binding to write; nothing is made.
    let one = LabGuard::from_shipped("overlay-multihost", "t-om-one", |y| y);
    let out = netlab(&["run", one.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs 2 Docker hosts (east, west), and none is bound"),
        "{}",
        stderr(&out)
    );
    one.assert_nothing_left();
    // Both hosts bound to this one engine, on the user's word: the check
    // from west's own stack would reach east's published port only because
    // the two are one engine, so it is SKIPPED with why; the rest passes.
    let here =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let (east, west) = (format!("east={here}"), format!("west={here}"));
    let out = netlab(&["run", one.path(), "--host", &east, "--host", &west]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.ends_with("16 passed, 0 failed, 1 skipped\n"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("SKIPPED")
            && l.contains("tcp host@west → 127.0.0.1:27380 is refused")
            && l.contains("are one engine here")),
        "{text}"
    );
    one.assert_nothing_left();
    assert_eq!(swarm_state(), "inactive");

    swarm_manners();

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

/// Listeners on TCP port 2377 of this machine, as `ss` shows them.
fn swarm_listeners() -> Vec<String> {
    let out = Command::new("ss")
        .args(["-Hltn", "sport = :2377"])
        .output()
        .expect("ss");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_owned))
        .collect()
}

fn up_overlay(name: &str) -> LabGuard {
    let guard = LabGuard::from_shipped("overlay-basic", name, |y| y);
    let up = netlab(&["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert_eq!(swarm_state(), "active");
    guard
}

/// The swarm netlab makes listens on the advertised address only; it is
/// kept while it holds what netlab did not make; it goes with the last
/// overlay of a converge, and after an `up` that died between making it and
/// making the lab's overlay.
fn swarm_manners() {
    // Listening: the advertised address, not every interface.
    let lab = up_overlay("t-ov-listen");
    let listeners = swarm_listeners();
    assert_eq!(listeners.len(), 1, "{listeners:?}");
    assert!(
        !listeners[0].starts_with("0.0.0.0:")
            && !listeners[0].starts_with("*:")
            && !listeners[0].starts_with("[::]:"),
        "{listeners:?}"
    );

    // A network the user made in netlab's swarm keeps it alive.
    let user = Command::new("docker")
        .args([
            "network",
            "create",
            "-d",
            "overlay",
            "--attachable",
            "t-user-ov",
        ])
        .output()
        .expect("docker network create");
    assert!(user.status.success(), "{}", stderr(&user));
    let down = netlab(&["down", "t-ov-listen"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert!(
        stderr(&down)
            .contains("kept the swarm netlab had initialised: it holds network `t-user-ov`"),
        "{}",
        stderr(&down)
    );
    assert_eq!(swarm_state(), "active");
    lab.assert_nothing_left();
    let rm = Command::new("docker")
        .args(["network", "rm", "t-user-ov"])
        .output()
        .expect("docker network rm");
    assert!(rm.status.success(), "{}", stderr(&rm));

    // A converge that drops the last overlay leaves netlab's swarm (which
    // is still netlab's: the next lab uses it and the first `up` above made
    // it).
    let conv = up_overlay("t-ov-conv");
    let bridged = std::fs::read_to_string(&conv.file)
        .expect("lab")
        .replace(
            "  mesh:\n    driver: overlay\n    attachable: true\n",
            "  mesh: {}\n",
        )
        .replace("expect: 1450", "expect: 1500");
    std::fs::write(&conv.file, bridged).expect("write");
    let up = netlab(&["up", conv.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert!(
        stdout(&up).contains("recreated network mesh"),
        "{}",
        stdout(&up)
    );
    assert_eq!(swarm_state(), "inactive", "{}", stderr(&up));
    let down = netlab(&["down", "t-ov-conv"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    conv.assert_nothing_left();

    // An `up` that died after making the swarm and before the lab's overlay:
    // its record names an overlay the engine does not have. `down` leaves
    // the swarm all the same.
    let crashed = up_overlay("t-ov-crash");
    let (containers, _) = leftovers("t-ov-crash");
    let nodes: Vec<String> = containers
        .into_iter()
        .filter(|id| {
            let role = Command::new("docker")
                .args([
                    "inspect",
                    "--format",
                    "{{index .Config.Labels \"io.netlab.role\"}}",
                    id,
                ])
                .output()
                .expect("inspect");
            stdout(&role).trim() != "claim"
        })
        .collect();
    let rm = Command::new("docker")
        .args(["rm", "-f"])
        .args(&nodes)
        .output()
        .expect("docker rm");
    assert!(rm.status.success(), "{}", stderr(&rm));
    let rm = Command::new("docker")
        .args(["network", "rm", "netlab_t-ov-crash_mesh"])
        .output()
        .expect("docker network rm");
    assert!(rm.status.success(), "{}", stderr(&rm));
    let down = netlab(&["down", "t-ov-crash"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(swarm_state(), "inactive", "{}", stderr(&down));
    crashed.assert_nothing_left();
}
