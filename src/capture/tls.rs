//! TLS as the wire shows it: records cut from each direction's reassembled
//! stream, handshake messages, extensions and cipher-suite names decoded by
//! tls-parser; ours is deciding which records are encrypted and naming
//! versions and groups.
//!
//! What the wire does not show, and so is not claimed: in TLS 1.3 every
//! record after ServerHello is an opaque `application_data` record — the
//! server's certificate, Finished, the HTTP request, and also alerts,
//! close_notify included. A final 19-byte record (2 bytes of alert + 1 byte
//! of inner content type + 16 bytes of AEAD tag, no padding as rustls sends
//! it) before the FIN is *reported as* "close_notify?" — an inference from
//! size and position, marked as such. In TLS 1.2 the record type of an
//! alert stays visible (`encrypted alert`), its description does not.

use std::collections::{HashMap, HashSet};

use tls_parser::{
    ECParametersContent, NamedGroup, TlsCipherSuite, TlsExtension, TlsMessage, TlsMessageHandshake,
    TlsRecordHeader, TlsRecordType, TlsVersion, parse_ecdh_params,
    parse_tls_client_hello_extensions, parse_tls_raw_record, parse_tls_record_with_header,
    parse_tls_server_hello_extensions,
};

use super::stream::{Half, Stream};
use super::timeline::Tls;

pub(super) const CLOSE_NOTIFY_NOTE: &str = "alert by size and position: likely close_notify";
/// An alert-sized last record from a side that never finished its
/// handshake (it sent nothing encrypted before): an abort, such as a
/// client refusing the certificate, not an orderly close.
pub(super) const HANDSHAKE_ALERT_NOTE: &str =
    "alert by size, before this side finished its handshake: an abort, not close_notify";

/// SHA-256("HelloRetryRequest"): the ServerHello.random of an HRR (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// One whole record of one direction, not yet interpreted (whether it is
/// encrypted depends on what the connection did before it).
pub(super) struct RawRecord {
    half: Half,
    /// The packet that completed the record.
    packet: usize,
    /// Position among the direction's records.
    order: usize,
    header: TlsRecordHeader,
    data: Vec<u8>,
}

/// Cuts the stream into records; stops at an incomplete record at the end
/// or at bytes that are not TLS any more.
pub(super) fn records(half: Half, stream: &Stream) -> Vec<RawRecord> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < stream.bytes.len() {
        let Ok((rest, raw)) = parse_tls_raw_record(&stream.bytes[pos..]) else {
            break;
        };
        let used = stream.bytes.len() - pos - rest.len();
        out.push(RawRecord {
            half,
            packet: stream.completed_by(pos, pos + used).unwrap_or(0),
            order: out.len(),
            header: raw.hdr,
            data: raw.data.to_vec(),
        });
        pos += used;
    }
    out
}

/// The TLS items of one connection (both directions' records), by packet
/// index.
pub(super) fn interpret(mut records: Vec<RawRecord>) -> HashMap<usize, Vec<Tls>> {
    records.sort_by_key(|r| (r.packet, r.order));
    let mut tls13 = false;
    // Directions that sent a (TLS 1.2) ChangeCipherSpec: encrypted after it.
    let mut changed_cipher: HashSet<Half> = HashSet::new();
    let mut out: HashMap<usize, Vec<Tls>> = HashMap::new();
    let mut last_of_half: HashMap<Half, (usize, usize)> = HashMap::new();
    // Encrypted records each side sent: one that sent a single one never
    // got past its handshake (its Finished is encrypted too).
    let mut encrypted_of_half: HashMap<Half, usize> = HashMap::new();
    for r in records {
        let len = r.data.len();
        let encrypted_12 = !tls13 && changed_cipher.contains(&r.half);
        let items = match r.header.record_type {
            TlsRecordType::Handshake if encrypted_12 => {
                vec![Tls::EncryptedHandshake { length: len }]
            }
            TlsRecordType::Handshake => match parse_tls_record_with_header(&r.data, &r.header) {
                Ok((_, msgs)) => handshake_items(msgs, len, &mut tls13),
                Err(_) => vec![Tls::Handshake {
                    messages: vec!["handshake fragment (not parsed)".into()],
                    record_length: len,
                }],
            },
            TlsRecordType::ChangeCipherSpec => {
                if !tls13 {
                    changed_cipher.insert(r.half);
                }
                vec![Tls::ChangeCipherSpec { compat: tls13 }]
            }
            TlsRecordType::Alert if encrypted_12 || len != 2 => {
                vec![Tls::EncryptedAlert {
                    length: len,
                    note: None,
                }]
            }
            TlsRecordType::Alert => alert_items(&r, len),
            TlsRecordType::ApplicationData => vec![Tls::Encrypted {
                length: len,
                note: None,
            }],
            other => vec![Tls::Unparsed {
                record_type: other.0,
                length: len,
                reason: "record type not decoded".into(),
            }],
        };
        let encrypted = items
            .iter()
            .filter(|i| matches!(i, Tls::Encrypted { .. } | Tls::EncryptedAlert { .. }))
            .count();
        *encrypted_of_half.entry(r.half).or_default() += encrypted;
        let slot = out.entry(r.packet).or_default();
        for item in items {
            slot.push(item);
            last_of_half.insert(r.half, (r.packet, slot.len() - 1));
        }
    }
    // The last record of each side: an alert-sized encrypted record is
    // marked as a likely close_notify (never stated as fact).
    for (half, (packet, i)) in last_of_half {
        let finished = encrypted_of_half.get(&half).copied().unwrap_or_default() > 1;
        if let Some(item) = out.get_mut(&packet).and_then(|v| v.get_mut(i)) {
            match item {
                // TLS 1.3: 2 (alert) + 1 (inner type) + 16 (tag)
                Tls::Encrypted { length: 19, note } if tls13 && finished => {
                    *note = Some(CLOSE_NOTIFY_NOTE.into())
                }
                Tls::Encrypted { length: 19, note } if tls13 => {
                    *note = Some(HANDSHAKE_ALERT_NOTE.into())
                }
                // TLS 1.2: AES-GCM 8+2+16, ChaCha20 2+16, CBC varies
                Tls::EncryptedAlert { note, .. } => *note = Some(CLOSE_NOTIFY_NOTE.into()),
                _ => {}
            }
        }
    }
    out
}

