//! Network drivers on real kernels (issue 29). Here, on this machine's
//! engine, whose kernel has no macvlan, ipvlan, dummy or netem: the macvlan
//! and ipvlan labs are refused before anything is made, naming the kernel
//! feature, and an impairment takes netlab's emulator. On the VM engine
//! (`NETLAB_VM_ENGINE=tcp://…`, set by the `vm engine` stage of `make test`,
//! harness/vm-stage.sh): the same labs pass, each with a mutant whose
//! flipped expectations FAIL, and impairments take the kernel's netem.
//! The VM tests skip when that variable is unset: booting a VM takes
//! minutes, and the stage that pays for it runs them.

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::engines::Engine;
use support::*;

/// Each shipped driver lab, the kernel feature a refusal names, and its
/// mutant: (true expectation, flipped one) pairs, each of which must FAIL.
type Flips = &'static [(&'static str, &'static str)];

const DRIVER_LABS: &[(&str, &str, Flips)] = &[
    (
        "macvlan-basic",
        "CONFIG_MACVLAN",
        &[
            (
                "to: web, expect: own-mac }",
                "to: web, expect: shared-mac }",
            ),
            (
                "from: host, to: web:7000, expect: blocked }",
                "from: host, to: web:7000, expect: open }",
            ),
        ],
    ),
    (
        "macvlan-tutorial",
        "CONFIG_MACVLAN",
        &[(
            "to: my-macvlan-alpine, expect: own-mac }",
            "to: my-macvlan-alpine, expect: no-arp }",
        )],
    ),
    (
        "ipvlan-l2",
        "CONFIG_IPVLAN",
        &[
            ("to: b, expect: shared-mac }", "to: b, expect: own-mac }"),
            (
                "from: host, to: a:7000, expect: blocked }",
                "from: host, to: a:7000, expect: open }",
            ),
        ],
    ),
    (
        "ipvlan-l3-routed",
        "CONFIG_IPVLAN",
        &[
            (
                "to: east, expect: no-arp }",
                "to: east, expect: shared-mac }",
            ),
            (
                "title: west reaches east across the subnets, from: west, to: east:7000, expect: open }",
                "from: west, to: east:7000, expect: blocked }",
            ),
        ],
    ),
    (
        "ipvlan-l3-dual-stack",
        "CONFIG_IPVLAN",
        &[
            (
                "title: second reaches fourth over IPv6, from: second, to: \"[fd0e:abc6::50]:7000\", expect: open }",
                "from: second, to: \"[fd0e:abc6::50]:7000\", expect: blocked }",
            ),
            (
                "to: fourth, expect: no-arp }",
                "to: fourth, expect: own-mac }",
            ),
        ],
    ),
    (
        "ipvlan-l3",
        "CONFIG_IPVLAN",
        &[
            ("to: east, expect: no-arp }", "to: east, expect: own-mac }"),
            (
                "from: west, to: east:7000, expect: blocked }",
                "from: west, to: east:7000, expect: open }",
            ),
        ],
    ),
];

fn netlab_at(url: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(netlab_bin());
    c.args(args).env_remove("NO_COLOR");
    match url {
        Some(u) => c.env("DOCKER_HOST", u),
        None => c.env_remove("DOCKER_HOST"),
    };
    c.output().expect("netlab runs")
}

/// Whether this machine's kernel can make a network of that driver, asked
/// of the machine's engine.
fn local_kernel_has(driver: &str) -> bool {
    let name = format!("t-drv-probe-{driver}-{}", std::process::id());
    let made = Command::new("docker")
        .args(["network", "create", "-d", driver, &name])
        .output()
        .is_ok_and(|o| o.status.success());
    if made {
        let _ = Command::new("docker")
            .args(["network", "rm", &name])
            .output();
    }
    made
}

