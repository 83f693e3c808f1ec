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
        text.contains("`POST /echo HTTP/1.1` did not cross the wire readable (every byte the client sent was recorded"),
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

#[test]
fn a_foreign_image_and_the_host_are_recorded_through_their_helpers() {
    if !docker_available() {
        return;
    }
    ensure_foreign_image();
    let guard = LabGuard::from_yaml(
        "t-wire-helpers",
        &format!(
            "name: t-wire-helpers\nnetworks:\n  a: {{}}\nnodes:\n  web:\n    networks: [a]\n    serve: [tcp:7000, https:443]\n    ports: [\"127.0.0.1::443\"]\n  box:\n    image: {FOREIGN_IMAGE}\n    networks: [a]\nchecks:\n  - tcp: {{ from: box, to: web:7000, capture: true, expect: open }}\n  - http: {{ from: host, url: \"https://127.0.0.1:1/whoami\", expect: {{ status: 200 }} }}\n"
        ),
    );
    // The published port is random: once `up` shows it, the file's http
    // check (there to make the lab use TLS) becomes a recorded tls check
    // from the host through that port, and `verify` of the file runs it.
    let out = netlab(&["up", guard.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let port = stdout(&out)
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('→').next())
        .expect("the published port")
        .to_owned();
    std::fs::write(
        &guard.file,
        std::fs::read_to_string(&guard.file)
            .expect("read")
            .replace(
                "  - http: { from: host, url: \"https://127.0.0.1:1/whoami\", expect: { status: 200 } }\n",
                &format!("  - tls: {{ from: host, to: \"127.0.0.1:{port}\", name: web, capture: true, expect: verified }}\n"),
            ),
    )
    .expect("write");
    let verify = netlab(&["verify", guard.path()]);
    let text = assert_all_passed(&verify, 2);
    let from_box = summary_of(&text, "tcp box → web:7000 is open");
    assert!(from_box.starts_with("SYN → SYN/ACK → ACK"), "{from_box}");
    let from_host = summary_of(&text, "tls host → 127.0.0.1:");
    assert!(
        from_host.contains("ClientHello(web, TLS1.3)"),
        "{from_host}"
    );
    let down = netlab(&["down", "t-wire-helpers"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    guard.assert_nothing_left();
}
