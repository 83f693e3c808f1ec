//! Decoding the captures recorded in real containers by the prototype
//! (tests/data/capture/): no Docker needed. Also: altered captures
//! (segments split, retransmitted, corrupted) and the JSON round trip of
//! every decoded timeline.

use etherparse::{NetSlice, PacketBuilder, SlicedPacket, TransportSlice};

use super::test_support::{CAPTURES, load};
use super::*;

const NEEDLES: [&[u8]; 2] = [
    b"GET /secret-path HTTP/1.1",
    b"secret-body=correct-horse-battery-staple",
];

fn tls_items(t: &Timeline) -> Vec<(usize, &Tls)> {
    t.entries
        .iter()
        .enumerate()
        .flat_map(|(i, e)| match &e.layer {
            Layer::Tcp { tls, .. } => tls.iter().map(move |x| (i, x)).collect::<Vec<_>>(),
            _ => vec![],
        })
        .collect()
}

#[test]
fn tls13_client_hello_comes_first_with_the_right_sni() {
    let t = decode(&load("tls13"));
    let items = tls_items(&t);
    let (ch_at, ch) = items
        .iter()
        .find(|(_, x)| matches!(x, Tls::ClientHello { .. }))
        .expect("a ClientHello");
    let first_encrypted = items
        .iter()
        .find(|(_, x)| matches!(x, Tls::Encrypted { .. }))
        .map(|(i, _)| *i)
        .expect("encrypted records");
    assert!(
        ch_at < &first_encrypted,
        "ClientHello before any application data"
    );
    assert_eq!(t.entries[*ch_at].direction, Direction::Out);
    let Tls::ClientHello {
        sni,
        versions,
        key_share_groups,
        alpn,
        cipher_suites,
    } = ch
    else {
        unreachable!("found as a ClientHello")
    };
    assert_eq!(sni.as_deref(), Some("www"));
    assert_eq!(versions, &["TLS1.3", "TLS1.2"]);
    assert_eq!(key_share_groups, &["X25519"]);
    assert_eq!(alpn, &["http/1.1"]);
    assert!(*cipher_suites >= 3);
}

#[test]
fn tls13_server_hello_version_cipher_group() {
    let t = decode(&load("tls13"));
    let items = tls_items(&t);
    let (at, sh) = items
        .iter()
        .find(|(_, x)| matches!(x, Tls::ServerHello { .. }))
        .expect("a ServerHello");
    assert_eq!(t.entries[*at].direction, Direction::In);
    assert_eq!(
        *sh,
        &Tls::ServerHello {
            version: "TLS1.3".into(),
            cipher: "TLS_AES_256_GCM_SHA384".into(),
            key_share_group: Some("X25519".into()),
            alpn: None,
            hello_retry_request: false,
        }
    );
    // Everything after ServerHello is opaque; the final 19-byte records are
    // only *inferred* to be close_notify.
    let notes = items
        .iter()
        .filter(|(_, x)| {
            matches!(
                x,
                Tls::Encrypted {
                    length: 19,
                    note: Some(_)
                }
            )
        })
        .count();
    assert_eq!(notes, 2);
}

#[test]
fn tls13_summary_and_dns_timeline() {
    let t = decode(&load("tls13"));
    let line = summary(&t);
    assert!(
        line.starts_with(
            "DNS(www A → 192.168.48.2) → SYN → SYN/ACK → ACK → ClientHello(www, TLS1.3) → ServerHello(TLS1.3, X25519) → 5 encrypted records → close_notify? → FIN"
        ),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(": {} packets, 4.9 ms", t.entries.len())),
        "{line}"
    );
    // The DNS question and answer come before the SYN.
    let Layer::Udp { dns: Some(q), .. } = &t.entries[0].layer else {
        panic!("DNS query first")
    };
    assert!(!q.response);
    assert_eq!(q.questions, ["www. A"]);
    let Layer::Udp { dns: Some(r), .. } = &t.entries[1].layer else {
        panic!("DNS response second")
    };
    assert_eq!(r.id, q.id);
    assert_eq!(r.answers, ["www. A 192.168.48.2"]);
    assert_eq!(verbose(&t).len(), t.entries.len());
}

