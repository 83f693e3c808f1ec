//! `netlab agent impair`: impairs (or clears) a node's interface from a
//! helper container of the agent image that joins the node's network
//! namespace with `NET_ADMIN` — the node itself gets no capability and
//! needs no tool. The interface is the one holding the node's address on
//! the network.
//!
//! Setting first removes what netlab set before on that interface, then
//! asks the kernel for netem; a kernel without netem (ENOENT: "unknown
//! qdisc kind") gets netlab's own emulator instead (`emulate`), which lives
//! in this process: the helper then stays until it is stopped (SIGTERM),
//! and gives the interface back as it was before it exits. With netem the
//! helper exits at once; the qdisc stays in the namespace.
//!
//! Clearing removes both kinds (a netem root qdisc, netlab's redirect) and
//! says what is left. Each run prints one `netlab-impair <json>` line: what
//! each interface had before and has after.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::emulate::{self, Stats};
use super::netem::{self, Root};
use super::rtnl::Rtnl;
use crate::impairment::Impairment;

/// The prefix of the line that reports the state (`ready` when an
/// emulator is running, printed again as `done` when it stops).
pub const REPLY_PREFIX: &str = "netlab-impair ";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpairRequest {
    /// The interfaces holding these addresses; none: every interface but
    /// loopback (to clear them all).
    pub addresses: Vec<IpAddr>,
    /// Set this impairment; `None`: clear.
    pub set: Option<Impairment>,
    /// Use netlab's emulator even where the kernel has netem.
    #[serde(default)]
    pub emulate: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ImpairReply {
    /// `ready` (set, and staying: the emulator), `done` (finished).
    pub state: String,
    /// `netem` or `emulator`, when something was set.
    pub mechanism: Option<String>,
    pub interfaces: Vec<InterfaceState>,
    /// What the emulator did, once it stopped.
    pub stats: Option<Stats>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceState {
    pub interface: String,
    pub address: Option<IpAddr>,
    pub before: String,
    pub after: String,
}

fn print(reply: &ImpairReply) {
    use std::io::Write as _;
    let json = serde_json::to_string(reply).unwrap_or_else(|e| {
        format!(
            "{{\"state\":\"done\",\"interfaces\":[],\"error\":\"cannot encode the reply: {e}\"}}"
        )
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{REPLY_PREFIX}{json}");
    let _ = out.flush();
}

/// The whole command; returns whether it went well.
pub async fn command(request_json: &str) -> bool {
    // PID 1 ignores a signal it has no handler for: the handlers come
    // first, before anything can be left half made.
    let signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            print(&failed(format!("cannot handle signals: {e}")));
            return false;
        }
    };
    let request = match serde_json::from_str::<ImpairRequest>(request_json) {
        Ok(r) => r,
        Err(e) => {
            print(&failed(format!("bad request: {e}")));
            return false;
        }
    };
    let prepared = tokio::task::spawn_blocking(move || prepare(&request)).await;
    let (mut reply, running) = match prepared {
        Ok(r) => r,
        Err(e) => (failed(format!("the impair task failed: {e}")), None),
    };
    let Some((emulator, index)) = running else {
        reply.state = "done".into();
        let ok = reply.error.is_none();
        print(&reply);
        return ok;
    };
    reply.state = "ready".into();
    print(&reply);
    let stop = Arc::new(AtomicBool::new(false));
    let mut work = tokio::task::spawn_blocking({
        let stop = stop.clone();
        move || {
            let ran = emulator.run(&stop);
            drop(emulator);
            let torn = Rtnl::open().and_then(|mut r| emulate::teardown(&mut r, index));
            (ran, torn)
        }
    });
    let finished = tokio::select! {
        done = &mut work => Some(done),
        () = signals.wait() => None,
    };
    let joined = match finished {
        Some(done) => done,
        None => {
            stop.store(true, Ordering::Relaxed);
            work.await
        }
    };
    let (ran, torn) = match joined {
        Ok(done) => done,
        Err(e) => {
            print(&failed(format!("the emulator failed: {e}")));
            return false;
        }
    };
    reply.state = "done".into();
    match ran {
        Ok(stats) => reply.stats = Some(stats),
        Err(e) => reply.error = Some(format!("the emulator stopped: {e}")),
    }
    if let Err(e) = torn {
        reply.error = Some(format!("cannot give the interface back: {e}"));
    }
    for i in &mut reply.interfaces {
        i.before = std::mem::take(&mut i.after);
        i.after = "no impairment".into();
    }
    let ok = reply.error.is_none();
    print(&reply);
    ok
}

fn failed(error: String) -> ImpairReply {
    ImpairReply {
        state: "done".into(),
        error: Some(error),
        ..ImpairReply::default()
    }
}

/// Clears, then sets; returns the reply and, when netlab's emulator is to
/// run, the emulator and its interface.
fn prepare(request: &ImpairRequest) -> (ImpairReply, Option<(emulate::Emulator, u32)>) {
    let mut reply = ImpairReply::default();
    let targets = match interfaces(&request.addresses) {
        Ok(t) => t,
        Err(e) => return (failed(e), None),
    };
    if request.set.is_some() && targets.len() != 1 {
        return (
            failed(format!(
                "an impairment goes on one interface, not {}",
                targets.len()
            )),
            None,
        );
    }
    let mut rtnl = match Rtnl::open() {
        Ok(r) => r,
        Err(e) => return (failed(format!("cannot open a netlink socket: {e}")), None),
    };
    let mut running = None;
    for (name, index, address) in targets {
        let result = (|| -> Result<(String, String), String> {
            let before = state(&mut rtnl, index)?;
            netem::remove(&mut rtnl, index).map_err(|e| format!("cannot remove netem: {e}"))?;
            emulate::teardown(&mut rtnl, index)
                .map_err(|e| format!("cannot remove netlab's emulator: {e}"))?;
            let Some(impairment) = request.set else {
                return Ok((before, state(&mut rtnl, index)?));
            };
            if !request.emulate {
                match netem::set(&mut rtnl, index, &impairment) {
                    Ok(()) => {
                        reply.mechanism = Some("netem".into());
                        return Ok((before, state(&mut rtnl, index)?));
                    }
                    // No netem in this kernel: emulate.
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                    Err(e) => return Err(format!("cannot set netem: {e}")),
                }
            }
            let emulator = emulate::setup(&mut rtnl, index, &name, impairment)
                .map_err(|e| format!("cannot start netlab's emulator: {e}"))?;
            running = Some((emulator, index));
            reply.mechanism = Some("emulator".into());
            Ok((before, format!("netlab's emulator: {impairment}")))
        })();
        match result {
            Ok((before, after)) => reply.interfaces.push(InterfaceState {
                interface: name,
                address,
                before,
                after,
            }),
            Err(e) => {
                reply.error = Some(format!("{name}: {e}"));
                return (reply, None);
            }
        }
    }
    (reply, running)
}

/// What is on an interface, in words.
fn state(rtnl: &mut Rtnl, index: u32) -> Result<String, String> {
    if emulate::is_redirected(index) {
        return Ok("netlab's emulator (left behind: its helper is gone)".into());
    }
    Ok(
        match netem::root(rtnl, index).map_err(|e| format!("cannot list qdiscs: {e}"))? {
            Root::Default => "no impairment".into(),
            Root::Netem(i) => format!("netem {i}"),
            Root::Other(kind) => format!("root qdisc {kind} (not netlab's)"),
        },
    )
}

/// (name, index, address) of the interfaces asked for.
fn interfaces(addresses: &[IpAddr]) -> Result<Vec<(String, u32, Option<IpAddr>)>, String> {
    let all = if_addrs::get_if_addrs().map_err(|e| format!("cannot list interfaces: {e}"))?;
    if addresses.is_empty() {
        let mut out: Vec<(String, u32, Option<IpAddr>)> = Vec::new();
        for i in all.iter().filter(|i| !i.is_loopback()) {
            if let Some(index) = i.index
                && !out.iter().any(|(_, x, _)| *x == index)
            {
                out.push((i.name.clone(), index, None));
            }
        }
        return Ok(out);
    }
    addresses
        .iter()
        .map(|a| {
            let i = all.iter().find(|i| i.ip() == *a).ok_or_else(|| {
                format!("no interface holds {a} here (the node is not on that network now)")
            })?;
            let index = i
                .index
                .ok_or_else(|| format!("interface {} has no index", i.name))?;
            Ok((i.name.clone(), index, Some(*a)))
        })
        .collect()
}

/// SIGTERM (`docker stop`) or SIGINT.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// The state a reply line carries, read back by netlab.
pub fn parse_reply(line: &str) -> Option<ImpairReply> {
    serde_json::from_str(line.trim_end().strip_prefix(REPLY_PREFIX)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_line_reads_back() {
        let reply = ImpairReply {
            state: "ready".into(),
            mechanism: Some("emulator".into()),
            interfaces: vec![InterfaceState {
                interface: "eth0".into(),
                address: Some(IpAddr::from([10, 0, 0, 2])),
                before: "no impairment".into(),
                after: "netlab's emulator: delay 100ms".into(),
            }],
            stats: None,
            error: None,
        };
        let line = format!(
            "{REPLY_PREFIX}{}\n",
            serde_json::to_string(&reply).expect("json")
        );
        assert_eq!(parse_reply(&line), Some(reply));
        assert_eq!(parse_reply("netlab-agent ready"), None);
    }
}
