//! A recorded exchange as a ladder diagram (SVG): one column per party —
//! the probing side, the resolver it asked, the server — and one arrow per
//! packet, or per TLS record where a packet carries records, in time order,
//! labelled (SYN, SYN/ACK, ClientHello with SNI and versions, ServerHello
//! with version, cipher and group, encrypted records with their sizes,
//! alerts, FIN/RST, the DNS lookup before). Bands behind the arrows name
//! the phases: DNS lookup, TCP handshake, TLS handshake, data, close.
//!
//! Only reads the timeline: what is shown is what was recorded; the phase
//! of a TLS 1.3 record is placed by the protocol's order (everything the
//! server sends between ServerHello and the client's first encrypted
//! record is its encrypted handshake).

use std::fmt::Write as _;

use super::esc;
use super::model::Check;
use crate::capture::{Direction, Dns, Entry, Layer, Timeline, Tls};
use crate::report::topology::Topology;

const WIDTH: f64 = 900.0;
const TOP: f64 = 50.0;
const ROW: f64 = 25.0;
const TIME_W: f64 = 74.0;
const BAND_X: f64 = 740.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Dns,
    TcpHandshake,
    TlsHandshake,
    Data,
    Close,
    Other,
}

#[derive(Debug, Clone)]
struct Arrow {
    /// Milliseconds; only on the first arrow of a packet.
    time: Option<f64>,
    /// Column indices.
    from: usize,
    to: usize,
    label: String,
    class: &'static str,
    phase: Phase,
}

/// `172.18.0.2:48990` → `172.18.0.2`.
fn ip_of(endpoint: &str) -> &str {
    if let Some(rest) = endpoint.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match endpoint.rsplit_once(':') {
        Some((ip, _)) => ip,
        None => endpoint,
    }
}

fn is_dns(e: &Entry) -> bool {
    matches!(&e.layer, Layer::Udp { dns: Some(_), .. })
}

/// The parties: the probing side (every packet recorded is its own, so a
/// packet's direction says which end it is); the resolver it asked, left
/// of it; the servers, to its right in order of appearance. A server is
/// told apart by its address, or by address and port where it shares the
/// client's address (a host probing its own published port on loopback).
struct Columns {
    /// (key, label, sub-label, x)
    list: Vec<(String, String, String, f64)>,
    client: usize,
}

impl Columns {
    /// The column of the far end of a packet.
    fn peer(&self, e: &Entry, client_ips: &[String]) -> Option<usize> {
        let key = peer_key(e, client_ips);
        self.list.iter().position(|c| c.0 == key)
    }
}