#[test]
fn refused_is_syn_then_rst() {
    let t = decode(&load("refused"));
    assert_eq!(t.entries.len(), 2);
    let flags = |i: usize| match &t.entries[i].layer {
        Layer::Tcp { flags, .. } => flags.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(flags(0), ["SYN"]);
    assert_eq!(t.entries[0].direction, Direction::Out);
    assert_eq!(flags(1), ["RST", "ACK"]);
    assert_eq!(t.entries[1].direction, Direction::In);
    assert!(summary(&t).starts_with("SYN → RST: 2 packets"));
}

#[test]
fn plaintext_false_for_tls_true_for_http() {
    assert!(!plaintext_seen(&load("tls13"), &NEEDLES));
    assert!(!plaintext_seen(&load("tls12"), &NEEDLES));
    assert!(plaintext_seen(&load("http"), &NEEDLES));
    let http = decode(&load("http"));
    assert!(summary(&http).contains("\"GET /secret-path HTTP/1.1\" → \"HTTP/1.1 200 OK\""));
}

#[test]
fn tls12_shows_ccs_and_encrypted_alerts() {
    let t = decode(&load("tls12"));
    let items = tls_items(&t);
    assert!(items.iter().any(
        |(_, x)| matches!(x, Tls::ServerHello { version, cipher, .. }
        if version == "TLS1.2" && cipher == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    ));
    assert!(
        items
            .iter()
            .any(|(_, x)| matches!(x, Tls::Handshake { messages, .. }
        if messages.contains(&"ServerKeyExchange(X25519)".to_string())))
    );
    assert_eq!(
        items
            .iter()
            .filter(|(_, x)| matches!(x, Tls::ChangeCipherSpec { compat: false }))
            .count(),
        2
    );
    assert_eq!(
        items
            .iter()
            .filter(|(_, x)| matches!(x, Tls::EncryptedHandshake { .. }))
            .count(),
        2
    );
    assert_eq!(
        items
            .iter()
            .filter(|(_, x)| matches!(x, Tls::EncryptedAlert { .. }))
            .count(),
        2
    );
}

/// Rebuilds an IPv4/TCP packet with another seq and payload.
fn segment(template: &[u8], seq: u32, payload: &[u8]) -> Vec<u8> {
    let p = SlicedPacket::from_ip(template).expect("test packet");
    let Some(NetSlice::Ipv4(ip)) = p.net else {
        panic!("v4")
    };
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        panic!("tcp")
    };
    let h = ip.header();
    let mut b = PacketBuilder::ipv4(h.source_addr().octets(), h.destination_addr().octets(), 64)
        .tcp(t.source_port(), t.destination_port(), seq, t.window_size())
        .ack(t.acknowledgment_number());
    if t.psh() {
        b = b.psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).expect("test packet");
    out
}

#[test]
fn a_client_hello_split_over_segments_and_retransmitted_is_reassembled() {
    let packets = load("tls13");
    let t = decode(&packets);
    let (at, _) = tls_items(&t)
        .into_iter()
        .find(|(_, x)| matches!(x, Tls::ClientHello { .. }))
        .expect("test packet");
    let original = &packets[at];
    let p = SlicedPacket::from_ip(&original.bytes).expect("test packet");
    let Some(TransportSlice::Tcp(tcp)) = p.transport else {
        panic!()
    };
    let (seq, payload) = (tcp.sequence_number(), tcp.payload().to_vec());
    let cut = 100;
    let first = segment(&original.bytes, seq, &payload[..cut]);
    let second = segment(
        &original.bytes,
        seq.wrapping_add(cut as u32),
        &payload[cut..],
    );
    let mut altered = packets.clone();
    let mk = |bytes: Vec<u8>, micros: u64| CapturedPacket {
        offset: original.offset + std::time::Duration::from_micros(micros),
        outgoing: true,
        bytes,
    };
    // first part, a retransmission of it, then the rest
    altered.splice(at..=at, [mk(first.clone(), 0), mk(first, 1), mk(second, 2)]);
    let t2 = decode(&altered);
    let hellos: Vec<_> = tls_items(&t2)
        .into_iter()
        .filter(|(_, x)| matches!(x, Tls::ClientHello { .. }))
        .collect();
    assert_eq!(hellos.len(), 1, "one ClientHello, not one per copy");
    assert_eq!(
        hellos[0].0,
        at + 2,
        "attributed to the segment that completed it"
    );
    assert!(matches!(hellos[0].1, Tls::ClientHello { sni: Some(s), .. } if s == "www"));
    // ServerHello and the rest still decode (relative seq continues).
    assert!(summary(&t2).contains("ServerHello(TLS1.3, X25519) → 5 encrypted records"));
}

#[test]
fn garbage_does_not_panic() {
    let junk = vec![
        CapturedPacket {
            offset: Default::default(),
            outgoing: true,
            bytes: vec![],
        },
        CapturedPacket {
            offset: Default::default(),
            outgoing: false,
            bytes: vec![0x45; 3],
        },
        CapturedPacket {
            offset: Default::default(),
            outgoing: false,
            bytes: (0..200u8).collect(),
        },
    ];
    let t = decode(&junk);
    assert_eq!(t.entries.len(), 3);
    let _ = summary(&t);
    // a TLS-looking stream of nonsense
    let mut packets = load("tls13");
    for p in packets.iter_mut().skip(5) {
        let n = p.bytes.len();
        for b in p.bytes[n.saturating_sub(10)..].iter_mut() {
            *b ^= 0x5a;
        }
    }
    let _ = summary(&decode(&packets));
}

#[test]
fn a_request_line_split_over_two_segments_is_still_seen() {
    let packets = load("http");
    let at = packets
        .iter()
        .position(|p| {
            matches!(SlicedPacket::from_ip(&p.bytes).expect("test packet").transport,
            Some(TransportSlice::Tcp(ref t)) if t.payload().starts_with(b"GET "))
        })
        .expect("test packet");
    let p = SlicedPacket::from_ip(&packets[at].bytes).expect("test packet");
    let Some(TransportSlice::Tcp(tcp)) = p.transport else {
        panic!()
    };
    let (seq, payload) = (tcp.sequence_number(), tcp.payload().to_vec());
    let mut altered = packets.clone();
    let mk = |bytes| CapturedPacket {
        offset: packets[at].offset,
        outgoing: true,
        bytes,
    };
    altered.splice(
        at..=at,
        [
            mk(segment(&packets[at].bytes, seq, &payload[..10])),
            mk(segment(&packets[at].bytes, seq + 10, &payload[10..])),
        ],
    );
    // Neither segment holds the whole line; the reassembled stream does.
    assert!(plaintext_seen(&altered, &[b"GET /secret-path HTTP/1.1"]));
}

#[test]
fn every_decoded_timeline_round_trips_through_json() {
    for (name, _) in CAPTURES {
        let t = decode(&load(name));
        let json = serde_json::to_string(&t).expect("serialise");
        let back: Timeline = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, t, "{name}");
        assert_eq!(summary(&back), summary(&t), "{name}");
    }
}

