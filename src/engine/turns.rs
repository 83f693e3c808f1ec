//! Turns between netlab processes on one machine that use one engine:
//! checks against the making of networks.
//!
//! Docker (20.10 here) re-inserts its isolation jump at every network it
//! creates — `iptables -D FORWARD -j DOCKER-ISOLATION-STAGE-1`, then `-I`
//! — so for an instant no bridge is isolated from another. A probe whose
//! SYN falls into that instant crosses, the connection is tracked from then
//! on, and a `blocked` check of one lab FAILs because a neighbour (a
//! parallel CI job, a second `netlab up`) made a network. Measured here:
//! with four labs made side by side, 1 run in 3 of the bridge-isolation
//! lab saw cells open that are closed.
//!
//! So a round of checks holds its engines' turn shared and making networks
//! holds it exclusive: rounds run side by side, networks wait for them and
//! they for networks. The turn is an advisory lock (`flock`) on a file in
//! the temporary directory named after the engine; it is released when the
//! process ends, however it ends. Every wait has a deadline: past it netlab
//! goes on and says why a check may see more than the lab allows.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::Engine;

/// How long a round of checks, or the making of networks, waits for its
/// turn: longer than a round's usual deadline, far shorter than CI's.
pub const TURN_WAIT: Duration = Duration::from_secs(30);

/// A turn held; given back when dropped (closing the file releases it).
pub struct Turn {
    _files: Vec<File>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A round of checks: many at once.
    Checks,
    /// Networks being made: alone.
    Networks,
}

/// Takes the turn of every engine in `engines` (each once, in one order so
/// that two processes never wait for each other), waiting up to `wait`.
/// An engine whose turn is not had in time is left out, with a line that
/// says what that may do.
pub async fn take(engines: &[&Engine], kind: Kind, wait: Duration) -> Turn {
    let mut paths: Vec<(PathBuf, &str)> = engines
        .iter()
        .map(|e| (path_of(&e.identity), e.identity.as_str()))
        .collect();
    paths.sort();
    paths.dedup_by(|a, b| a.0 == b.0);
    let until = Instant::now() + wait;
    let mut files = Vec::new();
    for (path, engine) in paths {
        match acquire(&path, kind, until).await {
            Ok(Some(file)) => files.push(file),
            Ok(None) => crate::text::say!("{}", late_words(kind, engine, wait)),
            // No lock file can be had (a read-only temporary directory):
            // no turns, as before they existed.
            Err(_) => {}
        }
    }
    Turn { _files: files }
}

fn late_words(kind: Kind, engine: &str, wait: Duration) -> String {
    match kind {
        Kind::Networks => format!(
            "netlab: checks of another netlab on {engine} kept going for {}s; making networks now: Docker reopens its isolation between networks for an instant at each network it makes, which their checks may see",
            wait.as_secs()
        ),
        Kind::Checks => format!(
            "netlab: another netlab was making networks on {engine} for {}s; checking now: a `blocked` check may see a path open for the instant Docker reopens its isolation at each network it makes",
            wait.as_secs()
        ),
    }
}

/// The lock file of an engine, named by a digest of its identity (an
/// address may hold characters a file name may not).
fn path_of(identity: &str) -> PathBuf {
    let digest = Sha256::digest(identity.as_bytes());
    let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    std::env::temp_dir().join(format!("netlab-turns-{short}.lock"))
}

/// Opens the lock file (never through a symbolic link: the directory is
/// shared) and waits for the lock until `until`; `None` when time ran out.
async fn acquire(path: &PathBuf, kind: Kind, until: Instant) -> std::io::Result<Option<File>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let operation = match kind {
        Kind::Checks => libc::LOCK_SH,
        Kind::Networks => libc::LOCK_EX,
    } | libc::LOCK_NB;
    loop {
        // SAFETY: flock on a descriptor this function owns; it only sets an
        // advisory lock and touches no memory.
        let taken = unsafe { libc::flock(file.as_raw_fd(), operation) } == 0;
        if taken {
            return Ok(Some(file));
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(error);
        }
        if Instant::now() >= until {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(path: &PathBuf, kind: Kind) -> Option<File> {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
            .block_on(acquire(path, kind, Instant::now()))
            .expect("lock file")
    }

    #[test]
    fn checks_share_a_turn_and_networks_wait_for_them_and_they_for_networks() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("t.lock");
        let first = lock(&path, Kind::Checks).expect("a first round");
        let second = lock(&path, Kind::Checks).expect("a second round beside it");
        assert!(lock(&path, Kind::Networks).is_none(), "networks wait");
        drop((first, second));
        let networks = lock(&path, Kind::Networks).expect("then networks");
        assert!(lock(&path, Kind::Checks).is_none(), "checks wait");
        assert!(lock(&path, Kind::Networks).is_none(), "networks alone");
        drop(networks);
        assert!(lock(&path, Kind::Checks).is_some());
    }

    #[test]
    fn a_symbolic_link_in_its_place_is_not_followed() {
        let dir = tempfile::tempdir().expect("dir");
        let target = dir.path().join("elsewhere");
        let path = dir.path().join("t.lock");
        std::os::unix::fs::symlink(&target, &path).expect("symlink");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        assert!(
            rt.block_on(acquire(&path, Kind::Checks, Instant::now()))
                .is_err()
        );
        assert!(!target.exists());
    }

    #[test]
    fn each_engine_has_its_own_file() {
        assert_ne!(
            path_of("unix:///var/run/docker.sock"),
            path_of("tcp://10.0.0.2:2375")
        );
        assert_eq!(path_of("a"), path_of("a"));
    }
}
