//! `tls` and `http` checks judged: the handshake's verdict, every hop of
//! an HTTP exchange (the final one's status, method, body and who answered
//! it), and whether the requests crossed the wire readable — shown by the
//! recorded packets, and only when every byte the client sent was
//! recorded. Pure.

use crate::agent::protocol::{
    CaptureResult, HttpHop, HttpObservation, Observation, ProbeResult, TlsObservation, TlsOutcome,
};
use crate::lab::{CheckKind, TlsExpect};
use crate::live::LiveLab;

use super::{Outcome, identity};

fn tls_phases(o: &TlsObservation) -> String {
    let mut parts = Vec::new();
    for (what, v) in [
        ("connect", o.connect_ms),
        ("handshake", o.handshake_ms),
        ("first byte", o.first_byte_ms),
    ] {
        if let Some(ms) = v {
            parts.push(format!("{what} {ms:.1} ms"));
        }
    }
    parts.join(", ")
}

pub(super) fn tls(expect: TlsExpect, o: &TlsObservation) -> Outcome {
    let subject = o
        .subject
        .as_deref()
        .map(|s| format!(" [{s}]"))
        .unwrap_or_default();
    let (seen, words) = match &o.outcome {
        TlsOutcome::Verified => (
            Some(TlsExpect::Verified),
            format!(
                "verified{subject}: {} {}; {}; {}",
                o.version.as_deref().unwrap_or("?"),
                o.cipher.as_deref().unwrap_or("?"),
                tls_phases(o),
                match o.close_notify {
                    Some(true) => "closed with close_notify",
                    Some(false) => "closed without close_notify",
                    None => "no close seen",
                }
            ),
        ),
        TlsOutcome::Untrusted { reason } => (
            Some(TlsExpect::Untrusted),
            format!("untrusted{subject}: {reason}"),
        ),
        TlsOutcome::WrongName { reason } => (
            Some(TlsExpect::WrongName),
            format!("wrong name{subject}: {reason}"),
        ),
        TlsOutcome::NoTls { reason } => (Some(TlsExpect::NoTls), format!("no TLS: {reason}")),
        TlsOutcome::Closed { reason } => (
            None,
            format!(
                "closed without a word: {reason} (says nothing about TLS; Docker's port proxy does this when nothing listens behind a published port)"
            ),
        ),
        TlsOutcome::Refused => (None, "refused (nothing listens)".into()),
        TlsOutcome::Timeout => (None, "no answer before the deadline".into()),
        TlsOutcome::Error { message } => (None, format!("error: {message}")),
    };
    Outcome::new(seen == Some(expect), words)
}

pub(super) fn http(live: &LiveLab, kind: &CheckKind, o: &HttpObservation) -> Outcome {
    let CheckKind::Http {
        body: sent_body,
        expect,
        ..
    } = kind
    else {
        return Outcome::error("not an http check");
    };
    let sent_body = sent_body.as_deref();
    let hops: Vec<String> = o
        .hops
        .iter()
        .map(|h| {
            let node = h
                .node
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            format!("{} {} → {}{node}", h.method, h.url, h.status)
        })
        .collect();
    let mut observed = hops.join(" ⇒ ");
    if let Some(note) = &o.note {
        observed = format!("{observed} ({note})");
    }
    if let Some(e) = &o.error {
        observed = if observed.is_empty() {
            e.clone()
        } else {
            format!("{observed}; {e}")
        };
        return Outcome::fail(observed);
    }
    let Some(last) = o.hops.last() else {
        return Outcome::fail("no answer");
    };
    let echoed: Option<serde_json::Value> = serde_json::from_str(&o.final_body).ok();
    let field = |name: &str| echoed.as_ref().and_then(|v| v.get(name));
    let mut wrong = Vec::new();
    if let Some(s) = expect.status
        && last.status != s
    {
        wrong.push(format!("status {} instead of {s}", last.status));
        // The agent answered 404: the path is not one of its own.
        if last.status == 404 && (last.node.is_some() || last.identity.is_some()) {
            wrong.push(format!(
                "netlab's agent serves {} only (docs/agent.md)",
                crate::agent::web_server::PATHS.join(", ")
            ));
        }
    }
    if let Some(r) = &expect.redirects {
        let seen: Vec<u16> = o.hops[..o.hops.len() - 1]
            .iter()
            .map(|h| h.status)
            .collect();
        if &seen != r {
            wrong.push(format!("redirects {seen:?} instead of {r:?}"));
        }
    }
    if let Some(u) = &expect.final_url {
        let matches = if u.starts_with('/') {
            url::Url::parse(&last.url).ok().is_some_and(|p| {
                let path = match p.query() {
                    Some(q) => format!("{}?{q}", p.path()),
                    None => p.path().to_owned(),
                };
                &path == u
            })
        } else {
            url::Url::parse(u).ok().map(|x| x.to_string()).as_deref() == Some(last.url.as_str())
        };
        if !matches {
            wrong.push(format!("final URL {} instead of {u}", last.url));
        }
    }
    if let Some(m) = &expect.final_method
        && &last.method != m
    {
        wrong.push(format!("final method {} instead of {m}", last.method));
    }
    if let Some(kept) = expect.body_kept {
        let arrived = field("body").and_then(|b| b.as_str()).unwrap_or_default();
        let was_kept = sent_body.is_some_and(|b| !b.is_empty() && arrived == b);
        if was_kept != kept {
            wrong.push(format!(
                "body {} (the last answer saw {arrived:?})",
                if was_kept { "kept" } else { "not kept" }
            ));
        }
    }
    if let Some(n) = &expect.from_node {
        // The whole identity, as a greeting is judged: lab, node and host.
        let want = identity::identity_of(live, n);
        if want.is_none() || last.identity != want {
            wrong.push(format!(
                "answered by {} instead of {}",
                last.identity
                    .as_ref()
                    .map(identity::words)
                    .or_else(|| last.node.clone())
                    .unwrap_or_else(|| "no agent".into()),
                want.as_ref()
                    .map(identity::words)
                    .unwrap_or_else(|| format!(
                        "{n} (which runs a foreign image and cannot say so)"
                    ))
            ));
        }
    }
    if let Some(s) = expect.session {
        let has = field("session").is_some_and(|v| v.is_string());
        if has != s {
            wrong.push(format!("session {}", if has { "kept" } else { "lost" }));
        }
    }
    if wrong.is_empty() {
        Outcome::pass(observed)
    } else {
        Outcome::fail(format!("{observed}; {}", wrong.join(", ")))
    }
}

