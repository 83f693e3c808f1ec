//! A check's own packets, recorded in the source node's namespace: the
//! HTTPS process as packets, plaintext shown rather than told, a refused
//! connection as SYN then RST, and pcap files that a pcap reader opens.

mod support;

use support::*;

fn summary_of<'a>(text: &'a str, title: &str) -> &'a str {
    let mut lines = text.lines().skip_while(|l| !l.contains(title));
    lines.next().expect("the check is reported");
    lines
        .next()
        .and_then(|l| l.trim_start().strip_prefix("↳ "))
        .expect("a timeline under the check")
}

#[test]
fn https_on_the_wire_shows_the_handshake_before_encrypted_data_and_no_plaintext() {
    if !docker_available() {
        return;
    }
    let guard = LabGuard::from_shipped("https-on-the-wire", "t-wire", |y| y);
    let pcaps = guard.dir.path().join("pcaps");
    let out = netlab(&[
        "run",
        guard.path(),
        "--pcap",
        pcaps.to_str().expect("utf-8"),
    ]);
    let text = assert_all_passed(&out, 4);
    guard.assert_nothing_left();

    let tls = summary_of(&text, "tls client → web:443 as www is verified");
    let hello = tls
        .find("ClientHello(www, TLS1.3)")
        .expect("ClientHello with SNI");
    let server = tls.find("ServerHello(TLS1.3").expect("ServerHello");
    let data = tls.find("encrypted records").expect("encrypted records");
    assert!(hello < server && server < data, "{tls}");
    assert!(
        tls.starts_with("SYN → SYN/ACK → ACK → ClientHello"),
        "{tls}"
    );
    assert!(tls.contains("FIN"), "{tls}");

    assert!(
        text.contains("`POST /echo HTTP/1.1` crossed the wire readable"),
        "{text}"
    );
    assert!(
        text.contains("neither `POST /echo HTTP/1.1` nor the body crossed the wire readable"),
        "{text}"
    );
    let refused = summary_of(&text, "tcp client → web:8443 is refused");
    assert!(refused.starts_with("SYN → RST: 2 packets"), "{refused}");

    // Every recorded check left a pcap file; the first packet of the TLS
    // exchange is its SYN.
    let mut files: Vec<_> = std::fs::read_dir(&pcaps)
        .expect("pcap dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "{files:?}");
    let first = std::fs::File::open(&files[0]).expect("open pcap");
    let mut reader = pcap_file::pcap::PcapReader::new(first).expect("a pcap file");
    let packet = reader
        .next_packet()
        .expect("a packet")
        .expect("a readable packet");
    let sliced = etherparse::SlicedPacket::from_ip(&packet.data).expect("an IP packet");
    let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport else {
        panic!("the first packet is TCP");
    };
    assert!(tcp.syn() && !tcp.ack(), "the first packet is the SYN");
}

#[test]
fn plaintext_fails_when_the_data_did_cross_readable() {
    if !docker_available() {
        return;
    }
    let wrong = LabGuard::from_shipped("https-on-the-wire", "t-wire-wrong", |y| {
        y.replace(
            "expect: { status: 200, plaintext: true } }",
            "expect: { status: 200, plaintext: false } }",
        )
    });
    let text = run_fails_on(&wrong, "http client POST http://web/echo");
    assert!(text.contains("crossed the wire readable"), "{text}");
}