#[test]
fn every_tls_item_round_trips_through_json() {
    // The captures do not hold every kind (no cleartext alert, no HRR).
    let items = vec![
        Tls::Alert {
            level: "fatal".into(),
            description: "handshake_failure".into(),
        },
        Tls::ServerHello {
            version: "TLS1.3".into(),
            cipher: "TLS_AES_128_GCM_SHA256".into(),
            key_share_group: Some("P-256".into()),
            alpn: None,
            hello_retry_request: true,
        },
        Tls::Encrypted {
            length: 19,
            note: Some("likely".into()),
        },
        Tls::Unparsed {
            record_type: 24,
            length: 3,
            reason: "record type not decoded".into(),
        },
    ];
    let t = Timeline {
        entries: vec![
            Entry {
                offset_ns: 1,
                direction: Direction::In,
                src: "10.0.0.2:443".into(),
                dst: "10.0.0.1:40000".into(),
                length: 60,
                layer: Layer::Tcp {
                    flags: vec!["ACK".into()],
                    seq: 1,
                    ack: None,
                    len: 20,
                    tls: items,
                    text: None,
                },
            },
            Entry {
                offset_ns: 2,
                direction: Direction::In,
                src: "10.0.0.9".into(),
                dst: "10.0.0.1".into(),
                length: 56,
                layer: Layer::Icmp {
                    text: "ICMP time exceeded".into(),
                },
            },
            Entry {
                offset_ns: 3,
                direction: Direction::Out,
                src: "?".into(),
                dst: "?".into(),
                length: 3,
                layer: Layer::Other {
                    text: "undecodable".into(),
                },
            },
            Entry {
                offset_ns: 4,
                direction: Direction::Out,
                src: "10.0.0.1:5000".into(),
                dst: "10.0.0.2:5000".into(),
                length: 29,
                layer: Layer::Udp { len: 1, dns: None },
            },
        ],
    };
    let json = serde_json::to_string(&t).expect("serialise");
    assert_eq!(
        serde_json::from_str::<Timeline>(&json).expect("deserialise"),
        t
    );
    assert!(
        summary(&t).contains("Alert(fatal handshake_failure) → HelloRetryRequest(TLS1.3, P-256)")
    );
}
