//! `from: host` on loopback reaches what the lab serves there and nothing
//! else with a payload (SPEC: "What a lab may touch"), on the real engine:
//! a listener of this test process on the host's loopback — a service that
//! is not the lab's — gets no connection from a check or a redirect,
//! refused by validation where the file decides and at run time where the
//! engine picks the port; with `--allow-external` it does get one, so the
//! silence is the refusal's doing.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::*;

/// A service on 127.0.0.1 that is not the lab's: it counts the
/// connections it accepts and answers each with an empty 200.
struct Bystander {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Bystander {
    fn start() -> Bystander {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Bystander { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A loopback port free now, for the lab to publish.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

#[test]
fn from_the_host_a_payload_reaches_only_the_lab_s_own_loopback_ports() {
    if !docker_available() {
        return;
    }
    let other = Bystander::start();
    let theirs = other.port;
    let published = free_port();

    // The lab's own published port: reached. A redirect from it to the
    // bystander: reported, not followed.
    let own = LabGuard::from_yaml(
        "t-hl-own",
        &format!(
            "name: t-hl-own\nnetworks:\n  a: {{}}\nnodes:\n  web:\n    networks: [a]\n    ports: [\"127.0.0.1:{published}:80\"]\n    serve: [http:80]\nchecks:\n  - http: {{ from: host, url: \"http://127.0.0.1:{published}/whoami\", expect: {{ status: 200, from_node: web }} }}\n  - http: {{ from: host, url: \"http://127.0.0.1:{published}/redirect/307?to=http://127.0.0.1:{theirs}/v1.41/containers/prune\", method: POST, body: x, expect: {{ status: 307 }} }}\n"
        ),
    );
    let text = run_passes(&own, 2);
    assert!(
        text.contains(&format!(
            "the redirect to http://127.0.0.1:{theirs}/v1.41/containers/prune was not followed: 127.0.0.1:{theirs} is loopback but not a port the lab publishes or serves there"
        )),
        "{text}"
    );

    // Decided by the file (a fixed host port): refused before anything is
    // made.
    let file = LabGuard::from_yaml(
        "t-hl-file",
        &format!(
            "name: t-hl-file\nnetworks:\n  a: {{}}\nnodes:\n  web:\n    networks: [a]\n    ports: [\"127.0.0.1:{published}:80\"]\n    serve: [http:80]\nchecks:\n  - http: {{ from: host, url: \"http://127.0.0.1:{theirs}/v1.41/containers/prune\", method: POST, expect: {{ status: 200 }} }}\n"
        ),
    );
    let out = netlab(&["run", file.path()]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "`http://127.0.0.1:{theirs}/v1.41/containers/prune` is outside the lab: 127.0.0.1:{theirs} is loopback but not a port the lab publishes or serves there"
        )),
        "{err}"
    );
    file.assert_nothing_left();

    // Decided by the engine (Docker picks the host port, which could have
    // been any): refused before any probe, the lab torn down.
    let late = LabGuard::from_yaml(
        "t-hl-late",
        &format!(
            "name: t-hl-late\nnetworks:\n  a: {{}}\nnodes:\n  web:\n    networks: [a]\n    ports: [\"127.0.0.1::80\"]\n    serve: [http:80]\nchecks:\n  - http: {{ from: host, url: \"http://127.0.0.1:{theirs}/\", expect: {{ status: 200 }} }}\n"
        ),
    );
    let out = netlab(&["run", late.path()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("1 check aim outside lab `t-hl-late`; nothing was probed")
            && err.contains(&format!(
                "127.0.0.1:{theirs} is loopback but not a port the lab publishes or serves there"
            )),
        "{err}"
    );
    late.assert_nothing_left();

    assert_eq!(
        other.connections(),
        0,
        "the bystander on 127.0.0.1:{theirs} was reached"
    );

    // The honest twin: with `--allow-external` the same check does reach
    // it — the host helper shares this loopback, so the silence above was
    // the refusal.
    let out = netlab(&["run", "--allow-external", late.path()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    late.assert_nothing_left();
    assert!(other.connections() >= 1, "the bystander was never reached");
}
