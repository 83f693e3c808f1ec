//! A lab across two Docker hosts: two engines of the machine's own dockerd,
//! each in its own network namespace, joined in a swarm by netlab. Swarm
//! mode is engine-wide and the engines are shared, so the steps run one
//! after another in one test, and the engines go when it ends (also when it
//! fails).

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::engines::{Engines, engines_available};
use support::*;

const LAB: &str = "overlay-multihost";

fn with_hosts(engines: &Engines, args: &[&str]) -> Output {
    Command::new(netlab_bin())
        .args(args)
        .arg("--host")
        .arg(format!("east={}", engines.get("mheast").url))
        .arg("--host")
        .arg(format!("west={}", engines.get("mhwest").url))
        .output()
        .expect("netlab runs")
}

fn nothing_left(engines: &Engines, lab: &str) {
    for e in &engines.list {
        assert_eq!(
            e.leftovers(lab),
            (Vec::new(), Vec::new()),
            "lab {lab} left objects on {}",
            e.name
        );
    }
    assert_eq!(
        leftovers(lab),
        (Vec::new(), Vec::new()),
        "on the default engine"
    );
}

#[test]
fn a_lab_across_two_hosts() {
    if !docker_available() || !engines_available() {
        return;
    }
    // Both engines (and the machine's own) report one engine ID, as clones
    // of one machine image do: netlab must still treat them as three.
    let engines = Engines::start_cloned(&["mheast", "mhwest"]);
    let (east, west) = (engines.get("mheast"), engines.get("mhwest"));
    let id = |args: &[&str]| stdout(&Command::new("docker").args(args).output().expect("docker"));
    assert_eq!(
        stdout(&east.docker(&["info", "--format", "{{.ID}}"])),
        id(&["info", "--format", "{{.ID}}"]),
        "the engines were meant to share the machine engine's ID"
    );
    let _labs = [LAB, "t-mh-wrong", "t-mh-killed", "t-mh-late", "t-mh-paused"]
        .map(|n| LabGuard::from_yaml(n, "nodes:\n  x: { network_mode: none }\n"));

    // An image that merely carries the agent's tag is not run: planted on
    // west, it is refused (exit 3) and nothing is made.
    let tag = agent_tag();
    let plant = tempfile::tempdir().expect("tmp");
    std::fs::write(
        plant.path().join("Dockerfile"),
        "FROM scratch\nLABEL io.netlab.agent=true\n",
    )
    .expect("Dockerfile");
    let built = west.docker(&[
        "build",
        "-q",
        "-t",
        &tag,
        plant.path().to_str().expect("utf-8"),
    ]);
    assert!(built.status.success(), "{}", stderr(&built));
    let out = with_hosts(&engines, &["up", LAB]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "image {tag} on {} is not netlab's build of this executable; refusing to run it",
            west.url
        )),
        "{}",
        stderr(&out)
    );
    nothing_left(&engines, LAB);
    let removed = west.docker(&["rmi", &tag]);
    assert!(removed.status.success(), "{}", stderr(&removed));

    // The shipped lab passes across two engines; netlab makes the swarm and
    // leaves it on both.
    let out = with_hosts(&engines, &["run", LAB]);
    let text = assert_all_passed(&out, 17);
    assert!(
        text.contains("answered by web@east of lab overlay-multihost"),
        "{text}"
    );
    assert!(text.contains("answered by db@west of lab"), "{text}");
    assert!(
        stderr(&out).contains("initialised a swarm of east, west"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("copied agent image"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("report one engine ID")
            && stderr(&out).contains("but are two engines"),
        "{}",
        stderr(&out)
    );
    nothing_left(&engines, LAB);
    assert_eq!(
        (east.swarm_state(), west.swarm_state()),
        ("inactive".into(), "inactive".into())
    );

    // Turned around: the bridge-only node resolving the other host's node
    // fails.
    let wrong = LabGuard::from_shipped(LAB, "t-mh-wrong", |y| {
        y.replace(
            "dns: { from: edge, name: db, expect: unresolved }",
            "dns: { from: edge, name: db, expect: resolves }",
        )
    });
    let out = with_hosts(&engines, &["run", wrong.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0].contains("dns edge → db is resolves"), "{text}");
    nothing_left(&engines, "t-mh-wrong");

    // verify, ls and down need no flags and no file: the binding is kept in
    // the engines.
    let file = LabGuard::from_shipped(LAB, LAB, |y| y);
    let up = with_hosts(&engines, &["up", file.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    std::fs::remove_file(&file.file).expect("remove the lab file");
    let verify = Command::new(netlab_bin())
        .args(["verify", LAB])
        .current_dir("/")
        .output()
        .expect("runs");
    assert_all_passed(&verify, 17);
    let ls = netlab(&["ls"]);
    assert!(
        stdout(&ls)
            .lines()
            .any(|l| l.starts_with(LAB) && l.contains("4/4") && l.contains("east,west")),
        "{}",
        stdout(&ls)
    );
    let down = netlab(&["down", LAB]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert!(
        stdout(&down).contains("removed: 4 nodes, 3 networks"),
        "{}",
        stdout(&down)
    );
    nothing_left(&engines, LAB);
    assert_eq!(east.swarm_state(), "inactive");

    // A swarm that already holds both hosts is used and kept.
    let init = east.docker(&["swarm", "init", "--advertise-addr", &east.address()]);
    assert!(init.status.success(), "{}", stderr(&init));
    let token = stdout(&east.docker(&["swarm", "join-token", "-q", "worker"]))
        .trim()
        .to_owned();
    let join = west.docker(&[
        "swarm",
        "join",
        "--advertise-addr",
        &west.address(),
        "--token",
        &token,
        &format!("{}:2377", east.address()),
    ]);
    assert!(join.status.success(), "{}", stderr(&join));
    assert_all_passed(&with_hosts(&engines, &["run", LAB]), 17);
    assert_eq!(
        (east.swarm_state(), west.swarm_state()),
        ("active".into(), "active".into())
    );
    let _ = west.docker(&["swarm", "leave", "--force"]);
    let _ = east.docker(&["swarm", "leave", "--force"]);

    // Engines in two different swarms: refused, nothing made.
    for e in [east, west] {
        let init = e.docker(&["swarm", "init", "--advertise-addr", &e.address()]);
        assert!(init.status.success(), "{}", stderr(&init));
    }
    let out = with_hosts(&engines, &["up", LAB]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the lab's hosts are in different swarms"),
        "{}",
        stderr(&out)
    );
    nothing_left(&engines, LAB);
    for e in [east, west] {
        let _ = e.docker(&["swarm", "leave", "--force"]);
    }

    // `up` killed midway: `down` with no flags cleans both engines.
    let killed = LabGuard::from_shipped(LAB, "t-mh-killed", |y| y);
    let mut child = Command::new(netlab_bin())
        .args(["up", killed.path()])
        .arg("--host")
        .arg(format!("east={}", east.url))
        .arg("--host")
        .arg(format!("west={}", west.url))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    while west.leftovers("t-mh-killed").0.is_empty() {
        assert!(Instant::now() < deadline, "up made nothing on west");
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let down = netlab(&["down", "t-mh-killed"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    nothing_left(&engines, "t-mh-killed");

    // An engine that stops during verify: exit 3, its checks are errors.
    // The check on west waits out its deadline (icc off drops the SYN).
    let slow = LabGuard::from_yaml(
        "t-mh-stopped",
        "name: t-mh-stopped\nhosts: [east, west]\nnetworks:\n  quiet: { icc: false }\n  lan: {}\nnodes:\n  a: { host: west, networks: [quiet] }\n  b: { host: west, networks: [quiet], serve: [tcp:7000] }\n  c: { host: east, networks: [lan] }\nchecks:\n  - tcp: { from: a, to: b:7000, expect: blocked, timeout: 10s }\n",
    );
    let up = with_hosts(&engines, &["up", slow.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let verify = Command::new(netlab_bin())
        .args(["verify", "t-mh-stopped"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_secs(2));
    engines.stop("mhwest");
    let out = verify.wait_with_output().expect("verify");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).lines().any(|l| l.starts_with("ERROR")),
        "{}",
        stdout(&out)
    );
    // down removes what it can reach, says what it cannot, and keeps the
    // record; an engine gone for good is given up on the user's word.
    let down = netlab(&["down", "t-mh-stopped"]);
    assert_eq!(down.status.code(), Some(3), "{}", stderr(&down));
    assert!(
        stderr(&down).contains("host west (") && stderr(&down).contains("cannot be reached"),
        "{}",
        stderr(&down)
    );
    assert_eq!(east.leftovers("t-mh-stopped"), (Vec::new(), Vec::new()));
    assert_eq!(leftovers("t-mh-stopped").0.len(), 1, "the claim stays");
    let forget = netlab(&["down", "t-mh-stopped", "--forget-unreachable"]);
    assert_eq!(forget.status.code(), Some(0), "{}", stderr(&forget));
    assert!(
        stderr(&forget).contains("forgot host west"),
        "{}",
        stderr(&forget)
    );
    assert_eq!(leftovers("t-mh-stopped"), (Vec::new(), Vec::new()));

    // An engine that stops during `up`: exit 3, nothing left on the other.
    let late = Engines::start(&["mhlate"]);
    let up = Command::new(netlab_bin())
        .args(["up", LAB, "--name", "t-mh-late"])
        .arg("--host")
        .arg(format!("east={}", east.url))
        .arg("--host")
        .arg(format!("west={}", late.get("mhlate").url))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    while east.leftovers("t-mh-late").0.is_empty() {
        assert!(Instant::now() < deadline, "up made nothing on east");
        std::thread::sleep(Duration::from_millis(50));
    }
    late.stop("mhlate");
    let out = up.wait_with_output().expect("up");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(east.leftovers("t-mh-late"), (Vec::new(), Vec::new()));
    // What west held cannot be known: the record stays until given up.
    let forget = netlab(&["down", "t-mh-late", "--forget-unreachable"]);
    assert_eq!(forget.status.code(), Some(0), "{}", stderr(&forget));
    assert_eq!(leftovers("t-mh-late"), (Vec::new(), Vec::new()));
    assert_eq!(east.swarm_state(), "inactive");
}

/// The tag netlab gives the agent image of the binary under test.
fn agent_tag() -> String {
    let out = Command::new("sha256sum")
        .arg(netlab_bin())
        .output()
        .expect("sha256sum");
    let digest = stdout(&out);
    format!(
        "netlab/agent:{}-{}",
        env!("CARGO_PKG_VERSION"),
        &digest[..12]
    )
}

const PAUSED: &str = "name: t-mh-paused\nhosts: [east, west]\nnetworks:\n  lan-e: {}\n  lan-w: {}\nnodes:\n  a: { host: east, networks: [lan-e] }\n  b: { host: west, networks: [lan-w] }\n  c: { host: west, networks: [lan-w] }\n";

#[test]
fn down_keeps_the_record_while_an_engine_is_down_and_a_later_down_finishes() {
    if !docker_available() || !engines_available() {
        return;
    }
    let engines = Engines::start(&["mhpe", "mhpw"]);
    let (east, west) = (engines.get("mhpe"), engines.get("mhpw"));
    let lab = LabGuard::from_yaml("t-mh-paused", PAUSED);
    let up = Command::new(netlab_bin())
        .args(["up", lab.path()])
        .arg("--host")
        .arg(format!("east={}", east.url))
        .arg("--host")
        .arg(format!("west={}", west.url))
        .output()
        .expect("up");
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));

    // West goes down with its state: `down` removes what east holds, keeps
    // the record, exits 3 and says what remains where.
    engines.pause("mhpw");
    let down = netlab(&["down", "t-mh-paused"]);
    assert_eq!(down.status.code(), Some(3), "{}", stderr(&down));
    let said = stderr(&down);
    assert!(
        said.contains("error: lab `t-mh-paused` is only partly removed; its record stays on")
            && said.contains(&format!("host west ({}) cannot be reached", west.url))
            && said.contains("by the record it holds nodes b, c and network lan-w")
            && said.contains("--forget-unreachable"),
        "{said}"
    );
    assert_eq!(east.leftovers("t-mh-paused"), (Vec::new(), Vec::new()));
    let claim = leftovers("t-mh-paused").0;
    assert_eq!(claim.len(), 1, "the claim stays: {claim:?}");
    let ls = netlab(&["ls"]);
    assert!(
        stdout(&ls).lines().any(|l| l.starts_with("t-mh-paused")),
        "{}",
        stdout(&ls)
    );

    // West is back: a second `down` finds it through the record and
    // removes everything.
    engines.resume("mhpw");
    assert_eq!(
        west.leftovers("t-mh-paused").0.len(),
        3,
        "b, c and west's host helper"
    );
    let down = netlab(&["down", "t-mh-paused"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert!(
        stdout(&down).contains("lab `t-mh-paused` removed: 2 nodes, 1 network"),
        "{}",
        stdout(&down)
    );
    for e in [east, west] {
        assert_eq!(
            e.leftovers("t-mh-paused"),
            (Vec::new(), Vec::new()),
            "{}",
            e.name
        );
    }
    assert_eq!(leftovers("t-mh-paused"), (Vec::new(), Vec::new()));
}
