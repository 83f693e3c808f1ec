//! The lab's lock: a stopped container `netlab_<lab>.lock` on the default
//! engine that `up` and `down` hold while they change the lab (container
//! names are unique in an engine, so only one netlab can create it). Its
//! labels say who holds it — pid, machine, since when, doing what — so a
//! lock left by a netlab that was killed is told from one that is working:
//! on the machine that took it, a holder whose process is gone is stale and
//! the lock is broken at once; a holder elsewhere cannot be looked at, and
//! `--break-lock` breaks its lock on the user's word. `verify` waits for a
//! lock to go (a converge in progress) before it runs, for a while.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use super::Failure;
use crate::engine::{Engine, container, discover};
use crate::plan::{self, LABEL_LAB, LABEL_ROLE, ROLE_LOCK};

const LABEL_PID: &str = "io.netlab.lock.pid";
/// The holder's process start time (clock ticks since boot, /proc/PID/stat):
/// a pid used again by another process is not the holder.
const LABEL_STARTED: &str = "io.netlab.lock.started";
/// Boot and pid namespace of the holder: only where both are ours can its
/// pid be looked at.
const LABEL_PLACE: &str = "io.netlab.lock.place";
const LABEL_MACHINE: &str = "io.netlab.lock.machine";
const LABEL_SINCE: &str = "io.netlab.lock.since";
const LABEL_COMMAND: &str = "io.netlab.lock.command";
/// The lab argument of the `up` that holds it (a file's absolute path, or a
/// built-in lab's name): what to run again to finish its work.
const LABEL_SOURCE: &str = "io.netlab.lock.source";

/// How long `verify` waits for a lab that is being changed.
pub const VERIFY_WAIT: Duration = Duration::from_secs(120);

/// Who holds a lock, from its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub started: Option<u64>,
    pub place: Option<String>,
    pub machine: Option<String>,
    pub since: Option<String>,
    pub command: Option<String>,
    pub source: Option<String>,
}

/// What can be said of a lock's holder from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Its process runs (on this machine).
    Alive,
    /// Its process is gone: the lock is stale; why we know.
    Gone(String),
    /// It is on another machine (or an older netlab's lock): cannot tell.
    Unknown,
}

/// This process and where it runs, as a lock records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    pub place: Option<String>,
    pub machine: String,
}

impl Here {
    pub fn now() -> Here {
        Here {
            place: place(),
            machine: machine_name(),
        }
    }
}

/// Boot id and pid namespace of this process: where a pid means something.
fn place() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let pid_ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    Some(format!("{}/{}", boot.trim(), pid_ns.display()))
}

fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "an unnamed machine".into())
}