/// Whether an http check's requests crossed the wire readable, as its
/// `plaintext` expectation asks: every hop's request line (and body, where
/// the hop carried it) searched for in the recorded TCP streams. "Not
/// seen" counts only when every byte the client sent was recorded: each
/// connection from its SYN to its FIN with no hole, nothing dropped by the
/// kernel or left out over the cap. `None` when the check does not ask.
pub(super) fn plaintext(kind: &CheckKind, result: &ProbeResult) -> Option<Outcome> {
    let CheckKind::Http {
        url,
        method,
        body,
        expect,
        ..
    } = kind
    else {
        return None;
    };
    let want = expect.plaintext?;
    let capture = match &result.capture {
        Some(CaptureResult::Recorded { capture }) => capture,
        Some(CaptureResult::Unavailable { reason }) => {
            return Some(Outcome::error(format!(
                "plaintext cannot be shown: capture unavailable ({reason})"
            )));
        }
        None => {
            return Some(Outcome::error(
                "plaintext cannot be shown: nothing was recorded",
            ));
        }
    };
    // The requests that were made; before any answer, the one asked for.
    let hops: Vec<HttpHop> = match &result.observation {
        Observation::Http(o) if !o.hops.is_empty() => o.hops.clone(),
        _ => vec![HttpHop {
            url: url.clone(),
            method: method.clone(),
            body_sent: body.is_some(),
            status: 0,
            location: None,
            node: None,
            identity: None,
        }],
    };
    let sent_body = body.as_deref().filter(|b| !b.is_empty());
    let readable: Vec<(String, bool)> = hops
        .iter()
        .map(|hop| {
            let line = request_line(&hop.method, &hop.url);
            let mut needles: Vec<&[u8]> = vec![line.as_bytes()];
            if let (true, Some(b)) = (hop.body_sent, sent_body) {
                needles.push(b.as_bytes());
            }
            let seen = crate::capture::plaintext_seen(&capture.packets, &needles);
            (line, seen)
        })
        .collect();
    let seen: Vec<&str> = readable
        .iter()
        .filter(|(_, s)| *s)
        .map(|(l, _)| l.as_str())
        .collect();
    let unseen: Vec<&str> = readable
        .iter()
        .filter(|(_, s)| !*s)
        .map(|(l, _)| l.as_str())
        .collect();
    let quoted = |lines: &[&str]| {
        lines
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut words = Vec::new();
    if !seen.is_empty() {
        words.push(format!("{} crossed the wire readable", quoted(&seen)));
    }
    if !unseen.is_empty() {
        // An absence is evidence only from a whole recording.
        let whole = crate::capture::sent_bytes_whole(capture);
        match whole {
            Ok(connections) if connections >= hops.len() => words.push(format!(
                "{} did not cross the wire readable (every byte the client sent was recorded: {connections} connection{}, SYN to FIN)",
                quoted(&unseen),
                if connections == 1 { "" } else { "s" }
            )),
            Ok(connections) => {
                return Some(Outcome::fail(format!(
                    "inconclusive: {} not seen, but only {connections} of {} connections were recorded whole",
                    quoted(&unseen),
                    hops.len()
                )));
            }
            Err(why) => {
                return Some(Outcome::fail(format!(
                    "inconclusive: {} not seen, but the recording is not whole ({why})",
                    quoted(&unseen)
                )));
            }
        }
    }
    let passed = if want {
        unseen.is_empty()
    } else {
        seen.is_empty()
    };
    Some(Outcome::new(passed, words.join("; ")))
}

/// `GET /redirect/302?to=/echo HTTP/1.1`
fn request_line(method: &str, url: &str) -> String {
    let path = url::Url::parse(url)
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .unwrap_or_else(|_| url.to_owned());
    format!("{method} {path} HTTP/1.1")
}
