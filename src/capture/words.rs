//! The timeline in words: the one-line [`summary`] a report shows next to a
//! check, and [`verbose`], one line per packet. Only reads the
//! [`Timeline`], so netlab can render a timeline that an agent sent back.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::timeline::{Direction, Dns, Entry, Layer, Timeline, Tls};

/// The one-line form, e.g.
/// `SYN → SYN/ACK → ACK → ClientHello(www, TLS1.3) → … → FIN: 14 packets, 4.1 ms`.
pub fn summary(t: &Timeline) -> String {
    // DNS queries that got an answer; the others show as "no answer".
    let answered: HashSet<u16> = t
        .entries
        .iter()
        .filter_map(|e| match &e.layer {
            Layer::Udp { dns: Some(d), .. } if d.response => Some(d.id),
            _ => None,
        })
        .collect();
    let mut line = Line::default();
    // Connections whose handshake ACK is still to be shown.
    let mut want_ack: HashSet<(&str, &str)> = HashSet::new();
    for e in &t.entries {
        match &e.layer {
            Layer::Udp { dns: Some(d), .. } => {
                if d.response || !answered.contains(&d.id) {
                    line.push(dns_token(d));
                }
            }
            Layer::Udp { len, .. } => line.push(format!("UDP {len} bytes")),
            Layer::Icmp { text } | Layer::Other { text } => line.push(text.clone()),
            Layer::Tcp {
                flags,
                len,
                tls,
                text,
                ..
            } => {
                let has = |f: &str| flags.iter().any(|x| x == f);
                let conn = (e.src.as_str(), e.dst.as_str());
                if has("SYN") && !has("ACK") {
                    line.push("SYN".into());
                    want_ack.insert(conn);
                } else if has("SYN") {
                    line.push("SYN/ACK".into());
                } else if want_ack.remove(&conn)
                    && has("ACK")
                    && *len == 0
                    && !has("FIN")
                    && !has("RST")
                {
                    line.push("ACK".into());
                }
                for item in tls {
                    tls_token(item, &mut line);
                }
                if let Some(text) = text {
                    line.push(format!("\"{text}\""));
                }
                if has("RST") {
                    line.push("RST".into());
                } else if has("FIN") {
                    line.push("FIN".into());
                }
            }
        }
    }
    let line = line.finish();
    let n = t.entries.len();
    let duration_ms = t
        .entries
        .iter()
        .map(Entry::offset_ms)
        .fold(0.0f64, f64::max);
    let plural = if n == 1 { "" } else { "s" };
    if line.is_empty() {
        format!("{n} packet{plural}")
    } else {
        format!("{line}: {n} packet{plural}, {duration_ms:.1} ms")
    }
}

/// The summary's tokens, with runs of encrypted records counted instead
/// of listed.
#[derive(Default)]
struct Line {
    tokens: Vec<String>,
    encrypted: usize,
}

impl Line {
    fn push(&mut self, token: String) {
        self.flush();
        self.tokens.push(token);
    }

    fn count_encrypted(&mut self) {
        self.encrypted += 1;
    }

    fn flush(&mut self) {
        match self.encrypted {
            0 => {}
            1 => self.tokens.push("1 encrypted record".into()),
            n => self.tokens.push(format!("{n} encrypted records")),
        }
        self.encrypted = 0;
    }

