//! A headless Chromium driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: commands on fd 3, answers on fd 4, each a
//! JSON text ended by NUL), with no network of its own (`unshare --net`:
//! only a loopback that is down). Every wait has a deadline; dropping the
//! browser kills it.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The Chromium executable, installed on a fresh machine by the harness
/// (Debian's `chromium`) when the test runs as root; `None` when it is
/// missing and cannot be installed (a failure under `CI=true`).
pub fn chromium() -> Option<String> {
    let find = || {
        ["chromium", "chromium-browser"]
            .into_iter()
            .find(|c| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {c}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .map(str::to_owned)
    };
    if let Some(c) = find() {
        return Some(c);
    }
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/harness/engines.sh");
        let ok = Command::new(harness)
            .args(["need", "chromium:chromium"])
            .status()
            .is_ok_and(|s| s.success());
        if ok && let Some(c) = find() {
            return Some(c);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!(
            "CI=true but Chromium is missing and could not be installed (harness/engines.sh need chromium:chromium)"
        );
    }
    eprintln!("skipping: no chromium (as root, the test installs Debian's package)");
    None
}

pub struct Browser {
    child: Child,
    to_browser: std::fs::File,
    from_browser: Receiver<Value>,
    next_id: u64,
    session: String,
    /// Console errors, exceptions, log errors and requests, as they came.
    pub complaints: Vec<String>,
    deadline: Duration,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two new descriptors we then own.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and ours alone.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    pub fn start(chromium: &str, profile: &std::path::Path) -> Browser {
        use std::os::fd::AsRawFd;
        let (cmd_read, cmd_write) = pipe();
        let (out_read, out_write) = pipe();
        let (cr, ow) = (cmd_read.as_raw_fd(), out_write.as_raw_fd());
        let root = unsafe { libc::geteuid() } == 0;
        let mut command = Command::new("unshare");
        if !root {
            command.arg("--map-root-user");
        }
        command
            .args(["--net", "--", chromium])
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--mute-audio",
                "--force-color-profile=srgb",
                "--font-render-hinting=none",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe fcntl, dup2 and close between fork
        // and exec. The ends are first copied above 10, so that neither
        // already being 3 or 4 can clobber the other or keep its
        // close-on-exec flag.
        unsafe {
            command.pre_exec(move || {
                let a = libc::fcntl(cr, libc::F_DUPFD, 10);
                let b = libc::fcntl(ow, libc::F_DUPFD, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(a);
                libc::close(b);
                Ok(())
            });
        }
        let child = command.spawn().expect("unshare starts chromium");
        drop(cmd_read);
        drop(out_write);
        let (tx, rx) = channel();
        let mut reader = std::fs::File::from(out_read);
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            loop {
                let n = match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|b| *b == 0) {
                    let message: Vec<u8> = buf.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice(&message[..message.len() - 1])
                        && tx.send(v).is_err()
                    {
                        return;
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to_browser: std::fs::File::from(cmd_write),
            from_browser: rx,
            next_id: 0,
            session: String::new(),
            complaints: Vec::new(),
            deadline: Duration::from_secs(60),
        };
        let target = b.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("a target id").to_owned();
        let attached = b.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        b.session = attached["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        for domain in [
            "Page.enable",
            "Runtime.enable",
            "Log.enable",
            "Network.enable",
        ] {
            b.page(domain, json!({}));
        }
        b.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    /// A command to the page's session.
    pub fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            message["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&message).expect("json");
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("cannot send {method} to chromium: {e}"));
        let started = Instant::now();
        loop {
            let m = self.next(started, method);
            if m["id"].as_u64() == Some(id) {
                if let Some(e) = m.get("error") {
                    panic!("chromium refused {method}: {e}");
                }
                return m["result"].clone();
            }
            self.note(&m);
        }
    }

    fn next(&mut self, started: Instant, what: &str) -> Value {
        let left = self.deadline.saturating_sub(started.elapsed());
        match self.from_browser.recv_timeout(left) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => {
                panic!("chromium did not answer {what} within {:?}", self.deadline)
            }
            Err(RecvTimeoutError::Disconnected) => panic!("chromium exited during {what}"),
        }
    }

    /// Records what a page must not do: print an error, throw, make any
    /// request but for the page itself, or have one blocked.
    fn note(&mut self, m: &Value) {
        let p = &m["params"];
        let complaint = match m["method"].as_str().unwrap_or_default() {
            "Runtime.consoleAPICalled"
                if matches!(p["type"].as_str(), Some("error" | "warning" | "assert")) =>
            {
                Some(format!("console.{}: {}", p["type"], p["args"]))
            }
            "Runtime.exceptionThrown" => Some(format!("exception: {}", p["exceptionDetails"])),
            "Log.entryAdded"
                if p["entry"]["level"] == "error" || p["entry"]["level"] == "warning" =>
            {
                Some(format!(
                    "log {}: {}",
                    p["entry"]["source"], p["entry"]["text"]
                ))
            }
            "Network.requestWillBeSent" => {
                let url = p["request"]["url"].as_str().unwrap_or_default();
                (!url.starts_with("file://") && url != "about:blank")
                    .then(|| format!("request to {url}"))
            }
            "Network.loadingFailed" => Some(format!(
                "blocked or failed load: {} {}",
                p["errorText"], p["blockedReason"]
            )),
            _ => None,
        };
        if let Some(c) = complaint {
            self.complaints.push(c);
        }
    }

    /// Opens `url` and waits for its load event.
    pub fn open(&mut self, url: &str) {
        self.page("Page.navigate", json!({"url": url}));
        let started = Instant::now();
        loop {
            let m = self.next(started, "the load event");
            if m["method"] == "Page.loadEventFired" {
                break;
            }
            self.note(&m);
        }
        // Events the load may still bring (a late console message).
        let settle = Instant::now();
        while settle.elapsed() < Duration::from_millis(300) {
            match self.from_browser.recv_timeout(Duration::from_millis(100)) {
                Ok(m) => self.note(&m),
                Err(_) => continue,
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    pub fn eval(&mut self, expression: &str) -> Value {
        let r = self.page(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{expression} threw: {e}");
        }
        r["result"]["value"].clone()
    }

    /// A PNG of the page's top `height` pixels.
    pub fn screenshot(&mut self, height: u64) -> Vec<u8> {
        use base64::Engine as _;
        let r = self.page(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true,
                   "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}}),
        );
        base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("png data"))
            .expect("base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