/// A cleartext 2-byte alert record.
fn alert_items(r: &RawRecord, len: usize) -> Vec<Tls> {
    match parse_tls_record_with_header(&r.data, &r.header) {
        Ok((_, msgs)) => msgs
            .into_iter()
            .filter_map(|m| match m {
                TlsMessage::Alert(a) => Some(Tls::Alert {
                    level: match a.severity.0 {
                        1 => "warning".into(),
                        2 => "fatal".into(),
                        n => format!("level {n}"),
                    },
                    description: snake_case(&a.code.to_string()),
                }),
                _ => None,
            })
            .collect(),
        Err(_) => vec![Tls::EncryptedAlert {
            length: len,
            note: None,
        }],
    }
}

/// The messages of a cleartext handshake record. Sets `tls13` once a
/// ServerHello (not a HelloRetryRequest) chose TLS 1.3: from then on every
/// application_data record is also the encrypted handshake.
fn handshake_items(msgs: Vec<TlsMessage<'_>>, record_len: usize, tls13: &mut bool) -> Vec<Tls> {
    let mut out = Vec::new();
    let mut others: Vec<String> = Vec::new();
    for msg in msgs {
        let TlsMessage::Handshake(hs) = msg else {
            continue;
        };
        match hs {
            TlsMessageHandshake::ClientHello(ch) => {
                let mut sni = None;
                let mut versions = Vec::new();
                let mut groups = Vec::new();
                let mut alpn = Vec::new();
                if let Some(ext) = ch.ext
                    && let Ok((_, exts)) = parse_tls_client_hello_extensions(ext)
                {
                    for e in exts {
                        match e {
                            TlsExtension::SNI(names) => {
                                sni = names
                                    .first()
                                    .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                            }
                            TlsExtension::SupportedVersions(vs) => {
                                versions = vs.iter().map(|v| version_name(v.0)).collect();
                            }
                            TlsExtension::KeyShare(body) => {
                                groups = key_share_groups(body, true)
                                    .into_iter()
                                    .map(group_name)
                                    .collect();
                            }
                            TlsExtension::ALPN(protos) => {
                                alpn = protos
                                    .iter()
                                    .map(|p| String::from_utf8_lossy(p).into_owned())
                                    .collect();
                            }
                            _ => {}
                        }
                    }
                }
                if versions.is_empty() {
                    versions.push(version_name(ch.version.0));
                }
                out.push(Tls::ClientHello {
                    sni,
                    versions,
                    key_share_groups: groups,
                    alpn,
                    cipher_suites: ch.ciphers.len(),
                });
            }
            TlsMessageHandshake::ServerHello(sh) => {
                let mut version = sh.version.0;
                let mut group = None;
                let mut alpn = None;
                if let Some(ext) = sh.ext
                    && let Ok((_, exts)) = parse_tls_server_hello_extensions(ext)
                {
                    for e in exts {
                        match e {
                            TlsExtension::SupportedVersions(vs) => {
                                if let Some(v) = vs.first() {
                                    version = v.0;
                                }
                            }
                            TlsExtension::KeyShare(body) => {
                                group = key_share_groups(body, false)
                                    .first()
                                    .map(|g| group_name(*g));
                            }
                            TlsExtension::ALPN(protos) => {
                                alpn = protos
                                    .first()
                                    .map(|p| String::from_utf8_lossy(p).into_owned());
                            }
                            _ => {}
                        }
                    }
                }
                let hello_retry_request = sh.random == HRR_RANDOM;
                if version == 0x0304 && !hello_retry_request {
                    *tls13 = true;
                }
                out.push(Tls::ServerHello {
                    version: version_name(version),
                    cipher: cipher_name(sh.cipher.0),
                    key_share_group: group,
                    alpn,
                    hello_retry_request,
                });
            }
            TlsMessageHandshake::ServerKeyExchange(ske) => {
                let group = match parse_ecdh_params(ske.parameters) {
                    Ok((_, p)) => match p.curve_params.params_content {
                        ECParametersContent::NamedGroup(g) => format!("({})", group_name(g.0)),
                        _ => String::new(),
                    },
                    Err(_) => String::new(),
                };
                others.push(format!("ServerKeyExchange{group}"));
            }
            TlsMessageHandshake::ServerDone(_) => others.push("ServerHelloDone".into()),
            other => {
                // The variant's name, from tls-parser's Debug form.
                let name = format!("{other:?}");
                others.push(
                    name.split(['(', ' ', '{'])
                        .next()
                        .unwrap_or("Handshake")
                        .to_string(),
                );
            }
        }
    }
    if !others.is_empty() {
        out.push(Tls::Handshake {
            messages: others,
            record_length: record_len,
        });
    }
    out
}