/// Whether this machine's kernel has netem (in a namespace of its own).
fn local_kernel_has_netem() -> bool {
    Command::new("unshare")
        .args([
            "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn driver_labs_are_refused_here_naming_the_kernel_feature_and_nothing_is_made() {
    if !docker_available() {
        return;
    }
    if local_kernel_has("macvlan") || local_kernel_has("ipvlan") {
        eprintln!("skipping: this machine's kernel has macvlan or ipvlan (the VM tests cover it)");
        return;
    }
    std::thread::scope(|s| {
        for (i, (lab, feature, _)) in DRIVER_LABS.iter().enumerate() {
            s.spawn(move || {
                let guard = LabGuard::from_shipped(lab, &format!("t-drv-refused-{i}"), |y| y);
                let out = netlab_at(None, &["run", guard.path()]);
                let err = stderr(&out);
                assert_eq!(out.status.code(), Some(2), "{lab}: {err}{}", stdout(&out));
                assert!(
                    err.contains(feature) && err.contains("CONFIG_DUMMY"),
                    "{lab} must name {feature}: {err}"
                );
                assert!(err.contains("nothing was created"), "{lab}: {err}");
                guard.assert_nothing_left();
            });
        }
    });
}

/// A lab whose one step slows web down: the impair action's observation
/// says which path the impairment took.
const IMPAIR_LAB: &str = "name: t-drv-impair
networks:
  lan: {}
nodes:
  web:
    networks: [lan]
    serve: [tcp:7000]
  client:
    networks: [lan]
steps:
  - title: a slow link to web
    do:
      - impair: { node: web, network: lan, delay: 50ms }
    checks:
      - latency: { from: client, to: web, count: 10, expect: { median: 45ms.. } }
";

/// The observation of every impair action in a `--output json` report.
fn impair_observations(doc: &Value) -> Vec<String> {
    doc["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["actions"].as_array().into_iter().flatten())
        .filter(|a| a["action"] == "impair")
        .map(|a| a["observation"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn an_impairment_says_it_took_netlabs_emulator_on_a_kernel_without_netem() {
    if !docker_available() {
        return;
    }
    let netem = local_kernel_has_netem();
    let guard = LabGuard::from_yaml("t-drv-impair", IMPAIR_LAB);
    let out = netlab_at(None, &["run", "--output", "json", guard.path()]);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    let seen = impair_observations(&doc);
    assert_eq!(seen.len(), 1, "{doc:#}");
    let path = if netem {
        "→ netem delay 50ms"
    } else {
        "→ netlab's emulator: delay 50ms"
    };
    assert!(seen[0].contains(path), "expected `{path}`: {seen:?}");
    guard.assert_nothing_left();
}

// ---------------------------------------------------------- the sidecar

/// The sidecar lab's mutant: three expectations flipped (each must FAIL),
/// and no second step, so the sidecar is still in web's old namespace when
/// the steps end and putting the lab back must restart it.
fn sidecar_mutant(yaml: &str) -> String {
    let flips = [
        (
            "to: \"127.0.0.1:7000\", expect: open }",
            "to: \"127.0.0.1:7000\", expect: refused }",
        ),
        (
            "name: metrics, expect: unresolved }",
            "name: metrics, expect: resolves }",
        ),
        (
            "to: \"10.213.66.10:9100\", expect: refused }",
            "to: \"10.213.66.10:9100\", expect: open }",
        ),
    ];
    let mut out = yaml.to_owned();
    for (from, to) in flips {
        assert!(out.contains(from), "sidecar lab has no `{from}`");
        out = out.replacen(from, to, 1);
    }
    let cut = out
        .find("  - title: the sidecar restarts")
        .expect("the sidecar lab's second step");
    out.truncate(cut);
    out
}

#[test]
fn a_sidecar_shares_its_nodes_namespace_and_stays_behind_when_it_restarts() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("sidecar", "t-drv-sidecar", |y| y);
    let up = netlab_at(None, &["up", guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let summary = stdout(&up);
    assert!(
        summary.contains("metrics  agent  container:web  10.213.66.10"),
        "{summary}"
    );
    let honest = netlab_at(None, &["verify", guard.path()]);
    let text = stdout(&honest);
    assert_eq!(honest.status.code(), Some(0), "{text}{}", stderr(&honest));
    assert!(text.ends_with("14 passed, 0 failed\n"), "{text}");
    assert!(
        text.contains("sidecar `metrics` not restarted with it (Docker does not)"),
        "the step on web says what becomes of its sidecar:\n{text}"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let mutant = dir.path().join("t-drv-sidecar.yaml");
    let yaml = std::fs::read_to_string(guard.path()).expect("lab copy");
    std::fs::write(&mutant, sidecar_mutant(&yaml)).expect("write mutant");
    let out = netlab_at(None, &["verify", mutant.to_str().expect("utf-8")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let fails = failed(&text);
    assert_eq!(fails.len(), 3, "{text}");
    for title in [
        "tcp metrics → 127.0.0.1:7000 is refused",
        "dns client → metrics is resolves",
        "tcp client → 10.213.66.10:9100 is open",
    ] {
        assert!(
            fails.iter().any(|f| f.contains(title)),
            "no FAIL `{title}`:\n{text}"
        );
    }
    // The sidecar was left behind; putting the lab back restarted it, so
    // the lab's own checks pass again.
    assert!(text.contains("restart metrics"), "{text}");
    let again = netlab_at(None, &["verify", "--no-steps", guard.path()]);
    let text = stdout(&again);
    assert_eq!(again.status.code(), Some(0), "{text}{}", stderr(&again));
    let down = netlab_at(None, &["down", "t-drv-sidecar"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}

#[test]
fn a_sidecar_names_a_node_of_the_lab_and_publishes_nothing() {
    let guard = LabGuard::from_yaml(
        "t-drv-sidecar-bad",
        "name: x
networks:
  front: {}
nodes:
  web:
    networks: [front]
  metrics:
    network_mode: \"container:wbe\"
    ports: [\"9100\"]
",
    );
    let out = netlab_at(None, &["validate", guard.path()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`network_mode: container:wbe` names no node of the lab"),
        "{err}"
    );
    assert!(err.contains("did you mean `web`?"), "{err}");
    assert!(
        err.contains("sidecar `metrics` publishes no ports of its own"),
        "{err}"
    );
}

// ---------------------------------------------------------------- the VM

/// The VM engine under test, or `None` (the test skips with a word).
fn vm_engine() -> Option<Engine> {
    match std::env::var("NETLAB_VM_ENGINE") {
        Ok(url) if !url.is_empty() => Some(Engine {
            name: "vm".into(),
            url,
        }),
        _ => {
            eprintln!(
                "skipping: NETLAB_VM_ENGINE is not set (the `vm engine` stage of make test sets it)"
            );
            None
        }
    }
}

/// One lab at a time on the VM: its CPU is emulated, and two or more labs
/// at once ran past every readiness deadline (4 at once: nodes not ready
/// after 106 s).
static VM_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// This test's turn on the VM (a test that failed in its turn passes it on).
fn vm_turn() -> std::sync::MutexGuard<'static, ()> {
    VM_TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long `up` may wait for the nodes on the emulated VM.
const VM_WAIT: &str = "300s";

/// A lab on the VM engine, removed there by label on drop.
struct VmLab<'a> {
    engine: &'a Engine,
    guard: LabGuard,
}

impl<'a> VmLab<'a> {
    /// The built-in `lab`, named `name`, on the VM engine.
    fn shipped(engine: &'a Engine, lab: &str, name: &str) -> Self {
        VmLab {
            engine,
            guard: LabGuard::from_shipped(lab, name, |y| y),
        }
    }
}

impl Drop for VmLab<'_> {
    fn drop(&mut self) {
        let (containers, networks) = self.engine.leftovers(&self.guard.name);
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(containers.iter().map(String::as_str));
            let _ = self.engine.docker(&args);
        }
        if !networks.is_empty() {
            let mut args = vec!["network", "rm"];
            args.extend(networks.iter().map(String::as_str));
            let _ = self.engine.docker(&args);
        }
        // A test that failed half-way may leave the lab's dummy parents.
        if std::thread::panicking() {
            for name in lab_interfaces_on(self.engine, &self.guard.name) {
                let _ = on_vm_host(self.engine, &format!("ip link del {name}"));
            }
        }
    }
}

/// `script` run by busybox in the VM's own network namespace, with
/// NET_ADMIN (the image is copied there once): the VM's host read and
/// changed without netlab.
fn on_vm_host(engine: &Engine, script: &str) -> Output {
    on_vm_host_with(engine, &["--cap-add", "NET_ADMIN"], script)
}

/// As [`on_vm_host`], with `privileges` instead of NET_ADMIN alone.
fn on_vm_host_with(engine: &Engine, privileges: &[&str], script: &str) -> Output {
    static LOADED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if !*loaded {
        ensure_foreign_image();
        let load = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker save {FOREIGN_IMAGE} | docker -H '{}' load -q",
                engine.url
            ))
            .output()
            .expect("sh runs");
        assert!(load.status.success(), "image to the VM: {}", stderr(&load));
        *loaded = true;
    }
    let mut args = vec!["run", "--rm", "--network", "host"];
    args.extend(privileges);
    args.extend([
        "--label",
        "io.netlab.test=true",
        FOREIGN_IMAGE,
        "sh",
        "-c",
        script,
    ]);
    engine.docker(&args)
}

/// The interfaces of the VM's own network namespace whose alias says
/// `lab` made them (`parent: lab`), as a busybox container on the host's
/// network lists them: read without netlab.
fn lab_interfaces_on(engine: &Engine, lab: &str) -> Vec<String> {
    let script = "for i in /sys/class/net/*; do echo \"${i##*/} $(cat $i/ifalias)\"; done";
    let out = on_vm_host(engine, script);
    assert!(out.status.success(), "listing interfaces: {}", stderr(&out));
    let alias = format!("io.netlab.lab={lab}");
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, a)| *a == alias)
        .map(|(name, _)| name.to_owned())
        .collect()
}

/// The titles of the FAIL lines of a human report.
fn failed(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("FAIL"))
        .map(str::to_owned)
        .collect()
}

/// Up once; the lab's own checks all pass; the mutant (same lab, flipped
/// expectations) fails exactly on the flipped ones; down leaves nothing.
fn passes_and_its_mutant_fails(engine: &Engine, i: usize, lab: &str, flips: &[(&str, &str)]) {
    let name = format!("t-drv-vm-{i}");
    let vm = VmLab {
        engine,
        guard: LabGuard::from_shipped(lab, &name, |y| y),
    };
    let url = Some(engine.url.as_str());
    let up = netlab_at(url, &["up", "--wait", VM_WAIT, vm.guard.path()]);
    assert_eq!(up.status.code(), Some(0), "{lab} up: {}", stderr(&up));
    let lab_parent = std::fs::read_to_string(vm.guard.path())
        .expect("lab copy")
        .contains("parent: lab");
    if lab_parent {
        let made = lab_interfaces_on(engine, &name);
        assert_eq!(
            made.len(),
            1,
            "{lab}: one dummy parent, made by the lab: {made:?}"
        );
    }
    let honest = netlab_at(url, &["verify", vm.guard.path()]);
    let text = stdout(&honest);
    assert_eq!(
        honest.status.code(),
        Some(0),
        "{lab}:\n{text}{}",
        stderr(&honest)
    );
    assert!(text.ends_with(" passed, 0 failed\n"), "{lab}:\n{text}");
    let mutant_dir = tempfile::tempdir().expect("tmp");
    let mutant = mutant_dir.path().join(format!("{name}.yaml"));
    let mut yaml = std::fs::read_to_string(vm.guard.path()).expect("lab copy");
    for (from, to) in flips {
        assert!(yaml.contains(from), "{lab} has no `{from}`");
        yaml = yaml.replace(from, to);
    }
    std::fs::write(&mutant, yaml).expect("write mutant");
    let out = netlab_at(url, &["verify", mutant.to_str().expect("utf-8")]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{lab} mutant:\n{text}{}",
        stderr(&out)
    );
    let fails = failed(&text);
    assert_eq!(fails.len(), flips.len(), "{lab} mutant:\n{text}");
    for (_, to) in flips {
        let expect = to
            .rsplit("expect: ")
            .next()
            .unwrap_or_default()
            .trim_end_matches(" }");
        assert!(
            fails.iter().any(|f| f.contains(&format!("is {expect}"))),
            "{lab} mutant: no FAIL expecting `{expect}`:\n{text}"
        );
    }
    if lab_parent && lab == "ipvlan-l3-routed" {
        // The lab changed to Docker's own dummy: `up` converges, and the
        // dummy the lab made goes with the network that hung off it.
        // Then back, so that `down` has a parent to remove.
        let with_parent = std::fs::read_to_string(vm.guard.path()).expect("lab copy");
        let own = with_parent.replace("    parent: lab\n", "");
        for (yaml, parents) in [(&own, 0), (&with_parent, 1)] {
            std::fs::write(vm.guard.path(), yaml).expect("lab copy");
            let up = netlab_at(url, &["up", "--wait", VM_WAIT, vm.guard.path()]);
            assert_eq!(
                up.status.code(),
                Some(0),
                "{lab} converged: {}",
                stderr(&up)
            );
            let made = lab_interfaces_on(engine, &name);
            assert_eq!(made.len(), parents, "{lab} converged: {made:?}");
        }
    }
    let down = netlab_at(url, &["down", &name]);
    assert_eq!(down.status.code(), Some(0), "{lab} down: {}", stderr(&down));
    let (containers, networks) = engine.leftovers(&name);
    assert!(
        containers.is_empty() && networks.is_empty(),
        "{lab} left {containers:?} {networks:?}"
    );
    if lab_parent {
        let left = lab_interfaces_on(engine, &name);
        assert!(left.is_empty(), "{lab} left its parent interfaces {left:?}");
    }
}

#[test]
fn driver_labs_pass_on_the_vm_and_their_mutants_fail() {
    let Some(engine) = vm_engine() else {
        return;
    };
    for (i, (lab, _, flips)) in DRIVER_LABS.iter().enumerate() {
        let _turn = vm_turn();
        passes_and_its_mutant_fails(&engine, i, lab, flips);
    }
}

#[test]
fn impairments_take_netem_on_the_vm_and_the_steps_labs_pass() {
    let Some(engine) = vm_engine() else {
        return;
    };
    let url = Some(engine.url.as_str());
    {
        let _turn = vm_turn();
        let vm = VmLab {
            engine: &engine,
            // The steady state's `..5ms` is how fast the VM's kernel
            // answers ping: an emulated CPU takes milliseconds, and more
            // under load (13 ms seen). The impairments' own bounds stay.
            guard: LabGuard::from_shipped("impaired-link", "t-drv-vm-impair", |y| {
                y.replace("median: ..5ms", "median: ..40ms")
            }),
        };
        let out = netlab_at(
            url,
            &[
                "run",
                "--wait",
                VM_WAIT,
                "--output",
                "json",
                vm.guard.path(),
            ],
        );
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("json report ({e}): {}", stderr(&out)));
        assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
        let seen = impair_observations(&doc);
        assert!(!seen.is_empty(), "{doc:#}");
        for o in &seen {
            assert!(
                o.contains("→ netem ") && !o.contains("emulator"),
                "impair on the VM must take netem: {o}"
            );
        }
    }
    let _turn = vm_turn();
    let vm = VmLab::shipped(&engine, "dns-follows-change", "t-drv-vm-dns");
    let out = netlab_at(url, &["run", "--wait", VM_WAIT, vm.guard.path()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.ends_with(" passed, 0 failed\n"), "{text}");
}

#[test]
fn the_sidecar_lab_passes_on_the_vm() {
    let Some(engine) = vm_engine() else {
        return;
    };
    let _turn = vm_turn();
    let vm = VmLab::shipped(&engine, "sidecar", "t-drv-vm-sidecar");
    let out = netlab_at(
        Some(engine.url.as_str()),
        &["run", "--wait", VM_WAIT, vm.guard.path()],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.ends_with("14 passed, 0 failed\n"), "{text}");
}

/// A way off the VM that leads nowhere: a dummy interface of the VM's host
/// with a gateway on it, removed on drop.
struct RouteOffTheVm<'a> {
    engine: &'a Engine,
}

const OFF_LINK: &str = "nlt-off";

impl Drop for RouteOffTheVm<'_> {
    fn drop(&mut self) {
        let _ = on_vm_host(self.engine, &format!("ip link del {OFF_LINK}"));
    }
}

/// The VM's host is given a route to macvlan-basic's subnet via a gateway
/// (on a dummy interface: a way out of the machine that leads nowhere).
/// The host's probe to web is then not sent at all — its observation names
/// that route, and the dummy sent no packet — and web is still `blocked`
/// from the host; its mutant (`open`) FAILs; desk, on a bridge, is reached.
#[test]
fn a_host_probe_routed_out_of_the_machine_is_not_sent_on_the_vm() {
    let Some(engine) = vm_engine() else {
        return;
    };
    let _turn = vm_turn();
    let vm = VmLab::shipped(&engine, "macvlan-basic", "t-drv-vm-off");
    let url = Some(engine.url.as_str());
    let up = netlab_at(url, &["up", "--wait", VM_WAIT, vm.guard.path()]);
    assert_eq!(up.status.code(), Some(0), "up: {}", stderr(&up));
    let _route = RouteOffTheVm { engine: &engine };
    // IPv6 off on it first (which needs /proc/sys writable): else the
    // kernel's own router solicitations would count as packets sent.
    let made = on_vm_host_with(
        &engine,
        &["--privileged"],
        &format!(
            "ip link add {OFF_LINK} type dummy \
             && echo 1 > /proc/sys/net/ipv6/conf/{OFF_LINK}/disable_ipv6 \
             && ip addr add 10.213.99.1/24 dev {OFF_LINK} && ip link set {OFF_LINK} up \
             && ip route add 10.213.60.0/24 via 10.213.99.2 dev {OFF_LINK}"
        ),
    );
    assert!(made.status.success(), "the route: {}", stderr(&made));
    let out = netlab_at(url, &["verify", "--output", "json", vm.guard.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    let observed = |title: &str| {
        doc["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["title"] == title)
            .map(|c| c["observation"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    let web = observed("tcp host → web:7000 is blocked");
    assert!(
        web.contains("not sent: this host routes 10.213.60.10 via 10.213.99.2 on nlt-off"),
        "{doc:#}"
    );
    assert!(
        observed("tcp host → desk:7000 is open").contains("answered by desk"),
        "{doc:#}"
    );
    let sent = on_vm_host(
        &engine,
        &format!("cat /sys/class/net/{OFF_LINK}/statistics/tx_packets"),
    );
    assert_eq!(stdout(&sent).trim(), "0", "packets sent off the machine");
    let mutant_dir = tempfile::tempdir().expect("tmp");
    let mutant = mutant_dir.path().join("t-drv-vm-off.yaml");
    let yaml = std::fs::read_to_string(vm.guard.path()).expect("lab copy");
    let from = "tcp: { from: host, to: web:7000, expect: blocked }";
    assert!(yaml.contains(from), "macvlan-basic has no `{from}`");
    std::fs::write(
        &mutant,
        yaml.replace(from, "tcp: { from: host, to: web:7000, expect: open }"),
    )
    .expect("write mutant");
    let out = netlab_at(url, &["verify", mutant.to_str().expect("utf-8")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(failed(&text).len(), 1, "{text}");
    assert!(failed(&text)[0].contains("web:7000 is open"), "{text}");
    let down = netlab_at(url, &["down", "t-drv-vm-off"]);
    assert_eq!(down.status.code(), Some(0), "down: {}", stderr(&down));
}
