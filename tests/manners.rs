//! A lab touches only itself, and `down` finishes what `up` began, on the
//! real engine: `down` under `--name`/`NETLAB_NAME`, the lab's lock (who
//! holds it, stale ones broken, `--break-lock`, `verify` waiting for a
//! converge), a subnet on the Docker host's own network, signals during
//! teardown, and a report file that cannot be written.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const SMALL: &str = "name: x
networks:
  a: {}
nodes:
  one:
    networks: [a]
    serve: [tcp:7000]
  two:
    networks: [a]
checks:
  - tcp: { from: two, to: one:7000, expect: open }
";

fn up(path: &str, name: Option<&str>) {
    let mut cmd = Command::new(netlab_bin());
    cmd.args(["up", path]);
    if let Some(n) = name {
        cmd.env("NETLAB_NAME", n);
    }
    let out = cmd.output().expect("netlab up");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn down_of_a_lab_file_under_netlab_name_removes_that_copy_only() {
    if !docker_available() {
        return;
    }
    let own = LabGuard::from_yaml("t-mn-name", SMALL);
    let _copy = LabGuard::from_yaml("t-mn-name-ci", SMALL);
    up(own.path(), None);
    up(own.path(), Some("t-mn-name-ci"));
    let down = Command::new(netlab_bin())
        .args(["down", own.path()])
        .env("NETLAB_NAME", "t-mn-name-ci")
        .output()
        .expect("down");
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert!(
        stdout(&down).contains("lab `t-mn-name-ci` removed"),
        "{}",
        stdout(&down)
    );
    assert_eq!(leftovers("t-mn-name-ci"), (Vec::new(), Vec::new()));
    assert!(
        !leftovers("t-mn-name").0.is_empty(),
        "the lab under its own name must stay up"
    );
    let down = netlab(&["down", "--name", "t-mn-name", own.path()]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    own.assert_nothing_left();
}

/// Where a pid of this process means something, as netlab's lock records it.
fn place() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").expect("boot id");
    let ns = std::fs::read_link("/proc/self/ns/pid").expect("pid ns");
    format!("{}/{}", boot.trim(), ns.display())
}

fn start_time(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &stat[stat.rfind(')').expect(")") + 1..];
    after
        .split_whitespace()
        .nth(19)
        .expect("field 22")
        .to_owned()
}

/// A lock of lab `lab` as another netlab would have left it.
fn plant_lock(lab: &str, pid: u32, started: &str, place: &str) {
    ensure_foreign_image();
    let labels = [
        format!("io.netlab.lab={lab}"),
        "io.netlab.role=lock".into(),
        format!("io.netlab.lock.pid={pid}"),
        format!("io.netlab.lock.started={started}"),
        format!("io.netlab.lock.place={place}"),
        "io.netlab.lock.machine=elsewhere".into(),
        "io.netlab.lock.since=2026-12-01T10:00:00Z".into(),
        "io.netlab.lock.command=up".into(),
    ];
    let mut cmd = Command::new("docker");
    cmd.args(["create", "--name", &format!("netlab_{lab}.lock")]);
    for l in &labels {
        cmd.args(["--label", l]);
    }
    let out = cmd.arg(FOREIGN_IMAGE).output().expect("docker create");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn remove_lock(lab: &str) {
    let _ = Command::new("docker")
        .args(["rm", "-f", &format!("netlab_{lab}.lock")])
        .output();
}

/// The pid of a process that ran here and is gone.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("true");
    let pid = child.id();
    child.wait().expect("wait");
    pid
}

#[test]
fn a_stale_lock_is_broken_a_foreign_one_needs_break_lock_and_a_live_one_is_respected() {
    if !docker_available() {
        return;
    }
    let lab = LabGuard::from_yaml("t-mn-lock", SMALL);
    let here = place();

    // Left by a netlab of this machine that is gone: broken at once.
    plant_lock("t-mn-lock", dead_pid(), "1", &here);
    let out = netlab(&["up", lab.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("broke the lock of lab `t-mn-lock` held by `netlab up` (pid ")
            && stderr(&out).contains(" is no longer running"),
        "{}",
        stderr(&out)
    );

    // Held by a netlab on another machine: who and since when, and only
    // --break-lock breaks it. `down` takes the lock too.
    plant_lock("t-mn-lock", 4242, "77", "another-boot/pid:[1]");
    for args in [vec!["up", lab.path()], vec!["down", "t-mn-lock"]] {
        let out = netlab(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(
                "lab `t-mn-lock` is locked by `netlab up` (pid 4242 on elsewhere, since 2026-12-01T10:00:00Z"
            ) && stderr(&out).contains("add --break-lock"),
            "{}",
            stderr(&out)
        );
    }
    let ls = netlab(&["ls"]);
    assert!(
        stdout(&ls).contains("changing: locked by `netlab up` (pid 4242 on elsewhere"),
        "{}",
        stdout(&ls)
    );
    let out = netlab(&["up", lab.path(), "--break-lock"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("(--break-lock)"), "{}", stderr(&out));

    // Held by a process that runs here (this test): never broken; `verify`
    // waits for it and goes on once it is released.
    let me = std::process::id();
    plant_lock("t-mn-lock", me, &start_time(me), &here);
    let out = netlab(&["down", "t-mn-lock", "--break-lock"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is being changed by `netlab up`"),
        "{}",
        stderr(&out)
    );
    let verify = Command::new(netlab_bin())
        .args(["verify", "t-mn-lock"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("verify");
    std::thread::sleep(Duration::from_secs(2));
    remove_lock("t-mn-lock");
    let out = verify.wait_with_output().expect("verify");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is being changed by `netlab up`")
            && stderr(&out).contains("waiting for it"),
        "{}",
        stderr(&out)
    );

    // A stale lock on a lab that is up: verify says so rather than check a
    // lab that may be half-changed.
    plant_lock("t-mn-lock", dead_pid(), "1", &here);
    let out = netlab(&["verify", "t-mn-lock"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("lab `t-mn-lock` was left half-changed"),
        "{}",
        stderr(&out)
    );
    let down = netlab(&["down", "t-mn-lock"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    lab.assert_nothing_left();
}

/// A route of this machine that is not the default one nor Docker's.
fn a_host_route() -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "route", "show"])
        .output()
        .expect("ip route");
    stdout(&out)
        .lines()
        .filter(|l| !l.starts_with("default"))
        .filter(|l| {
            !["docker0", "docker_gwbridge", "br-", "netlab-br0"]
                .iter()
                .any(|d| l.contains(&format!("dev {d}")))
        })
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .find(|dest| {
            dest.split_once('/')
                .and_then(|(_, p)| p.parse::<u8>().ok())
                .is_some_and(|p| (8..=30).contains(&p))
        })
}

#[test]
fn a_subnet_on_the_docker_hosts_own_network_is_refused_naming_the_route() {
    if !docker_available() {
        return;
    }
    let Some(route) = a_host_route() else {
        eprintln!(
            "this machine has no route but the default one and Docker's: nothing to collide with"
        );
        return;
    };
    let yaml = format!(
        "name: t-mn-route\nnetworks:\n  lan: {{ subnet: {route} }}\nnodes:\n  a: {{ networks: [lan] }}\n"
    );
    let lab = LabGuard::from_yaml("t-mn-route", &yaml);
    // The host's route may be in public space (192.0.2.0/24 on the test
    // machines): `--allow-external` lets validation take it, so the check
    // against the host's routes is what refuses it.
    let out = netlab(&["up", "--allow-external", lab.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "subnet {route} of network `lan` overlaps the route {route}"
        )) && stderr(&out).contains("on the Docker host; nothing was created"),
        "{}",
        stderr(&out)
    );
    lab.assert_nothing_left();
    // A subnet beside it is taken.
    let ok = LabGuard::from_yaml(
        "t-mn-route",
        "name: t-mn-route\nnetworks:\n  lan: { subnet: 10.231.77.0/24 }\nnodes:\n  a: { networks: [lan] }\n",
    );
    let out = netlab(&["up", ok.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(netlab(&["down", "t-mn-route"]).status.code(), Some(0));
    ok.assert_nothing_left();
}

const SLOW: &str = "name: x
networks:
  quiet: { icc: false }
nodes:
  n1: { networks: [quiet], serve: [tcp:7000] }
  n2: { networks: [quiet], serve: [tcp:7000] }
  n3: { networks: [quiet] }
  n4: { networks: [quiet] }
  n5: { networks: [quiet] }
  n6: { networks: [quiet] }
  n7: { networks: [quiet] }
  n8: { networks: [quiet] }
checks:
  - tcp: { from: n1, to: n2:7000, expect: blocked, timeout: 30s }
";

#[test]
fn later_signals_during_teardown_do_not_cut_it_short() {
    if !docker_available() {
        return;
    }
    let lab = LabGuard::from_yaml("t-mn-signals", SLOW);
    let child = Command::new(netlab_bin())
        .args(["run", lab.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn run");
    let pid = child.id().to_string();
    // Up: every node and the host helper exist; verify then waits on the
    // blocked check.
    let deadline = Instant::now() + Duration::from_secs(120);
    while leftovers("t-mn-signals").0.len() < 10 {
        assert!(Instant::now() < deadline, "run made too little within 120s");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    let signal = |sig: &str| {
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
    };
    // As a CI runner does: SIGINT, then SIGTERM while the clean-up runs,
    // then a hang-up.
    signal("-INT");
    for sig in ["-TERM", "-TERM", "-HUP", "-TERM"] {
        std::thread::sleep(Duration::from_millis(150));
        signal(sig);
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SIGTERM again: still cleaning up"),
        "{}",
        stderr(&out)
    );
    lab.assert_nothing_left();
}

#[test]
fn a_hang_up_cleans_up_as_an_interrupt_does() {
    if !docker_available() {
        return;
    }
    let lab = LabGuard::from_yaml("t-mn-hup", SLOW);
    let child = Command::new(netlab_bin())
        .args(["run", lab.path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn run");
    let deadline = Instant::now() + Duration::from_secs(120);
    while leftovers("t-mn-hup").1.is_empty() {
        assert!(Instant::now() < deadline, "run made nothing within 120s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SIGHUP: cleaning up"),
        "{}",
        stderr(&out)
    );
    lab.assert_nothing_left();
}

#[test]
fn a_report_that_cannot_be_written_after_the_checks_keeps_their_verdict() {
    if !docker_available() {
        return;
    }
    let failing = SMALL.replace("expect: open", "expect: refused");
    let lab = LabGuard::from_yaml("t-mn-report", &failing);
    // A file where the pcap directory should be: found out only after the
    // checks ran.
    let not_a_dir = lab.dir.path().join("pcaps");
    std::fs::write(&not_a_dir, "").expect("write");
    let out = netlab(&[
        "run",
        lab.path(),
        "--capture",
        "--pcap",
        not_a_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the failed check decides: {}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("for the pcap files"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).ends_with("0 passed, 1 failed\n"),
        "{}",
        stdout(&out)
    );
    lab.assert_nothing_left();

    // With every check passed, the unwritten report still fails the run.
    let passing = LabGuard::from_yaml("t-mn-report", SMALL);
    let out = netlab(&[
        "run",
        passing.path(),
        "--capture",
        "--pcap",
        not_a_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Pcaps written are their owner's alone.
    let dir = passing.dir.path().join("captures");
    let out = netlab(&[
        "run",
        passing.path(),
        "--capture",
        "--pcap",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pcaps: Vec<_> = std::fs::read_dir(&dir).expect("pcaps").flatten().collect();
    assert_eq!(pcaps.len(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        pcaps[0].metadata().expect("stat").permissions().mode() & 0o777,
        0o600
    );
    passing.assert_nothing_left();
}