/// A process's start time in clock ticks since boot (field 22 of
/// /proc/PID/stat); `None` when there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// The labels of a lock this process takes for `command`, from the lab
/// argument `source` when there is one.
fn labels(lab: &str, command: &str, source: Option<&str>) -> HashMap<String, String> {
    let pid = std::process::id();
    let here = Here::now();
    let mut out: HashMap<String, String> = [
        (LABEL_LAB, lab.to_owned()),
        (LABEL_ROLE, ROLE_LOCK.to_owned()),
        (LABEL_PID, pid.to_string()),
        (LABEL_MACHINE, here.machine),
        (
            LABEL_SINCE,
            humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        ),
        (LABEL_COMMAND, command.to_owned()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    if let Some(p) = here.place {
        out.insert(LABEL_PLACE.into(), p);
    }
    if let Some(source) = source {
        let path = std::path::Path::new(source);
        let source = match path.is_file().then(|| std::fs::canonicalize(path)) {
            Some(Ok(absolute)) => absolute.display().to_string(),
            _ => source.to_owned(),
        };
        out.insert(LABEL_SOURCE.into(), source);
    }
    if let Some(s) = start_time(pid) {
        out.insert(LABEL_STARTED.into(), s.to_string());
    }
    out
}

impl Holder {
    pub fn from_labels(labels: &HashMap<String, String>) -> Holder {
        let get = |k: &str| labels.get(k).cloned();
        Holder {
            pid: get(LABEL_PID).and_then(|p| p.parse().ok()),
            started: get(LABEL_STARTED).and_then(|s| s.parse().ok()),
            place: get(LABEL_PLACE),
            machine: get(LABEL_MACHINE),
            since: get(LABEL_SINCE),
            command: get(LABEL_COMMAND),
            source: get(LABEL_SOURCE),
        }
    }

    /// Whether the holder still runs, judged from `here`; `start_time`
    /// looks a pid up (a parameter, so the rule is tested without
    /// processes).
    pub fn standing(&self, here: &Here, start_time: impl Fn(u32) -> Option<u64>) -> Standing {
        let (Some(pid), Some(place)) = (self.pid, &self.place) else {
            return Standing::Unknown;
        };
        if Some(place) != here.place.as_ref() {
            return Standing::Unknown;
        }
        match (start_time(pid), self.started) {
            (None, _) => Standing::Gone(format!("pid {pid} is no longer running")),
            (Some(now), Some(then)) if now != then => Standing::Gone(format!(
                "pid {pid} is no longer running (another process has that pid now)"
            )),
            _ => Standing::Alive,
        }
    }

    /// `netlab up (pid 4242 on build-7, since 2026-12-01T10:00:00Z, 3m ago)`
    pub fn words(&self) -> String {
        let Some(pid) = self.pid else {
            return "an older netlab (its lock does not say who holds it)".into();
        };
        let mut out = format!(
            "`netlab {}` (pid {pid} on {}",
            self.command.as_deref().unwrap_or("?"),
            self.machine.as_deref().unwrap_or("an unknown machine"),
        );
        if let Some(since) = &self.since {
            out.push_str(&format!(", since {since}"));
            if let Some(age) = humantime::parse_rfc3339(since)
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
            {
                let age = Duration::from_secs(age.as_secs());
                out.push_str(&format!(", {} ago", humantime::format_duration(age)));
            }
        }
        out.push(')');
        out
    }
}

/// A lock this process holds; release it with `release`.
pub struct Lock {
    pub id: String,
    /// The lock of a holder that was gone, broken to take this one: the
    /// lab may have been left half-made (by a killed `up`).
    pub broke_stale: bool,
}

/// Takes the lab's lock for `command`, from `image` (any image the engine
/// has; the lock is never started). A stale lock (its holder's process is
/// gone) is broken; one whose holder cannot be looked at only with
/// `break_lock`; one whose holder runs never.
pub async fn take(
    home: &Engine,
    lab: &str,
    image: &str,
    (command, source): (&str, Option<&str>),
    break_lock: bool,
) -> Result<Lock, Failure> {
    let mut broke_stale = false;
    // Twice at most: a lock broken here may be taken by another netlab first.
    for _ in 0..2 {
        let name = plan::lock_name(lab);
        if let Some(id) =
            container::create_marker(home, &name, labels(lab, command, source), image).await?
        {
            return Ok(Lock { id, broke_stale });
        }
        let Some(held) = current(home, lab).await? else {
            continue;
        };
        let holder = Holder::from_labels(&held.labels);
        match holder.standing(&Here::now(), start_time) {
            Standing::Alive => {
                return Err(Failure::Usage(format!(
                    "lab `{lab}` is being changed by {} right now\n  (hint: wait for it to finish)",
                    holder.words()
                )));
            }
            Standing::Gone(why) => {
                crate::text::say!(
                    "netlab: broke the lock of lab `{lab}` held by {}: {why}",
                    holder.words()
                );
                broke_stale = true;
            }
            Standing::Unknown if break_lock => {
                crate::text::say!(
                    "netlab: broke the lock of lab `{lab}` held by {} (--break-lock)",
                    holder.words()
                );
                broke_stale = true;
            }
            Standing::Unknown => {
                return Err(Failure::Usage(format!(
                    "lab `{lab}` is locked by {}, and netlab cannot tell from here whether it still runs\n  (hint: wait for it; if it no longer runs, add --break-lock)",
                    holder.words()
                )));
            }
        }
        container::remove(home, &held.id).await?;
    }
    Err(Failure::Usage(format!(
        "lab `{lab}` is being changed by another netlab right now (it took the lock first)\n  (hint: wait for it to finish)"
    )))
}

/// Releases a lock this process holds; a failure is said, not fatal.
pub async fn release(home: &Engine, lock: &Lock) {
    if let Err(e) = container::remove(home, &lock.id).await {
        crate::text::say!("netlab: cannot release the lab's lock: {e:#}");
    }
}

/// The lab's lock container, if there is one.
async fn current(home: &Engine, lab: &str) -> Result<Option<container::Listed>, Failure> {
    Ok(discover::labs(home, Some(lab))
        .await?
        .remove(lab)
        .and_then(|o| o.lock().cloned()))
}

/// Waits (up to `VERIFY_WAIT`) until no netlab changes the lab; refuses at
/// once when its lock is stale, and when the wait runs out.
pub async fn wait_unlocked(home: &Engine, lab: &str) -> Result<(), Failure> {
    let deadline = tokio::time::Instant::now() + VERIFY_WAIT;
    let mut said = false;
    while let Some(held) = current(home, lab).await? {
        let holder = Holder::from_labels(&held.labels);
        if let Standing::Gone(why) = holder.standing(&Here::now(), start_time) {
            return Err(Failure::Usage(format!(
                "lab `{lab}` was left half-changed: {} holds its lock, and {why}\n  (hint: {})",
                holder.words(),
                holder.mend(lab)
            )));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Failure::Usage(format!(
                "lab `{lab}` is still being changed by {} after {}s of waiting; nothing was checked\n  (hint: verify when it has finished)",
                holder.words(),
                VERIFY_WAIT.as_secs()
            )));
        }
        if !said {
            crate::text::say!(
                "netlab: lab `{lab}` is being changed by {}; waiting for it (at most {}s)",
                holder.words(),
                VERIFY_WAIT.as_secs()
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(())
}

impl Holder {
    /// What to run about a lab whose lock this gone holder left: its `up`
    /// again, with the lab argument it was given, or `down`.
    pub fn mend(&self, lab: &str) -> String {
        let down = format!("`netlab down {lab}` removes it");
        match (&self.source, self.command.as_deref()) {
            (Some(source), _) => format!(
                "`netlab up {}` brings it in line again, {down}",
                shell_word(source)
            ),
            (None, Some("down")) => format!("{down} (the lock is broken on the way)"),
            (None, _) => format!("`netlab up <its lab file>` brings it in line again, {down}"),
        }
    }
}

/// `s` as one word for a POSIX shell.
fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./-+:@=,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A lab's lock as `ls` shows it: the state, and for a lock whose holder
/// is gone, what to run.
pub fn state_in_ls(lab: &str, labels: &HashMap<String, String>) -> (String, Option<String>) {
    let holder = Holder::from_labels(labels);
    match holder.standing(&Here::now(), start_time) {
        Standing::Gone(why) => (
            format!("stale lock: {why}"),
            Some(format!(
                "lab `{lab}`: {} was stopped before it finished ({why})\n  (hint: {})",
                holder.words(),
                holder.mend(lab)
            )),
        ),
        Standing::Alive | Standing::Unknown => {
            (format!("changing: locked by {}", holder.words()), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Here {
        Here {
            place: Some("boot-1/pid:[4026531836]".into()),
            machine: "ci-7".into(),
        }
    }

    fn holder(pid: u32, started: u64, place: &str) -> Holder {
        Holder {
            pid: Some(pid),
            started: Some(started),
            place: Some(place.into()),
            machine: Some("ci-7".into()),
            since: Some("2026-12-01T10:00:00Z".into()),
            command: Some("up".into()),
            source: None,
        }
    }

    #[test]
    fn a_gone_holder_says_what_to_run_with_its_lab_argument() {
        let mut h = holder(4242, 900, "boot-1/pid:[4026531836]");
        assert_eq!(
            h.mend("web"),
            "`netlab up <its lab file>` brings it in line again, `netlab down web` removes it"
        );
        h.source = Some("/home/me/my labs/web.yaml".into());
        assert_eq!(
            h.mend("web"),
            "`netlab up '/home/me/my labs/web.yaml'` brings it in line again, `netlab down web` removes it"
        );
        h.source = Some("bridge-basic".into());
        assert!(h.mend("web").starts_with("`netlab up bridge-basic` brings"));
        h.source = None;
        h.command = Some("down".into());
        assert_eq!(
            h.mend("web"),
            "`netlab down web` removes it (the lock is broken on the way)"
        );
        // In `ls`: a lock whose process is gone is stale, with the hint.
        let mut labels = labels("web", "up", Some("Cargo.toml"));
        labels.insert(LABEL_PID.into(), "4194303".into());
        let (state, hint) = state_in_ls("web", &labels);
        assert_eq!(state, "stale lock: pid 4194303 is no longer running");
        let hint = hint.expect("a hint");
        let file = std::fs::canonicalize("Cargo.toml").expect("cwd");
        assert!(
            hint.ends_with(&format!(
                "(hint: `netlab up {}` brings it in line again, `netlab down web` removes it)",
                file.display()
            )),
            "{hint}"
        );
    }

    #[test]
    fn a_holder_on_this_machine_is_alive_only_while_its_very_process_runs() {
        let h = holder(4242, 900, "boot-1/pid:[4026531836]");
        assert_eq!(h.standing(&here(), |_| Some(900)), Standing::Alive);
        assert_eq!(
            h.standing(&here(), |_| None),
            Standing::Gone("pid 4242 is no longer running".into())
        );
        assert!(matches!(
            h.standing(&here(), |_| Some(901)),
            Standing::Gone(why) if why.contains("another process has that pid")
        ));
    }

    #[test]
    fn a_holder_elsewhere_or_unlabelled_cannot_be_judged() {
        let other_boot = holder(4242, 900, "boot-2/pid:[4026531836]");
        assert_eq!(other_boot.standing(&here(), |_| None), Standing::Unknown);
        let other_container = holder(4242, 900, "boot-1/pid:[4026532001]");
        assert_eq!(
            other_container.standing(&here(), |_| None),
            Standing::Unknown
        );
        let old = Holder::from_labels(&HashMap::new());
        assert_eq!(old.standing(&here(), |_| None), Standing::Unknown);
        assert_eq!(
            old.words(),
            "an older netlab (its lock does not say who holds it)"
        );
    }

    #[test]
    fn the_lock_says_who_holds_it_and_reads_back() {
        let labels = labels("web", "down", None);
        let h = Holder::from_labels(&labels);
        assert_eq!(h.pid, Some(std::process::id()));
        assert_eq!(h.command.as_deref(), Some("down"));
        assert_eq!(h.standing(&Here::now(), start_time), Standing::Alive);
        let words = h.words();
        assert!(
            words.starts_with(&format!("`netlab down` (pid {} on ", std::process::id())),
            "{words}"
        );
        assert!(
            words.contains(", since 20") && words.ends_with(" ago)"),
            "{words}"
        );
    }
}
