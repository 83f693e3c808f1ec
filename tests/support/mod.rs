//! Shared by the real-engine tests: running netlab, a per-test lab copy with
//! its own name, and a guard that removes the lab's resources on drop (also
//! when the test panics) and can assert nothing of it is left.

#![allow(dead_code)]

pub mod engines;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The netlab under test: `NETLAB_TEST_BIN` when set (`make test` points
/// it at this build without its debug info: the agent image is made of the
/// file, and engines on vfs copy it into every container), else cargo's.
pub fn netlab_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("NETLAB_TEST_BIN")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_netlab").to_owned())
    })
}

pub fn netlab(args: &[&str]) -> Output {
    Command::new(netlab_bin())
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("netlab runs")
}

/// netlab against the engine at `url` (a harness engine, the VM) and only
/// that: no context, no host bindings of the caller's environment.
pub fn netlab_on(url: &str, args: &[&str]) -> Output {
    Command::new(netlab_bin())
        .args(args)
        .env("DOCKER_HOST", url)
        .env_remove("DOCKER_CONTEXT")
        .env_remove("NETLAB_HOSTS")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .expect("netlab runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether the engine answers. Under `CI=true` a missing engine fails the
/// test: in CI these tests never skip.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("CI=true but the Docker engine is not reachable: these tests need it");
        }
        eprintln!("skipping: no Docker engine (set CI=true to make this a failure)");
    }
    ok
}

/// Engine objects still carrying `io.netlab.lab=<lab>`: (containers, networks).
pub fn leftovers(lab: &str) -> (Vec<String>, Vec<String>) {
    let list = |args: &[&str]| -> Vec<String> {
        let out = Command::new("docker")
            .args(args)
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    };
    let filter = format!("label=io.netlab.lab={lab}");
    (
        list(&["ps", "-aq", "--filter", &filter]),
        list(&["network", "ls", "-q", "--filter", &filter]),
    )
}

/// A lab under test. Dropping it removes whatever the engine still holds of
/// it, by label, without going through netlab (which may be the thing that
/// broke).
pub struct LabGuard {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub file: PathBuf,
}

impl LabGuard {
    /// Writes `yaml` with its `name:` replaced by `name`.
    pub fn from_yaml(name: &str, yaml: &str) -> LabGuard {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join(format!("{name}.yaml"));
        let renamed: String = yaml
            .lines()
            .map(|l| {
                if l.starts_with("name:") {
                    format!("name: {name}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&file, renamed + "\n").expect("write lab");
        LabGuard {
            name: name.to_owned(),
            dir,
            file,
        }
    }

    /// A copy of a shipped lab under another name, with `edit` applied.
    pub fn from_shipped(shipped: &str, name: &str, edit: impl Fn(String) -> String) -> LabGuard {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("labs")
            .join(format!("{shipped}.yaml"));
        let yaml = std::fs::read_to_string(path).expect("shipped lab");
        LabGuard::from_yaml(name, &edit(yaml))
    }

    pub fn path(&self) -> &str {
        self.file.to_str().expect("utf-8 path")
    }

    pub fn assert_nothing_left(&self) {
        let (containers, networks) = leftovers(&self.name);
        assert!(
            containers.is_empty() && networks.is_empty(),
            "lab {} left containers {containers:?} and networks {networks:?}",
            self.name
        );
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let (containers, networks) = leftovers(&self.name);
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&containers)
                .output();
        }
        if !networks.is_empty() {
            let _ = Command::new("docker")
                .args(["network", "rm"])
                .args(&networks)
                .output();
        }
    }
}

/// A small image of another kind than the agent, built locally from the
/// machine's static busybox (Debian's `busybox-static`); nothing can be
/// pulled. Built once per machine.
pub const FOREIGN_IMAGE: &str = "netlab-test/busybox:1";

pub fn ensure_foreign_image() {
    static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if *built {
        return;
    }
    let present = Command::new("docker")
        .args(["image", "inspect", FOREIGN_IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.is_file(),
            "/bin/busybox is missing: install Debian's busybox-static (.ci/run does)"
        );
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::copy(busybox, dir.path().join("busybox")).expect("copy busybox");
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"/bin/sleep\", \"3600\"]\nLABEL io.netlab.test=true\n",
        )
        .expect("write Dockerfile");
        let out = Command::new("docker")
            .args(["build", "-q", "-t", FOREIGN_IMAGE])
            .arg(dir.path())
            .output()
            .expect("docker build");
        assert!(
            out.status.success(),
            "building {FOREIGN_IMAGE} failed: {}",
            stderr(&out)
        );
    }
    *built = true;
}

/// Exit 0 and the closing line `N passed, 0 failed`. Returns the report.
pub fn assert_all_passed(out: &Output, checks: usize) -> String {
    let text = stdout(out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{text}\nstderr:\n{}",
        stderr(out)
    );
    assert!(
        text.ends_with(&format!("{checks} passed, 0 failed\n")),
        "{text}"
    );
    text
}

/// `netlab run` of a lab that must pass: exit 0, every check passed, and
/// nothing of it left in the engine. Returns the report.
pub fn run_passes(guard: &LabGuard, expected_checks: usize) -> String {
    let text = assert_all_passed(&netlab(&["run", guard.path()]), expected_checks);
    guard.assert_nothing_left();
    text
}

/// `netlab run` of a lab with exactly one wrong expectation: exit 1, and
/// the one FAIL line names `check_title`.
pub fn run_fails_on(guard: &LabGuard, check_title: &str) -> String {
    let out = netlab(&["run", guard.path()]);
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "lab {}:\n{text}\nstderr:\n{}",
        guard.name,
        stderr(&out)
    );
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].contains(check_title),
        "expected `{check_title}` to fail:\n{text}"
    );
    assert!(text.ends_with(" passed, 1 failed\n"), "{text}");
    guard.assert_nothing_left();
    text
}

/// An IPv4 address no lab on this engine can have, whatever subnets the
/// engine has handed out before: the last host address of Docker's default
/// bridge (`docker0`), whose subnet the engine holds for as long as it runs
/// and so never allocates to another network. Docker walks its pools in
/// turn, so a fixed "outside" address inside a pool (172.31.254.254 was
/// one) is sometimes inside the lab. Were it ever probed, the packet would
/// go to `docker0`, on this machine, never out of it.
pub fn address_outside_every_lab() -> std::net::Ipv4Addr {
    let out = Command::new("docker")
        .args([
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
        ])
        .output()
        .expect("docker network inspect bridge");
    assert!(
        out.status.success(),
        "this test needs Docker's default bridge network (dockerd without --bridge=none): {}",
        stderr(&out)
    );
    let text = stdout(&out);
    let subnet = text
        .split_whitespace()
        .find_map(|s| s.parse::<ipnet::Ipv4Net>().ok())
        .unwrap_or_else(|| panic!("the default bridge has no IPv4 subnet: {text:?}"));
    assert!(
        subnet.prefix_len() <= 30,
        "the default bridge's subnet {subnet} has no host address to spare"
    );
    let last = u32::from(subnet.broadcast()) - 1;
    std::net::Ipv4Addr::from(last)
}
