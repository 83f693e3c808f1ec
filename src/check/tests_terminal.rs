//! What the network says, from the observation to the line a person reads:
//! a certificate's subject, an HTTP answer's node header and reason, an
//! impostor's greeting, each carrying the sequences of issue 28, come out
//! of the human report shown, not raw (text/safe.rs). The pseudo-terminal
//! tests (tests/terminal.rs) do the same for the greeting through a real
//! engine; a certificate with a hostile subject is cheaper to make here.

use std::time::Duration;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use super::tests::{hop, kind, live};
use super::*;
use crate::agent::protocol::*;
use crate::report::{CheckReport, Status, VerifyReport};

const HOSTILE: &str =
    "\x1b]0;owned-title\x07 \x1b[2J \x1b]52;c;b3duZWQ=\x07 \u{9b}2J \0 \u{202e}olleh";
const SHOWN: &str = "␛]0;owned-title␇ ␛[2J ␛]52;c;b3duZWQ=␇ \\u{9b}2J ␀ \\u{202e}olleh";

/// The report of one check that observed `observed`, as a person reads
/// it: in colour, with `-v`.
fn human(title: &str, observed: &str) -> String {
    let check = CheckReport {
        title: title.into(),
        kind: "tls",
        source: "client".into(),
        target: "web:443".into(),
        expectation: "verified".into(),
        family: None,
        status: Status::Fail,
        observed: observed.into(),
        elapsed: Duration::from_millis(3),
        matrix: None,
        capture: None,
        why: None,
        scope: Default::default(),
        recovered: None,
        measurement: None,
    };
    let report = VerifyReport {
        lab: "t".into(),
        engines: Vec::new(),
        notes: vec![format!("note {HOSTILE}")],
        findings: vec![crate::lab::Finding {
            at: "c.yaml:1:1".into(),
            text: format!("finding {HOSTILE}"),
        }],
        checks: vec![check],
        steps: Vec::new(),
        restore: None,
        cancelled: false,
        elapsed: Duration::from_millis(5),
        topology: None,
    };
    report.human_with(true, true, false)
}

/// Without netlab's own colour codes (FAIL in red), nothing a terminal
/// acts on is left.
fn assert_inert(text: &str) {
    let own = text.replace("\x1b[31;1m", "").replace("\x1b[0m", "");
    let raw: Vec<char> = own
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    assert!(raw.is_empty(), "{raw:?} reached the report:\n{text}");
}

#[test]
fn a_certificate_subject_with_control_sequences_is_shown_not_sent() {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, HOSTILE);
    dn.push(DnType::OrganizationName, "netlab");
    let mut params = CertificateParams::new(vec!["web".to_string()]).expect("params");
    params.distinguished_name = dn;
    let key = KeyPair::generate().expect("key");
    let der = params.self_signed(&key).expect("sign").der().to_vec();
    let subject = crate::agent::cert_subject::subject(&der).expect("a subject");
    assert!(subject.contains('\x1b'), "the probe keeps it as it came");

    let observation = Observation::Tls(TlsObservation {
        outcome: TlsOutcome::Untrusted {
            reason: format!("issuer {HOSTILE} unknown"),
        },
        connect_ms: Some(0.5),
        handshake_ms: Some(2.0),
        first_byte_ms: None,
        version: Some("TLSv1_3".into()),
        cipher: Some("TLS13_AES_256_GCM_SHA384".into()),
        subject: Some(subject),
        close_notify: None,
    });
    let k = kind("tls: { from: client, to: web:443, expect: verified }");
    let outcome = outcome::classify(&k, &observation, &live());
    let text = human("tls client → web:443 is verified", &outcome.observed);
    assert_inert(&text);
    assert!(
        text.contains(&format!(
            "untrusted [CN={SHOWN}, O=netlab]: issuer {SHOWN} unknown"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("note {SHOWN}")), "{text}");
}

#[test]
fn an_http_answers_node_header_and_reason_are_shown_not_sent() {
    let mut answer = hop("GET", "http://web/echo", 200, false);
    answer.node = Some(HOSTILE.into());
    let observation = Observation::Http(HttpObservation {
        hops: vec![answer],
        final_body: String::new(),
        error: Some(format!("HTTP/1.1 502 {HOSTILE}")),
        note: None,
    });
    let k = kind("http: { from: client, url: \"http://web/echo\", expect: { status: 200 } }");
    let outcome = outcome::classify(&k, &observation, &live());
    let text = human(&format!("http {HOSTILE}"), &outcome.observed);
    assert_inert(&text);
    assert!(text.contains(&format!("({SHOWN})")), "{text}");
    assert!(text.contains(&format!("HTTP/1.1 502 {SHOWN}")), "{text}");
    assert!(text.contains(&format!("http {SHOWN}")), "{text}");
}

#[test]
fn an_impostors_greeting_is_shown_not_sent() {
    let greeting = "netlab-agent lab=\x1b]0;owned\x07 node=\x1b[2J\u{9b}\0\u{202e}olleh";
    let identity = Identity::parse_greeting(greeting).expect("it parses as a greeting");
    let observation = Observation::Tcp(TcpObservation::Open {
        identity: Some(identity),
    });
    let k = kind("tcp: { from: client, to: web:7000, expect: open }");
    let outcome = outcome::classify(&k, &observation, &live());
    assert!(!outcome.passed, "{}", outcome.observed);
    let text = human("tcp client → web:7000 is open", &outcome.observed);
    assert_inert(&text);
    assert!(
        text.contains("answered by ␛[2J\\u{9b}␀\\u{202e}olleh of lab ␛]0;owned␇"),
        "{text}"
    );
}
