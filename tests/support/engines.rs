//! Extra Docker engines for a test — each a real dockerd in its own network
//! namespace, started by the project's harness (`harness/engines.sh`) and
//! stopped, with all their state, when the guard drops (also on a panic).

use std::path::Path;
use std::process::{Command, Output};

use super::{stderr, stdout};

fn harness() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/engines.sh")
}

/// Whether this test can start engines: it needs root. Under `CI=true` a
/// missing capability fails the test; elsewhere it skips with a word.
pub fn engines_available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| stdout(&o).trim() == "0")
        .unwrap_or(false);
    if !root {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!("CI=true but this test cannot start Docker engines: it must run as root");
        }
        eprintln!("skipping: starting Docker engines needs root");
    }
    root
}

pub struct Engine {
    pub name: String,
    pub url: String,
}

impl Engine {
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(&self.url)
            .args(args)
            .output()
            .expect("docker runs")
    }

    /// Containers and networks of `lab` on this engine.
    pub fn leftovers(&self, lab: &str) -> (Vec<String>, Vec<String>) {
        let filter = format!("label=io.netlab.lab={lab}");
        let list = |args: &[&str]| -> Vec<String> {
            stdout(&self.docker(args))
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        (
            list(&["ps", "-aq", "--filter", &filter]),
            list(&["network", "ls", "-q", "--filter", &filter]),
        )
    }

    pub fn swarm_state(&self) -> String {
        stdout(&self.docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]))
            .trim()
            .to_owned()
    }

    pub fn address(&self) -> String {
        let out = Command::new(harness())
            .args(["addr", &self.name])
            .output()
            .expect("harness runs");
        stdout(&out).trim().to_owned()
    }
}

/// Engines started for one test, stopped on drop.
pub struct Engines {
    pub list: Vec<Engine>,
}

impl Engines {
    /// Starts one engine of the machine's own dockerd per name, in parallel.
    pub fn start(names: &[&str]) -> Engines {
        Engines::start_with(names, false)
    }

    /// As `start`, every engine with the machine's key.json: all report the
    /// machine engine's ID, as machines cloned from one image do.
    pub fn start_cloned(names: &[&str]) -> Engines {
        Engines::start_with(names, true)
    }

    /// Starts engines of another Docker version: `kind` is a Debian suite
    /// of the harness (`trixie`: 26.1, `sid`: 28.5).
    pub fn start_kind(names: &[&str], kind: &str) -> Engines {
        Engines::start_as(names, kind, false)
    }

    fn start_with(names: &[&str], shared_key: bool) -> Engines {
        Engines::start_as(names, "native", shared_key)
    }

    fn start_as(names: &[&str], kind: &str, shared_key: bool) -> Engines {
        let started: Vec<(String, Output)> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| {
                    s.spawn(move || {
                        let out = Command::new(harness())
                            .args(["start", n, kind])
                            .env(
                                "NETLAB_ENGINE_SHARED_KEY",
                                if shared_key { "1" } else { "0" },
                            )
                            .output()
                            .expect("harness runs");
                        ((*n).to_owned(), out)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let mut list = Vec::new();
        let mut failed = Vec::new();
        for (name, out) in started {
            let url = stdout(&out)
                .split_whitespace()
                .find_map(|w| w.strip_prefix("url=").map(str::to_owned));
            match (out.status.success(), url) {
                (true, Some(url)) => list.push(Engine { name, url }),
                _ => failed.push(format!("{name}: {}{}", stdout(&out), stderr(&out))),
            }
        }
        let engines = Engines { list };
        assert!(failed.is_empty(), "engines did not start: {failed:#?}");
        engines
    }

    pub fn get(&self, name: &str) -> &Engine {
        self.list
            .iter()
            .find(|e| e.name == name)
            .expect("an engine of that name")
    }

    /// Stops one engine now (its state goes with it).
    pub fn stop(&self, name: &str) {
        let _ = Command::new(harness()).args(["stop", name]).output();
    }

    /// Stops one engine's dockerd but keeps its state, as a host that went
    /// down would; `resume` brings it back.
    pub fn pause(&self, name: &str) {
        let out = Command::new(harness())
            .args(["pause", name])
            .output()
            .expect("harness runs");
        assert!(out.status.success(), "pause {name}: {}", stderr(&out));
    }

    pub fn resume(&self, name: &str) {
        let out = Command::new(harness())
            .args(["resume", name])
            .output()
            .expect("harness runs");
        assert!(out.status.success(), "resume {name}: {}", stderr(&out));
    }
}

impl Drop for Engines {
    fn drop(&mut self) {
        for e in &self.list {
            let _ = Command::new(harness()).args(["stop", &e.name]).output();
        }
    }
}
