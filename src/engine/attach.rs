//! The probe channel to an agent: attach to its stdin and stdout, write one
//! request line, read the reply line tagged with the request's id. An attach
//! costs the engine one hijacked connection and no process (an exec costs a
//! runc start, 55-80 ms of CPU each on this kind of machine), so every agent
//! of a lab can be asked at once and all of a verify's probes share one
//! deadline.
//!
//! Every client attached to an agent sees every reply: a reply is taken by
//! its id, anything else is skipped. The output is always drained, because a
//! client that stops reading would block the agent's stdout for everyone.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use bollard::container::{AttachContainerResults, LogOutput};
use bollard::query_parameters::AttachContainerOptionsBuilder;
use futures::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::{Engine, EngineError, Result};
use crate::agent::protocol::{PROTOCOL_VERSION, ProbeBatch, REPLY_PREFIX, Reply, Request};

static SEQUENCE: AtomicU64 = AtomicU64::new(1);

/// A request id no other client picks: this process, this moment, a counter.
fn request_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Sends `batch` to the agent in `container` and waits for its reply. The
/// caller bounds the wait (all probes of a verify share one deadline).
pub async fn ask(engine: &Engine, container: &str, batch: &ProbeBatch) -> Result<Reply> {
    let what = || format!("cannot send probes to the agent in container {container}");
    let options = AttachContainerOptionsBuilder::default()
        .stdin(true)
        .stdout(true)
        .stderr(false)
        .stream(true)
        .logs(false)
        .build();
    let AttachContainerResults {
        mut output,
        mut input,
    } = engine
        .docker
        .attach_container(container, Some(options))
        .await
        .map_err(|e| EngineError::new(what(), e))?;
    let id = request_id();
    let (tx, rx) = oneshot::channel::<Result<Reply>>();
    let wanted = id.clone();
    let container_name = container.to_owned();
    let reader = tokio::spawn(async move {
        let mut tx = Some(tx);
        let mut pending = Vec::new();
        while let Some(frame) = output.next().await {
            let message = match frame {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => message,
                Ok(_) => continue,
                Err(e) => {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Err(EngineError::new(
                            format!("the agent's output in container {container_name} broke off"),
                            e,
                        )));
                    }
                    return;
                }
            };
            pending.extend_from_slice(&message);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if let Some(reply) = reply_for(&line[..end], &wanted)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(Ok(reply));
                }
            }
            if tx.is_none() {
                // Keep draining is not needed once we have ours: dropping
                // the stream closes the connection.
                return;
            }
        }
        if let Some(tx) = tx.take() {
            let _ = tx.send(Err(EngineError::new(
                format!("the agent in container {container_name} stopped before it answered"),
                anyhow::anyhow!("the container's output ended"),
            )));
        }
    });
    let _abort_reader = AbortOnDrop(reader);
    send(&mut input, &id, batch)
        .await
        .map_err(|e| EngineError::new(what(), e))?;
    // `input` lives until the reply is in: both halves are one connection.
    let reply = match rx.await {
        Ok(reply) => reply,
        Err(_) => Err(EngineError::new(
            what(),
            anyhow::anyhow!("the reader of the agent's output ended"),
        )),
    };
    drop(input);
    reply
}

/// Writes the request on a fresh line: a client that went away mid-line may
/// have left half a line behind, which the newline ends.
async fn send(
    input: &mut Pin<Box<dyn AsyncWrite + Send>>,
    id: &str,
    batch: &ProbeBatch,
) -> anyhow::Result<()> {
    let request = Request {
        protocol: PROTOCOL_VERSION,
        id: id.to_owned(),
        batch: batch.clone(),
    };
    let mut line = vec![b'\n'];
    serde_json::to_writer(&mut line, &request)?;
    line.push(b'\n');
    input.write_all(&line).await?;
    input.flush().await?;
    Ok(())
}

/// The reply in `line` if it answers request `id`.
fn reply_for(line: &[u8], id: &str) -> Option<Reply> {
    let text = std::str::from_utf8(line).ok()?;
    let json = text.trim_end_matches('\r').strip_prefix(REPLY_PREFIX)?;
    let reply: Reply = serde_json::from_str(json).ok()?;
    (reply.id == id).then_some(reply)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::protocol::{ProbeReport, ReplyOutcome};

    #[test]
    fn a_reply_is_taken_only_by_its_own_id() {
        let reply = Reply {
            protocol: PROTOCOL_VERSION,
            id: "me-1".into(),
            outcome: ReplyOutcome::Report(ProbeReport {
                results: Vec::new(),
            }),
        };
        let line = format!(
            "{REPLY_PREFIX}{}",
            serde_json::to_string(&reply).expect("json")
        );
        assert_eq!(reply_for(line.as_bytes(), "me-1"), Some(reply));
        assert_eq!(reply_for(line.as_bytes(), "someone-else"), None);
        assert_eq!(reply_for(b"netlab-agent ready", "me-1"), None);
        assert_eq!(reply_for(b"netlab-reply {broken", "me-1"), None);
    }

    #[test]
    fn request_ids_differ() {
        assert_ne!(request_id(), request_id());
    }
}
