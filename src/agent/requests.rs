//! The agent's probe channel: netlab attaches to the agent's stdin and
//! stdout, writes one `Request` per line and reads one `Reply` per line,
//! tagged with the request's id. Requests run concurrently; every reply is
//! one whole line, written at once, so replies never interleave.
//!
//! Several clients may be attached at once, and each sees every reply: ids
//! tell them apart. A client that went away mid-line leaves half a line
//! behind; netlab starts each request on a fresh line, and a line that is
//! not a request is ignored.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex;

use super::protocol::{PROTOCOL_VERSION, REPLY_PREFIX, Reply, ReplyOutcome, Request};

/// A request line longer than this is dropped, not buffered without end.
const MAX_LINE: usize = 64 << 20;

/// Reads requests from stdin until it closes (a container made without an
/// open stdin closes it at once; the listeners go on serving).
pub async fn answer_stdin() {
    let stdout = Arc::new(Mutex::new(tokio::io::stdout()));
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut stdin)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) if line.len() > MAX_LINE => {
                skip_rest_of_line(&mut stdin).await;
                continue;
            }
            Ok(_) => {}
        }
        let Some(reply) = handle(&line) else {
            continue;
        };
        let stdout = stdout.clone();
        tokio::spawn(async move {
            let reply = reply.await;
            // A reply that cannot be encoded is still answered: silence
            // would leave netlab waiting for its deadline.
            let json = serde_json::to_string(&reply).unwrap_or_else(|e| {
                serde_json::to_string(&Reply {
                    protocol: PROTOCOL_VERSION,
                    id: reply.id.clone(),
                    outcome: ReplyOutcome::Error(format!("cannot encode the report: {e}")),
                })
                .unwrap_or_default()
            });
            let text = format!("{REPLY_PREFIX}{json}\n");
            let mut out = stdout.lock().await;
            let _ = out.write_all(text.as_bytes()).await;
            let _ = out.flush().await;
        });
    }
}

async fn skip_rest_of_line<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        match reader.take(1 << 20).read_until(b'\n', &mut sink).await {
            Ok(0) | Err(_) => return,
            Ok(_) if sink.ends_with(b"\n") => return,
            Ok(_) => {}
        }
    }
}

/// The reply a request line deserves, to be awaited; `None` for a line that
/// is not a request (blank, or the rest of an abandoned one).
fn handle(line: &[u8]) -> Option<impl Future<Output = Reply> + use<>> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let id = value.get("id")?.as_str()?.to_owned();
    let protocol = value
        .get("protocol")
        .and_then(|p| p.as_u64())
        .unwrap_or_default();
    let request = if protocol == u64::from(PROTOCOL_VERSION) {
        serde_json::from_value::<Request>(value).map_err(|e| format!("bad request: {e}"))
    } else {
        Err(format!(
            "this agent speaks protocol {PROTOCOL_VERSION} and was sent protocol {protocol}\n  (hint: the lab was brought up by another netlab build; `netlab up` again recreates its nodes with this one's agent)"
        ))
    };
    Some(async move {
        let outcome = match request {
            Ok(r) => ReplyOutcome::Report(super::run_batch(&r.batch).await),
            Err(e) => ReplyOutcome::Error(e),
        };
        Reply {
            protocol: PROTOCOL_VERSION,
            id,
            outcome,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::protocol::ProbeBatch;

    #[tokio::test]
    async fn a_request_is_answered_under_its_id_and_other_lines_are_ignored() {
        let request = Request {
            protocol: PROTOCOL_VERSION,
            id: "abc-1".into(),
            batch: ProbeBatch::default(),
        };
        let line = serde_json::to_vec(&request).expect("json");
        let reply = handle(&line).expect("a request").await;
        assert_eq!(reply.id, "abc-1");
        assert!(matches!(reply.outcome, ReplyOutcome::Report(_)));
        assert!(handle(b"\n").is_none());
        assert!(handle(b"{\"half\": ").is_none());
    }

    /// Every observation must survive JSON: one that does not leaves the
    /// agent unable to answer at all.
    #[tokio::test]
    async fn every_kind_of_reply_encodes() {
        use crate::agent::protocol::{Probe, ProbeKind, ReplyOutcome};
        let probes = vec![
            Probe {
                id: 0,
                timeout_ms: 500,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Interfaces,
            },
            Probe {
                id: 1,
                timeout_ms: 500,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Published {
                    ip: "127.0.0.1".parse().expect("ip"),
                    port: 9,
                    transport: crate::vocab::Transport::Tcp,
                    speak: crate::agent::protocol::Speak::Greeting,
                    also_external: false,
                    also: vec!["[::1]:9".parse().expect("addr")],
                },
            },
            Probe {
                id: 2,
                timeout_ms: 500,
                capture: false,
                host_to_container: false,
                kind: ProbeKind::Bind {
                    addr: "127.0.0.1:0".parse().expect("addr"),
                    transport: crate::vocab::Transport::Udp,
                },
            },
        ];
        let request = Request {
            protocol: PROTOCOL_VERSION,
            id: "k".into(),
            batch: ProbeBatch { probes },
        };
        let reply = handle(&serde_json::to_vec(&request).expect("json"))
            .expect("a request")
            .await;
        let json = serde_json::to_string(&reply).expect("every observation encodes");
        let back: Reply = serde_json::from_str(&json).expect("and decodes");
        let ReplyOutcome::Report(report) = back.outcome else {
            panic!("a report");
        };
        assert_eq!(report.results.len(), 3);
    }

    #[tokio::test]
    async fn another_protocol_gets_an_error_with_a_hint() {
        let reply = handle(br#"{"protocol": 1, "id": "x", "probes": []}"#)
            .expect("answered")
            .await;
        let ReplyOutcome::Error(message) = reply.outcome else {
            panic!("an error");
        };
        assert!(
            message.contains("protocol 2 and was sent protocol 1"),
            "{message}"
        );
        assert!(message.contains("netlab up"), "{message}");
    }
}
