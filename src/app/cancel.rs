//! Cancellation passed into the commands (the mini-redis shape): the first
//! SIGINT, SIGTERM or SIGHUP flips it, and `up`/`run` then stop starting new
//! work, let calls in flight finish, and tear down what exists. Tests flip
//! it by hand.
//!
//! Later signals do not cut the clean-up short — CI runners send SIGINT and
//! then SIGTERM a few seconds later, and a lab left half-removed on a shared
//! engine is worse than a slow exit — with one exception: a second Ctrl-C
//! typed at a terminal (the kernel, not a process, sent that SIGINT) leaves
//! at once, and says what it left behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    flag: AtomicBool,
    notify: Notify,
    /// What a command is working on (`lab `web``), to say what an exit at
    /// once leaves behind.
    working_on: Mutex<Option<String>>,
}

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT typed at a terminal (Ctrl-C).
    TerminalInterrupt,
    /// SIGINT sent by a process (`kill -INT`, a CI runner).
    Interrupt,
    Terminate,
    HangUp,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::TerminalInterrupt | Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::HangUp => "SIGHUP",
        }
    }
}

/// What to do on a signal, given how many came before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Stop starting work and clean up.
    CleanUp,
    /// Already cleaning up: go on.
    KeepCleaning,
    /// Leave now, saying what is left.
    LeaveNow,
}

/// The first signal of any kind cancels; after it only a Ctrl-C typed at a
/// terminal may leave at once.
pub fn respond(signal: Signal, earlier: usize) -> Response {
    match (earlier, signal) {
        (0, _) => Response::CleanUp,
        (_, Signal::TerminalInterrupt) => Response::LeaveNow,
        _ => Response::KeepCleaning,
    }
}

impl Cancel {
    pub fn cancel(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }

    /// Notes which lab the command changes, for the words of an exit at once.
    pub fn working_on(&self, lab: &str) {
        if let Ok(mut w) = self.inner.working_on.lock() {
            *w = Some(lab.to_owned());
        }
    }

    fn left_behind(&self) -> String {
        match self.inner.working_on.lock().ok().and_then(|w| w.clone()) {
            Some(lab) => {
                format!("what lab `{lab}` had may still be there: `netlab down {lab}` removes it")
            }
            None => "nothing of a lab was being changed".to_owned(),
        }
    }

    /// Cancels on the first SIGINT, SIGTERM or SIGHUP; leaves at once only
    /// on a second Ctrl-C at a terminal.
    pub fn on_signals(&self) {
        let me = self.clone();
        let mut signals = match Signals::new() {
            Ok(s) => s,
            Err(e) => {
                crate::text::say!(
                    "netlab: cannot watch for signals ({e}); Ctrl-C will not clean up"
                );
                return;
            }
        };
        tokio::spawn(async move {
            let mut earlier = 0;
            loop {
                let signal = signals.next().await;
                match respond(signal, earlier) {
                    Response::CleanUp => {
                        crate::text::say!(
                            "netlab: {}: cleaning up (a second Ctrl-C at the terminal leaves at once)",
                            signal.name()
                        );
                        me.cancel();
                    }
                    Response::KeepCleaning => crate::text::say!(
                        "netlab: {} again: still cleaning up, so nothing is left behind",
                        signal.name()
                    ),
                    Response::LeaveNow => {
                        crate::text::say!(
                            "netlab: interrupted again at the terminal: leaving at once; {}",
                            me.left_behind()
                        );
                        std::process::exit(i32::from(crate::exit::INTERRUPTED));
                    }
                }
                earlier += 1;
            }
        });
    }
}

/// SIGINT, SIGTERM and SIGHUP as one stream; a SIGINT says whether the
/// kernel sent it for a terminal (si_code SI_KERNEL) or a process did.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

/// How the latest SIGINT was sent: set in the signal handler (an atomic
/// store is async-signal-safe), read when tokio delivers the signal.
static SIGINT_FROM_TERMINAL: AtomicBool = AtomicBool::new(false);

impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        // SAFETY: the action only stores into an atomic, which is
        // async-signal-safe; it allocates nothing and takes no lock.
        unsafe {
            signal_hook_registry::register_sigaction(libc::SIGINT, |info: &libc::siginfo_t| {
                SIGINT_FROM_TERMINAL.store(info.si_code == libc::SI_KERNEL, Ordering::SeqCst);
            })?;
        }
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hang_up: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => {
                if SIGINT_FROM_TERMINAL.load(Ordering::SeqCst) {
                    Signal::TerminalInterrupt
                } else {
                    Signal::Interrupt
                }
            }
            _ = self.terminate.recv() => Signal::Terminate,
            _ = self.hang_up.recv() => Signal::HangUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn cancelled_resolves_after_cancel_and_immediately_once_set() {
        let c = Cancel::default();
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.cancelled().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        c.cancel();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken")
            .expect("joined");
        tokio::time::timeout(Duration::from_millis(50), c.cancelled())
            .await
            .expect("already cancelled");
    }

    #[test]
    fn every_first_signal_cleans_up_and_only_a_terminal_ctrl_c_cuts_it_short() {
        use Signal::*;
        for first in [TerminalInterrupt, Interrupt, Terminate, HangUp] {
            assert_eq!(respond(first, 0), Response::CleanUp, "{first:?}");
        }
        for later in [Interrupt, Terminate, HangUp] {
            assert_eq!(respond(later, 1), Response::KeepCleaning, "{later:?}");
            assert_eq!(respond(later, 5), Response::KeepCleaning, "{later:?}");
        }
        assert_eq!(respond(TerminalInterrupt, 1), Response::LeaveNow);
    }

    #[test]
    fn an_exit_at_once_names_the_lab_it_leaves() {
        let c = Cancel::default();
        assert_eq!(c.left_behind(), "nothing of a lab was being changed");
        c.working_on("web");
        assert_eq!(
            c.left_behind(),
            "what lab `web` had may still be there: `netlab down web` removes it"
        );
    }
}