/// The probing side's addresses: the sources of its outgoing packets.
fn client_ips(t: &Timeline) -> Vec<String> {
    let mut ips: Vec<String> = Vec::new();
    for e in t.entries.iter().filter(|e| e.direction == Direction::Out) {
        let ip = ip_of(&e.src).to_owned();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    ips
}

/// `dns` for the resolver, else the far end's address (with its port when
/// the client has that address too).
fn peer_key(e: &Entry, client_ips: &[String]) -> String {
    if is_dns(e) {
        return "dns".into();
    }
    let peer = match e.direction {
        Direction::Out => &e.dst,
        Direction::In => &e.src,
    };
    let ip = ip_of(peer);
    if client_ips.iter().any(|c| c == ip) {
        peer.clone()
    } else {
        ip.to_owned()
    }
}

fn columns(t: &Timeline, check: &Check, topo: Option<&Topology>) -> (Columns, Vec<String>) {
    let ips = client_ips(t);
    let mut resolver: Option<String> = None;
    let mut servers: Vec<String> = Vec::new();
    let mut client_ip: Option<String> = None;
    for e in &t.entries {
        let (mine, peer) = match e.direction {
            Direction::Out => (&e.src, &e.dst),
            Direction::In => (&e.dst, &e.src),
        };
        if is_dns(e) {
            resolver.get_or_insert_with(|| ip_of(peer).to_owned());
            continue;
        }
        client_ip.get_or_insert_with(|| ip_of(mine).to_owned());
        let key = peer_key(e, &ips);
        if !servers.contains(&key) {
            servers.push(key);
        }
    }
    let client_name = check
        .endpoints
        .as_ref()
        .and_then(|e| e.from.node.clone())
        .unwrap_or_else(|| "the Docker host".into());
    let mut list = Vec::new();
    if let Some(r) = &resolver {
        let label = if r == "127.0.0.11" {
            "Docker's embedded DNS"
        } else {
            "resolver"
        };
        list.push(("dns".to_owned(), label.to_owned(), r.clone(), 0.0));
    }
    let client = list.len();
    let client_ip = client_ip
        .or_else(|| ips.first().cloned())
        .unwrap_or_default();
    list.push(("client".to_owned(), client_name, client_ip, 0.0));
    for key in &servers {
        let label = name_of(ip_of(key), topo, check)
            .or_else(|| {
                // A published port reached on the host's own address.
                check
                    .endpoints
                    .as_ref()
                    .and_then(|e| e.to.as_ref())
                    .and_then(|to| to.node.clone())
                    .filter(|_| key.contains(':') && !key.starts_with('['))
            })
            .unwrap_or_else(|| "server".into());
        list.push((key.clone(), label, key.clone(), 0.0));
    }
    // x positions: the resolver near the left, the client next, servers
    // spread to the right up to the phase bands.
    let left = TIME_W + 70.0;
    let right = BAND_X - 60.0;
    let client_x = if resolver.is_some() {
        left + 240.0
    } else {
        left
    };
    if resolver.is_some() {
        list[0].3 = left;
    }
    list[client].3 = client_x;
    let n = servers.len().max(1) as f64;
    for (k, col) in list.iter_mut().skip(client + 1).enumerate() {
        col.3 = client_x + (right - client_x) * (k as f64 + 1.0) / n;
    }
    (Columns { list, client }, ips)
}

/// The node an address belongs to: the check's target when it is that
/// address, else a node on the probing side's host (bridge subnets repeat
/// from one engine to the next), else any.
fn name_of(ip: &str, topo: Option<&Topology>, check: &Check) -> Option<String> {
    let ends = check.endpoints.as_ref();
    if let Some(to) = ends.and_then(|e| e.to.as_ref())
        && to.address.as_deref() == Some(ip)
        && to.node.is_some()
    {
        return to.node.clone();
    }
    let here = ends.and_then(|e| e.from.host.as_deref());
    let holds = |n: &&crate::report::topology::Node| {
        n.networks.iter().any(|a| a.address.as_deref() == Some(ip))
    };
    let nodes = &topo?.nodes;
    nodes
        .iter()
        .filter(|n| here.is_none_or(|h| n.host == h))
        .find(holds)
        .or_else(|| nodes.iter().find(holds))
        .map(|n| n.name.clone())
}

fn versions(v: &[String]) -> String {
    v.iter()
        .filter(|x| x.as_str() != "GREASE")
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

fn dns_label(d: &Dns) -> String {
    let q = d
        .questions
        .first()
        .map(|q| {
            let mut p = q.splitn(2, ' ');
            let name = p.next().unwrap_or("").trim_end_matches('.').to_owned();
            match p.next() {
                Some(t) => format!("{name} {t}"),
                None => name,
            }
        })
        .unwrap_or_default();
    if !d.response {
        return format!("DNS query: {q}?");
    }
    let answers: Vec<&str> = d
        .answers
        .iter()
        .map(|a| a.rsplit(' ').next().unwrap_or(""))
        .collect();
    if answers.is_empty() {
        format!("DNS answer: {q} → {}", d.rcode)
    } else {
        format!("DNS answer: {q} → {}", answers.join(", "))
    }
}

/// Reads the timeline into arrows, with the TLS bookkeeping that places
/// each record in its phase.
fn arrows(t: &Timeline, cols: &Columns, client_ips: &[String]) -> Vec<Arrow> {
    let mut out: Vec<Arrow> = Vec::new();
    let mut after_synack = false;
    let mut tls13 = false;
    // TLS 1.3: between ServerHello and the client's first encrypted record.
    let mut encrypted_handshake = false;
    let mut closing = false;
    let mut tls_stream = false;
    for e in &t.entries {
        let Some(peer) = cols.peer(e, client_ips) else {
            continue;
        };
        let (from, to) = match e.direction {
            Direction::Out => (cols.client, peer),
            Direction::In => (peer, cols.client),
        };
        let out_dir = e.direction == Direction::Out;
        let mut here: Vec<(String, &'static str, Phase)> = Vec::new();
        match &e.layer {
            Layer::Udp { dns: Some(d), .. } => here.push((dns_label(d), "a-dns", Phase::Dns)),
            Layer::Udp { len, .. } => here.push((format!("UDP · {len} B"), "a-ctl", Phase::Data)),
            Layer::Icmp { text } | Layer::Other { text } => {
                // An error report (unreachable, time exceeded) is an alarm;
                // anything else (an echo) only keeps the phase it is in.
                let alarm = ["unreachable", "exceeded", "problem"]
                    .iter()
                    .any(|w| text.to_lowercase().contains(w));
                let phase = out.last().map(|a| a.phase).unwrap_or(Phase::Other);
                here.push((
                    text.clone(),
                    if alarm { "a-alert" } else { "a-other" },
                    phase,
                ))
            }
            Layer::Tcp {
                flags,
                len,
                tls,
                text,
                ..
            } => {
                let has = |f: &str| flags.iter().any(|x| x == f);
                if has("SYN") {
                    let word = if has("ACK") { "SYN/ACK" } else { "SYN" };
                    after_synack = has("ACK");
                    here.push((word.into(), "a-ctl", Phase::TcpHandshake));
                } else if has("RST") {
                    closing = true;
                    here.push((
                        if has("ACK") { "RST/ACK" } else { "RST" }.into(),
                        "a-rst",
                        Phase::Close,
                    ));
                }
                for r in tls {
                    tls_stream = true;
                    here.push(record(
                        r,
                        out_dir,
                        &mut tls13,
                        &mut encrypted_handshake,
                        &mut closing,
                    ));
                }
                if let Some(text) = text {
                    here.push((
                        format!("“{text}” · {len} B, readable on the wire"),
                        "a-plain",
                        Phase::Data,
                    ));
                } else if tls.is_empty() && *len > 0 {
                    let what = if tls_stream {
                        format!("{len} B of a TLS record (completed in a later segment)")
                    } else {
                        format!("{len} B of data")
                    };
                    here.push((
                        what,
                        if tls_stream { "a-enc" } else { "a-ctl" },
                        Phase::Data,
                    ));
                }
                if has("FIN") {
                    closing = true;
                    here.push(("FIN".into(), "a-ctl", Phase::Close));
                }
                if here.is_empty() {
                    let phase = if after_synack {
                        after_synack = false;
                        Phase::TcpHandshake
                    } else if closing {
                        Phase::Close
                    } else {
                        out.last().map(|a| a.phase).unwrap_or(Phase::Other)
                    };
                    here.push(("ACK".into(), "a-ack", phase));
                } else if !has("SYN") {
                    after_synack = false;
                }
            }
        }
        for (i, (label, class, phase)) in here.into_iter().enumerate() {
            out.push(Arrow {
                time: (i == 0).then(|| e.offset_ms()),
                from,
                to,
                label,
                class,
                phase,
            });
        }
    }
    out
}

fn record(
    r: &Tls,
    out_dir: bool,
    tls13: &mut bool,
    encrypted_handshake: &mut bool,
    closing: &mut bool,
) -> (String, &'static str, Phase) {
    let hs = Phase::TlsHandshake;
    match r {
        Tls::ClientHello {
            sni,
            versions: v,
            key_share_groups,
            alpn,
            ..
        } => {
            let mut s = format!(
                "ClientHello · SNI {} · offers {}",
                sni.as_deref().unwrap_or("(none)"),
                versions(v)
            );
            if !key_share_groups.is_empty() {
                let _ = write!(s, " · key share {}", key_share_groups.join(", "));
            }
            if !alpn.is_empty() {
                let _ = write!(s, " · ALPN {}", alpn.join(", "));
            }
            (s, "a-hello", hs)
        }
        Tls::ServerHello {
            version,
            cipher,
            key_share_group,
            hello_retry_request,
            ..
        } => {
            *tls13 = version == "TLS1.3";
            *encrypted_handshake = *tls13 && !hello_retry_request;
            let mut s = format!(
                "{} · {version} · {cipher}",
                if *hello_retry_request {
                    "HelloRetryRequest"
                } else {
                    "ServerHello"
                }
            );
            if let Some(g) = key_share_group {
                let _ = write!(s, " · key share {g}");
            }
            (s, "a-hello", hs)
        }
        Tls::Handshake {
            messages,
            record_length,
        } => (
            format!("{} · {record_length} B", messages.join(", ")),
            "a-hello",
            hs,
        ),
        Tls::ChangeCipherSpec { compat: true } => (
            "ChangeCipherSpec (TLS 1.3 compatibility, no key change)".into(),
            "a-ack",
            hs,
        ),
        Tls::ChangeCipherSpec { compat: false } => ("ChangeCipherSpec".into(), "a-hello", hs),
        Tls::EncryptedHandshake { length } => (
            format!("encrypted handshake message (Finished) · {length} B"),
            "a-enc",
            hs,
        ),
        Tls::Encrypted { length, note } => {
            if let Some(n) = note {
                *closing = true;
                return (
                    format!("encrypted record · {length} B ({n})"),
                    "a-alert",
                    Phase::Close,
                );
            }
            if *encrypted_handshake {
                if out_dir {
                    *encrypted_handshake = false;
                }
                return (
                    format!("encrypted handshake record · {length} B"),
                    "a-enc",
                    hs,
                );
            }
            (
                format!("encrypted record · {length} B"),
                "a-enc",
                Phase::Data,
            )
        }
        Tls::Alert { level, description } => {
            *closing = true;
            (
                format!("Alert · {level} {description}"),
                "a-alert",
                Phase::Close,
            )
        }
        Tls::EncryptedAlert { length, note } => {
            *closing = true;
            let note = note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            (
                format!("encrypted alert · {length} B{note}"),
                "a-alert",
                Phase::Close,
            )
        }
        Tls::Unparsed {
            record_type,
            length,
            reason,
        } => (
            format!("TLS record type {record_type} · {length} B ({reason})"),
            "a-alert",
            Phase::Other,
        ),
    }
}

fn phase_name(p: Phase, arrows: &[&Arrow]) -> &'static str {
    match p {
        Phase::Dns => "DNS lookup",
        Phase::TcpHandshake => "TCP handshake",
        Phase::TlsHandshake => "TLS handshake",
        Phase::Data if arrows.iter().any(|a| a.class == "a-enc") => "encrypted data",
        Phase::Data => "data",
        Phase::Close
            if arrows
                .iter()
                .all(|a| a.class == "a-rst" || a.class == "a-ack") =>
        {
            "reset"
        }
        Phase::Close => "close",
        Phase::Other => "",
    }
}

const LADDER_LEGEND: &str = "<p class=\"ladder-legend\"><span class=\"a-ctl\">TCP control</span> <span class=\"a-ack\">bare ACK</span> <span class=\"a-dns\">DNS</span> <span class=\"a-hello\">TLS in clear (hellos)</span> <span class=\"a-enc\">encrypted</span> <span class=\"a-plain\">readable payload</span> <span class=\"a-alert\">alert, reset</span> · times in ms since the first packet</p>\n";

fn px(v: f64) -> String {
    format!("{v:.0}")
}

pub fn render(t: &Timeline, check: &Check, topo: Option<&Topology>) -> String {
    let (cols, ips) = columns(t, check, topo);
    let list = arrows(t, &cols, &ips);
    let height = TOP + list.len() as f64 * ROW + 16.0;
    let mut out = String::new();
    let _ = write!(
        out,
        "<div class=\"scroll\"><svg class=\"ladder\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{} between {}\">",
        crate::report::count(t.entries.len(), "packet"),
        esc(&cols
            .list
            .iter()
            .map(|c| c.1.clone())
            .collect::<Vec<_>>()
            .join(", ")),
        w = px(WIDTH),
        h = px(height),
    );
    // Phase bands behind the rows.
    let mut i = 0;
    while i < list.len() {
        let p = list[i].phase;
        let mut j = i;
        while j < list.len() && list[j].phase == p {
            j += 1;
        }
        let members: Vec<&Arrow> = list[i..j].iter().collect();
        let name = phase_name(p, &members);
        if !name.is_empty() {
            let (y1, y2) = (TOP + i as f64 * ROW, TOP + j as f64 * ROW);
            let _ = write!(
                out,
                "<rect class=\"band p{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/><text class=\"phase\" x=\"{}\" y=\"{}\">{name}</text>",
                i % 2,
                px(TIME_W),
                px(y1),
                px(WIDTH - TIME_W),
                px(y2 - y1),
                px(BAND_X + 8.0),
                format_args!("{:.0}", (y1 + y2) / 2.0 + 4.0),
            );
        }
        i = j;
    }
    // Lifelines and their heads.
    for (_, label, sub, x) in &cols.list {
        let _ = write!(
            out,
            "<line class=\"life\" x1=\"{x}\" y1=\"38\" x2=\"{x}\" y2=\"{}\"/><text class=\"col\" x=\"{x}\" y=\"16\">{}</text><text class=\"col-sub\" x=\"{x}\" y=\"31\">{}</text>",
            px(height - 6.0),
            esc(label),
            esc(sub),
            x = px(*x)
        );
    }
    let _ = write!(out, "<text class=\"t-head\" x=\"4\" y=\"31\">ms</text>");
    for (k, a) in list.iter().enumerate() {
        let y = TOP + k as f64 * ROW + ROW * 0.72;
        let (x1, x2) = (cols.list[a.from].3, cols.list[a.to].3);
        let dir = if x2 >= x1 { 1.0 } else { -1.0 };
        let tip = x2 - dir * 2.0;
        if let Some(ms) = a.time {
            let _ = write!(
                out,
                "<text class=\"t\" x=\"4\" y=\"{}\">{ms:.3}</text>",
                px(y + 4.0)
            );
        }
        let _ = write!(
            out,
            "<g class=\"{}\"><line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/><polygon points=\"{},{y} {},{} {},{}\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            a.class,
            px(x1),
            px(tip - dir * 6.0),
            px(tip),
            px(tip - dir * 9.0),
            px(y - 4.0),
            px(tip - dir * 9.0),
            px(y + 4.0),
            px((x1 + x2) / 2.0),
            px(y - 5.0),
            esc(&a.label),
            y = px(y),
        );
    }
    out.push_str("</svg></div>\n");
    out.push_str(LADDER_LEGEND);
    if list
        .iter()
        .any(|a| a.label.starts_with("encrypted handshake record"))
    {
        out.push_str("<p class=\"ladder-note\">In TLS 1.3 everything after ServerHello is encrypted: the server's certificate, the proof it holds the key, and both Finished messages travel as the encrypted handshake records above; the key exchange itself is the key shares in the two hellos.</p>\n");
    }
    out
}

#[cfg(test)]
pub(super) fn arrow_labels(t: &Timeline) -> Vec<String> {
    let check = Check::default();
    let (cols, ips) = columns(t, &check, None);
    arrows(t, &cols, &ips)
        .into_iter()
        .map(|a| a.label)
        .collect()
}

/// Each arrow as (from column's label, to column's label, label).
#[cfg(test)]
pub(super) fn arrow_ends(t: &Timeline) -> Vec<(String, String, String)> {
    let check = Check::default();
    let (cols, ips) = columns(t, &check, None);
    arrows(t, &cols, &ips)
        .into_iter()
        .map(|a| {
            (
                cols.list[a.from].2.clone(),
                cols.list[a.to].2.clone(),
                a.label,
            )
        })
        .collect()
}