    /// The tokens joined by arrows, runs collapsed: "FIN → FIN" becomes
    /// "FIN ×2".
    fn finish(mut self) -> String {
        self.flush();
        let mut collapsed: Vec<(String, usize)> = Vec::new();
        for token in self.tokens {
            match collapsed.last_mut() {
                Some((last, n)) if *last == token => *n += 1,
                _ => collapsed.push((token, 1)),
            }
        }
        collapsed
            .into_iter()
            .map(|(t, n)| if n > 1 { format!("{t} ×{n}") } else { t })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// `DNS(www A → 192.168.48.2)`, `DNS(www A → NXDomain)` or, for a query
/// never answered, `DNS(www A → no answer)`.
fn dns_token(d: &Dns) -> String {
    let question = d.questions.first().map(|q| dns_name(q)).unwrap_or_default();
    let result = if !d.response {
        "no answer".to_string()
    } else if d.answers.is_empty() {
        d.rcode.clone()
    } else {
        d.answers
            .iter()
            .map(|a| a.rsplit(' ').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(",")
    };
    format!("DNS({question} → {result})")
}

fn tls_token(item: &Tls, line: &mut Line) {
    match item {
        Tls::ClientHello { sni, versions, .. } => line.push(format!(
            "ClientHello({}, {})",
            sni.as_deref().unwrap_or("no SNI"),
            short_version(versions)
        )),
        Tls::ServerHello {
            version,
            key_share_group,
            hello_retry_request,
            ..
        } => line.push(format!(
            "{}({version}{})",
            hello_name(*hello_retry_request),
            key_share_group
                .as_ref()
                .map(|g| format!(", {g}"))
                .unwrap_or_default()
        )),
        Tls::ChangeCipherSpec { compat: true } => {}
        Tls::ChangeCipherSpec { compat: false } => line.push("ChangeCipherSpec".into()),
        Tls::Handshake { messages, .. } => line.push(messages.join("+")),
        Tls::EncryptedHandshake { .. } | Tls::Encrypted { note: None, .. } => {
            line.count_encrypted()
        }
        Tls::Encrypted { note: Some(n), .. } | Tls::EncryptedAlert { note: Some(n), .. }
            if n == super::tls::CLOSE_NOTIFY_NOTE =>
        {
            line.push("close_notify?".into())
        }
        Tls::Encrypted { note: Some(_), .. } | Tls::EncryptedAlert { note: Some(_), .. } => {
            line.push("encrypted alert".into())
        }
        Tls::EncryptedAlert { note: None, .. } => line.push("encrypted alert".into()),
        Tls::Alert { level, description } => line.push(format!("Alert({level} {description})")),
        Tls::Unparsed { record_type, .. } => line.push(format!("TLS record type {record_type}")),
    }
}

fn hello_name(hello_retry_request: bool) -> &'static str {
    if hello_retry_request {
        "HelloRetryRequest"
    } else {
        "ServerHello"
    }
}

/// The highest version offered, GREASE left out.
fn short_version(versions: &[String]) -> String {
    versions
        .iter()
        .filter(|v| v.as_str() != "GREASE")
        .max()
        .cloned()
        .unwrap_or_else(|| "?".into())
}

/// "www. A" → "www A".
fn dns_name(question: &str) -> String {
    let mut parts = question.splitn(2, ' ');
    let name = parts.next().unwrap_or("").trim_end_matches('.');
    match parts.next() {
        Some(t) => format!("{name} {t}"),
        None => name.to_string(),
    }
}

/// One line per packet.
pub fn verbose(t: &Timeline) -> Vec<String> {
    t.entries.iter().map(verbose_line).collect()
}

fn verbose_line(e: &Entry) -> String {
    let arrow = match e.direction {
        Direction::Out => "→",
        Direction::In => "←",
    };
    let mut line = format!("{:>9.3} ms {arrow} {} > {} ", e.offset_ms(), e.src, e.dst);
    // Writing to a String cannot fail.
    match &e.layer {
        Layer::Tcp {
            flags,
            seq,
            ack,
            len,
            tls,
            text,
        } => {
            let _ = write!(line, "TCP [{}] seq={seq}", flags.join(", "));
            if let Some(a) = ack {
                let _ = write!(line, " ack={a}");
            }
            let _ = write!(line, " len={len}");
            for item in tls {
                let _ = write!(line, " | TLS {}", tls_text(item));
            }
            if let Some(text) = text {
                let _ = write!(line, " | plaintext \"{text}\"");
            }
        }
        Layer::Udp { len, dns: Some(d) } => {
            let _ = write!(
                line,
                "UDP len={len} | DNS {} id={:#06x} {}",
                if d.response { "response" } else { "query" },
                d.id,
                d.questions.join(", ")
            );
            if d.response {
                let _ = write!(line, " rcode={}", d.rcode);
                if !d.answers.is_empty() {
                    let _ = write!(line, " answers=[{}]", d.answers.join("; "));
                }
            }
        }
        Layer::Udp { len, dns: None } => {
            let _ = write!(line, "UDP len={len}");
        }
        Layer::Icmp { text } | Layer::Other { text } => line.push_str(text),
    }
    line
}

fn tls_text(item: &Tls) -> String {
    match item {
        Tls::ClientHello {
            sni,
            versions,
            key_share_groups,
            alpn,
            cipher_suites,
        } => format!(
            "ClientHello sni={} versions={} key_share={} alpn={} cipher_suites={cipher_suites}",
            sni.as_deref().unwrap_or("-"),
            versions.join(","),
            key_share_groups.join(","),
            if alpn.is_empty() {
                "-".into()
            } else {
                alpn.join(",")
            },
        ),
        Tls::ServerHello {
            version,
            cipher,
            key_share_group,
            alpn,
            hello_retry_request,
        } => format!(
            "{} version={version} cipher={cipher} key_share={} alpn={}",
            hello_name(*hello_retry_request),
            key_share_group.as_deref().unwrap_or("-"),
            alpn.as_deref().unwrap_or("-"),
        ),
        Tls::Handshake {
            messages,
            record_length,
        } => format!("{} ({record_length}-byte record)", messages.join(", ")),
        Tls::ChangeCipherSpec { compat: true } => {
            "ChangeCipherSpec (TLS1.3 compatibility, no key change)".into()
        }
        Tls::ChangeCipherSpec { compat: false } => "ChangeCipherSpec".into(),
        Tls::EncryptedHandshake { length } => {
            format!("encrypted handshake message ({length} bytes)")
        }
        Tls::Encrypted { length, note: None } => format!("encrypted record ({length} bytes)"),
        Tls::Encrypted {
            length,
            note: Some(n),
        } => format!("encrypted record ({length} bytes; {n})"),
        Tls::Alert { level, description } => format!("Alert {level} {description}"),
        Tls::EncryptedAlert { length, note } => format!(
            "encrypted alert ({length} bytes{})",
            note.as_ref().map(|n| format!("; {n}")).unwrap_or_default()
        ),
        Tls::Unparsed {
            record_type,
            length,
            reason,
        } => format!("TLS record type {record_type} ({length} bytes): {reason}"),
    }
}