/// The groups of a key_share extension. tls-parser hands the extension's
/// body over unparsed; it is a list of (u16 group, u16 length, bytes), or
/// in a ServerHello a single entry, or in a HelloRetryRequest a bare group.
fn key_share_groups(body: &[u8], client: bool) -> Vec<u16> {
    let be16 = |at: usize| -> Option<u16> {
        Some(u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]))
    };
    if !client {
        // ServerHello: one entry; HelloRetryRequest: the group alone.
        return be16(0).into_iter().collect();
    }
    let mut out = Vec::new();
    let Some(list_len) = be16(0) else { return out };
    let end = (2 + list_len as usize).min(body.len());
    let mut at = 2;
    while at + 4 <= end {
        let (Some(group), Some(len)) = (be16(at), be16(at + 2)) else {
            break;
        };
        out.push(group);
        at += 4 + len as usize;
    }
    out
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL3.0".into(),
        0x0301 => "TLS1.0".into(),
        0x0302 => "TLS1.1".into(),
        0x0303 => "TLS1.2".into(),
        0x0304 => "TLS1.3".into(),
        v if v & 0x0f0f == 0x0a0a => "GREASE".into(),
        v => format!("{:?}", TlsVersion(v)),
    }
}

/// IANA names; tls-parser's for the groups not listed.
fn group_name(g: u16) -> String {
    match g {
        0x0017 => "P-256".into(),
        0x0018 => "P-384".into(),
        0x0019 => "P-521".into(),
        0x001d => "X25519".into(),
        0x001e => "X448".into(),
        0x11eb => "SecP256r1MLKEM768".into(),
        0x11ec => "X25519MLKEM768".into(),
        0x6399 => "X25519Kyber768Draft00".into(),
        g if g & 0x0f0f == 0x0a0a => "GREASE".into(),
        g => format!("{:?}", NamedGroup(g)),
    }
}

fn cipher_name(id: u16) -> String {
    match TlsCipherSuite::from_id(id) {
        Some(c) => c.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

/// tls-parser names alert descriptions in CamelCase; RFC 8446 uses
/// snake_case (`close_notify`).
fn snake_case(camel: &str) -> String {
    let mut s = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_share_walk_survives_short_and_lying_lengths() {
        // Two entries: X25519 (32 bytes) and P-256 (1 byte, cut short).
        let mut body = vec![0, 40, 0x00, 0x1d, 0, 32];
        body.extend([0u8; 32]);
        body.extend([0x00, 0x17, 0, 1, 9]);
        assert_eq!(key_share_groups(&body, true), [0x001d, 0x0017]);
        assert_eq!(key_share_groups(&[0, 200, 0x00], true), Vec::<u16>::new());
        assert_eq!(key_share_groups(&[0x00], true), Vec::<u16>::new());
        assert_eq!(key_share_groups(&[0x00, 0x1d, 0, 32], false), [0x001d]);
        assert_eq!(key_share_groups(&[], false), Vec::<u16>::new());
    }

    #[test]
    fn names() {
        assert_eq!(snake_case("CloseNotify"), "close_notify");
        assert_eq!(version_name(0x3a3a), "GREASE");
        assert_eq!(group_name(0x11ec), "X25519MLKEM768");
        assert_eq!(cipher_name(0x1302), "TLS_AES_256_GCM_SHA384");
    }
}
